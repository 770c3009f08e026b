"""One place for downloads (opt-in paths only: official weights, BAPPS). Nothing in the book's default
path downloads anything."""

from __future__ import annotations

import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable


def download_atomic(url: str, dest: str | os.PathLike, timeout: float = 60.0, progress: bool = False,
                    check: Callable[[Path], None] | None = None) -> Path:
    """Download ``url`` to ``dest`` through a temporary file in the same folder, renamed into place only
    when complete (and when ``check(tmp_path)`` passes), so an interrupted download never leaves a
    half-written file under the final name. Network errors propagate as ``urllib.error.URLError``,
    ``OSError`` or ``TimeoutError`` for the caller to explain."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            total = int(resp.headers.get("Content-Length") or 0) or None
            from tqdm.auto import tqdm

            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
                for chunk in iter(lambda: resp.read(1 << 20), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
        if check is not None:
            check(Path(tmp))
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return dest


NETWORK_ERRORS = (urllib.error.URLError, OSError, TimeoutError)
