"""scripts/book_progress.py: what `make book` prints while the chapters execute."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from reprolib.chapters import CHAPTERS

ROOT = Path(__file__).resolve().parents[1]


def test_chapter_lines_and_the_kernels_progress_lines_are_printed(tmp_path):
    log = tmp_path / "progress.log"
    log.write_text("automatic/l2 (fast): training\nautomatic/l2 (fast): step 10/500, loss 0.5 (12.0 steps/s)\n")
    build_output = ("reading sources... [ 17%] book/automatic\n"
                    f"{ROOT}/book/user_guided.ipynb: Executing notebook using local CWD [mystnb]\n"
                    "book/summary.ipynb: Executing notebook using local CWD [mystnb]\n")  # not a chapter
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "book_progress.py"), "--progress-file", str(log)],
                         input=build_output, capture_output=True, text=True, timeout=120, check=True).stdout
    assert "reading sources... [ 17%] book/automatic" in out  # Jupyter Book's own lines pass through
    assert f"executing notebook 1 of {len(CHAPTERS)}: user_guided (chapter 2, book/user_guided.ipynb)" in out
    assert "notebook 2 of" not in out  # the summary page is not a chapter
    assert "automatic/l2 (fast): step 10/500, loss 0.5" in out
    assert all(line.startswith("[book] ") for line in out.splitlines() if "automatic/l2" in line)
