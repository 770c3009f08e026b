"""Show what `make book` is doing while the chapters execute.

    jupyter-book build ... 2>&1 | python scripts/book_progress.py --progress-file _build/progress.log

Passes Jupyter Book's own output through, and adds ``[book] mm:ss ...`` lines: which chapter notebook
starts executing (k of N, counted as they start; a chapter taken from the execution cache is not executed), and what reprolib reports from inside the kernel through the progress file
(``reprolib.progress``: each model loaded or trained, training steps and loss every few seconds). Nothing
of this reaches the notebooks' outputs, so the HTML stays as quiet as before.
"""

from __future__ import annotations

import argparse
import re
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START = time.monotonic()
_lock = threading.Lock()


def say(line: str) -> None:
    with _lock:
        sys.stdout.write(line if line.endswith("\n") else line + "\n")
        sys.stdout.flush()


def stamp() -> str:
    s = int(time.monotonic() - START)
    return f"{s // 60:02d}:{s % 60:02d}"


def chapters() -> list[str]:
    """The chapter notebooks' stems in book order (from the registry), e.g. ['automatic', 'user_guided', ...]."""
    sys.path.insert(0, str(ROOT / "src"))
    from reprolib.chapters import CHAPTERS, chapter_module

    return [Path(chapter_module(n).NOTEBOOK).stem for n in CHAPTERS]


def follow(path: Path, stop: threading.Event) -> None:
    """Print each line appended to ``path`` until ``stop`` is set (and the file is read to its end)."""
    pos = 0
    while True:
        done = stop.is_set()
        if path.exists():
            with path.open(encoding="utf-8", errors="replace") as f:
                f.seek(pos)
                for line in f:
                    say(f"[book] {stamp()}   {line.rstrip()}")
                pos = f.tell()
        if done:
            return
        stop.wait(0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--progress-file", type=Path, required=True)
    args = parser.parse_args()
    names = chapters()
    started: list[str] = []
    notebook = re.compile(r"([\w.-]+)\.ipynb")  # Jupyter Book: "/.../book/automatic.ipynb: Executing notebook ..."
    stop = threading.Event()
    watcher = threading.Thread(target=follow, args=(args.progress_file, stop), daemon=True)
    watcher.start()
    try:
        for line in sys.stdin:
            say(line.rstrip("\n"))
            m = notebook.search(line) if "Executing notebook" in line else None
            if m and m.group(1) in names:  # Jupyter Book executes in its own order, not the book's
                started.append(m.group(1))
                say(f"[book] {stamp()} executing notebook {len(started)} of {len(names)}: {m.group(1)} "
                    f"(chapter {names.index(m.group(1)) + 1}, book/{m.group(1)}.ipynb)")
    finally:
        stop.set()
        watcher.join(timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
