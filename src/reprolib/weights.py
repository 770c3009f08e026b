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

from .config import cache_dir
from .download import NETWORK_ERRORS, download_atomic


@dataclass(frozen=True)
class WeightFile:
    name: str
    url: str
    sha256_prefix: str  # the released files carry the first 8 hex digits of their sha256 in the name
    size_mb: float
    note: str = ""


# The released PyTorch port of the ECCV 2016 model (richzhang/colorization, master branch).
# As with torch.hub's ``check_hash``, the hash prefix in the file name is what we can verify.
ECCV16_OFFICIAL = WeightFile(
    name="colorization_release_v2-9b330a0b.pth",
    url="https://colorizers.s3.us-east-2.amazonaws.com/colorization_release_v2-9b330a0b.pth",
    sha256_prefix="9b330a0b",
    size_mb=129.0,
    note="ECCV16 'full' model (classification with rebalancing), converted from Caffe by the authors",
)

# The released PyTorch port of the SIGGRAPH 2017 Local Hints Network (richzhang/colorization), converted
# from the Caffe model: load it with mask_cent = 0 (reference-facts section 2.1).
SIGGRAPH17_OFFICIAL = WeightFile(
    name="siggraph17-df00044c.pth",
    url="https://colorizers.s3.us-east-2.amazonaws.com/siggraph17-df00044c.pth",
    sha256_prefix="df00044c",
    size_mb=136.8,  # 34,187,027 float32 parameters + BatchNorm statistics
    note="SIGGRAPH17 Local Hints Network, converted from Caffe by the authors; use mask_cent=0",
)


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


def load_eccv16_official(path: str | os.PathLike | None = None, download: bool = False) -> nn.Module:
    """The released ECCV16 model in ``reprolib.models.ECCV16`` (width 1, classification head).

    ``path``: a local copy of ``colorization_release_v2-9b330a0b.pth``; else the cached copy, downloaded
    first when ``download=True``.
    """
    from .models.eccv16 import ECCV16

    path, state = _official_state(ECCV16_OFFICIAL, path, download, "load_eccv16_official")
    model = ECCV16(width=1.0, head="classification")
    load_state_dict_strict(model, state, source=str(path))
    return model.eval()


def load_siggraph17_official(path: str | os.PathLike | None = None, download: bool = False) -> nn.Module:
    """The released SIGGRAPH17 Local Hints Network in ``reprolib.models.SIGGRAPH17``.

    Built with ``width=1.0, mask_cent=0.0, dist_head="released"``: the weights were converted from Caffe,
    whose mask is not centred (reference-facts section 2.1; with 0.5 the model runs and colorizes badly).
    ``path``: a local copy of ``siggraph17-df00044c.pth``; else the cached copy, downloaded first when
    ``download=True``. BatchNorm ``num_batches_tracked`` counters absent from the file are set to 0
    (they do not affect evaluation); every other key must match exactly.
    """
    from .models.siggraph17 import SIGGRAPH17

    path, state = _official_state(SIGGRAPH17_OFFICIAL, path, download, "load_siggraph17_official")
    model = SIGGRAPH17(width=1.0, mask_cent=0.0, dist_head="released")
    state = dict(state)
    for key, value in model.state_dict().items():
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = torch.zeros_like(value)
    load_state_dict_strict(model, state, source=str(path))
    return model.eval()
