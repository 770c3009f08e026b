"""LPIPS: the Learned Perceptual Image Patch Similarity metric (Zhang et al., CVPR 2018; thesis ch. 6).

Read this file next to Fig. 6.2 (left) and Eq. 6.1 of the thesis (sec. 6.3). Two patches x0, x1 go through
a frozen ImageNet trunk F (AlexNet, VGG16 or SqueezeNet); at each tapped layer l the activations are
unit-normalised along the channels, subtracted, squared, weighted per channel by w_l >= 0, averaged over
space and summed over the layers:

    d(x0, x1) = sum_l 1/(H_l W_l) sum_{h,w} sum_c w_{l,c} (y0_hat - y1_hat)_{l,hwc}^2

What runs here is the released code's version of this (reference-facts sec. 5.1), which the official weights
were trained for:

1. inputs are RGB in [-1, 1] (``normalize=True`` maps [0, 1] there);
2. v0.1 only: a scaling layer ``(x - shift) / scale`` re-expresses ImageNet's mean/std for [-1, 1] input
   (v0.0, arXiv v1, skipped it: "a normalisation bug");
3. unit normalisation ``f / (sqrt(sum_c f^2) + 1e-10)`` -- the epsilon is added to the norm;
4. ``lin_k``: Dropout then a 1x1 conv C_k -> 1 without bias, applied to the *squared* differences. The
   paper writes ||w_l * (y0_hat - y1_hat)||^2, i.e. w^2 on the squared difference; the code's weight is that
   w^2, so non-negativity is the constraint the trainer enforces (sec. 6.3: w is kept >= 0 by projecting it
   back onto that set after each update);
5. spatial mean (or, ``spatial=True``, a bilinear upsampling to the input size, ``align_corners=False``,
   giving a distance map), then the sum over layers: output (N, 1, 1, 1) or (N, 1, H, W).

``lpips=False`` is the unweighted baseline: the channel sum of the squared differences (w_l = 1, which the
paper notes is the cosine distance), layers equally weighted.

Module names follow the released code, so the linear layers' keys are ``lin{k}.model.1.weight`` (index 1:
the Dropout sits at index 0). They are loaded strictly; the released constructor's ``strict=False`` is
how users silently ran LPIPS with random linear weights (reference-facts sec. 5.2, PerceptualSimilarity#93,
#141).
"""

from __future__ import annotations

import math
import os
from typing import Mapping

import torch
from torch import nn
from torch.nn import functional as F

from reprolib.nn import pretrained as _pretrained
from reprolib.nn.backbones import BACKBONES, TAP_CHANNELS, FeatureTaps, build_backbone
from reprolib.nn.lin import LinLayers, NetLinLayer
from reprolib.validation import checked_by
from reprolib.weights import WeightsError, load_state_dict_strict

__all__ = [
    "SHIFT",
    "SCALE",
    "EPS",
    "VERSIONS",
    "ScalingLayer",
    "normalize_channels",
    "LPIPS",
    "lpips_distance",
    "zero_weight_fractions",
    "check_lpips_input",
]

# ScalingLayer constants (reference-facts sec. 5.1): ImageNet mean/std for inputs in [-1, 1], as rounded in
# the released code (2 * 0.485 - 1 = -0.030, 2 * 0.229 = 0.458, ...).
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
EPS = 1e-10
VERSIONS = ("0.1", "0.0")
# Inputs may exceed [-1, 1] by this much (rounding, resampling) before they are called out of range.
RANGE_TOLERANCE = 1e-2


class ScalingLayer(nn.Module):
    """``(x - shift) / scale`` per RGB channel: [-1, 1] input -> ImageNet-normalised input (v0.1 only).

    The constants are buffers that are not saved in the state dict (they are fixed, not learned).
    """

    def __init__(self):
        super().__init__()
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.shift) / self.scale


