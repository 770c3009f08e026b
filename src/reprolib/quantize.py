"""The quantized ab colour space of Zhang et al. (ECCV 2016) and everything its loss needs.

Colorization as classification (paper section 2.1): the ab plane is cut into a grid of step 10 and
the Q = 313 grid points that are "in gamut" become the classes. This file holds

* the classes: :data:`AB_BINS_TABLE` / :func:`ab_bins` (the 313 bins of the released
  ``pts_in_hull.npy``), the full 23 x 23 grid of the SIGGRAPH17 code (:func:`grid_bins`,
  :func:`in_gamut_grid`) and :func:`naive_gamut_bins`, an honest attempt to recompute the 313;
* the targets: :func:`encode_nearest` (1-hot) and :func:`soft_encode` (paper footnote 1: Gaussian
  weights over the k nearest bins);
* class rebalancing (section 2.2, Eq. 4): :func:`empirical_prior`, :func:`rebalance_weights`,
  :func:`pixel_weights`;
* the point estimate (section 2.3, Eq. 5): :func:`annealed_mean`, :func:`distribution_mean`,
  :func:`distribution_mode`.

Shapes: ``ab`` is ``(N, 2, H, W)`` (any leading dims before the channel axis, which is ``-3``) in
unnormalised Lab units (about [-110, 110]); class scores are ``(N, Q, H, W)``; bin centres are a
``(Q, 2)`` float tensor of (a, b) rows. Every function takes ``bins=None`` for the 313 ECCV16 bins
or any other ``(Q, 2)`` set, e.g. :func:`grid_bins` for the 529-class SIGGRAPH17 variant.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

import torch

from .color import rgb_to_lab

__all__ = [
    "AB_BINS_TABLE",
    "AB_GRID_STEP",
    "AB_GRID_MIN",
    "AB_GRID_SIZE",
    "NUM_AB_BINS",
    "PAPER_K",
    "CODE_K",
    "SIGMA",
    "PAPER_LAMBDA",
    "PAPER_T",
    "CAFFE_T",
    "ab_bins",
    "grid_bins",
    "in_gamut_grid",
    "naive_gamut_bins",
    "encode_nearest",
    "decode_index",
    "soft_encode_topk",
    "soft_encode",
    "empirical_prior",
    "smooth_prior",
    "rebalance_weights",
    "pixel_weights",
    "annealed_mean",
    "distribution_mean",
    "distribution_mode",
]

# --------------------------------------------------------------------------------------------------
# Constants (paper and released code; reference-facts.md sections 1.1-1.3)
# --------------------------------------------------------------------------------------------------

AB_GRID_STEP = 10.0  # "we quantize the ab output space into bins with grid size 10" (section 2.1)
AB_GRID_MIN = -110.0  # the SIGGRAPH17 grid: 23 x 23 points over [-110, 110]
AB_GRID_SIZE = 23
NUM_AB_BINS = 313  # Q in the paper

PAPER_K = 5  # footnote 1: "the 5-nearest neighbors"; the released NNEncLayer uses 10
CODE_K = 10
SIGMA = 5.0  # footnote 1 and section 2.2: Gaussian sigma = 5 for soft targets and prior smoothing
PAPER_LAMBDA = 0.5  # section 2.2: lambda = 1/2
PAPER_T = 0.38  # section 2.3 / Fig. 4
CAFFE_T = 1 / 2.606  # the released Caffe model scales the logits by 2.606 (layer conv8_313_rh)

# The 313 in-gamut bins of the released pts_in_hull.npy, a-major: each a-row holds a contiguous
# range of b (reference-facts.md section 1.2). Rows: (a, b_min, b_max), all in steps of 10.
AB_BINS_TABLE: tuple[tuple[int, int, int], ...] = (
    (-90, 50, 90),
    (-80, 20, 90),
    (-70, 0, 90),
    (-60, -20, 90),
    (-50, -30, 100),
    (-40, -40, 100),
    (-30, -50, 100),
    (-20, -50, 100),
    (-10, -60, 100),
    (0, -70, 100),
    (10, -80, 90),
    (20, -80, 90),
    (30, -90, 90),
    (40, -100, 90),
    (50, -100, 80),
    (60, -110, 80),
    (70, -110, 80),
    (80, -110, 70),
    (90, -110, 70),
    (100, -90, 0),
)


# --------------------------------------------------------------------------------------------------
# The bins
# --------------------------------------------------------------------------------------------------


def ab_bins(dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> torch.Tensor:
    """The Q = 313 ECCV16 bin centres, ``(313, 2)`` rows of (a, b), sorted by a then b.

    Identical to the released ``pts_in_hull.npy`` (built from :data:`AB_BINS_TABLE`).
    """
    step = int(AB_GRID_STEP)
    rows = [(a, b) for a, b_min, b_max in AB_BINS_TABLE for b in range(b_min, b_max + 1, step)]
    return torch.tensor(rows, dtype=dtype, device=device)


def grid_bins(dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> torch.Tensor:
    """The full 23 x 23 grid over [-110, 110] step 10, ``(529, 2)``; row ``a_idx * 23 + b_idx``.

    This is the class set of the SIGGRAPH17 PyTorch code (``idx = round((ab + 110) / 10)``).
    """
    axis = AB_GRID_MIN + AB_GRID_STEP * torch.arange(AB_GRID_SIZE, dtype=torch.float64)
    a, b = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([a.reshape(-1), b.reshape(-1)], dim=1).to(dtype=dtype, device=device)


def in_gamut_grid(device: torch.device | str | None = None) -> torch.Tensor:
    """Boolean ``(529,)`` mask of the 313 ECCV16 bins on :func:`grid_bins` (the released ``in_hull.npy``)."""
    idx = torch.round((ab_bins(torch.float64) - AB_GRID_MIN) / AB_GRID_STEP).long()
    mask = torch.zeros(AB_GRID_SIZE * AB_GRID_SIZE, dtype=torch.bool)
    mask[idx[:, 0] * AB_GRID_SIZE + idx[:, 1]] = True
    return mask.to(device)


def _rgb_cube_surface(levels: int) -> torch.Tensor:
    """All colours on the 6 faces of the RGB cube at ``levels`` levels per axis, ``(6 * levels^2, 3)``."""
    v = torch.linspace(0.0, 1.0, levels, dtype=torch.float64)
    s, t = (x.reshape(-1) for x in torch.meshgrid(v, v, indexing="ij"))
    faces = []
    for axis in range(3):
        for value in (0.0, 1.0):
            cols = [s, t]
            cols.insert(axis, torch.full_like(s, value))
            faces.append(torch.stack(cols, dim=1))
    return torch.cat(faces)


def naive_gamut_bins(
    levels: int = 256, rule: str = "corners", dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Recompute an in-gamut bin set from sRGB, to compare with the released 313 (and see it differ).

    Every sRGB colour is converted to Lab and marks grid points (step 10) by ``rule``:

    * ``"corners"``: the 4 grid points at the corners of the 10 x 10 grid square the colour falls in
      (floor and ceil of a/10 and b/10), i.e. every grid point closer than 10 in both a and b. With
      all 256^3 colours this gives **309** bins, all inside the 313, missing (40, 90), (100, -90),
      (100, -10) and (100, 0).
    * ``"round"``: the nearest grid point only (the 10 x 10 cell centred on a grid point that contains
      the colour): 261 bins.

    No simple rule reproduces the 313 (reference-facts.md section 1.2), which is why :func:`ab_bins`
    ships them as data. For speed only the surface of the RGB cube is sampled (``6 * levels^2``
    colours, about 0.2 s at 256 levels): in practice the ab footprint of the solid cube is that of
    its faces; at 256 levels they mark exactly the bins of the full 256^3 cube (checked once: 20 s).

    Returns:
        ``(M, 2)`` bin centres, sorted a-major like :func:`ab_bins`.
    """
    if rule not in ("corners", "round"):
        raise ValueError(f"rule must be 'corners' or 'round', got {rule!r}.")
    if not isinstance(levels, int) or levels < 2:
        raise ValueError(f"levels must be an integer >= 2, got {levels!r}.")
    ab = rgb_to_lab(_rgb_cube_surface(levels), dim=-1, check=False)[:, 1:]
    cells = ab / AB_GRID_STEP
    if rule == "round":
        marked = torch.round(cells)
    else:
        lo, hi = torch.floor(cells), torch.ceil(cells)
        marked = torch.cat(
            [lo, hi, torch.stack([lo[:, 0], hi[:, 1]], 1), torch.stack([hi[:, 0], lo[:, 1]], 1)]
        )
    # an occupancy grid of the marked points; nonzero() lists them a-major, like ab_bins
    marked = marked.long()
    lo = marked.min(0).values
    size = marked.max(0).values - lo + 1
    occupied = torch.zeros(int(size[0]), int(size[1]), dtype=torch.bool)
    occupied[marked[:, 0] - lo[0], marked[:, 1] - lo[1]] = True
    return ((occupied.nonzero() + lo) * int(AB_GRID_STEP)).to(dtype)


