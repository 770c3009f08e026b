"""Adversarial building blocks shared by the GAN chapters (BicycleGAN, and later the pseudo-cyclic network).

* :class:`GANLoss`: the least-squares (LSGAN) or the cross-entropy ("vanilla") GAN objective on a *list*
  of prediction maps, one per discriminator scale: the mean over each map, summed over the maps.
* :func:`discriminator_loss` and :func:`generator_loss`: the two sides of one adversarial update; the
  discriminator's side detaches the fake, so that its backward pass never reaches the generator.
* :class:`PatchDiscriminator` (a PatchGAN: a fully convolutional net whose every output judges one
  receptive-field patch) and :class:`MultiScaleDiscriminator` (PatchGANs on successively average-pooled
  copies of the input), with the released BicycleGAN code's state-dict keys (``model.{i}``, ``model_{d}.{i}``;
  reference-facts 3.4).
* :func:`patch_receptive_fields`: the patch size each scale judges (70 and 141 pixels for the default
  three-layer, two-scale discriminator; the BicycleGAN paper rounds the second to 140).
* :func:`set_requires_grad`: freeze or unfreeze whole networks (a discriminator during the generator's
  update, the encoder during BicycleGAN's latent-regression update).

The LSGAN objective (Mao et al. 2017) replaces the log loss of Eq. 4.1 of the thesis: the discriminator
pushes D(real) to 1 and D(fake) to 0 in squared error, the generator pushes D(fake) to 1.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from reprolib.validation import checked_by

GAN_MODES = ("lsgan", "vanilla")
NORMS = ("instance", "batch", "none")

__all__ = ["GAN_MODES", "NORMS", "GANLoss", "discriminator_loss", "generator_loss", "set_requires_grad",
           "PatchDiscriminator", "MultiScaleDiscriminator", "patch_receptive_fields", "norm_layer"]


def _as_maps(predictions: torch.Tensor | Sequence[torch.Tensor]) -> list[torch.Tensor]:
    maps = [predictions] if isinstance(predictions, torch.Tensor) else list(predictions)
    if not maps or not all(isinstance(p, torch.Tensor) for p in maps):
        raise TypeError("a GAN loss takes a tensor of predictions or a non-empty list of them (one per scale), "
                        f"got {type(predictions).__name__}")
    return maps


def _check_loss_call(self, predictions, target_is_real):
    _as_maps(predictions)
    if not isinstance(target_is_real, bool):
        raise TypeError(f"target_is_real must be True (real) or False (fake), got {target_is_real!r}")


class GANLoss(nn.Module):
    """The GAN objective on one prediction map or a list of them (one per discriminator scale).

    ``loss(predictions, target_is_real)``: for each map the mean over its entries of
    ``(p - t)^2`` (``"lsgan"``) or of the cross-entropy of ``sigmoid(p)`` against ``t`` (``"vanilla"``; ``p``
    are logits), ``t`` = 1 for real and 0 for fake; then the sum over the maps.
    """

    def __init__(self, mode: str = "lsgan"):
        super().__init__()
        if mode not in GAN_MODES:
            raise ValueError(f"GAN mode must be one of {GAN_MODES}, got {mode!r}")
        self.mode = mode

    @checked_by(_check_loss_call)
    def forward(self, predictions: torch.Tensor | Sequence[torch.Tensor], target_is_real: bool) -> torch.Tensor:
        total = None
        for p in _as_maps(predictions):
            target = torch.full_like(p, 1.0 if target_is_real else 0.0)
            term = (F.mse_loss(p, target) if self.mode == "lsgan"
                    else F.binary_cross_entropy_with_logits(p, target))
            total = term if total is None else total + term
        return total


def discriminator_loss(D: nn.Module, real: torch.Tensor, fake: torch.Tensor, loss: GANLoss) -> torch.Tensor:
    """The discriminator's loss: real images judged real plus fakes judged fake (no factor 1/2, as in the
    released BicycleGAN code). ``fake`` is detached here, so this loss's gradients stop at D."""
    return loss(D(real), True) + loss(D(fake.detach()), False)


def generator_loss(D: nn.Module, fake: torch.Tensor, loss: GANLoss) -> torch.Tensor:
    """The generator's adversarial loss: its fakes judged real. Gradients flow through D into the generator
    (freeze D with :func:`set_requires_grad` so that D's own parameters collect none)."""
    return loss(D(fake), True)


def set_requires_grad(modules: nn.Module | Iterable[nn.Module | None], requires_grad: bool) -> None:
    """Set ``requires_grad`` of every parameter of ``modules`` (a module or a list; None entries skipped)."""
    if not isinstance(requires_grad, bool):
        raise TypeError(f"requires_grad must be a bool, got {requires_grad!r}")
    for m in [modules] if isinstance(modules, nn.Module) else modules:
        if m is None:
            continue
        if not isinstance(m, nn.Module):
            raise TypeError(f"set_requires_grad takes torch modules, got {type(m).__name__}")
        for p in m.parameters():
            p.requires_grad_(requires_grad)


def norm_layer(kind: str, channels: int) -> nn.Module:
    """``"instance"``: InstanceNorm2d without affine parameters or running statistics (so it adds no keys to a
    state dict, as in the released BicycleGAN models); ``"batch"``: BatchNorm2d; ``"none"``: identity."""
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm must be one of {NORMS}, got {kind!r}")


