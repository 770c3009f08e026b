"""The colorization sub-net of He, Chen, Liao, Sander & Yuan, "Deep Exemplar-based Colorization"
(SIGGRAPH 2018), section 3.2.2.

Read this file next to section 3.2.2 of the paper. The similarity sub-net (section 3.1; the release's is a
Caffe program, ours is :mod:`reprolib.nn.correspondence`) warps a colour reference image R onto the grey
target T and measures, at five VGG levels and in both directions, how well each target pixel matches its
warped reference pixel. The
colorization sub-net C takes all of that, stacked into 13 channels, and predicts the target's ab:

    [L - 50, warped reference ab, 5 similarity maps, 5 similarity maps] (N,13,H,W)
        --conv1 .. conv10 (a U-Net)--> ab (N,2,H,W) in Lab units (100 * tanh)

**The ten blocks.** Blocks 1-7 are the encoder, 8-10 the decoder, as in Zhang et al.'s user-guided
network (``reprolib.models.siggraph17``):

* blocks 1-4: 3, 2, 3, 3 convolutions (3x3, each followed by a ReLU; block 1's first is 13 -> 32), then
  a BatchNorm without affine parameters (``convN_Mnorm``). Blocks 1-3 end with a *learned* 2x
  downsampling, ``convN_Mnorm_ss``: a 1x1 depthwise convolution of stride 2 with no bias (one weight per
  channel, applied to every second pixel). Block 4 does not downsample;
* blocks 5-6: 3 convolutions of dilation 2 at 1/8 resolution; block 7: 3 plain convolutions;
* blocks 8-10: a transposed convolution (4x4, stride 2) doubles the resolution and is summed with a 3x3
  "shortcut" convolution of the normalised output of block 3, 2 or 1 (``conv3_3_short``,
  ``conv2_2_short``, ``conv1_2_short``); the sum goes through a ReLU. Blocks 8 and 9 end with a
  BatchNorm; block 10 has one 3x3 convolution with a LeakyReLU (slope 0.2) and a 1x1 convolution
  ``conv10_ab`` to the two output channels.

The resolution is halved **three** times (bottleneck at 1/8, so H and W must be multiples of 8). The
paper's text speaks of four downsampling blocks; we follow the released code.

**Layout.** Attribute names, layer order, kernel sizes, paddings, dilations and biases are those of the
released PyTorch file ``colorization_subnet/models/ExampleColorNet.py`` (class ``ExampleColorNet(ic=13)``
of github.com/msracver/Deep-Exemplar-based-Colorization), so the released ``example_net.pth`` loads
strictly into ``ExampleColorNet()``: 34,065,666 parameters, plus the running statistics of the nine
BatchNorms. The first layer ``conv1_1`` is a Sequential (3x3 conv 13 -> 32, ReLU, 3x3 conv 32 -> 64), hence
the keys ``conv1_1.0.*`` and ``conv1_1.2.*``. The file dates from 2018 and may predate PyTorch's
BatchNorm ``num_batches_tracked`` counters; a loader must then add them as 0 (they do not affect
evaluation). ``width`` scales every channel count for the CPU profiles: the same code, fewer channels.

**The 13 input channels** (the order of the release's ``test.py``), built by :func:`assemble_input`:

    0       L - 50, L in [0, 100]
    1-2     the warped reference's a and b, raw Lab units
    3-7     five similarity maps of one direction (the release's ``err_ba``)
    8-12    five similarity maps of the other direction (the release's ``err_ab``)

In the release the ten maps come from a ``.combo`` file written by the similarity sub-net: the warped
reference as an encoded colour image (turned to Lab), then five pairs (``err_ba``, ``err_ab``) of 8-bit
grey images, which the test transform feeds as ``(x - 127) / 2`` (so in [-63.5, 64]). The release's
similarity sub-net (``Combo.cu``) writes **errors**, a byte being ``int(255 * clamp(1 - cos, 0, 1))``, with
``err_ba`` = 1 - sim_T->R and ``err_ab`` = 1 - sim_R->T of Eq. 1, the **deepest level first** (conv5_1 ...
conv1_1 of a grey-fine-tuned VGG-19-BN); :mod:`reprolib.chapters.exemplar.official` reads such files and
builds the release's input from them. :func:`assemble_input` puts ``sim_forward`` (sim_T->R) in channels 3-7
and ``sim_backward`` (sim_R->T) in 8-12, level k at offset k (relu1_1 first, in our own pipeline): the same
slots, other units and the opposite level order. A network trained with it is self-consistent; the released
weights need the release's input (``official.combo_input`` or ``official.release_errors``).

**Our scaling of the similarity maps** is ``2 * sim - 1`` (what our own training feeds). ``sim`` is a
cosine similarity, in [-1, 1] in general and in [0, 1] for VGG's ReLU features (non-negative vectors),
which ``2 * sim - 1`` takes to [-1, 1]. The release's channel is ``(x - 127) / 2`` of the byte
``x = 255 * (1 - sim)``, i.e. ``64 - 127.5 * sim = -63.75 * (2 * sim - 1) + 0.25`` (before the byte's
truncation): 63.75 times larger than ours, of the opposite sign and shifted by 0.25. So the released weights
must not be fed :func:`assemble_input`'s channels; a network trained with :func:`assemble_input` is consistent
with itself.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from reprolib.color import L_CENT
from reprolib.models.eccv16 import eccv16_channels
from reprolib.validation import checked_by

__all__ = [
    "EXEMPLAR_IN_CHANNELS",
    "NUM_SIM_LEVELS",
    "AB_SCALE",
    "ExampleColorNet",
    "assemble_input",
    "sims_to_channels",
]

NUM_SIM_LEVELS = 5  # similarity maps per direction (five VGG levels)
EXEMPLAR_IN_CHANNELS = 1 + 2 + 2 * NUM_SIM_LEVELS  # 13
AB_SCALE = 100.0  # the output is AB_SCALE * tanh(conv10_ab), ab in Lab units
_DOWNSAMPLING = 8  # three stride-2 layers
_L_TOL = 1e-2  # L may leave [0, 100] by this much (float rounding), as in reprolib.color
_SIM_TOL = 1e-4  # a cosine may leave [-1, 1] by this much (float rounding)


def _conv(cin: int, cout: int, dilation: int = 1) -> nn.Conv2d:
    """A 3x3 convolution with bias and "same" padding (padding = dilation for k = 3)."""
    return nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation, bias=True)


def _norm(c: int) -> nn.BatchNorm2d:
    """The blocks' normalisation: BatchNorm with running statistics and no learned scale or shift."""
    return nn.BatchNorm2d(c, affine=False)


