"""Automatic checks for the chapters' exercises (DESIGN section 8.7).

A student writes a function in the notebook and calls a checker::

    from reprolib.checks import check_soft_encoding
    check_soft_encoding(my_soft_encode)     # prints "✓ soft-encoding: all 4 cases pass" or explains

:func:`check` runs the student's function and a reference on a few deterministic cases and compares the
results: types and shapes first, then values within a tolerance. When something is off it raises
:class:`ExerciseCheckError` (an ``AssertionError``) whose message says which case failed (its inputs,
summarised), what was expected and what came back (the worst element's index and both values), a
diagnosis of common mistakes where one applies, and a hint. Both functions get fresh copies of the
inputs, so a function that modifies its arguments in place cannot corrupt the reference.
"""

from __future__ import annotations

import copy
import inspect
import math
from typing import Any, Callable, Sequence

import numpy as np
import torch

__all__ = [
    "ExerciseCheckError",
    "check",
    "check_soft_encoding",
    "check_annealed_mean",
    "check_rebalance_weights",
]


class ExerciseCheckError(AssertionError):
    """Raised when a student's function does not match the reference; the message explains why."""


# ----------------------------------------------------------------------------- summaries


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _summarise(value: Any) -> str:
    """A one-line description of an input or output: type, shape, dtype, range, a few values."""
    if isinstance(value, (torch.Tensor, np.ndarray)):
        kind = "tensor" if isinstance(value, torch.Tensor) else "array"
        t = torch.as_tensor(value.detach().cpu() if isinstance(value, torch.Tensor) else value)
        dtype = str(t.dtype).replace("torch.", "")
        desc = f"{kind} of shape {tuple(t.shape)}, {dtype}"
        if t.numel() == 0:
            return desc + ", empty"
        flat = t.flatten()
        if t.is_floating_point() or t.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8):
            f = flat.to(torch.float64)
            finite = f[torch.isfinite(f)]
            if finite.numel():
                desc += f", values in [{_fmt(float(finite.min()))}, {_fmt(float(finite.max()))}]"
        shown = ", ".join(_fmt(float(v)) if t.is_floating_point() else str(v.item()) for v in flat[:4])
        more = ", ..." if flat.numel() > 4 else ""
        return f"{desc}: [{shown}{more}]"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_summarise(v) for v in value[:3])
        more = ", ..." if len(value) > 3 else ""
        kind = "list" if isinstance(value, list) else "tuple"
        return f"{kind} of {len(value)}: ({inner}{more})"
    if isinstance(value, float):
        return _fmt(value)
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _named_args(fn: Callable, args: tuple, kwargs: dict) -> list[tuple[str, Any]]:
    """Pair the case's arguments with the reference function's parameter names where possible."""
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
        return list(bound.arguments.items())
    except (TypeError, ValueError):
        return [(f"arg{i}", a) for i, a in enumerate(args)] + list(kwargs.items())


def _index_str(index: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(i) for i in index) + ")" if index else "()"


# ----------------------------------------------------------------------------- comparison


def _as_float_tensor(x: Any) -> torch.Tensor | None:
    """Tensor/array/number -> float64 CPU tensor; None if it is not numeric."""
    if isinstance(x, torch.Tensor):
        t = x.detach().cpu()
    elif isinstance(x, np.ndarray):
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
            return None
        t = torch.from_numpy(np.ascontiguousarray(x))
    elif isinstance(x, (bool, int, float, np.number, np.bool_)):
        t = torch.tensor(float(x))
    else:
        return None
    if t.is_complex():
        return None
    return t.to(torch.float64)


def _shape_problem(got_shape: tuple, exp_shape: tuple) -> str:
    msg = f"expected shape {exp_shape}, got {got_shape} (values were not compared)."
    if sorted(got_shape) == sorted(exp_shape):
        msg += (
            " The sizes are the same but in a different order: check which dimension is which "
            "(reprolib is channels first, e.g. (N, Q, H, W)); permute, don't reshape."
        )
    elif math.prod(got_shape) == math.prod(exp_shape):
        squeezed_g = tuple(s for s in got_shape if s != 1)
        squeezed_e = tuple(s for s in exp_shape if s != 1)
        if squeezed_g == squeezed_e:
            msg += " Only dimensions of size 1 differ: a missing keepdim=True, an extra unsqueeze or squeeze?"
        else:
            msg += (
                " Same number of elements, different arrangement: a reshape or view where a permute "
                "was needed?"
            )
    elif len(got_shape) != len(exp_shape):
        msg += (
            f" Your output has {len(got_shape)} dimensions instead of {len(exp_shape)}: "
            "a sum or mean over the wrong dimension, or a missing one?"
        )
    return msg


