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

import numpy as np
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
    if ab.numel() and not all(map(math.isfinite, torch.stack(ab.aminmax()).tolist())):  # NaN propagates
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
# k nearest bins, exactly, with a lookup table
# --------------------------------------------------------------------------------------------------
#
# Brute force compares every pixel with all Q bins and partially sorts Q distances per pixel: slow on
# a CPU. The bins are fixed, so once per (bins, k) we cut the ab plane into 1 x 1 cells and store, per
# cell, the few bins that can be among the k nearest of a point in it (an exact superset):
#
# 1. pre-selection: if R is the k-th smallest *farthest* distance from the cell to a bin, every point
#    of the cell has k bins within R, so only bins whose *nearest* distance to the cell is <= R
#    qualify (first for 16 x 16 blocks of cells over all Q bins, then per cell among its block's);
# 2. dominance: d(x, c)^2 - d(x, b)^2 is affine in x, so over a cell it ranges over its value at the
#    centre +- s * L1(c - b) (s: the cell side). A bin that k others are at least as close as
#    everywhere in the cell is never needed and is dropped (ties broken by index);
# 3. of the m kept bins, one that at most k - 1 others are *somewhere* at least as close as is
#    "certain": never the farthest of k + 1. The others are "contested".
#
# For the 313 bins, m is k or k + 1 in most cells. A table row holds k + 1 candidates, certain ones
# first, then the contested ones, then a sentinel (index Q, a bin far away) if m = k. Per pixel:
# gather its cell's row, k + 1 squared distances, and drop the farthest of the last _WINDOW rows
# (amax, a running "seen" mask and a shift with lerp): a few elementwise ops over all pixels, no sort.
# Cells with more than k + 1 candidates, or more contested ones than the window holds, are cut into
# 4 x 4 sub-cells (fewer of both); the few sub-cells that still do not fit (they contain points
# equidistant from many bins) use torch.topk over their list, and points outside the table (the
# bins' bounding box + _MARGIN) brute force. Cell indices are exact (cell sides are powers of two,
# so floor(x / s) has no rounding), hence the result is the brute-force one up to ties. A table
# takes ~0.1-0.5 s to build and is cached by the bins' values (so explicitly passed bins are cached
# too).

_CELL = 1.0  # cell side in ab units (a power of two); doubled while the table has > _MAX_CELLS cells
_MAX_CELLS = 1 << 18
_BLOCK = 16  # cells per side of a pre-selection block
_MARGIN = 10.0  # the table covers the bins' bounding box plus this margin (ab units)
_WINDOW = 3  # the farthest candidate is looked for among the last _WINDOW of a row
_REFINE = 4  # bad cells are cut into _REFINE x _REFINE sub-cells (a power of two)
_MAX_K = 32  # above this k, brute force (the table would hold k + 1 candidates per cell)
_CHUNK = 1 << 18  # pixels per chunk: bounds the working memory
_TABLE_CACHE: dict = {}  # (bins bytes, k) -> table; (bins bytes, k, device, dtype) -> its copy


def _square_d2(x0, y0, size: float, ba, bb):
    """Smallest and largest squared distance between squares ``[x0, x0 + size] x [y0, y0 + size]``
    (``x0``, ``y0``: (R, 1)) and points ``(ba, bb)``, (R, M) each."""
    x1, y1 = x0 + size, y0 + size
    near_a = (x0 - ba).clamp(min=0) + (ba - x1).clamp(min=0)
    near_b = (y0 - bb).clamp(min=0) + (bb - y1).clamp(min=0)
    far_a = torch.maximum((ba - x0).abs(), (ba - x1).abs())
    far_b = torch.maximum((bb - y0).abs(), (bb - y1).abs())
    return near_a**2 + near_b**2, far_a**2 + far_b**2


def _preselect(x0, y0, size: float, cand, pad, k: int):
    """Bins among ``cand`` (R, M) (index Q = sentinel) that can be among the k nearest somewhere in
    the squares of corner ``(x0, y0)`` (R,): (R, M') indices sorted by distance to the square's
    centre, sentinel-padded, and the (R, M') mask of real ones."""
    Q = pad.shape[0] - 1
    ba, bb = pad[cand, 0], pad[cand, 1]
    near, far = _square_d2(x0[:, None], y0[:, None], size, ba, bb)
    keep = (near <= far.kthvalue(k, dim=1, keepdim=True).values) & (cand < Q)
    centre = (ba - (x0[:, None] + size / 2)) ** 2 + (bb - (y0[:, None] + size / 2)) ** 2
    order = torch.where(keep, centre, torch.inf).topk(int(keep.sum(1).max()), dim=1, largest=False).indices
    keep = keep.gather(1, order)
    return torch.where(keep, cand.gather(1, order), Q), keep