def _halve(c: int) -> nn.Conv2d:
    """The learned 2x downsampling: a 1x1 depthwise conv of stride 2, one weight per channel, no bias."""
    return nn.Conv2d(c, c, 1, stride=2, groups=c, bias=False)


def _double(cin: int, cout: int) -> nn.ConvTranspose2d:
    """The learned 2x upsampling of blocks 8-10: a transposed conv, kernel 4, stride 2, padding 1."""
    return nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=True)


def _relu_each(x: torch.Tensor, *layers: nn.Module) -> torch.Tensor:
    """Apply each layer followed by a ReLU."""
    for layer in layers:
        x = F.relu(layer(x))
    return x


def _check_init(self, in_channels, width) -> None:
    if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
        raise ValueError(
            f"in_channels must be a positive integer ({EXEMPLAR_IN_CHANNELS} for the released network), "
            f"got {in_channels!r}"
        )
    if isinstance(width, bool):
        raise ValueError(f"width must be a number in (0, 1], got {width!r}")
    eccv16_channels(width)  # raises for a width outside (0, 1]


def _check_forward(self, x) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape (N, {self.in_channels}, H, W), got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(
            f"x must be a floating-point tensor, got dtype {x.dtype}; build it with assemble_input "
            "(similarity maps stored as bytes must be converted to floats first)"
        )
    if x.dim() != 4 or x.shape[1] != self.in_channels:
        raise ValueError(
            f"x must have shape (N, {self.in_channels}, H, W) ([L - 50, warped ab, 2 x {NUM_SIM_LEVELS} "
            f"similarity maps]; see assemble_input), got {tuple(x.shape)}"
        )
    h, w = x.shape[-2:]
    if h % _DOWNSAMPLING or w % _DOWNSAMPLING or h == 0 or w == 0:
        k = _DOWNSAMPLING
        raise ValueError(
            f"H and W must be positive multiples of {k} (the network halves the resolution three times), "
            f"got H={h}, W={w}; resize or crop the input, e.g. to {max(k, h // k * k)} x {max(k, w // k * k)}"
        )


