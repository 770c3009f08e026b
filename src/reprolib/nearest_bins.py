"""The k nearest ab bins of every pixel, exactly, fast on a CPU: what soft-encoding (Eq. 2 of Zhang et al.
2016) and nearest-bin encoding need; :func:`knn_flat` is the entry point (:mod:`reprolib.quantize` calls it).

Brute force compares every pixel with all Q bins and partially sorts Q distances per pixel: slow on
a CPU. The bins are fixed, so once per (bins, k) we cut the ab plane into 1 x 1 cells and store, per
cell, the few bins that can be among the k nearest of a point in it (an exact superset):

1. pre-selection: if R is the k-th smallest *farthest* distance from the cell to a bin, every point
   of the cell has k bins within R, so only bins whose *nearest* distance to the cell is <= R
   qualify (first for 16 x 16 blocks of cells over all Q bins, then per cell among its block's);
2. dominance: d(x, c)^2 - d(x, b)^2 is affine in x, so over a cell it ranges over its value at the
   centre +- s * L1(c - b) (s: the cell side). A bin that k others are at least as close as
   everywhere in the cell is never needed and is dropped (ties broken by index);
3. of the m kept bins, one that at most k - 1 others are *somewhere* at least as close as is
   "certain": never the farthest of k + 1. The others are "contested".

For the 313 bins, m is k or k + 1 in most cells. A table row holds k + 1 candidates, certain ones
first, then the contested ones, then a sentinel (index Q, a bin far away) if m = k. Per pixel:
gather its cell's row, k + 1 squared distances, and drop the farthest of the last ``_WINDOW`` rows
(amax, a running "seen" mask and a shift with lerp): a few elementwise ops over all pixels, no sort.
Cells with more than k + 1 candidates, or more contested ones than the window holds, are cut into
4 x 4 sub-cells (fewer of both); the few sub-cells that still do not fit (they contain points
equidistant from many bins) use torch.topk over their list, and points outside the table (the
bins' bounding box + ``_MARGIN``) brute force. Cell indices are exact (cell sides are powers of two,
so floor(x / s) has no rounding), hence the result is the brute-force one up to ties. A table
takes ~0.1-0.5 s to build and is cached by the bins' values (so explicitly passed bins are cached
too).
"""

from __future__ import annotations

import math

import torch

_TABLE_CACHE: dict = {}  # (bins bytes, k) -> table; (bins bytes, k, device, dtype) -> its copy


_CELL = 1.0  # cell side in ab units (a power of two); doubled while the table has > _MAX_CELLS cells
_MAX_CELLS = 1 << 18
_BLOCK = 16  # cells per side of a pre-selection block
_MARGIN = 10.0  # the table covers the bins' bounding box plus this margin (ab units)
_WINDOW = 3  # the farthest candidate is looked for among the last _WINDOW of a row
_REFINE = 4  # bad cells are cut into _REFINE x _REFINE sub-cells (a power of two)
_MAX_K = 32  # above this k, brute force (the table would hold k + 1 candidates per cell)
_CHUNK = 1 << 18  # pixels per chunk: bounds the working memory


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


def knn_flat(pts: torch.Tensor, bins: torch.Tensor, k: int, sigma: float | None):
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
