"""The colorization network of Zhang, Isola & Efros, "Colorful Image Colorization" (ECCV 2016).

Read this file next to Fig. 2 of the paper (and Table 2.2 of the thesis). The network maps the lightness
channel L of an image to a distribution over Q = 313 quantised ab colours at a quarter of the input
resolution:

    L (N,1,H,W) --model1..model8--> logits (N,313,H/4,W/4) --softmax--> Z_hat --H (Eq. 5)--> ab

Every "conv block" is 2 or 3 conv+ReLU layers followed by one BatchNorm; there is no pooling: resolution
drops by strided convolutions (blocks 1-3), blocks 5-6 use dilation 2, and block 8 upsamples once with a
transposed convolution.

Module names and Sequential indices follow the released PyTorch port (``ECCVGenerator``) so that its
state dict (``colorization_release_v2-9b330a0b.pth``) loads unchanged into ``ECCV16(width=1)``; see
``reprolib.weights``. ``width`` scales every channel count (64 -> 64*width, ...) for the CPU profiles: the
same code, fewer channels.

Three heads, as in Table 1 of the paper:

* ``head="classification"``: 313-way logits, trained with the (rebalanced) multinomial cross-entropy
  of Eq. 2 ("full" with rebalancing, "class" without).
* ``head="regression"``: the last 1x1 conv outputs 2 channels, the ab prediction divided by 110, trained
  with the L2 loss of Eq. 1 ("L2" row).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from reprolib.color import normalize_l, unnormalize_ab
from reprolib.quantize import PAPER_T, ab_bins, annealed_mean
from reprolib.validation import checked_by

__all__ = ["ECCV16", "eccv16_channels"]


def eccv16_channels(width: float = 1.0) -> dict[str, int]:
    """Channel counts of the blocks for a width multiplier (1.0 is the paper's network)."""
    if not (isinstance(width, (int, float)) and 0 < width <= 1):
        raise ValueError(f"width must be a number in (0, 1], got {width!r}")

    def c(n: int) -> int:
        return max(4, int(round(n * width)))

    return {"c1": c(64), "c2": c(128), "c3": c(256), "c4": c(512), "c8": c(256)}


def _conv_relu(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> list[nn.Module]:
    # 3x3 convolutions with "same" padding (padding = dilation keeps the size for k = 3).
    return [
        nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, bias=True),
        nn.ReLU(inplace=True),
    ]


def _check_eccv16_args(self, width, head, num_bins) -> None:
    if head not in ("classification", "regression"):
        raise ValueError(f"head must be 'classification' or 'regression', got {head!r}")


class ECCV16(nn.Module):
    """Zhang et al. (2016) colorization network.

    Args:
        width: channel multiplier in (0, 1]; 1.0 reproduces the released network (32.2 M parameters).
        head: ``"classification"`` (313-way distribution) or ``"regression"`` (direct ab).
        num_bins: size of the colour vocabulary Q (313 in-gamut bins).

    ``forward(L)`` takes L in [0, 100] with shape (N, 1, H, W), H and W multiples of 8, and returns the
    raw head output at (H/4, W/4): logits (N, Q, H/4, W/4) or normalised ab (N, 2, H/4, W/4).
    ``colorize(L, T)`` returns the full-resolution ab prediction in Lab units.
    """

    @checked_by(_check_eccv16_args)
    def __init__(self, width: float = 1.0, head: str = "classification", num_bins: int = 313):
        super().__init__()
        ch = eccv16_channels(width)
        c1, c2, c3, c4, c8 = ch["c1"], ch["c2"], ch["c3"], ch["c4"], ch["c8"]
        self.width, self.head, self.num_bins = float(width), head, num_bins

        # Blocks 1-3 halve the resolution in their last conv; BN comes after the last ReLU of a block.
        self.model1 = nn.Sequential(*_conv_relu(1, c1), *_conv_relu(c1, c1, stride=2), nn.BatchNorm2d(c1))
        self.model2 = nn.Sequential(*_conv_relu(c1, c2), *_conv_relu(c2, c2, stride=2), nn.BatchNorm2d(c2))
        self.model3 = nn.Sequential(
            *_conv_relu(c2, c3), *_conv_relu(c3, c3), *_conv_relu(c3, c3, stride=2), nn.BatchNorm2d(c3)
        )
        self.model4 = nn.Sequential(
            *_conv_relu(c3, c4), *_conv_relu(c4, c4), *_conv_relu(c4, c4), nn.BatchNorm2d(c4)
        )
        # Blocks 5-6: dilated ("a trous") convolutions widen the receptive field at 1/8 resolution.
        self.model5 = nn.Sequential(*[m for _ in range(3) for m in _conv_relu(c4, c4, dilation=2)], nn.BatchNorm2d(c4))
        self.model6 = nn.Sequential(*[m for _ in range(3) for m in _conv_relu(c4, c4, dilation=2)], nn.BatchNorm2d(c4))
        self.model7 = nn.Sequential(*[m for _ in range(3) for m in _conv_relu(c4, c4)], nn.BatchNorm2d(c4))
        out = num_bins if head == "classification" else 2
        # Block 8: one learned 2x upsampling back to 1/4 resolution, then the 1x1 prediction layer.
        self.model8 = nn.Sequential(
            nn.ConvTranspose2d(c4, c8, kernel_size=4, stride=2, padding=1, bias=True),
            nn.ReLU(inplace=True),
            *_conv_relu(c8, c8),
            *_conv_relu(c8, c8),
            nn.Conv2d(c8, out, kernel_size=1, stride=1, padding=0, bias=True),
        )
        if head == "classification":
            self.softmax = nn.Softmax(dim=1)
            # The expectation over bin centres as a fixed 1x1 conv (the released port's `model_out`):
            # ab/110 = sum_q p_q * bin_q / 110. Its weight is a constant, not a learned parameter.
            self.model_out = nn.Conv2d(num_bins, 2, kernel_size=1, padding=0, bias=False)
            with torch.no_grad():
                if num_bins == 313:
                    self.model_out.weight.copy_((ab_bins() / 110.0).t().reshape(2, num_bins, 1, 1))
            self.model_out.weight.requires_grad_(False)

    # ------------------------------------------------------------------------------------------
    def features(self, L: torch.Tensor) -> torch.Tensor:
        """Trunk features after block 7 (N, c4, H/8, W/8), for representation probes."""
        x = normalize_l(L)
        for block in (self.model1, self.model2, self.model3, self.model4, self.model5, self.model6, self.model7):
            x = block(x)
        return x

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        if L.dim() != 4 or L.shape[1] != 1:
            raise ValueError(f"expected L with shape (N, 1, H, W), got {tuple(L.shape)}")
        if L.shape[-1] % 8 or L.shape[-2] % 8:
            raise ValueError(f"H and W must be multiples of 8 (three stride-2 convs), got {tuple(L.shape[-2:])}")
        return self.model8(self.features(L))

    @torch.no_grad()
    def colorize(self, L: torch.Tensor, T: float = PAPER_T, upsample: bool = True) -> torch.Tensor:
        """Predict ab (Lab units) for L in [0, 100].

        Classification: the annealed mean of Eq. 5 at temperature ``T`` (T = 1: mean; T -> 0: mode;
        ``T=0`` is accepted and returns the mode). Regression: the direct prediction (T is ignored).
        The quarter-resolution prediction is upsampled bilinearly by 4, as the released model does.
        """
        out = self(L)
        if self.head == "classification":
            ab = annealed_mean(out, T=T) if T > 0 else _mode(out)
        else:
            ab = unnormalize_ab(out)
        if upsample:
            ab = F.interpolate(ab, size=L.shape[-2:], mode="bilinear", align_corners=False)
        return ab


def _mode(logits: torch.Tensor) -> torch.Tensor:
    from reprolib.quantize import distribution_mode

    return distribution_mode(logits)
