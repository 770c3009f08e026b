"""The two-sample critic (metrics/critic.py): chance on identical distributions, near-perfect on separable ones."""

import math

import pytest
import torch

from reprolib.metrics.critic import critic_features, critic_judgments, fooling_rate


def _gauss(n, d, shift, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64) + shift


def test_the_same_distribution_fools_it_about_half_the_time():
    """Real and fake drawn alike: the held-out accuracy is a proportion around 0.5; over 20 data sets of 128
    inputs (64 held out, 128 judgments) its mean lies within 4 standard errors of 50 %."""
    rates = [fooling_rate(critic_judgments(_gauss(128, 20, 0.0, s), _gauss(128, 20, 0.0, 100 + s), seed=s))
             for s in range(20)]
    se = 100 * math.sqrt(0.25 / 128) / math.sqrt(20)
    assert abs(sum(rates) / 20 - 50) < 4 * se


def test_separable_images_are_told_apart():
    """A shift of 1.5 standard deviations in each of 20 features separates the two classes almost surely
    (the Bayes error is Phi(-1.5 * sqrt(20) / 2) ~ 4e-4): the critic is fooled less than 5 % of the time."""
    j = critic_judgments(_gauss(128, 20, 0.0, 1), _gauss(128, 20, 1.5, 2))
    assert j.shape == (64,) and set(j.unique().tolist()) <= {0.0, 0.5, 1.0}
    assert fooling_rate(j) < 5.0


def test_judgments_are_deterministic_per_seed_and_arguments_checked():
    r, f = _gauss(40, 5, 0.0, 3), _gauss(40, 5, 0.3, 4)
    assert torch.equal(critic_judgments(r, f, seed=7), critic_judgments(r, f, seed=7))
    with pytest.raises(ValueError, match="same N"):
        critic_judgments(r, f[:30])


def test_features_of_images_have_the_documented_size():
    rgb = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    feats = critic_features(rgb)
    assert feats.shape == (3, 192 + 384 + 256 + 256) and torch.isfinite(feats).all()
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        critic_features(torch.rand(3, 32, 32))