# --------------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------------


def _check_ab(ab, name: str = "ab") -> None:
    if not isinstance(ab, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N, 2, H, W), got {type(ab).__name__}.")
    if not ab.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor of Lab ab values, got dtype {ab.dtype}.")
    if ab.ndim < 3 or ab.shape[-3] != 2:
        raise ValueError(
            f"{name} must have shape (N, 2, H, W) or (2, H, W) (unnormalised ab, channel axis -3), "
            f"got {tuple(ab.shape)}."
        )
    if ab.numel() and not torch.isfinite(ab).all():
        raise ValueError(f"{name} contains NaN or inf values.")


def _resolve_bins(bins, like: torch.Tensor | None = None) -> torch.Tensor:
    if bins is None:
        bins = ab_bins(torch.float32)
    if not isinstance(bins, torch.Tensor) or bins.ndim != 2 or bins.shape[1] != 2 or bins.shape[0] < 1:
        shape = tuple(bins.shape) if isinstance(bins, torch.Tensor) else type(bins).__name__
        raise ValueError(f"bins must be a (Q, 2) tensor of (a, b) bin centres, got {shape}.")
    if like is not None:
        bins = bins.to(device=like.device, dtype=_work_dtype(like))
    return bins


def _work_dtype(x: torch.Tensor) -> torch.dtype:
    return x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32