def _check_patch(self, in_channels, ndf, n_layers, norm):
    for name, v, low in (("in_channels", in_channels, 1), ("ndf", ndf, 1), ("n_layers", n_layers, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            raise ValueError(f"PatchDiscriminator: {name} must be an integer >= {low}, got {v!r}")
    if norm not in NORMS:
        raise ValueError(f"PatchDiscriminator: norm must be one of {NORMS}, got {norm!r}")


def _patch_layers(in_channels: int, ndf: int, n_layers: int, norm: str) -> list[nn.Module]:
    """The layers of one PatchGAN: ``n_layers`` stride-2 4x4 convs (widths ndf, 2 ndf, 4 ndf, 8 ndf at most),
    one stride-1 4x4 conv, and a stride-1 4x4 conv to one channel; LeakyReLU(0.2) after each but the last,
    a norm after each but the first and the last. Every conv has a bias and padding 1."""
    width = [ndf * min(2 ** n, 8) for n in range(n_layers + 1)]
    layers: list[nn.Module] = [nn.Conv2d(in_channels, width[0], 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
    for n in range(1, n_layers):
        layers += [nn.Conv2d(width[n - 1], width[n], 4, stride=2, padding=1), norm_layer(norm, width[n]),
                   nn.LeakyReLU(0.2)]
    layers += [nn.Conv2d(width[n_layers - 1], width[n_layers], 4, stride=1, padding=1),
               norm_layer(norm, width[n_layers]), nn.LeakyReLU(0.2),
               nn.Conv2d(width[n_layers], 1, 4, stride=1, padding=1)]
    return layers


class PatchDiscriminator(nn.Module):
    """A PatchGAN: maps an image (N, C, H, W) to a map of real/fake scores, one per overlapping patch.

    With ``n_layers`` = 3 each score sees a 70 x 70 patch and a 256 x 256 input gives a 30 x 30 map. The
    activations are not in place (``LeakyReLU(0.2)``), so no autograd graph is overwritten. Keys:
    ``model.{i}.weight`` / ``.bias`` for the convs (``i`` = 0, 2, 5, 8, 11 for three layers).
    """

    @checked_by(_check_patch)
    def __init__(self, in_channels: int, ndf: int = 64, n_layers: int = 3, norm: str = "instance"):
        super().__init__()
        self.model = nn.Sequential(*_patch_layers(in_channels, ndf, n_layers, norm))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def _check_multi(self, in_channels, ndf, n_layers, num_D, norm):
    _check_patch(self, in_channels, ndf, n_layers, norm)
    if isinstance(num_D, bool) or not isinstance(num_D, int) or num_D < 1:
        raise ValueError(f"MultiScaleDiscriminator: num_D must be an integer >= 1, got {num_D!r}")
    if round(ndf / 2 ** (num_D - 1)) < 1:
        raise ValueError(f"MultiScaleDiscriminator: ndf {ndf} halved {num_D - 1} times leaves no channels")


class MultiScaleDiscriminator(nn.Module):
    """``num_D`` PatchGANs: scale ``d`` judges the input average-pooled ``d`` times (3 x 3, stride 2, padding 1,
    padding not counted) with ``round(ndf / 2**d)`` base channels. Returns the list of the ``num_D`` maps, for
    :class:`GANLoss`. Keys ``model_{d}.{i}``, as the released BicycleGAN code's ``D_NLayersMulti`` with two
    or more scales (reference-facts 3.4; with one scale that code names it ``model``, as
    :class:`PatchDiscriminator` does). No discriminator weights were released, so nothing loads into it.
    """

    @checked_by(_check_multi)
    def __init__(self, in_channels: int, ndf: int = 64, n_layers: int = 3, num_D: int = 2, norm: str = "instance"):
        super().__init__()
        self.num_D = num_D
        for d in range(num_D):
            self.add_module(f"model_{d}", nn.Sequential(*_patch_layers(in_channels, round(ndf / 2 ** d), n_layers, norm)))
        self.down = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        maps = []
        for d in range(self.num_D):
            maps.append(getattr(self, f"model_{d}")(x))
            if d + 1 < self.num_D:
                x = self.down(x)
        return maps


def patch_receptive_fields(n_layers: int = 3, num_D: int = 1) -> list[int]:
    """The side, in input pixels, of the patch that one output score of each scale sees.

    One PatchGAN is a stack of 4 x 4 convs with strides 2 (``n_layers`` times), 1, 1: walking back from one
    output, each conv of kernel k widens the field by (k - 1) times the product of the strides before it.
    Scale ``d`` first average-pools ``d`` times (3 x 3, stride 2), which maps a field of r pixels on the
    pooled image to 2 r + 1 pixels on the image before the pool.
    """
    if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 1:
        raise ValueError(f"n_layers must be an integer >= 1, got {n_layers!r}")
    if isinstance(num_D, bool) or not isinstance(num_D, int) or num_D < 1:
        raise ValueError(f"num_D must be an integer >= 1, got {num_D!r}")
    strides = [2] * n_layers + [1, 1]
    field, jump = 1, 1
    for s in strides:
        field += (4 - 1) * jump
        jump *= s
    out = []
    for d in range(num_D):
        out.append(field)
        field = (field - 1) * 2 + 3  # one more 3 x 3, stride-2 pool in front
    return out
