"""6. Diverse colorization with a VAE and a mixture density network (Deshpande, Lu, Yeh, Chong & Forsyth, CVPR 2017).

``experiment`` (data, the five VAEs and three MDNs on Chapter 1's frozen features: what the notebook and
``python -m reprolib reproduce diverse`` run), ``measure`` (Tables 1-3's protocols, the modes covered, the mixture
weights against the true probabilities, coherence against per-pixel sampling, the oracle's top 5), ``verdicts``
(the claims, facts and paper-versus-ours tables, judged from the measurements alone), ``paper`` (Tables 1-3 as
data), ``checks`` (the exercises' automatic checks) and ``demo`` (eight futures for one grey scene). The networks
and losses live in :mod:`reprolib.models.divcolor`, Table 3's two measures in :mod:`reprolib.metrics.diversity`.

The names importable from this package (those of ``experiment`` and ``verdicts``) are the chapter's public
interface.
"""

from reprolib.chapters.diverse import checks, paper  # noqa: F401
from reprolib.chapters.diverse.experiment import *  # noqa: F401,F403
from reprolib.chapters.diverse.verdicts import *  # noqa: F401,F403
