"""Non-learned baselines the papers compare with (edit propagation for the user-guided chapter)."""

from .levin import levin_colorize, levin_weights

__all__ = ["levin_colorize", "levin_weights"]
