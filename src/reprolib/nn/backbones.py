"""ImageNet classification trunks as feature extractors: AlexNet, VGG16 and SqueezeNet 1.1.

LPIPS (thesis ch. 6, sec. 6.3 "Network architectures") compares images in the feature stacks of these
three networks, and later chapters reuse them for perceptual losses and feature similarity. Each class
here holds *only* the convolutional part of the network, as an ``nn.Sequential`` called ``features``
whose indices are torchvision's, so that the state-dict keys are exactly torchvision's
(``features.0.weight``, ``features.3.squeeze.weight``, ...). A torchvision ImageNet state dict (its
``features.*`` entries) therefore loads with ``strict=True``, without torchvision being installed; see
``reprolib.nn.pretrained`` for where the weights come from.

``forward(x)`` runs the stack and returns the activations at the *taps*, the layers LPIPS reads
(reference-facts sec. 5.1): the outputs of the slices

=========  ===================================================  ==============================
trunk      slices of ``features``                               channels
=========  ===================================================  ==============================
alex       [0:2] [2:5] [5:8] [8:10] [10:12]  (relu1..relu5)     64, 192, 384, 256, 256
vgg        [0:4] [4:9] [9:16] [16:23] [23:30]  (relu1_2..5_3)   64, 128, 256, 512, 512
squeeze    [0:2] [2:5] [5:8] [8:10] [10] [11] [12]              64, 128, 256, 384, 384, 512, 512
=========  ===================================================  ==============================

Other taps of the same weights: :meth:`FeatureTaps.retap` reads the same ``features`` modules at other
slice ends, without a second copy of the trunk. The exemplar-based colorization of He et al. (SIGGRAPH 2018,
sec. 3.1) reads VGG at relu1_1, relu2_1, relu3_1, relu4_1 and relu5_1, the first ReLU of each block
(:func:`vgg16_relu_x_1`): slice ends 2, 7, 12, 19, 26, channels 64, 128, 256, 512, 512, strides 1, 2, 4,
8, 16.

Layers after the last tap (AlexNet's and VGG's final max-pool) are kept so that the indices match
torchvision, but are not run. Inputs are ImageNet-normalised RGB, (x - mean) / std with x in [0, 1]
(:func:`imagenet_normalize`); LPIPS reaches the same normalisation from [-1, 1] with its scaling layer.

The ReLUs are not in-place: a tap is the output of a ReLU, and an in-place op later in the stack must not
overwrite a tensor already handed out. (With torchvision's ``inplace=True`` ReLUs this happens to be safe
for these slices, because every slice starts with a conv or a pool, but that is a property of the slice
boundaries, not a guarantee; the memory saved is small.)
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "imagenet_normalize",
    "FeatureTaps",
    "AlexNetFeatures",
    "VGG16Features",
    "Fire",
    "SqueezeNet11Features",
    "BACKBONES",
    "TAP_CHANNELS",
    "VGG16_RELU_X_1",
    "build_backbone",
    "vgg16_relu_x_1",
]

# torchvision's ImageNet preprocessing, for RGB in [0, 1].
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Channels of the LPIPS taps of each trunk (reference-facts sec. 5.1); the classes below use these.
TAP_CHANNELS: dict[str, tuple[int, ...]] = {
    "alex": (64, 192, 384, 256, 256),
    "vgg": (64, 128, 256, 512, 512),
    "squeeze": (64, 128, 256, 384, 384, 512, 512),
}


def imagenet_normalize(x: torch.Tensor) -> torch.Tensor:
    """``(x - mean) / std`` per channel for RGB ``x`` in [0, 1] of shape (N, 3, H, W)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"x must have shape (N, 3, H, W), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor with values in [0, 1], got dtype {x.dtype}")
    mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


