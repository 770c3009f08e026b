"""The data-driven colour palette of the Local Hints Network (thesis section 3.3.2, Fig. 3.3).

The predicted softmax distribution at the queried pixel is flattened (made less peaky) and clustered with
weighted k-means, K = 9; the modes it finds are the discrete colour suggestions, listed from most to least
likely.

1. :func:`distribution_at`: the predicted scores at a queried full-resolution pixel (the network predicts
   at 1/4 resolution; the paper upsamples bilinearly).
2. :func:`soften`: a temperature T > 1. The released interface computes ``softmax(0.2 * logits)``, i.e.
   T = 5 (:data:`PALETTE_T`; reference-facts section 2.1).
3. weighted k-means (:func:`reprolib.cluster.weighted_kmeans`) over the ab bin centres, weighted by the
   softened probabilities (k-means++ initialisation from a seeded generator, so the result is reproducible).
4. :func:`suggest_colors` puts it together: up to K colours (each its cluster's weighted mean ab) and
   their probabilities (the cluster's total mass), most probable first.

**Bin order.** Class q of a distribution must mean bin row q of ``bins``. The 529 classes of the
released network are the 23 x 23 grid in **a-major** order (``reprolib.quantize.grid_bins``: row
``a_idx * 23 + b_idx``); the 313 classes are ``reprolib.quantize.ab_bins`` (also a-major). The released
interface's PyTorch backend builds its bin table b-major, so its suggestions come out with a and b
swapped (reference-facts section 2.1); here the table is chosen from Q explicitly.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch.nn import functional as F

from reprolib.cluster import weighted_kmeans
from reprolib.quantize import NUM_AB_BINS, ab_bins, grid_bins
from reprolib.validation import checked_by

__all__ = [
    "PALETTE_T",
    "PALETTE_K",
    "Palette",
    "palette_bins",
    "distribution_at",
    "soften",
    "weighted_kmeans",
    "suggest_colors",
]

PALETTE_T = 5.0  # softmax(logits * 0.2) in the released interface
PALETTE_K = 9  # "weighted k-means clustering (with K = 9)"
_NUM_GRID = 529


class Palette(NamedTuple):
    """Colour suggestions, most probable first: ``ab`` (K', 2) float64 (a, b) in Lab units and ``prob``
    (K',) float64, the mass of each suggestion's cluster (summing to 1)."""

    ab: torch.Tensor
    prob: torch.Tensor


def palette_bins(num_classes: int) -> torch.Tensor:
    """The (Q, 2) float64 ab centres for Q = 529 (23 x 23 grid, a-major) or Q = 313 (in-gamut bins)."""
    if num_classes == _NUM_GRID:
        return grid_bins(torch.float64)
    if num_classes == NUM_AB_BINS:
        return ab_bins(torch.float64)
    raise ValueError(f"no default bin table for Q = {num_classes}; pass bins=(Q, 2) explicitly (Q = 529 or 313 known)")


def _check_vector(scores, name: str) -> torch.Tensor:
    if not isinstance(scores, torch.Tensor) or not scores.is_floating_point() or scores.dim() != 1:
        raise ValueError(f"{name} must be a 1-D floating tensor of Q class scores")
    if scores.numel() == 0 or not torch.isfinite(scores).all():
        raise ValueError(f"{name} must be non-empty and finite")
    return scores.detach().to("cpu", torch.float64)


def distribution_at(logits: torch.Tensor, y: float, x: float, image_size: tuple[int, int]) -> torch.Tensor:
    """The (Q,) scores at full-resolution pixel (y, x) of a (Q, h, w) or (1, Q, h, w) score map.

    Bilinear interpolation of the low-resolution map, with the same pixel-centre convention as
    ``F.interpolate(..., size=image_size, mode="bilinear", align_corners=False)``.
    """
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point():
        raise TypeError("logits must be a floating torch.Tensor of shape (Q, h, w) or (1, Q, h, w)")
    if logits.dim() == 4 and logits.shape[0] == 1:
        logits = logits[0]
    if logits.dim() != 3:
        raise ValueError(f"logits must have shape (Q, h, w) or (1, Q, h, w), got {tuple(logits.shape)}")
    H, W = image_size
    if not (0 <= y <= H - 1 and 0 <= x <= W - 1):
        raise ValueError(f"pixel (y, x) = {(y, x)} lies outside the {H} x {W} image")
    # grid_sample with align_corners=False: -1 and 1 are the outer edges of the image.
    gx = (2 * x + 1) / W - 1
    gy = (2 * y + 1) / H - 1
    grid = logits.new_tensor([[[[gx, gy]]]])
    out = F.grid_sample(logits[None], grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out[0, :, 0, 0]


def soften(scores: torch.Tensor, T: float = PALETTE_T, from_logits: bool = True) -> torch.Tensor:
    """Flatten a distribution with temperature T: ``softmax(logits / T)`` (= ``p^(1/T)`` renormalised
    for probabilities, ``from_logits=False``). Returns (Q,) float64 probabilities summing to 1."""
    s = _check_vector(scores, "scores")
    if not (isinstance(T, (int, float)) and not isinstance(T, bool) and T > 0 and math.isfinite(T)):
        raise ValueError(f"T must be a finite number > 0, got {T!r}")
    if from_logits:
        return torch.softmax(s / T, dim=0)
    if (s < 0).any() or s.sum() <= 0:
        raise ValueError("probabilities must be non-negative and not all zero; pass from_logits=True for logits")
    p = s / s.sum()
    q = torch.where(p > 0, torch.exp(torch.log(p.clamp(min=torch.finfo(p.dtype).tiny)) / T), torch.zeros_like(p))
    return q / q.sum()


def _check_suggest_args(scores, bins, k, T, from_logits, seed) -> None:
    s = _check_vector(scores, "scores")
    if bins is not None and (not isinstance(bins, torch.Tensor) or tuple(bins.shape) != (s.numel(), 2)):
        raise ValueError(f"bins must be a ({s.numel()}, 2) tensor of (a, b) centres matching the {s.numel()} scores")


@checked_by(_check_suggest_args)
def suggest_colors(
    scores: torch.Tensor,
    bins: torch.Tensor | None = None,
    k: int = PALETTE_K,
    T: float = PALETTE_T,
    from_logits: bool = True,
    seed: int = 0,
) -> Palette:
    """Up to ``k`` suggested colours for one pixel, from its predicted distribution (section 3.3.2).

    Args:
        scores: (Q,) logits (or probabilities with ``from_logits=False``) at the queried pixel, e.g.
            from :func:`distribution_at`.
        bins: (Q, 2) ab centres, row q = class q; default :func:`palette_bins` (Q = 529 or 313).
        k: number of clusters, 9 in the paper.
        T: softening temperature (5 in the released interface; ``T = 1`` keeps the distribution).
        seed: seed of the k-means++ initialisation.

    Returns:
        :class:`Palette` ``(ab, prob)`` sorted by decreasing probability, ``prob`` summing to 1.
    """
    s = scores.detach().to("cpu", torch.float64)
    table = palette_bins(s.numel()) if bins is None else bins
    p = soften(s, T=T, from_logits=from_logits)
    centres, mass, _ = weighted_kmeans(table.to(torch.float64), p, k=k, seed=seed)
    return Palette(centres, mass / mass.sum())
