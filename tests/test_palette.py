"""The data-driven colour palette (thesis section 3.3.2): softening, weighted k-means, bin order."""

import math

import pytest
import torch
from torch.nn import functional as F

from reprolib.chapters.user_guided.palette import (
    PALETTE_T,
    distribution_at,
    palette_bins,
    soften,
    suggest_colors,
    weighted_kmeans,
)
from reprolib.quantize import ab_bins, grid_bins


def grid_index(a: float, b: float) -> int:
    return int(round((a + 110) / 10)) * 23 + int(round((b + 110) / 10))


def test_two_point_modes_come_back_with_their_probabilities():
    p = torch.zeros(529)
    p[grid_index(50, 30)] = 0.7
    p[grid_index(-40, -60)] = 0.3
    pal = suggest_colors(p, T=1.0, from_logits=False)  # K = 9 > 2 non-zero bins
    # each centre is a float64 weighted mean (w b) / w of exp(log p)-softened weights: exact b is not
    # promised by IEEE arithmetic, a few ulp(110) ~ 1e-14 is; 1e-9 is far below the 10-unit bin spacing
    want = torch.tensor([[50.0, 30.0], [-40.0, -60.0]], dtype=torch.float64)
    assert torch.allclose(pal.ab.double(), want, rtol=0, atol=1e-9)
    assert torch.allclose(pal.prob, torch.tensor([0.7, 0.3], dtype=torch.float64))


def test_spread_modes_are_found_by_their_means():
    """Two blobs of 3 x 3 bins: with K = 2 each cluster is one blob, at its weighted mean."""
    bins = grid_bins(torch.float64)
    p = torch.zeros(529, dtype=torch.float64)
    for (ca, cb), mass in (((40.0, 60.0), 0.6), ((-50.0, -20.0), 0.4)):
        near = ((bins - torch.tensor([ca, cb], dtype=torch.float64)).abs() <= 10).all(1)
        w = torch.where(near, torch.exp(-((bins - torch.tensor([ca, cb], dtype=torch.float64)) ** 2).sum(1) / 200), 0)
        p += mass * w / w.sum()
    pal = suggest_colors(p, k=2, T=1.0, from_logits=False)
    assert torch.allclose(pal.ab, torch.tensor([[40.0, 60.0], [-50.0, -20.0]], dtype=torch.float64), atol=1e-9)
    assert torch.allclose(pal.prob, torch.tensor([0.6, 0.4], dtype=torch.float64))


def test_bin_order_is_a_major_not_swapped():
    """Class q is row q of grid_bins: a = -110 + 10 * (q // 23). A b-major table (the released PyTorch
    palette) would report (b, a) instead."""
    q = grid_index(70, -30)
    p = torch.zeros(529)
    p[q] = 1.0
    assert suggest_colors(p, T=1.0, from_logits=False).ab.tolist() == [[70.0, -30.0]]
    assert palette_bins(529)[q].tolist() == [70.0, -30.0]
    # For the 313 in-gamut bins the table is ab_bins, also a-major.
    p313 = torch.zeros(313)
    p313[5] = 1.0
    assert suggest_colors(p313, T=1.0, from_logits=False).ab[0].tolist() == ab_bins(torch.float64)[5].tolist()


def test_softening_matches_softmax_of_scaled_logits():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(529, generator=g) * 4
    soft = soften(logits)  # T = 5: softmax(0.2 * logits), as the released interface
    assert PALETTE_T == 5.0
    assert torch.allclose(soft, torch.softmax(0.2 * logits.double(), 0))
    # The same from probabilities: p^(1/T), renormalised.
    assert torch.allclose(soften(torch.softmax(logits, 0), from_logits=False), soft, atol=1e-7)
    # Softer than the original: higher entropy.
    entropy = lambda q: -(q * q.clamp_min(1e-300).log()).sum()  # noqa: E731
    assert entropy(soft) > entropy(torch.softmax(logits.double(), 0))


def test_mass_is_preserved_and_sorted():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(529, generator=g) * 5
    pal = suggest_colors(logits)
    assert pal.ab.shape == (9, 2) and pal.prob.shape == (9,)
    assert pal.prob.sum().item() == pytest.approx(1.0, abs=1e-12)
    assert (pal.prob[:-1] >= pal.prob[1:]).all()
    # The suggestions are the weighted means of a partition of the softened distribution.
    bins = grid_bins(torch.float64)
    centres, mass, labels = weighted_kmeans(bins, soften(logits), k=9, seed=0)
    assert torch.allclose(mass.sum(), torch.tensor(1.0, dtype=torch.float64))
    for j in range(9):
        w = soften(logits)[labels == j]
        assert torch.allclose(centres[j], (w[:, None] * bins[labels == j]).sum(0) / w.sum())
    # Lloyd's fixed point: every bin is assigned to its nearest centre.
    assert torch.equal(torch.cdist(bins, centres).argmin(1), labels)


def test_k_larger_than_support_and_determinism():
    p = torch.zeros(313)
    p[[10, 20, 30]] = torch.tensor([0.2, 0.5, 0.3])
    pal = suggest_colors(p, k=9, T=1.0, from_logits=False)
    assert pal.ab.shape == (3, 2) and torch.allclose(pal.prob, torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64))
    logits = torch.randn(529, generator=torch.Generator().manual_seed(2))
    a, b = suggest_colors(logits, seed=7), suggest_colors(logits, seed=7)
    assert torch.equal(a.ab, b.ab) and torch.equal(a.prob, b.prob)


def test_weighted_kmeans_weights_matter():
    """A heavy point pulls its cluster's centre: the weighted mean, not the plain mean."""
    pts = torch.tensor([[0.0, 0.0], [1.0, 0.0], [100.0, 0.0]], dtype=torch.float64)
    centres, mass, labels = weighted_kmeans(pts, torch.tensor([3.0, 1.0, 4.0], dtype=torch.float64), k=2)
    assert labels.tolist() == [1, 1, 0] and mass.tolist() == [4.0, 4.0]
    assert centres.tolist() == [[100.0, 0.0], [0.25, 0.0]]
    _, _, lab = weighted_kmeans(pts, torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64), k=2)
    assert lab[1] == -1  # zero-weight points take no part


def test_distribution_at_matches_bilinear_upsampling():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(1, 529, 8, 8, generator=g)
    up = F.interpolate(logits, size=(32, 32), mode="bilinear", align_corners=False)
    for y, x in [(0, 0), (13, 21), (31, 31), (4, 30)]:
        assert torch.allclose(distribution_at(logits, y, x, (32, 32)), up[0, :, y, x], atol=1e-5)
    with pytest.raises(ValueError, match="outside"):
        distribution_at(logits, 32, 0, (32, 32))


def test_errors():
    with pytest.raises(ValueError, match="bins"):
        suggest_colors(torch.zeros(100))
    with pytest.raises(ValueError, match=r"\(529, 2\)"):
        suggest_colors(torch.zeros(529), bins=ab_bins())
    with pytest.raises(ValueError, match="non-negative"):
        suggest_colors(-torch.ones(313), from_logits=False)
    with pytest.raises(ValueError, match="T must"):
        soften(torch.zeros(313), T=0)
    with pytest.raises(ValueError, match="k must"):
        weighted_kmeans(torch.zeros(3, 2), torch.ones(3), k=0)
    flat = suggest_colors(torch.zeros(529))  # a uniform distribution still gives 9 colours
    assert flat.ab.shape == (9, 2) and math.isclose(flat.prob.sum().item(), 1.0)
