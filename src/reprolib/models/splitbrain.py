"""The split-brain autoencoder of Zhang, Isola & Efros, CVPR 2017 (thesis chapter 5), sized for ColorWorld.

Read this file next to sec. 5.3 and Table 5.2 of the thesis. A *cross-channel encoder* F predicts one subset
of an image's channels from the other, X2_hat = F(X1) (Eq. 5.1, 5.2); the layers it learns on the way are
the representation. The split-brain autoencoder trains two of them on complementary problems, F1: L -> ab
(colorization) and F2: ab -> L (grey prediction), each half as wide as one full network, and represents a
whole Lab image at layer l by the concatenation [F1^l(L), F2^l(ab)] (Eq. 5.3). Neither half ever sees the
channels it predicts, so neither can copy them, and together they see every channel of the image.

:class:`AlexNetTrunk` is AlexNet's layer pattern run fully convolutionally (Table 5.2), scaled from the
paper's 180-pixel crops to ColorWorld's 64-pixel scenes: conv1 5 x 5 stride 2 (the paper: 11 x 11 stride 4),
a 3 x 3 stride-2 max-pool, conv2 5 x 5, another pool, conv3 to conv5 3 x 3, then fc6 (3 x 3) and fc7 (1 x 1)
as convolutions and a 1 x 1 prediction layer, all at 1/8 of the input (the paper: 12 x 12 from 180). Batch
normalisation follows every convolution, as in the paper's pre-training. Widths are AlexNet's 96, 256, 384,
384, 256 and 4096 times ``width``. The split network's halves have ``width / 2`` each, so its concatenated
features have the full network's size at every layer and it has about half the parameters (thesis sec. 5.3.2).

Inputs are the book's normalised Lab, (N, 3, H, W): (L - 50)/100, a/110, b/110. Outputs per target and
loss (sec. 5.5.1): ab as 313 classes (the ECCV16 bins, nearest bin, no rebalancing) or 2 values; L as 50
classes of width 2 or 1 value; Lab as 3 values (the autoencoder).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from reprolib.color import l_ab_to_rgb, unnormalize_ab, unnormalize_l
from reprolib.quantize import NUM_AB_BINS, NUM_L_BINS, encode_l, encode_nearest
from reprolib.validation import checked_by

__all__ = ["ALEXNET_WIDTHS", "LAYERS", "CHANNELS", "AlexNetTrunk", "CrossChannel", "SplitBrain", "LabelNet",
           "Variant", "VARIANTS", "ImageNetAlexNet", "build", "lab_to_rgb_normalised",
           "LayerSpec", "alexnet_from_specs", "map_sides", "cross_channel_loss", "pretrain_loss", "LAMBDA_EQ55"]

ALEXNET_WIDTHS = (96, 256, 384, 384, 256, 4096)  # conv1 .. conv5, fc6/fc7 (Table 5.2)
LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5")  # the probed layers (Tables 5.4, 5.5)
CHANNELS = {"L": (0,), "ab": (1, 2), "Lab": (0, 1, 2)}  # which normalised-Lab channels a name means
STRIDE = 8  # the prediction's resolution is 1/8 of the input's


def widths(width: float) -> tuple[int, ...]:
    """The channel counts of conv1 .. conv5 and fc6/fc7 at a width multiplier (at least 4 each)."""
    if not isinstance(width, (int, float)) or isinstance(width, bool) or not 0 < width <= 1:
        raise ValueError(f"width must be a number in (0, 1], got {width!r}")
    return tuple(max(4, round(c * width)) for c in ALEXNET_WIDTHS)


def _conv_bn(cin: int, cout: int, k: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2), nn.BatchNorm2d(cout), nn.ReLU()]


def _out_channels(target: str, loss: str) -> int:
    if loss == "cl":
        return {"ab": NUM_AB_BINS, "L": NUM_L_BINS}[target]
    return len(CHANNELS[target])


def _check_trunk(self, in_channels, out_channels, width):
    for name, v in (("in_channels", in_channels), ("out_channels", out_channels)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"AlexNetTrunk: {name} must be a positive integer, got {v!r}")
    widths(width)


class AlexNetTrunk(nn.Module):
    """conv1 .. conv5, fc6, fc7 and a 1 x 1 prediction layer; ``features(x)`` gives the post-ReLU maps of
    conv1 .. conv5 by name, ``forward(x)`` the prediction at 1/8 of the input's size."""

    @checked_by(_check_trunk)
    def __init__(self, in_channels: int, out_channels: int, width: float = 1.0):
        super().__init__()
        c1, c2, c3, c4, c5, fc = widths(width)
        self.conv1 = nn.Sequential(*_conv_bn(in_channels, c1, 5, stride=2))
        self.conv2 = nn.Sequential(nn.MaxPool2d(3, 2, padding=1), *_conv_bn(c1, c2, 5))
        self.conv3 = nn.Sequential(nn.MaxPool2d(3, 2, padding=1), *_conv_bn(c2, c3, 3))
        self.conv4 = nn.Sequential(*_conv_bn(c3, c4, 3))
        self.conv5 = nn.Sequential(*_conv_bn(c4, c5, 3))
        self.fc = nn.Sequential(*_conv_bn(c5, fc, 3), *_conv_bn(fc, fc, 1))  # fc6, fc7 as convolutions
        self.predict = nn.Conv2d(fc, out_channels, 1)

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        maps = {}
        for name in LAYERS:
            x = getattr(self, name)(x)
            maps[name] = x
        return maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.predict(self.fc(self.features(x)["conv5"]))


