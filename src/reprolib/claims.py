"""Papers' numbers, claims and their verdicts, exact facts (DESIGN section 7).

A claim is judged from comparisons (:class:`Test`): a statistic of per-unit samples that the paper says
exceeds a margin, with a bootstrap interval from :mod:`reprolib.bootstrap`. The verdict rule is written
once, here: :func:`interval_verdict` for one comparison of one run, :func:`conjunction` for a claim of
several comparisons, :func:`final_verdict` for a single run confirmed by a seed study. Four verdicts:
``reproduced``, ``not_reproduced``, ``inconclusive`` (the evidence cannot tell) and ``not_testable``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import torch

from reprolib.bootstrap import LEVEL, RESAMPLES, SEED, Draws, Stat, mean, percentile_interval
from reprolib.validation import checked_by

VERDICTS = ("reproduced", "not_reproduced", "inconclusive", "not_testable")


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


# ----------------------------------------------------------------------------------------------
# The verdict rule (the book's summary page shows these three functions)


def _check_interval(low: float, high: float, threshold: float) -> None:
    for name, v in (("low", low), ("high", high), ("threshold", threshold)):
        if not _is_number(v) or not math.isfinite(v):
            raise ValueError(f"interval_verdict: {name} must be a finite number, got {v!r}")
    if low > high:
        raise ValueError(f"interval_verdict: the interval's low end {low} lies above its high end {high}")


def _check_parts(verdicts: Sequence[str]) -> None:
    if not verdicts:
        raise ValueError("a claim needs at least one comparison")
    bad = [v for v in verdicts if v not in ("reproduced", "not_reproduced", "inconclusive")]
    if bad:
        raise ValueError(f"a comparison's verdict is reproduced, not_reproduced or inconclusive, got {bad}")


def _check_seeds(single_run: str, seed_verdicts: Sequence[str] | None) -> None:
    if single_run not in VERDICTS:
        raise ValueError(f"final_verdict: the single run's verdict must be one of {VERDICTS}, got {single_run!r}")
    if seed_verdicts is not None and len(seed_verdicts) == 0:
        raise ValueError("a seed study needs at least one seed")
    bad = [v for v in (seed_verdicts or ()) if v not in VERDICTS]
    if bad:
        raise ValueError(f"final_verdict: every seed's verdict must be one of {VERDICTS}, got {bad}")


@checked_by(_check_interval)
def interval_verdict(low: float, high: float, threshold: float) -> str:
    """One comparison of one run: the paper says the statistic exceeds ``threshold``.

    The interval ``[low, high]`` lies wholly past the threshold: reproduced; wholly below it: not
    reproduced; it contains the threshold: inconclusive.
    """
    if low > threshold:
        return "reproduced"
    if high < threshold:
        return "not_reproduced"
    return "inconclusive"


@checked_by(_check_parts)
def conjunction(verdicts: Sequence[str]) -> str:
    """A claim made of several comparisons holds when all of them do: reproduced if every part is
    reproduced, not reproduced if any part is not, inconclusive otherwise."""
    if "not_reproduced" in verdicts:
        return "not_reproduced"
    if all(v == "reproduced" for v in verdicts):
        return "reproduced"
    return "inconclusive"


@checked_by(_check_seeds)
def final_verdict(single_run: str, seed_verdicts: Sequence[str] | None) -> str:
    """The chapter's verdict: the single run's, confirmed by a majority of the seed study's runs.

    Reproduced when the single run is and more than half of the seeds are; not reproduced when the single
    run is not and more than half of the seeds are not; not testable stays so; anything else is
    inconclusive. Without a seed study (``None``) the single run decides alone.
    """
    if single_run == "not_testable" or seed_verdicts is None:
        return single_run
    majority = len(seed_verdicts) / 2
    for v in ("reproduced", "not_reproduced"):
        if single_run == v and sum(s == v for s in seed_verdicts) > majority:
            return v
    return "inconclusive"


# ----------------------------------------------------------------------------------------------
# Comparisons and claims


@dataclass(frozen=True)
class Margin:
    """A margin or a fixed bar a compared statistic must exceed, with the reason it has this size."""

    value: float
    reason: str

    def __post_init__(self) -> None:
        if not _is_number(self.value) or not math.isfinite(self.value):
            raise ValueError(f"a margin must be a finite number, got {self.value!r}")
        if not isinstance(self.reason, str) or not self.reason.strip():
            raise ValueError(f"margin {self.value!r}: give the reason for its size (a non-empty string)")

    def __neg__(self) -> "Margin":
        return Margin(-self.value, self.reason)


@dataclass(frozen=True)
class Test:
    """One comparison of a claim: the paper says ``stat`` exceeds ``margin``; judged on the bootstrap interval."""

    label: str
    stat: Stat
    margin: Margin
    unit: str = ""
    __test__ = False  # not a pytest test class, whatever its name

    def __post_init__(self) -> None:
        if not isinstance(self.stat, Stat):
            raise TypeError(f"Test {self.label!r}: stat must be a reprolib.bootstrap statistic, got {self.stat!r}")
        if not isinstance(self.margin, Margin):
            raise TypeError(f"Test {self.label!r}: give the margin as Margin(value, reason), got {self.margin!r}")

    def judge(self, draws: Draws) -> dict[str, Any]:
        values = self.stat(draws)
        estimate, reps = float(values[0]), values[1:]
        if not math.isfinite(estimate):
            raise ValueError(f"{self.label}: the statistic {self.stat} is {estimate} on the full sample")
        low, high = percentile_interval(reps, LEVEL)
        verdict = interval_verdict(low, high, self.margin.value)
        u = f" {self.unit}" if self.unit else ""
        sign = {"reproduced": ">", "not_reproduced": "<", "inconclusive": "~"}[verdict]
        return {"label": self.label, "formula": str(self.stat), "groups": sorted(self.stat.groups), "estimate": estimate, "low": low, "high": high,
                "margin": self.margin.value, "reason": self.margin.reason, "unit": self.unit, "verdict": verdict,
                "summary": f"{self.label} = {_fmt(estimate)}{u} [{_fmt(low)}, {_fmt(high)}] {sign} "
                           f"{self.margin.value:g}"}


@dataclass(frozen=True)
class Exact:
    """A part of a claim with no sampling error (a property of released weights, an exact copy): it holds
    or it does not, and has no interval."""

    label: str
    holds: bool
    value: Any = None

    def judge(self, draws: Draws | None = None) -> dict[str, Any]:
        ok = bool(self.holds)
        return {"label": self.label, "value": self.value, "verdict": _verdict(ok),
                "summary": f"{self.label}: {'yes' if ok else 'no'}" + (f" ({_fmt(self.value)})"
                                                                       if self.value is not None else "")}


@dataclass(frozen=True)
class Claim:
    """A finding of the paper, with a check over measured metrics.

    ``evaluate(metrics)`` returns ``(verdict, evidence)``. Build claims with :func:`judged`,
    :func:`greater`, :func:`all_greater`, :func:`monotone` or :func:`not_testable`.
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


