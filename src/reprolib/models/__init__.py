"""Models, one file per paper (plus small shared helpers)."""

from .classifier import SmallClassifier
from .eccv16 import ECCV16, eccv16_channels

__all__ = ["ECCV16", "SmallClassifier", "eccv16_channels"]
