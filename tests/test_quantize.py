"""Tests of reprolib.quantize: the 313 bins, soft-encoding, rebalancing, annealed mean."""

import hashlib
import time

import pytest
import torch

from reprolib import nearest_bins
from reprolib.color import rgb_to_lab
from reprolib.quantize import AB_BINS_TABLE, CAFFE_T, PAPER_T, ab_bins, annealed_mean, decode_index, distribution_mean, distribution_mode, empirical_prior, encode_nearest, grid_bins, in_gamut_grid, naive_gamut_bins, pixel_weights, rebalance_weights, smooth_prior, soft_encode, soft_encode_topk

# Per-a-row counts of pts_in_hull.npy as listed in reference-facts.md section 1.2 (a = -90 ... 100).
ROW_COUNTS = [5, 8, 10, 12, 14, 15, 16, 16, 17, 18, 18, 18, 19, 20, 19, 20, 20, 19, 19, 10]


def random_ab(*shape, scale=60.0, seed=0, dtype=torch.float64):
    """ab values spread over and beyond the gamut (some far outside it)."""
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(*shape, generator=gen, dtype=dtype) * 2 - 1) * scale * 2


def brute_force_soft(ab, k, sigma, bins):
    """The definition, written out: Gaussian weights over the k nearest bins, normalised.

    (Distances are taken relative to the nearest bin's, which cancels in the normalisation and
    keeps far-away points from underflowing to 0 / 0.)"""
    pts = ab.permute(0, 2, 3, 1).reshape(-1, 2).double()
    d2 = ((pts[:, None, :] - bins.double()[None]) ** 2).sum(-1)
    nearest = d2.argsort(dim=1)[:, :k]
    d2_k = d2.gather(1, nearest)
    w = torch.exp(-(d2_k - d2_k[:, :1]) / (2 * sigma**2))
    w = w / w.sum(1, keepdim=True)
    dense = torch.zeros(pts.shape[0], bins.shape[0], dtype=torch.float64).scatter_(1, nearest, w)
    N, _, H, W = ab.shape
    return dense.reshape(N, H, W, -1).permute(0, 3, 1, 2)


# ---------------------------------------------------------------------------------------------
# The bins
# ---------------------------------------------------------------------------------------------


def test_ab_bins_is_the_released_pts_in_hull():
    bins = ab_bins()
    assert bins.shape == (313, 2) and bins.dtype == torch.float32
    assert torch.equal(bins, torch.round(bins / 10) * 10)  # multiples of 10
    keys = bins[:, 0] * 1000 + bins[:, 1]
    assert (keys[1:] > keys[:-1]).all()  # a-major, strictly sorted
    a_values, counts = torch.unique(bins[:, 0], return_counts=True)
    assert a_values.tolist() == list(range(-90, 101, 10))
    assert counts.tolist() == ROW_COUNTS
    assert [row[0] for row in AB_BINS_TABLE] == list(range(-90, 101, 10))
    # byte-identical to the released pts_in_hull.npy (int64, 80-byte .npy v1.0 header, 5 088 bytes,
    # md5 from reference-facts.md section 1.2)
    header = "{'descr': '<i8', 'fortran_order': False, 'shape': (313, 2), }"
    header = header + " " * (80 - 10 - len(header) - 1) + "\n"
    npy = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode()
    npy += ab_bins(torch.float64).numpy().astype("<i8").tobytes()
    assert len(npy) == 5088
    assert hashlib.md5(npy).hexdigest() == "05c2729d850b5e4143b6fe53326066b5"


def test_grid_bins_and_in_gamut_mask():
    grid = grid_bins()
    assert grid.shape == (529, 2)
    a_idx, b_idx = 7, 15
    assert grid[a_idx * 23 + b_idx].tolist() == [-110 + 10 * a_idx, -110 + 10 * b_idx]
    mask = in_gamut_grid()
    assert mask.dtype == torch.bool and mask.shape == (529,) and int(mask.sum()) == 313
    assert torch.equal(grid[mask], ab_bins())


