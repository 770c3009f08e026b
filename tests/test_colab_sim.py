"""Simulate a chapter's first run in Google Colab, as faithfully as this machine allows.

Colab gives a fresh Python with torch (and the Jupyter kernel) preinstalled, ``google.colab`` imported at
start-up, and the notebook opened from the repository. The test builds exactly that:

1. the repository, as a bare clone of this checkout whose ``BOOK_REF`` branch (``_config.yml``
   ``repository.branch``) points at this checkout's HEAD commit; the set-up cell clones it from there (the
   one difference from Colab: ``REPROLIB_BOOK_REPO`` names this local copy instead of GitHub);
2. a new virtual environment holding only torch (the version pinned here) and ipykernel, plus a stand-in
   ``google.colab`` (``tests/colab_sim/``) imported at start-up as in Colab;
3. the chapter notebook executed top to bottom in that environment in the smoke profile, starting with
   its own set-up cell, which must install reprolib and its dependencies, leave torch untouched and turn on
   the widget manager.

Only committed work is tested (the set-up cell clones the repository). The versions the simulation ran with
are written to ``_build/colab-sim-versions.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import venv
from pathlib import Path

import nbformat
import pytest
import yaml
from nbclient import NotebookClient

from reprolib.chapters import CHAPTERS, chapter_module

pytestmark = pytest.mark.colab_sim
ROOT = Path(__file__).resolve().parents[1]


def _run(cmd, **kw):
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def colab(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("colab")
    if shutil.which("git") is None:
        pytest.fail("git is needed to simulate the set-up cell's clone")
    ref = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"].get("branch", "main")
    head = _run(["git", "-C", str(ROOT), "rev-parse", "HEAD"]).strip()
    origin = tmp / "origin.git"
    _run(["git", "clone", "-q", "--bare", str(ROOT), str(origin)])
    _run(["git", "-C", str(origin), "update-ref", f"refs/heads/{ref}", head])

    runtime = tmp / "runtime"
    venv.EnvBuilder(with_pip=True).create(runtime)
    py = runtime / "bin" / "python"
    import torch

    torch_version = torch.__version__.split("+")[0]
    _run([str(py), "-m", "pip", "install", "-q", f"torch=={torch_version}", "ipykernel"])
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip())
    shutil.copytree(ROOT / "tests" / "colab_sim" / "google", site / "google")
    shutil.copy(ROOT / "tests" / "colab_sim" / "sitecustomize.py", site / "sitecustomize.py")
    kernels = tmp / "jupyter" / "kernels" / "colab-sim"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(py), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "simulated Colab", "language": "python"}))
    torch_record = next(site.glob("torch-*.dist-info")) / "RECORD"
    return {"tmp": tmp, "python": py, "origin": origin, "ref": ref, "head": head,
            "torch_record": torch_record, "torch_mtime": torch_record.stat().st_mtime}


@pytest.mark.parametrize("chapter", list(CHAPTERS))
def test_chapter_runs_in_simulated_colab(colab, chapter, monkeypatch):
    notebook = ROOT / chapter_module(chapter).NOTEBOOK
    nb = nbformat.read(notebook, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert "colab-setup" in first.metadata.get("tags", []), "the first code cell must be the Colab set-up cell"
    work = colab["tmp"] / f"content-{chapter}"  # Colab's /content
    work.mkdir()
    log = colab["tmp"] / f"log-{chapter}"
    log.mkdir()
    env = {"REPROLIB_PROFILE": "smoke", "REPROLIB_QUIET": "1", "REPROLIB_CACHE": str(colab["tmp"] / "cache"),
           "REPROLIB_RESULTS": str(colab["tmp"] / "results"), "REPROLIB_BOOK_REPO": f"file://{colab['origin']}",
           "COLAB_SIM_LOG": str(log), "JUPYTER_PATH": str(colab["tmp"] / "jupyter")}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.setenv("PATH", f"{colab['python'].parent}:{os.environ['PATH']}")
    NotebookClient(nb, timeout=600, kernel_name="colab-sim", resources={"metadata": {"path": str(work)}}).execute()

    clone = work / "colorization-book"
    assert (clone / "src" / "reprolib").is_dir(), "the set-up cell did not clone the repository"
    assert _run(["git", "-C", str(clone), "rev-parse", "HEAD"]).strip() == colab["head"]
    events = (log / "colab-events.txt").read_text().split()
    assert "enable_custom_widget_manager" in events
    assert colab["torch_record"].stat().st_mtime == colab["torch_mtime"], "the set-up cell reinstalled torch"
    info = json.loads(_run([str(colab["python"]), "-c", (
        "import json, sys, torch, reprolib, ipywidgets, ipykernel, numpy, matplotlib;"
        "print(json.dumps({'python': sys.version.split()[0], 'torch': torch.__version__, "
        "'reprolib': reprolib.__version__, 'reprolib_path': reprolib.__file__, 'ipywidgets': ipywidgets.__version__, "
        "'ipykernel': ipykernel.__version__, 'numpy': numpy.__version__, 'matplotlib': matplotlib.__version__}))")]))
    assert info["reprolib_path"].startswith(str(clone)), "reprolib should be the editable install of the clone"
    out = ROOT / "_build" / "colab-sim-versions.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"chapter": chapter, **info}, indent=1))
