"""Levin, Lischinski & Weiss (2004) colorization by optimisation: the edit-propagation baseline."""

import time

import numpy as np
import pytest
import torch

from reprolib.chapters.user_guided.levin import levin_colorize, levin_weights


def test_weights_are_row_stochastic_3x3_affinities():
    rng = np.random.default_rng(0)
    Y = rng.uniform(0, 1, (5, 7))
    W = levin_weights(Y).toarray()
    assert W.shape == (35, 35)
    assert np.allclose(W.sum(1), 1) and (W >= 0).all() and np.all(np.diag(W) == 0)
    # Only the 8 neighbours: corners have 3, edges 5, interior pixels 8.
    nnz = (W > 0).sum(1).reshape(5, 7)
    assert nnz[0, 0] == 3 and nnz[0, 3] == 5 and nnz[2, 3] == 8
    # Affinity falls with the intensity difference: w_rs ∝ exp(-(Y_r - Y_s)^2 / (2 sigma_r^2)).
    r = 2 * 7 + 3
    nbrs = np.nonzero(W[r])[0]
    d2 = (Y.flat[nbrs] - Y.flat[r]) ** 2
    order = np.argsort(d2)
    assert np.all(np.diff(W[r, nbrs][order]) <= 1e-15)
    # Known value: window variance 0.6-scaled is 2 sigma^2; the ratio of two weights is exact.
    win = Y[1:4, 2:5].ravel()
    two_sigma2 = max(0.6 * win.var(), 2e-6, -d2.min() / np.log(0.01))
    s, t = nbrs[0], nbrs[1]
    expected = np.exp(-((Y.flat[s] - Y.flat[r]) ** 2 - (Y.flat[t] - Y.flat[r]) ** 2) / two_sigma2)
    assert W[r, s] / W[r, t] == pytest.approx(expected, rel=1e-10)


def test_all_pixels_hinted_returns_the_hints():
    rng = np.random.default_rng(1)
    L = rng.uniform(0, 100, (12, 10))
    ab = rng.uniform(-80, 80, (2, 12, 10))
    out = levin_colorize(L, ab, np.ones((12, 10)))
    assert np.array_equal(out, ab)


def test_constant_image_one_hint_fills_everything():
    L = np.full((16, 20), 55.0)
    ab = np.zeros((2, 16, 20))
    mask = np.zeros((16, 20))
    ab[:, 3, 4] = (30.0, -20.0)
    mask[3, 4] = 1
    out = levin_colorize(L, ab, mask)
    assert np.allclose(out[0], 30.0, atol=1e-8) and np.allclose(out[1], -20.0, atol=1e-8)


def test_colour_does_not_bleed_across_a_strong_edge():
    H, W = 32, 32
    L = np.full((H, W), 30.0)
    L[:, W // 2 :] = 80.0  # two regions separated by a vertical luminance edge
    ab = np.zeros((2, H, W))
    mask = np.zeros((H, W))
    ab[:, 16, 5] = (60.0, 40.0)
    ab[:, 16, 26] = (-50.0, -30.0)
    mask[16, 5] = mask[16, 26] = 1
    out = levin_colorize(L, ab, mask)
    left, right = out[:, :, : W // 2], out[:, :, W // 2 :]
    # Every pixel stays within 5 % of the hint difference (|(110, 70)|) of its own region's hint.
    spread = np.hypot(110.0, 70.0)
    assert np.hypot(left[0] - 60, left[1] - 40).max() < 0.05 * spread
    assert np.hypot(right[0] + 50, right[1] + 30).max() < 0.05 * spread
    # Without the edge the same hints mix: the middle gets the average colour.
    flat = levin_colorize(np.full((H, W), 50.0), ab, mask)
    assert abs(flat[0, 16, 15] - 5.0) < 10


def test_torch_in_torch_out_and_grey_without_hints():
    L = torch.rand(1, 8, 8) * 100
    ab = torch.zeros(2, 8, 8, dtype=torch.float32)
    mask = torch.zeros(1, 8, 8)
    out = levin_colorize(L, ab, mask)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.shape == (2, 8, 8)
    assert out.abs().sum() == 0  # nothing to propagate: grey
    mask[0, 2, 2] = 1
    ab[:, 2, 2] = torch.tensor([10.0, 20.0])
    out = levin_colorize(L, ab, mask)
    assert torch.equal(out[:, 2, 2], torch.tensor([10.0, 20.0]))
    # A convex combination of the hints: with one hint, every pixel gets it.
    assert torch.allclose(out, torch.tensor([10.0, 20.0]).view(2, 1, 1).expand(2, 8, 8), atol=1e-4)


def test_errors():
    L = np.zeros((8, 8))
    with pytest.raises(ValueError, match=r"ab_hint must have shape \(2, 8, 8\)"):
        levin_colorize(L, np.zeros((3, 8, 8)), np.zeros((8, 8)))
    with pytest.raises(ValueError, match="mask"):
        levin_colorize(L, np.zeros((2, 8, 8)), np.zeros((8, 9)))
    with pytest.raises(ValueError, match=r"\[0, 100\]"):
        levin_colorize(L - 1, np.zeros((2, 8, 8)), np.zeros((8, 8)))
    with pytest.raises(TypeError, match="numpy array or torch tensor"):
        levin_colorize([[0.0]], np.zeros((2, 1, 1)), np.zeros((1, 1)))
    with pytest.raises(ValueError, match="NaN"):
        levin_colorize(L, np.full((2, 8, 8), np.nan), np.zeros((8, 8)))


def test_runtime_64():
    rng = np.random.default_rng(0)
    L = rng.uniform(0, 100, (64, 64))
    ab = rng.uniform(-50, 50, (2, 64, 64))
    mask = (rng.uniform(size=(64, 64)) < 0.01).astype(float)
    levin_colorize(L, ab, mask)  # warm-up (imports, allocations)
    t = time.perf_counter()
    levin_colorize(L, ab, mask)
    assert time.perf_counter() - t < 0.5  # about 0.02 s alone; generous for a shared machine
