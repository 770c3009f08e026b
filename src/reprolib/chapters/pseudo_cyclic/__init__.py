"""8. Pseudo-cyclic unsupervised colorization (SpyncoGan; Ratajczak, Crispim-Junior, Fervers, Faure & Tougne,
SUMAC 2019), trained from scratch: the chapter's package (being built; not registered yet).

``experiment`` (the unpaired streams, the five models, their training with recorded curves: what ``run`` runs),
``measure`` (MSE and SSIM per pyramid output, the grey kept by H_t, checkerboards, colour modes), ``verdicts``
(claims and facts, judged from the measurements alone), ``paper`` (Tables 1-3 and the paper's constants) and
``training`` (the networks as cached modules and one update of each). The networks and losses live in
:mod:`reprolib.models.spyncogan`, the CIFAR-10 loader of the online section in :mod:`reprolib.data.cifar`.
"""

from reprolib.chapters.pseudo_cyclic import checks, paper  # noqa: F401
from reprolib.chapters.pseudo_cyclic.experiment import *  # noqa: F401,F403
from reprolib.chapters.pseudo_cyclic.verdicts import *  # noqa: F401,F403