def _compare_leaf(got: Any, exp: Any, where: str, atol: float, rtol: float) -> str | None:
    exp_t = _as_float_tensor(exp)
    if exp_t is None:  # non-numeric reference value (a string, a flag): exact equality
        return None if got == exp else f"{where}: expected {exp!r}, got {got!r}."
    got_t = _as_float_tensor(got)
    if got_t is None:
        return f"{where}: expected a {type(exp).__name__} of numbers, got a {type(got).__name__} ({_summarise(got)})."
    scalar_expected = not isinstance(exp, (torch.Tensor, np.ndarray))
    if scalar_expected and got_t.numel() == 1:
        got_t = got_t.reshape(())
    if tuple(got_t.shape) != tuple(exp_t.shape):
        return f"{where}: " + _shape_problem(tuple(got_t.shape), tuple(exp_t.shape))

    # Values: |got - expected| <= atol + rtol * |expected|, NaN only where the reference has NaN.
    both_nan = torch.isnan(got_t) & torch.isnan(exp_t)
    same_inf = torch.isinf(got_t) & torch.isinf(exp_t) & (torch.sign(got_t) == torch.sign(exp_t))
    diff = (got_t - exp_t).abs()
    tol = atol + rtol * exp_t.abs()
    ok = (diff <= tol) | both_nan | same_inf
    if bool(ok.all()):
        return None
    bad = ~ok
    n_bad, n = int(bad.sum()), bad.numel()
    excess = torch.where(bad, torch.nan_to_num(diff - tol, nan=float("inf")), torch.full_like(diff, -1.0))
    flat = int(torch.argmax(excess.flatten()))
    index = tuple(int(i) for i in np.unravel_index(flat, tuple(exp_t.shape))) if exp_t.ndim else ()
    e, g = float(exp_t.flatten()[flat]), float(got_t.flatten()[flat])
    what = "the value differs" if n == 1 else f"{n_bad} of {n} values differ"
    msg = f"{where}: {what}; the worst at index {_index_str(index)}: expected {_fmt(e)}, got {_fmt(g)}."
    n_nan = int((torch.isnan(got_t) & ~torch.isnan(exp_t)).sum())
    if n_nan:
        msg += (
            f" Your output has {n_nan} NaN value(s) where the reference has none: "
            "a division by zero or the log of 0?"
        )
    elif torch.isfinite(exp_t).all() and torch.isfinite(got_t).all():
        denom = float((exp_t * exp_t).sum())
        if denom > 0 and n > 1:
            c = float((got_t * exp_t).sum()) / denom
            if abs(c - 1) > 1e-3 and torch.allclose(got_t, c * exp_t, rtol=1e-3, atol=atol):
                msg += (
                    f" Your output is {_fmt(c)} times the expected one everywhere: "
                    "a normalisation or scale factor is off."
                )
    return msg


def _compare(got: Any, exp: Any, where: str, atol: float, rtol: float) -> str | None:
    """None if ``got`` matches ``exp``; otherwise one sentence that explains the first difference."""
    if isinstance(exp, (tuple, list)):
        if not isinstance(got, (tuple, list)):
            return f"{where}: expected a {type(exp).__name__} of {len(exp)} items, got {_summarise(got)}."
        if len(got) != len(exp):
            return f"{where}: expected {len(exp)} items, got {len(got)}."
        for i, (g, e) in enumerate(zip(got, exp)):
            problem = _compare(g, e, f"{where}[{i}]", atol, rtol)
            if problem:
                return problem
        return None
    if isinstance(exp, dict):
        if not isinstance(got, dict):
            return f"{where}: expected a dict with keys {sorted(exp)}, got {_summarise(got)}."
        if set(got) != set(exp):
            return f"{where}: expected keys {sorted(exp)}, got {sorted(got)}."
        for key in exp:
            problem = _compare(got[key], exp[key], f"{where}[{key!r}]", atol, rtol)
            if problem:
                return problem
        return None
    return _compare_leaf(got, exp, where, atol, rtol)


# ----------------------------------------------------------------------------- the checker


def _split_case(case: Any) -> tuple[tuple, dict]:
    if isinstance(case, dict):
        return (), dict(case)
    if isinstance(case, tuple):
        return case, {}
    return (case,), {}


