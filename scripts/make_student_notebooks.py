"""Write the student version of every chapter notebook: solutions removed, outputs cleared, exercise stubs
and their automatic checks kept (see ``reprolib.book.pages.student_notebook``).

    python scripts/make_student_notebooks.py --out student [NOTEBOOK ...]

Without notebook arguments it exports every chapter registered in ``reprolib.chapters.CHAPTERS``.
The files are written atomically; the output folder is created if needed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from reprolib.book.pages import exercises, read_notebook, student_notebook  # noqa: E402


def chapter_notebooks() -> list[Path]:
    from reprolib.chapters import CHAPTERS, chapter_module

    return [ROOT / chapter_module(name).NOTEBOOK for name in CHAPTERS]


def export(notebooks: list[Path], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks:
        nb = read_notebook(path)
        student = student_notebook(nb)
        if [e.label for e in exercises(student)] != [e.label for e in exercises(nb)]:
            raise SystemExit(f"{path}: the student version lost an exercise; check the solution markup")
        target = out / path.name
        tmp = target.with_suffix(".ipynb.tmp")
        tmp.write_text(json.dumps(student, indent=1, ensure_ascii=False) + "\n")
        os.replace(tmp, target)
        written.append(target)
        print(f"{target}: {len(exercises(student))} exercises, {len(nb['cells']) - len(student['cells'])} solution cells removed")
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "student")
    args = parser.parse_args()
    export(args.notebooks or chapter_notebooks(), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