class FeatureTaps(nn.Module):
    """A torchvision-compatible ``features`` stack that returns the activations at given slice ends.

    Subclasses build ``self.features`` and call ``super().__init__(features, tap_ends, channels)``.

    Attributes:
        features: the ``nn.Sequential`` with torchvision's indices.
        tap_ends: the exclusive end index of each slice; tap ``k`` is the output of
            ``features[tap_ends[k] - 1]``.
        channels: the number of channels of each tap.
        min_size: the smallest input height/width for which every tap is at least 1 x 1.
    """

    name: str = ""

    def __init__(self, features: nn.Sequential, tap_ends: tuple[int, ...], channels: tuple[int, ...]):
        super().__init__()
        if len(tap_ends) != len(channels):
            raise ValueError(f"{len(tap_ends)} taps but {len(channels)} channel counts")
        if list(tap_ends) != sorted(set(tap_ends)) or tap_ends[0] < 1 or tap_ends[-1] > len(features):
            raise ValueError(f"tap_ends must increase within 1..{len(features)}, got {tap_ends}")
        self.features = features
        self.tap_ends = tuple(tap_ends)
        self.channels = tuple(channels)
        self.min_size = self._smallest_input()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"{type(self).__name__} expects (N, 3, H, W) input, got {tuple(x.shape)}")
        if min(x.shape[2:]) < self.min_size:
            raise ValueError(
                f"{type(self).__name__} needs inputs of at least {self.min_size} x {self.min_size} pixels "
                f"(every tap at least 1 x 1), got {tuple(x.shape[2:])}"
            )
        taps = []
        ends = iter(self.tap_ends)
        end = next(ends)
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i + 1 == end:
                taps.append(x)
                end = next(ends, None)
                if end is None:  # nothing after the last tap is needed
                    break
        return taps

    def retap(self, tap_ends: tuple[int, ...], channels: tuple[int, ...]) -> FeatureTaps:
        """The same trunk read at other slice ends: the returned module *shares* ``self.features``.

        No parameter is copied: loading weights into either, or freezing either, affects both.
        """
        return FeatureTaps(self.features, tap_ends, channels)

    def _smallest_input(self) -> int:
        # Follow one spatial side through the stack with the conv/pool size formulas: the smallest input
        # for which no layer up to the last tap runs out of pixels.
        def side_after_stack(n: int) -> int:
            for layer in self.features[: self.tap_ends[-1]]:
                n = _side_after(layer, n)
                if n < 1:
                    return 0
            return n

        size = 1
        while side_after_stack(size) < 1:
            size += 1
        return size


def _side_after(layer: nn.Module, n: int) -> int:
    """Output side length of ``layer`` for an input side ``n`` (< 1: the layer cannot run)."""
    if isinstance(layer, (nn.ReLU, Fire)):  # Fire: 1x1 squeeze, then 1x1 and padded 3x3 expands
        return n
    if isinstance(layer, (nn.Conv2d, nn.MaxPool2d)):
        k, s, p, d = (
            v[0] if isinstance(v, tuple) else v
            for v in (layer.kernel_size, layer.stride, layer.padding, layer.dilation)
        )
        span = n + 2 * p - d * (k - 1) - 1  # negative: the kernel is larger than the (padded) input
        if getattr(layer, "ceil_mode", False):
            # As PyTorch: round up (a last, partial window is allowed), but that window must start
            # inside the input or its left padding.
            out = -(-span // s) + 1
            if (out - 1) * s >= n + p:
                out -= 1
            return out
        return span // s + 1
    raise TypeError(f"no size rule for {type(layer).__name__}")


def _init_like_torchvision(module: nn.Module, scheme: str) -> None:
    """Random initialisation following torchvision's model definitions (used when not pretrained)."""
    for m in module.modules():
        if not isinstance(m, nn.Conv2d):
            continue
        if scheme == "default":  # AlexNet: PyTorch's default Conv2d initialisation
            m.reset_parameters()
        elif scheme == "vgg":
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(m.bias)
        elif scheme == "squeezenet":
            nn.init.kaiming_uniform_(m.weight)
            nn.init.zeros_(m.bias)
        else:
            raise ValueError(f"unknown init scheme {scheme!r}")


class AlexNetFeatures(FeatureTaps):
    """AlexNet's conv layers, torchvision's "one weird trick" variant (64 channels in conv1).

    Not the 96-channel AlexNet of Krizhevsky et al. (2012): LPIPS uses torchvision's network
    (``alexnet-owt-7be5be79.pth``), reference-facts sec. 5.1. Taps relu1..relu5, channels
    (64, 192, 384, 256, 256); 2.47 M parameters.
    """

    name = "alex"

    def __init__(self):
        features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),  # 0
            nn.ReLU(),  # 1  -> relu1
            nn.MaxPool2d(kernel_size=3, stride=2),  # 2
            nn.Conv2d(64, 192, kernel_size=5, padding=2),  # 3
            nn.ReLU(),  # 4  -> relu2
            nn.MaxPool2d(kernel_size=3, stride=2),  # 5
            nn.Conv2d(192, 384, kernel_size=3, padding=1),  # 6
            nn.ReLU(),  # 7  -> relu3
            nn.Conv2d(384, 256, kernel_size=3, padding=1),  # 8
            nn.ReLU(),  # 9  -> relu4
            nn.Conv2d(256, 256, kernel_size=3, padding=1),  # 10
            nn.ReLU(),  # 11 -> relu5
            nn.MaxPool2d(kernel_size=3, stride=2),  # 12 (not used by the taps)
        )
        super().__init__(features, tap_ends=(2, 5, 8, 10, 12), channels=TAP_CHANNELS["alex"])
        _init_like_torchvision(self, "default")