class ExampleColorNet(nn.Module):
    """The colorization sub-net C of He et al. (2018), in the layout of the released ``ExampleColorNet``.

    Args:
        in_channels: channels of the assembled input; 13 (:data:`EXEMPLAR_IN_CHANNELS`) for the paper.
        width: channel multiplier in (0, 1]; 1.0 is the released network (34,065,666 parameters). Every
            channel count scales, the first layer's 32 included (rounded like
            :func:`reprolib.models.eccv16.eccv16_channels`, at least 4).

    ``forward(x)`` takes the assembled input (N, 13, H, W) (see :func:`assemble_input`), H and W multiples
    of 8, and returns ab (N, 2, H, W) in Lab units, bounded by 100 in magnitude.
    """

    @checked_by(_check_init)
    def __init__(self, in_channels: int = EXEMPLAR_IN_CHANNELS, width: float = 1.0):
        super().__init__()
        ch = eccv16_channels(width)
        c1, c2, c3, c4 = ch["c1"], ch["c2"], ch["c3"], ch["c4"]  # 64, 128, 256, 512 at width 1
        c0 = max(4, int(round(32 * width)))  # the first conv's 32
        self.in_channels, self.width = in_channels, float(width)

        # Block 1 (full resolution). conv1_1 is two convs with a ReLU between them.
        self.conv1_1 = nn.Sequential(_conv(in_channels, c0), nn.ReLU(), _conv(c0, c1))
        self.conv1_2 = _conv(c1, c1)
        self.conv1_2norm, self.conv1_2norm_ss = _norm(c1), _halve(c1)
        # Block 2 (1/2).
        self.conv2_1, self.conv2_2 = _conv(c1, c2), _conv(c2, c2)
        self.conv2_2norm, self.conv2_2norm_ss = _norm(c2), _halve(c2)
        # Block 3 (1/4).
        self.conv3_1, self.conv3_2, self.conv3_3 = _conv(c2, c3), _conv(c3, c3), _conv(c3, c3)
        self.conv3_3norm, self.conv3_3norm_ss = _norm(c3), _halve(c3)
        # Block 4 (1/8, no further downsampling).
        self.conv4_1, self.conv4_2, self.conv4_3 = _conv(c3, c4), _conv(c4, c4), _conv(c4, c4)
        self.conv4_3norm = _norm(c4)
        # Blocks 5 and 6: dilated convolutions widen the receptive field at 1/8.
        self.conv5_1, self.conv5_2, self.conv5_3 = (_conv(c4, c4, dilation=2) for _ in range(3))
        self.conv5_3norm = _norm(c4)
        self.conv6_1, self.conv6_2, self.conv6_3 = (_conv(c4, c4, dilation=2) for _ in range(3))
        self.conv6_3norm = _norm(c4)
        # Block 7.
        self.conv7_1, self.conv7_2, self.conv7_3 = (_conv(c4, c4) for _ in range(3))
        self.conv7_3norm = _norm(c4)
        # Block 8 (back to 1/4): upsampling + shortcut from block 3.
        self.conv8_1, self.conv3_3_short = _double(c4, c3), _conv(c3, c3)
        self.conv8_2, self.conv8_3 = _conv(c3, c3), _conv(c3, c3)
        self.conv8_3norm = _norm(c3)
        # Block 9 (1/2): upsampling + shortcut from block 2.
        self.conv9_1, self.conv2_2_short = _double(c3, c2), _conv(c2, c2)
        self.conv9_2 = _conv(c2, c2)
        self.conv9_2norm = _norm(c2)
        # Block 10 (full resolution): upsampling + shortcut from block 1, then the ab prediction.
        self.conv10_1, self.conv1_2_short = _double(c2, c2), _conv(c1, c2)
        self.conv10_2 = _conv(c2, c2)
        self.leaky_relu = nn.LeakyReLU(negative_slope=0.2)
        self.conv10_ab = nn.Conv2d(c2, 2, kernel_size=1, bias=True)

    @checked_by(_check_forward)
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Encoder. f1, f2, f3: the normalised outputs of blocks 1-3, kept for the shortcuts.
        f1 = self.conv1_2norm(_relu_each(x, self.conv1_1, self.conv1_2))
        f2 = self.conv2_2norm(_relu_each(self.conv1_2norm_ss(f1), self.conv2_1, self.conv2_2))
        f3 = self.conv3_3norm(_relu_each(self.conv2_2norm_ss(f2), self.conv3_1, self.conv3_2, self.conv3_3))
        h = self.conv4_3norm(_relu_each(self.conv3_3norm_ss(f3), self.conv4_1, self.conv4_2, self.conv4_3))
        h = self.conv5_3norm(_relu_each(h, self.conv5_1, self.conv5_2, self.conv5_3))
        h = self.conv6_3norm(_relu_each(h, self.conv6_1, self.conv6_2, self.conv6_3))
        h = self.conv7_3norm(_relu_each(h, self.conv7_1, self.conv7_2, self.conv7_3))
        # Decoder: upsample, add the shortcut of the matching encoder block, ReLU.
        h = F.relu(self.conv8_1(h) + self.conv3_3_short(f3))
        h = self.conv8_3norm(_relu_each(h, self.conv8_2, self.conv8_3))
        h = F.relu(self.conv9_1(h) + self.conv2_2_short(f2))
        h = self.conv9_2norm(_relu_each(h, self.conv9_2))
        h = F.relu(self.conv10_1(h) + self.conv1_2_short(f1))
        h = self.leaky_relu(self.conv10_2(h))
        return AB_SCALE * torch.tanh(self.conv10_ab(h))


