"""Chapter 2's exercise checks: a correct answer passes, typical mistakes fail with a useful diagnosis."""

import pytest
import torch

from reprolib.chapters.user_guided import checks
from reprolib.book.exercises import ExerciseCheckError


def good_smooth_l1(ab_pred, ab_true, delta):
    d = (ab_pred - ab_true).abs()
    return torch.where(d < delta, 0.5 * d**2, delta * (d - 0.5 * delta)).sum(dim=1).mean()


def test_smooth_l1_correct_passes(capsys):
    checks.check_smooth_l1(good_smooth_l1)
    assert "✓ smooth-l1 loss" in capsys.readouterr().out


@pytest.mark.parametrize(
    "wrong, needle",
    [
        (lambda p, t, d: good_smooth_l1(p, t, d) / 2, "sum the two channels"),
        (lambda p, t, d: (p - t).abs().sum(1).mean(), "plain l1"),
        (lambda p, t, d: torch.where((p - t).abs() < d, (p - t) ** 2, d * ((p - t).abs() - 0.5 * d)).sum(1).mean(),
         "factor 1/2"),
    ],
)
def test_smooth_l1_mistakes_are_diagnosed(wrong, needle):
    with pytest.raises(ExerciseCheckError, match=needle):
        checks.check_smooth_l1(wrong)


def good_reveal(ab, points):
    hint, mask = torch.zeros_like(ab), torch.zeros(ab.shape[0], 1, *ab.shape[-2:])
    for i, t, l, s in points.tolist():
        hint[i, :, t:t + s, l:l + s] = ab[i, :, t:t + s, l:l + s].mean(dim=(1, 2))[:, None, None]
        mask[i, :, t:t + s, l:l + s] = 1
    return hint, mask


def centre_reveal(ab, points):
    hint, mask = torch.zeros_like(ab), torch.zeros(ab.shape[0], 1, *ab.shape[-2:])
    for i, t, l, s in points.tolist():
        hint[i, :, t:t + s, l:l + s] = ab[i, :, t + s // 2, l + s // 2][:, None, None]
        mask[i, :, t:t + s, l:l + s] = 1
    return hint, mask


def test_reveal_patches(capsys):
    checks.check_reveal_patches(good_reveal)
    assert "✓ reveal patches" in capsys.readouterr().out
    with pytest.raises(ExerciseCheckError, match="mean"):
        checks.check_reveal_patches(centre_reveal)
    with pytest.raises(ExerciseCheckError, match="returned None"):
        checks.check_reveal_patches(lambda ab, points: None)


def good_lloyd(points, weights, centres):
    label = torch.cdist(points, centres).argmin(1)
    out = centres.clone()
    for k in range(len(centres)):
        w = weights[label == k]
        if w.sum() > 0:
            out[k] = (w[:, None] * points[label == k]).sum(0) / w.sum()
    return out


def test_lloyd_step(capsys):
    checks.check_lloyd_step(good_lloyd)
    assert "✓ weighted k-means step" in capsys.readouterr().out
    unweighted = lambda p, w, c: good_lloyd(p, (w > 0).float(), c)  # noqa: E731
    with pytest.raises(ExerciseCheckError, match="weight each point"):
        checks.check_lloyd_step(unweighted)
    # Dropping empty clusters (returning fewer centres) is a shape error.
    with pytest.raises(ExerciseCheckError, match="shape"):
        checks.check_lloyd_step(lambda p, w, c: good_lloyd(p, w, c)[:1])
