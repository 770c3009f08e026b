"""The perceptual (feature) loss of the exemplar-based colorization's perceptual branch, He et al. (SIGGRAPH
2018), Eq. 6, after Johnson et al. (2016):

    L_perc(P_ab) = sum_p || F_P(p) - F_T(p) ||^2

where F is the relu5_1 feature map of a frozen, colour-trained VGG for the colorized image P_Lab = (T_L, P_ab)
and for the ground truth T_Lab. Two plausible colours of an object give similar deep features, an implausible
one does not (the paper's Fig. 5), so the loss forgives a different but natural colour that an ab distance
would punish. The paper uses VGG-19's relu5_1; this module reads VGG16's relu5_1 (same stride 16, the only
ImageNet VGG available offline here).

The colour image reaches the VGG as sRGB *without* clipping to [0, 1]: clipping would zero the gradient of every
out-of-gamut pixel, and a colorizer early in training produces many. Only the input receives gradients: the
trunk is frozen and left in eval mode.
"""

from __future__ import annotations

import torch
from torch import nn

from reprolib.color import l_ab_to_rgb
from reprolib.nn.backbones import VGG16Features, imagenet_normalize
from reprolib.validation import checked_by

__all__ = ["RELU5_1_END", "FeatureLoss"]

RELU5_1_END = 26  # features[25] is relu5_1 in torchvision's VGG16 layout


def _check_pair(self, L, ab_pred, ab_true) -> None:
    if ab_pred.shape != ab_true.shape:
        raise ValueError(f"ab_pred {tuple(ab_pred.shape)} and ab_true {tuple(ab_true.shape)} must have one shape")


class FeatureLoss(nn.Module):
    """Sum over positions and channels of the squared relu5_1 difference (Eq. 6), one value per image.

    ``trunk`` is a :class:`~reprolib.nn.backbones.VGG16Features` with its ImageNet weights loaded; this module
    reads it at relu5_1 without copying it and freezes it.
    """

    def __init__(self, trunk: VGG16Features):
        super().__init__()
        if not isinstance(trunk, VGG16Features):
            raise TypeError(f"trunk must be a VGG16Features, got {type(trunk).__name__}")
        self.taps = trunk.retap((RELU5_1_END,), (512,))
        for p in self.taps.parameters():
            p.requires_grad_(False)
        self.taps.eval()

    def train(self, mode: bool = True) -> FeatureLoss:  # the trunk stays in eval mode
        super().train(mode)
        self.taps.eval()
        return self

    def features(self, L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        """relu5_1 of the sRGB image (L, ab), both in Lab units, (N, 512, H/16, W/16)."""
        return self.taps(imagenet_normalize(l_ab_to_rgb(L, ab, clip=False, check=False)))[0]

    @checked_by(_check_pair)
    def forward(self, L: torch.Tensor, ab_pred: torch.Tensor, ab_true: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = self.features(L, ab_true)
        return (self.features(L, ab_pred) - target).pow(2).sum(dim=(1, 2, 3))
