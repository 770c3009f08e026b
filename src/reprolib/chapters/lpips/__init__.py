"""5. LPIPS: deep features as a perceptual metric: the chapter's package.

``experiment`` (what the notebook and ``python -m reprolib reproduce lpips`` run), ``paper`` (the paper's
numbers), ``checks`` (the exercises' automatic checks) and the pieces only this chapter uses. The names
below are the chapter's public interface; another chapter may use them, and nothing else of this package.
"""

from reprolib.chapters.lpips import checks, paper  # noqa: F401
from reprolib.chapters.lpips.experiment import *  # noqa: F401,F403
