"""The automatic checks of Chapter 4's exercises (see :mod:`reprolib.book.exercises` for the machinery).

Three exercises: the lightness classes of the grey-prediction half (50 bins of width 2), the probe's resize
rule of Table 5.3, and a split layer as one grouped convolution (the "group = 2" of sec. 5.3.2).
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from reprolib.book.exercises import ExerciseCheckError, _as_float_tensor, check
from reprolib.metrics.probe import probe_size
from reprolib.quantize import encode_l

__all__ = ["check_encode_l", "check_probe_size", "check_grouped_from_halves"]


# 1. Lightness classes
def check_encode_l(fn: Callable) -> None:
    """Check ``fn(L) -> classes``: L in [0, 100] (any shape) to int64 classes 0..49, ``floor(L / 2)``, with
    L = 100 in the last class. Reference: :func:`reprolib.quantize.encode_l`."""

    def diagnose(got, expected, L) -> str | None:
        g = _as_float_tensor(got)
        if g is None or g.shape != expected.shape:
            return None
        Ld = L.double()
        if int(g.max()) == 50 and torch.equal(g, torch.floor(Ld / 2)):
            return "L = 100 gives class 50, a 51st class: clamp to 49 (the last bin holds 98 <= L <= 100)."
        if torch.equal(g, torch.round(Ld / 2).clamp(0, 49)):
            return "you rounded; a class is a bin [2k, 2k + 2): take the floor of L / 2."
        if torch.equal(g, torch.floor(Ld).clamp(0, 99)) or torch.equal(g, torch.floor(Ld)):
            return "your bins are 1 wide (100 classes): the paper's are 2 wide, 50 classes."
        if torch.equal(g, torch.floor(Ld / 2).clamp(0, 49) + 1):
            return "your classes start at 1: Python indices start at 0 (L = 0 is class 0)."
        return None

    gen = torch.Generator().manual_seed(40)
    cases = [torch.tensor([0.0, 1.99, 2.0, 3.0, 57.3, 98.0, 99.99, 100.0]),
             100 * torch.rand(2, 1, 4, 4, generator=gen), torch.tensor([50.0, 51.0, 49.0, 1.0])]
    check(fn, encode_l, cases, "lightness classes", atol=0, rtol=0, diagnose=diagnose,
          hint="torch.floor(L / 2).clamp(0, 49).long()")


# 2. The probe's resize rule
def check_probe_size(fn: Callable) -> None:
    """Check ``fn(channels, budget) -> X``: the side of the square a layer's maps are resized to so that
    X * X * channels is about ``budget``: ``round(sqrt(budget / channels))``, at least 1. AlexNet's conv1 ..
    conv5 (96, 256, 384, 384, 256 channels) at 9000 give 10, 6, 5, 5, 6 (Table 5.3).
    Reference: :func:`reprolib.metrics.probe.probe_size`."""

    def diagnose(got, expected, channels, budget) -> str | None:
        if not isinstance(got, (int, float)):
            return "return one integer, the side X."
        ratio = budget / channels
        if got == math.floor(math.sqrt(ratio)) != expected:
            return "you took the floor: round to the nearest side (9000 / 96 = 93.75, sqrt 9.68, so X = 10)."
        if got == math.ceil(math.sqrt(ratio)) != expected:
            return "you took the ceiling: round to the nearest side."
        if got == round(math.sqrt(budget * channels)):
            return "sqrt(budget * channels): the side is sqrt(budget / channels), the budget shared by the channels."
        if got == round(ratio):
            return "that is X * X: take the square root, the maps are square."
        return None

    cases = [(96, 9000), (256, 9000), (384, 9000), (4096, 1024), (48, 1024), (3, 12)]
    check(fn, probe_size, cases, "probe size", atol=0, rtol=0, diagnose=diagnose,
          hint="max(1, round(math.sqrt(budget / channels)))")


# 3. A split layer as one grouped convolution
def check_grouped_from_halves(fn: Callable) -> None:
    """Check ``fn(conv_a, conv_b) -> nn.Conv2d``: one convolution with ``groups=2`` whose output on
    ``cat(x_a, x_b)`` is ``cat(conv_a(x_a), conv_b(x_b))``, for two convolutions of the same shape (one layer of
    each half of a split network). Also: it has exactly as many parameters as the two halves together, half
    of an ungrouped convolution of the same width."""
    gen = torch.Generator().manual_seed(41)
    torch.manual_seed(41)
    for cin, cout, k in ((3, 4, 3), (8, 6, 1)):
        a, b = nn.Conv2d(cin, cout, k, padding=k // 2), nn.Conv2d(cin, cout, k, padding=k // 2)
        x = torch.randn(2, 2 * cin, 5, 5, generator=gen)
        name = f"✗ grouped convolution ({cin} -> {cout} channels per half, {k} x {k})"
        try:
            joint = fn(a, b)
        except NotImplementedError as exc:
            raise ExerciseCheckError(f"✗ grouped convolution: your function raises NotImplementedError ({exc}). Fill "
                                     "it in, then run the check again.") from None
        if not isinstance(joint, nn.Conv2d):
            raise ExerciseCheckError(f"{name}: return an nn.Conv2d, got {type(joint).__name__}.")
        if joint.groups != 2:
            raise ExerciseCheckError(f"{name}: the convolution has groups={joint.groups}; a split layer is groups=2 "
                                     "(each output half sees one input half).")
        with torch.no_grad():
            want = torch.cat([a(x[:, :cin]), b(x[:, cin:])], 1)
            swapped = torch.cat([b(x[:, :cin]), a(x[:, cin:])], 1)
            try:
                got = joint(x)
            except Exception as exc:
                raise ExerciseCheckError(f"{name}: calling it on a (2, {2 * cin}, 5, 5) input raised "
                                         f"{type(exc).__name__}: {exc}. Its in_channels must be both halves' inputs "
                                         f"({2 * cin}).") from exc
        if got.shape == want.shape and torch.allclose(got, swapped, atol=1e-5) and not torch.allclose(got, want, atol=1e-5):
            raise ExerciseCheckError(f"{name}: the halves are swapped: conv_a's weights come first.")
        if got.shape != want.shape or not torch.allclose(got, want, atol=1e-5, rtol=1e-4):
            bias_off = joint.bias is None or not torch.allclose(joint.bias, torch.cat([a.bias, b.bias]))
            why = " Its bias is not cat(conv_a.bias, conv_b.bias)." if bias_off else (
                " Stack the two weight tensors along the output dimension (dim 0): a grouped weight is "
                "(out_channels, in_channels / groups, k, k).")
            raise ExerciseCheckError(f"{name}: its output differs from cat(conv_a(x_a), conv_b(x_b)).{why}")
        n_joint = sum(p.numel() for p in joint.parameters())
        n_halves = sum(p.numel() for p in (*a.parameters(), *b.parameters()))
        if n_joint != n_halves:
            raise ExerciseCheckError(f"{name}: it has {n_joint} parameters, the halves {n_halves}; they must match.")
    print("✓ grouped convolution: both cases pass (outputs and parameter counts)")
