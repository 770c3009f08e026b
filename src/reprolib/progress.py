"""Progress lines for a watcher outside the notebook (``make book``), never into the notebook's output.

When the book is built, every chapter runs in a Jupyter kernel whose output becomes the page, so training
bars there would make the HTML noisy, and nothing reaches the terminal. ``scripts/build_book.sh`` therefore
names a file in ``REPROLIB_PROGRESS``; :func:`report` appends one line to it (what is being trained, which
step, the loss) and ``scripts/book_progress.py`` prints those lines as they come. With the variable unset
(a reader's notebook, the tests) nothing is written.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Iterator

PROGRESS_ENV = "REPROLIB_PROGRESS"
EVERY_SECONDS = 15.0  # at most one step line per training this often

_task: list[str] = []  # what is being trained now (innermost last), set by :func:`task`


def enabled() -> bool:
    return bool(os.environ.get(PROGRESS_ENV, "").strip())


def report(message: str) -> None:
    """Append ``message`` as one line to the file named by ``REPROLIB_PROGRESS`` (if set).

    A progress line must never stop a run: a file that cannot be written is ignored."""
    path = os.environ.get(PROGRESS_ENV, "").strip()
    if not path:
        return
    line = " ".join(str(message).split())  # one line, whatever the message holds
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
    except OSError:
        pass


@contextlib.contextmanager
def task(label: str) -> Iterator[None]:
    """Name what the code inside trains (e.g. ``"automatic/full"``), for the step lines of :class:`Steps`."""
    _task.append(label)
    try:
        yield
    finally:
        _task.pop()


def current_task(default: str = "train") -> str:
    return _task[-1] if _task else default


class Steps:
    """Reports a training's step count and loss at most every :data:`EVERY_SECONDS`, and at its end."""

    def __init__(self, total: int, start: int = 0, label: str | None = None, every: float | None = None):
        self.total, self.start, self.label = int(total), int(start), label or current_task()
        self.every = EVERY_SECONDS if every is None else float(every)
        self.t0 = self.last = time.perf_counter()
        self.on = enabled()

    def update(self, done: int, loss: float | None = None) -> None:
        if not self.on:
            return
        now = time.perf_counter()
        if done < self.total and now - self.last < self.every:
            return
        self.last = now
        rate = (done - self.start) / max(now - self.t0, 1e-9)
        tail = f", loss {loss:.4g}" if loss is not None else ""
        report(f"{self.label}: step {done}/{self.total}{tail} ({rate:.1f} steps/s)")
