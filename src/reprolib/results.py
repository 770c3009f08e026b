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

import json
import math
import os
import platform
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import torch

from reprolib.claims import VERDICTS, Claim, _is_number, evaluate_claims, fact, final_verdict
from reprolib.config import PROFILES, cache_dir, git_commit, repo_root

__all__ = [
    "RESULTS_ENV",
    "RUN_RESULTS_ENV",
    "run_results_dir",
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
]

RESULTS_ENV = "REPROLIB_RESULTS"
# Where a run writes its results when that differs from where the recorded ones are read: the book build sets it
# (scripts/build_book.sh), so that building the book on another machine never overwrites the committed results.
RUN_RESULTS_ENV = "REPROLIB_RUN_RESULTS"
DASH = "\u2013"  # en dash: shown where a value is missing
SIGNIFICANT_DIGITS = 6


# ----------------------------------------------------------------------------------------------
# paper numbers


# ----------------------------------------------------------------------------------------------
# claims


# ----------------------------------------------------------------------------------------------
# facts


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
    from reprolib import __version__

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


def run_results_dir(profile: str) -> Path:
    """Folder a run writes its results files to: ``$REPROLIB_RUN_RESULTS/<profile>`` when that variable is set
    (the book build: ``_build/results``), else :func:`results_dir` (so ``python -m reprolib reproduce`` records)."""
    _check_profile(profile)
    env = os.environ.get(RUN_RESULTS_ENV, "").strip()
    return Path(env).expanduser() / profile if env else results_dir(profile)


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
    """Write ``<run_results_dir(profile)>/<chapter>.json`` (or ``<directory>/...``) atomically; return its path.

    ``claims`` are evaluated claims (from :func:`evaluate_claims`), ``facts`` come from :func:`fact`.
    Floats are rounded to 6 significant digits; NaN or infinity anywhere raises ValueError (and
    nothing is written).
    """
    from reprolib.files import atomic_write

    _check_profile(profile)
    path = results_path(chapter, profile, run_results_dir(profile) if directory is None else directory)
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
                {k: c[k] for k in ("id", "statement", "verdict", "single_run", "seeds", "evidence") if k in c}
                for c in claims
            ],
            "facts": [dict(f) for f in facts],
        },
        "results",
    )
    text = compact_number_lists(json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False)) + "\n"
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")))


_NUMBER_LIST = re.compile(r"\[\s*(-?[0-9][-0-9.eE+]*(?:,\s*-?[0-9][-0-9.eE+]*)*)\s*\]")


def compact_number_lists(text: str) -> str:
    """Indented JSON with every list of plain numbers on one line (the per-unit samples run to thousands)."""
    return _NUMBER_LIST.sub(lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text)


def load_results(
    chapter: str, profile: str, *, directory: str | os.PathLike | None = None
) -> dict[str, Any] | None:
    """The results dict written by :func:`write_results`, or None if there is no such file."""
    _check_profile(profile)
    return read_json(results_path(chapter, profile, directory), f"python -m reprolib reproduce {chapter}")


def read_json(path: Path, rerun: str) -> dict[str, Any] | None:
    """The JSON file at ``path``, or None if there is none; a damaged file names the command (``rerun``)
    that writes it again."""
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e}); rerun `{rerun}`") from e


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
    a claim whose single-run verdict (or, combined with the recorded seed study by
    :func:`~reprolib.claims.final_verdict`, whose verdict) now differs from the recorded one, a claim missing
    from the file or one the file has but the chapter no longer states, and a fact whose recorded ``ok``
    does not follow from its recorded numbers. An empty list means the file is consistent with the code.

    The metrics were rounded to 6 significant digits when written, and the verdicts were judged on those
    rounded numbers, so the recorded file judges the same on any machine up to floating-point rounding in
    the bootstrap sums.
    """
    problems = []
    recorded = {c["id"]: c for c in _claim_list(results)}
    fresh = evaluate_claims(claims, results["metrics"])
    for c in fresh:
        r = recorded.pop(c["id"], None)
        if r is None:
            problems.append(f"claim {c['id']!r} is not in the results file")
            continue
        single = r.get("single_run", r["verdict"])
        if single != c["verdict"]:
            problems.append(f"claim {c['id']!r}: recorded single run {single}, the recorded metrics give {c['verdict']}")
        seeds = (r.get("seeds") or {}).get("verdicts")
        again = final_verdict(c["verdict"], seeds)
        if again != r["verdict"]:
            problems.append(f"claim {c['id']!r}: recorded {r['verdict']}, the rule gives {again} from the single "
                            f"run and the recorded seeds")
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
    # the single run's verdicts: a fresh run and the recorded one are both one seed (the recorded file may
    # combine its single run with a seed study, which a fresh run cannot repeat)
    rv = {c["id"]: c.get("single_run", c["verdict"]) for c in _claim_list(recorded)}
    fv = {c["id"]: c.get("single_run", c["verdict"]) for c in _claim_list(fresh)}
    verdicts = [(k, rv.get(k), fv.get(k)) for k in dict.fromkeys([*rv, *fv])]
    # the per-unit samples are compared through the aggregates and intervals they give, not one by one
    rm, fm = (flat_metrics({k: v for k, v in r["metrics"].items() if k != "samples"}) for r in (recorded, fresh))
    rows = []
    for k in dict.fromkeys([*rm, *fm]):
        a, b = rm.get(k), fm.get(k)
        diff = float(b) - float(a) if _is_number(a) and _is_number(b) else None
        rows.append((k, a, b, diff))
    return {"verdicts": verdicts, "metrics": rows, "same_verdicts": all(a == b for _, a, b in verdicts)}


def recorded_claims_text(results: Mapping[str, Any] | None, width: int = 86) -> str:
    """The claims of a recorded run as text, one wrapped item each: ``- id: verdict. evidence summary``.

    A chapter prints its committed ``fast`` (and ``full``) run with this; the text depends only on the
    committed file, so the notebook tests compare it on every machine. ``width`` 86 fits the book's page
    without a scroll bar."""
    import textwrap

    if results is None:
        return "no recorded run yet"
    def seeds(c: Mapping[str, Any]) -> str:
        s = c.get("seeds")
        if not s:
            return ""
        counts = ", ".join(f"{n} {v.replace('_', ' ')}" for v, n in s["counts"].items() if n)
        single = c.get("single_run", c["verdict"]).replace("_", " ")
        return f" (single run {single}; {len(s['verdicts'])} seeds: {counts})"

    return "\n".join(
        textwrap.fill(f"- {c['id']}: {c['verdict'].replace('_', ' ')}{seeds(c)}. "
                      f"{c['evidence'].get('summary', '')}".rstrip(), width=width, subsequent_indent="  ")
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


def verdict_counts(results: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """How many claims got each of the four verdicts, in the order of :data:`~reprolib.claims.VERDICTS`."""
    claims = _claim_list(results)
    return {v: sum(c["verdict"] == v for c in claims) for v in VERDICTS}


def claims_summary(results: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> str:
    """One line such as ``"4/8 claims reproduced (1 not reproduced, 2 inconclusive, 1 not testable)"``.

    The count is over all claims; the parenthesis lists the other verdicts that occur.
    """
    claims = _claim_list(results)
    if not claims:
        return "no claims"
    n = verdict_counts(claims)
    extra = [f"{n[v]} {v.replace('_', ' ')}" for v in VERDICTS[1:] if n[v]]
    word = "claim" if len(claims) == 1 else "claims"
    return f"{n['reproduced']}/{len(claims)} {word} reproduced" + (f" ({', '.join(extra)})" if extra else "")
