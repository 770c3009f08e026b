"""reprolib: readable PyTorch reproductions of learned image colorization papers.

Every chapter of the book imports what it runs from here; the notebooks hold narrative and calls.
"""

__version__ = "0.1.0"

from reprolib.config import cache_dir, get_device, get_profile, seed_everything  # noqa: E402,F401
