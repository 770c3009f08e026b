"""Automatic checks for the chapters' exercises (DESIGN section 8.7).

A student writes a function in the notebook and calls a checker::

    from reprolib.chapters.automatic.checks import check_soft_encoding
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


# ----------------------------------------------------------------------------- helpers for the chapters' diagnoses


def _close(a: Any, b: torch.Tensor, atol: float = 1e-4, rtol: float = 1e-3) -> bool:
    """True when the student's output ``a`` has ``b``'s shape and values (a loose test for diagnoses)."""
    t = _as_float_tensor(a)
    return t is not None and t.shape == b.shape and torch.allclose(t, b.to(torch.float64), atol=atol, rtol=rtol)
