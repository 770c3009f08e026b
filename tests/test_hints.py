"""The simulated user of SIGGRAPH17 (thesis section 3.3.2) and the evaluation samplers (section 3.4.1).

Statistical tests draw 20,000 images with a fixed seed and allow 5 standard errors."""

import math

import pytest
import torch
from scipy import stats

from reprolib.chapters.user_guided.hints import (
    PAPER_P,
    fixed_points,
    max_error_points,
    reveal_patches,
    sample_hint_points,
    sample_hints,
)

N_DRAWS = 20_000


@pytest.fixture(scope="module")
def draws():
    return sample_hint_points(N_DRAWS, 64, 48, torch.Generator().manual_seed(0))


def random_ab(n, h, w, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 2, h, w, generator=g, dtype=dtype) * 2 - 1) * 100


# ---------------------------------------------------------------------------------------------
# Training sampler: counts, locations, sizes, full reveal
# ---------------------------------------------------------------------------------------------


def test_number_of_points_is_geometric(draws):
    counts = torch.bincount(draws.points[:, 0], minlength=N_DRAWS).double()
    p = PAPER_P
    mean, var = (1 - p) / p, (1 - p) / p**2  # 7 and 56
    assert abs(counts.mean().item() - mean) < 5 * math.sqrt(var / N_DRAWS)
    for k in range(4):  # P(N = k) = (1 - p)^k p; P(N = 0) = 1/8
        pk = (1 - p) ** k * p
        assert abs((counts == k).double().mean().item() - pk) < 5 * math.sqrt(pk * (1 - pk) / N_DRAWS)
    # Goodness of fit over 0..29 and a tail bin.
    observed = [int((counts == k).sum()) for k in range(30)] + [int((counts >= 30).sum())]
    expected = [N_DRAWS * (1 - p) ** k * p for k in range(30)] + [N_DRAWS * (1 - p) ** 30]
    assert stats.chisquare(observed, expected).pvalue > 1e-3


def _expected_centre_moments(extent: int, sizes=range(1, 10)):
    """Mean and std of the patch centre: N((extent - 1) / 2, extent / 4), rounded to a top-left
    corner and clipped to [0, extent - P], P uniform over ``sizes`` (exact, from the normal CDF)."""
    sigma = extent / 4
    m1 = m2 = 0.0
    for P in sizes:
        mu = (extent - P) / 2  # mean of the top-left corner
        j = torch.arange(extent - P + 1, dtype=torch.float64)
        cdf = lambda x: torch.tensor(stats.norm.cdf((x.numpy() - mu) / sigma))  # noqa: E731
        upper = torch.where(j == extent - P, torch.ones_like(j), cdf(j + 0.5))
        lower = torch.where(j == 0, torch.zeros_like(j), cdf(j - 0.5))
        pmf = upper - lower
        centre = j + (P - 1) / 2
        m1 += (pmf * centre).sum().item() / len(sizes)
        m2 += (pmf * centre**2).sum().item() / len(sizes)
    return m1, math.sqrt(m2 - m1**2)


@pytest.mark.parametrize("axis,extent", [(1, 64), (2, 48)])
def test_locations_are_a_clipped_centred_gaussian(draws, axis, extent):
    pts = draws.points
    centre = pts[:, axis].double() + (pts[:, 3].double() - 1) / 2
    M = centre.numel()
    mean, std = _expected_centre_moments(extent)
    assert mean == pytest.approx((extent - 1) / 2, abs=1e-9)  # symmetric around the image centre
    assert std < extent / 4  # clipping shrinks the spread a little
    assert abs(centre.mean().item() - mean) < 5 * std / math.sqrt(M)
    assert abs(centre.std().item() - std) < 5 * std / math.sqrt(2 * M)
    # Every patch lies inside the image.
    assert int(pts[:, axis].min()) >= 0 and int((pts[:, axis] + pts[:, 3]).max()) <= extent


