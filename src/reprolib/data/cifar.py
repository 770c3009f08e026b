"""CIFAR-10 (Krizhevsky 2009), opt-in: the thumbnails of Chapter 8's online section (Ratajczak et al. 2019).

CIFAR-10 holds 60,000 colour images of 32 x 32 pixels in 10 classes, 50,000 for training (five batches of
10,000) and 10,000 for testing. The "python version" archive :data:`CIFAR10_URL` (about 163 MiB) unpacks to::

    cifar-10-batches-py/data_batch_1 ... data_batch_5, test_batch, batches.meta, readme.html

Each batch is a pickled dict written by Python 2 (protocol 2): ``b"data"`` a (N, 3072) uint8 array, each
row one image as its 1024 red, then 1024 green, then 1024 blue values, each plane 32 x 32 in row order;
``b"labels"`` a list of N class indices 0-9; ``b"batch_label"`` and ``b"filenames"``. ``batches.meta``
holds ``b"label_names"``. A pickle can run arbitrary code when loaded, so the batches are read only with
:func:`reprolib.download.restricted_load` (numpy arrays and plain containers, nothing else), never with
``pickle.load``.

Nothing here downloads anything unless :func:`fetch_cifar10` is called (a reader with internet, e.g.
Colab); the tests write small archives in the same layout themselves.

- :func:`fetch_cifar10` downloads the archive, checks its MD5 (:data:`CIFAR10_MD5`, the value the data
  set's page publishes beside the link) before the file is renamed into place, and unpacks it with
  :func:`reprolib.download.safe_extract`.
- :func:`load_cifar10` reads the training (the five batches in order) or the test split.
- :func:`unpaired_domains` makes the two unpaired domains of the colorization task.

How the paper makes its domains (sec. 5.1). The paper turns every colour image of a data set into grey,
trains the colorization on the provided training split (CIFAR-10's 50,000 images) and evaluates on the
provided test split; it says the images are "not explicitly paired" during training or testing. It
describes no division of the training set into halves, by class or at random. Our reading, the default:
domain A is the grey version of *every* training image and domain B *every* colour training image, each
domain in its own random order, so that a grey image and its own colour original are never presented
together on purpose (two independent permutations place an image at the same position in both about once
in expectation). ``disjoint=True`` is the stricter alternative of the chapter's brief (sec. 1.6): two
disjoint random halves, drawn per class so that both domains keep the class balance, A grey from the first
and B colour from the second; the paper does not do this.

Grey (domain A) is one channel, the weighted sum of Eq. 1 of the paper (ITU-R BT.601 luma, the paper's
handcrafted translation H_t), as the paper defines domain A (sec. 3.1, 1 x W x H); a model that needs three
channels (the identity loss, sec. 4.2) replicates it. On uint8 images the grey is rounded to uint8; on
float images it is exact, so that H_t of a colour image equals its grey version to float precision.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from reprolib.color import LUMA_WEIGHTS
from reprolib.download import (
    NETWORK_ERRORS,
    ArchiveError,
    UnsafePickleError,
    download_atomic,
    md5_of,
    restricted_load,
    safe_extract,
)

__all__ = [
    "CIFAR10_URL",
    "CIFAR10_MD5",
    "ARCHIVE_NAME",
    "TOP",
    "TRAIN_BATCHES",
    "TEST_BATCH",
    "META",
    "CLASSES",
    "SIZE",
    "N_TRAIN",
    "N_TEST",
    "GREY_WEIGHTS",
    "UnpairedDomains",
    "fetch_cifar10",
    "load_cifar10",
    "cifar10_label_names",
    "to_grey",
    "unpaired_domains",
]

#: The official "CIFAR-10 python version" archive, linked from https://www.cs.toronto.edu/~kriz/cifar.html.
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
#: MD5 of that archive, as the data set's page publishes it beside the download link.
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
#: The folder the archive unpacks to, and the files in it that are read.
TOP = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
#: The class names, in label order (batches.meta's ``label_names``).
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SIZE = 32
N_TRAIN = 50_000
N_TEST = 10_000
#: Grey = 0.299 R + 0.587 G + 0.114 B (Eq. 1 of Ratajczak et al. 2019; ITU-R BT.601 luma).
GREY_WEIGHTS = LUMA_WEIGHTS  # their home is reprolib.color (H_t, handcrafted_grey)

SPLITS = ("train", "test")
_FETCH_HINT = f"fetch_cifar10() downloads it from {CIFAR10_URL} (needs internet, e.g. Google Colab)"


# ----------------------------------------------------------------------------------------------
# download (opt-in)


def _check_md5(path: Path, md5: str | None) -> None:
    if md5 is None:
        return
    got = md5_of(path)
    if got != md5.lower():
        raise ArchiveError(f"{path}: md5 {got} differs from the expected {md5} of {ARCHIVE_NAME}; the download is "
                           "damaged or is not the CIFAR-10 python archive")


def _missing(folder: Path) -> list[str]:
    return [name for name in (*TRAIN_BATCHES, TEST_BATCH, META) if not (folder / name).is_file()]


def fetch_cifar10(directory: str | os.PathLike | None = None, *, url: str = CIFAR10_URL,
                  md5: str | None = CIFAR10_MD5, force: bool = False, keep_archive: bool = False,
                  timeout: float = 60.0, progress: bool | None = None) -> Path:
    """Download and unpack CIFAR-10 into ``directory``; return the batches' folder ``<directory>/cifar-10-batches-py``.

    Opt-in: needs internet (e.g. Google Colab); the book and the tests never download it. A folder that already
    holds every batch is returned as it is unless ``force``. The archive goes to a temporary file that is renamed
    to ``<directory>/cifar-10-python.tar.gz`` only after its md5 matched (an interrupted or wrong download leaves
    nothing under that name), is unpacked with :func:`reprolib.download.safe_extract` (every member checked
    before anything is written) and deleted unless ``keep_archive``. An archive already there is checked
    against the md5 before it is unpacked.

    Args:
        directory: where the archive and its folder go (default ``reprolib.config.cache_dir("data", "cifar10")``).
        url: where from (default :data:`CIFAR10_URL`); any URL urllib opens, e.g. a mirror or ``file://``.
        md5: the expected md5 (default the published :data:`CIFAR10_MD5`); ``None`` skips the check.
        force: download and unpack again even when the batches are there.
        keep_archive: keep the archive after unpacking.
        timeout: network timeout in seconds. progress: a progress bar (``None``: when interactive).

    Raises:
        ArchiveError: offline, an md5 mismatch, an unsafe archive, or one that lacks the batches.
    """
    if directory is None:
        from reprolib.config import cache_dir

        directory = cache_dir("data", "cifar10")
    root = Path(directory).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    folder = root / TOP
    if not force and not _missing(folder):
        return folder
    archive = root / ARCHIVE_NAME
    if archive.exists() and not force:
        try:
            _check_md5(archive, md5)
        except ArchiveError as err:
            raise ArchiveError(f"{err}. Delete {archive} or call fetch_cifar10(force=True) to download it "
                               "again") from None
    else:
        from reprolib.train import show_progress

        try:
            download_atomic(url, archive, timeout=timeout, progress=show_progress(progress),
                            check=lambda tmp: _check_md5(tmp, md5))
        except NETWORK_ERRORS as err:  # ArchiveError (a failed check) is no OSError: it propagates as it is
            raise ArchiveError(f"could not download {url} ({err}). CIFAR-10 needs internet access (e.g. Google "
                               f"Colab); the book itself never needs it. If you have {ARCHIVE_NAME}, put it at "
                               f"{archive}.") from err
    safe_extract(archive, root)
    missing = _missing(folder)
    if missing:
        raise ArchiveError(f"{archive} did not unpack to {folder}/ with the batches {', '.join(missing)}; is it "
                           "the CIFAR-10 python archive?")
    if not keep_archive:
        archive.unlink()
    return folder


# ----------------------------------------------------------------------------------------------
# reading


def _batches_folder(root: str | os.PathLike) -> Path:
    """``root/cifar-10-batches-py`` when it is there, else ``root`` itself when it holds the batches."""
    root = Path(root).expanduser()
    for folder in (root / TOP, root):
        if folder.is_dir() and (folder / TEST_BATCH).is_file():
            return folder
    raise FileNotFoundError(f"no CIFAR-10 batches under {str(root)!r} (expected {TOP}/{TEST_BATCH} there, or "
                            f"{TEST_BATCH} in it); {_FETCH_HINT}")


def _read_pickle(path: Path) -> dict:
    """One batch file as a dict with bytes keys, read with the restricted unpickler."""
    if not path.is_file():
        raise FileNotFoundError(f"no CIFAR-10 batch at {str(path)!r}; {_FETCH_HINT}")
    try:
        with open(path, "rb") as f:
            obj = restricted_load(f, encoding="bytes")
    except UnsafePickleError as err:
        raise UnsafePickleError(f"{path}: {err}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError) as err:
        raise ArchiveError(f"{path} is not a readable CIFAR-10 batch ({type(err).__name__}: {err})") from err
    if not isinstance(obj, dict):
        raise ArchiveError(f"{path} holds a {type(obj).__name__}, not the dict of a CIFAR-10 batch")
    return obj


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 32, 32, 3) uint8, labels (N,) int64) of one batch file."""
    batch = _read_pickle(path)
    data, labels = batch.get(b"data"), batch.get(b"labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * SIZE ** 2:
        got = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise ArchiveError(f"{path}: b'data' must be a (N, {3 * SIZE ** 2}) uint8 array, got {got}")
    if not isinstance(labels, list) or not all(type(v) is int for v in labels):
        raise ArchiveError(f"{path}: b'labels' must be a list of ints")
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) != len(data) or (labels.size and (labels.min() < 0 or labels.max() >= len(CLASSES))):
        raise ArchiveError(f"{path}: expected {len(data)} labels in 0..{len(CLASSES) - 1}, got {len(labels)} "
                           f"in {labels.min(initial=0)}..{labels.max(initial=0)}")
    images = data.reshape(-1, 3, SIZE, SIZE).transpose(0, 2, 3, 1)  # planes R, G, B, each row-major
    return np.ascontiguousarray(images), labels


