"""The automatic checks of Chapter 5's exercises (see :mod:`reprolib.book.exercises` for the machinery)."""

from __future__ import annotations

from typing import Callable

import torch

from reprolib.book.exercises import _as_float_tensor, _close, check


def _ref_unit_normalize(f: torch.Tensor) -> torch.Tensor:
    return f / (f.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)


def _diagnose_unit_normalize(got, expected, f) -> str | None:
    g = _as_float_tensor(got)
    if g is None:
        return None
    if g.shape == expected.shape:
        over_all = f / (f.pow(2).sum(dim=(1, 2, 3), keepdim=True).sqrt() + 1e-10)
        if _close(g, over_all):
            return "you normalised over the whole feature map; LPIPS normalises each pixel's channel vector (dim=1)"
        inside = f / (f.pow(2).sum(dim=1, keepdim=True) + 1e-10).sqrt()
        if not _close(g, expected) and _close(g, inside, atol=1e-7, rtol=1e-7):
            return "the epsilon 1e-10 is added to the norm, outside the square root"
    if g.shape[1:2] == (1,) and expected.shape[1] != 1:
        return "keep every channel: divide the features by their norm, do not return the norm itself"
    return None


def check_unit_normalize(fn: Callable) -> None:
    """Check the channel-wise unit normalisation of LPIPS, ``fn(f (N, C, H, W)) -> f_hat``.

    ``f_hat = f / (sqrt(sum_c f_c^2) + 1e-10)`` at every pixel (Eq. 6.1's y_hat; reference-facts 5.1:
    the epsilon is added to the norm). Cases include an all-zero pixel, where the result must be 0.
    Reference: :func:`reprolib.metrics.lpips.normalize_channels`.
    """
    gen = torch.Generator().manual_seed(5)
    zero_pixel = torch.randn(1, 4, 3, 3, generator=gen, dtype=torch.float64)
    zero_pixel[0, :, 1, 1] = 0.0
    cases = [
        (torch.randn(2, 3, 4, 4, generator=gen, dtype=torch.float64),),
        (torch.rand(1, 64, 2, 5, generator=gen, dtype=torch.float64) * 10,),
        (zero_pixel,),
    ]
    check(fn, _ref_unit_normalize, cases, "unit normalisation", atol=1e-9, rtol=1e-7,
          hint="f / (f.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)", diagnose=_diagnose_unit_normalize)


def _ref_two_afc(d0: torch.Tensor, d1: torch.Tensor, judge: torch.Tensor) -> torch.Tensor:
    credit = (d0 < d1).double() * (1 - judge) + (d1 < d0).double() * judge + 0.5 * (d0 == d1).double()
    return credit.mean()


def _diagnose_two_afc(got, expected, d0, d1, judge) -> str | None:
    g = _as_float_tensor(got)
    if g is None or g.numel() != 1:
        return "return one number: the mean credit over the triplets" if g is not None else None
    swapped = ((d0 < d1).double() * judge + (d1 < d0).double() * (1 - judge) + 0.5 * (d0 == d1).double()).mean()
    if _close(g.reshape(()), swapped.reshape(())):
        return "judge is the share of observers who chose p1: when d0 < d1 the metric agrees with 1 - judge"
    no_ties = ((d0 < d1).double() * (1 - judge) + (d1 < d0).double() * judge).mean()
    if _close(g.reshape(()), no_ties.reshape(())):
        return "a tie (d0 == d1) earns half credit"
    return None


def check_two_afc_score(fn: Callable) -> None:
    """Check the 2AFC scoring rule ``fn(d0, d1, judge) -> score`` (sec. 6.4.1, reference-facts 5.3).

    ``judge`` is the fraction of observers who said p1 is closer; the score is the mean over triplets of
    ``[d0 < d1] (1 - judge) + [d1 < d0] judge + 0.5 [d0 = d1]``. Cases include ties and split votes.
    Reference: :func:`reprolib.chapters.lpips.agreement.two_afc_score`.
    """
    gen = torch.Generator().manual_seed(6)
    d = lambda n: torch.rand(n, generator=gen, dtype=torch.float64)  # noqa: E731
    tie0 = d(6)
    cases = [
        (d(8), d(8), torch.tensor([0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0], dtype=torch.float64)),
        (d(10), d(10), torch.tensor([0.2, 0.4, 0.6, 0.8, 1.0, 0.0, 0.5, 0.5, 0.2, 0.6], dtype=torch.float64)),
        (tie0, torch.where(torch.arange(6) % 2 == 0, tie0, d(6)),
         torch.tensor([0.8, 0.2, 0.6, 0.4, 1.0, 0.0], dtype=torch.float64)),
    ]
    check(fn, _ref_two_afc, cases, "2AFC score", atol=1e-9, rtol=1e-9,
          hint="credit = (d0 < d1) * (1 - judge) + (d1 < d0) * judge + 0.5 * (d0 == d1); return credit.mean()",
          diagnose=_diagnose_two_afc)


def _ref_project(weights: list[torch.Tensor]) -> list[torch.Tensor]:
    return [w.clamp(min=0) for w in weights]


def _diagnose_project(got, expected, weights) -> str | None:
    if not isinstance(got, (list, tuple)) or len(got) != len(expected):
        return "return a list with one tensor per layer, in the same order"
    for g, w in zip(got, weights):
        gt = _as_float_tensor(g)
        if gt is not None and gt.shape == w.shape and _close(gt, w.abs()):
            return "negative weights are set to 0 (projected onto w >= 0), not made positive"
        if gt is not None and gt.shape == w.shape and _close(gt, (w > 0).double() * w.abs().mean()):
            return "keep the positive weights as they are"
    return None


def check_project_nonnegative(fn: Callable) -> None:
    """Check the non-negativity projection ``fn(list of weight tensors) -> list of projected tensors``.

    Sec. 6.3 keeps the linear weights w non-negative with a projection after every iteration that sets each
    negative weight to 0: the Euclidean projection onto w >= 0, ``max(w, 0)`` elementwise, per layer.
    Reference: :meth:`reprolib.metrics.lpips.LPIPS.project_nonnegative_`.
    """
    gen = torch.Generator().manual_seed(7)
    cases = [
        ([torch.randn(1, 4, 1, 1, generator=gen, dtype=torch.float64)],),
        ([torch.randn(1, c, 1, 1, generator=gen, dtype=torch.float64) for c in (64, 192, 384, 256, 256)],),
        ([torch.tensor([[[[0.0]], [[-0.0]], [[2.0]]]], dtype=torch.float64)],),
    ]
    check(fn, _ref_project, cases, "non-negativity projection", atol=0.0, rtol=0.0,
          hint="[w.clamp(min=0) for w in weights]", diagnose=_diagnose_project)