def check(
    student_fn: Callable,
    reference_fn: Callable,
    cases: Sequence,
    name: str,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    hint: str = "",
    diagnose: Callable[..., str | None] | None = None,
) -> None:
    """Compare ``student_fn`` with ``reference_fn`` on every case; print a tick or raise.

    Args:
        student_fn: the function under test.
        reference_fn: the correct implementation, called the same way.
        cases: each a tuple of positional arguments or a dict of keyword arguments.
        name: the exercise's name, used in the messages.
        atol, rtol: values pass where ``|got - expected| <= atol + rtol * |expected|`` (elementwise).
            Outputs may be tensors, arrays, numbers, or tuples/lists/dicts of them.
        hint: appended to every failure message.
        diagnose: optional ``diagnose(got, expected, *args, **kwargs) -> str | None`` that recognises a
            common mistake from a wrong output; its text is added to the failure message.

    Raises:
        ExerciseCheckError: the first failing case, explained. TypeError/ValueError for a bad call.
    """
    if not callable(student_fn):
        raise TypeError(f"{name}: pass your function itself (without calling it), got {type(student_fn).__name__}")
    if not callable(reference_fn):
        raise TypeError(f"{name}: reference_fn must be callable, got {type(reference_fn).__name__}")
    cases = list(cases)
    if not cases:
        raise ValueError(f"{name}: no cases to check")
    total = len(cases)
    hint_text = f"\n  hint: {hint}" if hint else ""

    for i, case in enumerate(cases, start=1):
        args, kwargs = _split_case(case)
        inputs = "; ".join(f"{k} = {_summarise(v)}" for k, v in _named_args(reference_fn, args, kwargs))
        header = f"✗ {name}: case {i} of {total} failed.\n  inputs: {inputs}"
        expected = reference_fn(*copy.deepcopy(args), **copy.deepcopy(kwargs))
        try:
            got = student_fn(*copy.deepcopy(args), **copy.deepcopy(kwargs))
        except NotImplementedError as exc:
            raise ExerciseCheckError(
                f"✗ {name}: your function raises NotImplementedError ({exc}). Fill it in, then run the check again."
                + hint_text
            ) from None
        except Exception as exc:
            raise ExerciseCheckError(
                f"{header}\n  problem: your function raised {type(exc).__name__}: {exc}\n"
                "  (the traceback above shows where)" + hint_text
            ) from exc
        if got is None and expected is not None:
            raise ExerciseCheckError(
                f"✗ {name}: your function returned None. Have you filled it in yet? "
                "If you have, check that it ends with a `return` statement." + hint_text
            )
        problem = _compare(got, expected, "output", atol, rtol)
        if problem is None:
            continue
        diagnosis = ""
        if diagnose is not None:
            try:
                found = diagnose(got, expected, *copy.deepcopy(args), **copy.deepcopy(kwargs))
            except Exception:  # a diagnosis must never hide the main message
                found = None
            if found:
                diagnosis = f"\n  diagnosis: {found}"
        raise ExerciseCheckError(f"{header}\n  problem: {problem}{diagnosis}{hint_text}")
    print(f"✓ {name}: all {total} cases pass")


# ----------------------------------------------------------------------------- chapter 1 (ECCV16)


def _close(a: Any, b: torch.Tensor, atol: float = 1e-4, rtol: float = 1e-3) -> bool:
    """True when the student's output ``a`` has ``b``'s shape and values (a loose test for diagnoses)."""
    t = _as_float_tensor(a)
    return t is not None and t.shape == b.shape and torch.allclose(t, b.to(torch.float64), atol=atol, rtol=rtol)


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
    from .quantize import ab_bins

    full = ab_bins(bins.dtype)
    return None if bins.shape == full.shape and torch.equal(bins, full) else bins


def _ref_soft_encoding(ab, bins, k, sigma):
    from .quantize import soft_encode

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
    from .quantize import ab_bins

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
    from .quantize import annealed_mean

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
    from .quantize import PAPER_T, ab_bins

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
    from .quantize import rebalance_weights

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


# ----------------------------------------------------------------------------- chapter 2 (SIGGRAPH17)

__all__ += ["check_smooth_l1", "check_reveal_patches", "check_lloyd_step"]


def _ref_smooth_l1(ab_pred, ab_true, delta):
    from .models.siggraph17 import smooth_l1_loss

    return smooth_l1_loss(ab_pred, ab_true, delta=delta, reduction="mean")