def _cell_lists(x0, y0, size: float, cand, pad, k: int):
    """Candidate lists of the squares of side ``size`` and corner ``(x0, y0)`` (R,), from supersets
    ``cand`` (R, M) (index Q = sentinel). Returns the (R, M') lists (certain bins, then contested
    ones, then sentinels; each group by distance to the square's centre), the number of kept bins m
    (R,) and of contested ones (R,)."""
    Q = pad.shape[0] - 1
    cand, real = _preselect(x0, y0, size, cand, pad, k)
    # g[r, c, b] = d(centre, c)^2 - d(centre, b)^2; over the square it varies by +- span[r, c, b]
    ca, cb = pad[cand, 0], pad[cand, 1]
    d2 = (ca - (x0 + size / 2)[:, None]) ** 2 + (cb - (y0 + size / 2)[:, None]) ** 2
    g = d2[:, :, None] - d2[:, None, :]
    span = size * ((ca[:, :, None] - ca[:, None, :]).abs() + (cb[:, :, None] - cb[:, None, :]).abs())
    lower = cand[:, :, None] < cand[:, None, :]
    beats = (g + span <= 0) & ((g - span < 0) | lower) & real[:, :, None]  # c as close as b everywhere
    kept = real & (beats.sum(1) < k)
    other = ~torch.eye(cand.shape[1], dtype=torch.bool)
    ever = ((g - span <= 0) & kept[:, :, None] & other).sum(1)  # kept bins somewhere as close as b
    contested = kept & (ever >= k)
    M = cand.shape[1]
    order = (torch.where(kept, contested.long() * M, 2 * M) + torch.arange(M)).argsort(dim=1)
    lists = torch.where(kept.gather(1, order), cand.gather(1, order), Q)
    return lists, kept.sum(1), contested.sum(1)


def _pad_to(x: torch.Tensor, width: int, value: int) -> torch.Tensor:
    return torch.nn.functional.pad(x[:, :width], (0, max(0, width - x.shape[1])), value=value)