def load_cifar10(root: str | os.PathLike, split: str = "train", *, as_tensor: bool = False):
    """The images and labels of one split, in the batches' order.

    Args:
        root: the folder that holds ``cifar-10-batches-py/`` (what :func:`fetch_cifar10` was given), or that
            folder itself.
        split: ``"train"`` (data_batch_1 to 5, in order; 50,000 images) or ``"test"`` (test_batch; 10,000).
        as_tensor: return ``images`` as a float32 tensor (N, 3, 32, 32) in [0, 1] and ``labels`` as an int64
            tensor, instead of numpy arrays uint8 (N, 32, 32, 3) and int64 (N,).

    Raises:
        FileNotFoundError: no batches there. ArchiveError: a file that is not a CIFAR-10 batch.
        reprolib.download.UnsafePickleError: a batch that asks the unpickler for anything but numpy arrays
            and plain containers (nothing in it is run).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    folder = _batches_folder(root)
    names = TRAIN_BATCHES if split == "train" else (TEST_BATCH,)
    parts = [_read_batch(folder / name) for name in names]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    if as_tensor:
        return torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0), torch.from_numpy(labels)
    return images, labels


def cifar10_label_names(root: str | os.PathLike) -> tuple[str, ...]:
    """The class names of ``batches.meta``, in label order (:data:`CLASSES` for the real data set)."""
    path = _batches_folder(root) / META
    names = _read_pickle(path).get(b"label_names")
    if not isinstance(names, list) or not all(isinstance(n, bytes) for n in names):
        raise ArchiveError(f"{path}: b'label_names' must be a list of byte strings")
    return tuple(n.decode("utf-8") for n in names)


# ----------------------------------------------------------------------------------------------
# the two unpaired domains


class UnpairedDomains(NamedTuple):
    """Domain A (grey) and domain B (colour) of the unpaired colorization task, each with its labels and the
    positions of its images in the input (``grey[j]`` is the grey of ``images[grey_index[j]]``)."""

    grey: np.ndarray | torch.Tensor
    grey_labels: np.ndarray | torch.Tensor
    grey_index: np.ndarray
    colour: np.ndarray | torch.Tensor
    colour_labels: np.ndarray | torch.Tensor
    colour_index: np.ndarray


def to_grey(images: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Eq. 1 of the paper on every pixel: uint8 (N, H, W, 3) -> uint8 (N, H, W, 1), rounded; float tensor
    (N, 3, H, W) -> float (N, 1, H, W), exact."""
    if isinstance(images, torch.Tensor):
        if images.ndim != 4 or images.shape[1] != 3 or not images.is_floating_point():
            raise ValueError(f"expected a float tensor (N, 3, H, W), got {images.dtype} {tuple(images.shape)}")
        w = torch.tensor(GREY_WEIGHTS, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
        return (images * w).sum(dim=1, keepdim=True)
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"expected a uint8 array (N, H, W, 3), got {images.dtype} {images.shape}")
    grey = images.astype(np.float64) @ np.asarray(GREY_WEIGHTS)
    return np.clip(np.rint(grey), 0, 255).astype(np.uint8)[..., None]


