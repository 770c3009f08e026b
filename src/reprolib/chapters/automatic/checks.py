"""The automatic checks of Chapter 1's exercises: each compares a student's function with the reference
implementation on prepared cases and says which case failed and how."""

from __future__ import annotations

import math
from typing import Callable

import torch

from reprolib.book.exercises import _as_float_tensor, _close, _fmt, check


def _toy_bins() -> torch.Tensor:
    """A small (12, 2) bin set (a 4 x 3 patch of the step-10 grid): short, readable failure messages."""
    a, b = torch.meshgrid(torch.tensor([-10.0, 0.0, 10.0, 20.0]), torch.tensor([0.0, 10.0, 20.0]), indexing="ij")
    return torch.stack([a.reshape(-1), b.reshape(-1)], dim=1)


def _ab_without_ties(gen: torch.Generator, shape: tuple[int, ...], bins: torch.Tensor, k: int,
                     low: float, high: float) -> torch.Tensor:
    """Uniform random ab (N, 2, H, W) in [low, high], nudged so that no pixel is (nearly) equidistant
    from its k-th and (k+1)-th nearest bins: there any choice would be right, and the check ambiguous."""
    ab = low + (high - low) * torch.rand(shape, generator=gen)
    for _ in range(20):
        pts = ab.permute(0, 2, 3, 1).reshape(-1, 2).double()
        d = torch.cdist(pts, bins.double()).sort(dim=1).values
        if k >= d.shape[1]:
            break
        tied = (d[:, k] - d[:, k - 1] < 0.05).reshape(shape[0], shape[2], shape[3])
        if not bool(tied.any()):
            break
        ab[:, 0][tied] += 0.37  # a fixed nudge keeps the cases deterministic
    return ab


def _bins_arg(bins: torch.Tensor) -> torch.Tensor | None:
    """None for the 313 ECCV16 bins (quantize caches its lookup table for those), else ``bins``."""
    from reprolib.quantize import ab_bins

    full = ab_bins(bins.dtype)
    return None if bins.shape == full.shape and torch.equal(bins, full) else bins


def _ref_soft_encoding(ab, bins, k, sigma):
    from reprolib.quantize import soft_encode

    return soft_encode(ab, k=k, sigma=sigma, bins=_bins_arg(bins))


def _diagnose_soft_encoding(got, expected, ab, bins, k, sigma) -> str | None:
    g = _as_float_tensor(got)
    if g is None or g.shape != expected.shape:
        return None
    sums = g.sum(dim=1)
    if not torch.allclose(sums, torch.ones_like(sums), atol=1e-4):
        return (
            f"each pixel's weights should sum to 1 over the bins (dim 1); yours sum to values in "
            f"[{_fmt(float(sums.min()))}, {_fmt(float(sums.max()))}]. Divide the k Gaussian weights by their sum."
        )
    outside = (g.abs() * (expected == 0)).sum(dim=1)
    if float(outside.max()) > 1e-4:
        return (
            f"you put weight on bins that are not among the k = {k} nearest (up to {_fmt(float(outside.max()))} "
            "per pixel): keep only the k nearest bins (torch.topk(..., largest=False) on the distances)."
        )
    nonzero = g > 1e-7
    spread = torch.where(nonzero, g, torch.inf).amin(1) - torch.where(nonzero, g, -torch.inf).amax(1)
    if k > 1 and float(spread.abs().max()) < 1e-6:
        return (
            "all the non-zero weights of a pixel are equal: you forgot the Gaussian. Weight each of the k "
            "nearest bins by exp(-d^2 / (2 sigma^2)), d its distance to the pixel's ab, then normalise."
        )
    if _close(got, _ref_soft_encoding(ab, bins, k, sigma / math.sqrt(2.0))):
        return "your Gaussian is exp(-d^2 / sigma^2); the kernel is exp(-d^2 / (2 sigma^2))."
    if _close(got, _ref_soft_encoding(ab, bins, k, sigma * math.sqrt(2.0))):
        return "your Gaussian is exp(-d^2 / (4 sigma^2)); the kernel is exp(-d^2 / (2 sigma^2))."
    return None