def test_patch_sizes_are_uniform_1_to_9(draws):
    sizes = draws.points[:, 3]
    observed = torch.bincount(sizes, minlength=10)[1:]
    assert observed.sum() == sizes.numel() and int(sizes.min()) == 1 and int(sizes.max()) == 9
    assert stats.chisquare(observed.numpy()).pvalue > 1e-3


def test_full_reveal_rate(draws):
    rate = draws.full.double().mean().item()
    assert abs(rate - 0.01) < 5 * math.sqrt(0.01 * 0.99 / N_DRAWS)


def test_hint_is_the_patch_mean_on_the_patch():
    ab = random_ab(3, 20, 16)
    points = torch.tensor([[0, 2, 3, 5], [1, 0, 0, 1], [1, 10, 7, 9], [2, 11, 7, 9]])
    ab_hint, mask = reveal_patches(ab, points)
    for i, t, l, s in points.tolist():
        patch_mean = ab[i, :, t : t + s, l : l + s].mean(dim=(1, 2))
        block = ab_hint[i, :, t : t + s, l : l + s]
        assert torch.allclose(block, patch_mean.view(2, 1, 1).expand_as(block), rtol=0, atol=1e-10)
    expected_mask = torch.zeros(3, 1, 20, 16)
    for i, t, l, s in points.tolist():
        expected_mask[i, :, t : t + s, l : l + s] = 1
    assert torch.equal(mask, expected_mask.to(mask.dtype))
    assert torch.equal(ab_hint * (1 - mask), torch.zeros_like(ab_hint))  # zero where no hint


def test_later_patches_overwrite_earlier_ones():
    ab = random_ab(1, 10, 10)
    ab_hint, mask = reveal_patches(ab, torch.tensor([[0, 0, 0, 6], [0, 3, 3, 4]]))
    second = ab[0, :, 3:7, 3:7].mean(dim=(1, 2))
    first = ab[0, :, 0:6, 0:6].mean(dim=(1, 2))
    assert torch.allclose(ab_hint[0, :, 4, 4], second) and torch.allclose(ab_hint[0, :, 1, 1], first)
    assert mask.sum() == 36 + 16 - 9


def test_sample_hints_batch_and_full_reveal():
    ab = random_ab(6, 24, 24, dtype=torch.float32)
    g = torch.Generator().manual_seed(3)
    ab_hint, mask = sample_hints(ab, g)
    assert ab_hint.shape == ab.shape and mask.shape == (6, 1, 24, 24)
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    again = sample_hints(ab, torch.Generator().manual_seed(3))
    assert torch.equal(again[0], ab_hint) and torch.equal(again[1], mask)
    full_hint, full_mask = sample_hints(ab, g, full_reveal=1.0)
    assert torch.equal(full_hint, ab) and torch.equal(full_mask, torch.ones_like(full_mask))
    none_hint, none_mask = sample_hints(ab, g, p=1.0, full_reveal=0.0)  # classification stage: no hints
    assert none_mask.sum() == 0 and none_hint.abs().sum() == 0


def test_sampler_errors():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="p must"):
        sample_hint_points(2, 8, 8, g, p=0)
    with pytest.raises(ValueError, match="patch_sizes"):
        sample_hint_points(2, 8, 8, g, patch_sizes=[1, 9])
    with pytest.raises(ValueError, match="full_reveal"):
        sample_hint_points(2, 8, 8, g, full_reveal=1.5)
    with pytest.raises(TypeError, match="Generator"):
        sample_hint_points(2, 8, 8, 0)
    with pytest.raises(ValueError, match=r"\(N, 2, H, W\)"):
        sample_hints(torch.zeros(1, 3, 8, 8), g)
    with pytest.raises(ValueError, match="outside"):
        reveal_patches(torch.zeros(1, 2, 8, 8), torch.tensor([[0, 5, 0, 4]]))


# ---------------------------------------------------------------------------------------------
# Evaluation samplers
# ---------------------------------------------------------------------------------------------


