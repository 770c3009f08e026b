"""Gaussian latent codes shared by the chapters with an encoder (BicycleGAN, the diverse-colorization VAE).

An encoder returns ``(mu, logvar)``, the mean and the log-variance of a diagonal Gaussian q(z | B).

* :func:`reparameterize`: a sample z = mu + sigma * eps with eps ~ N(0, I) drawn apart from the network,
  so that z is a differentiable function of mu and logvar (Kingma & Welling 2014).
* :func:`kl_standard_normal`: KL(q(z | B) || N(0, I)) in closed form,
  ``-1/2 * sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j))`` per sample.
"""

from __future__ import annotations

import torch

from reprolib.validation import checked_by

KL_REDUCTIONS = ("batchmean", "sum", "none")

__all__ = ["KL_REDUCTIONS", "reparameterize", "kl_standard_normal"]


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
