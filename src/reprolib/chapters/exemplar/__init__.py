"""7. Exemplar-based colorization (He, Chen, Liao, Sander & Yuan, SIGGRAPH 2018), trained from scratch.

``experiment`` (the pool, its pairs and their alignment, the four colorization networks: what the notebook and
``python -m reprolib reproduce exemplar`` run), ``measure`` (does the output follow the reference; matching
against ColorWorld's labels; Table 2's recognition), ``verdicts`` (the claims, facts and paper-versus-ours tables,
judged from the measurements alone), ``paper`` (Tables 1-3 as data), ``checks`` (the exercises' automatic
checks), ``demo`` (one grey target beside several references), ``pairs`` (training pairs, sec. 3.2.3),
``recommend`` (sec. 4, Eq. 8), ``baselines`` (the sequential pipeline of Fig. 9, Chapter 1's network) and
``transfer`` (Welsh et al.'s global transfer); ``official`` (the released network and its demo input, and
Imagenette pairs, for the online section only). The similarity sub-net lives in :mod:`reprolib.nn.correspondence`,
the feature loss in :mod:`reprolib.nn.feature_loss`, the colorization sub-net in :mod:`reprolib.models.exemplar`.

The names importable from this package (those of ``experiment`` and ``verdicts``) are the chapter's public
interface.
"""

from reprolib.chapters.exemplar import checks, paper  # noqa: F401
from reprolib.chapters.exemplar.experiment import *  # noqa: F401,F403
from reprolib.chapters.exemplar.verdicts import *  # noqa: F401,F403
