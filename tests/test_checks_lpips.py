"""The exercise checks of the LPIPS chapter accept correct answers and explain typical wrong ones."""

import pytest
import torch

from reprolib.chapters.lpips import checks
from reprolib.book.exercises import ExerciseCheckError


def test_unit_normalize_check():
    checks.check_unit_normalize(lambda f: f / (f.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10))
    with pytest.raises(ExerciseCheckError, match="dim=1"):
        checks.check_unit_normalize(lambda f: f / (f.pow(2).sum(dim=(1, 2, 3), keepdim=True).sqrt() + 1e-10))
    with pytest.raises(ExerciseCheckError, match="returned None"):
        checks.check_unit_normalize(lambda f: None)
    with pytest.raises(ExerciseCheckError):  # no epsilon: the all-zero pixel becomes NaN
        checks.check_unit_normalize(lambda f: f / f.pow(2).sum(dim=1, keepdim=True).sqrt())


def test_two_afc_check():
    checks.check_two_afc_score(lambda d0, d1, j: ((d0 < d1) * (1 - j) + (d1 < d0) * j + 0.5 * (d0 == d1)).mean())
    with pytest.raises(ExerciseCheckError, match="1 - judge"):
        checks.check_two_afc_score(lambda d0, d1, j: ((d0 < d1) * j + (d1 < d0) * (1 - j) + 0.5 * (d0 == d1)).mean())
    with pytest.raises(ExerciseCheckError, match="half credit"):
        checks.check_two_afc_score(lambda d0, d1, j: ((d0 < d1) * (1 - j) + (d1 < d0) * j).mean())
    with pytest.raises(ExerciseCheckError, match="NotImplementedError"):
        def stub(d0, d1, judge):
            raise NotImplementedError("todo")
        checks.check_two_afc_score(stub)


def test_projection_check():
    checks.check_project_nonnegative(lambda ws: [w.clamp(min=0) for w in ws])
    with pytest.raises(ExerciseCheckError, match="set to 0"):
        checks.check_project_nonnegative(lambda ws: [w.abs() for w in ws])
    with pytest.raises(ExerciseCheckError):
        checks.check_project_nonnegative(lambda ws: [w.clamp(max=0) for w in ws])
    with pytest.raises(TypeError, match="pass your function"):
        checks.check_project_nonnegative(torch.zeros(3))
