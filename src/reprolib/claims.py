"""Papers' numbers, claims and their verdicts, exact facts (DESIGN section 7)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import torch

VERDICTS = ("reproduced", "not_reproduced", "not_testable")


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


@dataclass(frozen=True, kw_only=True)
class PaperNumber:
    """One number printed in a paper.

    Attributes:
        key: dotted key under which the book compares it with measured metrics, e.g. ``"full.auc"``.
        value: the number as printed.
        unit: e.g. ``"%"``, ``"MB"``, ``"ms"`` (``""`` if unitless).
        where: ``"Table 1"``, ``"Fig. 5"``, ``"Sec. 3.1"``...
        page: page in the paper's PDF, or None.
        definition: the metric's exact definition, as the paper (or its code) computes it.
        note: anything needed to read it fairly (dataset, split, resolution).
    """

    key: str
    value: float | int
    unit: str
    where: str
    page: str | None = None
    definition: str
    note: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not self.key:
            raise ValueError(f"PaperNumber.key must be a non-empty string, got {self.key!r}")
        if not _is_number(self.value) or not math.isfinite(self.value):
            raise ValueError(f"PaperNumber {self.key!r}: value must be a finite number, got {self.value!r}")
        if not isinstance(self.definition, str) or not self.definition.strip():
            raise ValueError(f"PaperNumber {self.key!r}: give the metric's definition (a non-empty string)")


class MissingMetricError(KeyError):
    """A dotted key that a claim or table asked for is not in the metrics."""

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return str(self.args[0])


def lookup(metrics: Mapping[str, Any], key: str) -> Any:
    """Value at dotted path ``key`` in the nested dict ``metrics``; MissingMetricError if absent."""
    if not isinstance(key, str) or not key:
        raise TypeError(f"metric keys are non-empty dotted strings, got {key!r}")
    node: Any = metrics
    parts = key.split(".")
    for i, part in enumerate(parts):
        if not isinstance(node, Mapping) or part not in node:
            where = ".".join(parts[:i]) or "the top level"
            have = ", ".join(map(str, list(node)[:20])) if isinstance(node, Mapping) else f"a {type(node).__name__}"
            raise MissingMetricError(f"metric {key!r} is missing: no {part!r} under {where} (found: {have})")
        node = node[part]
    return node


def _number(metrics: Mapping[str, Any], key: str) -> float:
    v = lookup(metrics, key)
    if isinstance(v, torch.Tensor) and v.numel() == 1:
        v = v.item()
    if not _is_number(v):
        raise TypeError(f"metric {key!r} is {v!r}; a claim needs a number there")
    v = float(v)
    if not math.isfinite(v):
        raise ValueError(f"metric {key!r} is {v}; a claim cannot be judged on a non-finite value")
    return v


def _fmt(v: Any) -> str:
    """Short human format for numbers in evidence summaries and tables."""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if _is_number(v) and isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if _is_number(v):
        v = float(v)
        if not math.isfinite(v):
            return str(v)
        if abs(v) >= 1e5:
            return f"{v:,.0f}"
        return f"{v:.4g}"
    return str(v)


def _check_margin(margin: Any) -> float:
    if not _is_number(margin) or not math.isfinite(margin) or margin < 0:
        raise ValueError(f"margin must be a finite number >= 0, got {margin!r}")
    return float(margin)


@dataclass(frozen=True)
class Claim:
    """A finding of the paper, with a check over measured metrics.

    ``evaluate(metrics)`` returns ``(verdict, evidence)``. Build claims with :func:`greater`,
    :func:`all_greater`, :func:`monotone`, :func:`custom` or :func:`not_testable`.
    """

    id: str
    statement: str
    evaluate: Callable[[Mapping[str, Any]], tuple[str, dict[str, Any]]]

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not re.match(r"^[A-Za-z0-9_.-]+$", self.id):
            raise ValueError(f"Claim id must be a non-empty name of letters, digits, '_', '.', '-', got {self.id!r}")
        if not isinstance(self.statement, str) or not self.statement.strip():
            raise ValueError(f"Claim {self.id!r}: the statement must be a non-empty string")

    def check(self, metrics: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """Judge the claim on ``metrics``: ``(verdict, evidence)``."""
        if not isinstance(metrics, Mapping):
            raise TypeError(f"metrics must be a dict, got {type(metrics).__name__}")
        verdict, evidence = self.evaluate(metrics)
        if verdict not in VERDICTS:
            raise ValueError(f"Claim {self.id!r} gave the verdict {verdict!r}; expected one of {VERDICTS}")
        return verdict, evidence


def _verdict(ok: bool) -> str:
    return "reproduced" if ok else "not_reproduced"


def greater(id: str, statement: str, a: str, b: str, margin: float) -> Claim:
    """Reproduced iff ``metrics[a] > metrics[b] + margin`` (``a`` and ``b`` are dotted keys)."""
    margin = _check_margin(margin)

    def evaluate(metrics: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        va, vb = _number(metrics, a), _number(metrics, b)
        ok = va > vb + margin
        return _verdict(ok), {
            "comparison": f"{a} > {b} + {margin:g}",
            "values": {a: va, b: vb},
            "margin": margin,
            "difference": va - vb,
            "summary": f"{a} = {_fmt(va)} vs {b} = {_fmt(vb)}: difference {_fmt(va - vb)} "
            f"{'>' if ok else '<='} margin {margin:g}",
        }

    return Claim(id, statement, evaluate)


def all_greater(id: str, statement: str, pairs: Sequence[tuple[str, str]], margin: float) -> Claim:
    """Reproduced iff ``metrics[a] > metrics[b] + margin`` for every pair ``(a, b)``."""
    margin = _check_margin(margin)
    pairs = [tuple(p) for p in pairs]
    if not pairs or not all(len(p) == 2 and all(isinstance(k, str) for k in p) for p in pairs):
        raise ValueError(f"all_greater {id!r}: pairs must be a non-empty list of (key_a, key_b) strings")

    def evaluate(metrics: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        rows, values = [], {}
        for a, b in pairs:
            va, vb = _number(metrics, a), _number(metrics, b)
            values[a], values[b] = va, vb
            rows.append({"a": a, "b": b, "difference": va - vb, "holds": va > vb + margin})
        held = sum(r["holds"] for r in rows)
        summary = f"{held}/{len(rows)} pairs differ by more than {margin:g}: " + "; ".join(
            f"{r['a']} - {r['b']} = {_fmt(r['difference'])}{'' if r['holds'] else ' (fails)'}" for r in rows
        )
        return _verdict(held == len(rows)), {
            "comparison": f"a > b + {margin:g} for each pair (a, b)",
            "values": values,
            "margin": margin,
            "pairs": rows,
            "summary": summary,
        }

    return Claim(id, statement, evaluate)


def monotone(id: str, statement: str, keys: Sequence[str], increasing: bool = True, margin: float = 0.0) -> Claim:
    """Reproduced iff the values at ``keys`` rise (or fall) by more than ``margin`` at every step."""
    margin = _check_margin(margin)
    keys = list(keys)
    if len(keys) < 2 or not all(isinstance(k, str) for k in keys):
        raise ValueError(f"monotone {id!r}: keys must be at least two dotted strings, got {keys!r}")

    def evaluate(metrics: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        vals = [_number(metrics, k) for k in keys]
        steps = [y - x for x, y in zip(vals, vals[1:])]
        ok = all((s > margin) if increasing else (s < -margin) for s in steps)
        op = "<" if increasing else ">"
        return _verdict(ok), {
            "comparison": f" {op} ".join(keys) + f" (each step {'+' if increasing else '-'}more than {margin:g})",
            "values": dict(zip(keys, vals)),
            "margin": margin,
            "steps": steps,
            "summary": f" {op} ".join(_fmt(v) for v in vals) + (": holds" if ok else ": does not hold")
            + f" with margin {margin:g}",
        }

    return Claim(id, statement, evaluate)


def custom(id: str, statement: str, fn: Callable[[Mapping[str, Any]], tuple[bool, dict[str, Any]]]) -> Claim:
    """A claim with its own check: ``fn(metrics) -> (holds, evidence)``.

    ``evidence`` must be a dict with at least ``"values"`` (the measured numbers used) and
    ``"comparison"`` (what was compared, margins included); ``"summary"`` (one line) is recommended.
    """
    if not callable(fn):
        raise TypeError(f"custom {id!r}: fn must be callable")

    def evaluate(metrics: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        out = fn(metrics)
        if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], dict)):
            raise TypeError(f"custom claim {id!r}: fn must return (bool, evidence dict), got {out!r}")
        ok, evidence = out
        if not isinstance(ok, (bool, np.bool_)):
            raise TypeError(f"custom claim {id!r}: fn must return a bool verdict first, got {ok!r}")
        missing = [k for k in ("values", "comparison") if k not in evidence]
        if missing:
            raise ValueError(
                f"custom claim {id!r}: its evidence lacks {missing}; include the measured 'values' and the "
                "'comparison' made (with its margin)"
            )
        return _verdict(bool(ok)), dict(evidence)

    return Claim(id, statement, evaluate)


def not_testable(id: str, statement: str, reason: str) -> Claim:
    """A claim that this reproduction cannot test (offline, at this scale); ``reason`` says why."""
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError(f"not_testable {id!r}: give the reason (a non-empty string)")
    return Claim(id, statement, lambda metrics: ("not_testable", {"reason": reason, "summary": reason}))


def evaluate_claims(claims: Iterable[Claim], metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Judge every claim: a list of ``{"id", "statement", "verdict", "evidence"}`` dicts."""
    out, seen = [], set()
    for c in claims:
        if not isinstance(c, Claim):
            raise TypeError(f"evaluate_claims expects Claim objects, got {type(c).__name__}")
        if c.id in seen:
            raise ValueError(f"two claims share the id {c.id!r}")
        seen.add(c.id)
        verdict, evidence = c.check(metrics)
        out.append({"id": c.id, "statement": c.statement, "verdict": verdict, "evidence": evidence})
    return out


