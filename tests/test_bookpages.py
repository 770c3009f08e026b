"""The pieces behind the book's summary and instructor pages, the Colab set-up, and checkpoints."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from reprolib.book import pages as bookinfo
from reprolib.config import CACHE_ENV, cache_dir, use_checkpoint_dir
from reprolib.chapters import CHAPTERS, chapter_module
from reprolib.book.tables import verdict_matrix

ROOT = Path(__file__).resolve().parents[1]


def _res(*verdicts):
    return {"claims": [{"id": f"c{i}", "statement": f"claim {i}", "verdict": v, "evidence": {}}
                       for i, v in enumerate(verdicts)]}


def test_verdict_matrix_lines_up_claims_across_runs():
    m = verdict_matrix({"full": None, "fast": _res("reproduced", "not_reproduced"), "other": _res("not_testable")})
    assert m.header == ["Claim", "Statement", "full", "fast", "other"]
    assert m.verdicts == [[None, "reproduced", "not_testable"], [None, "not_reproduced", None]]
    html = m._repr_html_()
    assert html.count("<tr>") == 3 and "not reproduced" in html and "\u2014" in html
    with pytest.raises(ValueError, match="no valid verdict"):
        verdict_matrix({"x": {"claims": [{"id": "a", "statement": "s", "verdict": "maybe", "evidence": {}}]}})


def test_every_registered_chapter_has_what_the_book_pages_need():
    for name in CHAPTERS:
        module = chapter_module(name)
        assert (ROOT / module.NOTEBOOK).is_file()
        assert module.TITLE and module.NEEDS_GPU
        tables = module.paper_tables({"fast": None})
        assert tables and all(t.body for t in tables)
    with pytest.raises(KeyError, match="registered chapters"):
        chapter_module("no-such-chapter")


def test_chapter_headers_are_in_sync_with_the_config():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "sync_chapter_headers.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_setup_cell_is_a_no_op_outside_colab():
    for name in CHAPTERS:
        nb = bookinfo.read_notebook(ROOT / chapter_module(name).NOTEBOOK)
        cell = next(c for c in nb["cells"] if c["cell_type"] == "code")
        src = "".join(cell["source"])
        assert "colab-setup" in cell["metadata"]["tags"]
        assert "torch==" in src and "-c" in src, "the install must be constrained to Colab's torch"
        assert nb["metadata"]["accelerator"] == "GPU"
        code = f"import sys; sys.modules.pop('google.colab', None)\n{src}\nprint(sorted(k for k in globals() if not k.startswith('_')))"
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
        assert proc.returncode == 0, proc.stderr
        assert "subprocess" not in proc.stdout, "outside Colab the cell must not install anything"


def test_use_checkpoint_dir_moves_the_cache(tmp_path, monkeypatch):
    monkeypatch.delenv(CACHE_ENV, raising=False)
    target = use_checkpoint_dir(tmp_path / "drive" / "reprolib")
    assert target.is_dir() and cache_dir("models") == target / "models"
    with pytest.raises(ValueError, match="empty"):
        use_checkpoint_dir("")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match="not writable"):
        use_checkpoint_dir(blocker / "sub")


def test_timings_file_is_well_formed():
    timings = bookinfo.load_timings()
    for chapter, profiles in timings.items():
        for profile, t in profiles.items():
            assert profile in ("smoke", "fast", "full")
            assert t["seconds"] > 0 and t["machine"] and t["date"]
    assert bookinfo.format_seconds(42) == "42 s" and bookinfo.format_seconds(300) == "5.0 min"


def _outputs_text(path: Path) -> str:
    nb = json.loads(path.read_text())
    texts = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            for value in (out.get("data") or {}).values():
                texts.append("".join(value) if isinstance(value, list) else str(value))
            if "text" in out:
                texts.append("".join(out["text"]) if isinstance(out["text"], list) else out["text"])
    return "\n".join(texts)


def test_summary_and_instructor_pages_show_the_recorded_results_and_times():
    """The two pages are rendered from their committed outputs (the build does not execute them);
    `make notebooks` refreshes them. This fails when they no longer match book/results/."""
    from reprolib.results import claims_summary, recorded_results

    summary = _outputs_text(ROOT / "book" / "summary.ipynb")
    for name in CHAPTERS:
        assert chapter_module(name).TITLE in summary, f"{name} is missing from the summary page; run make notebooks"
        for profile in ("fast", "full"):
            res = recorded_results(name, profile)
            if res is not None:
                assert claims_summary(res) in summary, f"summary page is stale for {name} ({profile}); run make notebooks"
    instructors = _outputs_text(ROOT / "book" / "instructors.ipynb")
    for name, profiles in bookinfo.load_timings().items():
        if name not in CHAPTERS:
            continue
        for profile, t in profiles.items():
            assert bookinfo.format_seconds(t["seconds"]) in instructors, (
                f"instructor page is stale for {name} ({profile}); run make notebooks")


def _sync_script():
    spec = importlib.util.spec_from_file_location("sync_chapter_headers", ROOT / "scripts" / "sync_chapter_headers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_header_times_come_from_the_recorded_timings():
    sync = _sync_script()
    header = ("# Title\n\n**Time to run** (old words, typed by hand):\n\n| profile | size | time |\n|---|---|---|\n"
              "| `smoke` | 32 | 5 s |\n| `fast` (default on a CPU) | 64 | 1 min |\n| `full` (default on a GPU) | 128 | ? |\n\n"
              "A note that stays.\n")
    times = {"smoke": {"seconds": 29.04, "machine": "2 CPU cores"}, "fast": {"seconds": 293.2, "machine": "2 CPU cores"},
             "full": {"seconds": 1500.0, "machine": "one H100"}}
    out = sync.sync_times(header, times, Path("x.ipynb"))
    assert "| `smoke` | 32 | 29 s |" in out and "| `fast` (default on a CPU) | 64 | 4.9 min |" in out
    assert "| `full` (default on a GPU) | 128 | 25.0 min (one H100) |" in out
    assert "typed by hand" not in out and "2 CPU cores)" in out and out.endswith("A note that stays.\n")
    assert sync.sync_times(out, times, Path("x.ipynb")) == out  # idempotent: --check passes after a sync
    unmeasured = sync.sync_times(header, {"smoke": times["smoke"]}, Path("x.ipynb"))
    assert "| 64 | not yet measured |" in unmeasured and "| 128 | not yet measured |" in unmeasured
    with pytest.raises(SystemExit, match="Time to run"):
        sync.sync_times("# no table here\n", times, Path("x.ipynb"))
