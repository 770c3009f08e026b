"""Gaussian latent codes shared by the chapters with an encoder (BicycleGAN, the diverse-colorization VAE).

An encoder returns ``(mu, logvar)``, the mean and the log-variance of a diagonal Gaussian q(z | B).

* :func:`reparameterize`: a sample z = mu + sigma * eps with eps ~ N(0, I) drawn apart from the network,
  so that z is a differentiable function of mu and logvar (Kingma & Welling 2014).
* :func:`kl_standard_normal`: KL(q(z | B) || N(0, I)) in closed form,
  ``-1/2 * sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j))`` per sample.
* :class:`ResNetEncoder` (BicycleGAN's E_ResNet) and :class:`ConvEncoder` (its E_CNN): image -> (mu, logvar),
  with the released code's state-dict keys (``conv.*``, ``fc.0``, ``fcVar.0``; reference-facts 3.3, 11.3).
  Both end in an 8 x 8 average pool, so the depth follows the image size: log2(size / 8) halvings.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from reprolib.nn.gan import NORMS, norm_layer
from reprolib.validation import checked_by

KL_REDUCTIONS = ("batchmean", "sum", "none")

__all__ = ["KL_REDUCTIONS", "reparameterize", "kl_standard_normal", "ResNetEncoder", "ConvEncoder", "encoder_depth"]


def _check_gaussian(mu, logvar, **_):
    for name, t in (("mu", mu), ("logvar", logvar)):
        if not isinstance(t, torch.Tensor) or t.dim() != 2:
            raise ValueError(f"{name} must be an (N, nz) tensor, got "
                             f"{tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__}")
    if mu.shape != logvar.shape:
        raise ValueError(f"mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)} must have the same shape")


@checked_by(_check_gaussian)
def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """z = mu + exp(logvar / 2) * eps, eps ~ N(0, I) from ``generator`` (the global one if None)."""
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(0.5 * logvar) * eps


def _check_kl(mu, logvar, reduction):
    _check_gaussian(mu, logvar)
    if reduction not in KL_REDUCTIONS:
        raise ValueError(f"reduction must be one of {KL_REDUCTIONS}, got {reduction!r}")


@checked_by(_check_kl)
def kl_standard_normal(mu: torch.Tensor, logvar: torch.Tensor, reduction: str = "batchmean") -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)), summed over the latent dimensions.

    ``reduction``: ``"batchmean"`` (the mean over the batch of each sample's KL; independent of the batch
    size), ``"sum"`` (over the batch too, as the released BicycleGAN code does: with its one sample per
    branch the two agree), ``"none"`` (one value per sample).
    """
    per_sample = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)
    if reduction == "none":
        return per_sample
    return per_sample.sum() if reduction == "sum" else per_sample.mean()


def encoder_depth(size: int) -> int:
    """How many stride-2 stages take a ``size`` x ``size`` image to the 8 x 8 map the final pool averages."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 16 or size & (size - 1):
        raise ValueError(f"an encoder takes square images of a power-of-two size >= 16 (8 x 8 after its stride-2 "
                         f"stages), got size={size!r}")
    return int(math.log2(size // 8))


def _check_encoder(self, in_channels, nz, size, nef, norm):
    for name, v in (("in_channels", in_channels), ("nz", nz), ("nef", nef)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{type(self).__name__}: {name} must be an integer >= 1, got {v!r}")
    if norm not in NORMS:
        raise ValueError(f"{type(self).__name__}: norm must be one of {NORMS}, got {norm!r}")
    encoder_depth(size)


class _Encoder(nn.Module):
    """``conv`` (the trunk, ending in the 8 x 8 average pool), then ``fc`` -> mu and ``fcVar`` -> logvar."""

    size: int

    def _heads(self, channels: int, nz: int) -> None:
        self.fc = nn.Sequential(nn.Linear(channels, nz))
        self.fcVar = nn.Sequential(nn.Linear(channels, nz))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dim() != 4 or tuple(x.shape[2:]) != (self.size, self.size):
            raise ValueError(f"{type(self).__name__} was built for (N, C, {self.size}, {self.size}) images, "
                             f"got {tuple(x.shape)}")
        flat = self.conv(x).flatten(1)
        return self.fc(flat), self.fcVar(flat)


class _ResBlock(nn.Module):
    """E_ResNet's block: ``conv`` = norm, LReLU, 3x3 conv, norm, LReLU, (3x3 conv, 2x2 average pool); plus the
    ``shortcut`` (2x2 average pool, 1x1 conv). Halves the map."""

    def __init__(self, in_ch: int, out_ch: int, norm: str):
        super().__init__()
        self.conv = nn.Sequential(norm_layer(norm, in_ch), nn.LeakyReLU(0.2), nn.Conv2d(in_ch, in_ch, 3, padding=1),
                                  norm_layer(norm, in_ch), nn.LeakyReLU(0.2),
                                  nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, padding=1), nn.AvgPool2d(2)))
        self.shortcut = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(in_ch, out_ch, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) + self.shortcut(x)


class ResNetEncoder(_Encoder):
    """E_ResNet: a 4x4 stride-2 conv, then residual blocks (widths nef x 2, 3, 4, 4, ...), LReLU, 8x8 pool.

    For 256-pixel images: 4 blocks, 64 -> 128 -> 192 -> 256 -> 256 channels (the released ``resnet_256``).
    """

    @checked_by(_check_encoder)
    def __init__(self, in_channels: int, nz: int, size: int, nef: int = 64, norm: str = "instance"):
        super().__init__()
        self.size = size
        n_blocks = encoder_depth(size)  # the first conv and n_blocks - 1 blocks halve the image
        width = [nef * min(4, n) for n in range(1, n_blocks + 1)]
        layers: list[nn.Module] = [nn.Conv2d(in_channels, nef, 4, stride=2, padding=1)]
        layers += [_ResBlock(width[n - 1], width[n], norm) for n in range(1, n_blocks)]
        self.conv = nn.Sequential(*layers, nn.LeakyReLU(0.2), nn.AvgPool2d(8))
        self._heads(width[-1], nz)


class ConvEncoder(_Encoder):
    """E_CNN: 4x4 stride-2 convs (widths nef, 2 nef, 4 nef, 4 nef, ...), each but the first followed by a norm,
    each by LReLU, then the 8x8 pool (the released ``conv_256``: 5 convs)."""

    @checked_by(_check_encoder)
    def __init__(self, in_channels: int, nz: int, size: int, nef: int = 64, norm: str = "instance"):
        super().__init__()
        self.size = size
        n_layers = encoder_depth(size)
        width = [nef * min(2 ** n, 4) for n in range(n_layers)]
        layers: list[nn.Module] = [nn.Conv2d(in_channels, nef, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        for n in range(1, n_layers):
            layers += [nn.Conv2d(width[n - 1], width[n], 4, stride=2, padding=1), norm_layer(norm, width[n]),
                       nn.LeakyReLU(0.2)]
        self.conv = nn.Sequential(*layers, nn.AvgPool2d(8))
        self._heads(width[-1], nz)
