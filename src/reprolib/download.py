"""One place for downloads (opt-in paths only: official weights, BAPPS). Nothing in the book's default
path downloads anything. Archives are unpacked here too, by :func:`safe_extract`."""

from __future__ import annotations

import os
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath
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


class ArchiveError(RuntimeError):
    """An archive (a data set, BAPPS) could not be downloaded or unpacked, or it holds something unsafe or unexpected."""


def _unsafe(member: tarfile.TarInfo, dest: Path) -> str | None:
    """Why ``member`` must not be unpacked into ``dest``, or None when it is a plain file or folder inside it."""
    name = member.name.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "it is an absolute path"
    if ".." in PurePosixPath(name).parts:
        return "its path climbs out with '..'"
    if member.issym() or member.islnk():
        return "it is a link"
    if not (member.isfile() or member.isdir()):
        return "it is a device file or a FIFO"
    target = (dest / name).resolve()
    if target != dest and dest not in target.parents:
        return f"it would be written to {target}, outside {dest}"
    return None


def safe_extract(archive: str | os.PathLike, dest: str | os.PathLike) -> list[str]:
    """Unpack the tar archive ``archive`` (any compression) into the folder ``dest``; return the member names.

    Every member is checked before anything is written, so an archive with one bad member writes nothing:
    absolute paths, ``..`` components, symbolic and hard links, device files and FIFOs raise
    :class:`ArchiveError` naming the member. Python's own ``"data"`` extraction filter is applied on top.
    """
    dest = Path(dest).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            members = tar.getmembers()
            for member in members:
                why = _unsafe(member, dest)
                if why is not None:
                    raise ArchiveError(f"refusing to unpack {archive}: its member {member.name!r} is unsafe ({why}); "
                                       "expected only plain files and folders inside the target folder")
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, members=members, filter="data")
            else:  # pragma: no cover - Python older than 3.11.4; every member was checked above
                tar.extractall(dest, members=members)
    except (tarfile.TarError, EOFError, OSError) as err:
        raise ArchiveError(f"cannot unpack {archive}: {err} (expected a tar or tar.gz archive)") from err
    return [m.name for m in members]
