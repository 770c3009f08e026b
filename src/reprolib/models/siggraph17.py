"""The user-guided colorization network of Zhang, Zhu et al., "Real-Time User-Guided Image Colorization
with Learned Deep Priors" (SIGGRAPH 2017; thesis chapter 3).

Read this file next to Fig. 3.2 and section 3.3 of the thesis. The network maps the lightness L and a
sparse set of user hints (an ab colour and a 0/1 mask per pixel) to a full colorization:

    [L, a, b, mask] (N,4,H,W) --conv1..conv10 (a U-Net)--> ab (N,2,H,W)           (section 3.3.4)
                                  conv8 --> 529-way logits (N,529,H/4,W/4)           (colour palette)

* **Main branch** (blue in Fig. 3.2): blocks conv1-4 halve the resolution (by keeping every second
  pixel, ``x[:, :, ::2, ::2]``) and double the channels; conv5-6 use dilation 2 at 1/8 resolution;
  conv7 is plain; conv8-10 upsample with transposed convolutions, each summed with a 3x3 "shortcut"
  convolution of the matching encoder block (conv3 -> conv8, conv2 -> conv9, conv1 -> conv10). A 1x1
  conv and a tanh give ab / 110. "BatchNorm layers are added after each convolutional block."
* **Local hints** (red): the hints enter by concatenation with L at the input (section 3.3.2).
* **Distribution side branch** (red): see :class:`HypercolumnHead` and the ``dist_head`` argument.
* **Global hints** (green, section 3.3.3): a global histogram and a mean saturation, each with a
  "was it given" indicator, go through four 1x1 convolutions of 512 channels and are *added* to the
  conv4 features (see :class:`GlobalHintsBranch`).

Module names and Sequential indices follow the released PyTorch code (reference-facts section 2.1 and
11.2), so the released state dict ``siggraph17-df00044c.pth`` loads unchanged into
``SIGGRAPH17(width=1.0, mask_cent=0.0)`` (see ``reprolib.chapters.user_guided.official.load_siggraph17_official``). The
leading ReLUs of ``model8``-``model10`` occupy index 0, hence the keys ``model8.1``, ``model9.1``, ...
``width`` scales every channel count for the CPU profiles: the same code, fewer channels.

**Normalisation.** :meth:`SIGGRAPH17.forward` takes Lab units and normalises inside: ``(L - 50) / 100``,
``ab / 110`` and ``mask - mask_cent``; it returns ab in Lab units (``110 * tanh``). Three incompatible
conventions exist (reference-facts section 2.1): the Caffe model (``L - 50``, raw ab, ``110 * mask``,
``100 * tanh``) is not supported here; the Caffe weights converted to PyTorch use ``mask_cent = 0``;
the colorization-pytorch retrained weights use ``mask_cent = 0.5``. Loading weights with the wrong
``mask_cent`` runs without error and colorizes badly, which is why the argument has no default.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from reprolib.color import check_rgb, normalize_ab, normalize_l, unnormalize_ab
from reprolib.models.eccv16 import eccv16_channels
from reprolib.quantize import (
    AB_GRID_MIN,
    AB_GRID_SIZE,
    AB_GRID_STEP,
    CODE_K,
    NUM_AB_BINS,
    SIGMA,
    ab_bins,
    encode_nearest,
    grid_bins,
    soft_encode_topk,
)
from reprolib.validation import checked_by

__all__ = [
    "NUM_GRID_CLASSES",
    "MASK_CENTS",
    "HUBER_DELTA",
    "GLOBAL_INPUT_CHANNELS",
    "SIGGRAPH17",
    "SIGGRAPH17Output",
    "GlobalHintsBranch",
    "HypercolumnHead",
    "encode_ab_index",
    "decode_ab_index",
    "smooth_l1_loss",
    "distribution_loss",
    "global_histogram",
    "mean_saturation",
    "global_input",
    "random_global_reveal",
]

NUM_GRID_CLASSES = AB_GRID_SIZE * AB_GRID_SIZE  # 529: the 23 x 23 grid of step 10 over [-110, 110]
MASK_CENTS = (0.0, 0.5)  # caffe-converted weights / colorization-pytorch retrained weights
HUBER_DELTA = 1.0  # Eq. 3.4: "with delta = 1", in Lab ab units (the code's 1/110 on ab / 110)
# Global hints input (section 3.3.3): histogram over Q = 313 bins + indicator, saturation + indicator.
GLOBAL_INPUT_CHANNELS = NUM_AB_BINS + 1 + 2  # 316 = Q + 3


class SIGGRAPH17Output(NamedTuple):
    """What :meth:`SIGGRAPH17.forward` returns.

    ``ab``: (N, 2, H, W) predicted colour in Lab units. ``logits``: (N, Q, H/4, W/4) scores of the colour
    distribution (softmax over dim 1), or ``None`` for a network built with ``dist_head=None``.
    """

    ab: torch.Tensor
    logits: torch.Tensor | None


def _convs(cin: int, cout: int, n: int, dilation: int = 1) -> list[nn.Module]:
    """``n`` x [3x3 conv, ReLU], "same" padding (padding = dilation for k = 3)."""
    layers: list[nn.Module] = []
    for i in range(n):
        layers += [
            nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=dilation, dilation=dilation, bias=True),
            nn.ReLU(inplace=True),
        ]
    return layers


def _up(cin: int, cout: int) -> nn.Sequential:
    """The learned 2x upsampling of blocks 8-10 (transposed conv k4 s2 p1), as a one-layer Sequential."""
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, kernel_size=4, stride=2, padding=1, bias=True))


def _short(cin: int, cout: int) -> nn.Sequential:
    """A symmetric shortcut: a 3x3 conv of an encoder block, summed into the decoder (section 3.3.4)."""
    return nn.Sequential(nn.Conv2d(cin, cout, kernel_size=3, padding=1, bias=True))


class GlobalHintsBranch(nn.Module):
    """The Global Hints Network's input branch (green in Fig. 3.2; reference-facts section 2.6).

    Input: (N, 316) or (N, 316, 1, 1), laid out as :func:`global_input` builds it:
    ``[histogram (313), histogram indicator, mean saturation, saturation indicator]``.
    Caffe layers: ``glob_conv1`` (histogram + indicator) and ``s_conv1`` (saturation + indicator), both
    1x1 -> 512, summed, then ReLU and BatchNorm; ``glob_conv2..4``: 1x1 512, ReLU, BatchNorm. The
    result, (N, 512, 1, 1), is repeated over the conv4 feature map and added to it.

    BatchNorm on 1x1 maps needs a batch of at least 2 in training mode.
    """

    def __init__(self, channels: int, num_bins: int = NUM_AB_BINS):
        super().__init__()
        self.num_bins = num_bins
        self.glob_conv1 = nn.Conv2d(num_bins + 1, channels, kernel_size=1, bias=True)
        self.s_conv1 = nn.Conv2d(2, channels, kernel_size=1, bias=True)
        self.glob_norm1 = nn.Sequential(nn.ReLU(inplace=True), nn.BatchNorm2d(channels))
        self.glob_conv2 = self._layer(channels)
        self.glob_conv3 = self._layer(channels)
        self.glob_conv4 = self._layer(channels)

    @staticmethod
    def _layer(channels: int) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(channels, channels, kernel_size=1, bias=True), nn.ReLU(inplace=True), nn.BatchNorm2d(channels)
        )

    def forward(self, g: torch.Tensor) -> torch.Tensor:
        q = self.num_bins
        if g.dim() == 2:
            g = g[:, :, None, None]
        if g.dim() != 4 or g.shape[1] != q + 3 or g.shape[2:] != (1, 1):
            raise ValueError(
                f"global hints must have shape (N, {q + 3}) or (N, {q + 3}, 1, 1) "
                f"([histogram ({q}), indicator, saturation, indicator]; see global_input), got {tuple(g.shape)}"
            )
        x = self.glob_conv1(g[:, : q + 1]) + self.s_conv1(g[:, q + 1 :])
        x = self.glob_norm1(x)
        return self.glob_conv4(self.glob_conv3(self.glob_conv2(x)))


class HypercolumnHead(nn.Module):
    """The paper's colour-distribution side branch (section 3.3.4, "Local Hints Network").

    The branch stacks features taken from several layers of the main branch (a hypercolumn) and puts a
    two-layer classifier on them; its gradients are stopped before they reach the main branch, and it
    predicts the distribution at a quarter of the input resolution.

    The paper does not list the layers; we take the last feature map of conv2, conv3, conv4, conv7 and
    conv8, brought to 1/4 resolution (conv2 by 2x2 average pooling, conv4 and conv7 by bilinear 2x
    upsampling), concatenated, then 1x1 conv -> ReLU -> 1x1 conv to Q classes. Its inputs are detached
    by :class:`SIGGRAPH17`, so the branch never changes the trunk.
    """

    def __init__(self, in_channels: int, hidden: int, num_classes: int):
        super().__init__()
        self.classifier = nn.Sequential(
            nn.Conv2d(in_channels, hidden, kernel_size=1, bias=True),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, num_classes, kernel_size=1, bias=True),
        )

    def forward(self, features: list[torch.Tensor], size: tuple[int, int]) -> torch.Tensor:
        resized = []
        for f in features:
            if f.shape[-2:] == size:
                resized.append(f)
            elif f.shape[-2] > size[0]:  # finer than 1/4: average down
                resized.append(F.adaptive_avg_pool2d(f, size))
            else:  # coarser: bilinear up
                resized.append(F.interpolate(f, size=size, mode="bilinear", align_corners=False))
        return self.classifier(torch.cat(resized, dim=1))


class SIGGRAPH17(nn.Module):
    """The Local Hints Network (and, with ``global_hints=True``, the Global Hints Network).

    Args:
        width: channel multiplier in (0, 1]; 1.0 is the released network.
        mask_cent: the value subtracted from the 0/1 mask before it enters the network: **0.0** for the
            Caffe-converted released weights (``siggraph17-df00044c.pth``), **0.5** for weights trained
            with colorization-pytorch (reference-facts section 2.1). Any value works for a network
            trained from scratch, as long as training and use agree. Required, on purpose.
        dist_head: the colour-distribution head, whose gradients never reach the trunk (in the paper the
            side task's gradients stop at the main branch, section 3.3.4).

            * ``"released"`` (default): ``model_class``, a 1x1 conv (conv8 channels -> Q) on the conv8
              features, as in the released code; needed to load the released weights. The features
              are detached, as colorization-pytorch does in its regression stages.
            * ``"hypercolumn"``: the paper's side branch, :class:`HypercolumnHead`, in a module named
              ``dist_branch`` (no ``model_class``; the released weights then do not load).
            * ``None``: no distribution head (``logits`` is ``None``), e.g. for the Global Hints Network,
              which has none in the paper.
        num_classes: Q of the distribution head: 529 (the released 23 x 23 grid, a-major, see
            :func:`encode_ab_index`) or 313 (the paper's in-gamut bins, ``reprolib.quantize.ab_bins``).
        global_hints: add the Global Hints Network branch (:class:`GlobalHintsBranch`, module
            ``global_branch``); ``forward`` then accepts ``global_hints``.
        detach_dist: ``False`` lets the distribution loss train the trunk too (colorization-pytorch's
            ``--classification`` stages, which replace the paper's initialisation from the ECCV16
            weights); the default ``True`` is the paper.

    ``forward(L, ab_hint, mask)`` takes L in [0, 100] of shape (N, 1, H, W) with H, W multiples of 8,
    ab hints (N, 2, H, W) in Lab units and a 0/1 mask (N, 1, H, W); both hint tensors may be ``None``
    (automatic colorization: no hints). Returns :class:`SIGGRAPH17Output` ``(ab, logits)``.
    """

    def __init__(
        self,
        width: float = 1.0,
        *,
        mask_cent: float,
        dist_head: str | None = "released",
        num_classes: int = NUM_GRID_CLASSES,
        global_hints: bool = False,
        detach_dist: bool = True,
    ):
        super().__init__()
        is_number = isinstance(mask_cent, (int, float)) and not isinstance(mask_cent, bool)
        if not is_number or float(mask_cent) not in MASK_CENTS:
            raise ValueError(
                "mask_cent must be 0.0 (caffe-converted weights) or 0.5 (colorization-pytorch weights), "
                f"got {mask_cent!r}"
            )
        if dist_head not in ("released", "hypercolumn", None):
            raise ValueError(f"dist_head must be 'released', 'hypercolumn' or None, got {dist_head!r}")
        if num_classes not in (NUM_GRID_CLASSES, NUM_AB_BINS):
            raise ValueError(
                f"num_classes must be {NUM_GRID_CLASSES} (23 x 23 grid) or {NUM_AB_BINS}, got {num_classes!r}"
            )
        # conv1-8 are the ECCV16 trunk's widths (section 3.3.4: "conv1-8 ... was used in our automatic
        # colorization work"); conv9 and conv10 have 128 channels.
        ch = eccv16_channels(width)
        c1, c2, c3, c4 = ch["c1"], ch["c2"], ch["c3"], ch["c4"]
        self.width, self.mask_cent = float(width), float(mask_cent)
        self.dist_head, self.num_classes, self.detach_dist = dist_head, num_classes, bool(detach_dist)

        # Encoder: 2-3 conv-relu pairs and one BN per block; no stride, resolution drops in forward().
        self.model1 = nn.Sequential(*_convs(4, c1, 2), nn.BatchNorm2d(c1))
        self.model2 = nn.Sequential(*_convs(c1, c2, 2), nn.BatchNorm2d(c2))
        self.model3 = nn.Sequential(*_convs(c2, c3, 3), nn.BatchNorm2d(c3))
        self.model4 = nn.Sequential(*_convs(c3, c4, 3), nn.BatchNorm2d(c4))
        # Bottleneck at 1/8: "instead of halving the spatial resolution, dilated convolutions".
        self.model5 = nn.Sequential(*_convs(c4, c4, 3, dilation=2), nn.BatchNorm2d(c4))
        self.model6 = nn.Sequential(*_convs(c4, c4, 3, dilation=2), nn.BatchNorm2d(c4))
        self.model7 = nn.Sequential(*_convs(c4, c4, 3), nn.BatchNorm2d(c4))
        # Decoder: upsample + shortcut, summed; the block then starts with the ReLU of that sum.
        self.model8up, self.model3short8 = _up(c4, c3), _short(c3, c3)
        self.model8 = nn.Sequential(nn.ReLU(inplace=True), *_convs(c3, c3, 2), nn.BatchNorm2d(c3))
        self.model9up, self.model2short9 = _up(c3, c2), _short(c2, c2)
        self.model9 = nn.Sequential(nn.ReLU(inplace=True), *_convs(c2, c2, 1), nn.BatchNorm2d(c2))
        self.model10up, self.model1short10 = _up(c2, c2), _short(c1, c2)
        self.model10 = nn.Sequential(
            nn.ReLU(inplace=True), nn.Conv2d(c2, c2, 3, padding=1, bias=True), nn.LeakyReLU(negative_slope=0.2)
        )
        # Section 3.3.4: a final 1 x 1 conv takes conv10 to the two ab channels, followed by a tanh since the
        # ab gamut is bounded.
        self.model_out = nn.Sequential(nn.Conv2d(c2, 2, kernel_size=1, bias=True), nn.Tanh())

        if dist_head == "released":
            self.model_class = nn.Sequential(nn.Conv2d(c3, num_classes, kernel_size=1, bias=True))
        elif dist_head == "hypercolumn":
            self.dist_branch = HypercolumnHead(c2 + c3 + c4 + c4 + c3, hidden=c3, num_classes=num_classes)
        self.global_branch = GlobalHintsBranch(c4) if global_hints else None

    # ------------------------------------------------------------------------------------------
    def _check_inputs(self, L, ab_hint, mask, global_hints=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Validate the inputs of :meth:`forward`; return the hints, zeros where none were given."""
        if global_hints is not None and self.global_branch is None:
            raise ValueError("global_hints given, but the network was built without global_hints=True")
        if global_hints is not None and (not isinstance(global_hints, torch.Tensor) or global_hints.shape[0] != L.shape[0]):
            got = tuple(global_hints.shape) if isinstance(global_hints, torch.Tensor) else type(global_hints).__name__
            raise ValueError(f"global_hints must be an (N, {GLOBAL_INPUT_CHANNELS}) tensor with the batch size of L, got {got}")
        if not isinstance(L, torch.Tensor) or not L.is_floating_point():
            raise TypeError("L must be a floating-point torch.Tensor of shape (N, 1, H, W) in [0, 100]")
        if L.dim() != 4 or L.shape[1] != 1:
            raise ValueError(f"expected L with shape (N, 1, H, W), got {tuple(L.shape)}")
        N, _, H, W = L.shape
        if H % 8 or W % 8:
            raise ValueError(f"H and W must be multiples of 8 (three 2x subsamplings), got {(H, W)}")
        lo, hi = (float(v) for v in torch.aminmax(L.detach()))
        if not (-0.01 <= lo and hi <= 100.01):
            raise ValueError(
                f"L must be in [0, 100] (Lab units; the network normalises it), got values in [{lo:.3g}, {hi:.3g}]"
            )
        if ab_hint is None:
            ab_hint = L.new_zeros(N, 2, H, W)
        if mask is None:
            mask = L.new_zeros(N, 1, H, W)
        for name, t, c in (("ab_hint", ab_hint, 2), ("mask", mask, 1)):
            if not isinstance(t, torch.Tensor) or not t.is_floating_point():
                raise TypeError(f"{name} must be a floating-point torch.Tensor of shape (N, {c}, H, W)")
            if tuple(t.shape) != (N, c, H, W):
                raise ValueError(f"{name} must have shape {(N, c, H, W)} to match L, got {tuple(t.shape)}")
        mlo, mhi = (float(v) for v in torch.aminmax(mask.detach()))
        if mlo < 0 or mhi > 1:
            raise ValueError(
                f"mask must hold 0 (no hint) or 1 (hint), got values in [{mlo:.3g}, {mhi:.3g}]; pass the raw "
                f"0/1 mask, the network subtracts mask_cent={self.mask_cent} itself"
            )
        return ab_hint, mask

    def forward(
        self,
        L: torch.Tensor,
        ab_hint: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        global_hints: torch.Tensor | None = None,
    ) -> SIGGRAPH17Output:
        ab_hint, mask = self._check_inputs(L, ab_hint, mask, global_hints)

        x = torch.cat([normalize_l(L), normalize_ab(ab_hint), mask - self.mask_cent], dim=1)
        conv1_2 = self.model1(x)
        conv2_2 = self.model2(conv1_2[:, :, ::2, ::2])  # subsampling, not pooling or strided conv
        conv3_3 = self.model3(conv2_2[:, :, ::2, ::2])
        conv4_3 = self.model4(conv3_3[:, :, ::2, ::2])
        if self.global_branch is not None:
            # Section 3.3.3: no global input means "not revealed" (both indicators 0).
            g = global_hints if global_hints is not None else L.new_zeros(L.shape[0], GLOBAL_INPUT_CHANNELS)
            conv4_3 = conv4_3 + self.global_branch(g)  # (N, C, 1, 1) broadcast = repeated spatially
        conv5_3 = self.model5(conv4_3)
        conv6_3 = self.model6(conv5_3)
        conv7_3 = self.model7(conv6_3)
        conv8_3 = self.model8(self.model8up(conv7_3) + self.model3short8(conv3_3))
        conv9_3 = self.model9(self.model9up(conv8_3) + self.model2short9(conv2_2))
        conv10_2 = self.model10(self.model10up(conv9_3) + self.model1short10(conv1_2))
        ab = unnormalize_ab(self.model_out(conv10_2))

        logits = None
        if self.dist_head is not None:
            cut = (lambda t: t.detach()) if self.detach_dist else (lambda t: t)
            if self.dist_head == "released":
                logits = self.model_class(cut(conv8_3))
            else:
                feats = [cut(f) for f in (conv2_2, conv3_3, conv4_3, conv7_3, conv8_3)]
                logits = self.dist_branch(feats, size=tuple(conv8_3.shape[-2:]))
        return SIGGRAPH17Output(ab, logits)

    def bins(self) -> torch.Tensor:
        """The (Q, 2) ab centres of the distribution head's classes, row q = class q (a-major)."""
        return grid_bins() if self.num_classes == NUM_GRID_CLASSES else ab_bins()


# --------------------------------------------------------------------------------------------------
# The 529-class grid (reference-facts section 2.3), with decoding done in integer arithmetic
# --------------------------------------------------------------------------------------------------


def encode_ab_index(ab: torch.Tensor) -> torch.Tensor:
    """Class index on the 23 x 23 grid: ``(..., 2, H, W)`` ab (Lab units) -> ``(..., H, W)`` int64.

    ``a_idx = round((a + 110) / 10)``, the same for b, clamped to [0, 22]; index ``a_idx * 23 + b_idx``
    (a-major, the order of ``reprolib.quantize.grid_bins`` and of the released ``pts_grid.npy``).
    Values beyond [-110, 110] go to the edge class. (``torch.round`` rounds halves to even.)
    """
    if not isinstance(ab, torch.Tensor) or not ab.is_floating_point():
        raise TypeError("ab must be a floating-point torch.Tensor of shape (..., 2, H, W) in Lab units")
    if ab.dim() < 3 or ab.shape[-3] != 2:
        raise ValueError(f"ab must have shape (..., 2, H, W), got {tuple(ab.shape)}")
    q = torch.round((ab - AB_GRID_MIN) / AB_GRID_STEP).clamp(0, AB_GRID_SIZE - 1).long()
    return q[..., 0, :, :] * AB_GRID_SIZE + q[..., 1, :, :]


def decode_ab_index(idx: torch.Tensor) -> torch.Tensor:
    """Grid centre of class indices: ``(..., H, W)`` int64 -> ``(..., 2, H, W)`` float32 ab.

    ``b_idx = idx mod 23`` and ``a_idx = idx // 23`` in integer arithmetic. (The released
    ``decode_ind_ab`` divides with ``/``, which became true division in PyTorch 1.5, so its b is always
    wrong: colorization-pytorch#14.)
    """
    if not isinstance(idx, torch.Tensor) or idx.is_floating_point() or idx.is_complex() or idx.dtype == torch.bool:
        raise TypeError("idx must be an integer tensor of class indices")
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= NUM_GRID_CLASSES):
        raise ValueError(f"idx must be in [0, {NUM_GRID_CLASSES}), got [{int(idx.min())}, {int(idx.max())}]")
    a_idx = torch.div(idx, AB_GRID_SIZE, rounding_mode="floor")
    b_idx = idx - a_idx * AB_GRID_SIZE
    ab = torch.stack([a_idx, b_idx], dim=-3).to(torch.float32)
    return ab * AB_GRID_STEP + AB_GRID_MIN


# --------------------------------------------------------------------------------------------------
# Losses (section 3.3.1 and Eq. 3.6)
# --------------------------------------------------------------------------------------------------


def _check_smooth_l1_args(ab_pred, ab_true, delta, reduction) -> None:
    for name, t in (("ab_pred", ab_pred), ("ab_true", ab_true)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point() or t.dim() != 4 or t.shape[1] != 2:
            raise ValueError(f"{name} must be a floating (N, 2, H, W) tensor in Lab units")
    if ab_pred.shape != ab_true.shape:
        raise ValueError(f"ab_pred {tuple(ab_pred.shape)} and ab_true {tuple(ab_true.shape)} differ in shape")
    if not (isinstance(delta, (int, float)) and not isinstance(delta, bool) and delta > 0):
        raise ValueError(f"delta must be a number > 0, got {delta!r}")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")


@checked_by(_check_smooth_l1_args)
def smooth_l1_loss(
    ab_pred: torch.Tensor, ab_true: torch.Tensor, delta: float = HUBER_DELTA, reduction: str = "mean"
) -> torch.Tensor:
    """The smooth-l1 (Huber) loss of Eq. 3.4-3.5 on ab in **Lab units**.

    ``l_delta(x, y) = 0.5 (x - y)^2`` if ``|x - y| < delta``, else ``delta (|x - y| - delta / 2)``, with
    delta = 1 (section 3.3.1). The paper does not give the units; we read delta = 1 in Lab units, which
    is what the released code's (commented-out) Huber with delta = 1/110 on ab / 110 computes
    (reference-facts section 2.4), and at that scale the loss is essentially l1 with a rounded tip.
    The released colorization-pytorch trains with ``10 * l1`` on ab / 110 instead.

    Eq. 3.5 sums over pixels and both channels. ``reduction="sum"`` returns that, summed over the
    batch; ``"mean"`` (default) divides it by N * H * W (per-pixel sum over a and b, averaged), so the
    learning rate does not depend on the image size.
    """
    per_pixel = F.huber_loss(ab_pred, ab_true, reduction="none", delta=float(delta)).sum(dim=1)
    return per_pixel.mean() if reduction == "mean" else per_pixel.sum()


def distribution_loss(logits: torch.Tensor, ab_true: torch.Tensor, target: str = "hard") -> torch.Tensor:
    """Cross-entropy of the colour-distribution head (Eq. 3.6), averaged over pixels.

    Args:
        logits: (N, Q, h, w) with Q = 529 (grid) or 313 (in-gamut bins).
        ab_true: (N, 2, h, w), or (N, 2, 4h, 4w) at full resolution, which is subsampled with
            ``[::4, ::4]`` like the released code's ``real_B[:, :, ::4, ::4]``.
        target: ``"hard"``: the nearest class (the released code: ``encode_ab_index`` for 529,
            ``encode_nearest`` for 313); ``"soft"``: the paper's soft-encoding (section 3.3.2), which spreads
            each true ab value over its 10 nearest bin centres with Gaussian weights, sigma = 5.
    """
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point() or logits.dim() != 4:
        raise ValueError("logits must be a floating (N, Q, h, w) tensor")
    Q = logits.shape[1]
    if Q not in (NUM_GRID_CLASSES, NUM_AB_BINS):
        raise ValueError(f"logits must have {NUM_GRID_CLASSES} or {NUM_AB_BINS} classes on dim 1, got {Q}")
    if not isinstance(ab_true, torch.Tensor) or ab_true.dim() != 4 or ab_true.shape[:2] != (logits.shape[0], 2):
        raise ValueError(f"ab_true must be (N, 2, H, W) with N = {logits.shape[0]}")
    h, w = logits.shape[-2:]
    if ab_true.shape[-2:] == (4 * h, 4 * w):
        ab_true = ab_true[:, :, ::4, ::4]
    elif ab_true.shape[-2:] != (h, w):
        raise ValueError(
            f"ab_true must be at the logits' resolution {(h, w)} or 4x it {(4 * h, 4 * w)}, "
            f"got {tuple(ab_true.shape[-2:])}"
        )
    if target == "hard":
        idx = encode_ab_index(ab_true) if Q == NUM_GRID_CLASSES else encode_nearest(ab_true)
        return F.cross_entropy(logits, idx)
    if target == "soft":
        bins = grid_bins() if Q == NUM_GRID_CLASSES else ab_bins()
        idx, weights = soft_encode_topk(ab_true.detach(), k=CODE_K, sigma=SIGMA, bins=bins)
        log_p = torch.log_softmax(logits, dim=1).gather(1, idx.to(logits.device))
        return -(weights.to(log_p.dtype) * log_p).sum(dim=1).mean()
    raise ValueError(f"target must be 'hard' or 'soft', got {target!r}")


# --------------------------------------------------------------------------------------------------
# Global hints (section 3.3.3; reference-facts section 2.6)
# --------------------------------------------------------------------------------------------------


def _check_histogram_args(ab, pool) -> None:
    if not isinstance(ab, torch.Tensor) or not ab.is_floating_point() or ab.dim() != 4 or ab.shape[1] != 2:
        raise ValueError("ab must be a floating (N, 2, H, W) tensor in Lab units")
    if isinstance(pool, bool) or not isinstance(pool, int) or pool < 1:
        raise ValueError(f"pool must be a positive integer, got {pool!r}")


@checked_by(_check_histogram_args)
def global_histogram(ab: torch.Tensor, pool: int = 4) -> torch.Tensor:
    """The global colour histogram X_hist over the Q = 313 bins: ``(N, 2, H, W)`` -> ``(N, 313)``.

    The released Caffe extraction (reference-facts section 2.6): ``pool`` x ``pool`` average pooling of
    ab (4 x 4: a 256 image becomes 64 x 64, the "quarter resolution" of section 3.3.3, where the paper
    says bilinear resizing), a **hard** assignment of each pooled pixel to its nearest bin
    (``reprolib.quantize.encode_nearest``), and the average over pixels. Border windows that do not fit
    are averaged over the pixels they cover. Each row sums to 1.
    """
    pooled = F.avg_pool2d(ab, pool, ceil_mode=True, count_include_pad=False) if pool > 1 else ab
    idx = encode_nearest(pooled).reshape(ab.shape[0], -1)  # (N, P)
    counts = torch.zeros(ab.shape[0], NUM_AB_BINS, dtype=ab.dtype, device=ab.device)
    counts.scatter_add_(1, idx, torch.ones_like(idx, dtype=ab.dtype))
    return counts / idx.shape[1]


def mean_saturation(rgb: torch.Tensor) -> torch.Tensor:
    """The mean HSV saturation X_sat of each image: ``(N, 3, H, W)`` sRGB in [0, 1] -> ``(N,)`` in [0, 1].

    ``S = (max - min) / max`` per pixel (0 where max = 0, i.e. black), averaged over the image
    (section 3.3.3: the ground-truth image is taken to HSV and its S channel averaged over space).
    """
    check_rgb(rgb)
    if rgb.dim() != 4:
        raise ValueError(f"rgb must have shape (N, 3, H, W), got {tuple(rgb.shape)}")
    hi = rgb.amax(dim=1)
    lo = rgb.amin(dim=1)
    s = torch.where(hi > 0, (hi - lo) / hi.clamp(min=torch.finfo(rgb.dtype).tiny), torch.zeros_like(hi))
    return s.mean(dim=(1, 2))


def global_input(
    hist: torch.Tensor | None,
    sat: torch.Tensor | None,
    reveal_hist: torch.Tensor | bool = True,
    reveal_sat: torch.Tensor | bool = True,
    batch_size: int | None = None,
) -> torch.Tensor:
    """Pack the global hints U_g = {X_hist, B_hist, X_sat, B_sat} into the (N, 316) network input.

    Layout: ``[X_hist * B_hist (313), B_hist, X_sat * B_sat, B_sat]``: a statistic that is not revealed
    is zeroed and its indicator is 0 (as the released ``ColorGlobalDropoutLayer`` does). ``hist`` is
    (N, 313) (see :func:`global_histogram`) or ``None`` (never revealed); ``sat`` is (N,) or ``None``.
    ``reveal_*`` are bools or (N,) bool tensors (see :func:`random_global_reveal`). ``batch_size`` is
    needed only when both statistics are ``None``.
    """
    ref = hist if hist is not None else sat
    if ref is None:
        if batch_size is None or batch_size < 1:
            raise ValueError("give hist, sat or a positive batch_size")
        N, dtype, device = batch_size, torch.float32, None
    else:
        N, dtype, device = ref.shape[0], ref.dtype, ref.device
    if hist is not None and (hist.dim() != 2 or tuple(hist.shape) != (N, NUM_AB_BINS)):
        raise ValueError(f"hist must have shape (N, {NUM_AB_BINS}), got {tuple(hist.shape)}")
    if sat is not None and (sat.dim() != 1 or sat.shape[0] != N):
        raise ValueError(f"sat must have shape ({N},), got {tuple(sat.shape)}")

    def indicator(reveal, given: bool) -> torch.Tensor:
        r = torch.as_tensor(reveal, device=device)
        if r.dtype != torch.bool or r.dim() > 1 or (r.dim() == 1 and r.shape[0] != N):
            raise ValueError(f"reveal flags must be a bool or a ({N},) bool tensor")
        return (r.expand(N) & given).to(dtype)

    b_hist = indicator(reveal_hist, hist is not None)
    b_sat = indicator(reveal_sat, sat is not None)
    x_hist = hist * b_hist[:, None] if hist is not None else torch.zeros(N, NUM_AB_BINS, dtype=dtype, device=device)
    x_sat = sat * b_sat if sat is not None else torch.zeros(N, dtype=dtype, device=device)
    return torch.cat([x_hist, b_hist[:, None], x_sat[:, None], b_sat[:, None]], dim=1)


def random_global_reveal(
    batch_size: int, generator: torch.Generator | None = None, p: float = 0.5
) -> tuple[torch.Tensor, torch.Tensor]:
    """Which global statistics to reveal for each training image: ``(reveal_hist, reveal_sat)``, (N,) bool.

    During training the network sees, chosen at random, the true colour histogram, the true saturation,
    both or neither (section 3.3.3). The paper gives no rates; each statistic is revealed independently with
    probability ``p`` (0.5: each of the four cases a quarter of the time).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not (isinstance(p, (int, float)) and 0 <= p <= 1) or isinstance(p, bool):
        raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
    u = torch.rand(2, batch_size, generator=generator)
    return u[0] < p, u[1] < p
