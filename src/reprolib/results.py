"""Papers' numbers, claims with verdicts, results files and the book's comparison tables.

DESIGN section 7. A chapter's run produces a nested ``metrics`` dict of measured numbers. Its
*claims* are findings of the paper that a small run can test, each with a check over ``metrics`` that
states its margin; the verdict is ``"reproduced"``, ``"not_reproduced"`` or ``"not_testable"`` (offline,
with the reason). *Facts* are exact checks (parameter counts, layer sizes). Everything is written to
``book/results/<profile>/<chapter>.json`` with provenance, and displayed next to the paper's numbers:

    claims = [greater("rebal_auc", "Rebalancing raises the class-balanced AuC",
                      "full.auc_rebal", "class.auc_rebal", margin=0.5)]
    evaluated = evaluate_claims(claims, metrics)
    write_results("automatic", "fast", metrics, evaluated, facts, provenance(...))

Keys into ``metrics`` are dotted paths: ``"table.full.auc_rebal"`` is
``metrics["table"]["full"]["auc_rebal"]``. A missing key is an error, never a silent pass.
"""

from __future__ import annotations

import html
import json
import math
import os
import platform
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import torch

from .config import PROFILES, cache_dir, git_commit, repo_root

__all__ = [
    "VERDICTS",
    "RESULTS_ENV",
    "PaperNumber",
    "Claim",
    "MissingMetricError",
    "lookup",
    "greater",
    "all_greater",
    "monotone",
    "custom",
    "not_testable",
    "evaluate_claims",
    "fact",
    "provenance",
    "results_dir",
    "results_path",
    "write_results",
    "load_results",
    "claims_summary",
    "recheck",
    "recorded_claims_text",
    "flat_metrics",
    "compare_results",
    "ComparisonTable",
    "VerdictTable",
    "comparison_table",
    "verdict_table",
    "facts_table",
]

VERDICTS = ("reproduced", "not_reproduced", "not_testable")
RESULTS_ENV = "REPROLIB_RESULTS"
DASH = "\u2013"  # en dash: shown where a value is missing
SIGNIFICANT_DIGITS = 6


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


# ----------------------------------------------------------------------------------------------
# paper numbers


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


# ----------------------------------------------------------------------------------------------
# claims


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


# ----------------------------------------------------------------------------------------------
# facts


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


# ----------------------------------------------------------------------------------------------
# provenance and results files