def _halves_by_class(labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    first, second = [], []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        first.append(members[: len(members) // 2])
        second.append(members[len(members) // 2:])
    return rng.permutation(np.concatenate(first)), rng.permutation(np.concatenate(second))


def unpaired_domains(images: np.ndarray | torch.Tensor, labels, seed: int, *,
                     disjoint: bool = False) -> UnpairedDomains:
    """Split colour images into the unpaired grey domain A and colour domain B (see the module's docstring).

    Args:
        images: uint8 (N, 32, 32, 3) or float tensor (N, 3, 32, 32) in [0, 1], as :func:`load_cifar10` gives.
        labels: (N,) class indices (numpy or tensor), returned per domain in the same kind as ``images``.
        seed: the draw; the same seed gives the same domains.
        disjoint: False (the paper's reading): A holds the grey of every image and B every colour image, each
            in its own random order. True (the brief's stricter reading): A the grey of one random half of each
            class, B the colour of the other half (a class of odd size gives B the extra image).

    Returns:
        :class:`UnpairedDomains`; A is one channel, (N_A, 32, 32, 1) uint8 or (N_A, 1, 32, 32) float.
    """
    tensor = isinstance(images, torch.Tensor)
    n = images.shape[0]
    labels_np = labels.cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if labels_np.shape != (n,):
        raise ValueError(f"expected {n} labels, one per image, got shape {labels_np.shape}")
    rng = np.random.default_rng(seed)
    if disjoint:
        a, b = _halves_by_class(labels_np.astype(np.int64), rng)
    else:
        a, b = rng.permutation(n), rng.permutation(n)
    take_images = (lambda idx: images[torch.from_numpy(idx)]) if tensor else (lambda idx: np.asarray(images)[idx])
    take_labels = (lambda idx: torch.from_numpy(labels_np[idx])) if tensor else (lambda idx: labels_np[idx])
    return UnpairedDomains(grey=to_grey(take_images(a)), grey_labels=take_labels(a), grey_index=a,
                           colour=take_images(b), colour_labels=take_labels(b), colour_index=b)
