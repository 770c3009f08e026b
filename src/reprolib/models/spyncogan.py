"""SpyncoGan, the pseudo-cyclic colorization network (Ratajczak et al., SUMAC 2019; Chapter 8), and the
full-cycle baseline it is compared with (Col-Cycle).

A CycleGAN learns two generators (grey -> colour and back) and two discriminators. SpyncoGan keeps one of
each and replaces the way back by a fixed formula, the **handcrafted translation** H_t: the luma of an sRGB
pixel, 0.299 R + 0.587 G + 0.114 B, a 1 x 1 convolution nobody trains. Because H_t is linear in the three
generated channels, the generator outputs RGB (not Lab). Its second idea, the **output spatial pyramid**
(OSP), reads three decoder depths (the residual trunk at S/4, the first up-sampling layer at S/2, the
second at S), up-samples each one's *features* to full size and maps all three to RGB with one shared
convolution, so the losses can judge the inner layers with the same yardstick as the last one.

The paper's layer figure (Fig. 4) did not survive, so the layer list below is a reading of Sec. 4.1.
Every choice the text does not make is marked "reading:" where it is made. The main ones:

* reading: the CycleGAN-like generator c7s1-64, separable 3 x 3 stride-2 convs to 128 and to 256 channels,
  six 3 x 3 convs at 256 channels in the trunk (Sec. 6.1 says "6 convolutional blocks"; six two-conv
  residual blocks would hold 7.08 M parameters, more than the paper's whole G), two (nearest up x2,
  separable 3 x 3) layers, and a shared 7 x 7 map to RGB. It counts 4,744,451 parameters, 4.7 % under the
  paper's 4.978 M: the count pins no single layer list (see :func:`parameter_table`).
* "separable" is *spatially* separable (Mamalet & Garcia 2012, the paper's ref. [26]): a k x k filter bank
  becomes a k x 1 bank followed by a 1 x k bank (both full, cin -> cout -> cout), never depthwise or
  grouped, which the paper rules out.
* reading: the discriminator is CycleGAN's PatchGAN with its four feature convs spatially separable and a
  1 x 1 output conv: 2,083,969 parameters, 0.05 % under the paper's 2.085 M.

Images are sRGB in [0, 1] as everywhere in this package (``reprolib.color``); a grey image I is
(N, 1, H, W) in [0, 1] and enters G replicated to three channels (:func:`grey_to_input`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from reprolib.color import LUMA_WEIGHTS
from reprolib.modelinfo import count_parameters
from reprolib.nn.gan import GANLoss, PatchDiscriminator, generator_loss, norm_layer
from reprolib.validation import checked_by

__all__ = ["LUMA_WEIGHTS", "ALPHA", "BETA", "GAMMA", "ZETA", "PAPER_G_PARAMS", "PAPER_D_PARAMS",
           "PAPER_TOTAL_PARAMS", "PAPER_HT_PARAMS", "HandcraftedTranslation", "H_T", "grey_to_input",
           "SeparableConv2d", "conv_block", "ResidualBlock", "UpBlock", "up", "SpyncoGenerator",
           "SpyncoDiscriminator", "ColCycle", "colcycle_models", "sobel", "identity_loss", "pseudo_cycle_loss",
           "contour_loss", "generator_gan_loss", "discriminator_loss", "generator_losses", "ParameterRow",
           "parameter_table"]

# LUMA_WEIGHTS (Eq. 1, the weights of R, G, B: 0.299, 0.587, 0.114) have their home in reprolib.color

# Per-output loss weights, i = 1 (full scale) .. 3 (trunk), Sec. 5.2
ALPHA = (5.0, 3.0, 2.0)  # identity, Eq. 4
BETA = (10.0, 6.0, 4.0)  # pseudo-cycle, Eq. 6-7
GAMMA = (1.0, 1.0, 1.0)  # adversarial, Eq. 8
ZETA = (1.0, 0.0, 0.0)  # contours, Eq. 9: only G_1

# Sizes the paper states (Sec. 4.1), rounded as printed ("about 4.978 million", ...)
PAPER_G_PARAMS = 4_978_000
PAPER_D_PARAMS = 2_085_000
PAPER_TOTAL_PARAMS = 7_063_000
PAPER_HT_PARAMS = 3  # non-trainable

FIRST_KERNEL, DOWN_KERNEL, UP_KERNEL, MAP_KERNEL, D_KERNEL = 7, 3, 3, 7, 4
N_RESIDUAL = 6
DECODERS = ("constant", "decreasing")


# ------------------------------------------------------------------------------------------------------------
# Input checks (kept out of the bodies that the chapter shows)
# ------------------------------------------------------------------------------------------------------------

def _check_batch(x, channels: int, name: str, hint: str = "") -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or not x.is_floating_point():
        raise TypeError(f"{name} must be a floating tensor (N, {channels}, H, W), got "
                        f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    if x.shape[1] != channels:
        raise ValueError(f"{name} must have {channels} channel(s), got {x.shape[1]} in {tuple(x.shape)}{hint}")


def _check_ht(self, rgb) -> None:
    _check_batch(rgb, 3, "H_t's input", " (H_t maps an RGB image to its grey)")


def _check_grey(I_grey) -> None:
    _check_batch(I_grey, 1, "a grey image I")


def _check_weights(weights, name: str) -> None:
    if (not isinstance(weights, (tuple, list)) or not weights
            or not all(isinstance(w, (int, float)) and not isinstance(w, bool) and math.isfinite(w) and w >= 0
                       for w in weights)):
        raise ValueError(f"{name} must be a non-empty sequence of finite weights >= 0, got {weights!r}")


def _check_outputs(outputs, weights, name: str, like: torch.Tensor | None = None) -> None:
    if isinstance(outputs, torch.Tensor) or not isinstance(outputs, (list, tuple)) or not outputs:
        raise TypeError(f"{name} must be the list of G's pyramid outputs [G_1, G_2, ...], got "
                        f"{type(outputs).__name__}")
    if len(outputs) > len(weights):
        raise ValueError(f"{name} holds {len(outputs)} outputs but only {len(weights)} weights were given")
    for i, o in enumerate(outputs, 1):
        _check_batch(o, 3, f"{name}[G_{i}]")
        if like is not None and (o.shape[0], *o.shape[2:]) != (like.shape[0], *like.shape[2:]):
            raise ValueError(f"{name}[G_{i}] {tuple(o.shape)} and the target {tuple(like.shape)} must have the "
                             "same batch and image size")


def _check_size(x, multiple: int, smallest: int, name: str) -> None:
    h, w = x.shape[-2:]
    if h % multiple or w % multiple or h < smallest or w < smallest:
        raise ValueError(f"{name}: height and width must be multiples of {multiple} (two stride-2 layers down, "
                         f"two x2 layers up) and at least {smallest}, got {h} x {w}")


# ------------------------------------------------------------------------------------------------------------
# The handcrafted translation
# ------------------------------------------------------------------------------------------------------------

class HandcraftedTranslation(nn.Module):
    """H_t (Eq. 1): RGB (N, 3, H, W) -> grey (N, 1, H, W), a 1 x 1 convolution with the fixed weights
    (0.299, 0.587, 0.114) and no bias.

    The weights are a *parameter with* ``requires_grad=False`` rather than a buffer, because the paper counts
    them as "3 non-trainable parameters": ``count_parameters`` then gives 3, and 0 with ``trainable_only``.
    The forward pass uses a detached copy, so even a later ``requires_grad_(True)`` (for instance
    ``set_requires_grad`` over a list of networks) can never train them; gradients still flow through H_t to
    its input, which is how the pseudo-cycle reaches G. The weights follow the input's device and dtype.
    """

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.tensor(LUMA_WEIGHTS).view(1, 3, 1, 1), requires_grad=False)

    @checked_by(_check_ht)
    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return F.conv2d(rgb, self.weight.detach().to(rgb))


H_T = HandcraftedTranslation()  # the one H_t every loss uses by default (it holds no state to learn)


@checked_by(_check_grey)
def grey_to_input(I_grey: torch.Tensor) -> torch.Tensor:
    """A grey image (N, 1, H, W) replicated to the three channels G reads (Sec. 4.2: the identity loss feeds
    colour images to the same G, so both domains need three channels). H_t of the result is I again."""
    return I_grey.expand(-1, 3, -1, -1)


# ------------------------------------------------------------------------------------------------------------
# Layers
# ------------------------------------------------------------------------------------------------------------

class SeparableConv2d(nn.Sequential):
    """A spatially separable k x k convolution (Mamalet & Garcia 2012): a k x 1 conv (cin -> cout, stride s
    down the rows) then a 1 x k conv (cout -> cout, stride s along the columns), each with a bias and with
    ``pad`` pixels of padding on its own axis only. Parameters: k cin cout + k cout^2 + 2 cout, against
    k^2 cin cout + cout for the plain conv. No norm or activation sits between the two halves (reading: the
    pair replaces one filter bank, so it stays one linear map of rank-one kernels)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, pad: int | None = None,
                 padding_mode: str = "reflect"):
        p = k // 2 if pad is None else pad
        super().__init__(
            nn.Conv2d(cin, cout, (k, 1), stride=(stride, 1), padding=(p, 0), padding_mode=padding_mode),
            nn.Conv2d(cout, cout, (1, k), stride=(1, stride), padding=(0, p), padding_mode=padding_mode))


