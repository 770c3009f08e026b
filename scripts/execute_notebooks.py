"""Execute chapter notebooks from a clean state (outputs cleared first), optionally recording the time.

- ``make notebooks`` runs this in the smoke profile with a fresh model cache, writes the outputs back
  (they are what nbval compares) and records each notebook's wall time, kernel start included, in
  ``book/results/timings.json``. Never edit notebook outputs by hand.
- ``make timings`` builds the book (``make book``) in the fast profile from an empty model cache and an
  empty execution cache, then records each notebook's execution time as jupyter-cache measured it
  (``--from-build-cache``). The instructor page reads that file.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
TIMINGS = ROOT / "book" / "results" / "timings.json"


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src", "book"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return out.stdout.strip() + ("+changes" if dirty else "")
    except OSError:
        return "unknown"


def _record(chapter: str, profile: str, seconds: float,
            note: str = "whole notebook, kernel start included, empty model cache") -> None:
    data = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
    data.setdefault(chapter, {})[profile] = {
        "seconds": round(seconds, 1),
        "commit": _commit(),
        "date": datetime.date.today().isoformat(),
        "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}",
        "note": note,
    }
    tmp = TIMINGS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, TIMINGS)


def record_from_build_cache(profile: str) -> None:
    """Record the execution time of every notebook the last `make book` executed (jupyter-cache keeps
    each notebook's execution seconds), for the given profile."""
    from jupyter_cache import get_cache

    cache = ROOT / "_build" / ".jupyter_cache"
    if not cache.exists():
        raise SystemExit(f"no execution cache in {cache}; build the book first")
    sys.path.insert(0, str(ROOT / "src"))
    from reprolib.chapters import CHAPTERS

    note = ("whole notebook executed by make book in chapter order from an empty model cache "
            "(a chapter reuses models that an earlier chapter trained)")
    for record in get_cache(str(cache)).list_cache_records():
        seconds = (record.data or {}).get("execution_seconds")
        if seconds and Path(record.uri).stem in CHAPTERS:
            _record(Path(record.uri).stem, profile, seconds, note=note)
            print(f"{Path(record.uri).name}: {seconds:.1f} s ({profile})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*")
    parser.add_argument("--from-build-cache", action="store_true",
                        help="record the times of the last book build instead of executing anything")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument("--profile", choices=["smoke", "fast", "full"], default=os.environ.get("REPROLIB_PROFILE", "smoke"))
    parser.add_argument("--no-write", action="store_true", help="do not write the outputs back")
    parser.add_argument("--record-timings", action="store_true", help=f"record wall times in {TIMINGS.relative_to(ROOT)}")
    args = parser.parse_args()
    if args.from_build_cache:
        record_from_build_cache(args.profile)
        return 0
    if not args.notebooks:
        parser.error("name the notebooks to execute")
    if not args.no_write and args.profile != "smoke":
        parser.error("committed outputs must come from the smoke profile; use --no-write for other profiles")
    os.environ["REPROLIB_PROFILE"] = args.profile
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
                # no per-cell timestamps: the book's execution cache hashes cell metadata, so they would
                # make every regenerated notebook look changed and re-execute in the next build
                cell.metadata.pop("execution", None)
        with tempfile.TemporaryDirectory() as cache:
            os.environ["REPROLIB_CACHE"] = cache  # train from scratch, as a first-time reader would
            os.environ["REPROLIB_RESULTS"] = os.path.join(cache, "results")  # never touch the recorded results
            start = time.perf_counter()
            NotebookClient(nb, timeout=args.timeout, kernel_name="python3", record_timing=False,
                           resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}}).execute()
            seconds = time.perf_counter() - start
        if not args.no_write:
            nbformat.write(nb, path)
        if args.record_timings:
            _record(Path(path).stem, args.profile, seconds)
        print(f"{path}: executed in the {args.profile} profile in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