def test_naive_gamut_bins_close_to_but_not_the_313():
    t0 = time.perf_counter()
    naive = naive_gamut_bins()
    assert time.perf_counter() - t0 < 5
    released = {tuple(r) for r in ab_bins().long().tolist()}
    mine = {tuple(r) for r in naive.long().tolist()}
    assert mine <= released  # subset ...
    assert len(mine) == 309  # ... missing 4 (reference-facts.md section 1.2, rule (c))
    assert released - mine == {(40, 90), (100, -90), (100, -10), (100, 0)}
    assert len(naive_gamut_bins(rule="round")) == 261  # rule (a)
    # sampling only the cube's surface covers its interior: every colour of a coarse full cube
    # marks bins inside the surface-sampled set
    v = torch.linspace(0, 1, 9, dtype=torch.float64)
    cube = torch.stack(torch.meshgrid(v, v, v, indexing="ij"), -1).reshape(-1, 3)
    ab = rgb_to_lab(cube, dim=-1)[:, 1:] / 10
    corners = torch.cat([torch.floor(ab), torch.ceil(ab)]).long() * 10
    assert {tuple(r) for r in corners.tolist()} <= mine | released
    with pytest.raises(ValueError, match="rule"):
        naive_gamut_bins(rule="hull")


# ---------------------------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------------------------


def test_encode_nearest_on_bin_centres_and_random_points():
    bins = ab_bins()
    centres = bins.T.reshape(1, 2, 1, 313)
    idx = encode_nearest(centres)
    assert idx.dtype == torch.long and idx.shape == (1, 1, 313)
    assert torch.equal(idx[0, 0], torch.arange(313))
    assert torch.equal(decode_index(idx), centres)
    ab = random_ab(2, 2, 9, 11, seed=1)
    expected = torch.cdist(ab.permute(0, 2, 3, 1).reshape(-1, 2), bins.double()).argmin(1)
    assert torch.equal(encode_nearest(ab).reshape(-1), expected)
    assert encode_nearest(ab[0]).shape == (9, 11)  # (2, H, W) -> (H, W)


@pytest.mark.parametrize("k", [1, 5, 10])
def test_soft_encode_matches_the_definition(k):
    ab = random_ab(3, 2, 13, 17, seed=k)  # includes points far outside the gamut
    ab[0, :, 0, 0] = torch.tensor([400.0, -500.0], dtype=torch.float64)
    ours = soft_encode(ab, k=k, sigma=5.0)
    assert ours.shape == (3, 313, 13, 17) and ours.dtype == torch.float64
    assert torch.allclose(ours, brute_force_soft(ab, k, 5.0, ab_bins()), atol=1e-9)
    assert torch.allclose(ours.sum(1), torch.ones(3, 13, 17, dtype=torch.float64))
    assert ((ours > 0).sum(1) == k).all()  # exactly k non-zeros per pixel


def test_soft_encode_on_natural_colours_float32():
    gen = torch.Generator().manual_seed(3)
    ab = rgb_to_lab(torch.rand(2, 3, 20, 20, generator=gen))[:, 1:]
    ours = soft_encode(ab, k=10)
    assert ours.dtype == torch.float32
    assert torch.allclose(ours.double(), brute_force_soft(ab, 10, 5.0, ab_bins()), atol=1e-5)


def test_soft_encode_other_bins_chunks_and_sparse_form(monkeypatch):
    ab = random_ab(2, 2, 7, 5, seed=4)
    for bins in (grid_bins(), torch.randn(40, 2, generator=torch.Generator().manual_seed(0)) * 50):
        ours = soft_encode(ab, k=4, sigma=7.0, bins=bins)
        assert ours.shape == (2, bins.shape[0], 7, 5)
        assert torch.allclose(ours, brute_force_soft(ab, 4, 7.0, bins), atol=1e-6)
    whole = soft_encode(ab)
    monkeypatch.setattr(nearest_bins, "_CHUNK", 16)  # several chunks of pixels
    # Chunks of another length take other vector/scalar-tail paths (6.9e-18 apart with AVX-512): a fused
    # multiply-add in the SIMD body against separate rounding in the tail for the distances, exp and the
    # order of the normalising sum; each a few ulps, so each weight (<= 1) moves by < 1e-15: atol 1e-13.
    chunked = soft_encode(ab)
    assert torch.allclose(chunked, whole, rtol=0, atol=1e-13)
    assert torch.equal(chunked > 0, whole > 0)  # the same k nearest bins
    idx, w = soft_encode_topk(ab)
    assert idx.shape == w.shape == (2, 5, 7, 5)
    assert torch.allclose(torch.zeros_like(whole).scatter_(1, idx, w), whole, rtol=0, atol=1e-13)  # chunked, as above