def fact(
    name: str, expected: Any, measured: Any, tol: float = 0, unit: str = "", note: str = ""
) -> dict[str, Any]:
    """An exact check: ``ok`` iff ``|measured - expected| <= tol`` (numbers) or ``measured == expected``.

    Non-numbers (strings, lists such as shapes) are compared for equality and need ``tol=0``.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"fact name must be a non-empty string, got {name!r}")
    if not _is_number(tol) or not math.isfinite(tol) or tol < 0:
        raise ValueError(f"fact {name!r}: tol must be a finite number >= 0, got {tol!r}")
    out: dict[str, Any] = {"name": name, "expected": expected, "measured": measured, "tol": tol, "unit": unit}
    if _is_number(expected) and _is_number(measured):
        if not math.isfinite(float(measured)):
            raise ValueError(f"fact {name!r}: measured value is {measured}")
        diff = float(measured) - float(expected)
        out["difference"] = diff
        out["ok"] = abs(diff) <= tol
    else:
        if tol:
            raise ValueError(f"fact {name!r}: a tolerance needs numbers, got {expected!r} and {measured!r}")
        as_list = lambda v: list(v) if isinstance(v, (tuple, list)) else v  # noqa: E731
        out["ok"] = bool(as_list(expected) == as_list(measured))
    if note:
        out["note"] = note
    return out