# --------------------------------------------------------------------------------------------------
# The input
# --------------------------------------------------------------------------------------------------


def sims_to_channels(sim: torch.Tensor) -> torch.Tensor:
    """Our scaling of cosine similarities into network input: ``2 * sim - 1`` (see the module docstring)."""
    return 2.0 * sim - 1.0


def _check_planes(name: str, x, channels: int, meaning: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N, {channels}, H, W) ({meaning}), "
                        f"got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor ({meaning}), got dtype {x.dtype}")
    if x.dim() != 4 or x.shape[1] != channels:
        raise ValueError(f"{name} must have shape (N, {channels}, H, W) ({meaning}), got {tuple(x.shape)}")
    if x.numel() and not torch.isfinite(x.detach()).all():
        raise ValueError(f"{name} contains NaN or inf values")


def _check_assemble(L, warped_ab, sim_forward, sim_backward) -> None:
    inputs = {
        "L": (L, 1, "lightness in [0, 100]"),
        "warped_ab": (warped_ab, 2, "the warped reference's ab in Lab units"),
        "sim_forward": (sim_forward, NUM_SIM_LEVELS, "cosine similarities in [-1, 1], one map per VGG level"),
        "sim_backward": (sim_backward, NUM_SIM_LEVELS, "cosine similarities in [-1, 1], one map per VGG level"),
    }
    for name, (x, c, meaning) in inputs.items():
        _check_planes(name, x, c, meaning)
    n, h, w = L.shape[0], L.shape[2], L.shape[3]
    for name, (x, _, _) in inputs.items():
        if (x.shape[0], x.shape[2], x.shape[3]) != (n, h, w):
            raise ValueError(
                f"{name} has shape {tuple(x.shape)}, but L has shape {tuple(L.shape)}: all inputs need the same "
                f"batch size and image size (N={n}, H={h}, W={w})"
            )
        if x.dtype != L.dtype or x.device != L.device:
            raise ValueError(
                f"{name} is {x.dtype} on {x.device}, but L is {L.dtype} on {L.device}; use one dtype and device"
            )
    if L.numel():
        lo, hi = (float(v) for v in torch.aminmax(L.detach()))
        if lo < -_L_TOL or hi > 100 + _L_TOL:
            raise ValueError(
                f"L is in [{lo:.4g}, {hi:.4g}], but must be in [0, 100] (Lab units; assemble_input subtracts 50)"
            )
    for name in ("sim_forward", "sim_backward"):
        x = inputs[name][0]
        if x.numel():
            lo, hi = (float(v) for v in torch.aminmax(x.detach()))
            if lo < -1 - _SIM_TOL or hi > 1 + _SIM_TOL:
                raise ValueError(
                    f"{name} is in [{lo:.4g}, {hi:.4g}], but cosine similarities lie in [-1, 1]; pass the similarity "
                    "itself, not bytes or an already scaled map (assemble_input scales it)"
                )


@checked_by(_check_assemble)
def assemble_input(
    L: torch.Tensor, warped_ab: torch.Tensor, sim_forward: torch.Tensor, sim_backward: torch.Tensor
) -> torch.Tensor:
    """The 13-channel input of :class:`ExampleColorNet`: ``[L - 50, warped ab, sim_forward, sim_backward]``.

    ``L``: (N, 1, H, W) in [0, 100]. ``warped_ab``: (N, 2, H, W), the reference's ab warped onto the target,
    in Lab units (fed unscaled, as in the release). ``sim_forward``, ``sim_backward``: (N, 5, H, W) cosine
    similarities in [-1, 1], sim_T->R and sim_R->T of Eq. 1, one map per VGG level; they go to channels 3-7
    and 8-12 (the release's ``err_ba`` and ``err_ab`` slots), scaled by :func:`sims_to_channels` to
    ``2 * sim - 1``. The module docstring compares this with the release's ``(x - 127) / 2`` of bytes.
    """
    return torch.cat(
        [L - L_CENT, warped_ab, sims_to_channels(sim_forward), sims_to_channels(sim_backward)], dim=1
    )