def _diagnose_smooth_l1(got, expected, ab_pred, ab_true, delta) -> str | None:
    g = _as_float_tensor(got)
    if g is None or g.numel() != 1:
        return "the loss must be one number (a scalar tensor): sum over a and b, then average over pixels."
    e, g = float(expected), float(g.reshape(()))
    if e != 0 and abs(g / e - 0.5) < 1e-3:
        return "your loss is half the expected one: sum the two channels (a and b) per pixel before averaging over pixels."
    d = (ab_pred - ab_true).abs().double()
    if abs(g - float(d.sum(1).mean())) < 1e-4 * max(1.0, abs(g)):
        return "you computed the plain l1 loss; near zero (|x - y| < delta) Eq. 3.4 is quadratic, 0.5 (x - y)^2."
    quad_full = torch.where(d < delta, d ** 2, delta * (d - 0.5 * delta)).sum(1).mean()
    if abs(g - float(quad_full)) < 1e-4 * max(1.0, abs(g)):
        return "the quadratic branch of Eq. 3.4 is 0.5 (x - y)^2: you dropped the factor 1/2."
    return None


def check_smooth_l1(fn: Callable) -> None:
    """Check a smooth-l1 (Huber) loss ``fn(ab_pred (N,2,H,W), ab_true (N,2,H,W), delta) -> scalar`` (Eq. 3.4-3.5).

    Per element ``0.5 (x - y)^2`` where ``|x - y| < delta``, else ``delta (|x - y| - delta / 2)``; summed over
    a and b, averaged over the N x H x W pixels. Reference: :func:`reprolib.models.siggraph17.smooth_l1_loss`.
    """
    gen = torch.Generator().manual_seed(4)
    small = 0.8 * torch.randn(1, 2, 3, 3, generator=gen)  # mostly inside |d| < 1: the quadratic branch
    cases = [
        (small, torch.zeros(1, 2, 3, 3), 1.0),
        (30 * torch.randn(2, 2, 4, 4, generator=gen), 30 * torch.randn(2, 2, 4, 4, generator=gen), 1.0),
        (5 * torch.randn(1, 2, 4, 5, generator=gen), 5 * torch.randn(1, 2, 4, 5, generator=gen), 4.0),
        (torch.tensor([0.5, 2.0]).reshape(1, 2, 1, 1), torch.zeros(1, 2, 1, 1), 1.0),
    ]
    check(
        fn, _ref_smooth_l1, cases, "smooth-l1 loss", atol=1e-5, rtol=1e-5,
        hint=("d = (ab_pred - ab_true).abs(); per element torch.where(d < delta, 0.5 * d**2, delta * (d - 0.5 * delta)); "
              "then .sum(dim=1).mean()."),
        diagnose=_diagnose_smooth_l1,
    )


def _ref_reveal_patches(ab, points):
    from .data.hints import reveal_patches

    return reveal_patches(ab, points)


