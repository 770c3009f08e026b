"""Tests of reprolib.metrics.diversity: sample diversity, mode frequencies and coverage against known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from reprolib.metrics.diversity import (expected_coverage, latent_recovery_error, lpips_v0_alex, mode_coverage,
                                        mode_frequencies, random_pairs_diversity, sample_diversity, tv_distance,
                                        tv_floor)


def _mean_abs(a, b):
    return (a - b).abs().flatten(1).mean(1)


def test_sample_diversity_averages_the_consecutive_pairs():
    # 3 samples of 2 inputs, constant images: input 0 takes values 0, 1, 3; input 1 is the same every time
    samples = torch.zeros(3, 2, 1, 2, 2)
    samples[1, 0], samples[2, 0] = 1.0, 3.0
    d = sample_diversity(samples, _mean_abs)
    assert d.tolist() == [(1.0 + 2.0) / 2, 0.0]  # pairs (0, 1) and (1, 2); (0, 2) is not a pair
    with pytest.raises(ValueError, match=r"\(S, N, C, H, W\)"):
        sample_diversity(torch.zeros(1, 2, 1, 2, 2), _mean_abs)


def test_random_pairs_never_pair_an_image_with_itself():
    images = torch.arange(4.0).view(4, 1, 1, 1)
    d = random_pairs_diversity(images, 500, torch.Generator().manual_seed(0), _mean_abs)
    assert d.shape == (500,) and float(d.min()) >= 1.0
    assert float(d.mean()) == pytest.approx(5 / 3, abs=0.15)  # |i - j| over distinct pairs of 0..3 averages 5/3


def test_lpips_v0_alex_is_zero_for_identical_images_and_positive_otherwise():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 32, 32)
    d = lpips_v0_alex(torch.cat([x[:1], x[:1]]), x)
    assert float(d[0]) == pytest.approx(0.0, abs=1e-6) and float(d[1]) > 0.01


def test_mode_frequencies_and_total_variation():
    f = mode_frequencies(torch.tensor([0, 0, 1, 2]), 3)
    assert f.tolist() == [0.5, 0.25, 0.25]
    assert tv_distance(f, torch.tensor([0.5, 0.5, 0.0])) == pytest.approx(0.25)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        mode_frequencies(torch.tensor([0, 3]), 3)


def test_tv_floor_matches_the_exact_expectation_for_two_modes():
    # two modes: TV = |k/n - p|, k ~ Binomial(n, p); the exact mean by summing over k
    p, n = 0.3, 20
    exact = sum(math.comb(n, k) * p ** k * (1 - p) ** (n - k) * abs(k / n - p) for k in range(n + 1))
    # Monte Carlo with 4000 draws: sd of |k/n - p| is below 0.1, so the standard error is below 0.0016
    assert tv_floor(torch.tensor([p, 1 - p]), n) == pytest.approx(exact, abs=0.006)
    assert tv_floor(torch.tensor([p, 1 - p]), 2000) < exact / 5  # shrinks like 1 / sqrt(n)
    with pytest.raises(ValueError, match="probability vector"):
        tv_floor(torch.tensor([0.5, 0.6]), 10)


def test_coverage_counts_the_modes_hit_and_its_expectation():
    probs = torch.tensor([0.6, 0.3, 0.1])
    samples = torch.tensor([[0, 0, 1], [2, 2, 2], [-1, -1, 0]])
    assert mode_coverage(samples, probs).tolist() == [2 / 3, 1 / 3, 1 / 3]
    assert mode_coverage(samples, probs, min_prob=0.15).tolist() == [1.0, 0.0, 0.5]  # mode 2 not required
    k = 3
    assert expected_coverage(probs, k) == pytest.approx(np.mean([1 - (1 - q) ** k for q in (0.6, 0.3, 0.1)]))
    # a perfect sampler's coverage averages to the expectation
    draws = torch.multinomial(probs, 20000 * k, replacement=True, generator=torch.Generator().manual_seed(0))
    measured = float(mode_coverage(draws.view(20000, k), probs).mean())
    assert measured == pytest.approx(expected_coverage(probs, k), abs=0.01)  # SE ~ 0.002


def test_latent_recovery_error():
    z = torch.tensor([[0.0, 1.0], [1.0, 1.0]])
    assert latent_recovery_error(z, z + torch.tensor([[0.5, -0.5], [0.0, 0.0]])).tolist() == [0.5, 0.0]
    with pytest.raises(ValueError, match=r"\(N, nz\)"):
        latent_recovery_error(z, z[:, :1])


# ------------------------------------------------------------------------------------------
# which mode a region took


def _scenes(n=24, size=32, seed=3):
    from reprolib.color import rgb_to_l_ab
    from reprolib.data import ColorWorld

    world = ColorWorld(n=n, size=size, seed=seed)
    rendered = world.batch(range(n))
    return world, rendered, rgb_to_l_ab(rendered["rgb"])[1]


def test_the_ground_truth_gives_back_its_drawn_modes():
    """Real colours are the mode plus a jitter of at most 7.5 and noise of at most 2.5 ab (ColorWorld), so the
    median of a region lies within 10 of its mode, inside the 15-ab radius: the assignment must be exact."""
    from reprolib.metrics.diversity import scene_region_modes
    from reprolib.metrics.diversity import NO_REGION

    world, rendered, ab = _scenes()
    got = scene_region_modes(world, rendered, ab)
    judged = got["objects"] != NO_REGION
    assert int(judged.sum()) >= 24  # at least one judged object per image on average
    assert torch.equal(got["objects"][judged], rendered["modes"][judged])
    ground = got["ground"] != NO_REGION
    assert int(ground.sum()) >= 12 and torch.equal(got["ground"][ground], rendered["background_modes"][ground, 1])
    # regions too small to judge are exactly the absent or tiny ones
    sizes = rendered["masks"].flatten(2).sum(-1)
    assert torch.equal(~judged, sizes < 8)


def test_the_oracle_samples_take_the_redrawn_modes():
    from reprolib.data.oracle import redraw_colours
    from reprolib.metrics.diversity import scene_region_modes
    from reprolib.color import rgb_to_l_ab

    world, rendered, _ = _scenes()
    params = redraw_colours(world, world.sample_params(list(range(24))), seed=5)
    again = world.render(params)
    got = scene_region_modes(world, again, rgb_to_l_ab(again["rgb"])[1])
    judged = got["objects"] >= 0
    assert torch.equal(got["objects"][judged], again["modes"][judged])
    assert not torch.equal(again["modes"], rendered["modes"])  # the modes were drawn anew


def test_a_colour_far_from_every_mode_is_off_mode():
    from reprolib.metrics.diversity import NO_REGION, OFF_MODE, region_modes

    modes = torch.tensor([[40.0, 0.0], [-40.0, 0.0]])
    ab = torch.zeros(3, 2, 4, 4)
    ab[0, 0] = 38.0  # 2 from the first mode
    ab[1, 1] = 30.0  # 50 from both
    mask = torch.ones(3, 4, 4, dtype=torch.bool)
    mask[2] = False
    mask[2, 0, :3] = True  # 3 pixels: too few
    assert region_modes(ab, mask, modes).tolist() == [0, OFF_MODE, NO_REGION]
    # the median ignores a few bled pixels that a mean would follow
    ab2 = torch.full((1, 2, 4, 4), 0.0)
    ab2[0, 0] = -40.0
    ab2[0, 0, 0, :3] = 100.0
    assert region_modes(ab2, torch.ones(1, 4, 4, dtype=torch.bool), modes).tolist() == [1]
    with pytest.raises(ValueError, match="bool"):
        region_modes(ab, mask.float(), modes)
    with pytest.raises(ValueError, match=r"\(M, 2\)"):
        region_modes(ab, mask, torch.zeros(3))
