"""Execute chapter notebooks from a clean state (outputs cleared first), optionally recording the time.

- ``make notebooks`` runs this in the smoke profile with a fresh model cache, writes the outputs back
  (they are what nbval compares) and records each notebook's wall time, kernel start included, in
  ``book/results/timings.json``. Never edit notebook outputs by hand.
- ``make timings`` runs the notebooks in the fast profile with a fresh model cache (so training is
  timed too), without writing the notebooks, and records the times. The instructor page and the
  chapters' "time to run" tables read that file.
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


def _record(chapter: str, profile: str, seconds: float) -> None:
    data = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
    data.setdefault(chapter, {})[profile] = {
        "seconds": round(seconds, 1),
        "commit": _commit(),
        "date": datetime.date.today().isoformat(),
        "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}",
        "note": "whole notebook, kernel start included, empty model cache",
    }
    tmp = TIMINGS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, TIMINGS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument("--profile", choices=["smoke", "fast", "full"], default=os.environ.get("REPROLIB_PROFILE", "smoke"))
    parser.add_argument("--no-write", action="store_true", help="do not write the outputs back")
    parser.add_argument("--record-timings", action="store_true", help=f"record wall times in {TIMINGS.relative_to(ROOT)}")
    args = parser.parse_args()
    if not args.no_write and args.profile != "smoke":
        parser.error("committed outputs must come from the smoke profile; use --no-write for other profiles")
    os.environ["REPROLIB_PROFILE"] = args.profile
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        with tempfile.TemporaryDirectory() as cache:
            os.environ["REPROLIB_CACHE"] = cache  # train from scratch, as a first-time reader would
            os.environ["REPROLIB_RESULTS"] = os.path.join(cache, "results")  # never touch the recorded results
            start = time.perf_counter()
            NotebookClient(nb, timeout=args.timeout, kernel_name="python3",
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
