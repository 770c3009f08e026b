"""Models, one file per paper (plus small shared helpers)."""

from reprolib.models.bicyclegan import BicycleGAN
from reprolib.models.classifier import SmallClassifier
from reprolib.models.eccv16 import ECCV16, eccv16_channels
from reprolib.models.siggraph17 import SIGGRAPH17, SIGGRAPH17Output

__all__ = ["BicycleGAN", "ECCV16", "SIGGRAPH17", "SIGGRAPH17Output", "SmallClassifier", "eccv16_channels"]
