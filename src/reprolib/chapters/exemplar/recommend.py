"""Reference recommendation of He et al. 2018, sec. 4 (Eq. 8), on feature tensors the caller supplies.

The paper picks a colour reference for a grey target in three steps, all on features of a grey-trained VGG-19:

1. the target's top-1 class narrows the search to the images of that class (about 1000; left to the caller,
   who passes that pool as the candidates);
2. **global ranking**: every candidate is scored by the cosine similarity (Eq. 2) of its fc6 vector with the
   target's (:func:`global_scores`), and only the best N (200 in the paper) are kept;
3. **local ranking** (Eq. 8, :func:`local_score`): for every position p of the target's relu5_4 map, the most
   similar position q of the candidate's map (exhaustive search, cosine) is found; the pair earns its cosine
   plus beta times the correlation of the luminance histograms of the two image cells under p and q
   (:func:`histogram_correlation` of :func:`cell_histograms`), and the sum over p is the candidate's score. The
   survivors of step 2 are reordered by it (:func:`recommend`).

The luminance term rewards references whose local brightness statistics resemble the target's, so that the
reference's chrominance, once placed on the target's luminance, still looks like the reference. A cell is the
patch of ``cell x cell`` pixels that one feature position covers (16 at relu5_4, after four 2x poolings).

The paper compresses fc6 (4096 -> 128) and relu5_4 (512 -> 64) with PCA before searching; that, and the choice
of network, are the caller's (see :mod:`reprolib.chapters.exemplar.paper`). The number of histogram bins is not
stated in the paper; :data:`BINS` is ours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from reprolib.chapters.exemplar.paper import BETA, GLOBAL_TOP_N
from reprolib.validation import checked_by

BINS = 16  # luminance-histogram bins over L in [0, 100] (not given in the paper)
L_TOLERANCE = 1e-3  # L may overshoot [0, 100] by this much (rounding in Lab conversions); clamped into range
_FLAT = 1e-12  # a histogram whose centred sum of squares is below this share of its raw one counts as flat


@dataclass(frozen=True)
class Recommendation:
    """The outcome of :func:`recommend`.

    Attributes:
        indices: (K,) long, candidate indices into the pool, best local score first (K = min(top_n, M)).
        scores: (K,) the local scores (Eq. 8) of those candidates, non-increasing.
        global_scores: (M,) the cosine of every candidate's global vector with the query's (Eq. 2).
        shortlist: (K,) long, the candidates kept by the global ranking, best global score first.
    """

    indices: torch.Tensor
    scores: torch.Tensor
    global_scores: torch.Tensor
    shortlist: torch.Tensor


def _tensor(x, name: str, dims: int, what: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {what}, got {type(x).__name__}")
    if x.dim() != dims:
        raise ValueError(f"{name} must have shape {what} ({dims} dimensions), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        x = x.float()
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def _positive_int(x, name: str, least: int = 1) -> int:
    if isinstance(x, bool) or not isinstance(x, int) or x < least:
        raise ValueError(f"{name} must be an integer >= {least}, got {x!r}")
    return x


def _unit(x: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit length; an all-zero row stays zero (its cosine with anything is then 0)."""
    return torch.nn.functional.normalize(x, dim=-1, eps=1e-12)