def check_soft_encoding(fn: Callable) -> None:
    """Check a soft-encoding ``fn(ab (N, 2, H, W), bins (Q, 2), k, sigma) -> (N, Q, H, W)``.

    The target of Eq. 2 (paper footnote 1): for every pixel, the k bins nearest to its ab value get
    weights ``exp(-d^2 / (2 sigma^2))`` normalised to sum 1; every other bin gets 0.
    Reference: :func:`reprolib.quantize.soft_encode`.
    """
    from reprolib.quantize import ab_bins

    gen = torch.Generator().manual_seed(1)
    toy, full = _toy_bins(), ab_bins()
    on_centre = full[[0, 100, 200, 312]].T.reshape(1, 2, 2, 2).clone()  # pixels exactly on bin centres
    cases = [
        (_ab_without_ties(gen, (1, 2, 2, 3), toy, 5, -10.0, 20.0), toy, 5, 5.0),
        (_ab_without_ties(gen, (2, 2, 3, 3), full, 5, -80.0, 80.0), full, 5, 5.0),
        (on_centre, full, 5, 5.0),
        (_ab_without_ties(gen, (1, 2, 4, 4), full, 10, -60.0, 60.0), full, 10, 5.0),
        (_ab_without_ties(gen, (1, 2, 2, 2), toy, 3, -10.0, 20.0), toy, 3, 2.5),
    ]
    check(
        fn, _ref_soft_encoding, cases, "soft-encoding", atol=1e-5, rtol=1e-4,
        hint=(
            "distances from every pixel to every bin: (N, H, W, Q) via torch.cdist or broadcasting; "
            "topk(k, largest=False) for the k nearest; weights exp(-d^2 / (2 sigma^2)) normalised over the k; "
            "scatter them into zeros of shape (N, Q, H, W) (bins along dim 1)."
        ),
        diagnose=_diagnose_soft_encoding,
    )


def _ref_annealed_mean(logits, bins, T):
    from reprolib.quantize import annealed_mean

    return annealed_mean(logits, T=T, bins=bins, from_logits=True)


def _diagnose_annealed_mean(got, expected, logits, bins, T) -> str | None:
    g = _as_float_tensor(got)
    if g is None or g.shape != expected.shape:
        return None
    expectation = lambda p: torch.einsum("nqhw,qc->nchw", p, bins.to(p.dtype))  # noqa: E731
    probs = torch.softmax(logits, dim=1)
    if abs(T - 1.0) > 1e-6 and _close(got, expectation(probs)):
        return (
            "your result is the plain mean (T = 1): the temperature had no effect. Dividing probabilities "
            "by T and renormalising cancels out; Eq. 5 divides the log-probabilities (here: the logits) by T."
        )
    if _close(got, expectation(torch.softmax(probs / T, dim=1))):
        return "you divided the probabilities by T before a softmax; Eq. 5 divides log z, i.e. softmax(logits / T)."
    if abs(T - 1.0) > 1e-6 and _close(got, expectation(torch.softmax(logits * T, dim=1))):
        return "you multiplied the logits by T; divide them: softmax(logits / T). A small T sharpens the distribution."
    mode = bins[logits.argmax(dim=1)].permute(0, 3, 1, 2)
    if _close(got, mode):
        return "your result is the mode (the centre of the most probable bin), the T -> 0 limit, not the annealed mean."
    if _close(got, expectation(torch.softmax(logits / T, dim=1)).flip(1)):
        return "a and b are swapped: channel 0 is a, channel 1 is b, in the order of the bins' columns."
    return None


