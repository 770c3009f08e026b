"""4. Split-brain autoencoders: colorization as self-supervision (Zhang, Isola & Efros, CVPR 2017; thesis ch. 5).

``experiment`` (data, pre-training every representation, the linear probes: what the notebook and ``python -m
reprolib reproduce split_brain`` run), ``verdicts`` (the claims and paper-versus-ours tables, judged from the
probes' outcomes alone), ``paper`` (Tables 5.4 and 5.5 as the thesis prints them), ``checks`` (the exercises'
automatic checks) and ``demo`` (what a layer knows). The networks and their losses live in
:mod:`reprolib.models.splitbrain`, the probe in :mod:`reprolib.metrics.probe`.

The names importable from this package (those of ``experiment`` and ``verdicts``) are the chapter's public
interface.
"""

from reprolib.chapters.split_brain import checks, paper  # noqa: F401
from reprolib.chapters.split_brain.experiment import *  # noqa: F401,F403
from reprolib.chapters.split_brain.verdicts import *  # noqa: F401,F403