def normalize_channels(f: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Unit-normalise a feature map along the channels: ``f / (||f||_2 + eps)`` (eps added to the norm)."""
    return f / (f.pow(2).sum(dim=1, keepdim=True).sqrt() + eps)


def check_lpips_input(x: torch.Tensor, name: str = "x", normalize: bool | None = None) -> torch.Tensor:
    """Validate an LPIPS input and return it in [-1, 1].

    ``x`` must be a floating-point (N, 3, H, W) tensor with finite values. The range rule:

    * ``normalize=True``: ``x`` is in [0, 1] and is mapped to ``2x - 1``;
    * ``normalize=False``: ``x`` is in [-1, 1] as it is;
    * ``normalize=None`` (default): ``x`` must be in [-1, 1], and it must not look like [0, 1] input, i.e.
      not *every* value may be >= 0. A [-1, 1] image with no value below 0 has no pixel darker than mid-grey
      in any channel, which is rare for natural patches; a [0, 1] image always looks like that. In that
      ambiguous case the call raises and asks for an explicit ``normalize``.

    Values beyond the range by more than ``RANGE_TOLERANCE`` (0.01) raise; non-negative values above 1
    are named as the likely [0, 255] input.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"{name} must be RGB with shape (N, 3, H, W), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor in [-1, 1], got dtype {x.dtype} "
            "(for uint8 images use x.float() / 127.5 - 1)"
        )
    if x.numel() == 0:
        raise ValueError(f"{name} is empty, shape {tuple(x.shape)}")
    if normalize is not None and not isinstance(normalize, bool):
        raise TypeError(f"normalize must be None, True or False, got {normalize!r}")
    lo, hi = (v.item() for v in torch.aminmax(x.detach()))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name} has non-finite values (NaN or inf)")
    tol = RANGE_TOLERANCE
    lower = 0.0 if normalize else -1.0
    if lo < lower - tol or hi > 1 + tol:
        expected = "[0, 1] (normalize=True)" if normalize else "[-1, 1]"
        hint = ""
        if lo >= -tol and hi > 1 + tol:  # non-negative values beyond 1: 8-bit intensities
            hint = " This looks like [0, 255] input: use x / 127.5 - 1 (or x / 255 with normalize=True)."
        raise ValueError(f"{name} has values in [{lo:.4g}, {hi:.4g}]; LPIPS expects RGB in {expected}.{hint}")
    if normalize:
        return 2 * x - 1
    if normalize is None and lo >= 0:
        raise ValueError(
            f"every value of {name} is in [0, 1] (min {lo:.4g}, max {hi:.4g}), but LPIPS expects RGB in [-1, 1]. "
            "If these are [0, 1] images pass normalize=True; if they really are [-1, 1] images without a "
            "single negative value pass normalize=False."
        )
    return x


def _check_aggregate_args(self, layer_distances, size, spatial) -> None:
    if len(layer_distances) != len(self.channels):
        raise ValueError(f"expected {len(self.channels)} layer distances, got {len(layer_distances)}")
    if (self.spatial if spatial is None else spatial) and size is None:
        raise ValueError("spatial=True needs the input size (H, W)")