def check_annealed_mean(fn: Callable) -> None:
    """Check an annealed mean ``fn(logits (N, Q, H, W), bins (Q, 2), T) -> ab (N, 2, H, W)``.

    Eq. 5: ``f_T(z) = softmax(log z / T)``, then the expectation of the bin centres under ``f_T``.
    From logits, ``log z = log_softmax(logits)``, so ``f_T = softmax(logits / T)``.
    Reference: :func:`reprolib.quantize.annealed_mean`.
    """
    from reprolib.quantize import PAPER_T, ab_bins

    gen = torch.Generator().manual_seed(2)
    toy, full = _toy_bins(), ab_bins()
    cases = [
        (2 * torch.randn(1, toy.shape[0], 2, 3, generator=gen), toy, 1.0),
        (2 * torch.randn(2, toy.shape[0], 3, 4, generator=gen), toy, PAPER_T),
        (3 * torch.randn(2, full.shape[0], 3, 3, generator=gen), full, PAPER_T),
        (3 * torch.randn(1, full.shape[0], 2, 2, generator=gen), full, 0.1),
        (3 * torch.randn(1, full.shape[0], 2, 2, generator=gen), full, 2.0),
    ]
    check(
        fn, _ref_annealed_mean, cases, "annealed mean", atol=1e-3, rtol=1e-4,
        hint=(
            "probs = softmax(logits / T, dim=1) (N, Q, H, W); ab = sum over q of probs[:, q] * bins[q], e.g. "
            "torch.einsum('nqhw,qc->nchw', probs, bins), giving (N, 2, H, W)."
        ),
        diagnose=_diagnose_annealed_mean,
    )


def _ref_rebalance_weights(prior, lam):
    from reprolib.quantize import rebalance_weights

    return rebalance_weights(prior, lam)


def _diagnose_rebalance_weights(got, expected, prior, lam) -> str | None:
    g = _as_float_tensor(got)
    if g is None or g.shape != expected.shape:
        return None
    p = prior.to(torch.float64)
    Q = p.shape[0]
    mix = (1 - lam) * p + lam / Q
    expectation = float((g * p).sum())
    if expectation > 0 and abs(expectation - 1) > 1e-4 and _close(g / expectation, expected):
        if abs(float(g.sum()) - 1) < 1e-4:
            return "your weights sum to 1; Eq. 4 normalises the *expected* weight instead: sum_q p_q w_q = 1."
        if abs(float(g.mean()) - 1) < 1e-4:
            return "your weights have mean 1 over the bins; Eq. 4 weights the mean by the prior: sum_q p_q w_q = 1."
        return "right shape of weights, wrong scale: normalise so that sum_q p_q w_q = 1 (Eq. 4)."
    if _close(g / (g * p).sum(), mix / (mix * p).sum()):
        return "you forgot the reciprocal: w is proportional to 1 / ((1 - lam) p + lam / Q), not to the mixture itself."
    swapped = 1.0 / (lam * p + (1 - lam) / Q)
    if abs(lam - 0.5) > 1e-6 and _close(got, swapped / (swapped * p).sum()):
        return "lam and 1 - lam are swapped: lam is the weight of the *uniform* distribution (lam = 1: no rebalancing)."
    return None


def check_rebalance_weights(fn: Callable) -> None:
    """Check class-rebalancing weights ``fn(prior (Q,), lam) -> w (Q,)`` (Eq. 4).

    ``w ∝ ((1 - lam) p + lam / Q)^-1``, normalised so that ``sum_q p_q w_q = 1``.
    Reference: :func:`reprolib.quantize.rebalance_weights`.
    """
    gen = torch.Generator().manual_seed(3)

    def prior(q: int, peak: float) -> torch.Tensor:
        logits = peak * torch.randn(q, generator=gen, dtype=torch.float64)
        return torch.softmax(logits, dim=0)

    with_zeros = prior(12, 1.0)
    with_zeros[[2, 7]] = 0.0
    with_zeros = with_zeros / with_zeros.sum()
    cases = [
        (prior(8, 1.0), 0.5),
        (prior(313, 3.0), 0.5),
        (prior(20, 2.0), 0.2),
        (prior(10, 1.0), 1.0),
        (prior(10, 1.0), 0.0),
        (with_zeros, 0.5),
    ]
    check(
        fn, _ref_rebalance_weights, cases, "rebalancing weights", atol=1e-6, rtol=1e-5,
        hint=(
            "mix = (1 - lam) * prior + lam / Q; w = 1 / mix; then divide w by (prior * w).sum() so that the "
            "expected weight under the prior is 1."
        ),
        diagnose=_diagnose_rebalance_weights,
    )
