"""Tests of reprolib.metrics on hand-made cases whose answers are known in closed form."""

from __future__ import annotations

import math

import pytest
import torch

from reprolib import color
from reprolib.metrics import color as metrics
from reprolib.quantize import ab_bins, soft_encode


def _ab_field(vectors, h=1):
    """(1, 2, h, len(vectors)) ab tensor whose column j is the ab vector vectors[j]."""
    v = torch.tensor(vectors, dtype=torch.float32).T  # (2, W)
    return v[None, :, None, :].expand(1, 2, h, v.shape[1]).clone()


def _bin_index(a: float, b: float) -> int:
    (idx,) = torch.nonzero((ab_bins() == torch.tensor([a, b])).all(dim=1)).flatten().tolist()
    return idx


# ----------------------------------------------------------------------------- AuC


def test_cdf_on_known_errors():
    true = torch.zeros(1, 2, 1, 4)
    pred = _ab_field([(0, 0), (3, 4), (6, 8), (120, 160)])  # errors 0, 5, 10, 200
    cdf = metrics.ab_error_cdf(pred, true)
    assert cdf.shape == (151,)
    assert cdf[0] == 0.25 and cdf[4] == 0.25 and cdf[5] == 0.5 and cdf[9] == 0.5
    assert cdf[10] == 0.75 and cdf[150] == 0.75  # the error of 200 never counts
    weighted = metrics.ab_error_cdf(pred, true, weights=torch.tensor([[[3.0, 1.0, 0.0, 0.0]]]))
    assert weighted[0] == 0.75 and weighted[5] == 1.0


def test_cdf_matches_brute_force_and_is_monotone():
    gen = torch.Generator().manual_seed(0)
    pred, true = 60 * torch.randn(3, 2, 5, 7, generator=gen), 60 * torch.randn(3, 2, 5, 7, generator=gen)
    thresholds = torch.tensor([0.0, 12.5, 40.0, 99.9, 150.0])
    err = ((pred - true) ** 2).sum(1).sqrt().flatten()
    brute = (err[None, :] <= thresholds[:, None]).double().mean(1)
    torch.testing.assert_close(metrics.ab_error_cdf(pred, true, thresholds), brute)
    cdf = metrics.ab_error_cdf(pred, true)
    assert bool((cdf.diff() >= 0).all()) and 0 <= cdf.min() <= cdf.max() <= 1


@pytest.mark.parametrize("d", [0.0, 5.0, 30.0, 75.0, 149.0, 150.0, 400.0])
def test_auc_of_constant_error_is_exact(d):
    """All errors equal d: AuC = max(0, 150 - d) / 150 (our AuC integrates the CDF exactly)."""
    true = 20 * torch.randn(2, 2, 3, 4, generator=torch.Generator().manual_seed(1))
    pred = true + torch.tensor([0.6 * d, 0.8 * d]).view(1, 2, 1, 1)  # |(0.6d, 0.8d)| = d
    assert metrics.auc(pred, true) == pytest.approx(max(0.0, 150 - d) / 150, abs=1e-6)


def test_auc_agrees_with_trapezoid_of_cdf_within_half_a_step():
    gen = torch.Generator().manual_seed(2)
    true = 50 * torch.randn(4, 2, 8, 8, generator=gen)
    pred = true + 40 * torch.randn(4, 2, 8, 8, generator=gen)
    cdf = metrics.ab_error_cdf(pred, true)  # thresholds 0, 1, ..., 150
    trapezoid = float(torch.trapezoid(cdf, dx=1.0)) / 150
    assert abs(metrics.auc(pred, true) - trapezoid) <= 0.5 / 150
    assert metrics.auc(pred, true) == pytest.approx(metrics.auc(true, pred))  # symmetric


def test_weighted_auc_equals_auc_of_the_selected_pixels():
    gen = torch.Generator().manual_seed(3)
    true, pred = 30 * torch.randn(1, 2, 4, 6, generator=gen), 30 * torch.randn(1, 2, 4, 6, generator=gen)
    keep = torch.zeros(1, 4, 6)
    keep[:, :, :2] = 1.0
    assert metrics.auc(pred, true, weights=keep) == pytest.approx(metrics.auc(pred[..., :2], true[..., :2]))


def test_class_balanced_auc_counts_every_class_equally():
    """90 % grey pixels predicted exactly, 10 % saturated pixels off by 75 (per-pixel AuC 0.5)."""
    grey, sat = (0.0, 0.0), (50.0, 50.0)
    true = _ab_field([grey] * 9 + [sat], h=2)
    pred = _ab_field([grey] * 9 + [(50.0 + 45.0, 50.0 + 60.0)], h=2)  # |(45, 60)| = 75
    prior = torch.zeros(313, dtype=torch.float64)
    prior[_bin_index(*grey)], prior[_bin_index(*sat)] = 0.9, 0.1

    assert metrics.auc(pred, true) == pytest.approx(0.9 * 1.0 + 0.1 * 0.5)  # dominated by grey
    assert metrics.class_balanced_auc(pred, true, prior) == pytest.approx(0.5 * 1.0 + 0.5 * 0.5)
    # A class of zero prior probability gets weight 0: only the grey class is left.
    prior_no_sat = prior.clone()
    prior_no_sat[_bin_index(*sat)] = 0.0
    assert metrics.class_balanced_auc(pred, true, prior_no_sat) == pytest.approx(1.0)