class LPIPS(nn.Module):
    """The LPIPS distance between image batches (thesis sec. 6.3, Eq. 6.1; reference-facts sec. 5.1).

    Args:
        net: trunk, ``"alex"`` (the default metric), ``"vgg"`` or ``"squeeze"``.
        version: ``"0.1"`` (default, with the scaling layer) or ``"0.0"`` (arXiv v1 weights, no scaling).
        lpips: ``True``: learned linear weights ("lin"); ``False``: the unweighted baseline.
        pretrained: load the official linear layers of ``version`` and, unless ``trunk_weights`` says
            otherwise, the ImageNet trunk. ``False``: a random trunk (seeded by ``seed``) and linear weights
            all 1 (the baseline's weighting, inside the non-negative set) for training with
            :meth:`layer_distances`.
        spatial: return a distance map (N, 1, H, W) instead of (N, 1, 1, 1).
        trunk_weights: ``None`` (follow ``pretrained``), ``"imagenet"`` (the offline ImageNet weights,
            alex and vgg), ``"torchvision"`` (torchvision's ImageNet weights; needs torchvision and may
            download: the explicit opt-in), ``"random"``, or a torchvision-layout state dict (or a path to
            one, read with ``weights_only=True``).
        seed: seed of the random initialisation (global random state untouched).

    SqueezeNet: no offline ImageNet weights exist (the archives hold AlexNet and VGG16 only), so
    ``LPIPS("squeeze")`` needs ``trunk_weights="torchvision"`` (or a state dict), or ``pretrained=False``.

    The trunk is frozen (``requires_grad=False``) and always in eval mode; the linear layers' Dropout is
    also kept in eval mode, even after ``.train()`` (for instance when the metric is part of a model put in
    training mode): the metric is a deterministic function in every mode. The released trainer runs the
    Dropout (p = 0.5) while fitting the linear layers; a trainer that wants this applies
    ``F.dropout`` to the output of :meth:`layer_distances` before :meth:`aggregate`.

    Missing weight files raise :class:`reprolib.weights.WeightsError` naming the setup command.
    """

    def __init__(
        self,
        net: str = "alex",
        version: str = "0.1",
        lpips: bool = True,
        pretrained: bool = True,
        spatial: bool = False,
        trunk_weights: str | os.PathLike | Mapping[str, torch.Tensor] | None = None,
        seed: int = 0,
    ):
        super().__init__()
        if net not in BACKBONES:
            raise ValueError(f"net must be one of {', '.join(BACKBONES)}, got {net!r}")
        if version not in VERSIONS:
            raise ValueError(f"version must be one of {', '.join(VERSIONS)}, got {version!r}")
        for flag_name, flag in (("lpips", lpips), ("pretrained", pretrained), ("spatial", spatial)):
            if not isinstance(flag, bool):
                raise TypeError(f"{flag_name} must be a bool, got {flag!r}")
        self.net_name, self.version, self.lpips, self.spatial = net, version, lpips, spatial
        self.pretrained = pretrained
        self.scaling_layer = ScalingLayer() if version == "0.1" else None
        self.net: FeatureTaps = build_backbone(net, seed=seed)
        self.channels = TAP_CHANNELS[net]

        if trunk_weights is None:
            trunk_weights = "imagenet" if pretrained else "random"
        if isinstance(trunk_weights, str) and trunk_weights in ("imagenet", "torchvision", "random"):
            if trunk_weights == "imagenet":
                if net not in _pretrained.OFFLINE_TRUNKS:
                    raise WeightsError(
                        f"no offline ImageNet weights exist for {net!r} (the archives hold AlexNet and VGG16 "
                        "only): pass trunk_weights='torchvision' (needs torchvision and internet) or a state "
                        "dict, or use a random trunk (pretrained=False or trunk_weights='random')"
                    )
                state = _pretrained.trunk_state_dict(net, source="offline")
            elif trunk_weights == "torchvision":
                state = _pretrained.trunk_state_dict(net, source="torchvision", download=True)
            else:
                state = None
            source = f"{trunk_weights} {net}"
        elif isinstance(trunk_weights, (str, os.PathLike)):
            state = torch.load(trunk_weights, map_location="cpu", weights_only=True)
            source = str(trunk_weights)
        elif isinstance(trunk_weights, Mapping):
            state, source = dict(trunk_weights), "trunk_weights"
        else:
            raise TypeError(
                "trunk_weights must be None, 'imagenet', 'torchvision', 'random', a path or a state dict, "
                f"got {type(trunk_weights).__name__}"
            )
        if state is not None:
            _pretrained.load_trunk(self.net, state, source=source)
        self.net.requires_grad_(False)

        if lpips:
            lins = LinLayers(self.channels)
            with torch.no_grad():
                for lin in lins.children():
                    lin.weight.fill_(1.0)
            if pretrained:
                load_state_dict_strict(
                    lins, _pretrained.lin_state_dict(net, version), source=f"LPIPS v{version} {net}"
                )
            # Registered at the top level, as in the released code: keys lin{k}.model.1.weight.
            for name, lin in lins.named_children():
                self.add_module(name, lin)
        self.eval()

    # ------------------------------------------------------------------------------ linear layers
    @property
    def lins(self) -> list[NetLinLayer]:
        """The linear layers ``lin0 .. lin{L-1}`` (empty for the baseline, ``lpips=False``)."""
        return [getattr(self, f"lin{k}") for k in range(len(self.channels))] if self.lpips else []

    def _lin_view(self) -> nn.Module:
        # A container of the same NetLinLayer objects (shared parameters, not copies): its state dict has
        # exactly the keys of an official weight file, so a strict load can be checked against it.
        view = nn.Module()
        for k, lin in enumerate(self.lins):
            view.add_module(f"lin{k}", lin)
        return view

    def lin_state_dict(self) -> dict[str, torch.Tensor]:
        """The linear layers' weights with the official keys ``lin{k}.model.1.weight``."""
        self._require_lins()
        return {k: v.detach().clone() for k, v in self._lin_view().state_dict().items()}

    def load_lin_state_dict(self, state_dict: Mapping[str, torch.Tensor], source: str = "") -> None:
        """Load linear weights strictly (missing, unexpected or mis-shaped keys raise ``WeightsError``)."""
        self._require_lins()
        load_state_dict_strict(self._lin_view(), dict(state_dict), source=source)

    @torch.no_grad()
    def project_nonnegative_(self) -> "LPIPS":
        """Clamp the linear weights at 0 in place (sec. 6.3: projection after every training step)."""
        self._require_lins()
        for lin in self.lins:
            lin.weight.clamp_(min=0)
        return self

    def _require_lins(self) -> None:
        if not self.lpips:
            raise ValueError("this LPIPS module is the unweighted baseline (lpips=False): it has no linear layers")

    # ------------------------------------------------------------------------------ modes
    def train(self, mode: bool = True) -> "LPIPS":
        """Set the training flag; the trunk and the linear layers' Dropout stay in eval mode (see class doc)."""
        super().train(mode)
        self.net.eval()
        for lin in self.lins:
            lin.model[0].eval()
        return self

    # ------------------------------------------------------------------------------ the metric
    def layer_distances(
        self, x0: torch.Tensor, x1: torch.Tensor, normalize: bool | None = None
    ) -> list[torch.Tensor]:
        """Per-layer squared differences of the unit-normalised features, each (N, C_k, h_k, w_k).

        Steps 1-3 of the module docstring; :meth:`aggregate` does the rest. Inputs as in :meth:`forward`.
        """
        x0 = check_lpips_input(x0, "x0", normalize)
        x1 = check_lpips_input(x1, "x1", normalize)
        if x0.shape != x1.shape:
            raise ValueError(f"x0 and x1 must have the same shape, got {tuple(x0.shape)} and {tuple(x1.shape)}")
        if min(x0.shape[2:]) < self.net.min_size:
            raise ValueError(
                f"LPIPS-{self.net_name} needs images of at least {self.net.min_size} x {self.net.min_size} "
                f"pixels, got {tuple(x0.shape[2:])}"
            )
        dtype = next(self.net.parameters()).dtype
        x = torch.cat([x0, x1]).to(dtype)  # one pass of the trunk for both batches
        if self.scaling_layer is not None:
            x = self.scaling_layer(x)
        n = x0.shape[0]
        return [(normalize_channels(f[:n]) - normalize_channels(f[n:])) ** 2 for f in self.net(x)]

    @checked_by(_check_aggregate_args)
    def aggregate(
        self, layer_distances: list[torch.Tensor], size: tuple[int, int] | None = None, spatial: bool | None = None
    ) -> torch.Tensor:
        """Weight (``lin_k``, or the channel sum for the baseline), average or upsample, sum over layers.

        ``size`` is the input's (H, W), needed for ``spatial=True``. Returns (N, 1, 1, 1) or (N, 1, H, W).
        """
        spatial = self.spatial if spatial is None else spatial
        total = 0
        for k, d in enumerate(layer_distances):
            d = getattr(self, f"lin{k}")(d) if self.lpips else d.sum(dim=1, keepdim=True)
            if spatial:
                d = F.interpolate(d, size=tuple(size), mode="bilinear", align_corners=False)
            else:
                d = d.mean(dim=(2, 3), keepdim=True)
            total = total + d
        return total

    def forward(
        self, x0: torch.Tensor, x1: torch.Tensor, normalize: bool | None = None, spatial: bool | None = None
    ) -> torch.Tensor:
        """LPIPS distance, (N, 1, 1, 1), or (N, 1, H, W) with ``spatial=True`` (default: the constructor's).

        ``x0``, ``x1``: RGB (N, 3, H, W) in [-1, 1]; ``normalize=True`` for [0, 1] input (see
        :func:`check_lpips_input` for the range rule).
        """
        layer_distances = self.layer_distances(x0, x1, normalize)
        return self.aggregate(layer_distances, tuple(x0.shape[2:]), spatial)

    def extra_repr(self) -> str:
        return f"net={self.net_name!r}, version={self.version!r}, lpips={self.lpips}, spatial={self.spatial}"


