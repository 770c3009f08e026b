"""Labeled Faces in the Wild, deep-funneled: the smallest dataset of Deshpande et al. (CVPR 2017), opt-in.

LFW (Huang et al. 2007) holds 13,233 photos of 5,749 people, each a 250 x 250 JPEG. The *deep-funneled*
version (Huang et al., NIPS 2012) aligns the faces; it is the one the released code fetches
(``get_data.sh`` of aditya12agd5/divcolor, reference-facts section 6.4) from :data:`LFW_URL`. The archive
:data:`ARCHIVE_NAME` (about 111 MB) holds one folder per person::

    lfw-deepfunneled/<Person_Name>/<Person_Name>_0001.jpg

Nothing here downloads anything unless :func:`fetch_lfw` is called (a reader with internet, e.g. Colab);
the tests use small archives they write themselves in the same layout.

- :func:`lfw_members` lists the images of an archive that is already on disk.
- :func:`split_lfw` splits them by image, seeded: the paper keeps 1000 random test images and trains on
  the rest, 12,233 (the MDN's 12 233 updates per epoch at batch 1, reference-facts 6.4). The released
  image lists (``list.train.vae.txt`` / ``list.test.vae.txt`` in the project's ``data.zip``) are not
  used, so our test images are another random 1000. A person may appear on both sides, as in a split by
  image.
- :class:`LFWFaces` reads the JPEGs straight out of the archive (no unpacking) and prepares colour
  fields at ``size`` x ``size`` (64 in the paper): the centred square, resized with Pillow's bilinear
  filter, which is antialiased when it shrinks. The released code resizes the whole 250 x 250 photo with
  ``cv2.resize`` (bilinear, not antialiased, ``vae/data_loaders/lab_imageloader.py``); the default
  ``crop=None`` keeps the whole photo as it does.

Checksum: the archive's MD5, ``68331da3eb755a505a502b5aacb3c201``, is the one the UMass page publishes and
torchvision pins (``torchvision/datasets/lfw.py``); :func:`fetch_lfw` verifies it. Its SHA-256 was not
known when this was written (:data:`LFW_SHA256` is ``None``, "not pinned"): the download measures it,
reports it in a warning and records it in ``<cache>/lfw_sha256.json`` so that it can be pinned.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
import warnings
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from reprolib.data.folder import checked_index
from reprolib.download import NETWORK_ERRORS, ArchiveError, download_atomic

__all__ = [
    "LFW_URL",
    "ARCHIVE_NAME",
    "TOP",
    "LFW_MD5",
    "LFW_SHA256",
    "LFW_N_IMAGES",
    "LFW_N_TEST",
    "lfw_members",
    "split_lfw",
    "person_of",
    "LFWFaces",
    "fetch_lfw",
]

#: Where UMass publishes the deep-funneled archive (and where ``get_data.sh`` of divcolor fetches it).
LFW_URL = "http://vis-www.cs.umass.edu/lfw/lfw-deepfunneled.tgz"
ARCHIVE_NAME = "lfw-deepfunneled.tgz"
#: The folder every image of the archive sits under.
TOP = "lfw-deepfunneled"
#: MD5 of :data:`ARCHIVE_NAME`, as published on the LFW page and pinned by torchvision's LFW loaders.
LFW_MD5 = "68331da3eb755a505a502b5aacb3c201"
#: SHA-256 of :data:`ARCHIVE_NAME`: not known here, so not pinned (``None``); see :func:`fetch_lfw`.
LFW_SHA256: str | None = None
#: Images in the deep-funneled archive, and the paper's number of test images.
LFW_N_IMAGES = 13233
LFW_N_TEST = 1000

LAYOUT = f"{TOP}/<Person_Name>/<Person_Name>_0001.jpg"
_MEMBER = re.compile(rf"^{re.escape(TOP)}/(?P<person>[^/]+)/(?P=person)_\d{{4}}\.jpg$")
_FETCH_HINT = f"fetch_lfw() downloads it from {LFW_URL} (needs internet, e.g. Google Colab)"


# ----------------------------------------------------------------------------------------------
# the archive's images


def _scan(archive: str | os.PathLike) -> dict[str, tuple[int, int]]:
    """``{member name: (offset of its bytes in the uncompressed tar stream, size)}`` for the images in LFW's
    layout, in archive order. Nothing is unpacked: the images are later read at these offsets."""
    path = Path(archive)
    if not path.is_file():
        raise FileNotFoundError(f"no LFW archive at {str(path)!r}; {_FETCH_HINT}")
    found: dict[str, tuple[int, int]] = {}
    others: list[str] = []
    try:
        with tarfile.open(path, mode="r:*") as tar:
            for member in tar:
                name = member.name[2:] if member.name.startswith("./") else member.name
                if member.isreg() and _MEMBER.match(name):
                    found[name] = (member.offset_data, member.size)
                elif member.isreg() and len(others) < 3:
                    others.append(member.name)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
        raise ArchiveError(f"{path} is not a readable tar archive ({err}); expected {ARCHIVE_NAME}, a gzipped tar "
                           f"of {LAYOUT}. A download cut short or an error page saved under that name gives "
                           f"this; {_FETCH_HINT}") from err
    if not found:
        seen = f"its first files are {', '.join(others)}" if others else "it holds no files"
        raise ArchiveError(f"{path} holds no image in LFW's layout: expected members named {LAYOUT} "
                           f"(the deep-funneled archive {ARCHIVE_NAME}); {seen}")
    return found


def lfw_members(archive_path: str | os.PathLike) -> list[str]:
    """The JPEG members of an LFW archive in its layout (``lfw-deepfunneled/<Person>/<Person>_NNNN.jpg``),
    sorted by name. Other members (folders, text files) are ignored; a leading ``./`` is dropped.

    Raises:
        FileNotFoundError: no file there. ArchiveError: not a tar archive, or no member in that layout.
    """
    return sorted(_scan(archive_path))


def person_of(member: str) -> str:
    """The person of an image member: ``"lfw-deepfunneled/Ann_Lee/Ann_Lee_0002.jpg"`` -> ``"Ann_Lee"``."""
    match = _MEMBER.match(member)
    if match is None:
        raise ValueError(f"{member!r} is not an image member in LFW's layout {LAYOUT}")
    return match["person"]


def _split_key(seed: int, member: str) -> bytes:
    return hashlib.sha256(f"{seed}\0{member}".encode("utf-8")).digest()


def split_lfw(members, n_test: int = LFW_N_TEST, seed: int = 0) -> tuple[list[str], list[str]]:
    """Split images into ``(train, test)``, each sorted; ``n_test`` random images are the test set.

    The draw is a function of (seed, member names) only: the members are ranked by the SHA-256 of
    ``"<seed>\\0<name>"`` and the first ``n_test`` form the test set. So it is the same on every machine
    and numpy version, whatever order the members come in, and an image's rank does not depend on which
    other images are present. By image, as in the paper: one person's photos may fall on both sides.
    """
    members = [members] if isinstance(members, str) else list(members)
    bad = [m for m in members if not isinstance(m, str)]
    if bad:
        raise TypeError(f"members must be member names (str), got {type(bad[0]).__name__}")
    if len(set(members)) != len(members):
        dup = sorted({m for m in members if members.count(m) > 1})
        raise ValueError(f"members holds duplicates ({', '.join(dup[:3])}); a split needs each image once")
    if isinstance(n_test, bool) or not isinstance(n_test, (int, np.integer)) or not 0 <= n_test <= len(members):
        raise ValueError(f"n_test must be an integer from 0 to the number of members ({len(members)}), got {n_test!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    ranked = sorted(members, key=lambda m: _split_key(int(seed), m))
    return sorted(ranked[int(n_test):]), sorted(ranked[:int(n_test)])


# ----------------------------------------------------------------------------------------------
# the dataset


class LFWFaces(Dataset):
    """LFW images read from the archive: ``ds[i]`` = {``"rgb"``, ``"name"``, ``"person"``, ``"index"``}.

    ``rgb`` is a float32 tensor (3, size, size) in [0, 1]: the photo as RGB, its centred ``crop`` x ``crop``
    square (``None``: the largest centred square, the whole photo for LFW's 250 x 250) resized to
    ``size`` x ``size`` with Pillow's bilinear filter (antialiased when shrinking). ``ds.batch(indices)``
    gives ``{"rgb": (N, 3, size, size), "index": (N,)}``, as ColorWorld's ``batch`` does.

    The archive is opened lazily, once per process (a DataLoader worker opens its own; a pickled dataset
    travels without the open file). In a ``.tgz``, reading backwards means decompressing again from the
    start, so random single reads are slow: :meth:`batch` reads its images in archive order, and
    :meth:`preload` (or ``preload=True``) decodes every image once, in one pass, into memory
    (3 x size x size bytes each: 160 MB for all of LFW at 64 x 64). An uncompressed ``.tar``
    (``gunzip lfw-deepfunneled.tgz``) reads fast in any order.

    Args:
        archive: the LFW archive (``.tgz`` or ``.tar``), e.g. what :func:`fetch_lfw` returns.
        members: the images to hold, e.g. one side of :func:`split_lfw` (default: all, sorted).
        size: the side of the prepared images in pixels (64 in the paper).
        crop: side of the centred square cut from the photo before resizing; ``None``: the largest one.
        preload: decode every image now (see above).
    """

    def __init__(self, archive: str | os.PathLike, members=None, size: int = 64, crop: int | None = None,
                 preload: bool = False):
        for name, value in (("size", size), ("crop", crop)):
            if name == "crop" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer (pixels){' or None' * (name == 'crop')}, "
                                 f"got {value!r}")
        self.archive = Path(archive)
        self._index = _scan(self.archive)
        if members is None:
            members = sorted(self._index)
        members = [members] if isinstance(members, str) else list(members)
        missing = [m for m in members if m not in self._index]
        if missing:
            raise ValueError(f"{len(missing)} of the {len(members)} members asked for are not images of "
                             f"{self.archive} in LFW's layout, e.g. {missing[0]!r}; use names from lfw_members()")
        if not members:
            raise ValueError("members is empty; an LFWFaces dataset needs at least one image")
        self.members = members
        self.size, self.crop = int(size), (None if crop is None else int(crop))
        self._tar: tarfile.TarFile | None = None
        self._pid: int | None = None
        self._pixels: torch.Tensor | None = None  # (N, 3, size, size) uint8 once preloaded
        if preload:
            self.preload()

    def __len__(self) -> int:
        return len(self.members)

    def __repr__(self) -> str:
        return (f"LFWFaces(archive={str(self.archive)!r}, n={len(self)}, size={self.size}, crop={self.crop}, "
                f"preloaded={self._pixels is not None})")

    # -------------------------------------------------------------- reading
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_tar"], state["_pid"] = None, None  # an open file does not travel; the copy opens its own
        return state

    def close(self) -> None:
        """Close this process's handle on the archive (it reopens on the next read)."""
        if self._tar is not None and self._pid == os.getpid():
            self._tar.close()
        self._tar, self._pid = None, None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass

    def _stream(self):
        """The archive's uncompressed tar stream, opened on first use in this process."""
        if self._tar is None or self._pid != os.getpid():
            self._tar, self._pid = tarfile.open(self.archive, mode="r:*"), os.getpid()
        return self._tar.fileobj

    def _read(self, member: str) -> bytes:
        offset, size = self._index[member]
        stream = self._stream()
        try:
            stream.seek(offset)
            data = stream.read(size)
        except (EOFError, OSError, zlib.error) as err:
            raise ArchiveError(f"cannot read {member} from {self.archive}: {err} (is the archive complete?)") from err
        if len(data) != size:
            raise ArchiveError(f"{self.archive} ends inside {member} ({len(data)} of {size} bytes); "
                               "is the archive complete?")
        return data

    def _prepare(self, member: str, data: bytes) -> np.ndarray:
        """A JPEG's bytes -> (size, size, 3) uint8: RGB, centred square, bilinear resize."""
        try:
            with Image.open(io.BytesIO(data)) as im:
                im = im.convert("RGB")
                w, h = im.size
                side = min(w, h) if self.crop is None else self.crop
                if side > min(w, h):
                    raise ValueError(f"{member} is {w} x {h} pixels, smaller than crop={side}; pass a smaller "
                                     "crop or None")
                box = ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)
                im = im.resize((self.size, self.size), Image.Resampling.BILINEAR, box=box)
                return np.asarray(im, dtype=np.uint8)
        except (UnidentifiedImageError, OSError) as err:
            raise OSError(f"cannot decode {member} from {self.archive}: {err}") from err

    def _load(self, positions: list[int]) -> torch.Tensor:
        """Images ``positions`` as (len, 3, size, size) uint8, read from the archive in archive order."""
        out = np.empty((len(positions), self.size, self.size, 3), dtype=np.uint8)
        by_offset = sorted(range(len(positions)), key=lambda j: self._index[self.members[positions[j]]][0])
        for j in by_offset:
            member = self.members[positions[j]]
            out[j] = self._prepare(member, self._read(member))
        return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()

    def preload(self) -> "LFWFaces":
        """Decode every image once, in one pass over the archive, and serve them from memory from now on."""
        if self._pixels is None:
            self._pixels = self._load(list(range(len(self))))
        return self

    def _uint8(self, positions: list[int]) -> torch.Tensor:
        if self._pixels is not None:
            return self._pixels[positions]
        return self._load(positions)

    def __getitem__(self, i: int) -> dict:
        i = checked_index(i, len(self), "LFWFaces", "a selection")
        rgb = self._uint8([i])[0].float().div_(255.0)
        return {"rgb": rgb, "name": self.members[i], "person": person_of(self.members[i]), "index": i}

    def batch(self, indices) -> dict:
        """Images ``indices`` at once: ``rgb`` (N, 3, size, size) float32 in [0, 1] and ``index`` (N,); row j
        equals ``ds[indices[j]]["rgb"]``."""
        idx = indices.tolist() if hasattr(indices, "tolist") else list(indices)
        positions = [checked_index(i, len(self), "LFWFaces", "a selection") for i in idx]
        if not positions:
            return {"rgb": torch.zeros(0, 3, self.size, self.size), "index": torch.zeros(0, dtype=torch.long)}
        return {"rgb": self._uint8(positions).float().div_(255.0), "index": torch.tensor(positions)}