def test_class_balanced_auc_rejects_a_prior_of_the_wrong_size():
    ab = torch.zeros(1, 2, 2, 2)
    with pytest.raises(ValueError, match="313 bins"):
        metrics.class_balanced_auc(ab, ab, torch.ones(529) / 529)
    with pytest.raises(ValueError, match="zero prior"):
        metrics.class_balanced_auc(ab, ab, torch.zeros(313))


@pytest.mark.parametrize(
    "pred, true, exc, message",
    [
        (torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2), ValueError, "2 channels"),
        (torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2, 3), ValueError, "same shape"),
        (torch.zeros(2, 2, 2), torch.zeros(2, 2, 2), ValueError, "4 dimensions"),
        (torch.zeros(1, 2, 2, 2, dtype=torch.long), torch.zeros(1, 2, 2, 2), TypeError, "floating-point"),
        ([[0.0]], torch.zeros(1, 2, 2, 2), TypeError, "torch.Tensor"),
    ],
)
def test_auc_rejects_bad_input(pred, true, exc, message):
    with pytest.raises(exc, match=message):
        metrics.auc(pred, true)


def test_auc_rejects_bad_weights():
    ab = torch.zeros(1, 2, 2, 2)
    with pytest.raises(ValueError, match="non-negative"):
        metrics.auc(ab, ab, weights=-torch.ones(1, 2, 2))
    with pytest.raises(ValueError, match="shape"):
        metrics.auc(ab, ab, weights=torch.ones(2, 2))


# ----------------------------------------------------------------------------- PSNR and colour statistics


def test_psnr_known_values():
    true = torch.rand(2, 3, 4, 5, generator=torch.Generator().manual_seed(4))
    pred = true + torch.tensor([0.1, 0.01]).view(2, 1, 1, 1)  # MSE 1e-2 and 1e-4
    torch.testing.assert_close(metrics.psnr(pred, true), torch.tensor([20.0, 40.0]))
    assert metrics.mean_psnr(pred, true) == pytest.approx(30.0)  # mean of per-image dB
    torch.testing.assert_close(metrics.psnr(255 * pred, 255 * true, data_range=255), torch.tensor([20.0, 40.0]))
    assert math.isinf(float(metrics.psnr(true, true)[0]))


def test_colorfulness_is_reexported_from_color():
    assert metrics.colorfulness is color.colorfulness
    grey = torch.full((1, 3, 4, 4), 0.5)
    assert float(metrics.colorfulness(grey)[0]) == pytest.approx(0.0, abs=1e-5)


def test_saturation_is_mean_chroma():
    ab = torch.zeros(2, 2, 3, 3)
    ab[0, 0], ab[0, 1] = 3.0, 4.0  # chroma 5 everywhere
    ab[1, 0, 0, 0] = -9.0  # one pixel of chroma 9 out of 9
    torch.testing.assert_close(metrics.saturation(ab), torch.tensor([5.0, 1.0]))


def test_spatial_roughness_known_patterns():
    h, w = 4, 6
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    offset = torch.tensor([3.0, 4.0]).view(1, 2, 1, 1)  # |(3, 4)| = 5
    checker = ((yy + xx) % 2).float()[None, None] * offset
    stripes = (yy % 2).float()[None, None] * offset  # rows alternate: only vertical pairs differ
    constant = torch.full((1, 2, h, w), 7.0)
    out = metrics.spatial_roughness(torch.cat([checker, stripes, constant]))
    n_h, n_v = h * (w - 1), (h - 1) * w
    torch.testing.assert_close(out, torch.tensor([5.0, 5.0 * n_v / (n_h + n_v), 0.0]))
    # Adding one colour everywhere changes nothing.
    torch.testing.assert_close(metrics.spatial_roughness(checker + 20.0), out[:1])


def test_spatial_roughness_mask_counts_only_pairs_inside():
    ab = 50 * torch.randn(1, 2, 5, 5, generator=torch.Generator().manual_seed(5))
    ab[:, :, 1:4, 1:4] = torch.tensor([10.0, -20.0]).view(1, 2, 1, 1)  # a flat square in noise
    mask = torch.zeros(1, 5, 5, dtype=torch.bool)
    mask[:, 1:4, 1:4] = True
    assert float(metrics.spatial_roughness(ab, mask)[0]) == 0.0
    assert float(metrics.spatial_roughness(ab)[0]) > 0.0
    lonely = torch.zeros(1, 5, 5, dtype=torch.bool)
    lonely[0, 0, 0] = True  # one pixel: no adjacent pair
    assert math.isnan(float(metrics.spatial_roughness(ab, lonely)[0]))


