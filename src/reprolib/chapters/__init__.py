"""One package per chapter: what the notebook and the CLI (``python -m reprolib reproduce``) run.

``CHAPTERS`` maps a chapter's name to ``"module:function"``; the function is called as
``run(profile=..., seed=..., force=..., device=...)`` and returns the results dict it wrote.

Every chapter module also defines ``TITLE`` (the chapter's heading), ``NOTEBOOK`` (its notebook under
``book/``), ``NEEDS_GPU`` (what, if anything, only a GPU can run) and ``paper_tables(runs)`` (its
paper-versus-ours tables for a mapping ``{column label: results dict or None}``). The summary and
instructor pages of the book are built from these, so a new chapter appears there by being registered
here.
"""

from __future__ import annotations

import importlib
from types import ModuleType

CHAPTERS = {
    "automatic": "reprolib.chapters.automatic:run",
    "user_guided": "reprolib.chapters.user_guided:run",
    "bicyclegan": "reprolib.chapters.bicyclegan:run",
    "split_brain": "reprolib.chapters.split_brain:run",
    "lpips": "reprolib.chapters.lpips:run",
    "diverse": "reprolib.chapters.diverse:run",
    "exemplar": "reprolib.chapters.exemplar:run",
}

REQUIRED_ATTRIBUTES = ("TITLE", "NOTEBOOK", "NEEDS_GPU", "paper_tables", "checks")


def chapter_module(name: str) -> ModuleType:
    """The experiments module of a registered chapter, checked for the attributes the book pages use."""
    if name not in CHAPTERS:
        raise KeyError(f"unknown chapter {name!r}; registered chapters: {', '.join(CHAPTERS)}")
    module = importlib.import_module(CHAPTERS[name].partition(":")[0])
    missing = [a for a in REQUIRED_ATTRIBUTES if not hasattr(module, a)]
    if missing:
        raise AttributeError(f"chapter module {module.__name__} lacks {', '.join(missing)}")
    return module
