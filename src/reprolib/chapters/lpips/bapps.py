"""BAPPS, the Berkeley-Adobe Perceptual Patch Similarity dataset (opt-in; needs internet to download).

Zhang et al., CVPR 2018 = thesis chapter 6, sec. 6.2 and Table 6.3. 64 x 64 patches with human judgments:

* **2AFC**: triplets (ref, p0, p1) and ``judge``, the fraction of observers who said p1 is closer to
  ref (2 judgments per triplet in train, 5 in val). Train subsets ``traditional``, ``cnn``, ``mix``; val
  subsets ``traditional``, ``cnn`` (distortions) and ``superres``, ``deblur``, ``color``,
  ``frameinterp`` (real algorithms).
* **JND**: pairs (p0, p1) and ``same``, the fraction of 3 observers who said the two look the same.
  Val subsets ``traditional``, ``cnn``.

Layout on disk, as the released archives unpack (facts 5.3; ``scripts/download_dataset.sh``)::

    <root>/2afc/<split>/<subset>/{ref,p0,p1}/NNNNNN.png   <root>/2afc/<split>/<subset>/judge/NNNNNN.npy
    <root>/jnd/val/<subset>/{p0,p1}/NNNNNN.png            <root>/jnd/val/<subset>/same/NNNNNN.npy

Nothing here downloads anything unless :func:`download_bapps` is called. The book's default path uses
judgment sets built by ``reprolib.chapters.lpips.judgments`` instead; this module is for readers with internet (Colab)
who want the paper's own test sets. Its code is tested offline on a small fake BAPPS folder and archive.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from reprolib.chapters.lpips.agreement import DistanceFn, JNDResult, TwoAFCResult, evaluate_2afc, evaluate_jnd
from reprolib.data.folder import IMAGE_EXTENSIONS
from reprolib.download import NETWORK_ERRORS, ArchiveError, download_atomic, safe_extract

__all__ = [
    "BAPPS_BASE_URL",
    "BappsArchive",
    "BAPPS_ARCHIVES",
    "TWOAFC_SUBSETS",
    "JND_SUBSETS",
    "BappsDownloadError",
    "download_bapps",
    "BAPPS2AFC",
    "BAPPSJND",
    "score_bapps",
]

#: Where the released download script fetches the archives from (``scripts/download_dataset.sh``).
BAPPS_BASE_URL = "https://perceptual-similarity.s3.us-west-2.amazonaws.com/dataset/"


@dataclass(frozen=True)
class BappsArchive:
    """One downloadable part of BAPPS.

    Attributes:
        filename: archive name under :data:`BAPPS_BASE_URL`.
        extract_to: folder (relative to the BAPPS root) the archive is unpacked into, as in the official
            script (``twoafc_*.tar.gz`` holds ``<split>/...`` and goes into ``2afc/``; ``jnd.tar.gz``
            holds ``jnd/val/...`` and goes into the root).
        provides: the folder (relative to the root) that holds the part's subsets after unpacking.
        subsets: the subset folders it provides.
        size_gb: approximate download size.
        sha256: the archive's sha256 where known; ``None``: not pinned yet (the download then reports
            the hash it measured, so it can be pinned).
    """

    filename: str
    extract_to: str
    provides: str
    subsets: tuple[str, ...]
    size_gb: float
    sha256: str | None = None

    @property
    def url(self) -> str:
        return BAPPS_BASE_URL + self.filename


#: 2AFC subsets by split and JND subsets (Table 6.3).
TWOAFC_SUBSETS: dict[str, tuple[str, ...]] = {
    "train": ("traditional", "cnn", "mix"),
    "val": ("traditional", "cnn", "superres", "deblur", "color", "frameinterp"),
}
JND_SUBSETS: dict[str, tuple[str, ...]] = {"val": ("traditional", "cnn")}

# The archives' hashes could not be measured here (no access to the bucket): they are None until a
# download with internet reports them (download_bapps writes them to <root>/bapps_sha256.json).
BAPPS_ARCHIVES: dict[str, BappsArchive] = {
    "val2afc": BappsArchive("twoafc_val.tar.gz", "2afc", "2afc/val", TWOAFC_SUBSETS["val"], 1.1),
    "valjnd": BappsArchive("jnd.tar.gz", ".", "jnd/val", JND_SUBSETS["val"], 0.2),
    "train2afc": BappsArchive("twoafc_train.tar.gz", "2afc", "2afc/train", TWOAFC_SUBSETS["train"], 5.3),
}

_DOWNLOAD_HINT = (
    "Download it with reprolib.chapters.lpips.bapps.download_bapps({root!r}, parts=({part!r},)) (needs internet, "
    "about {size} GB), or run the official scripts/download_dataset.sh of richzhang/PerceptualSimilarity "
    "and pass its dataset/ folder as root."
)


class BappsDownloadError(ArchiveError):
    """A BAPPS archive could not be downloaded, verified or unpacked."""


# ----------------------------------------------------------------------------------------------
# download and safe extraction


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _download(url: str, dest: Path, timeout: float, progress: bool | None) -> None:
    from reprolib.train import show_progress

    try:
        download_atomic(url, dest, timeout=timeout, progress=show_progress(progress))
    except NETWORK_ERRORS as err:
        raise BappsDownloadError(
            f"could not download {url} ({err}). BAPPS needs internet access (e.g. Google Colab); the book "
            f"itself never needs it. If you have the archive, put it at {dest} and call again."
        ) from err


def _has_part(root: Path, archive: BappsArchive) -> bool:
    return all((root / archive.provides / s).is_dir() for s in archive.subsets)


def download_bapps(
    root: str | os.PathLike,
    parts: Sequence[str] = ("val2afc", "valjnd"),
    *,
    base_url: str = BAPPS_BASE_URL,
    sha256: dict[str, str] | None = None,
    force: bool = False,
    keep_archive: bool = False,
    timeout: float = 60.0,
    progress: bool | None = None,
) -> dict[str, Path]:
    """Download and unpack parts of BAPPS into ``root`` (opt-in: needs internet; never called by default).

    Parts: ``"val2afc"`` (2AFC validation sets, about 1.1 GB), ``"valjnd"`` (JND, 0.2 GB),
    ``"train2afc"`` (2AFC training sets, 5.3 GB). A part whose subset folders all exist is skipped unless
    ``force``. Each archive is downloaded to a temporary file, checked against its sha256 when one is
    known (``sha256={"val2afc": "..."}`` or :data:`BAPPS_ARCHIVES`; otherwise a warning reports the
    measured hash, which is also recorded in ``<root>/bapps_sha256.json``), unpacked with
    :func:`reprolib.download.safe_extract`, checked for the expected subset folders, and deleted (unless ``keep_archive``).

    Args:
        root: the BAPPS root folder (created if missing).
        parts: which parts to fetch.
        base_url: where the archives live (default the official bucket); any URL urllib opens, e.g.
            ``file://`` for a local mirror.
        sha256: expected hashes by part, overriding :data:`BAPPS_ARCHIVES`.
        force: download again even when the part is present.
        keep_archive: keep the downloaded ``.tar.gz`` in ``root``.
        timeout: network timeout in seconds.
        progress: tqdm bar (``None``: automatic).

    Returns:
        ``{part: folder holding its subsets}``.

    Raises:
        BappsDownloadError: offline, a hash mismatch, an unsafe or unexpected archive.
    """
    if isinstance(parts, str):
        parts = (parts,)
    unknown = [p for p in parts if p not in BAPPS_ARCHIVES]
    if unknown:
        raise ValueError(f"unknown BAPPS part(s) {unknown}; expected some of {', '.join(BAPPS_ARCHIVES)}")
    sha256 = dict(sha256 or {})
    bad_keys = set(sha256) - set(BAPPS_ARCHIVES)
    if bad_keys:
        raise ValueError(f"sha256 has keys {sorted(bad_keys)}; expected part names {', '.join(BAPPS_ARCHIVES)}")
    root = Path(root).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    base = base_url if base_url.endswith("/") else base_url + "/"

    out: dict[str, Path] = {}
    for part in parts:
        archive = BAPPS_ARCHIVES[part]
        folder = root / archive.provides
        if _has_part(root, archive) and not force:
            out[part] = folder
            continue
        path = root / archive.filename
        if not path.exists() or force:
            _download(base + archive.filename, path, timeout, progress)
        digest = _sha256(path)
        expected = sha256.get(part, archive.sha256)
        if expected is not None and digest != expected.lower():
            raise BappsDownloadError(
                f"{path}: sha256 {digest} differs from the expected {expected}; the download is corrupt or "
                "not the released archive. It was left in place for inspection; delete it and try again."
            )
        if expected is None:
            warnings.warn(
                f"{archive.filename} has no pinned sha256 in reprolib; measured {digest} (recorded in "
                f"{root / 'bapps_sha256.json'}). Pass sha256={{{part!r}: ...}} to verify later downloads.",
                stacklevel=2,
            )
        _record_hash(root, archive.filename, digest)
        try:
            safe_extract(path, root / archive.extract_to)
        except ArchiveError as err:
            raise BappsDownloadError(str(err)) from err
        if not _has_part(root, archive):
            missing = [s for s in archive.subsets if not (folder / s).is_dir()]
            raise BappsDownloadError(
                f"{archive.filename} unpacked, but {folder} lacks the subset folders {missing}; the archive "
                "does not have the BAPPS layout"
            )
        if not keep_archive:
            path.unlink()
        out[part] = folder
    return out


def _record_hash(root: Path, filename: str, digest: str) -> None:
    path = root / "bapps_sha256.json"
    try:
        known = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        known = {}
    known[filename] = digest
    path.write_text(json.dumps(known, indent=2, sort_keys=True) + "\n")


# ----------------------------------------------------------------------------------------------
# datasets


def _check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _files(folder: Path, extensions: tuple[str, ...]) -> list[Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f"BAPPS folder {folder} is missing")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in extensions)


class _BappsFolder(Dataset):
    """Shared loading: aligned files in sibling folders (images and one .npy label per example)."""

    kind = ""
    image_dirs: tuple[str, ...] = ()
    label_dir = ""
    part = ""

    def __init__(self, root: str | os.PathLike, split: str, subset: str, subsets: dict[str, tuple[str, ...]],
                 value_range: tuple[float, float], size: int):
        from reprolib.metrics.distances import _check_value_range

        self.split = _check_choice(split, "split", tuple(subsets))
        self.subset = _check_choice(subset, "subset", subsets[split])
        self.value_range = _check_value_range(value_range)
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"size must be a positive integer (pixels), got {size!r}")
        self.size = int(size)
        self.root = Path(root).expanduser()
        self.folder = self.root / self.kind / split / subset
        if not self.folder.is_dir():
            archive = BAPPS_ARCHIVES[self.part]
            raise FileNotFoundError(
                f"BAPPS {self.kind.upper()} {split}/{subset} not found: {self.folder} does not exist. "
                + _DOWNLOAD_HINT.format(root=str(self.root), part=self.part, size=archive.size_gb)
            )
        self.files = {d: _files(self.folder / d, IMAGE_EXTENSIONS) for d in self.image_dirs}
        self.files[self.label_dir] = _files(self.folder / self.label_dir, (".npy",))
        counts = {d: len(f) for d, f in self.files.items()}
        if len(set(counts.values())) != 1 or not counts[self.label_dir]:
            raise ValueError(f"BAPPS folder {self.folder} is incomplete: files per folder {counts}")
        stems = [[p.stem for p in f] for f in self.files.values()]
        for d, s in zip(self.files, stems):
            if s != stems[0]:
                first = next(a for a, b in zip(stems[0], s) if a != b)
                raise ValueError(f"BAPPS folder {self.folder}: the file names in {d}/ do not match the others' "
                                 f"(e.g. {first!r})")

    def __len__(self) -> int:
        return len(self.files[self.label_dir])

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(root={str(self.root)!r}, split={self.split!r}, subset={self.subset!r}, "
                f"n={len(self)}, value_range={self.value_range})")

    def _image(self, path: Path) -> torch.Tensor:
        try:
            with Image.open(path) as im:
                im = im.convert("RGB")
                if im.size != (self.size, self.size):  # the reference's transforms.Resize(64), bilinear
                    im = im.resize((self.size, self.size), Image.BILINEAR)
                array = np.asarray(im, dtype=np.uint8)
        except (UnidentifiedImageError, OSError) as err:
            raise OSError(f"cannot read BAPPS image {path}: {err}") from err
        x = torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255.0)
        return x * 2.0 - 1.0 if self.value_range == (-1.0, 1.0) else x

    def _label(self, path: Path) -> torch.Tensor:
        value = np.load(path, allow_pickle=False)
        if value.size != 1 or not np.isfinite(value).all() or not 0.0 <= float(value.flat[0]) <= 1.0:
            raise ValueError(f"{path} must hold one fraction in [0, 1], got {value!r}")
        return torch.tensor(float(value.flat[0]), dtype=torch.float32)

    def _index(self, i: Any) -> int:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"{type(self).__name__} index must be an int, got {type(i).__name__}")
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} examples")
        return int(i) % len(self)


class BAPPS2AFC(_BappsFolder):
    """A BAPPS 2AFC subset: ``ds[i] = (ref, p0, p1, judge)``.

    Images are (3, size, size) float32 RGB in ``value_range`` (default [-1, 1], the LPIPS convention),
    resized with bilinear filtering when a file is not ``size`` x ``size`` (as the reference loader's
    ``Resize(64)``). ``judge`` is a float32 scalar: the fraction of observers who chose p1 as closer to ref.

    Args:
        root: the BAPPS root (holding ``2afc/``).
        split: ``"train"`` or ``"val"``.
        subset: one of :data:`TWOAFC_SUBSETS` ``[split]``.
        value_range: ``(-1, 1)`` or ``(0, 1)``.
        size: patch side in pixels.
    """

    kind, image_dirs, label_dir, part = "2afc", ("ref", "p0", "p1"), "judge", "val2afc"

    def __init__(self, root: str | os.PathLike, split: str = "val", subset: str = "traditional",
                 value_range: tuple[float, float] = (-1.0, 1.0), size: int = 64):
        self.part = "train2afc" if split == "train" else "val2afc"
        super().__init__(root, split, subset, TWOAFC_SUBSETS, value_range, size)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        i = self._index(i)
        ref, p0, p1 = (self._image(self.files[d][i]) for d in self.image_dirs)
        return ref, p0, p1, self._label(self.files["judge"][i])


class BAPPSJND(_BappsFolder):
    """A BAPPS JND subset: ``ds[i] = (p0, p1, same)``; ``same`` = fraction of observers who said "same".

    Arguments as :class:`BAPPS2AFC`; ``split`` is ``"val"`` (the only JND split), ``subset`` one of
    :data:`JND_SUBSETS` ``["val"]``.
    """

    kind, image_dirs, label_dir, part = "jnd", ("p0", "p1"), "same", "valjnd"

    def __init__(self, root: str | os.PathLike, split: str = "val", subset: str = "traditional",
                 value_range: tuple[float, float] = (-1.0, 1.0), size: int = 64):
        super().__init__(root, split, subset, JND_SUBSETS, value_range, size)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        i = self._index(i)
        p0, p1 = (self._image(self.files[d][i]) for d in self.image_dirs)
        return p0, p1, self._label(self.files["same"][i])


# ----------------------------------------------------------------------------------------------
# scoring


def score_bapps(
    distance_fn: DistanceFn,
    root: str | os.PathLike,
    kind: str = "2afc",
    split: str = "val",
    subsets: Sequence[str] | str | None = None,
    batch_size: int = 50,
    progress: bool | None = None,
) -> dict[str, TwoAFCResult | JNDResult]:
    """Score a metric on whole BAPPS subsets, as the released ``test_dataset_model.py`` does.

    Args:
        distance_fn: a distance function on RGB in [0, 1] (``reprolib.chapters.lpips.agreement``: ``l2_distance``,
            ``ssim_distance``, ``distance_fn_from_module(lpips)``, ...).
        root: the BAPPS root.
        kind: ``"2afc"`` (score = mean 2AFC credit) or ``"jnd"`` (score = mAP).
        split: ``"val"`` or, for 2AFC, ``"train"``.
        subsets: one subset, several, or ``None`` for all of the split.

    Returns:
        ``{subset: result}`` with :class:`~reprolib.chapters.lpips.agreement.TwoAFCResult` (``.score``, ``.human``, ...)
        or :class:`~reprolib.chapters.lpips.agreement.JNDResult` (``.score``) per subset.
    """
    kind = _check_choice(kind, "kind", ("2afc", "jnd"))
    table = TWOAFC_SUBSETS if kind == "2afc" else JND_SUBSETS
    split = _check_choice(split, "split", tuple(table))
    if subsets is None:
        subsets = table[split]
    elif isinstance(subsets, str):
        subsets = (subsets,)
    results: dict[str, TwoAFCResult | JNDResult] = {}
    for subset in subsets:
        if kind == "2afc":
            ds = BAPPS2AFC(root, split, subset)
            results[subset] = evaluate_2afc(distance_fn, ds, batch_size=batch_size, progress=progress,
                                            desc=f"2afc/{split}/{subset}")
        else:
            ds = BAPPSJND(root, split, subset)
            results[subset] = evaluate_jnd(distance_fn, ds, batch_size=batch_size, progress=progress,
                                           desc=f"jnd/{split}/{subset}")
    return results