def _build_table(bins64: torch.Tensor, k: int) -> dict:
    """The candidate table of ``bins64`` (Q, 2) float64 for k neighbours (see the comment above)."""
    Q = bins64.shape[0]
    lo0, hi0 = bins64.min(0).values - _MARGIN, bins64.max(0).values + _MARGIN
    s = _CELL
    while True:  # cells of side s, blocks of side S = _BLOCK * s, aligned on multiples of S
        S = s * _BLOCK
        lo, hi = torch.floor(lo0 / S) * S, torch.ceil(hi0 / S) * S
        nb0, nb1 = ((hi - lo) / S).round().long().tolist()
        if nb0 * nb1 * _BLOCK**2 <= _MAX_CELLS:
            break
        s *= 2
    n0, n1 = nb0 * _BLOCK, nb1 * _BLOCK
    sentinel = 4.0 * float(torch.cat([lo.abs(), hi.abs()]).max()) + 1.0  # farther than any bin
    pad = torch.cat([bins64, torch.full((1, 2), sentinel, dtype=torch.float64)])

    bi, bj = (v.reshape(-1) for v in torch.meshgrid(torch.arange(nb0), torch.arange(nb1), indexing="ij"))
    blocks, _ = _preselect(lo[0] + S * bi, lo[1] + S * bj, S, torch.arange(Q).expand(bi.numel(), Q), pad, k)

    def lists_of(x0, y0, size, parents):  # _cell_lists in chunks of cells (bounded memory)
        if x0.numel() == 0:
            return parents[:, :0], parents.new_zeros(0), parents.new_zeros(0)
        step = max(1, (1 << 20) // parents.shape[1] ** 2)
        out = [_cell_lists(x0[i : i + step], y0[i : i + step], size, parents[i : i + step], pad, k)
               for i in range(0, x0.shape[0], step)]  # fmt: skip
        width = max(int(o[1].max()) for o in out)
        return tuple(torch.cat(z) for z in zip(*[(_pad_to(a, width, Q), b, c) for a, b, c in out]))

    ncells = n0 * n1
    c = torch.arange(ncells)
    i, j = c // n1, c % n1
    lists, m, contested = lists_of(lo[0] + s * i, lo[1] + s * j, s, blocks[(i // _BLOCK) * nb1 + j // _BLOCK])
    L, window = k + 1, min(_WINDOW, k + 1)

    def bad(m, contested):  # more than L candidates, or contested ones outside the window
        return (m > L) | (contested > window)

    # refine the bad cells into R x R sub-cells (their lists are supersets for the sub-cells)
    R = _REFINE
    coarse = bad(m, contested).nonzero().squeeze(1)
    u, v = (z.reshape(-1) for z in torch.meshgrid(torch.arange(R), torch.arange(R), indexing="ij"))
    parent = coarse.repeat_interleave(R * R)
    su, sv = u.repeat(coarse.numel()), v.repeat(coarse.numel())
    x0, y0 = lo[0] + s * (parent // n1) + s / R * su, lo[1] + s * (parent % n1) + s / R * sv
    sub_lists, sub_m, sub_contested = lists_of(x0, y0, s / R, lists[parent])
    # a fine grid of R x R sub-cells per cell maps to the table's rows: the cell's own or its sub-cell's
    fi, fj = (z.reshape(-1) for z in torch.meshgrid(torch.arange(n0 * R), torch.arange(n1 * R), indexing="ij"))
    cellmap = ((fi // R) * n1 + fj // R).reshape(n0 * R, n1 * R)
    cellmap[(parent // n1) * R + su, (parent % n1) * R + sv] = ncells + torch.arange(parent.numel())
    width = max(lists.shape[1], sub_lists.shape[1])
    rows = torch.cat([_pad_to(lists, width, Q), _pad_to(sub_lists, width, Q)])
    overflow = bad(torch.cat([m, sub_m]), torch.cat([contested, sub_contested]))
    overflow[coarse] = False  # refined cells' own rows are never used
    # the rows that still overflow go last (row >= n_good): one comparison finds their pixels
    order = torch.argsort(overflow.to(torch.int8), stable=True)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(order.numel())
    rows, n_good = rows[order], int((~overflow).sum())
    return {
        "inv": R / s, "n0": n0 * R, "n1": n1 * R,
        "i0": int(round(float(lo[0]) * R / s)), "j0": int(round(float(lo[1]) * R / s)),
        "cellmap": rank[cellmap.reshape(-1)], "rows": _pad_to(rows, L, Q).T.contiguous(),
        "window": window, "n_good": n_good, "wide": rows[n_good:], "pad": pad,
    }  # fmt: skip


def _tables(bins: torch.Tensor, k: int) -> dict:
    """The candidate table of ``bins`` for k neighbours, on bins' device and in its dtype (cached)."""
    bins64 = bins.detach().to("cpu", torch.float64)
    raw = bins64.numpy().tobytes()
    key = (raw, k, bins.device, bins.dtype)
    if key not in _TABLE_CACHE:
        if (raw, k) not in _TABLE_CACHE:
            _TABLE_CACHE[(raw, k)] = _build_table(bins64, k)
        t = dict(_TABLE_CACHE[(raw, k)])
        dev, dt = bins.device, bins.dtype
        for name in ("wide", "cellmap"):
            t[name] = t[name].to(dev)
        t["pad_a"], t["pad_b"] = (t["pad"][:, i].to(dev, dt).contiguous() for i in (0, 1))
        # per candidate, (candidates, rows) tables: a then b (2L), the index of the first L - W
        # (int64) and of the last W (as floats: exact)
        rows = t.pop("rows").to(dev)
        certain = k + 1 - t["window"]
        t["ab"] = torch.cat([t["pad_a"][rows], t["pad_b"][rows]])
        t["idx"], t["idx_f"] = rows[:certain].contiguous(), rows[certain:].to(dt)
        while len(_TABLE_CACHE) >= 16:  # keep a few tables (~25 MB each for k = 10): drop the oldest
            _TABLE_CACHE.pop(next(iter(_TABLE_CACHE)))
        _TABLE_CACHE[key] = t
    return _TABLE_CACHE[key]


def _brute_knn(x, y, bins, k: int):
    """k nearest of all bins for points ``x``, ``y`` (M,): squared distances and indices, (k, M)."""
    d2 = torch.empty(k, x.shape[0], dtype=x.dtype, device=x.device)
    idx = torch.empty(k, x.shape[0], dtype=torch.long, device=x.device)
    step = max(1, (1 << 22) // bins.shape[0])
    for s in range(0, x.shape[0], step):
        e = min(s + step, x.shape[0])
        d2_all = (x[s:e, None] - bins[:, 0]) ** 2 + (y[s:e, None] - bins[:, 1]) ** 2  # (m, Q)
        best, which = d2_all.topk(k, dim=1, largest=False)
        d2[:, s:e], idx[:, s:e] = best.T, which.T
    return d2, idx


def _soft_weights(d2: torch.Tensor, sigma: float, out: torch.Tensor) -> None:
    """Gaussian weights exp(-d2 / (2 sigma^2)) of squared distances ``d2`` (k, p), normalised over
    k, into ``out`` (d2 is overwritten). A softmax, relative to the nearest bin, so far-away points
    and tiny sigmas give no 0 / 0; computed as 2^(...) (exp2 is twice as fast as exp on a CPU)."""
    d2.sub_(d2.amin(0, keepdim=True)).mul_(-0.5 / sigma**2 / math.log(2)).exp2_()
    torch.div(d2, d2.sum(0, keepdim=True), out=out)


def _table_knn(x, y, t: dict, k: int, bins, idx, out, sigma):
    """k nearest bins of points ``x``, ``y`` (p,) with table ``t``: their indices into ``idx`` (k, p)
    and, into ``out`` (k, p), their squared distances (``sigma`` None) or Gaussian weights."""
    W, n0, n1, i0, j0 = t["window"], t["n0"], t["n1"], t["i0"], t["j0"]
    L, p = k + 1, x.shape[0]
    if t["inv"] == 1.0:
        fi, fj = torch.floor(x), torch.floor(y)
    else:  # exact: 1 / s is a power of two
        fi, fj = torch.floor(x * t["inv"]), torch.floor(y * t["inv"])
    (xmin, xmax), (ymin, ymax) = fi.aminmax(), fj.aminmax()
    inside = None
    if not (xmin >= i0 and xmax < i0 + n0 and ymin >= j0 and ymax < j0 + n1):
        inside = (fi >= i0) & (fi < i0 + n0) & (fj >= j0) & (fj < j0 + n1)
        fi, fj = fi.clamp_(i0, i0 + n0 - 1), fj.clamp_(j0, j0 + n1 - 1)
    flat = fi.mul_(n1).add_(fj).sub_(i0 * n1 + j0).long()  # small integers: exact in float32
    row = t["cellmap"].index_select(0, flat)  # the table row of the (sub-)cell
    # the L = k + 1 candidates' squared distances (L, p) and indices (k, p): int64 for the first
    # L - W (certain bins, kept as they are), floats for the last W (exact, and lerp-able below). A
    # 2-D gather with an expanded index is one parallel op for all candidates.
    coords = torch.gather(t["ab"], 1, row.expand(2 * L, p))  # a then b of the L candidates
    d2 = coords[:L].sub_(x).square_().addcmul_(coords[L:].sub_(y), coords[L:])
    torch.gather(t["idx"], 1, row.expand(L - W, p), out=idx[: L - W])
    win, cand = d2[L - W :], torch.gather(t["idx_f"], 1, row.expand(W, p))
    # drop the farthest row of the window (the first one on ties) by shifting the rows after it up
    # one. The mask is 0/1 floats and the shift a lerp with weight 0 or 1 (exact, and much faster
    # than torch.where on a CPU).
    seen = torch.ge(win[:-1], win.amax(0), out=torch.empty_like(win[:-1]))  # row r is the farthest...
    for r in range(1, W - 1):
        torch.maximum(seen[r], seen[r - 1], out=seen[r])  # ... or one before it is
    win, cand = torch.lerp(win[:-1], win[1:], seen), torch.lerp(cand[:-1], cand[1:], seen)
    d2 = d2[:k]
    d2[L - W :], idx[L - W :] = win, cand
    n_good = t["n_good"]
    if t["wide"].shape[0] and int(row.max()) >= n_good:  # cells that overflow: topk over their list
        sel = (row >= n_good).nonzero().squeeze(1)
        if sel.numel():
            rows = t["wide"].index_select(0, row.index_select(0, sel) - n_good)
            M, C = rows.shape
            d2_w = t["pad_a"].index_select(0, rows.view(-1)).view(M, C).sub_(x.index_select(0, sel)[:, None])
            db_w = t["pad_b"].index_select(0, rows.view(-1)).view(M, C).sub_(y.index_select(0, sel)[:, None])
            best, which = d2_w.square_().addcmul_(db_w, db_w).topk(k, dim=1, largest=False)
            d2.index_copy_(1, sel, best.T)
            idx.index_copy_(1, sel, rows.gather(1, which).T)
    if inside is not None:  # outside the table: brute force
        far = (~inside).nonzero().squeeze(1)
        d2_f, idx_f = _brute_knn(x.index_select(0, far), y.index_select(0, far), bins, k)
        d2.index_copy_(1, far, d2_f)
        idx.index_copy_(1, far, idx_f)
    if sigma is None:
        out.copy_(d2)
    else:
        _soft_weights(d2, sigma, out)


def _knn_flat(pts: torch.Tensor, bins: torch.Tensor, k: int, sigma: float | None):
    """k nearest bins of points ``pts`` (2, P), in no particular order: (values, indices), both
    (k, P); values are squared distances, or with ``sigma`` the soft-encoding weights."""
    P = pts.shape[1]
    t = _tables(bins, k) if k <= _MAX_K and bins.shape[0] < (1 << 24) else None
    if t is None or P == 0:  # (float indices are exact below 2^24)
        d2, idx = _brute_knn(pts[0], pts[1], bins, k)
        if sigma is not None:
            _soft_weights(d2, sigma, d2)
        return d2, idx
    out = torch.empty(k, P, dtype=pts.dtype, device=pts.device)
    idx = torch.empty(k, P, dtype=torch.long, device=pts.device)
    for s in range(0, P, _CHUNK):  # chunks keep the temporaries small (and in cache)
        e = min(s + _CHUNK, P)
        _table_knn(pts[0, s:e], pts[1, s:e], t, k, bins, idx[:, s:e], out[:, s:e], sigma)
    return out, idx


def _knn(ab: torch.Tensor, bins, k: int, sigma: float | None = None):
    """k nearest bins of every pixel of ``ab`` (..., 2, H, W): (values, idx), each (..., k, H, W), and
    Q. Values are squared distances, or with ``sigma`` the soft-encoding weights."""
    if bins is None:  # the 313 bins, cached per device and dtype (saves rebuilding them per call)
        key = ("default bins", ab.device, _work_dtype(ab))
        if key not in _TABLE_CACHE:
            _TABLE_CACHE[key] = ab_bins(_work_dtype(ab), ab.device)
        bins = _TABLE_CACHE[key]
    else:
        bins = _resolve_bins(bins, ab)
    Q = bins.shape[0]
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= Q:
        raise ValueError(f"k must be an integer in [1, Q={Q}], got {k!r}.")
    lead, (H, W) = ab.shape[:-3], ab.shape[-2:]
    B = math.prod(lead)
    pts = ab.detach().to(bins.dtype).reshape(B, 2, H * W).transpose(0, 1).reshape(2, -1)  # (2, P)
    values, idx = _knn_flat(pts, bins.detach(), k, sigma)

    def back(v):  # (k, B*H*W) -> (..., k, H, W)
        return v.reshape(k, B, H, W).transpose(0, 1).reshape(*lead, k, H, W)

    return back(values), back(idx), Q


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
    weights, idx, _ = _knn(ab, bins, k, sigma)
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
    out = _zeros((*ab.shape[:-3], Q, *ab.shape[-2:]), ab.dtype, ab.device)
    return out.scatter_(-3, idx, weights)


_NUMPY_DTYPES = {torch.float16: np.float16, torch.float32: np.float32, torch.float64: np.float64}


def _zeros(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``torch.zeros``, but on the CPU from ``numpy.zeros`` (calloc): for a large array the OS hands
    out pages that are already zero, so only the pages the scatter then writes are ever touched.
    ``torch.zeros`` first writes every byte (157 MB for a 40 x 313 x 56 x 56 float32 target), which
    costs more than the whole soft-encoding."""
    if device.type == "cpu" and dtype in _NUMPY_DTYPES:
        return torch.from_numpy(np.zeros(shape, dtype=_NUMPY_DTYPES[dtype]))
    return torch.zeros(shape, dtype=dtype, device=device)


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