def cpu_model() -> str:
    """The processor's name (``model name`` of /proc/cpuinfo on Linux; platform's answer elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name") and ":" in line:
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def provenance(
    seed: int,
    profile: str,
    data: Mapping[str, Any],
    started: datetime,
    wall_seconds: float,
    device: str | torch.device,
) -> dict[str, Any]:
    """Where a result came from: code version, software, hardware, seed, profile, data sizes, time.

    ``started`` is converted to UTC (a naive datetime is taken as local time); ``data`` describes
    the data used (dataset name, image size, number of images...).
    """
    from . import __version__

    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    if not isinstance(started, datetime):
        raise TypeError(f"started must be a datetime, got {type(started).__name__}")
    if not _is_number(wall_seconds) or not math.isfinite(wall_seconds) or wall_seconds < 0:
        raise ValueError(f"wall_seconds must be a finite number >= 0, got {wall_seconds!r}")
    if not isinstance(data, Mapping):
        raise TypeError(f"data must be a dict describing the data used, got {type(data).__name__}")
    dev = torch.device(device)
    dev_info: dict[str, Any] = {
        "type": dev.type,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        # the vector unit ATen's CPU kernels use (AVX512, AVX2, DEFAULT...; ATEN_CPU_CAPABILITY lowers it)
        # and the processor: results differ between them in the last bits, and after training by more
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_model": cpu_model(),
    }
    if dev.type == "cuda" and torch.cuda.is_available():
        dev_info["name"] = torch.cuda.get_device_name(dev)
        dev_info["cuda_version"] = torch.version.cuda
    return {
        "git_commit": git_commit(),
        "reprolib_version": __version__,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "device": dev_info,
        "seed": int(seed),
        "profile": profile,
        "started": started.astimezone(timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": float(wall_seconds),
        "data": dict(data),
    }


def _check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    return profile


def results_dir(profile: str) -> Path:
    """Folder of the results files of ``profile``.

    In order: ``$REPROLIB_RESULTS/<profile>`` when that variable is set (tests and custom runs);
    ``<checkout>/book/results/<profile>`` when reprolib runs from a checkout (the committed results);
    else ``cache_dir("results", profile)``. Not created here.
    """
    _check_profile(profile)
    env = os.environ.get(RESULTS_ENV, "").strip()
    if env:
        return Path(env).expanduser() / profile
    root = repo_root()
    if root is not None:
        return root / "book" / "results" / profile
    return cache_dir("results", profile, create=False)


def results_path(chapter: str, profile: str, directory: str | os.PathLike | None = None) -> Path:
    """``<results_dir(profile)>/<chapter>.json`` (or ``<directory>/<chapter>.json``)."""
    if not isinstance(chapter, str) or not re.match(r"^[A-Za-z0-9_-]+$", chapter):
        raise ValueError(f"chapter must be a name of letters, digits, '_', '-', got {chapter!r}")
    folder = Path(directory) if directory is not None else results_dir(profile)
    return folder / f"{chapter}.json"


def _clean(x: Any, path: str) -> Any:
    """JSON-ready copy of ``x``: floats rounded to 6 significant digits, non-finite values refused."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        x = x.item() if x.ndim == 0 else x.tolist()
    if x is None or isinstance(x, str):
        return x
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        if not math.isfinite(x):
            raise ValueError(f"{path} is {x}: results files hold finite numbers only (store None if undefined)")
        return float(f"{x:.{SIGNIFICANT_DIGITS}g}")
    if isinstance(x, Path):
        return str(x)
    if isinstance(x, Mapping):
        out = {}
        for k, v in x.items():
            if not isinstance(k, str):
                raise TypeError(f"{path} has the key {k!r}; results dicts need string keys")
            out[k] = _clean(v, f"{path}.{k}")
        return out
    if isinstance(x, (list, tuple)):
        return [_clean(v, f"{path}[{i}]") for i, v in enumerate(x)]
    raise TypeError(f"{path} is a {type(x).__name__} ({x!r}); results hold numbers, strings, lists and dicts")


def write_results(
    chapter: str,
    profile: str,
    metrics: Mapping[str, Any],
    claims: Sequence[Mapping[str, Any]],
    facts: Sequence[Mapping[str, Any]],
    provenance: Mapping[str, Any],
    *,
    directory: str | os.PathLike | None = None,
) -> Path:
    """Write ``<results_dir(profile)>/<chapter>.json`` atomically and return its path.

    ``claims`` are evaluated claims (from :func:`evaluate_claims`), ``facts`` come from :func:`fact`.
    Floats are rounded to 6 significant digits; NaN or infinity anywhere raises ValueError (and
    nothing is written).
    """
    from .train import atomic_write

    _check_profile(profile)
    path = results_path(chapter, profile, directory)
    if not isinstance(metrics, Mapping):
        raise TypeError(f"metrics must be a dict, got {type(metrics).__name__}")
    ids = set()
    for c in claims:
        if not isinstance(c, Mapping) or not {"id", "statement", "verdict", "evidence"} <= set(c):
            raise ValueError(
                f"each claim must be a dict from evaluate_claims (id, statement, verdict, evidence), got {c!r}"
            )
        if c["verdict"] not in VERDICTS:
            raise ValueError(f"claim {c['id']!r} has the verdict {c['verdict']!r}; expected one of {VERDICTS}")
        if c["id"] in ids:
            raise ValueError(f"two claims share the id {c['id']!r}")
        ids.add(c["id"])
    for f in facts:
        if not isinstance(f, Mapping) or not {"name", "expected", "measured", "ok"} <= set(f):
            raise ValueError(f"each fact must be a dict from fact() (name, expected, measured, ok), got {f!r}")
    doc = _clean(
        {
            "chapter": chapter,
            "profile": profile,
            "provenance": dict(provenance),
            "metrics": dict(metrics),
            "claims": [
                {"id": c["id"], "statement": c["statement"], "verdict": c["verdict"], "evidence": c["evidence"]}
                for c in claims
            ],
            "facts": [dict(f) for f in facts],
        },
        "results",
    )
    text = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def load_results(
    chapter: str, profile: str, *, directory: str | os.PathLike | None = None
) -> dict[str, Any] | None:
    """The results dict written by :func:`write_results`, or None if there is no such file."""
    _check_profile(profile)
    path = results_path(chapter, profile, directory)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e}); rerun `python -m reprolib reproduce {chapter}`") from e


