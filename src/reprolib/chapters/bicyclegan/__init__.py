"""3. BicycleGAN, diverse colourings from a latent code (Zhu et al., NIPS 2017; thesis chapter 4).

``experiment`` (data, training: what the notebook and ``python -m reprolib reproduce bicyclegan`` run),
``measure`` (diversity, mode frequencies, coverage, latent recovery, the critic, Table 4.1's reconstruction),
``verdicts`` (the claims, facts and paper-versus-ours tables, judged from the measurements alone), ``paper``
(the numbers the thesis text states), ``checks`` (the exercises' automatic checks), ``demo`` (one grey scene,
many colourings) and ``official`` (the released generator and encoder, opt-in download and strict load).
The networks and their update step live in :mod:`reprolib.models.bicyclegan`, the shared building blocks in
:mod:`reprolib.nn` and the diversity measures in :mod:`reprolib.metrics.diversity`.

The names importable from this package (those of ``experiment`` and ``verdicts``) are the chapter's public
interface.
"""

from reprolib.chapters.bicyclegan import checks, paper  # noqa: F401
from reprolib.chapters.bicyclegan.experiment import *  # noqa: F401,F403
from reprolib.chapters.bicyclegan.verdicts import *  # noqa: F401,F403
