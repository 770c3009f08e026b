"""Seed studies: the same chapter trained and evaluated with several seeds, and what each seed concluded.

``python -m reprolib reproduce CHAPTER --seeds 0,1,2`` runs the chapter once per seed (each seed draws its
own training data, initialisation and test set), and writes ``book/results/<profile>-seeds/<chapter>.json``
beside the single-run file: per claim, each seed's single-run verdict and, per comparison, each seed's
estimate and interval with their spread. The single-run file (the first seed's run) then records, per
claim, its own verdict (``single_run``), the seed study's verdicts (``seeds``) and the chapter's verdict,
:func:`reprolib.claims.final_verdict` of the two. A chapter run that is not a seed study (the book's
build) reads the committed study of its profile, when there is one, in the same way.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from reprolib.claims import VERDICTS, final_verdict
from reprolib.results import _check_profile, _clean, compact_number_lists, read_json, results_dir

__all__ = ["seeds_dir", "seed_study_path", "seed_study", "write_seed_study", "load_seed_study", "attach_seed_study"]


PROVENANCE_KEYS = ("git_commit", "started", "wall_seconds", "device")  # what the study keeps of each seed's run


def seeds_dir(profile: str) -> Path:
    """``<results folder>/<profile>-seeds``, beside the single-run folder of :func:`reprolib.results.results_dir`."""
    return results_dir(profile).parent / f"{_check_profile(profile)}-seeds"


def seed_study_path(chapter: str, profile: str, directory: str | os.PathLike | None = None) -> Path:
    return (Path(directory) if directory is not None else seeds_dir(profile)) / f"{chapter}.json"


def _spread(values: Sequence[float]) -> dict[str, float]:
    v = np.asarray(values, dtype=np.float64)
    return {"min": float(v.min()), "max": float(v.max()), "mean": float(v.mean()),
            "sd": float(v.std(ddof=1)) if v.size > 1 else 0.0}


def seed_study(runs: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    """The seed study of ``runs`` (seed -> results dict of that seed's run, in the order run)."""
    if len(runs) < 2:
        raise ValueError(f"a seed study needs at least two seeds, got {list(runs)}")
    first = next(iter(runs.values()))
    chapter, profile = first["chapter"], first["profile"]
    ids = [c["id"] for c in first["claims"]]
    for seed, res in runs.items():
        if (res["chapter"], res["profile"]) != (chapter, profile) or [c["id"] for c in res["claims"]] != ids:
            raise ValueError(f"seed {seed}: a different chapter, profile or claim list than seed {next(iter(runs))}")
    claims = []
    for k, cid in enumerate(ids):
        per_seed = [res["claims"][k] for res in runs.values()]
        verdicts = [c.get("single_run", c["verdict"]) for c in per_seed]
        tests = []
        for j, t in enumerate(per_seed[0]["evidence"].get("tests", [])):
            parts = [c["evidence"]["tests"][j] for c in per_seed]
            if "estimate" not in t:  # an exact part: no estimate to spread
                tests.append({"label": t["label"], "verdicts": [p["verdict"] for p in parts]})
                continue
            tests.append({"label": t["label"], "margin": t["margin"], "estimates": [p["estimate"] for p in parts],
                          "low": [p["low"] for p in parts], "high": [p["high"] for p in parts],
                          "verdicts": [p["verdict"] for p in parts], "spread": _spread([p["estimate"] for p in parts])})
        claims.append({"id": cid, "verdicts": verdicts, "counts": {v: verdicts.count(v) for v in VERDICTS},
                       "tests": tests})
    return {"chapter": chapter, "profile": profile, "seeds": [int(s) for s in runs],
            "provenance": {str(s): {k: r["provenance"].get(k) for k in PROVENANCE_KEYS} for s, r in runs.items()},
            "claims": claims}


def write_seed_study(study: Mapping[str, Any], directory: str | os.PathLike | None = None) -> Path:
    """Write a :func:`seed_study` to its file atomically; returns the path."""
    from reprolib.files import atomic_write

    path = seed_study_path(study["chapter"], study["profile"], directory)
    text = compact_number_lists(json.dumps(_clean(dict(study), "seed study"), indent=1, ensure_ascii=False,
                                           allow_nan=False)) + "\n"
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def load_seed_study(chapter: str, profile: str, directory: str | os.PathLike | None = None) -> dict | None:
    """The seed study of ``chapter`` and ``profile``, or None when there is none."""
    return read_json(seed_study_path(chapter, profile, directory),
                     f"python -m reprolib reproduce {chapter} --profile {profile} --seeds 0,1,2")


def attach_seed_study(claims: Sequence[Mapping[str, Any]], study: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Evaluated claims of a single run with ``single_run``, ``seeds`` and the combined ``verdict``.

    ``seeds`` is None for a claim the study lacks (or with no study): the single run then decides alone.
    """
    by_id = {c["id"]: c for c in (study or {}).get("claims", [])}
    out = []
    for c in claims:
        single = c.get("single_run", c["verdict"])
        s = by_id.get(c["id"])
        seeds = None if s is None else {"seeds": list(study["seeds"]), "verdicts": list(s["verdicts"]),
                                        "counts": dict(s["counts"]),
                                        "commit": next(iter(study["provenance"].values())).get("git_commit")}
        out.append({**c, "single_run": single, "seeds": seeds,
                    "verdict": final_verdict(single, None if seeds is None else seeds["verdicts"])})
    return out