def recorded_results(chapter: str, profile: str) -> dict[str, Any] | None:
    """The *committed* results file of ``profile`` (``<checkout>/book/results/<profile>/<chapter>.json``).

    Unlike :func:`load_results` this ignores ``REPROLIB_RESULTS``: a notebook compares "this run" with
    what the book recorded. None when there is no checkout or no such file.
    """
    root = repo_root()
    if root is None:
        return None
    return load_results(chapter, profile, directory=root / "book" / "results" / profile)


def recheck(results: Mapping[str, Any], claims: Iterable[Claim]) -> list[str]:
    """Problems found by judging ``claims`` again on the metrics recorded in ``results`` (a results dict):
    a claim whose verdict now differs from the recorded one, a claim missing from the file or one the
    file has but the chapter no longer states, and a fact whose recorded ``ok`` does not follow from its
    recorded numbers. An empty list means the file is consistent with the code that checks it.

    The metrics were rounded to 6 significant digits when written, so a verdict would change only where
    a compared difference lies within about 1e-6 (relative) of its margin.
    """
    problems = []
    recorded = {c["id"]: c for c in _claim_list(results)}
    fresh = evaluate_claims(claims, results["metrics"])
    for c in fresh:
        r = recorded.pop(c["id"], None)
        if r is None:
            problems.append(f"claim {c['id']!r} is not in the results file")
        elif r["verdict"] != c["verdict"]:
            problems.append(f"claim {c['id']!r}: recorded {r['verdict']}, the recorded metrics give {c['verdict']}")
    problems += [f"claim {k!r} is in the results file but no longer a claim of the chapter" for k in recorded]
    for f in results.get("facts", []):
        again = fact(f["name"], f["expected"], f["measured"], tol=f.get("tol", 0))
        if again["ok"] != f["ok"]:
            problems.append(f"fact {f['name']!r}: recorded ok={f['ok']}, its recorded numbers give ok={again['ok']}")
    return problems


def flat_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a.b.c": value}`` for every leaf of a nested metrics dict (a list's items are ``key[i]``)."""
    out: dict[str, Any] = {}

    def walk(x: Any, key: str) -> None:
        if isinstance(x, Mapping):
            for k, v in x.items():
                walk(v, f"{key}.{k}" if key else str(k))
        elif isinstance(x, (list, tuple)):
            for i, v in enumerate(x):
                walk(v, f"{key}[{i}]")
        else:
            out[key] = x

    walk(metrics, prefix)
    return out


def compare_results(recorded: Mapping[str, Any], fresh: Mapping[str, Any]) -> dict[str, Any]:
    """Set a fresh run beside a recorded one: ``verdicts`` (id, recorded, fresh) for every claim of
    either, ``metrics`` (key, recorded, fresh, difference) for every number of either (difference None
    where one side lacks it or is not a number), and ``same_verdicts``."""
    rv = {c["id"]: c["verdict"] for c in _claim_list(recorded)}
    fv = {c["id"]: c["verdict"] for c in _claim_list(fresh)}
    verdicts = [(k, rv.get(k), fv.get(k)) for k in dict.fromkeys([*rv, *fv])]
    rm, fm = flat_metrics(recorded["metrics"]), flat_metrics(fresh["metrics"])
    rows = []
    for k in dict.fromkeys([*rm, *fm]):
        a, b = rm.get(k), fm.get(k)
        diff = float(b) - float(a) if _is_number(a) and _is_number(b) else None
        rows.append((k, a, b, diff))
    return {"verdicts": verdicts, "metrics": rows, "same_verdicts": all(a == b for _, a, b in verdicts)}


def recorded_claims_text(results: Mapping[str, Any] | None, width: int = 100) -> str:
    """The claims of a recorded run as text, one wrapped item each: ``- id: verdict. evidence summary``.

    A chapter prints its committed ``fast`` (and ``full``) run with this; the text depends only on the
    committed file, so the notebook tests compare it on every machine."""
    import textwrap

    if results is None:
        return "no recorded run yet"
    return "\n".join(
        textwrap.fill(f"- {c['id']}: {c['verdict'].replace('_', ' ')}. {c['evidence'].get('summary', '')}".rstrip(),
                      width=width, subsequent_indent="  ")
        for c in _claim_list(results)
    )


