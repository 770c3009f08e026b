"""Weighted k-means (Lloyd's algorithm with k-means++ seeding), the one clustering routine of the book.

Chapter 2 clusters a predicted colour distribution into its palette of suggestions (thesis sec. 3.3.2); Chapter 6
clusters many sampled colorizations into a few (Deshpande et al. sec. 5: 256 samples into 5).
"""

from __future__ import annotations

import torch

__all__ = ["weighted_kmeans"]


def weighted_kmeans(
    points: torch.Tensor, weights: torch.Tensor, k: int, seed: int = 0, max_iter: int = 100
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Lloyd's k-means with point weights, in float64.

    Minimises ``sum_i w_i ||x_i - c(i)||^2``. Initialisation: weighted k-means++ (the first centre drawn
    with probability ∝ w, each next one ∝ w * D^2, D the distance to the nearest chosen centre) from a
    ``torch.Generator`` seeded with ``seed``. Points of zero weight are ignored. Fewer than ``k``
    clusters come back when there are fewer distinct weighted points (or a cluster empties).

    Args:
        points: (M, D) coordinates. weights: (M,) non-negative, not all zero. k: clusters wanted.

    Returns:
        ``(centres (K', D), masses (K',), labels (M,))``: weighted means, total weight of each cluster
        (in the units of ``weights``), and each point's cluster (-1 for zero-weight points). Clusters
        are sorted by decreasing mass (ties: smaller index of the first point).
    """
    if not isinstance(points, torch.Tensor) or points.dim() != 2 or not points.is_floating_point():
        raise ValueError("points must be a floating (M, D) tensor")
    if not isinstance(weights, torch.Tensor) or tuple(weights.shape) != (points.shape[0],):
        raise ValueError(f"weights must be a ({points.shape[0]},) tensor")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    X = points.detach().to("cpu", torch.float64)
    w = weights.detach().to("cpu", torch.float64)
    if not torch.isfinite(X).all() or not torch.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError("points and weights must be finite, weights non-negative and not all zero")
    keep = (w > 0).nonzero().squeeze(1)
    Xk, wk = X[keep], w[keep]
    gen = torch.Generator().manual_seed(int(seed))

    # k-means++ (weighted)
    first = int(torch.multinomial(wk, 1, generator=gen))
    centres = Xk[first : first + 1]
    d2 = ((Xk - centres[0]) ** 2).sum(1)
    while centres.shape[0] < k:
        p = wk * d2
        if p.sum() <= 0:  # every weighted point already sits on a centre
            break
        nxt = int(torch.multinomial(p, 1, generator=gen))
        centres = torch.cat([centres, Xk[nxt : nxt + 1]])
        d2 = torch.minimum(d2, ((Xk - Xk[nxt]) ** 2).sum(1))

    # Lloyd iterations: assign to the nearest centre, move each centre to its cluster's weighted mean.
    def assign(c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lab = torch.cdist(Xk, c).argmin(1)  # ties: the lower centre index
        return lab, torch.zeros(c.shape[0], dtype=torch.float64).index_add_(0, lab, wk)

    for _ in range(max_iter):
        labels, mass = assign(centres)
        alive = mass > 0
        sums = torch.zeros_like(centres).index_add_(0, labels, wk[:, None] * Xk)
        moved = sums[alive] / mass[alive, None]
        done = bool(alive.all()) and torch.equal(moved, centres)
        centres = moved
        if done:
            break
    labels, mass = assign(centres)
    if not (mass > 0).all():  # only possible when max_iter ran out: drop the empty clusters
        centres = centres[mass > 0]
        labels, mass = assign(centres)

    order = torch.argsort(-mass, stable=True)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(order.numel())
    all_labels = torch.full((X.shape[0],), -1, dtype=torch.long)
    all_labels[keep] = rank[labels]
    return centres[order], mass[order], all_labels