def _check_scores(z, Q: int, name: str) -> None:
    if not isinstance(z, torch.Tensor) or not z.is_floating_point():
        raise TypeError(f"{name} must be a floating-point torch.Tensor of shape (N, Q, H, W).")
    if z.ndim < 3 or z.shape[-3] != Q:
        raise ValueError(
            f"{name} must have shape (N, Q, H, W) or (Q, H, W) with Q = {Q} classes on axis -3 "
            f"(the number of bins), got {tuple(z.shape)}."
        )


# --------------------------------------------------------------------------------------------------
# k nearest bins, vectorised with lookup tables
# --------------------------------------------------------------------------------------------------
#
# Brute force compares every pixel with all Q bins and partially sorts Q distances per pixel
# (torch.topk over 313 columns), which is slow on a CPU. The bins are fixed, so we precompute, for
# small square cells of the ab plane, which bins can be among the k nearest of a point in the cell:
# if R is the k-th smallest *farthest* distance from the cell to a bin, every point of the cell has
# k bins within R, so only bins whose *nearest* distance to the cell is <= R qualify.
#
# * fine table, 0.5 x 0.5 cells: almost every cell has at most k + 2 candidates. Per pixel we compute
#   those k + 2 distances and push the 2 farthest to the end with 2 bubble-sort passes (elementwise
#   min/max over pixels, no per-pixel sort); the first k rows are the answer.
# * the few pixels whose fine cell has more candidates use the coarse table (2.5 x 2.5 cells, all
#   candidates, 12-20 of them) and torch.topk; points more than 10 ab units outside the bins'
#   bounding box use brute force.
#
# The result is exact (ties broken arbitrarily) for any bin set and any device. The tables are
# built once per (bins, k, device, dtype) in about 0.5 s and cached.

_FINE, _COARSE = 0.5, 2.5  # cell sizes in ab units (a coarse cell is 5 x 5 fine cells)
_EXTRA = 2  # candidates kept beyond k in the fine table
_MARGIN = 10.0  # the tables cover the bins' bounding box plus this margin
_FAR = 1.0e4  # coordinate of the padding "bin", index Q (never among the k nearest)
_CHUNK = 1 << 18  # pixels per chunk: bounds the working memory
_TABLE_CACHE: dict = {}  # (bins bytes, k, device, dtype) -> tables; a few entries at most