def _claim_list(results: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None) -> list[Mapping[str, Any]]:
    if results is None:
        return []
    if isinstance(results, Mapping):
        if "claims" not in results:
            raise ValueError("expected a results dict with a 'claims' list, or a list of evaluated claims")
        return list(results["claims"])
    return list(results)


def claims_summary(results: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> str:
    """One line such as ``"4/5 claims reproduced (1 not testable)"``.

    The count is over all claims; the parenthesis lists the not-reproduced and not-testable ones.
    """
    claims = _claim_list(results)
    if not claims:
        return "no claims"
    n = {v: sum(c["verdict"] == v for c in claims) for v in VERDICTS}
    extra = [f"{n[v]} {v.replace('_', ' ')}" for v in ("not_reproduced", "not_testable") if n[v]]
    word = "claim" if len(claims) == 1 else "claims"
    return f"{n['reproduced']}/{len(claims)} {word} reproduced" + (f" ({', '.join(extra)})" if extra else "")


# ----------------------------------------------------------------------------------------------
# displayable tables (no pandas)


class _Table:
    """A small table that renders as Markdown (``to_markdown``) and HTML (Jupyter's ``_repr_html_``)."""

    def __init__(self, header: list[str], body: list[list[str]], caption: str = "") -> None:
        self.header = header
        self.body = body
        self.caption = caption

    def to_markdown(self) -> str:
        esc = lambda s: str(s).replace("|", "\\|").replace("\n", " ")  # noqa: E731
        lines = ["| " + " | ".join(esc(h) for h in self.header) + " |", "|" + "---|" * len(self.header)]
        lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in self.body]
        if self.caption:
            lines = [self.caption, ""] + lines
        return "\n".join(lines)

    def _html_head(self) -> str:
        return "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in self.header) + "</tr>"

    def _html_cell(self, i: int, j: int) -> str:
        return html.escape(self.body[i][j])

    def _repr_html_(self) -> str:
        cap = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        rows = "".join(
            "<tr>" + "".join(f"<td>{self._html_cell(i, j)}</td>" for j in range(len(row))) + "</tr>"
            for i, row in enumerate(self.body)
        )
        return f'<table class="reprolib-table">{cap}<thead>{self._html_head()}</thead><tbody>{rows}</tbody></table>'

    def __str__(self) -> str:
        return self.to_markdown()

    def __repr__(self) -> str:
        return self.to_markdown()


def _spec(item: str | Sequence[str]) -> tuple[str, str, str | None]:
    if isinstance(item, str):
        return item, item, None
    item = tuple(item)
    if len(item) == 2:
        return item[0], item[1], None
    if len(item) == 3:
        return item[0], item[1], item[2]
    raise ValueError(f"expected a key, (key, label) or (key, label, format spec), got {item!r}")


class ComparisonTable(_Table):
    """Paper vs recorded runs vs this run, for each row and metric column.

    Attributes beyond the rendered cells: ``values[(row, column, source)]`` holds the raw value or
    None, and ``missing`` lists ``(source, key)`` pairs that were not found (shown as an en dash).
    """

    def __init__(self, header, body, groups, sources, values, missing, caption=""):
        super().__init__(header, body, caption)
        self.groups = groups
        self.sources = sources
        self.values = values
        self.missing = missing

    def _html_head(self) -> str:
        top = f'<th rowspan="2">{html.escape(self.header[0])}</th>' + "".join(
            f'<th colspan="{len(self.sources)}" style="text-align:center">{html.escape(g)}</th>' for g in self.groups
        )
        sub = "".join(f"<th>{html.escape(s)}</th>" for _ in self.groups for s in self.sources)
        return f"<tr>{top}</tr><tr>{sub}</tr>"


