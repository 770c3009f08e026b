"""1. Automatic colorization as classification: the chapter's package.

``experiment`` (what the notebook and ``python -m reprolib reproduce automatic`` run), ``paper`` (the paper's
numbers), ``checks`` (the exercises' automatic checks) and the pieces only this chapter uses. The names
below are the chapter's public interface; another chapter may use them, and nothing else of this package.
"""

from reprolib.chapters.automatic import checks, paper  # noqa: F401
from reprolib.chapters.automatic.experiment import *  # noqa: F401,F403