def _check_cross(self, source, target, loss, width):
    if source not in CHANNELS or target not in CHANNELS:
        raise ValueError(f"source and target must be among {list(CHANNELS)}, got {source!r} -> {target!r}")
    if loss not in ("cl", "reg"):
        raise ValueError(f"loss must be 'cl' (classification) or 'reg' (regression), got {loss!r}")
    if loss == "cl" and target == "Lab":
        raise ValueError("the Lab -> Lab autoencoder regresses (loss='reg'); classes exist for 'ab' and 'L' only")


def _check_lab(self, lab):
    if not isinstance(lab, torch.Tensor) or lab.dim() != 4 or lab.shape[1] != 3 or lab.shape[2] % STRIDE \
            or lab.shape[3] % STRIDE:
        raise ValueError(f"a cross-channel encoder takes normalised Lab (N, 3, H, W) with H and W multiples of "
                         f"{STRIDE}, got {tuple(lab.shape) if isinstance(lab, torch.Tensor) else type(lab).__name__}")


class CrossChannel(nn.Module):
    """F: the ``source`` channels of a Lab image -> a prediction of the ``target`` channels (Eq. 5.1, 5.2)."""

    @checked_by(_check_cross)
    def __init__(self, source: str, target: str, loss: str, width: float = 1.0):
        super().__init__()
        self.source, self.target, self.loss = source, target, loss
        self.trunk = AlexNetTrunk(len(CHANNELS[source]), _out_channels(target, loss), width)

    def inputs(self, lab: torch.Tensor) -> torch.Tensor:
        return lab[:, list(CHANNELS[self.source])]

    @checked_by(_check_lab)
    def features(self, lab: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.trunk.features(self.inputs(lab))

    @checked_by(_check_lab)
    def forward(self, lab: torch.Tensor) -> torch.Tensor:
        return self.trunk(self.inputs(lab))


class SplitBrain(nn.Module):
    """Two cross-channel encoders side by side; ``features`` concatenates theirs layer by layer (Eq. 5.3).

    ``SplitBrain(CrossChannel("L", "ab", "cl", w / 2), CrossChannel("ab", "L", "cl", w / 2))`` is the full
    method (cl, cl); two ``L -> ab`` halves give the ensembling control of Fig. 5.4(c).
    """

    def __init__(self, first: CrossChannel, second: CrossChannel):
        super().__init__()
        if not (isinstance(first, CrossChannel) and isinstance(second, CrossChannel)):
            raise TypeError("SplitBrain joins two CrossChannel networks")
        self.halves = nn.ModuleList([first, second])

    def features(self, lab: torch.Tensor) -> dict[str, torch.Tensor]:
        one, two = (half.features(lab) for half in self.halves)
        return {name: torch.cat([one[name], two[name]], 1) for name in LAYERS}


def _on_grid(x: torch.Tensor) -> torch.Tensor:
    """The pixel at the centre of every STRIDE x STRIDE cell: a target on the prediction's grid (subsampled,
    not averaged, so that no region boundary blends two colours into one that no region has)."""
    return x[..., STRIDE // 2::STRIDE, STRIDE // 2::STRIDE]


def _half_sq(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Half the squared error, summed over the channels and averaged over the batch and the positions."""
    return 0.5 * (prediction - target).pow(2).sum(1).mean()


def cross_channel_loss(net: CrossChannel, lab: torch.Tensor) -> torch.Tensor:
    """The loss of one cross-channel encoder on a batch of normalised Lab images: the cross-entropy of its
    classes against the target's class at every output position (Eq. 5.2; ab: the nearest of the 313 bins,
    L: 50 bins of width 2), or half the squared error of its values, summed over the target's channels and
    averaged over the positions (Eq. 5.1, in normalised units). Targets are subsampled to the output's grid."""
    out = net(lab)
    target = _on_grid(lab[:, list(CHANNELS[net.target])])
    if net.loss == "reg":
        return _half_sq(out, target)
    if net.target == "ab":
        classes = encode_nearest(unnormalize_ab(target))
    else:
        classes = encode_l(unnormalize_l(target[:, 0]).clamp(0, 100))
    return F.cross_entropy(out, classes)


# ---------------------------------------------------------------------------------------------
# Every method of sec. 5.5.1 as data, and its pre-training loss

LAMBDA_EQ55 = 1 / 3  # sec. 5.5.1: (L,ab,Lab)->(ab,L,Lab) uses Eq. 5.5 with lambda = 1/3


@dataclass(frozen=True)
class Variant:
    """One representation of Table 5.4.

    ``halves``: the (source, target, loss) of each network; one is a single full-width network, two a split
    network of two half-width ones. ``drop``: the share of input values dropped during pre-training (the
    denoising autoencoder). ``joint``: one full-width network trained on both directions with the other
    channels zeroed (``"eq54"``), plus the autoencoder term (``"eq55"``). ``supervised``: trained on the
    object labels (the upper reference). ``trained=False``: not trained here, either the random initialisation
    ("Gaussian") or, with ``pretrained="alex"``, the ImageNet AlexNet (:class:`ImageNetAlexNet`).
    """

    label: str
    halves: tuple[tuple[str, str, str], ...] = (("Lab", "Lab", "reg"),)
    drop: float = 0.0
    joint: str = ""
    supervised: bool = False
    trained: bool = True
    pretrained: str = ""


VARIANTS: dict[str, Variant] = {
    "lab_lab": Variant("Lab→Lab"),
    "lab_drop50_lab": Variant("Lab(drop50)→Lab", drop=0.5),
    "l_ab_cl": Variant("L→ab (cl)", (("L", "ab", "cl"),)),
    "l_ab_reg": Variant("L→ab (reg)", (("L", "ab", "reg"),)),
    "ab_l_cl": Variant("ab→L (cl)", (("ab", "L", "cl"),)),
    "ab_l_reg": Variant("ab→L (reg)", (("ab", "L", "reg"),)),
    "lab_ab_l": Variant("(L,ab)→(ab,L)", joint="eq54"),
    "lab_ab_l_lab": Variant("(L,ab,Lab)→(ab,L,Lab)", joint="eq55"),
    "ensembled_l_ab": Variant("Ensembled L→ab", (("L", "ab", "cl"), ("L", "ab", "reg"))),
    "split_brain_reg": Variant("Split-Brain (reg,reg)", (("L", "ab", "reg"), ("ab", "L", "reg"))),
    "split_brain_cl": Variant("Split-Brain (cl,cl)", (("L", "ab", "cl"), ("ab", "L", "cl"))),
    "gaussian": Variant("Gaussian (random init.)", trained=False),
    "supervised": Variant("supervised (object labels)", supervised=True),
    "imagenet": Variant("ImageNet AlexNet (frozen)", trained=False, pretrained="alex"),
}


class LabelNet(nn.Module):
    """The supervised reference: the same trunk on the whole Lab image, its prediction layer giving class
    scores at every position, averaged over the positions."""

    def __init__(self, num_classes: int, width: float = 1.0):
        super().__init__()
        self.trunk = AlexNetTrunk(3, num_classes, width)

    @checked_by(_check_lab)
    def features(self, lab: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.trunk.features(lab)

    @checked_by(_check_lab)
    def forward(self, lab: torch.Tensor) -> torch.Tensor:
        return self.trunk(lab).mean(dim=(2, 3))


def lab_to_rgb_normalised(lab: torch.Tensor) -> torch.Tensor:
    """The book's normalised Lab (N, 3, H, W) -> RGB in [0, 1]."""
    return l_ab_to_rgb(unnormalize_l(lab[:, :1]).clamp(0, 100), unnormalize_ab(lab[:, 1:]))


class ImageNetAlexNet(nn.Module):
    """The ImageNet reference: torchvision's AlexNet trained on ImageNet's 1000 labels (the network behind
    Table 5.4's "ImageNet-labels" row, in torchvision's variant: 64, 192, 384, 256, 256 channels), frozen.
    ``features(lab)`` turns the book's normalised Lab back into RGB, enlarges the scenes ``scale`` times
    (bilinear; AlexNet's conv1 has stride 4 and ImageNet's objects are larger than ColorWorld's), normalises
    with ImageNet's statistics and returns relu1 .. relu5 as conv1 .. conv5. ``backbone``: a
    :class:`reprolib.nn.backbones.FeatureTaps` AlexNet with its weights (default: the offline ImageNet weights
    of ``reprolib.nn.pretrained``)."""

    def __init__(self, backbone: nn.Module | None = None, scale: int = 2):
        super().__init__()
        if backbone is None:
            from reprolib.nn.pretrained import pretrained_backbone

            backbone = pretrained_backbone("alex")
        self.backbone, self.scale = backbone, scale

    @checked_by(_check_lab)
    def features(self, lab: torch.Tensor) -> dict[str, torch.Tensor]:
        from reprolib.nn.backbones import imagenet_normalize

        rgb = F.interpolate(lab_to_rgb_normalised(lab), scale_factor=self.scale, mode="bilinear", align_corners=False)
        return dict(zip(LAYERS, self.backbone(imagenet_normalize(rgb))))


def build(name: str, width: float, num_classes: int = 8) -> nn.Module:
    """The network of ``VARIANTS[name]`` at a full-network width multiplier (a split one: two halves of width / 2;
    the ImageNet reference has its own size)."""
    if name not in VARIANTS:
        raise KeyError(f"unknown split-brain variant {name!r}; known: {', '.join(VARIANTS)}")
    v = VARIANTS[name]
    if v.pretrained:
        return ImageNetAlexNet()
    if v.supervised:
        return LabelNet(num_classes, width)
    if len(v.halves) == 2:
        return SplitBrain(*(CrossChannel(*h, width=width / 2) for h in v.halves))
    return CrossChannel(*v.halves[0], width=width)


def _zeroed(lab: torch.Tensor, keep: str) -> torch.Tensor:
    """Lab with every channel outside ``keep`` set to 0 in normalised units (L = 50, ab = 0)."""
    out = torch.zeros_like(lab)
    out[:, list(CHANNELS[keep])] = lab[:, list(CHANNELS[keep])]
    return out


def _check_pretrain(name, net, lab, labels):
    if name not in VARIANTS:
        raise KeyError(f"unknown split-brain variant {name!r}; known: {', '.join(VARIANTS)}")
    if not VARIANTS[name].trained:
        raise ValueError(f"{VARIANTS[name].label} is not trained here: it is a reference, nothing to pre-train")
    if VARIANTS[name].supervised and labels is None:
        raise ValueError("the supervised reference needs the object labels")


@checked_by(_check_pretrain)
def pretrain_loss(name: str, net: nn.Module, lab: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """The pre-training loss of ``VARIANTS[name]`` on a batch of normalised Lab images (and, for the supervised
    reference, their object labels). A split network sums its halves' losses: each half's gradients reach
    only its own weights, so this trains the two independently (Eq. 5.3)."""
    v = VARIANTS[name]
    if v.supervised:
        return F.cross_entropy(net(lab), labels)
    if len(v.halves) == 2:  # a split network: each half on its own problem
        return sum(cross_channel_loss(half, lab) for half in net.halves)
    if v.joint:
        target = _on_grid(lab)
        colour = _half_sq(net(_zeroed(lab, "L"))[:, 1:], target[:, 1:])  # L1(F(X1), X2): ab from L alone
        grey = _half_sq(net(_zeroed(lab, "ab"))[:, :1], target[:, :1])  # L2(F(X2), X1): L from ab alone
        if v.joint == "eq54":
            return colour + grey
        return LAMBDA_EQ55 * (colour + grey) + (1 - 2 * LAMBDA_EQ55) * _half_sq(net(lab), target)
    if v.drop:
        return _half_sq(net(F.dropout(lab, v.drop, training=True)), _on_grid(lab))
    return cross_channel_loss(net, lab)


# ---------------------------------------------------------------------------------------------
# The paper's full-size AlexNets, from their layer tables (for the chapter's facts; never trained here)


@dataclass(frozen=True)
class LayerSpec:
    """One row of an AlexNet layer table: a convolution (followed by a ReLU) or a max-pool; ``channels`` of a
    convolution (None: the pre-text task's, given when building), kernel K, stride S, dilation D, padding P,
    and the convolution's groups (the released deploy network's grouping)."""

    name: str
    kind: str
    channels: int | None
    kernel: int
    stride: int = 1
    dilation: int = 1
    padding: int = 0
    groups: int = 1


def _check_specs(specs, in_channels, out_channels):
    for spec in specs:
        if not isinstance(spec, LayerSpec) or spec.kind not in ("conv", "pool"):
            raise ValueError(f"every layer must be a LayerSpec of kind 'conv' or 'pool', got {spec!r}")
        if spec.kind == "conv" and spec.channels is None and out_channels is None:
            raise ValueError(f"layer {spec.name} takes the pre-text task's channels: pass out_channels")


@checked_by(_check_specs)
def alexnet_from_specs(specs, in_channels: int, out_channels: int | None = None) -> nn.Sequential:
    """The network of a layer table, as one ``nn.Sequential`` whose modules carry the table's layer names
    (a convolution's ReLU: ``<name>_relu``). Pools round up, as Caffe's do (``ceil_mode``)."""
    layers: dict[str, nn.Module] = {}
    c = in_channels
    for spec in specs:
        if spec.kind == "pool":
            layers[spec.name] = nn.MaxPool2d(spec.kernel, spec.stride, spec.padding, ceil_mode=True)
            continue
        cout = spec.channels if spec.channels is not None else out_channels
        layers[spec.name] = nn.Conv2d(c, cout, spec.kernel, spec.stride, spec.padding, spec.dilation, spec.groups)
        layers[f"{spec.name}_relu"] = nn.ReLU()
        c = cout
    return nn.Sequential(OrderedDict(layers))


def map_sides(net: nn.Sequential, side: int) -> dict[str, int]:
    """The side of every named layer's output map for a side x side input (build ``net`` on the meta device
    to have the shapes without memory or arithmetic)."""
    first = next(m for m in net if isinstance(m, nn.Conv2d))
    x = torch.empty(1, first.in_channels, side, side, device=first.weight.device)
    out = {}
    with torch.no_grad():
        for name, module in net.named_children():
            x = module(x)
            if not name.endswith("_relu"):
                out[name] = x.shape[-1]
    return out