def comparison_table(
    rows: Sequence[str | tuple[str, str]],
    columns: Sequence[str | tuple[str, str] | tuple[str, str, str]],
    paper: Mapping[str, Any],
    runs: Mapping[str, Mapping[str, Any] | None],
    *,
    key: str = "{row}.{column}",
    row_header: str = "",
    caption: str = "",
) -> ComparisonTable:
    """Table of the paper's numbers beside measured ones.

    Args:
        rows: row keys, or ``(key, label)`` pairs (e.g. methods: ``("full", "Ours (full)")``).
        columns: metric keys, or ``(key, label)`` or ``(key, label, format spec)``, e.g.
            ``("auc", "AuC (%)", ".1f")``. Default format: 4 significant digits.
        paper: the paper's numbers by dotted key (numbers or :class:`PaperNumber`), flat or nested.
        runs: label -> results dict (with ``"metrics"``) or None, in display order, e.g.
            ``{"full (recorded)": load_results(...), "fast (recorded)": ..., "this run": results}``.
        key: template of the dotted key of a cell, formatted with ``row`` and ``column``; used both in
            ``paper`` and in each run's ``metrics``.
        row_header: header of the first column.

    Each metric column gets the sub-columns ``Paper`` and one per run; a missing value is an en dash.
    """
    row_specs = [_spec(r)[:2] for r in rows]
    col_specs = [_spec(c) for c in columns]
    if not row_specs or not col_specs:
        raise ValueError("comparison_table needs at least one row and one column")
    for label, res in runs.items():
        if res is not None and (not isinstance(res, Mapping) or "metrics" not in res):
            raise ValueError(f"run {label!r} must be a results dict with a 'metrics' entry, or None")
    sources = ["Paper", *runs.keys()]
    values: dict[tuple[str, str, str], Any] = {}
    missing: list[tuple[str, str]] = []

    def get(source: str, tree: Mapping[str, Any] | None, k: str) -> Any:
        if tree is None:
            return None
        if k in tree:  # flat dict with dotted keys
            v = tree[k]
        else:
            try:
                v = lookup(tree, k)
            except MissingMetricError:
                missing.append((source, k))
                return None
        return v.value if isinstance(v, PaperNumber) else v

    body = []
    for rkey, rlabel in row_specs:
        line = [rlabel]
        for ckey, _clabel, spec in col_specs:
            k = key.format(row=rkey, column=ckey)
            for source in sources:
                if source == "Paper":
                    tree = paper
                else:
                    res = runs[source]
                    tree = res["metrics"] if res is not None else None
                v = get(source, tree, k)
                values[(rkey, ckey, source)] = v
                if v is None:
                    line.append(DASH)
                elif spec and _is_number(v):
                    line.append(format(float(v) if isinstance(v, (float, np.floating)) else v, spec))
                else:
                    line.append(_fmt(v))
        body.append(line)
    groups = [c[1] for c in col_specs]
    header = [row_header] + [f"{g}: {s}" if len(groups) > 1 else s for g in groups for s in sources]
    return ComparisonTable(header, body, groups, sources, values, missing, caption)


_BADGE = {"reproduced": "#1a7f37", "not_reproduced": "#cf222e", "not_testable": "#6e7781"}


def _evidence_summary(evidence: Mapping[str, Any]) -> str:
    if "summary" in evidence:
        return str(evidence["summary"])
    parts = [f"{k} = {_fmt(v)}" for k, v in evidence.items() if _is_number(v) or isinstance(v, str)]
    values = evidence.get("values")
    if isinstance(values, Mapping):
        parts += [f"{k} = {_fmt(v)}" for k, v in values.items()]
    return "; ".join(parts)


def _badge(verdict: str) -> str:
    """A verdict as a coloured HTML badge."""
    return (
        f'<span style="background:{_BADGE[verdict]};color:#fff;padding:1px 7px;border-radius:8px;'
        f'white-space:nowrap">{html.escape(verdict.replace("_", " "))}</span>'
    )


class VerdictTable(_Table):
    """Claims with their verdicts; HTML shows the verdict as a coloured badge."""

    def __init__(self, header, body, verdicts, caption=""):
        super().__init__(header, body, caption)
        self.verdicts = verdicts

    def _html_cell(self, i: int, j: int) -> str:
        if j == 2:
            return _badge(self.verdicts[i])
        return super()._html_cell(i, j)

    def _repr_html_(self) -> str:
        # Three columns in HTML: the statement (with its id in small print), the verdict, the evidence.
        cap = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        rows = "".join(
            f'<tr><td style="width:45%">{html.escape(row[1])}<br><code style="font-size:75%">{html.escape(row[0])}</code></td>'
            f"<td>{self._html_cell(i, 2)}</td>"
            f'<td style="font-size:85%">{html.escape(row[3])}</td></tr>'
            for i, row in enumerate(self.body)
        )
        head = "<tr><th>Claim</th><th>Verdict</th><th>Evidence</th></tr>"
        return f'<table class="reprolib-table">{cap}<thead>{head}</thead><tbody>{rows}</tbody></table>'