def judged(id: str, statement: str, parts: Callable[[Mapping[str, Any]], Sequence[Test | Exact]]
           | Sequence[Test | Exact]) -> Claim:
    """A claim judged by its comparisons: ``parts`` is a list of :class:`Test` and :class:`Exact` (or a function
    of the metrics giving one, when the comparisons depend on what was measured). The claim's verdict is
    their :func:`conjunction`; each test is judged on its bootstrap interval over ``metrics["samples"]``."""
    fixed = None if callable(parts) else list(parts)

    def evaluate(metrics: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        items = list(fixed if fixed is not None else parts(metrics))
        if not items or not all(isinstance(p, (Test, Exact)) for p in items):
            raise TypeError(f"claim {id!r}: its parts must be a non-empty list of Test and Exact, got {items!r}")
        draws = Draws(metrics.get("samples", {}), RESAMPLES, SEED) if any(isinstance(p, Test) for p in items) else None
        judged_parts = [p.judge(draws) for p in items]
        verdict = conjunction([p["verdict"] for p in judged_parts])
        return verdict, {"tests": judged_parts, "bootstrap": {"resamples": RESAMPLES, "level": LEVEL, "seed": SEED},
                         "summary": "; ".join(p["summary"] for p in judged_parts)}

    return Claim(id, statement, evaluate)


def _margin(margin: Margin) -> Margin:
    if not isinstance(margin, Margin):
        raise TypeError(f"give the margin as Margin(value, reason), got {margin!r}")
    return margin


def greater(id: str, statement: str, a: str, b: str, margin: Margin, unit: str = "") -> Claim:
    """Reproduced when the interval of ``mean(a) - mean(b)`` lies above ``margin`` (``a``, ``b``: 'group:name')."""
    margin = _margin(margin)
    return judged(id, statement, [Test(f"{_name(a)} - {_name(b)}", mean(a) - mean(b), margin, unit)])


def all_greater(id: str, statement: str, pairs: Sequence[tuple[str, str]], margin: Margin, unit: str = "") -> Claim:
    """:func:`greater` for every pair ``(a, b)``; the claim needs all of them."""
    margin = _margin(margin)
    pairs = [tuple(p) for p in pairs]
    if not pairs or not all(len(p) == 2 and all(isinstance(k, str) for k in p) for p in pairs):
        raise ValueError(f"all_greater {id!r}: pairs must be a non-empty list of (key_a, key_b) strings")
    return judged(id, statement, [Test(f"{_name(a)} - {_name(b)}", mean(a) - mean(b), margin, unit) for a, b in pairs])


def monotone(id: str, statement: str, keys: Sequence[str], margin: Margin, increasing: bool = True,
             unit: str = "") -> Claim:
    """Every step between consecutive ``keys`` rises (or falls) by more than ``margin``."""
    margin = _margin(margin)
    keys = list(keys)
    if len(keys) < 2 or not all(isinstance(k, str) for k in keys):
        raise ValueError(f"monotone {id!r}: keys must be at least two 'group:name' strings, got {keys!r}")
    steps = [(b, a) if increasing else (a, b) for a, b in zip(keys, keys[1:])]
    return judged(id, statement, [Test(f"{_name(x)} - {_name(y)}", mean(x) - mean(y), margin, unit) for x, y in steps])


def _name(key: str) -> str:
    return key.split(":", 1)[-1]


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
