"""One place for downloads (opt-in paths only: official weights, BAPPS, data sets). Nothing in the book's
default path downloads anything. Archives are unpacked here too, by :func:`safe_extract`, and downloaded
pickles are read by :func:`restricted_load`, which builds numpy arrays and plain containers and nothing else."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Callable

import numpy as np


def md5_of(path: str | os.PathLike) -> str:
    """The MD5 hex digest of a file (read in 1 MiB chunks): what data sets publish to check a download against."""
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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


# ----------------------------------------------------------------------------- restricted unpickling


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle asked for something other than numpy arrays and plain containers."""


def _numpy_private(module: str, name: str) -> Any:
    # numpy >= 2 moved numpy.core to numpy._core (the old name still resolves, with a warning).
    import importlib

    try:
        return getattr(importlib.import_module(f"numpy._core.{module}"), name)
    except ImportError:  # numpy 1.x
        return getattr(importlib.import_module(f"numpy.core.{module}"), name)


# The only globals a pickle of numpy arrays needs: how to rebuild an ndarray (``_reconstruct`` +
# ``ndarray.__setstate__``, or ``_frombuffer`` for protocol 5) and its dtype. Python 2's protocol 2 (the
# CIFAR-10 batches) names the same three under ``numpy.core``. Dicts, lists, tuples, strings, bytes and
# numbers are built by pickle opcodes, not globals.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): lambda: _numpy_private("multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): lambda: _numpy_private("multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"): lambda: _numpy_private("numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"): lambda: _numpy_private("numeric", "_frombuffer"),
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
}
_PLAIN_TYPES = (str, bytes, int, float, bool, type(None))
_NUMERIC_KINDS = "biufc"  # bool, signed/unsigned integer, float, complex


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that builds numpy arrays and plain containers only.

    ``find_class`` admits exactly the globals numpy's array pickles use (``_reconstruct``,
    ``_frombuffer``, ``ndarray``, ``dtype``; pickle protocols 2-5) and raises :class:`UnsafePickleError`
    for every other one (``os.system``, ``builtins.eval``, any class) before anything is called.
    Persistent ids are refused too. Use :func:`restricted_load`, which also checks the loaded object.
    """

    def find_class(self, module: str, name: str) -> Any:
        factory = _ALLOWED_GLOBALS.get((module, name))
        if factory is None:
            raise UnsafePickleError(
                f"refusing to unpickle the global {module}.{name}: this loader admits only numpy arrays "
                "(numpy.ndarray, numpy.dtype, numpy's _reconstruct and _frombuffer) and plain containers"
            )
        return factory()

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"refusing a pickle with a persistent id ({pid!r})")


def _check_plain(obj: Any, path: str = "") -> None:
    if isinstance(obj, np.ndarray):
        if type(obj) is not np.ndarray or obj.dtype.kind not in _NUMERIC_KINDS:
            raise UnsafePickleError(
                f"{path or 'object'}: only numeric numpy arrays are admitted, got dtype {obj.dtype}"
            )
    elif isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, (str, bytes, int)):
                raise UnsafePickleError(f"{path or 'object'}: dict key {k!r} is not a str, bytes or int")
            _check_plain(v, f"{path}/{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _check_plain(v, f"{path}[{i}]")
    elif not isinstance(obj, _PLAIN_TYPES):
        raise UnsafePickleError(f"{path or 'object'}: type {type(obj).__name__} is not admitted")


def restricted_load(file: BinaryIO | bytes, *, encoding: str = "ASCII") -> Any:
    """Unpickle numpy arrays nested in dicts/lists/tuples, refusing anything else (:class:`UnsafePickleError`).

    ``encoding`` is :class:`pickle.Unpickler`'s: how the strings of a Python 2 pickle are decoded;
    ``"bytes"`` keeps them as bytes (the CIFAR-10 batches, whose keys are then ``b"data"``, ``b"labels"``).
    """
    if isinstance(file, (bytes, bytearray)):
        file = io.BytesIO(file)
    if not hasattr(file, "read"):
        raise TypeError(f"file must be bytes or a binary file object, got {type(file).__name__}")
    obj = RestrictedUnpickler(file, encoding=encoding).load()
    _check_plain(obj)
    return obj
