"""The student export: solutions removed, exercises and checks kept, and nothing of a solution leaks.

The leak test plants a unique marker in every cell of every solution of every chapter, exports the
student notebooks, builds an HTML book from them, and searches both for the markers. As a control, the
same planted notebooks built *with* their solutions must show every marker, so the search is known to find
a leak when there is one.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from reprolib.book import pages as bookinfo
from reprolib.chapters import CHAPTERS, chapter_module

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import make_student_notebooks  # noqa: E402

CHAPTER_NOTEBOOKS = [ROOT / chapter_module(c).NOTEBOOK for c in CHAPTERS]


def _md(text):
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _code(text):
    return {"cell_type": "code", "metadata": {}, "source": text, "outputs": [{"output_type": "stream", "name": "stdout", "text": "out"}], "execution_count": 3}


def _toy():
    return {"cells": [
        _md("# T\n\n**What you will learn**\n\n- one thing;\n- another\n  thing.\n\nMore text."),
        _md("```{exercise-start}\n:label: ex-a\n```\n**Alpha.** Do it."),
        _code("def f():\n    # your code here\n    return None"),
        _md("```{solution-start} ex-a\n:class: dropdown\n```"),
        _code("def f():\n    return 42  # SECRET-A"),
        _md("```{solution-end}\n```"),
        _code("checks.check_soft_encoding(f)"),
        _md("```{solution} ex-a\nSECRET-B single-cell solution\n```"),
    ], "metadata": {"widgets": {"state": {}}}, "nbformat": 4, "nbformat_minor": 5}


def test_student_notebook_removes_solutions_and_keeps_exercises_and_checks():
    nb = _toy()
    st = bookinfo.student_notebook(nb)
    text = json.dumps(st)
    assert "SECRET-A" not in text and "SECRET-B" not in text
    assert "solution-start" not in text and "solution-end" not in text
    assert "checks.check_soft_encoding(f)" in text and "your code here" in text
    assert [e.label for e in bookinfo.exercises(st)] == ["ex-a"]
    assert all(c.get("outputs", []) == [] for c in st["cells"] if c["cell_type"] == "code")
    assert "widgets" not in st["metadata"]
    assert "SECRET-A" in json.dumps(nb), "the input notebook must not be modified"


@pytest.mark.parametrize("bad, message", [
    ([_md("```{solution-start} x\n```"), _code("x = 1")], "without a solution-end"),
    ([_md("```{solution-end}\n```")], "without a solution-start"),
    ([_md("```{solution-start} x\n```"), _md("```{solution-start} y\n```")], "inside the solution"),
])
def test_malformed_solution_markup_is_refused(bad, message):
    with pytest.raises(bookinfo.NotebookFormatError, match=message):
        bookinfo.student_notebook({"cells": bad, "metadata": {}})


def test_exercise_and_goal_parsing():
    nb = _toy()
    (ex,) = bookinfo.exercises(nb)
    assert (ex.label, ex.title, ex.checks) == ("ex-a", "Alpha", ("check_soft_encoding",))
    from reprolib.chapters.automatic import checks

    assert "nearest" in ex.check_descriptions(checks)[0]  # taken from the check's docstring
    assert ex.check_descriptions(object()) == ["check_soft_encoding (undocumented)"]
    assert bookinfo.learning_goals(nb) == ["one thing;", "another thing."]


@pytest.mark.parametrize("path", CHAPTER_NOTEBOOKS, ids=lambda p: p.stem)
def test_every_chapter_exports_with_its_exercises_and_checks(path, tmp_path):
    nb = bookinfo.read_notebook(path)
    (out,) = make_student_notebooks.export([path], tmp_path)
    st = json.loads(out.read_text())
    full_ex, st_ex = bookinfo.exercises(nb), bookinfo.exercises(st)
    assert len(full_ex) >= 3, f"{path.name}: a chapter needs at least three exercises"
    assert [(e.label, e.checks) for e in st_ex] == [(e.label, e.checks) for e in full_ex]
    assert all(e.checks for e in st_ex), "every exercise keeps an automatic check"
    assert len(st["cells"]) < len(nb["cells"])


def _plant(nb: dict, marker: str) -> tuple[dict, int]:
    """Copy of ``nb`` with ``marker`` added to every cell inside every solution; returns (copy, count)."""
    nb = copy.deepcopy(nb)
    inside, n = False, 0
    for cell in nb["cells"]:
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "markdown" and "{solution-start}" in text:
            inside = True
            continue
        if cell["cell_type"] == "markdown" and "{solution-end}" in text:
            inside = False
            continue
        if inside:
            suffix = f"\n# {marker}" if cell["cell_type"] == "code" else f"\n\n{marker}"
            cell["source"] = text + suffix
            n += 1
    return nb, n


def _build_book(folder: Path, notebooks: dict[str, dict]) -> str:
    """Build an HTML book holding ``notebooks`` (name -> notebook) with the project's configuration and
    execution off; return all the HTML text."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "off"
    sphinx_config = config["sphinx"]["config"]
    for key in ("html_extra_path", "mathjax_path", "nb_ipywidgets_js"):  # the JS bundle is not needed here
        sphinx_config.pop(key, None)
    local = config["sphinx"].get("local_extensions") or {}
    for name, path in local.items():
        local[name] = str((ROOT / path).resolve())
    config["bibtex_bibfiles"] = [str(ROOT / "book" / "references.bib")]
    (folder / "book").mkdir(parents=True)
    (folder / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    (folder / "book" / "images").symlink_to(ROOT / "book" / "images")
    (folder / "book" / "intro.md").write_text("# Student edition\n")
    for name, nb in notebooks.items():
        (folder / "book" / f"{name}.ipynb").write_text(json.dumps(nb))
    toc = {"format": "jb-book", "root": "book/intro",
           "chapters": [{"file": f"book/{name}"} for name in notebooks]}
    (folder / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))
    jb = Path(sys.executable).parent / "jupyter-book"
    proc = subprocess.run([str(jb), "build", str(folder), "--builder", "html"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    html_files = list((folder / "_build" / "html").rglob("*.html"))
    assert html_files
    return "\n".join(p.read_text(encoding="utf-8", errors="ignore") for p in html_files)


@pytest.mark.book_build
def test_no_solution_leaks_into_student_notebooks_or_html(tmp_path):
    marker = f"SOLUTION-MARKER-{uuid.uuid4().hex}"
    planted, total = {}, 0
    for path in CHAPTER_NOTEBOOKS:
        nb, n = _plant(bookinfo.read_notebook(path), marker)
        assert n >= 3, f"{path.name}: expected solution cells to plant markers in"
        planted[path.stem] = nb
        total += n
    # control: with the solutions, the built HTML shows every planted marker
    full_html = _build_book(tmp_path / "full", planted)
    assert full_html.count(marker) >= total, "the control build should show every planted marker"
    # the student version: no marker in the notebooks nor in their HTML
    students = {}
    for name, nb in planted.items():
        src = tmp_path / "planted" / f"{name}.ipynb"
        src.parent.mkdir(exist_ok=True)
        src.write_text(json.dumps(nb))
        (out,) = make_student_notebooks.export([src], tmp_path / "student")
        text = out.read_text()
        assert marker not in text, f"{name}: a solution leaked into the student notebook"
        students[name] = json.loads(text)
    student_html = _build_book(tmp_path / "student-book", students)
    assert marker not in student_html, "a solution leaked into the student HTML"
    assert "exercise" in student_html.lower()