# ----------------------------------------------------------------------------- mass on modes


MODES = torch.tensor([[52.0, 43.0], [-37.0, 28.0], [5.0, -61.0]])
MODE_PROBS = torch.tensor([0.5, 0.3, 0.2])


def _mixture_probs(weights, n=2, h=3, w=4):
    """(n, 313, h, w): every pixel's distribution is sum_m weights[m] * soft_encode(MODES[m])."""
    enc = soft_encode(MODES.T.reshape(1, 2, 1, len(MODES)))  # (1, 313, 1, M)
    mix = (enc[0, :, 0, :] * torch.as_tensor(weights)).sum(1)  # (313,)
    return mix.view(1, -1, 1, 1).expand(n, -1, h, w).clone()


def test_mass_on_modes_of_the_true_mixture_recovers_its_probabilities():
    probs = _mixture_probs(MODE_PROBS)
    mask = torch.ones(2, 3, 4, dtype=torch.bool)
    out = metrics.mass_on_modes(probs, ab_bins(), MODES, MODE_PROBS, mask)
    torch.testing.assert_close(out["mode_mass"], MODE_PROBS.double(), atol=1e-3, rtol=0)
    assert out["total_mass"] == pytest.approx(1.0, abs=1e-3)
    assert out["tv_distance"] < 1e-3
    assert out["n_pixels"] == 24


def test_mass_on_modes_collapsed_and_uniform_predictions():
    mask = torch.zeros(2, 3, 4, dtype=torch.bool)
    mask[0, :, :2] = True
    collapsed = _mixture_probs([1.0, 0.0, 0.0])  # all mass on the first mode
    out = metrics.mass_on_modes(collapsed, ab_bins(), MODES, MODE_PROBS, mask)
    torch.testing.assert_close(out["mode_share"], torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64), atol=1e-3, rtol=0)
    assert out["tv_distance"] == pytest.approx(0.5, abs=1e-3)  # 0.5 * (0.5 + 0.3 + 0.2)
    assert out["n_pixels"] == 6

    uniform = torch.full((2, 313, 3, 4), 1 / 313)
    out = metrics.mass_on_modes(uniform, ab_bins(), MODES, MODE_PROBS, mask)
    torch.testing.assert_close(out["mode_mass"], out["bins_per_mode"].double() / 313)


def test_mass_on_modes_never_counts_a_bin_twice():
    modes = torch.tensor([[0.0, 0.0], [10.0, 0.0]])  # closer than 2 * radius
    enc = soft_encode(torch.tensor([5.0, 0.0]).view(1, 2, 1, 1), k=8)  # 8: no tie at the 8th/9th bin
    out = metrics.mass_on_modes(enc, ab_bins(), modes, torch.tensor([0.5, 0.5]), torch.ones(1, 1, 1, dtype=torch.bool))
    within = (torch.cdist(ab_bins(), modes).min(1).values <= 15).sum()
    assert int(out["bins_per_mode"].sum()) == int(within)
    assert out["total_mass"] == pytest.approx(1.0, abs=1e-5)  # counting shared bins twice would give ~1.4
    assert out["tv_distance"] < 1e-3  # the midpoint's encoding is symmetric between the two modes


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(probs=torch.randn(1, 313, 2, 2)), "did you pass logits"),
        (dict(mask=torch.zeros(1, 2, 2, dtype=torch.bool)), "selects no pixel"),
        (dict(radius=1.0), "increase radius"),
        (dict(mode_probs=torch.tensor([0.5, 0.3, 0.3])), "sum to 1"),
        (dict(bins=ab_bins()[:100]), "must match"),
        (dict(mask=torch.ones(2, 2, dtype=torch.bool)), "shape"),
    ],
)
def test_mass_on_modes_rejects_bad_input(change, message):
    kwargs = dict(
        probs=torch.full((1, 313, 2, 2), 1 / 313), bins=ab_bins(), modes=MODES, mode_probs=MODE_PROBS,
        mask=torch.ones(1, 2, 2, dtype=torch.bool), radius=15.0,
    )
    kwargs.update(change)
    with pytest.raises(ValueError, match=message):
        metrics.mass_on_modes(**kwargs)


# ----------------------------------------------------------------------------- classification


def test_top1_accuracy_flat_and_dense():
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.0, 0.0, 5.0], [1.0, 0.0, 0.0]])
    assert metrics.top1_accuracy(logits, torch.tensor([0, 1, 2, 2])) == 0.75
    dense = logits.T.reshape(1, 3, 2, 2)  # pixel (i // 2, i % 2) holds row i of logits
    assert metrics.top1_accuracy(dense, torch.tensor([[[0, 1], [2, 2]]])) == 0.75
    with pytest.raises(ValueError, match="labels must have shape"):
        metrics.top1_accuracy(logits, torch.tensor([0, 1]))
    with pytest.raises(TypeError, match="integer"):
        metrics.top1_accuracy(logits, torch.zeros(4))