def global_scores(query: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """Cosine similarity (Eq. 2) of a (D,) query vector with each row of (M, D) candidates: (M,) in [-1, 1].

    The global ranking of sec. 4 sorts the class's images by this score (fc6 vectors in the paper). A zero vector
    has cosine 0 with everything.
    """
    query = _tensor(query, "query", 1, "(D,)")
    candidates = _tensor(candidates, "candidates", 2, "(M, D)")
    if candidates.shape[1] != query.shape[0]:
        raise ValueError(f"candidates must have the query's length D = {query.shape[0]} per row, got shape "
                         f"{tuple(candidates.shape)}")
    return (_unit(candidates) @ _unit(query)).clamp(-1.0, 1.0)


def histogram_correlation(cells_a: torch.Tensor, cells_b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation, row by row, of two (P, n) stacks of histograms: d_H of Eq. 8, (P,) in [-1, 1].

    Each row is one grid cell's histogram over n bins; row p of ``cells_a`` is compared with row p of
    ``cells_b``. The correlation is undefined when a histogram is flat (all bins equal: zero variance). Our
    convention, which never yields NaN: two flat histograms correlate 1 (they have the same shape); a flat one
    and a non-flat one correlate 0 (no linear relation). OpenCV's ``compareHist(..., HISTCMP_CORREL)`` returns 1
    in both cases; the paper does not say which implementation it used.
    """
    cells_a = _tensor(cells_a, "cells_a", 2, "(P, n)")
    cells_b = _tensor(cells_b, "cells_b", 2, "(P, n)")
    if cells_a.shape != cells_b.shape:
        raise ValueError(f"cells_a and cells_b must have the same shape (P, n), got {tuple(cells_a.shape)} and "
                         f"{tuple(cells_b.shape)}")
    if cells_a.shape[1] < 2:
        raise ValueError(f"a histogram needs at least 2 bins for a correlation, got n = {cells_a.shape[1]}")
    a = cells_a - cells_a.mean(dim=1, keepdim=True)
    b = cells_b - cells_b.mean(dim=1, keepdim=True)
    ssa, ssb = (a * a).sum(dim=1), (b * b).sum(dim=1)
    flat_a = ssa <= _FLAT * (cells_a * cells_a).sum(dim=1)
    flat_b = ssb <= _FLAT * (cells_b * cells_b).sum(dim=1)
    safe = torch.where(flat_a | flat_b, torch.ones_like(ssa), ssa * ssb)
    r = ((a * b).sum(dim=1) / safe.sqrt()).clamp(-1.0, 1.0)
    r = torch.where(flat_a | flat_b, torch.zeros_like(r), r)
    return torch.where(flat_a & flat_b, torch.ones_like(r), r)


def cell_histograms(L: torch.Tensor, cell: int, bins: int = BINS) -> torch.Tensor:
    """Luminance histograms of the ``cell x cell`` grid cells of an (H, W) lightness image: (h * w, bins) counts.

    ``L`` is CIE Lab lightness in [0, 100]; the bins split [0, 100] evenly (100 falls in the last). The cells are
    listed row by row, so cell ``i * w + j`` covers rows ``i*cell .. i*cell+cell-1`` and is the patch under
    position (i, j) of a feature map of stride ``cell`` (h = H / cell, w = W / cell). These are the C(p) of Eq. 8.
    """
    cell = _positive_int(cell, "cell")
    bins = _positive_int(bins, "bins", least=2)
    L = _tensor(L, "L", 2, "(H, W)")
    H, W = L.shape
    if H % cell or W % cell or H == 0 or W == 0:
        raise ValueError(f"the image's height and width must be positive multiples of cell = {cell} (one cell per "
                         f"feature position), got L of shape {(H, W)}")
    lo, hi = float(L.min()), float(L.max())
    if lo < -L_TOLERANCE or hi > 100 + L_TOLERANCE:
        raise ValueError(f"L must be Lab lightness in [0, 100], got values in [{lo:.4g}, {hi:.4g}]")
    idx = (L.clamp(0, 100) * (bins / 100.0)).floor().long().clamp_(max=bins - 1)
    h, w = H // cell, W // cell
    idx = idx.reshape(h, cell, w, cell).permute(0, 2, 1, 3).reshape(h * w, cell * cell)
    counts = torch.zeros(h * w, bins, dtype=L.dtype, device=L.device)
    return counts.scatter_add_(1, idx, torch.ones_like(idx, dtype=L.dtype))


def nearest_neighbours(F_T: torch.Tensor, F_R: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For every position p of F_T (C, h, w), the most similar position q of F_R (C, h', w') by cosine (Eq. 2).

    Exhaustive search over all h' * w' positions. Returns ``(q, cos)``: (h * w,) long indices into F_R's
    positions (row-major) and the (h * w,) cosines, positions of F_T in row-major order. Ties go to the lowest q.
    """
    F_T = _tensor(F_T, "F_T", 3, "(C, h, w)")
    F_R = _tensor(F_R, "F_R", 3, "(C, h', w')")
    if F_T.shape[0] != F_R.shape[0]:
        raise ValueError(f"F_T and F_R must have the same number of channels C, got {F_T.shape[0]} and "
                         f"{F_R.shape[0]}")
    t = _unit(F_T.flatten(1).T)  # (P, C)
    r = _unit(F_R.flatten(1).T)  # (Q, C)
    sim = t @ r.T  # (P, Q)
    best = sim.max(dim=1, keepdim=True).values
    q = (sim >= best).to(torch.int8).argmax(dim=1)  # the first position reaching the maximum
    return q, best.squeeze(1).clamp(-1.0, 1.0)


def _check_grid(F: torch.Tensor, L: torch.Tensor, cell: int, f: str, l: str) -> None:
    expected = (F.shape[1] * cell, F.shape[2] * cell)
    if tuple(L.shape) != expected:
        raise ValueError(f"{l} must be the image under {f}: {f} has {F.shape[1]} x {F.shape[2]} positions of "
                         f"cell = {cell} pixels, so {l} must have shape {expected}, got {tuple(L.shape)}")


def _check_local_score(F_T, F_R, L_T, L_R, cell, beta, bins) -> None:
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not math.isfinite(beta):
        raise ValueError(f"beta must be a finite number (the paper's is {BETA}), got {beta!r}")
    cell = _positive_int(cell, "cell")
    F_T, F_R = _tensor(F_T, "F_T", 3, "(C, h, w)"), _tensor(F_R, "F_R", 3, "(C, h', w')")
    _check_grid(F_T, _tensor(L_T, "L_T", 2, "(H, W)"), cell, "F_T", "L_T")
    _check_grid(F_R, _tensor(L_R, "L_R", 2, "(H', W')"), cell, "F_R", "L_R")


@checked_by(_check_local_score)
def local_score(F_T: torch.Tensor, F_R: torch.Tensor, L_T: torch.Tensor, L_R: torch.Tensor, cell: int,
                beta: float = BETA, bins: int = BINS) -> torch.Tensor:
    """The local similarity score of Eq. 8 of a target and one candidate reference: a 0-dim tensor.

    ``F_T`` (C, h, w) and ``F_R`` (C, h', w') are feature maps of stride ``cell`` (relu5_4 in the paper, stride
    16); ``L_T`` (h*cell, w*cell) and ``L_R`` (h'*cell, w'*cell) their images' lightness in [0, 100]. For every
    position p of the target, q is its nearest neighbour in the reference (:func:`nearest_neighbours`); the score
    adds up cos(F_T(p), F_R(q)) + beta * d_H(C_T(p), C_R(q)) over all p, so it lies in [-(1+beta), 1+beta] times
    the number of positions h * w (for beta >= 0), and equals (1 + beta) h w for a reference identical to the
    target (when no two of its positions share a feature direction). Both terms are invariant to positive
    rescaling of the features (and of the histograms).
    """
    q, cos = nearest_neighbours(F_T, F_R)  # each target position's nearest reference position, and their cosine
    hist_T = cell_histograms(L_T, cell, bins)
    hist_R = cell_histograms(L_R, cell, bins)[q]
    d_h = histogram_correlation(hist_T, hist_R.to(hist_T.dtype))
    return (cos.to(d_h.dtype) + float(beta) * d_h).sum()


def recommend(query_global: torch.Tensor, candidates_global: torch.Tensor, query_local: torch.Tensor,
              candidates_local: Sequence[torch.Tensor], L_query: torch.Tensor, L_candidates: Sequence[torch.Tensor],
              cell: int, top_n: int = GLOBAL_TOP_N, beta: float = BETA, bins: int = BINS) -> Recommendation:
    """Sec. 4's two-step ranking of a pool of M candidate references (the images of the target's class).

    ``query_global`` (D,) and ``candidates_global`` (M, D) are the global vectors (fc6); the global ranking keeps
    the ``top_n`` candidates of highest cosine (all M when ``top_n >= M``), which the local score of Eq. 8
    (:func:`local_score` on ``query_local`` (C, h, w) against ``candidates_local[i]``, with lightness images
    ``L_query`` and ``L_candidates[i]``) then reorders. ``candidates_local`` and ``L_candidates`` may be any
    sequences of length M (lists, (M, ...) tensors, lazy loaders): only the shortlisted items are read. Ties in
    the global ranking keep the lower candidate index first, ties in the local one the global order.
    """
    top_n = _positive_int(top_n, "top_n")
    g = global_scores(query_global, candidates_global)
    m = g.shape[0]
    if m == 0:
        raise ValueError("the pool is empty: candidates_global must have at least one row (M >= 1)")
    for name, seq in (("candidates_local", candidates_local), ("L_candidates", L_candidates)):
        if len(seq) != m:
            raise ValueError(f"{name} must hold one item per candidate (M = {m}, the rows of candidates_global), "
                             f"got {len(seq)}")
    shortlist = torch.sort(g, descending=True, stable=True).indices[:min(top_n, m)]
    scores = torch.stack([local_score(query_local, candidates_local[int(i)], L_query, L_candidates[int(i)], cell,
                                      beta, bins) for i in shortlist])
    order = torch.sort(scores, descending=True, stable=True).indices
    return Recommendation(indices=shortlist[order], scores=scores[order], global_scores=g, shortlist=shortlist)