def _cell_candidates(bins64, x0, y0, size: float, cand, k: int):
    """Candidate bins of the cells with lower-left corners ``(x0, y0)`` (C,), among ``cand``
    (C, M) bin indices (index Q = padding). Returns (candidates sorted by distance from the cell
    centre, padding last, (C, M); number of real candidates per cell, (C,))."""
    eps = 1e-3  # inflate cells a little so float rounding of floor() at cell edges is harmless
    X0, Y0 = (x0 - eps)[:, None], (y0 - eps)[:, None]
    X1, Y1 = X0 + size + 2 * eps, Y0 + size + 2 * eps
    padded = torch.cat([bins64, torch.full((1, 2), _FAR, dtype=torch.float64)])
    bx, by = padded[cand, 0], padded[cand, 1]
    near = ((X0 - bx).clamp(min=0) + (bx - X1).clamp(min=0)) ** 2 + (
        (Y0 - by).clamp(min=0) + (by - Y1).clamp(min=0)
    ) ** 2
    far = (
        torch.maximum((bx - X0).abs(), (bx - X1).abs()) ** 2
        + torch.maximum((by - Y0).abs(), (by - Y1).abs()) ** 2
    )
    radius = far.kthvalue(k, dim=1, keepdim=True).values
    keep = (near <= radius * (1 + 1e-9)) & (cand < bins64.shape[0])
    centre = (bx - (X0 + X1) / 2) ** 2 + (by - (Y0 + Y1) / 2) ** 2
    order = torch.where(keep, centre, torch.inf).argsort(dim=1, stable=True)
    kept = torch.gather(keep, 1, order)
    return torch.where(kept, torch.gather(cand, 1, order), bins64.shape[0]), kept.sum(1)


