"""The aligned image-pair datasets of pix2pix and BicycleGAN (opt-in real data; needs internet to download).

The datasets of Isola et al. (facades, cityscapes, maps, edges2shoes, edges2handbags, night2day), as the
reference code's ``datasets/download_dataset.sh`` fetches them from :data:`PIX2PIX_URL`. Each archive
unpacks to ``<name>/<split>/*.jpg`` with splits among ``train``, ``val``, ``test`` (not every dataset has all
three: maps and the edge datasets have no ``test``). Every file holds one pair side by side, width = 2 x
height: A is the left half, B the right half (junyanz/BicycleGAN ``data/aligned_dataset.py``;
reference-facts 3.6 and the chapter brief, section 7). facades and maps are used ``BtoA`` (labels -> photo,
map -> aerial), the edge datasets and night2day ``AtoB``.

:class:`AlignedPairs` reads one split with the reference code's test-time preprocessing, without
torchvision (Pillow and NumPy only): each half resized (bicubic) to ``load_size`` x ``load_size``, then a
``crop_size`` crop, the centre one for evaluation (deterministic), a random one plus a random mirror for
training. Values are mapped to [-1, 1] (the reference's ``Normalize(0.5, 0.5)``), because that is the range
the released generators take and produce (tanh). A 1-channel side (the edge maps, ``input_nc=1``) is the
image's ITU-R 601 luma, Pillow's ``convert("L")``, as torchvision's ``Grayscale(1)`` computes it.

:func:`download_pix2pix` downloads one dataset and unpacks it with :func:`reprolib.download.safe_extract`
(every member checked first: no absolute paths, no ``..``, no links or device files). Nothing downloads unless it is
called; the tests use small archives they write themselves.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from reprolib.data.folder import IMAGE_EXTENSIONS, checked_index, crop_window
from reprolib.download import NETWORK_ERRORS, ArchiveError, download_atomic, safe_extract

__all__ = [
    "PIX2PIX_URL",
    "PIX2PIX_DATASETS",
    "SPLITS",
    "DIRECTIONS",
    "download_pix2pix",
    "split_pair",
    "AlignedPairs",
]

#: Where ``datasets/download_dataset.sh`` of the reference code fetches the archives from.
PIX2PIX_URL = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/{name}.tar.gz"

#: The datasets the download script offers, with their approximate archive sizes in MB (chapter brief,
#: section 7; the hashes are not known here and are recorded on the first download).
PIX2PIX_DATASETS: dict[str, int] = {
    "facades": 30,
    "cityscapes": 100,
    "maps": 250,
    "night2day": 2000,
    "edges2shoes": 2000,
    "edges2handbags": 8600,
}

SPLITS = ("train", "val", "test")
DIRECTIONS = ("AtoB", "BtoA")


def _splits_in(folder: Path) -> list[str]:
    return [s for s in SPLITS if (folder / s).is_dir()]


def _record_sha256(root: Path, name: str, archive: Path) -> None:
    """Write the archive's sha256 to ``<root>/pix2pix_sha256.json`` and report it (it is not known here)."""
    from reprolib.weights import sha256_of

    record = root / "pix2pix_sha256.json"
    hashes = json.loads(record.read_text(encoding="utf-8")) if record.exists() else {}
    hashes[f"{name}.tar.gz"] = sha256_of(archive)
    record.write_text(json.dumps(hashes, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    warnings.warn(f"{name}.tar.gz has sha256 {hashes[f'{name}.tar.gz']} (recorded in {record}); no hash was known "
                  "for it before this download", stacklevel=3)


def download_pix2pix(name: str, root: str | os.PathLike | None = None, *, force: bool = False,
                     keep_archive: bool = False, timeout: float = 60.0, progress: bool | None = None) -> Path:
    """Download and unpack the dataset ``name`` into ``root``; return its folder ``<root>/<name>``.

    Opt-in: needs internet (e.g. Google Colab); the book never calls it. A dataset whose folder already holds a
    split is not downloaded again unless ``force``. The archive goes to a temporary file renamed into place only
    when complete (:func:`reprolib.download.download_atomic`), its sha256 is recorded in
    ``<root>/pix2pix_sha256.json`` (the hashes are to be recorded on first download), it is unpacked with
    :func:`safe_extract` and deleted unless ``keep_archive``.

    Args:
        name: one of :data:`PIX2PIX_DATASETS`.
        root: the folder that receives ``<name>/`` (default ``cache_dir("data", "pix2pix")``).
        force: download again even when the dataset is there.
        keep_archive: keep ``<root>/<name>.tar.gz``.
        timeout: network timeout in seconds. progress: a progress bar (``None``: when interactive).

    Raises:
        ArchiveError: offline, an unsafe archive, or one that does not hold ``<name>/<split>/``.
    """
    if name not in PIX2PIX_DATASETS:
        raise ValueError(f"unknown pix2pix dataset {name!r}; the download script offers {', '.join(PIX2PIX_DATASETS)}")
    if root is None:
        from reprolib.config import cache_dir

        root = cache_dir("data", "pix2pix")
    root = Path(root).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    folder = root / name
    if _splits_in(folder) and not force:
        return folder
    archive = root / f"{name}.tar.gz"
    if not archive.exists() or force:
        from reprolib.train import show_progress

        url = PIX2PIX_URL.format(name=name)
        try:
            download_atomic(url, archive, timeout=timeout, progress=show_progress(progress))
        except NETWORK_ERRORS as err:
            raise ArchiveError(f"could not download {url} ({err}). This needs internet access (e.g. Google "
                               f"Colab); the book itself never needs it. If you have the archive, put it at "
                               f"{archive}.") from err
        _record_sha256(root, name, archive)
    safe_extract(archive, root)
    if not _splits_in(folder):
        raise ArchiveError(f"{archive} did not unpack to {folder}/{{{','.join(SPLITS)}}}/; is it the pix2pix "
                           f"{name} archive?")
    if not keep_archive:
        archive.unlink()
    return folder


# ----------------------------------------------------------------------------------------------
# reading


def split_pair(image: Image.Image, path: str | os.PathLike = "") -> tuple[Image.Image, Image.Image]:
    """The two halves (A = left, B = right) of an aligned pair image, whose width must be twice its height."""
    w, h = image.size
    if w != 2 * h:
        where = f"{path}: " if str(path) else ""
        raise ValueError(f"{where}an aligned pair image is A and B side by side, so its width must be twice its "
                         f"height; got {w} x {h} (width x height), expected {2 * h} x {h}")
    return image.crop((0, 0, h, h)), image.crop((h, 0, w, h))


def _to_tensor(half: Image.Image, channels: int, load_size: int | None) -> torch.Tensor:
    """(channels, s, s) float32 in [-1, 1]: grey first (as the reference's Grayscale precedes Resize), then resize."""
    half = half.convert("L" if channels == 1 else "RGB")
    if load_size is not None and half.size != (load_size, load_size):
        half = half.resize((load_size, load_size), Image.BICUBIC)
    array = np.asarray(half, dtype=np.float32)
    array = array[None] if channels == 1 else array.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(array)).div_(127.5).sub_(1.0)


def _positive(name: str, value, allow_none: bool = False) -> None:
    if allow_none and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer (pixels){' or None' if allow_none else ''}, got {value!r}")


class AlignedPairs(Dataset):
    """One split of an aligned pix2pix/BicycleGAN dataset: ``ds[i]`` = {``"A"``, ``"B"``, ``"path"``, ``"flipped"``}.

    ``A`` is the network's input and ``B`` its target *after* ``direction`` is applied (the reference model's
    ``real_A`` and ``real_B``): for ``"AtoB"`` A is the left half of the file, for ``"BtoA"`` the right half.
    Both are float32 tensors in [-1, 1], ``(input_nc, crop_size, crop_size)`` and
    ``(output_nc, crop_size, crop_size)``.

    Args:
        root: the dataset folder, holding ``train/``, ``val/`` and/or ``test/`` (what :func:`download_pix2pix`
            returns).
        split: ``"train"``, ``"val"`` or ``"test"``; the reference test scripts read ``val``.
        direction: ``"AtoB"`` or ``"BtoA"``.
        input_nc, output_nc: 1 (grey luma) or 3 (RGB) for the input and the target side (1 for the edge
            maps of edges2shoes and edges2handbags).
        load_size: each half is resized (bicubic) to load_size x load_size first; ``None`` keeps the size.
        crop_size: the side of the crop; at most the (resized) half.
        train: a random crop and, when ``flip``, a random mirror (the same for A and B); else the centre crop.
        flip: allow the random mirror in training (the reference trains edges2shoes with ``--no_flip``).
        seed: ``None``: training crops come from torch's global generator; an int: crop i is a fixed function
            of (seed, i).
    """

    def __init__(self, root: str | os.PathLike, split: str = "val", direction: str = "AtoB", input_nc: int = 3,
                 output_nc: int = 3, load_size: int | None = 256, crop_size: int = 256, train: bool = False,
                 flip: bool = True, seed: int | None = None):
        root = Path(root)
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be 'AtoB' (left half is the input) or 'BtoA' (right half is), "
                             f"got {direction!r}")
        for name, nc in (("input_nc", input_nc), ("output_nc", output_nc)):
            if nc not in (1, 3) or isinstance(nc, bool):
                raise ValueError(f"{name} must be 1 (grey) or 3 (RGB), got {nc!r}")
        _positive("load_size", load_size, allow_none=True)
        _positive("crop_size", crop_size)
        if load_size is not None and crop_size > load_size:
            raise ValueError(f"crop_size ({crop_size}) must be <= load_size ({load_size}): the crop is cut from "
                             "the half resized to load_size")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed must be None or a non-negative integer, got {seed!r}")
        if not root.is_dir():
            raise FileNotFoundError(f"dataset folder {str(root)!r} does not exist; expected a folder holding "
                                    f"{'/, '.join(SPLITS)}/ (see download_pix2pix)")
        folder = root / split
        if not folder.is_dir():
            present = _splits_in(root)
            raise FileNotFoundError(f"{str(root)!r} has no {split}/ folder; the splits present are "
                                    f"{', '.join(present) if present else 'none'} (expected {', '.join(SPLITS)})")
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise FileNotFoundError(f"no image files ({', '.join(IMAGE_EXTENSIONS)}) in {str(folder)!r}")
        self.root, self.split, self.direction, self.files = root, split, direction, files
        self.input_nc, self.output_nc = int(input_nc), int(output_nc)
        self.load_size = None if load_size is None else int(load_size)
        self.crop_size, self.train, self.flip, self.seed = int(crop_size), bool(train), bool(flip), seed

    def __len__(self) -> int:
        return len(self.files)

    def __repr__(self) -> str:
        return (f"AlignedPairs(root={str(self.root)!r}, split={self.split!r}, n={len(self)}, "
                f"direction={self.direction!r}, input_nc={self.input_nc}, crop_size={self.crop_size}, "
                f"train={self.train})")

    def halves(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """File i's input and target halves (direction applied), grey or RGB, resized, not cropped, in [-1, 1]."""
        path = self.files[i]
        try:
            with Image.open(path) as im:
                left, right = split_pair(im.convert("RGB"), path)
        except (UnidentifiedImageError, OSError) as err:
            raise OSError(f"cannot read image file {str(path)!r}: {err}") from err
        src, tgt = (left, right) if self.direction == "AtoB" else (right, left)
        return _to_tensor(src, self.input_nc, self.load_size), _to_tensor(tgt, self.output_nc, self.load_size)

    def __getitem__(self, i: int) -> dict:
        i = checked_index(i, len(self), "AlignedPairs", "a split")
        a, b = self.halves(i)
        side, s = a.shape[1], self.crop_size
        if s > side:
            raise ValueError(f"{self.files[i]}: its halves are {side} x {side} pixels, smaller than crop_size={s}; "
                             "set load_size or a smaller crop_size")
        top, left, flipped = crop_window(side, side, s, self.train, self.seed, i, self.flip)
        a, b = a[:, top: top + s, left: left + s], b[:, top: top + s, left: left + s]
        if flipped:
            a, b = a.flip(-1), b.flip(-1)
        return {"A": a.contiguous(), "B": b.contiguous(), "path": str(self.files[i]), "flipped": flipped}