# ----------------------------------------------------------------------------------------------
# download (opt-in)


def _digests(path: Path) -> tuple[str, str]:
    """(md5, sha256) of a file, in one read."""
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            md5.update(chunk)
            sha.update(chunk)
    return md5.hexdigest(), sha.hexdigest()


def _verify(path: Path, md5: str | None, sha256: str | None) -> str:
    """Check ``path`` against the pinned hashes (``None``: not pinned); return its sha256."""
    got_md5, got_sha = _digests(path)
    for kind, want, got in (("md5", md5, got_md5), ("sha256", sha256, got_sha)):
        if want is not None and got != want.lower():
            raise ArchiveError(f"{path}: {kind} {got} differs from the expected {want} of {ARCHIVE_NAME}; the "
                               "download is damaged or is not the deep-funneled LFW archive")
    return got_sha


def _record_sha256(root: Path, digest: str, pinned: bool) -> None:
    """Write the archive's sha256 to ``<root>/lfw_sha256.json``; when it was not pinned, report it (once)."""
    record = root / "lfw_sha256.json"
    hashes = json.loads(record.read_text(encoding="utf-8")) if record.exists() else {}
    if hashes.get(ARCHIVE_NAME) == digest:
        return
    hashes[ARCHIVE_NAME] = digest
    record.write_text(json.dumps(hashes, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    if not pinned:
        warnings.warn(f"{ARCHIVE_NAME} has sha256 {digest} (recorded in {record}); no sha256 was pinned for it "
                      f"(reprolib.data.lfw.LFW_SHA256 is None), only its md5", stacklevel=3)


def fetch_lfw(cache_dir: str | os.PathLike | None = None, *, url: str = LFW_URL, md5: str | None = LFW_MD5,
              sha256: str | None = LFW_SHA256, force: bool = False, timeout: float = 60.0,
              progress: bool | None = None) -> Path:
    """Download the deep-funneled LFW archive into ``cache_dir``; return its path ``<cache_dir>/lfw-deepfunneled.tgz``.

    Opt-in: needs internet (e.g. Google Colab); the book and the tests never download it. The archive is
    kept as it is (no unpacking: :class:`LFWFaces` reads it directly). It is downloaded through a temporary
    file that is renamed into place only after it passed the checks: its md5 (:data:`LFW_MD5`, the
    published one) and its sha256 where one is pinned, and that it holds images in LFW's layout.
    ``sha256=None`` means "not pinned" (the default, :data:`LFW_SHA256`, as none is known here): the
    measured sha256 is then reported in a warning and recorded in ``<cache_dir>/lfw_sha256.json``. An
    archive already there is checked against the same hashes and not downloaded again unless ``force``.

    Args:
        cache_dir: where the archive goes (default ``reprolib.config.cache_dir("data", "lfw")``).
        url: where from (default :data:`LFW_URL`); any URL urllib opens, e.g. a mirror or ``file://``.
        md5, sha256: the expected hashes; ``None`` skips that check.
        force: download again even when the archive is there.
        timeout: network timeout in seconds. progress: a progress bar (``None``: when interactive).

    Raises:
        ArchiveError: offline, a hash mismatch, or a file that is not LFW's archive.
    """
    if cache_dir is None:
        from reprolib.config import cache_dir as _cache_dir

        cache_dir = _cache_dir("data", "lfw")
    root = Path(cache_dir).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    archive = root / ARCHIVE_NAME
    if archive.exists() and not force:
        try:
            digest = _verify(archive, md5, sha256)
        except ArchiveError as err:
            raise ArchiveError(f"{err}. Delete {archive} or call fetch_lfw(force=True) to download it again") from None
        _record_sha256(root, digest, pinned=sha256 is not None)
        return archive

    measured: list[str] = []

    def check(tmp: Path) -> None:
        measured.append(_verify(tmp, md5, sha256))
        _scan(tmp)  # an error page or a wrong archive never lands under the final name

    from reprolib.train import show_progress

    try:
        download_atomic(url, archive, timeout=timeout, progress=show_progress(progress), check=check)
    except NETWORK_ERRORS as err:  # ArchiveError (a failed check) is no OSError: it propagates as it is
        raise ArchiveError(f"could not download {url} ({err}). LFW needs internet access (e.g. Google Colab); the "
                           f"book itself never needs it. If you have {ARCHIVE_NAME}, put it at {archive}.") from err
    _record_sha256(root, measured[0], pinned=sha256 is not None)
    return archive