# VGG16 ("configuration D" of Simonyan & Zisserman): 3x3 convs, "M" = 2x2 max-pool.
VGG16_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


class VGG16Features(FeatureTaps):
    """VGG16's conv layers (no batch norm), torchvision's layout: 13 convs, 31 modules.

    Taps relu1_2, relu2_2, relu3_3, relu4_3, relu5_3, channels (64, 128, 256, 512, 512); 14.7 M parameters.
    """

    name = "vgg"

    def __init__(self):
        layers: list[nn.Module] = []
        cin = 3
        for v in VGG16_CONFIG:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(cin, v, kernel_size=3, padding=1), nn.ReLU()]
                cin = v
        super().__init__(nn.Sequential(*layers), tap_ends=(4, 9, 16, 23, 30), channels=TAP_CHANNELS["vgg"])
        _init_like_torchvision(self, "vgg")


# VGG16's relu{i}_1, i = 1..5: the first ReLU of each block (indices 1, 6, 11, 18, 25 of ``features``).
VGG16_RELU_X_1 = {"tap_ends": (2, 7, 12, 19, 26), "channels": (64, 128, 256, 512, 512)}


def vgg16_relu_x_1(trunk: VGG16Features) -> FeatureTaps:
    """``trunk`` read at relu1_1 ... relu5_1 (He et al. 2018, sec. 3.1), sharing its modules and weights."""
    if not isinstance(trunk, VGG16Features):
        raise TypeError(f"trunk must be a VGG16Features (the 'vgg' backbone), got {type(trunk).__name__}")
    return trunk.retap(**VGG16_RELU_X_1)


class Fire(nn.Module):
    """SqueezeNet's Fire module: a 1x1 "squeeze" conv, then 1x1 and 3x3 "expand" convs, concatenated.

    Attribute names are torchvision's, so the keys are ``squeeze.*``, ``expand1x1.*``, ``expand3x3.*``.
    Output channels: ``expand1x1_planes + expand3x3_planes``.
    """

    def __init__(self, inplanes: int, squeeze_planes: int, expand1x1_planes: int, expand3x3_planes: int):
        super().__init__()
        self.inplanes = inplanes
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
        self.squeeze_activation = nn.ReLU()
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)
        self.expand1x1_activation = nn.ReLU()
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.squeeze_activation(self.squeeze(x))
        e1 = self.expand1x1_activation(self.expand1x1(s))
        e3 = self.expand3x3_activation(self.expand3x3(s))
        return torch.cat([e1, e3], 1)


class SqueezeNet11Features(FeatureTaps):
    """SqueezeNet 1.1's conv layers (Iandola et al. 2016; torchvision ``squeezenet1_1().features``).

    Seven taps (conv1 and six Fire outputs), channels (64, 128, 256, 384, 384, 512, 512); 0.72 M parameters.
    No ImageNet weights for it ship offline (see ``reprolib.nn.pretrained``).
    """

    name = "squeeze"

    def __init__(self):
        features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=3, stride=2),  # 0
            nn.ReLU(),  # 1  -> tap 1
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),  # 2
            Fire(64, 16, 64, 64),  # 3
            Fire(128, 16, 64, 64),  # 4  -> tap 2
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),  # 5
            Fire(128, 32, 128, 128),  # 6
            Fire(256, 32, 128, 128),  # 7  -> tap 3
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),  # 8
            Fire(256, 48, 192, 192),  # 9  -> tap 4
            Fire(384, 48, 192, 192),  # 10 -> tap 5
            Fire(384, 64, 256, 256),  # 11 -> tap 6
            Fire(512, 64, 256, 256),  # 12 -> tap 7
        )
        super().__init__(features, tap_ends=(2, 5, 8, 10, 11, 12, 13), channels=TAP_CHANNELS["squeeze"])
        _init_like_torchvision(self, "squeezenet")


BACKBONES: dict[str, type[FeatureTaps]] = {
    "alex": AlexNetFeatures,
    "vgg": VGG16Features,
    "squeeze": SqueezeNet11Features,
}


def build_backbone(name: str, seed: int | None = None) -> FeatureTaps:
    """A randomly initialised trunk by LPIPS name (``"alex"``, ``"vgg"``, ``"squeeze"``).

    With ``seed`` the initialisation is reproducible and leaves the global random state untouched.
    Load ImageNet weights with ``reprolib.nn.pretrained.load_trunk``.
    """
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; expected one of {', '.join(BACKBONES)}")
    if seed is None:
        return BACKBONES[name]()
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return BACKBONES[name]()