def verdict_table(claims: Mapping[str, Any] | Sequence[Mapping[str, Any]], caption: str = "") -> VerdictTable:
    """Table of id, statement, verdict and a one-line evidence summary for evaluated claims
    (a list from :func:`evaluate_claims`, or a results dict)."""
    items = _claim_list(claims)
    body, verdicts = [], []
    for c in items:
        if c.get("verdict") not in VERDICTS:
            raise ValueError(f"claim {c.get('id')!r} has no valid verdict; evaluate it first")
        verdicts.append(c["verdict"])
        body.append([c["id"], c["statement"], c["verdict"].replace("_", " "), _evidence_summary(c["evidence"])])
    caption = caption or claims_summary(items)
    return VerdictTable(["Claim", "Statement", "Verdict", "Evidence"], body, verdicts, caption)


class VerdictMatrix(_Table):
    """Claims (rows) by recorded runs (columns); HTML shows each verdict as a coloured badge."""

    def __init__(self, header, body, verdicts, caption=""):
        super().__init__(header, body, caption)
        self.verdicts = verdicts  # verdicts[i][j] for run column j (None: no recorded run)

    def _html_cell(self, i: int, j: int) -> str:
        if j >= 2:
            v = self.verdicts[i][j - 2]
            return "\u2014" if v is None else _badge(v)
        return super()._html_cell(i, j)

    def _repr_html_(self) -> str:
        # The statement with its id in small print, then one verdict badge per run.
        cap = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        rows = "".join(
            f'<tr><td style="width:60%">{html.escape(row[1])}<br><code style="font-size:75%">{html.escape(row[0])}</code></td>'
            + "".join(f"<td>{self._html_cell(i, j)}</td>" for j in range(2, len(row)))
            + "</tr>"
            for i, row in enumerate(self.body)
        )
        head = "<tr><th>Claim</th>" + "".join(f"<th>{html.escape(h)}</th>" for h in self.header[2:]) + "</tr>"
        return f'<table class="reprolib-table">{cap}<thead>{head}</thead><tbody>{rows}</tbody></table>'


def verdict_matrix(runs: Mapping[str, Mapping[str, Any] | None], caption: str = "") -> VerdictMatrix:
    """One row per claim, one column per run: ``runs`` maps a column label (e.g. ``"fast (recorded)"``) to
    a results dict, or None when that run was not recorded (shown as a dash). Claims are listed in the
    order of their first appearance."""
    order: list[str] = []
    statements: dict[str, str] = {}
    by_run: dict[str, dict[str, str]] = {}
    for label, res in runs.items():
        by_run[label] = {}
        for c in _claim_list(res):
            if c.get("verdict") not in VERDICTS:
                raise ValueError(f"claim {c.get('id')!r} in {label!r} has no valid verdict")
            if c["id"] not in statements:
                order.append(c["id"])
                statements[c["id"]] = c["statement"]
            by_run[label][c["id"]] = c["verdict"]
    labels = list(runs)
    verdicts = [[by_run[l].get(cid) for l in labels] for cid in order]
    body = [[cid, statements[cid]] + [(v or "\u2014").replace("_", " ") for v in row] for cid, row in zip(order, verdicts)]
    return VerdictMatrix(["Claim", "Statement"] + labels, body, verdicts, caption)


def facts_table(facts: Sequence[Mapping[str, Any]], caption: str = "") -> _Table:
    """Table of exact facts: name, expected, measured (with unit), tolerance, ok."""
    body = []
    for f in facts:
        unit = f" {f['unit']}" if f.get("unit") else ""
        body.append(
            [f["name"], _fmt(f["expected"]) + unit, _fmt(f["measured"]) + unit, _fmt(f.get("tol", 0)),
             "yes" if f["ok"] else "NO"]
        )
    return _Table(["Fact", "Expected", "Measured", "Tolerance", "OK"], body, caption)