def _build_tables(bins64: torch.Tensor, k: int) -> dict:
    """Fine and coarse candidate tables for ``bins64`` (Q, 2), float64 on the CPU."""
    Q = bins64.shape[0]
    lo = bins64.min(0).values - _MARGIN
    ratio = round(_COARSE / _FINE)
    n_coarse = torch.ceil((bins64.max(0).values + _MARGIN - lo) / _COARSE).long().tolist()
    n_fine = [n * ratio for n in n_coarse]

    def corners(n, size):
        i, j = torch.meshgrid(torch.arange(n[0]), torch.arange(n[1]), indexing="ij")
        return i.reshape(-1), j.reshape(-1), lo[0] + size * i.reshape(-1), lo[1] + size * j.reshape(-1)

    ci, cj, cx, cy = corners(n_coarse, _COARSE)
    coarse, count = _cell_candidates(bins64, cx, cy, _COARSE, torch.arange(Q).expand(ci.shape[0], Q), k)
    coarse = coarse[:, : int(count.max())]
    # a fine cell lies inside one coarse cell, so its candidates are among that cell's
    fi, fj, fx, fy = corners(n_fine, _FINE)
    parent = (fi // ratio) * n_coarse[1] + fj // ratio
    fine, count = _cell_candidates(bins64, fx, fy, _FINE, coarse[parent], k)
    L = min(k + _EXTRA, fine.shape[1])
    small = torch.int16 if Q < 2**15 else torch.long
    return {
        "lo": lo, "ratio": ratio, "n_fine": n_fine, "n_coarse": n_coarse,
        "fine": fine[:, :L].to(small), "overflow": count > L, "coarse": coarse,
        "pad": torch.cat([bins64, torch.full((1, 2), _FAR, dtype=torch.float64)]),
    }  # fmt: skip


def _tables(bins: torch.Tensor, k: int) -> dict:
    bins64 = bins.detach().to("cpu", torch.float64)
    key = (bins64.numpy().tobytes(), k, bins.device, bins.dtype)
    if key not in _TABLE_CACHE:
        t = _build_tables(bins64, k)
        dev, dt = bins.device, bins.dtype
        if len(_TABLE_CACHE) >= 8:
            _TABLE_CACHE.pop(next(iter(_TABLE_CACHE)))
        _TABLE_CACHE[key] = {
            "lo": t["lo"].tolist(), "ratio": t["ratio"], "n_fine": t["n_fine"], "n_coarse": t["n_coarse"],
            "fine": t["fine"].to(dev), "overflow": t["overflow"].to(dev), "coarse": t["coarse"].to(dev),
            "pad_a": t["pad"][:, 0].to(dev, dt), "pad_b": t["pad"][:, 1].to(dev, dt),
        }  # fmt: skip
    return _TABLE_CACHE[key]


def _sq_dist(x, y, cand, t):
    """Squared distances (M, p) from points ``x``, ``y`` (p,) to the bins ``cand`` (M, p)."""
    flat = cand.reshape(-1).long()
    a = t["pad_a"].index_select(0, flat).view(cand.shape)
    b = t["pad_b"].index_select(0, flat).view(cand.shape)
    return (x - a) ** 2 + (y - b) ** 2


def _knn_flat(pts: torch.Tensor, bins: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """k nearest bins of points ``pts`` (2, P): squared distances and indices, both (k, P), in no
    particular order."""
    t = _tables(bins, k)
    P = pts.shape[1]
    d2_out = torch.empty(k, P, dtype=pts.dtype, device=pts.device)
    idx_out = torch.empty(k, P, dtype=torch.long, device=pts.device)
    (n0, n1), ratio = t["n_fine"], t["ratio"]
    for start in range(0, P, _CHUNK):
        stop = min(start + _CHUNK, P)
        x, y = pts[0, start:stop], pts[1, start:stop]
        fi = torch.floor((x - t["lo"][0]) / _FINE).long()
        fj = torch.floor((y - t["lo"][1]) / _FINE).long()
        inside = (fi >= 0) & (fi < n0) & (fj >= 0) & (fj < n1)
        fi, fj = fi.clamp(0, n0 - 1), fj.clamp(0, n1 - 1)
        flat = fi * n1 + fj
        cand = t["fine"].index_select(0, flat).T  # (L, p), L = k + 2, padded with index Q
        d2 = _sq_dist(x, y, cand, t)
        # Two bubble-sort passes move the two farthest candidates to the last two rows.
        d, c = list(d2.unbind(0)), list(cand.unbind(0))
        for n in range(len(d) - 1, k - 1, -1):
            for r in range(n):
                swap = d[r + 1] < d[r]
                d[r], d[r + 1] = torch.minimum(d[r], d[r + 1]), torch.maximum(d[r], d[r + 1])
                c[r], c[r + 1] = torch.where(swap, c[r + 1], c[r]), torch.where(swap, c[r], c[r + 1])
        d2_out[:, start:stop] = torch.stack(d[:k])
        idx_out[:, start:stop] = torch.stack(c[:k])
        slow = (t["overflow"].index_select(0, flat) | ~inside).nonzero().squeeze(1)
        if slow.numel():  # cells with more than k + 2 candidates: all of the coarse cell's
            cand = t["coarse"].index_select(0, (fi[slow] // ratio) * t["n_coarse"][1] + fj[slow] // ratio).T
            best, row = _sq_dist(x[slow], y[slow], cand, t).topk(k, dim=0, largest=False)
            d2_out[:, start + slow], idx_out[:, start + slow] = best, cand.gather(0, row)
        far = (~inside).nonzero().squeeze(1)
        for f in far.split(4096):  # far outside the bins: brute force over all Q bins
            d2_all = (x[f, None] - bins[:, 0]) ** 2 + (y[f, None] - bins[:, 1]) ** 2  # (f, Q)
            best, which = d2_all.topk(k, dim=1, largest=False)
            d2_out[:, start + f], idx_out[:, start + f] = best.T, which.T
    return d2_out, idx_out


def _knn(ab: torch.Tensor, bins, k: int):
    """k nearest bins of every pixel of ``ab`` (..., 2, H, W): (d2, idx), each (..., k, H, W), and Q."""
    bins = _resolve_bins(bins, ab)
    Q = bins.shape[0]
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= Q:
        raise ValueError(f"k must be an integer in [1, Q={Q}], got {k!r}.")
    lead, (H, W) = ab.shape[:-3], ab.shape[-2:]
    B = math.prod(lead)
    pts = ab.detach().to(bins.dtype).reshape(B, 2, H * W).transpose(0, 1).reshape(2, -1)  # (2, P)
    d2, idx = _knn_flat(pts, bins.detach(), k)

    def back(v):  # (k, B*H*W) -> (..., k, H, W)
        return v.reshape(k, B, H, W).transpose(0, 1).reshape(*lead, k, H, W)

    return back(d2), back(idx), Q


# --------------------------------------------------------------------------------------------------
# Encoding ground-truth ab (paper section 2.1)
# --------------------------------------------------------------------------------------------------


def encode_nearest(ab: torch.Tensor, bins: torch.Tensor | None = None) -> torch.Tensor:
    """Index of the nearest bin for every pixel: ``(N, 2, H, W)`` -> ``(N, H, W)`` int64 in [0, Q).

    The hard (1-hot) version of the target; also the bin that decides a pixel's rebalancing weight.
    """
    _check_ab(ab)
    _, idx, _ = _knn(ab, bins, 1)
    return idx.squeeze(-3)


def decode_index(idx: torch.Tensor, bins: torch.Tensor | None = None) -> torch.Tensor:
    """Bin centres of class indices: ``(N, H, W)`` int64 -> ``(N, 2, H, W)`` ab (float32 by default bins)."""
    if not isinstance(idx, torch.Tensor) or idx.is_floating_point() or idx.is_complex():
        raise TypeError("idx must be an integer tensor of bin indices, shape (N, H, W).")
    bins = _resolve_bins(bins).to(idx.device)
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= bins.shape[0]):
        raise ValueError(f"idx must be in [0, {bins.shape[0]}), got [{int(idx.min())}, {int(idx.max())}].")
    return bins[idx].movedim(-1, -3)


def soft_encode_topk(
    ab: torch.Tensor, k: int = PAPER_K, sigma: float = SIGMA, bins: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Soft-encoding in sparse form: the k nearest bins and their weights (paper footnote 1).

    Weights are ``exp(-d^2 / (2 sigma^2))`` over the k nearest bins, normalised to sum 1 per pixel
    (computed as a softmax, so a tiny ``sigma`` gives a clean 1-hot instead of 0/0).

    Args:
        ab: ``(N, 2, H, W)`` unnormalised ab.
        k: number of nearest bins; the paper says 5, the released code uses 10 (:data:`CODE_K`).
        sigma: Gaussian width in ab units (paper: 5).
        bins: ``(Q, 2)`` bin centres, default the 313 ECCV16 bins.

    Returns:
        ``(idx, weights)``, both ``(N, k, H, W)``: int64 bin indices (in no particular order) and
        their weights, in ab's dtype. ``-(weights * log_probs.gather(1, idx)).sum(1)`` is the soft
        cross-entropy (Eq. 2) without building the dense ``(N, Q, H, W)`` target.
    """
    _check_ab(ab)
    sigma = _check_positive(sigma, "sigma")
    d2, idx, _ = _knn(ab, bins, k)
    weights = torch.softmax(-d2 / (2.0 * sigma**2), dim=-3)
    return idx, weights.to(ab.dtype)


def soft_encode(
    ab: torch.Tensor, k: int = PAPER_K, sigma: float = SIGMA, bins: torch.Tensor | None = None
) -> torch.Tensor:
    """Soft-encoded targets ``Z`` of Eq. 2: ``(N, 2, H, W)`` ab -> ``(N, Q, H, W)`` distributions.

    Each pixel's target has exactly k non-zero entries, Gaussian in the distance to the k nearest
    bins (sigma 5), summing to 1. See :func:`soft_encode_topk` for the arguments and a sparse form
    that avoids the dense tensor (40 x 313 x 56 x 56 float32 is 157 MB).
    """
    idx, weights = soft_encode_topk(ab, k=k, sigma=sigma, bins=bins)
    Q = NUM_AB_BINS if bins is None else bins.shape[0]
    out = torch.zeros(*ab.shape[:-3], Q, *ab.shape[-2:], dtype=ab.dtype, device=ab.device)
    return out.scatter_(-3, idx, weights)


# --------------------------------------------------------------------------------------------------
# Class rebalancing (paper section 2.2, Eq. 4)
# --------------------------------------------------------------------------------------------------


def _check_positive(value, name: str) -> float:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}.")
    return float(value)


def _bin_kernel(bins64: torch.Tensor, sigma: float) -> torch.Tensor:
    """(Q, Q) Gaussian kernel between bin centres, each row summing to 1."""
    d2 = torch.cdist(bins64, bins64).pow(2)
    kernel = torch.exp(-d2 / (2.0 * sigma**2))
    return kernel / kernel.sum(dim=1, keepdim=True)


def smooth_prior(prior: torch.Tensor, sigma: float = SIGMA, bins: torch.Tensor | None = None) -> torch.Tensor:
    """Smooth a ``(Q,)`` distribution over bins with a Gaussian of width ``sigma`` (ab units).

    Each bin spreads its mass over the bins with weights ``exp(-d^2 / (2 sigma^2))`` normalised per
    source bin, so no mass leaks past the edge of the gamut; the result sums to 1.
    """
    bins64 = _resolve_bins(bins).detach().to("cpu", torch.float64)
    p = _check_distribution(prior, bins64.shape[0], "prior")
    sigma = _check_positive(sigma, "sigma")
    smoothed = p @ _bin_kernel(bins64, sigma)
    return (smoothed / smoothed.sum()).to(prior.dtype if prior.is_floating_point() else torch.float64)


def _check_distribution(p, Q: int, name: str) -> torch.Tensor:
    """Validate a (Q,) non-negative vector and return it normalised, float64, on the CPU."""
    if not isinstance(p, torch.Tensor) or p.ndim != 1 or p.shape[0] != Q:
        shape = tuple(p.shape) if isinstance(p, torch.Tensor) else type(p).__name__
        raise ValueError(f"{name} must be a 1-D tensor of {Q} bin probabilities, got {shape}.")
    p = p.detach().to("cpu", torch.float64)
    if not torch.isfinite(p).all() or (p < 0).any() or p.sum() <= 0:
        raise ValueError(f"{name} must be finite, non-negative and not all zero.")
    return p / p.sum()


def empirical_prior(
    ab_batches: torch.Tensor | Iterable[torch.Tensor],
    sigma: float = SIGMA,
    bins: torch.Tensor | None = None,
    smooth: bool = True,
) -> torch.Tensor:
    """The empirical distribution ``p~`` of ab colours over the bins (section 2.2, Fig. 3b).

    Counts each pixel's nearest bin over one ab tensor ``(N, 2, H, W)`` or an iterable of them (a
    data loader: one pass, constant memory), normalises, and by default smooths with a Gaussian of
    width ``sigma`` over the distance between bin centres (:func:`smooth_prior`): the released
    ``prior_probs.npy`` was "smoothed with the same Gaussian used for the soft targets" (sigma 5).

    Returns:
        ``(Q,)`` float64 on the CPU, summing to 1. Bins no pixel came near have probability 0
        when ``smooth=False``.
    """
    bins_t = _resolve_bins(bins)
    Q = bins_t.shape[0]
    counts = torch.zeros(Q, dtype=torch.float64)
    batches = [ab_batches] if isinstance(ab_batches, torch.Tensor) else ab_batches
    for ab in batches:
        idx = encode_nearest(ab, bins)
        counts += torch.bincount(idx.reshape(-1).cpu(), minlength=Q).double()
    if counts.sum() == 0:
        raise ValueError("empirical_prior got no pixels: ab_batches is empty.")
    prior = counts / counts.sum()
    return smooth_prior(prior, sigma=sigma, bins=bins_t) if smooth else prior


def rebalance_weights(prior: torch.Tensor, lam: float = PAPER_LAMBDA) -> torch.Tensor:
    """Class-rebalancing weights of Eq. 4: ``w ∝ ((1 - lam) p + lam / Q)^-1`` with ``sum_q p_q w_q = 1``.

    Args:
        prior: ``(Q,)`` (smoothed) empirical distribution of the bins; normalised here if needed.
        lam: mixing weight with the uniform distribution, in [0, 1]. The paper trains with 1/2;
            ``lam = 1`` gives all-ones (no rebalancing, "Ours (class)"); ``lam = 0`` is the pure
            inverse prior of the class-balanced AuC (section 3.1).

    Returns:
        ``(Q,)`` weights, same dtype as ``prior`` (float64 for integer counts), on the CPU.

    With ``lam = 0`` a bin of zero probability would get an infinite weight; it gets **weight 0**
    instead (no pixel falls in it, so the expectation is unchanged). The released ``PriorBoostLayer``
    mixes with a uniform over the *non-zero* bins rather than over all Q; we follow the paper's
    ``lam / Q``.
    """
    if isinstance(lam, torch.Tensor) and lam.numel() == 1:
        lam = lam.item()
    if isinstance(lam, bool) or not isinstance(lam, numbers.Real) or not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must be a number in [0, 1], got {lam!r}.")
    if not isinstance(prior, torch.Tensor) or prior.ndim != 1:
        shape = tuple(prior.shape) if isinstance(prior, torch.Tensor) else type(prior).__name__
        raise ValueError(f"prior must be a 1-D (Q,) tensor of bin probabilities, got {shape}.")
    Q = prior.shape[0]
    p = _check_distribution(prior, Q, "prior")
    mix = (1.0 - lam) * p + lam / Q
    w = torch.where(mix > 0, 1.0 / mix.clamp(min=torch.finfo(mix.dtype).tiny), torch.zeros_like(mix))
    w = w / (p * w).sum()
    return w.to(prior.dtype if prior.is_floating_point() else torch.float64)


def pixel_weights(ab: torch.Tensor, weights: torch.Tensor, bins: torch.Tensor | None = None) -> torch.Tensor:
    """Per-pixel rebalancing factor ``v(Z_hw) = w_q*`` with ``q*`` the nearest bin (Eq. 2):
    ``(N, 2, H, W)`` ab -> ``(N, H, W)`` weights on ab's device."""
    idx = encode_nearest(ab, bins)
    Q = NUM_AB_BINS if bins is None else bins.shape[0]
    if not isinstance(weights, torch.Tensor) or weights.shape != (Q,):
        raise ValueError(f"weights must be a ({Q},) tensor from rebalance_weights.")
    return weights.to(idx.device)[idx]


# --------------------------------------------------------------------------------------------------
# From a predicted distribution to a colour (paper section 2.3, Eq. 5)
# --------------------------------------------------------------------------------------------------


def _log_probs(z: torch.Tensor, from_logits: bool) -> torch.Tensor:
    if from_logits:
        return torch.log_softmax(z, dim=-3)
    if z.numel() and (z < 0).any():
        raise ValueError("probabilities must be non-negative; pass from_logits=True for raw scores.")
    return torch.log(z.clamp(min=torch.finfo(z.dtype).tiny))


def annealed_mean(
    logits_or_probs: torch.Tensor,
    T: float = PAPER_T,
    bins: torch.Tensor | None = None,
    from_logits: bool = True,
) -> torch.Tensor:
    """The annealed mean H(Z) of Eq. 5: ``E[f_T(z)]`` with ``f_T(z) = softmax(log z / T)``.

    ``T = 1`` is the mean of the distribution (desaturated, "sepia"), ``T -> 0`` its mode (vivid but
    patchy); the paper uses ``T = 0.38`` (:data:`PAPER_T`). The released Caffe model multiplies
    the logits by 2.606, i.e. ``T = 1/2.606 ≈ 0.3838`` (:data:`CAFFE_T`). From logits, ``log z`` is
    ``log_softmax(logits)``, so ``f_T`` is simply ``softmax(logits / T)``.

    Args:
        logits_or_probs: ``(N, Q, H, W)`` class scores (logits, or probabilities with
            ``from_logits=False``).
        T: temperature > 0.
        bins: ``(Q, 2)`` bin centres, default the 313 ECCV16 bins.

    Returns:
        ``(N, 2, H, W)`` ab in Lab units, in the scores' dtype.
    """
    bins = _resolve_bins(bins)
    _check_scores(logits_or_probs, bins.shape[0], "logits_or_probs")
    T = _check_positive(T, "T")
    z = logits_or_probs
    probs = torch.softmax(_log_probs(z, from_logits) / T, dim=-3)
    return torch.einsum("...qhw,qc->...chw", probs, bins.to(z.device, z.dtype))


def distribution_mean(
    logits_or_probs: torch.Tensor, bins: torch.Tensor | None = None, from_logits: bool = True
) -> torch.Tensor:
    """Mean of the predicted distribution over bin centres (Eq. 5 with T = 1).

    ``(N, Q, H, W)`` -> ``(N, 2, H, W)``; desaturated where the distribution is multimodal.
    """
    return annealed_mean(logits_or_probs, T=1.0, bins=bins, from_logits=from_logits)


def distribution_mode(logits_or_probs: torch.Tensor, bins: torch.Tensor | None = None) -> torch.Tensor:
    """Centre of the most probable bin (the T -> 0 limit of Eq. 5): ``(N, Q, H, W)`` -> ``(N, 2, H, W)``.

    Works the same on logits or probabilities (argmax is unchanged by softmax).
    """
    bins = _resolve_bins(bins)
    _check_scores(logits_or_probs, bins.shape[0], "logits_or_probs")
    z = logits_or_probs
    return bins.to(z.device, z.dtype)[z.argmax(dim=-3)].movedim(-1, -3)
