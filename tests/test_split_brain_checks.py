"""Chapter 4's exercise checks pass the right answers and explain the usual mistakes."""

import math

import pytest
import torch
from torch import nn

from reprolib.book.exercises import ExerciseCheckError
from reprolib.chapters.split_brain import checks


def test_encode_l_check():
    checks.check_encode_l(lambda L: torch.floor(L / 2).clamp(0, 49).long())
    for wrong, said in ((lambda L: torch.floor(L / 2).long(), "51st class"),
                        (lambda L: torch.round(L / 2).clamp(0, 49).long(), "rounded"),
                        (lambda L: torch.floor(L).long(), "1 wide"),
                        (lambda L: torch.floor(L / 2).clamp(0, 49).long() + 1, "start at 1")):
        with pytest.raises(ExerciseCheckError, match=said):
            checks.check_encode_l(wrong)


def test_probe_size_check():
    checks.check_probe_size(lambda c, d: max(1, round(math.sqrt(d / c))))
    for wrong, said in ((lambda c, d: max(1, math.floor(math.sqrt(d / c))), "floor"),
                        (lambda c, d: round(math.sqrt(d * c)), r"budget \* channels"),
                        (lambda c, d: round(d / c), "square root")):
        with pytest.raises(ExerciseCheckError, match=said):
            checks.check_probe_size(wrong)


def _grouped(a, b, dim=0, swap=False, bias=True):
    joint = nn.Conv2d(2 * a.in_channels, 2 * a.out_channels, a.kernel_size, padding=a.padding, groups=2)
    first, second = (b, a) if swap else (a, b)
    with torch.no_grad():
        joint.weight.copy_(torch.cat([first.weight, second.weight], dim)[: joint.weight.shape[0], : joint.weight.shape[1]])
        joint.bias.copy_(torch.cat([first.bias, second.bias]) if bias else torch.zeros_like(joint.bias))
    return joint


def test_grouped_convolution_check():
    checks.check_grouped_from_halves(_grouped)
    with pytest.raises(ExerciseCheckError, match="swapped"):
        checks.check_grouped_from_halves(lambda a, b: _grouped(a, b, swap=True))
    with pytest.raises(ExerciseCheckError, match="bias"):
        checks.check_grouped_from_halves(lambda a, b: _grouped(a, b, bias=False))
    with pytest.raises(ExerciseCheckError, match="groups=1"):
        checks.check_grouped_from_halves(lambda a, b: nn.Conv2d(2 * a.in_channels, 2 * a.out_channels, a.kernel_size))
    with pytest.raises(ExerciseCheckError, match="NotImplementedError"):
        checks.check_grouped_from_halves(lambda a, b: (_ for _ in ()).throw(NotImplementedError("todo")))