def zero_weight_fractions(module: LPIPS | LinLayers, threshold: float = 0.0) -> list[float]:
    """Fraction of linear weights per layer that are zero, i.e. ``<= threshold`` (default: exactly 0).

    The non-negativity projection (sec. 6.3) drives many weights to 0: those channels are ignored by the
    metric (sec. 6.4.2 reports the fraction per AlexNet layer). A small positive ``threshold`` also counts
    weights that are zero in effect.
    """
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not threshold >= 0:
        raise ValueError(f"threshold must be a number >= 0, got {threshold!r}")
    if isinstance(module, LPIPS):
        lins = module.lins
        if not lins:
            raise ValueError("the baseline LPIPS (lpips=False) has no linear layers")
    elif isinstance(module, LinLayers):
        lins = list(module.children())
    else:
        raise TypeError(f"module must be an LPIPS or LinLayers module, got {type(module).__name__}")
    return [(lin.weight <= threshold).float().mean().item() for lin in lins]


_CACHE: dict[tuple, LPIPS] = {}


def lpips_distance(
    x0: torch.Tensor,
    x1: torch.Tensor,
    net: str = "alex",
    version: str = "0.1",
    lpips: bool = True,
    spatial: bool = False,
    normalize: bool | None = None,
) -> torch.Tensor:
    """LPIPS between two batches with the official weights, without gradients: (N,) or (N, 1, H, W).

    A convenience for evaluation; the module (one per net, version, variant, device) is built once and
    cached. For a differentiable loss use an :class:`LPIPS` module.
    """
    if not isinstance(x0, torch.Tensor):
        raise TypeError(f"x0 must be a torch.Tensor, got {type(x0).__name__}")
    key = (net, version, lpips, x0.device)
    if key not in _CACHE:
        _CACHE[key] = LPIPS(net=net, version=version, lpips=lpips).to(x0.device)
    with torch.no_grad():
        d = _CACHE[key](x0, x1, normalize=normalize, spatial=spatial)
    return d if spatial else d.flatten()