def _diagnose_reveal_patches(got, expected, ab, points) -> str | None:
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return "return a pair (ab_hint, mask)."
    hint, mask = (_as_float_tensor(g) for g in got)
    if hint is None or mask is None or hint.shape != expected[0].shape:
        return None
    if mask.shape == expected[1].shape and torch.equal(mask, expected[1].double()):
        centre = torch.zeros_like(hint)
        for i, t, l, s in points.tolist():
            centre[i, :, t:t + s, l:l + s] = ab[i, :, t + s // 2, l + s // 2].double()[:, None, None]
        if torch.allclose(hint, centre, atol=1e-4):
            return "you revealed the colour of the patch's centre pixel; the paper reveals the *mean* ab over the patch."
        if torch.allclose(hint, (ab * expected[1]).double(), atol=1e-4):
            return "you copied the true colours pixel by pixel; every pixel of a patch gets the patch's mean ab."
    else:
        return "the mask must be 1 exactly on the patches' pixels and 0 elsewhere, with shape (N, 1, H, W)."
    return None


def check_reveal_patches(fn: Callable) -> None:
    """Check the simulated user's reveal ``fn(ab (N,2,H,W), points (M,4) int64) -> (ab_hint, mask)`` (section 3.3.2).

    Each row ``(image, top, left, size)`` is a square patch; every pixel of it gets the patch's mean true ab in
    ``ab_hint`` and 1 in ``mask`` (N,1,H,W); later rows overwrite earlier ones; elsewhere both are 0.
    Reference: :func:`reprolib.data.hints.reveal_patches`.
    """
    gen = torch.Generator().manual_seed(5)
    ab = 40 * torch.randn(2, 2, 8, 8, generator=gen)
    cases = [
        (ab[:1].clone(), torch.tensor([[0, 2, 3, 3]])),
        (ab.clone(), torch.tensor([[0, 0, 0, 1], [1, 4, 4, 4], [1, 1, 2, 2]])),
        (ab.clone(), torch.tensor([[0, 1, 1, 5], [0, 3, 3, 3]])),  # overlap: the later patch wins
        (ab.clone(), torch.zeros(0, 4, dtype=torch.long)),
    ]
    check(
        fn, _ref_reveal_patches, cases, "reveal patches", atol=1e-4, rtol=1e-5,
        hint=("start from zeros (N,2,H,W) and (N,1,H,W); for each row i, t, l, s in points.tolist(): "
              "m = ab[i, :, t:t+s, l:l+s].mean(dim=(1, 2)); write it into the patch and set the mask to 1."),
        diagnose=_diagnose_reveal_patches,
    )


def _ref_lloyd_step(points, weights, centres):
    X, w, C = points.double(), weights.double(), centres.double()
    label = torch.cdist(X, C).argmin(1)
    mass = torch.zeros(C.shape[0], dtype=torch.float64).index_add_(0, label, w)
    sums = torch.zeros_like(C).index_add_(0, label, w[:, None] * X)
    return torch.where(mass[:, None] > 0, sums / mass.clamp(min=1e-300)[:, None], C)


def _diagnose_lloyd_step(got, expected, points, weights, centres) -> str | None:
    g = _as_float_tensor(got)
    if g is None or g.shape != expected.shape:
        return None
    unweighted = _ref_lloyd_step(points, (weights > 0).double(), centres)
    if torch.allclose(g, unweighted, atol=1e-4):
        return "your centres are plain means of their points; weight each point by its probability (weights)."
    return None


def check_lloyd_step(fn: Callable) -> None:
    """Check one step of weighted k-means ``fn(points (M,D), weights (M,), centres (K,D)) -> new centres (K,D)``.

    Assign every point to its nearest centre (ties: the lower index); move each centre to the weighted mean
    of its points; a centre whose points have no weight stays where it is. The palette of section 3.3.2 runs
    such steps on the ab bin centres weighted by the softened predicted distribution.
    """
    gen = torch.Generator().manual_seed(6)
    pts = torch.tensor([[0.0, 0.0], [1.0, 0.0], [10.0, 10.0], [11.0, 10.0]])
    cases = [
        (pts, torch.tensor([1.0, 3.0, 1.0, 1.0]), torch.tensor([[0.0, 1.0], [10.0, 9.0]])),
        (pts, torch.tensor([1.0, 1.0, 0.0, 0.0]), torch.tensor([[0.0, 1.0], [10.0, 9.0]])),  # an empty centre stays
        (30 * torch.randn(40, 2, generator=gen), torch.rand(40, generator=gen), 30 * torch.randn(5, 2, generator=gen)),
    ]
    check(
        fn, _ref_lloyd_step, cases, "weighted k-means step", atol=1e-6, rtol=1e-6,
        hint=("label = torch.cdist(points, centres).argmin(1); for each k: the points with label k, "
              "(w[:, None] * x).sum(0) / w.sum(); keep the old centre when w.sum() == 0."),
        diagnose=_diagnose_lloyd_step,
    )


# ----------------------------------------------------------------------------- chapter 5 (LPIPS)


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
    Reference: :func:`reprolib.lpips.normalize_channels`.
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
    Reference: :func:`reprolib.perceptual.two_afc_score`.
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

    Sec. 6.3: "We enforce non-negative weightings on the linear layer w ... by projecting the weights into
    the constraint set at every iteration ... we check for any negative weights, and force them to be 0",
    i.e. the Euclidean projection onto w >= 0, ``max(w, 0)`` elementwise, per layer.
    Reference: :meth:`reprolib.lpips.LPIPS.project_nonnegative_`.
    """
    gen = torch.Generator().manual_seed(7)
    cases = [
        ([torch.randn(1, 4, 1, 1, generator=gen, dtype=torch.float64)],),
        ([torch.randn(1, c, 1, 1, generator=gen, dtype=torch.float64) for c in (64, 192, 384, 256, 256)],),
        ([torch.tensor([[[[0.0]], [[-0.0]], [[2.0]]]], dtype=torch.float64)],),
    ]
    check(fn, _ref_project, cases, "non-negativity projection", atol=0.0, rtol=0.0,
          hint="[w.clamp(min=0) for w in weights]", diagnose=_diagnose_project)
