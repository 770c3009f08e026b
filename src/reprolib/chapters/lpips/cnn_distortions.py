"""The "CNN-based distortions" of the BAPPS dataset (thesis sec. 6.2.1 and Table 6.2, right).

Sec. 6.2.1: so that the dataset also covers the kinds of artifact that deep-learning methods produce, some
distortions are made by neural networks, varying the task, the architecture and the loss. Every task
(autoencoding, denoising, colorization, super-resolution) amounts to corrupting the input in a suitable way
and learning to undo it; 96 such "denoising autoencoders" were trained. They are not meant to be good at
their tasks: what matters is that their outputs show the typical failures of deep networks.

So a CNN distortion is ``x -> G(c(x))``: ``c`` an input corruption, ``G`` a small encoder-decoder trained
briefly to map ``c(x)`` back to ``x``; what ``G`` gets wrong is the distortion. Every choice is drawn at
random (:func:`sample_spec`), following the parameter list of Table 6.2 (right):

=====================  ==============================================================================
Table 6.2              here (:class:`CNNDistorterSpec`)
=====================  ==============================================================================
input corruption       ``corruption``: null, pink noise, white noise, colour removal, downsampling
# layers               ``num_levels``: 1-3 stride-2 stages after the first layer
# skip connections     ``skips``: one flag per resolution level
force top skip         ``input_skip``: the corrupted input concatenated before the output layer
# layers w/ dropout    ``dropout``: one flag per decoder stage
upsampling method      ``upsampling``: nearest, bilinear or transposed convolution
normalization          ``normalization``: none, batch or instance
first layer stride     ``first_stride``: 1 or 2
# channels, max        ``width``, ``max_width``
loss weighting         ``loss_weights``: (L1, L2, features), at least one non-zero
learning rate          ``lr``
=====================  ==============================================================================

Where this differs from the paper: the networks train for a few hundred steps on the book's patches
(not one epoch of ImageNet); the "VGG" loss is replaced by a feature loss on a fixed *randomly
initialised* conv net, so that no pretrained weights are needed (the thesis evaluates random networks
as metrics too, sec. 6.4.1: they correlate with human judgments far worse than trained ones, but here
they only add a differently shaped training loss, whose artefacts are what matters); and there is no
discriminator (adversarial) loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from reprolib.chapters.lpips.distortions import DISTORTIONS, check_generator, check_images
from reprolib.color import gray_rgb
from reprolib.data.patches import photo_patches

__all__ = [
    "CORRUPTIONS",
    "UPSAMPLINGS",
    "NORMALIZATIONS",
    "CNNDistorterSpec",
    "DenoisingAutoencoder",
    "RandomFeatureLoss",
    "CNNDistorter",
    "sample_spec",
    "corrupt",
    "train_distorter",
    "make_cnn_distorters",
]

CORRUPTIONS = ("null", "pink_noise", "white_noise", "color_removal", "downsample")
UPSAMPLINGS = ("nearest", "bilinear", "transposed")
NORMALIZATIONS = ("none", "batch", "instance")
_WIDTHS = (8, 16, 32)
_LR_RANGE = (3e-4, 3e-3)  # log-uniform


@dataclass(frozen=True)
class CNNDistorterSpec:
    """The random choices that define one CNN distortion (see the table in the module docstring).

    ``corruption_strength`` is the noise severity (for the noise corruptions, see
    :data:`reprolib.chapters.lpips.distortions.DISTORTIONS`) or the downsampling factor (2 or 4); it is unused otherwise.
    ``skips[l]`` concatenates the encoder features of level l to the decoder's input at that level;
    ``dropout[l]`` puts a ``Dropout(0.5)`` after the decoder stage that produces level l.
    """

    corruption: str
    corruption_strength: float
    num_levels: int
    skips: tuple[bool, ...]
    input_skip: bool
    dropout: tuple[bool, ...]
    upsampling: str
    normalization: str
    first_stride: int
    width: int
    max_width: int
    loss_weights: tuple[float, float, float]
    lr: float
    seed: int

    def __post_init__(self):
        if self.corruption not in CORRUPTIONS:
            raise ValueError(f"corruption must be one of {CORRUPTIONS}, got {self.corruption!r}")
        if self.upsampling not in UPSAMPLINGS:
            raise ValueError(f"upsampling must be one of {UPSAMPLINGS}, got {self.upsampling!r}")
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {self.normalization!r}")
        if not (isinstance(self.num_levels, int) and 1 <= self.num_levels <= 4):
            raise ValueError(f"num_levels must be an integer from 1 to 4, got {self.num_levels!r}")
        if len(self.skips) != self.num_levels or len(self.dropout) != self.num_levels:
            raise ValueError(f"skips and dropout need one flag per level ({self.num_levels}), "
                             f"got {len(self.skips)} and {len(self.dropout)}")
        if self.first_stride not in (1, 2):
            raise ValueError(f"first_stride must be 1 or 2, got {self.first_stride!r}")
        if not (isinstance(self.width, int) and isinstance(self.max_width, int) and 1 <= self.width <= self.max_width):
            raise ValueError(f"need integers 1 <= width <= max_width, got {self.width!r}, {self.max_width!r}")
        if len(self.loss_weights) != 3 or min(self.loss_weights) < 0 or sum(self.loss_weights) <= 0:
            raise ValueError(f"loss_weights must be three non-negative numbers (L1, L2, features), not all 0, "
                             f"got {self.loss_weights!r}")
        if not (0 < self.lr < 1):
            raise ValueError(f"lr must be in (0, 1), got {self.lr!r}")
        if self.corruption == "downsample" and self.corruption_strength not in (2, 4):
            raise ValueError(f"the downsampling factor must be 2 or 4, got {self.corruption_strength!r}")

    @property
    def divisor(self) -> int:
        """Input sides must be multiples of this (every stride-2 stage and the downsampling corruption)."""
        factor = int(self.corruption_strength) if self.corruption == "downsample" else 1
        return math.lcm(self.first_stride * 2 ** self.num_levels, factor)

    def describe(self) -> str:
        """A one-line summary, e.g. for figure captions."""
        losses = "+".join(f"{w:g}*{n}" for w, n in zip(self.loss_weights, ("L1", "L2", "feat")) if w > 0)
        return (f"{self.corruption}({self.corruption_strength:g}) | {self.num_levels} levels, "
                f"skips {''.join('1' if s else '0' for s in self.skips)}{'+in' if self.input_skip else ''}, "
                f"dropout {''.join('1' if d else '0' for d in self.dropout)}, {self.upsampling}, "
                f"{self.normalization} norm, stride {self.first_stride}, width {self.width}-{self.max_width} | "
                f"{losses}, lr {self.lr:.1e}")


def sample_spec(rng: torch.Generator, max_width: int = 32, max_levels: int = 3) -> CNNDistorterSpec:
    """Draw a :class:`CNNDistorterSpec` at random (every choice uniform unless stated).

    ``max_width`` caps the channel counts (the CPU profiles use small networks); ``max_levels`` caps the
    number of stride-2 stages. The learning rate is log-uniform in [3e-4, 3e-3]; the loss weights are
    each 0 or 1, not all 0.
    """
    check_generator(rng)
    if isinstance(max_width, bool) or not isinstance(max_width, int) or max_width < _WIDTHS[0]:
        raise ValueError(f"max_width must be an integer >= {_WIDTHS[0]}, got {max_width!r}")
    if isinstance(max_levels, bool) or not isinstance(max_levels, int) or not 1 <= max_levels <= 4:
        raise ValueError(f"max_levels must be an integer from 1 to 4, got {max_levels!r}")
    u = torch.rand(32, generator=rng, dtype=torch.float64).tolist()  # a fixed number of draws

    def pick(options: Sequence, v: float):
        return options[min(int(v * len(options)), len(options) - 1)]

    corruption = pick(CORRUPTIONS, u[0])
    strength = {"pink_noise": 0.2 + 0.4 * u[1], "white_noise": 0.2 + 0.4 * u[1],
                "downsample": float(pick((2, 4), u[1]))}.get(corruption, 0.0)
    levels = pick(range(1, max_levels + 1), u[2])
    skips = tuple(v < 0.5 for v in u[3: 3 + levels])
    dropout = tuple(v < 0.3 for v in u[8: 8 + levels])
    widths = [w for w in _WIDTHS if w <= max_width]
    width = pick(widths, u[13])
    top = pick([w for w in (32, 64, 128, 256) if width <= w <= max_width] or [max_width], u[14])
    loss_bits = [u[15] < 0.5, u[16] < 0.5, u[17] < 0.5]
    if not any(loss_bits):
        loss_bits[pick(range(3), u[18])] = True
    lo, hi = _LR_RANGE
    return CNNDistorterSpec(
        corruption=corruption,
        corruption_strength=round(strength, 4),
        num_levels=levels,
        skips=skips,
        input_skip=u[19] < 0.5,
        dropout=dropout,
        upsampling=pick(UPSAMPLINGS, u[20]),
        normalization=pick(NORMALIZATIONS, u[21]),
        first_stride=pick((1, 2), u[22]),
        width=width,
        max_width=max(top, width),
        loss_weights=tuple(1.0 if b else 0.0 for b in loss_bits),
        lr=lo * (hi / lo) ** u[23],
        seed=int(u[24] * 2 ** 31),
    )


# ---------------------------------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------------------------------


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    return nn.Identity()


def _up(kind: str, cin: int, cout: int) -> nn.Module:
    """A 2x upsampling stage: a 4x4 stride-2 transposed convolution, or resizing then a 3x3 conv."""
    if kind == "transposed":
        return nn.ConvTranspose2d(cin, cout, kernel_size=4, stride=2, padding=1)
    return nn.Sequential(nn.Upsample(scale_factor=2, mode=kind), nn.Conv2d(cin, cout, 3, padding=1))


class DenoisingAutoencoder(nn.Module):
    """An encoder-decoder ("U-Net" when skips are on) drawn from a :class:`CNNDistorterSpec`.

    Encoder: ``enc0`` (3x3 conv, stride ``first_stride``) then ``num_levels`` 4x4 stride-2 convs, the
    channels doubling from ``width`` up to ``max_width``; LeakyReLU(0.2) and the chosen normalisation
    after each. Decoder: one 2x upsampling stage per level back to ``enc0``'s resolution, with the
    encoder features of a level concatenated where ``skips`` says, optional dropout, then (if
    ``first_stride`` is 2) one more upsampling, and a 3x3 conv to RGB with a sigmoid.
    """

    def __init__(self, spec: CNNDistorterSpec):
        super().__init__()
        self.spec = spec
        L = spec.num_levels
        ch = [min(spec.width * 2 ** level, spec.max_width) for level in range(L + 1)]
        act = nn.LeakyReLU(0.2)
        def down(cin: int, cout: int, kernel: int, stride: int) -> nn.Sequential:
            conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=1)
            return nn.Sequential(conv, _norm(spec.normalization, cout), act)

        self.enc = nn.ModuleList(
            [down(3, ch[0], 3, spec.first_stride)] + [down(ch[lv - 1], ch[lv], 4, 2) for lv in range(1, L + 1)]
        )

        def channels_at(level: int) -> int:  # decoder channels at a level, its skip included
            return ch[level] * (2 if level < L and spec.skips[level] else 1)

        # dec[lv] upsamples level lv+1 to level lv (run from lv = L-1 down to 0).
        self.dec = nn.ModuleList()
        for lv in range(L):
            layers: list[nn.Module] = [_up(spec.upsampling, channels_at(lv + 1), ch[lv]),
                                       _norm(spec.normalization, ch[lv]), act]
            if spec.dropout[lv]:
                layers.append(nn.Dropout(0.5))
            self.dec.append(nn.Sequential(*layers))
        top = channels_at(0)
        if spec.first_stride == 2:  # back to the input resolution
            self.final_up = nn.Sequential(_up(spec.upsampling, top, ch[0]), _norm(spec.normalization, ch[0]), act)
            top = ch[0]
        else:
            self.final_up = nn.Identity()
        self.out = nn.Conv2d(top + (3 if spec.input_skip else 0), 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = []
        h = x
        for block in self.enc:
            h = block(h)
            feats.append(h)
        h = feats[-1]
        for lv in reversed(range(self.spec.num_levels)):
            h = self.dec[lv](h)
            if self.spec.skips[lv]:
                h = torch.cat([h, feats[lv]], dim=1)
        h = self.final_up(h)
        if self.spec.input_skip:
            h = torch.cat([h, x], dim=1)
        return torch.sigmoid(self.out(h))


class RandomFeatureLoss(nn.Module):
    """A "perceptual-ish" loss: distances between unit-normalised features of a fixed random conv net.

    Two 3x3 stride-2 conv + ReLU stages (3 -> 16, 16 -> 32 channels), Kaiming-uniform
    weights drawn from ``seed`` and frozen. Per stage the features are normalised over channels and the
    squared differences averaged (the LPIPS recipe, thesis Eq. 6.1, with all channel weights equal to 1).
    """

    def __init__(self, seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(int(seed))
        self.stages = nn.ModuleList([
            nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU()),
            nn.Sequential(nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU()),
        ])
        for stage in self.stages:
            conv = stage[0]
            bound = math.sqrt(6.0 / (conv.in_channels * 9))
            with torch.no_grad():
                conv.weight.copy_((torch.rand(conv.weight.shape, generator=gen) * 2 - 1) * bound)
                conv.bias.zero_()
        self.requires_grad_(False)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        total = a.new_zeros(())
        fa, fb = 2 * a - 1, 2 * b - 1
        for stage in self.stages:
            fa, fb = stage(fa), stage(fb)
            na = fa / (fa.norm(dim=1, keepdim=True) + 1e-10)
            nb = fb / (fb.norm(dim=1, keepdim=True) + 1e-10)
            total = total + ((na - nb) ** 2).sum(dim=1).mean()
        return total


# ---------------------------------------------------------------------------------------------------
# Corruption, training, application
# ---------------------------------------------------------------------------------------------------


def corrupt(x: torch.Tensor, spec: CNNDistorterSpec, rng: torch.Generator) -> torch.Tensor:
    """The input corruption of ``spec``: what the network must undo (Table 6.2, "input corruption").

    null: autoencoding; pink / white noise: denoising (the registry's ``pink_noise`` / ``gaussian_noise``
    at severity ``corruption_strength``); colour removal: colorization from the grey image
    (:func:`reprolib.color.gray_rgb`); downsample: super-resolution (area downsampling by 2 or 4, then
    bilinear upsampling back).
    """
    check_images(x)
    if spec.corruption == "pink_noise":
        return DISTORTIONS["pink_noise"].apply(x, spec.corruption_strength, rng)
    if spec.corruption == "white_noise":
        return DISTORTIONS["gaussian_noise"].apply(x, spec.corruption_strength, rng)
    if spec.corruption == "color_removal":
        return gray_rgb(x).clamp(0, 1)
    if spec.corruption == "downsample":
        factor = int(spec.corruption_strength)
        if x.shape[-1] % factor or x.shape[-2] % factor:
            raise ValueError(f"downsampling by {factor} needs sides divisible by {factor}, got {tuple(x.shape[-2:])}")
        small = F.avg_pool2d(x, factor)
        return F.interpolate(small, size=x.shape[-2:], mode="bilinear", align_corners=False).clamp(0, 1)
    return x


@dataclass
class CNNDistorter:
    """A trained CNN distortion: ``distorter(x)`` returns ``G(c(x))`` for a batch in [0, 1].

    Attributes:
        name: e.g. ``"cnn07"``.
        spec: the random choices.
        net: the trained :class:`DenoisingAutoencoder` (in eval mode: dropout off, batch-norm running
            statistics), frozen.
        losses: the training loss at every step.
    """

    name: str
    spec: CNNDistorterSpec
    net: DenoisingAutoencoder
    losses: list[float] = field(default_factory=list)

    @property
    def family(self) -> str:
        return "cnn"

    def __call__(self, x: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        """Distort ``x`` (N, 3, H, W) in [0, 1]; H and W multiples of ``spec.divisor``.

        A noisy corruption draws from ``rng``; without one it draws from a generator seeded with the
        spec's seed, so the call is deterministic either way. Returns ``x``'s shape, dtype and device.
        """
        check_images(x)
        if x.shape[-1] % self.spec.divisor or x.shape[-2] % self.spec.divisor:
            raise ValueError(f"{self.name} needs H and W divisible by {self.spec.divisor}, got {tuple(x.shape[-2:])}")
        gen = torch.Generator().manual_seed(self.spec.seed + 2) if rng is None else check_generator(rng)
        device = next(self.net.parameters()).device
        with torch.no_grad():
            out = self.net(corrupt(x.detach().float(), self.spec, gen).to(device))
        return out.clamp_(0, 1).to(device=x.device, dtype=x.dtype)

    def __repr__(self) -> str:
        return f"CNNDistorter({self.name!r}: {self.spec.describe()})"


def train_distorter(spec: CNNDistorterSpec, patches: torch.Tensor, steps: int, batch_size: int = 16,
                    name: str = "cnn", device: str | torch.device | None = None) -> CNNDistorter:
    """Train ``G`` of ``spec`` for ``steps`` Adam steps to map ``corrupt(x)`` back to ``x``.

    Batches are drawn from ``patches`` (M, 3, S, S) in [0, 1]. Everything random (initialisation,
    dropout, batches, corruption noise) follows ``spec.seed``: the global torch generator is seeded
    inside a ``torch.random.fork_rng`` block, so the caller's random state is left untouched.
    """
    if not isinstance(spec, CNNDistorterSpec):
        raise TypeError(f"spec must be a CNNDistorterSpec, got {type(spec).__name__}")
    check_images(patches, "patches")
    if patches.shape[-1] % spec.divisor or patches.shape[-2] % spec.divisor:
        raise ValueError(f"patch sides must be multiples of {spec.divisor} for this spec, "
                         f"got {tuple(patches.shape[-2:])}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    device = torch.device(device) if device is not None else torch.device("cpu")
    w_l1, w_l2, w_feat = spec.loss_weights
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(spec.seed)
        net = DenoisingAutoencoder(spec).to(device)
        feature_loss = RandomFeatureLoss(spec.seed + 1).to(device) if w_feat > 0 else None
        gen = torch.Generator().manual_seed(spec.seed + 2)
        opt = torch.optim.Adam(net.parameters(), lr=spec.lr, betas=(0.5, 0.999))
        net.train()
        losses = []
        for _ in range(steps):
            idx = torch.randint(patches.shape[0], (min(batch_size, patches.shape[0]),), generator=gen)
            target = patches[idx].float()
            pred = net(corrupt(target, spec, gen).to(device))
            target = target.to(device)
            loss = pred.new_zeros(())
            if w_l1:
                loss = loss + w_l1 * (pred - target).abs().mean()
            if w_l2:
                loss = loss + w_l2 * ((pred - target) ** 2).mean()
            if feature_loss is not None:
                loss = loss + w_feat * feature_loss(pred, target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
    net.eval().requires_grad_(False)
    return CNNDistorter(name=name, spec=spec, net=net, losses=losses)


def make_cnn_distorters(k: int, seed: int = 0, steps: int = 200, size: int = 64,
                        patches: torch.Tensor | None = None, n_patches: int = 256, batch_size: int = 16,
                        max_width: int = 32, device: str | torch.device | None = None) -> list[CNNDistorter]:
    """Draw and train ``k`` CNN distortions (the thesis trains 96; sec. 6.2.1).

    Args:
        k: number of distorters.
        seed: draws the specs (via :func:`sample_spec`) and, by default, the training patches.
        steps: Adam steps per network (a few hundred at most: undertrained outputs are the point).
        size: patch side, a multiple of 16 (multiples of 32 allow up to 3 stride-2 stages, others 2).
        patches: training patches (M, 3, size, size) in [0, 1]; default ``n_patches`` crops of the
            train photos (:func:`reprolib.data.patches.photo_patches`).
        max_width: cap on channel counts.
        device: where to train (default CPU).

    Returns:
        ``k`` :class:`CNNDistorter`, named ``cnn00``, ``cnn01``, ...; the same arguments give the same
        networks.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"k must be a non-negative integer, got {k!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2 ** 63:
        raise ValueError(f"seed must be an integer in [0, 2**63), got {seed!r}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 16 or size % 16:
        raise ValueError(f"size must be a multiple of 16 and at least 16, got {size!r}")
    if patches is None:
        patches = photo_patches(n_patches, size=int(size), split="train", seed=int(seed))
    check_images(patches, "patches")
    if tuple(patches.shape[-2:]) != (size, size):
        raise ValueError(f"patches must be {size} x {size}, got {tuple(patches.shape[-2:])}")
    rng = torch.Generator().manual_seed(int(seed))
    max_levels = 3 if size % 32 == 0 else 2  # so that first_stride * 2**levels divides size
    out = []
    for i in range(int(k)):
        spec = sample_spec(rng, max_width=max_width, max_levels=max_levels)
        out.append(train_distorter(spec, patches, steps, batch_size=batch_size, name=f"cnn{i:02d}", device=device))
    return out