def test_fixed_points():
    ab = random_ab(4, 32, 32)
    g = torch.Generator().manual_seed(0)
    ab_hint, mask = fixed_points(ab, 1, patch=7, generator=g)
    assert torch.equal(mask.sum(dim=(1, 2, 3)), torch.full((4,), 49.0, dtype=mask.dtype))
    for i in range(4):
        ys, xs = mask[i, 0].nonzero(as_tuple=True)
        t, l = int(ys.min()), int(xs.min())
        assert torch.allclose(ab_hint[i, :, t, l], ab[i, :, t : t + 7, l : l + 7].mean(dim=(1, 2)))
    _, many = fixed_points(ab, 10, generator=g)
    assert ((many.sum(dim=(1, 2, 3)) > 49) & (many.sum(dim=(1, 2, 3)) <= 490)).all()
    assert fixed_points(ab, 0)[1].sum() == 0
    # Corners are uniform over the 26 valid positions per axis (chi-square over 2,600 images).
    _, m = fixed_points(torch.zeros(2600, 2, 32, 32), 1, patch=7, generator=g)
    ys = m[:, 0].amax(dim=2).argmax(dim=1)  # first covered row = the corner's row
    xs = m[:, 0].amax(dim=1).argmax(dim=1)
    for corner in (ys, xs):
        counts = torch.bincount(corner, minlength=26)
        assert counts.numel() == 26 and stats.chisquare(counts.numpy()).pvalue > 1e-3
    with pytest.raises(ValueError, match="fit"):
        fixed_points(ab, 1, patch=40)


def test_max_error_points_picks_the_worst_window():
    ab_true = torch.zeros(1, 2, 48, 48)
    ab_pred = ab_true.clone()
    ab_pred[0, :, 30:34, 10:14] = 50.0  # a blob of error centred near (31.5, 11.5)
    ab_pred[0, :, 5:7, 40:42] = 20.0  # a weaker one
    hint, mask = max_error_points(ab_true, ab_pred, n=1, patch=7, window=25)
    ys, xs = mask[0, 0].nonzero(as_tuple=True)
    assert mask.sum() == 49
    assert 28 <= ys.float().mean() <= 35 and 8 <= xs.float().mean() <= 15
    assert hint.abs().sum() == 0  # the ground truth there is grey
    # The revealed patch is excluded next time: the next point must not overlap it.
    hint2, mask2 = max_error_points(ab_true, ab_pred, n=1, revealed_mask=mask)
    assert mask2.sum() == 49 and (mask2 * mask).sum() == 0
    # n = 2 in one call: two disjoint patches.
    _, both = max_error_points(ab_true, ab_pred, n=2)
    assert both.sum() == 98
    # Nowhere left: nothing is added.
    _, none = max_error_points(ab_true, ab_pred, n=1, revealed_mask=torch.ones(1, 1, 48, 48))
    assert none.sum() == 0


def test_max_error_points_reveals_true_patch_mean():
    ab_true = random_ab(2, 32, 32)
    ab_pred = torch.zeros_like(ab_true)
    hint, mask = max_error_points(ab_true, ab_pred, n=3, patch=5, window=7)
    assert torch.equal(mask.sum(dim=(1, 2, 3)), torch.full((2,), 75.0, dtype=mask.dtype))
    for i in range(2):
        ys, xs = mask[i, 0].nonzero(as_tuple=True)
        y, x = int(ys[0]), int(xs[0])  # the top-left pixel of the first patch in raster order
        assert torch.allclose(hint[i, :, y, x], ab_true[i, :, y : y + 5, x : x + 5].mean(dim=(1, 2)))
    with pytest.raises(ValueError, match="differ"):
        max_error_points(ab_true, ab_pred[:, :, :30], n=1)
    with pytest.raises(ValueError, match="revealed_mask"):
        max_error_points(ab_true, ab_pred, n=1, revealed_mask=torch.zeros(2, 32, 32))
