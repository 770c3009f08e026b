"""What the book's own pages need to know about the chapters: exercises, learning goals, measured times,
and the student version of a notebook (solutions removed).

The chapter notebooks mark exercises and solutions with sphinx-exercise's gated directives, each in a
markdown cell of its own, so that code cells can sit between them::

    ```{exercise-start}            <- markdown cell; the exercise's text follows in the same cell
    :label: ex-soft-encoding
    ```
    ...a code cell with the stub the student fills in...
    ```{exercise-end}``` (optional)
    ```{solution-start} ex-soft-encoding
    :class: dropdown
    ```
    ...the solution's cells...
    ```{solution-end}
    ```
    checks.check_soft_encoding(my_soft_encode)   <- the automatic check, kept for students

:func:`student_notebook` removes everything from a ``solution-start`` cell to its ``solution-end`` cell
(and any single-cell ``{solution}`` directive), clears every output, and keeps the exercises and checks.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reprolib.config import repo_root

_SOLUTION_START = re.compile(r"^\s*(```+|:::+)\s*\{solution-start\}", re.M)
_SOLUTION_END = re.compile(r"^\s*(```+|:::+)\s*\{solution-end\}", re.M)
_SOLUTION_SINGLE = re.compile(r"^\s*(```+|:::+)\s*\{solution\}", re.M)
_EXERCISE_START = re.compile(r"^\s*(```+|:::+)\s*\{exercise(-start)?\}", re.M)
_LABEL = re.compile(r"^:label:\s*(\S+)", re.M)
_CHECK_CALL = re.compile(r"\bchecks\.(check_\w+)\s*\(")
TIMINGS_FILE = "book/results/timings.json"


class NotebookFormatError(ValueError):
    """A chapter notebook's exercise/solution markup is malformed."""


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def read_notebook(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"notebook {path} does not exist")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def student_notebook(nb: dict) -> dict:
    """A copy of ``nb`` with every solution removed and all outputs cleared (see the module docstring).

    Raises :class:`NotebookFormatError` on a ``solution-start`` without its ``solution-end`` (or the
    reverse), so that a malformed notebook can never leak a solution by accident.
    """
    out = copy.deepcopy(nb)
    cells, keep, inside = out.get("cells", []), [], None
    for i, cell in enumerate(cells):
        text = _source(cell) if cell.get("cell_type") == "markdown" else ""
        if inside is None:
            if _SOLUTION_START.search(text):
                if _SOLUTION_END.search(text):  # start and end in one cell: a self-contained solution
                    continue
                inside = i
                continue
            if _SOLUTION_END.search(text):
                raise NotebookFormatError(f"cell {i}: solution-end without a solution-start")
            if _SOLUTION_SINGLE.search(text):
                continue
            if cell.get("cell_type") == "code":
                cell["outputs"], cell["execution_count"] = [], None
            keep.append(cell)
        elif _SOLUTION_END.search(text):
            inside = None
        elif _SOLUTION_START.search(text):
            raise NotebookFormatError(f"cell {i}: solution-start inside the solution opened at cell {inside}")
    if inside is not None:
        raise NotebookFormatError(f"cell {inside}: solution-start without a solution-end")
    out["cells"] = keep
    out.get("metadata", {}).pop("widgets", None)  # saved widget state belongs to the executed version
    return out


@dataclass(frozen=True)
class Exercise:
    label: str
    title: str
    checks: tuple[str, ...]  # names of the reprolib.book.exercises functions the exercise's check cell calls

    def check_descriptions(self, checks_module: Any) -> list[str]:
        """Each check's docstring without its reference line: what the automatic check verifies.

        ``checks_module``: the chapter's checks (``reprolib.chapters.<chapter>.checks``).
        """
        out = []
        for name in self.checks:
            fn = getattr(checks_module, name, None)
            lines = [ln for ln in (fn.__doc__ or "").strip().splitlines() if not ln.strip().startswith("Reference:")] if fn else []
            out.append(" ".join(" ".join(lines).split()) or f"{name} (undocumented)")
        return out


def exercises(nb: dict) -> list[Exercise]:
    """The exercises of a notebook in order: label, title (its first bold phrase) and the checks called
    between this exercise and the next one."""
    found: list[dict[str, Any]] = []
    for cell in nb.get("cells", []):
        text = _source(cell)
        if cell.get("cell_type") == "markdown" and _EXERCISE_START.search(text):
            label = _LABEL.search(text)
            title = re.search(r"\*\*(.+?)\*\*", text)
            found.append({"label": label.group(1) if label else f"exercise-{len(found) + 1}",
                          "title": title.group(1).rstrip(". ") if title else "", "checks": []})
        elif cell.get("cell_type") == "code" and found:
            for name in _CHECK_CALL.findall(text):
                if name not in found[-1]["checks"]:
                    found[-1]["checks"].append(name)
    return [Exercise(f["label"], f["title"], tuple(f["checks"])) for f in found]


def learning_goals(nb: dict) -> list[str]:
    """The bullet points under the chapter's "What you will learn" heading."""
    for cell in nb.get("cells", []):
        text = _source(cell)
        m = re.search(r"What you will learn\**\s*\n(.*?)(\n\s*\n(?![ \t]*-)|\Z)", text, re.S)
        if m and cell.get("cell_type") == "markdown":
            bullets = re.split(r"\n\s*-\s+", "\n" + m.group(1).strip())
            return [" ".join(b.split()) for b in bullets if b.strip()]
    return []


def timings_path() -> Path:
    root = repo_root()
    if root is None:
        raise FileNotFoundError("the measured chapter times live in the book's checkout (book/results/timings.json)")
    return root / TIMINGS_FILE


def load_timings() -> dict[str, dict[str, dict[str, Any]]]:
    """``{chapter: {profile: {"seconds": ..., "commit": ..., "date": ..., "machine": ...}}}`` as recorded by
    ``scripts/execute_notebooks.py --record-timings``; empty when nothing was recorded yet."""
    try:
        path = timings_path()
    except FileNotFoundError:
        return {}
    if not path.exists():
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def format_seconds(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min"
