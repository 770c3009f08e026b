"""Official pretrained weights: verified downloads and strict loading (opt-in, needs internet).

Nothing here runs in the book's default path: the book trains every model from scratch. These functions
let a reader with internet (e.g. in Colab) load the released ECCV16 weights into ``reprolib``'s own
architecture and compare. Every download is verified by sha256 and every ``torch.load`` uses
``weights_only=True``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from reprolib.config import cache_dir
from reprolib.download import NETWORK_ERRORS, download_atomic


@dataclass(frozen=True)
class WeightFile:
    name: str
    url: str
    sha256_prefix: str  # the released files carry the first 8 hex digits of their sha256 in the name
    size_mb: float
    note: str = ""


class WeightsError(RuntimeError):
    """A weight file could not be fetched, verified or loaded."""


def sha256_of(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(path: str | os.PathLike, wf: WeightFile) -> None:
    digest = sha256_of(path)
    if not digest.startswith(wf.sha256_prefix):
        raise WeightsError(
            f"{path}: sha256 {digest[:16]}... does not start with {wf.sha256_prefix} expected for "
            f"{wf.name}; the file is corrupt or not the released one. Delete it and download again."
        )


def fetch(wf: WeightFile, directory: str | os.PathLike | None = None, timeout: float = 60.0) -> Path:
    """Return the local path of ``wf``, downloading and verifying it if it is not cached yet.

    The download goes to a temporary file that is renamed only after the hash checks, so an
    interrupted download never leaves a half-written file under the final name.
    """
    folder = Path(directory) if directory is not None else cache_dir("weights")
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / wf.name
    if dest.exists():
        verify(dest, wf)
        return dest
    try:
        download_atomic(wf.url, dest, timeout=timeout, check=lambda tmp: verify(tmp, wf))
    except NETWORK_ERRORS as err:
        raise WeightsError(
            f"Could not download {wf.url} ({err}). This needs internet access (e.g. Google Colab); the "
            f"book itself never needs it. If you have the file, put it at {dest}."
        ) from err
    return dest


def load_state_dict_strict(model: nn.Module, state_dict: dict[str, torch.Tensor], source: str = "") -> None:
    """Load ``state_dict`` into ``model`` and fail loudly on any missing, unexpected or mis-shaped key.

    (``strict=False`` is how a model silently ends up with random weights when key names differ.)
    """
    own = model.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    shapes = [
        f"{k}: file {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}"
        for k in sorted(set(own) & set(state_dict))
        if tuple(state_dict[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys ({len(missing)}): {', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}")
        if unexpected:
            parts.append(f"unexpected keys ({len(unexpected)}): {', '.join(unexpected[:8])}{' ...' if len(unexpected) > 8 else ''}")
        if shapes:
            parts.append(f"shape mismatches ({len(shapes)}): {'; '.join(shapes[:5])}")
        raise WeightsError(f"State dict {source} does not fit {type(model).__name__}: " + " | ".join(parts))
    model.load_state_dict(state_dict, strict=True)


def _official_state(wf: WeightFile, path: str | os.PathLike | None, download: bool, caller: str):
    """``(path, state dict)`` of an official weight file: ``path`` if given, else the cached copy,
    downloaded (and verified) first when ``download=True``."""
    if path is None:
        cached = cache_dir("weights") / wf.name
        if not cached.exists() and not download:
            raise WeightsError(
                f"{wf.name} is not in {cached.parent}. Call {caller}(download=True) with internet access, "
                "or pass path= to a local copy."
            )
        path = fetch(wf)
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise WeightsError(f"{path} holds a {type(state).__name__}, expected a state dict")
    return path, state


