"""Profiles, device choice, seeding and cache directories.

A *profile* chooses the scale of every experiment (DESIGN section 6):

=======  ===========================================  =========================
profile  where                                        budget per chapter
=======  ===========================================  =========================
smoke    CI and nbval                                 <= 90 s on 2 CPU cores
fast     a reader's CPU, the default HTML build       <= 6 min on 2 CPU cores
full     a GPU (Colab T4 or larger)                   <= 30 min on a T4
=======  ===========================================  =========================

A profile changes sizes (image size, dataset size, steps, widths), never the algorithm.
"""

from __future__ import annotations

import os
import random
import subprocess
import warnings
from pathlib import Path

import numpy as np
import torch

PROFILES = ("smoke", "fast", "full")
PROFILE_ENV = "REPROLIB_PROFILE"
CACHE_ENV = "REPROLIB_CACHE"
WEIGHTS_ENV = "REPROLIB_WEIGHTS"

GPU_HINT = (
    "No CUDA GPU was found, so reprolib runs on the CPU. In Google Colab choose "
    "Runtime > Change runtime type > Hardware accelerator: GPU (T4), then rerun the notebook."
)


def get_profile(profile: str | None = None) -> str:
    """Return the active profile.

    Order of precedence: the ``profile`` argument, the ``REPROLIB_PROFILE`` environment variable,
    then ``"full"`` when CUDA is available and ``"fast"`` otherwise.
    """
    value = profile if profile is not None else os.environ.get(PROFILE_ENV, "").strip()
    if not value:
        return "full" if torch.cuda.is_available() else "fast"
    value = str(value).strip().lower()
    if value not in PROFILES:
        source = "argument 'profile'" if profile is not None else f"environment variable {PROFILE_ENV}"
        raise ValueError(
            f"Unknown profile {value!r} (from the {source}); expected one of {', '.join(PROFILES)}."
        )
    return value


def get_device(device: str | torch.device | None = None, quiet: bool = False) -> torch.device:
    """Choose the device: the one asked for, else CUDA when present, else the CPU (with a hint)."""
    if device is not None:
        dev = torch.device(device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"Device {device!r} was asked for but CUDA is not available. {GPU_HINT}")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if not quiet:
        warnings.warn(GPU_HINT, stacklevel=2)
    return torch.device("cpu")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (CPU and CUDA); return a torch CPU generator seeded likewise."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return torch.Generator().manual_seed(seed)


def _env_dir(env: str, default_name: str, parts: tuple[str, ...], create: bool) -> Path:
    root = os.environ.get(env)
    base = Path(root).expanduser() if root else Path.home() / ".cache" / default_name
    path = base.joinpath(*parts)
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir(*parts: str, create: bool = True) -> Path:
    """Return ``$REPROLIB_CACHE/<parts...>`` (default ``~/.cache/reprolib``), created on demand."""
    return _env_dir(CACHE_ENV, "reprolib", parts, create)


def use_checkpoint_dir(path: str | os.PathLike) -> Path:
    """Keep trained models and training checkpoints in ``path`` from now on (sets ``$REPROLIB_CACHE``).

    Meant for Colab, where the virtual machine's disk is lost on a disconnect: point it at a folder on
    your Google Drive (mounted by you) and a rerun of the notebook loads the finished models and resumes
    an interrupted training from its last checkpoint (``reprolib.train`` writes checkpoints atomically).
    The folder is created if needed and must be writable.
    """
    folder = Path(path).expanduser()
    if str(path).strip() == "":
        raise ValueError("use_checkpoint_dir needs a folder path, got an empty string")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".reprolib-write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as e:
        raise ValueError(f"cannot keep checkpoints in {folder}: the folder is not writable ({e})") from e
    os.environ[CACHE_ENV] = str(folder.resolve())
    return folder.resolve()


def weights_dir(*parts: str, create: bool = True) -> Path:
    """Return ``$REPROLIB_WEIGHTS/<parts...>`` (default ``~/.cache/reprolib-weights``), created on demand.

    Pretrained weights (ImageNet trunks, LPIPS linear layers; see ``reprolib.nn.pretrained``) live here
    and deliberately not under :func:`cache_dir`: the test runner points ``$REPROLIB_CACHE`` at a
    throw-away folder, while the weights are fetched once by the setup and must persist between runs.
    """
    return _env_dir(WEIGHTS_ENV, "reprolib-weights", parts, create)


def repo_root() -> Path | None:
    """The checkout this package was installed from (editable installs), or ``None``."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "_toc.yml").exists() and (parent / "src" / "reprolib").exists():
            return parent
    return None


def git_commit() -> str:
    """The checkout's commit hash (``+dirty`` if it has uncommitted changes), or ``"unknown"``."""
    root = repo_root()
    if root is None:
        return "unknown"
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
        if head.returncode != 0:
            return "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "src"],
            cwd=root, capture_output=True, text=True, timeout=10,
        )
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def code_version() -> str:
    """A short hash of reprolib's own source files.

    Trained-model caches include it in their keys, so a change of the package's code never serves a
    model trained by older code.
    """
    import hashlib

    h = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        h.update(path.relative_to(package).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]