def _lut_test_points(n: int, seed: int) -> torch.Tensor:
    """(n', 2) float64 ab points for the lookup-table tests: uniform over and well beyond the bins
    (the table covers their bounding box +- 10), points on the 0.5 grid (cell corners and edges,
    bisectors of neighbouring bins: exact ties), on the 5 grid (equidistant from 2 or 4 bins), just
    inside and outside the table's edges, and far away."""
    gen = torch.Generator().manual_seed(seed)
    uniform = (torch.rand(n, 2, generator=gen, dtype=torch.float64) * 2 - 1) * 140
    lo, hi = torch.tensor([-100.0, -120.0]), torch.tensor([110.0, 110.0])  # table edges (bins +- 10)
    t = torch.rand(n // 4, 1, generator=gen, dtype=torch.float64)
    eps = torch.tensor([1e-9, -1e-9, 0.0], dtype=torch.float64)[torch.randint(3, (n // 4, 2), generator=gen)]
    edges = torch.cat([
        torch.cat([lo[0] + eps[:, :1], lo[1] + (hi[1] - lo[1]) * t], 1),
        torch.cat([hi[0] + eps[:, :1], lo[1] + (hi[1] - lo[1]) * t], 1),
        torch.cat([lo[0] + (hi[0] - lo[0]) * t, lo[1] + eps[:, 1:]], 1),
        torch.cat([lo[0] + (hi[0] - lo[0]) * t, hi[1] + eps[:, 1:]], 1),
    ])  # fmt: skip
    far = torch.tensor([[400.0, -500.0], [-1e4, 3.0], [0.0, 1e6]], dtype=torch.float64)
    return torch.cat([uniform, torch.round(uniform * 2) / 2, torch.round(uniform / 5) * 5, edges, far])


@pytest.mark.parametrize("k", [5, 10])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_lookup_table_knn_equals_brute_force(k, dtype):
    pts = _lut_test_points(6000, seed=k).to(dtype)
    bins = ab_bins(dtype)
    idx, w = soft_encode_topk(pts.T.reshape(1, 2, 1, -1), k=k)
    idx, w = idx.reshape(k, -1).T, w.reshape(k, -1).T
    # brute force: all Q distances, written out
    d2 = ((pts[:, None, :] - bins[None]) ** 2).sum(-1)
    nearest = d2.sort(dim=1).values[:, :k]
    # the same k smallest distances (a different pick is only possible among exact ties) ...
    assert torch.equal(d2.gather(1, idx).sort(dim=1).values, nearest)
    assert (idx.sort(1).values.diff(dim=1) > 0).all()  # ... from k distinct bins
    # and the weights of the definition, from exact (float64) distances: up to the rounding of
    # d^2 in `dtype` (relative eps, so far-away points get a looser bound)
    d2_k = ((pts.double()[:, None, :] - bins.double()[idx]) ** 2).sum(-1)
    ref = torch.exp(-(d2_k - d2_k.min(1, keepdim=True).values) / (2 * 5.0**2))
    ref = ref / ref.sum(1, keepdim=True)
    tol = 1e-12 + 8 * torch.finfo(dtype).eps * d2_k.max(1, keepdim=True).values / (2 * 5.0**2)
    assert ((w.double() - ref).abs() <= tol).all()


def test_lookup_table_other_bins_and_large_k():
    gen = torch.Generator().manual_seed(7)
    ab = (torch.rand(1, 2, 40, 50, generator=gen, dtype=torch.float64) * 2 - 1) * 180
    ab[..., ::7, ::3] = torch.round(ab[..., ::7, ::3] / 5) * 5  # some exact ties
    random_bins = torch.randn(60, 2, generator=gen, dtype=torch.float64) * 40
    for bins, k in ((random_bins, 3), (random_bins, 7), (grid_bins(torch.float64), 10), (ab_bins(torch.float64), 40)):
        idx, _ = soft_encode_topk(ab, k=k, bins=bins)
        pts = ab.permute(0, 2, 3, 1).reshape(-1, 2)
        d2 = ((pts[:, None, :] - bins[None]) ** 2).sum(-1)
        got = d2.gather(1, idx.permute(0, 2, 3, 1).reshape(-1, k)).sort(dim=1).values
        assert torch.equal(got, d2.sort(dim=1).values[:, :k]), (bins.shape, k)


def test_lookup_table_cached_by_bin_values_and_brute_force_only_outside(monkeypatch):
    builds, brute = [], []
    build, brute_knn = nearest_bins._build_table, nearest_bins._brute_knn
    monkeypatch.setattr(nearest_bins, "_TABLE_CACHE", {})
    monkeypatch.setattr(nearest_bins, "_build_table", lambda *a: builds.append(1) or build(*a))
    monkeypatch.setattr(nearest_bins, "_brute_knn", lambda x, *a: brute.append(x.numel()) or brute_knn(x, *a))
    bins = torch.randn(30, 2, generator=torch.Generator().manual_seed(11)) * 30
    ab = torch.zeros(1, 2, 3, 4)
    ab[0, :, 0, 0] = torch.tensor([500.0, 0.0])  # the one point outside the table
    for _ in range(3):  # fresh tensors with the same values: one table
        soft_encode_topk(ab, k=6, bins=bins.clone())
    assert len(builds) == 1
    assert brute == [1, 1, 1]  # brute force for the outside point only
    soft_encode_topk(ab, k=6, bins=bins + 1.0)  # other values: a new table
    assert len(builds) == 2


def test_soft_encode_tiny_sigma_is_one_hot():
    ab = random_ab(2, 2, 6, 6, seed=5, scale=50)
    hard = soft_encode(ab, k=5, sigma=1e-3)
    one_hot = torch.nn.functional.one_hot(encode_nearest(ab), 313).permute(0, 3, 1, 2).double()
    assert torch.equal(hard, one_hot)


def test_encoding_errors():
    with pytest.raises(ValueError, match=r"\(N, 2, H, W\)"):
        soft_encode(torch.zeros(1, 3, 4, 4))
    with pytest.raises(TypeError, match="floating"):
        encode_nearest(torch.zeros(1, 2, 4, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="k must be"):
        soft_encode(torch.zeros(1, 2, 4, 4), k=0)
    with pytest.raises(ValueError, match="sigma"):
        soft_encode(torch.zeros(1, 2, 4, 4), sigma=0.0)
    with pytest.raises(ValueError, match="NaN"):
        encode_nearest(torch.full((1, 2, 2, 2), float("nan")))
    with pytest.raises(ValueError, match=r"\(Q, 2\)"):
        encode_nearest(torch.zeros(1, 2, 2, 2), bins=torch.zeros(5, 3))


# ---------------------------------------------------------------------------------------------
# Class rebalancing
# ---------------------------------------------------------------------------------------------


def test_empirical_prior_counts_and_smoothing():
    bins = ab_bins()
    q = 150
    ab = bins[q].reshape(1, 2, 1, 1).expand(3, 2, 4, 4).contiguous()
    raw = empirical_prior(ab, smooth=False)
    assert raw.shape == (313,) and raw[q] == 1 and raw.sum() == 1
    smooth = empirical_prior(ab, sigma=5.0)
    assert torch.isclose(smooth.sum(), torch.tensor(1.0, dtype=torch.float64))
    assert int(smooth.argmax()) == q
    # a neighbour 10 away gets exp(-10^2 / (2 * 5^2)) = exp(-2) of the centre's mass
    neighbour = int(((bins - bins[q] - torch.tensor([10.0, 0.0])).abs().sum(1)).argmin())
    assert torch.isclose(smooth[neighbour] / smooth[q], torch.exp(torch.tensor(-2.0, dtype=torch.float64)))
    # an iterable of batches gives the counts of their concatenation
    batches = [random_ab(2, 2, 5, 5, seed=s, scale=40, dtype=torch.float32) for s in range(3)]
    assert torch.allclose(empirical_prior(iter(batches)), empirical_prior(torch.cat(batches)))
    with pytest.raises(ValueError, match="empty"):
        empirical_prior([])


def test_smooth_prior_keeps_mass_inside_the_gamut():
    corner = torch.zeros(313, dtype=torch.float64)
    corner[0] = 1.0  # (-90, 50): an edge bin
    assert torch.isclose(smooth_prior(corner).sum(), torch.tensor(1.0, dtype=torch.float64))
    assert int(smooth_prior(corner).argmax()) == 0


def test_rebalance_weights_eq4():
    gen = torch.Generator().manual_seed(0)
    prior = torch.rand(313, generator=gen, dtype=torch.float64) ** 4
    prior /= prior.sum()
    for lam in (0.0, 0.25, 0.5, 1.0):
        w = rebalance_weights(prior, lam)
        assert torch.isclose((prior * w).sum(), torch.tensor(1.0, dtype=torch.float64))  # E[w] = 1
    assert torch.allclose(rebalance_weights(prior, 1.0), torch.ones(313, dtype=torch.float64))
    w = rebalance_weights(prior, 0.5)
    order = prior.argsort()
    assert (w[order][1:] <= w[order][:-1]).all()  # rarer bins get larger weights
    # the paper's formula, written out
    expected = 1 / (0.5 * prior + 0.5 / 313)
    assert torch.allclose(w, expected / (prior * expected).sum())


def test_rebalance_weights_lambda_zero_with_empty_bins():
    prior = torch.zeros(313, dtype=torch.float64)
    prior[[3, 10, 200]] = torch.tensor([0.7, 0.2, 0.1], dtype=torch.float64)
    w = rebalance_weights(prior, lam=0.0)
    assert torch.isfinite(w).all()
    assert (w[prior == 0] == 0).all()  # empty bins get weight 0
    assert torch.allclose(prior[[3, 10, 200]] * w[[3, 10, 200]], torch.full((3,), 1 / 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="lam"):
        rebalance_weights(prior, lam=1.5)
    with pytest.raises(ValueError, match="non-negative"):
        rebalance_weights(-prior)


def test_pixel_weights_use_the_nearest_bin():
    prior = empirical_prior(random_ab(2, 2, 8, 8, seed=6, scale=30))
    w = rebalance_weights(prior)
    ab = random_ab(1, 2, 4, 4, seed=7, scale=30)
    assert torch.equal(pixel_weights(ab, w), w[encode_nearest(ab)])


# ---------------------------------------------------------------------------------------------
# Annealed mean
# ---------------------------------------------------------------------------------------------


def test_annealed_mean_limits_and_identities():
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 313, 3, 4, generator=gen, dtype=torch.float64) * 3
    bins = ab_bins(torch.float64)
    probs = torch.softmax(logits, dim=1)
    mean = torch.einsum("nqhw,qc->nchw", probs, bins)
    assert torch.allclose(annealed_mean(logits, T=1.0), mean)  # T = 1: the mean
    assert torch.allclose(distribution_mean(logits), mean)
    mode = bins[logits.argmax(1)].permute(0, 3, 1, 2)
    assert torch.equal(distribution_mode(logits), mode)
    assert torch.allclose(annealed_mean(logits, T=1e-3), mode, atol=1e-6)  # T -> 0: the mode
    # from probabilities, Eq. 5 as written (log z / T) gives the same
    from_probs = annealed_mean(probs, T=PAPER_T, from_logits=False)
    assert torch.allclose(from_probs, annealed_mean(logits, T=PAPER_T))
    # the Caffe model's trick: scaling logits by 1/T then taking the plain mean is the annealed mean
    assert torch.allclose(distribution_mean(logits / CAFFE_T), annealed_mean(logits, T=CAFFE_T))
    assert abs(CAFFE_T - 0.3837) < 1e-4 and PAPER_T == 0.38
    assert annealed_mean(logits[0], T=PAPER_T).shape == (2, 3, 4)


def test_annealed_mean_validation():
    logits = torch.zeros(1, 313, 2, 2)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="T must be"):
            annealed_mean(logits, T=bad)
    with pytest.raises(ValueError, match="Q = 313"):
        annealed_mean(torch.zeros(1, 312, 2, 2))
    with pytest.raises(ValueError, match="non-negative"):
        annealed_mean(-torch.ones(1, 313, 2, 2), from_logits=False)