def conv_block(cin: int, cout: int, k: int, stride: int = 1, separable: bool = False) -> nn.Sequential:
    """The paper's conv block: reflection padding of k // 2 (reading: reflection, as CycleGAN), a plain or
    spatially separable conv, InstanceNorm without affine parameters, ReLU."""
    conv = (SeparableConv2d(cin, cout, k, stride) if separable
            else nn.Conv2d(cin, cout, k, stride, padding=k // 2, padding_mode="reflect"))
    return nn.Sequential(conv, norm_layer("instance", cout), nn.ReLU())


class ResidualBlock(nn.Module):
    """x + block(x), with one plain 3 x 3 conv block (reading: six one-conv blocks make the trunk's "6
    convolutional blocks"; the skip goes around the whole block, ReLU included)."""

    def __init__(self, n: int):
        super().__init__()
        self.block = conv_block(n, n, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


def up(x: torch.Tensor, times: int = 1) -> torch.Tensor:
    """up^times (Eq. 2): nearest-neighbour x2, applied ``times`` times (reading: the OSP rescaling uses the
    same nearest interpolation as the decoder, Sec. 6.2.2)."""
    for _ in range(times):
        x = F.interpolate(x, scale_factor=2, mode="nearest")
    return x


class UpBlock(nn.Module):
    """One decoder layer: nearest x2, then a separable conv block (interpolation + conv, no transposed conv)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.block = conv_block(cin, cout, UP_KERNEL, separable=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(up(x))


# ------------------------------------------------------------------------------------------------------------
# Generator
# ------------------------------------------------------------------------------------------------------------

def _positive_int(v, name: str, owner: str) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{owner}: {name} must be an integer >= 1, got {v!r}")


def _check_generator(self, width, n, in_channels, out_channels, pyramids, decoder):
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not (0 < width <= 4):
        raise ValueError(f"SpyncoGenerator: width must be a number in (0, 4], got {width!r}")
    for name, v in (("n", n), ("in_channels", in_channels), ("out_channels", out_channels)):
        _positive_int(v, name, "SpyncoGenerator")
    if decoder not in DECODERS:
        raise ValueError(f"SpyncoGenerator: decoder must be one of {DECODERS}, got {decoder!r}")
    if pyramids and decoder != "constant":
        raise ValueError("SpyncoGenerator: the output pyramids need a constant decoder width (one shared map "
                         "reads every depth); use pyramids=False with decoder='decreasing'")


def _check_forward(self, x):
    _check_batch(x, self.in_channels, "G's input",
                 " (a grey image enters G replicated to three channels: grey_to_input(I))")
    _check_size(x, 4, 8, "G's input")


class SpyncoGenerator(nn.Module):
    """G: (N, 3, H, W) in [0, 1] -> the pyramid [G_1, G_2, G_3] of RGB images (N, 3, H, W) in [0, 1].

    Layers, with c = round(n width) (n = 256, the paper's, at width 1; the book's small profiles shrink width):

    ======================  ============================================  =================
    encoder                 conv block 7 x 7, 3 -> c/4                     S
                            separable 3 x 3 stride 2, c/4 -> c/2          S/2
                            separable 3 x 3 stride 2, c/2 -> c            S/4
    trunk                   6 x (x + conv block 3 x 3, c -> c)            S/4  -> O_3
    decoder                 up x2, separable 3 x 3, c -> c                S/2  -> O_2
                            up x2, separable 3 x 3, c -> c                S    -> O_1
    map (shared)            7 x 7 conv c -> 3, then (1 + tanh) / 2        S
    ======================  ============================================  =================

    G_i = map(up^(i-1)(O_i)) (Eq. 2-3). Reading: the map ends in (1 + tanh) / 2, i.e. CycleGAN's tanh output
    rescaled to the package's [0, 1] RGB, so that H_t of an output is a grey in [0, 1] like I.

    ``pyramids=False`` is the output ablation of Table 1 (L^1): the same network, but ``forward`` returns
    only [G_1], so only the last output enters the losses; :meth:`pyramid` still gives all three for viewing.
    ``decoder="decreasing"`` (c -> c/2 -> c/4, map c/4 -> out) is Col-Cycle's CycleGAN-like decoder; it has
    no pyramid. ``out_channels=1`` gives a colour -> grey generator.
    """

    @checked_by(_check_generator)
    def __init__(self, width: float = 1.0, n: int = 256, in_channels: int = 3, out_channels: int = 3,
                 pyramids: bool = True, decoder: str = "constant"):
        super().__init__()
        c = tuple(max(1, round(n * width * f)) for f in (0.25, 0.5, 1.0))
        self.channels, self.in_channels, self.pyramids, self.decoder = c, in_channels, pyramids, decoder
        self.encoder = nn.Sequential(conv_block(in_channels, c[0], FIRST_KERNEL),
                                     conv_block(c[0], c[1], DOWN_KERNEL, stride=2, separable=True),
                                     conv_block(c[1], c[2], DOWN_KERNEL, stride=2, separable=True))
        self.trunk = nn.Sequential(*[ResidualBlock(c[2]) for _ in range(N_RESIDUAL)])
        widths = (c[2], c[2], c[2]) if decoder == "constant" else (c[2], c[1], c[0])
        self.up1 = UpBlock(widths[0], widths[1])
        self.up2 = UpBlock(widths[1], widths[2])
        self.map = nn.Conv2d(widths[2], out_channels, MAP_KERNEL, padding=MAP_KERNEL // 2, padding_mode="reflect")

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """[O_1, O_2, O_3]: the decoder's outputs at S, S/2 and the trunk's at S/4."""
        O_3 = self.trunk(self.encoder(x))
        O_2 = self.up1(O_3)
        O_1 = self.up2(O_2)
        return [O_1, O_2, O_3]

    def to_image(self, features: torch.Tensor) -> torch.Tensor:
        """The shared mapping from full-size features to the output domain, in [0, 1]."""
        return (1 + torch.tanh(self.map(features))) / 2

    @checked_by(_check_forward)
    def pyramid(self, x: torch.Tensor) -> list[torch.Tensor]:
        """All three outputs G_i(x) = map(up^(i-1)(O_i)), i = 1, 2, 3, whatever ``pyramids`` says."""
        if self.decoder != "constant":
            raise RuntimeError("a decreasing decoder has no output pyramid: its inner widths differ from the map's")
        return [self.to_image(up(O_i, i - 1)) for i, O_i in enumerate(self.features(x), 1)]

    @checked_by(_check_forward)
    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self.pyramids:
            return self.pyramid(x)
        return [self.to_image(self.features(x)[0])]


# ------------------------------------------------------------------------------------------------------------
# Discriminator
# ------------------------------------------------------------------------------------------------------------

def _check_discriminator(self, in_channels, width, ndf, n_layers, out_kernel, affine):
    _positive_int(in_channels, "in_channels", "SpyncoDiscriminator")
    _positive_int(ndf, "ndf", "SpyncoDiscriminator")
    _positive_int(n_layers, "n_layers", "SpyncoDiscriminator")
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not (0 < width <= 4):
        raise ValueError(f"SpyncoDiscriminator: width must be a number in (0, 4], got {width!r}")
    if out_kernel not in (1, D_KERNEL):
        raise ValueError(f"SpyncoDiscriminator: out_kernel must be 1 or {D_KERNEL}, got {out_kernel!r}")


def _check_d_forward(self, x):
    _check_batch(x, self.in_channels, "D's input")
    last = [s // 2 ** self.n_layers - 1 for s in x.shape[-2:]]  # n stride-2 4x4 convs (padding 1), one stride-1
    scores = [s - (self.out_kernel - 1) + 2 * (self.out_kernel > 1) for s in last]  # the output conv
    if last[0] * last[1] < 2 or min(scores) < 1:
        raise ValueError(f"D's input {tuple(x.shape[-2:])} is too small for {self.n_layers} stride-2 layers: its "
                         f"last normalised map ({last[0]} x {last[1]}) needs more than one pixel and a score map")


class SpyncoDiscriminator(nn.Module):
    """D: a PatchGAN (CycleGAN's 70 x 70 layout, C64-C128-C256-C512, LeakyReLU 0.2, InstanceNorm after all but
    the first) whose four feature convs are spatially separable 4 x 4 (k x 1 then 1 x k, middle width =
    cout, zero padding 1 as in the PatchGAN), then an output conv to one channel of raw LSGAN scores.

    Reading (the paper says nothing on D beyond its 2.085 M parameters): the separable convs of Sec. 4.1
    applied to D's down-sampling layers, and a 1 x 1 output conv (``out_kernel=1``, 2,083,969 parameters at
    width 1). With it each score sees a 46 x 46 patch; ``out_kernel=4`` restores the 70 x 70 patch (2,091,649).
    ``affine=True`` gives the norms a scale and shift (2,085,761). Padding stays the PatchGAN's 1 (reading:
    the paper's "half the kernel" would give odd sizes with k = 4; the count does not depend on it).
    """

    @checked_by(_check_discriminator)
    def __init__(self, in_channels: int = 3, width: float = 1.0, ndf: int = 64, n_layers: int = 3,
                 out_kernel: int = 1, affine: bool = False):
        super().__init__()
        self.in_channels, self.n_layers, self.out_kernel = in_channels, n_layers, out_kernel
        base = max(1, round(ndf * width))
        w = [base * min(2 ** i, 8) for i in range(n_layers + 1)]

        def norm(c: int) -> nn.Module:
            return nn.InstanceNorm2d(c, affine=True) if affine else norm_layer("instance", c)

        def sep(cin: int, cout: int, stride: int) -> nn.Module:
            return SeparableConv2d(cin, cout, D_KERNEL, stride, pad=1, padding_mode="zeros")

        layers: list[nn.Module] = [sep(in_channels, w[0], 2), nn.LeakyReLU(0.2)]
        for i in range(1, n_layers):
            layers += [sep(w[i - 1], w[i], 2), norm(w[i]), nn.LeakyReLU(0.2)]
        layers += [sep(w[n_layers - 1], w[n_layers], 1), norm(w[n_layers]), nn.LeakyReLU(0.2),
                   nn.Conv2d(w[n_layers], 1, out_kernel, padding=1 if out_kernel > 1 else 0)]
        self.model = nn.Sequential(*layers)

    @checked_by(_check_d_forward)
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


# ------------------------------------------------------------------------------------------------------------
# The full-cycle baseline
# ------------------------------------------------------------------------------------------------------------

class ColCycle(NamedTuple):
    """Col-Cycle's four networks (Fig. 2a; the paper's ref. [32]): G grey -> colour, F colour -> grey, D_B on
    colour images, D_A on grey images."""

    G: SpyncoGenerator
    F: SpyncoGenerator
    D_B: SpyncoDiscriminator
    D_A: SpyncoDiscriminator


def colcycle_models(width: float = 1.0) -> ColCycle:
    """The full-cycle baseline at ``width``: "the same layers and filters but for H_t and OSP", with
    CycleGAN's decreasing decoder widths (c -> c/2 -> c/4) and nearest up-sampling (Sec. 6.2.2).

    Readings: both generators read three channels (F reads a colour image, or a grey one replicated for its
    identity term), G writes three and F one (the grey domain has one channel, so D_A reads one); both
    discriminators are SpyncoGan's separable PatchGAN.
    """
    return ColCycle(G=SpyncoGenerator(width, pyramids=False, decoder="decreasing"),
                    F=SpyncoGenerator(width, out_channels=1, pyramids=False, decoder="decreasing"),
                    D_B=SpyncoDiscriminator(3, width),
                    D_A=SpyncoDiscriminator(1, width))


# ------------------------------------------------------------------------------------------------------------
# Losses (Eq. 4-9). G_of_X is the list [G_1(X), G_2(X), G_3(X)] that G returns, or [G_1(X)] for L^1.
# ------------------------------------------------------------------------------------------------------------

LSGAN = GANLoss("lsgan")
_SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def _check_sobel(x):
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or not x.is_floating_point():
        raise TypeError(f"sobel takes a floating tensor (N, C, H, W), got "
                        f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")


@checked_by(_check_sobel)
def sobel(x: torch.Tensor) -> torch.Tensor:
    """S_k: the horizontal and vertical 3 x 3 Sobel derivatives of every channel, (N, C, H, W) -> (N, 2C, H, W)
    (channel 2c is d/dx of channel c, positive where it brightens to the right; 2c + 1 is d/dy, positive where
    it brightens downward). Reading: the raw integer kernels (no 1/8), replicate padding, so a flat image has
    zero derivatives up to its border."""
    kernels = torch.stack([_SOBEL_X, _SOBEL_X.T]).unsqueeze(1).to(x)  # (2, 1, 3, 3)
    c = x.shape[1]
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernels.repeat(c, 1, 1, 1), groups=c)


def _l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """|a - b|_1 as a mean over the batch, channels and pixels."""
    return (a - b).abs().mean()


def _check_identity(G_of_J, J_colour, alpha):
    _check_batch(J_colour, 3, "J_colour")
    _check_weights(alpha, "alpha")
    _check_outputs(G_of_J, alpha, "G_of_J", like=J_colour)


@checked_by(_check_identity)
def identity_loss(G_of_J: Sequence[torch.Tensor], J_colour: torch.Tensor,
                  alpha: Sequence[float] = ALPHA) -> torch.Tensor:
    """Eq. 4: sum_i alpha_i E_B |G_i(J) - J|_1 -- a colour image J should come out of G unchanged."""
    return sum(a_i * _l1(G_i, J_colour) for G_i, a_i in zip(G_of_J, alpha, strict=False))


def _check_cycle(G_of_HtJ, J_colour, G_of_I, I_grey, H_t, beta):
    _check_batch(J_colour, 3, "J_colour")
    _check_grey(I_grey)
    _check_weights(beta, "beta")
    _check_outputs(G_of_HtJ, beta, "G_of_HtJ", like=J_colour)
    _check_outputs(G_of_I, beta, "G_of_I", like=I_grey)


@checked_by(_check_cycle)
def pseudo_cycle_loss(G_of_HtJ: Sequence[torch.Tensor], J_colour: torch.Tensor, G_of_I: Sequence[torch.Tensor],
                      I_grey: torch.Tensor, H_t: nn.Module = H_T, beta: Sequence[float] = BETA) -> torch.Tensor:
    """Eq. 5-7: B -> A -> B plus A -> B -> A, with H_t as the way back.

    sum_i beta_i E_B |G_i(H_t(J)) - J|_1  +  sum_i beta_i E_A |H_t(G_i(I)) - I|_1

    with I = ``I_grey`` (N, 1, H, W) and J = ``J_colour`` (N, 3, H, W). ``G_of_HtJ`` = G(grey_to_input(H_t(J)))
    (H_t(J) replicated to three channels before G); the second term compares on the single grey channel.
    """
    bab = sum(b_i * _l1(G_i, J_colour) for G_i, b_i in zip(G_of_HtJ, beta, strict=False))
    aba = sum(b_i * _l1(H_t(G_i), I_grey) for G_i, b_i in zip(G_of_I, beta, strict=False))
    return bab + aba


def _edge_l1(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """|S_k(x) - S_k(y)|_1: per pixel, the absolute differences of the horizontal and of the vertical Sobel
    maps added (reading: not the difference of gradient magnitudes), then the mean over pixels and batch."""
    return (sobel(x) - sobel(y)).abs().sum(dim=1).mean()


def _check_contours(G_of_I, I_grey, H_t, zeta):
    _check_grey(I_grey)
    _check_weights(zeta, "zeta")
    _check_outputs(G_of_I, zeta, "G_of_I", like=I_grey)


@checked_by(_check_contours)
def contour_loss(G_of_I: Sequence[torch.Tensor], I_grey: torch.Tensor, H_t: nn.Module = H_T,
                 zeta: Sequence[float] = ZETA) -> torch.Tensor:
    """Eq. 9: sum_i zeta_i E_A |S_k(H_t(G_i(I))) - S_k(I)|_1 -- the grey of the colourised image keeps the
    input's edges (with zeta = (1, 0, 0), on G_1 only)."""
    return sum(z_i * _edge_l1(H_t(G_i), I_grey) for G_i, z_i in zip(G_of_I, zeta, strict=False))


def _check_gan(D, G_of_I, gamma):
    if not isinstance(D, nn.Module):
        raise TypeError(f"D must be a torch module, got {type(D).__name__}")
    _check_weights(gamma, "gamma")
    _check_outputs(G_of_I, gamma, "G_of_I")


@checked_by(_check_gan)
def generator_gan_loss(D: nn.Module, G_of_I: Sequence[torch.Tensor], gamma: Sequence[float] = GAMMA) -> torch.Tensor:
    """G's side of Eq. 8 (least squares): sum_i gamma_i E_A (1 - D(G_i(I)))^2, the mean over D's patch map.
    One D judges every output: they are all at full size. Freeze D first (``nn.gan.set_requires_grad``)."""
    return sum(g_i * generator_loss(D, G_i, LSGAN) for G_i, g_i in zip(G_of_I, gamma, strict=False))


def _check_d_loss(D, J_colour, G_of_I, gamma):
    _check_gan(D, G_of_I, gamma)
    _check_batch(J_colour, 3, "J_colour")
    if sum(gamma[:len(G_of_I)]) <= 0:
        raise ValueError(f"gamma {gamma!r} gives the {len(G_of_I)} output(s) no weight: D would see no fakes")


@checked_by(_check_d_loss)
def discriminator_loss(D: nn.Module, J_colour: torch.Tensor, G_of_I: Sequence[torch.Tensor],
                       gamma: Sequence[float] = GAMMA) -> torch.Tensor:
    """D's side of Eq. 8, read as the standard least-squares GAN (the printed second term, E_B ||D(J)||^2,
    would push real scores to 0; the erratum and the text's "rewards the discriminator" say otherwise):

    E_B (1 - D(J))^2  +  sum_i gamma_i E_A D(G_i(I))^2 / sum_i gamma_i

    Readings: no factor 1/2 (as ``nn.gan.discriminator_loss``); the fake term is the gamma-weighted *mean*
    over the outputs, so real and fake weigh alike and D's loss has one scale for L^1 and L^{1,2,3}. The
    fakes are detached: this loss never reaches G.
    """
    real = LSGAN(D(J_colour), True)
    fake = sum(g_i * LSGAN(D(G_i.detach()), False) for G_i, g_i in zip(G_of_I, gamma, strict=False))
    return real + fake / sum(gamma[:len(G_of_I)])


def _check_g_losses(G, D, I_grey, J_colour, H_t, alpha, beta, gamma, zeta):
    _check_grey(I_grey)
    _check_batch(J_colour, 3, "J_colour")
    if I_grey.shape[2:] != J_colour.shape[2:]:
        raise ValueError(f"I_grey {tuple(I_grey.shape)} and J_colour {tuple(J_colour.shape)} must have the same "
                         "image size")


@checked_by(_check_g_losses)
def generator_losses(G: SpyncoGenerator, D: nn.Module, I_grey: torch.Tensor, J_colour: torch.Tensor,
                     H_t: nn.Module = H_T, alpha: Sequence[float] = ALPHA, beta: Sequence[float] = BETA,
                     gamma: Sequence[float] = GAMMA, zeta: Sequence[float] = ZETA
                     ) -> tuple[dict[str, torch.Tensor], list[torch.Tensor]]:
    """Every generator term of Sec. 4.2 and their raw sum ("total"), from one call of G on I, J and H_t(J)
    stacked in one batch (exact: InstanceNorm normalises each image alone); also G_of_I, the fakes for D's
    update. ``zeta=(0, 0, 0)`` is the contour ablation of Table 2; a G with ``pyramids=False`` gives L^1."""
    n, m = I_grey.shape[0], J_colour.shape[0]
    stacked = G(torch.cat([grey_to_input(I_grey), J_colour, grey_to_input(H_t(J_colour))]))
    G_of_I = [o[:n] for o in stacked]
    G_of_J = [o[n:n + m] for o in stacked]
    G_of_HtJ = [o[n + m:] for o in stacked]
    terms = {"identity": identity_loss(G_of_J, J_colour, alpha),
             "cycle": pseudo_cycle_loss(G_of_HtJ, J_colour, G_of_I, I_grey, H_t, beta),
             "gan": generator_gan_loss(D, G_of_I, gamma),
             "contours": contour_loss(G_of_I, I_grey, H_t, zeta)}
    terms["total"] = sum(terms.values())
    return terms, G_of_I


# ------------------------------------------------------------------------------------------------------------
# Parameter counts
# ------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ParameterRow:
    """One reading's parameter count, counted by instantiating it, beside the paper's (or None)."""

    network: str
    reading: str
    params: int
    paper: int | None

    @property
    def relative(self) -> float | None:
        """params / paper - 1 (e.g. -0.047 for 4.7 % fewer than the paper's)."""
        return None if self.paper is None else self.params / self.paper - 1


def parameter_table() -> list[ParameterRow]:
    """The counts at the paper's width (n = 256): this module's G and D, the other discriminator readings,
    H_t, SpyncoGan's trainable total and Col-Cycle's. Every number is counted from a built network."""
    G = count_parameters(SpyncoGenerator(1.0))
    D = count_parameters(SpyncoDiscriminator(3, 1.0))
    col = sum(count_parameters(m) for m in colcycle_models(1.0))
    ht = HandcraftedTranslation()
    return [
        ParameterRow("G", "CycleGAN-like: c7s1-64, two separable 3x3 s2 downs, 6 plain 3x3 at 256, two "
                     "(up x2, separable 3x3) at 256, shared 7x7 map (this module)", G, PAPER_G_PARAMS),
        ParameterRow("D", "CycleGAN's 70x70 PatchGAN, plain 4x4 convs, 4x4 output (nn.gan.PatchDiscriminator)",
                     count_parameters(PatchDiscriminator(3, 64, 3)), PAPER_D_PARAMS),
        ParameterRow("D", "PatchGAN, separable 4x4 feature convs, 4x4 output",
                     count_parameters(SpyncoDiscriminator(3, 1.0, out_kernel=4)), PAPER_D_PARAMS),
        ParameterRow("D", "PatchGAN, separable 4x4 feature convs, 1x1 output (this module)", D, PAPER_D_PARAMS),
        ParameterRow("D", "PatchGAN, separable 4x4 feature convs, 1x1 output, InstanceNorm affine",
                     count_parameters(SpyncoDiscriminator(3, 1.0, affine=True)), PAPER_D_PARAMS),
        ParameterRow("H_t", "fixed luma weights (trainable: 0)", count_parameters(ht), PAPER_HT_PARAMS),
        ParameterRow("G + D", "SpyncoGan's trainable total (this module)", G + D, PAPER_TOTAL_PARAMS),
        ParameterRow("Col-Cycle", "two generators with decreasing decoders, two separable PatchGANs", col, None),
    ]
