"""Image patches for the perceptual-similarity chapter (thesis sec. 6.2: BAPPS uses 64 x 64 patches).

The thesis explains the choice of small patches: the space of full images is too large to cover with
judgments, small patches focus on low-level similarity rather than semantics, and image-synthesis
networks are trained with patch-based losses (sec. 6.2.2). BAPPS draws them from MIT-Adobe 5k (train)
and RAISE1k (val); the book, offline, draws them from

* :func:`photo_patches`: random crops of the photos bundled in installed wheels, split *by photo*
  into train and test (:mod:`reprolib.data.photos`), so no test patch shares a photo with a train patch;
* :func:`colorworld_patches`: whole ColorWorld scenes (:mod:`reprolib.data.colorworld`), rendered in
  Lab and converted to sRGB by :func:`reprolib.color.lab_to_rgb`.

Both return ``(n, 3, size, size)`` float32 tensors in [0, 1] that depend on their arguments only.
``min_std`` optionally skips nearly flat patches (a patch of black sky hides most distortions): candidates
are drawn in a fixed order and the first ``n`` whose pixel standard deviation reaches ``min_std`` are kept.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from reprolib.data.colorworld import MAX_SIZE, MIN_SIZE, ColorWorld
from reprolib.data.photos import PhotoCrops

__all__ = ["photo_patches", "colorworld_patches", "PHOTO_PATCH_SIZES", "MAX_TRIES_PER_PATCH"]

PHOTO_PATCH_SIZES = (8, 512)  # what PhotoCrops accepts
MAX_TRIES_PER_PATCH = 50  # candidates drawn per requested patch before giving up on min_std
_CHUNK = 256  # candidates rendered at a time


def _check_int(value, name: str, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or value < lo or (hi is not None and value > hi):
        bound = f"from {lo} to {hi}" if hi is not None else f">= {lo}"
        raise ValueError(f"{name} must be an integer {bound}, got {value!r}")
    return int(value)


def _check_min_std(min_std) -> float:
    if isinstance(min_std, bool) or not isinstance(min_std, (int, float, np.floating)) or not 0 <= min_std < 0.5:
        raise ValueError(f"min_std must be a number in [0, 0.5) (std of [0, 1] pixel values), got {min_std!r}")
    return float(min_std)


def _take(render: Callable[[list[int]], torch.Tensor], n: int, size: int, min_std: float) -> torch.Tensor:
    """The first ``n`` candidates (rendered in index order) whose pixel std is at least ``min_std``."""
    kept: list[torch.Tensor] = []
    count, start, limit = 0, 0, max(n * MAX_TRIES_PER_PATCH, _CHUNK)
    while count < n:
        if start >= limit:
            raise RuntimeError(
                f"only {count} of {n} patches have a pixel std >= {min_std} among {limit} candidates; "
                f"lower min_std"
            )
        stop = start + (n - count if min_std == 0 else _CHUNK)
        images = render(list(range(start, stop)))
        if min_std > 0:
            images = images[images.std(dim=(1, 2, 3)) >= min_std]
        kept.append(images[: n - count])
        count += kept[-1].shape[0]
        start = stop
    return torch.cat(kept) if kept else torch.zeros(0, 3, size, size)


def photo_patches(n: int, size: int = 64, split: str = "train", seed: int = 0, min_std: float = 0.0) -> torch.Tensor:
    """``n`` random square patches of the bundled photos of ``split`` (``"train"`` or ``"test"``).

    Patch i is crop i of ``PhotoCrops(split, size, seed=seed, augment=True)``: a photo, a scale (the
    patch shows between a third and all of the photo's shorter side), a position and a horizontal flip,
    all drawn from ``(seed, i)``. With ``min_std`` > 0, flat candidates are skipped (see the module doc).

    Returns:
        (n, 3, size, size) float32 in [0, 1].
    """
    n = _check_int(n, "n", 0)
    size = _check_int(size, "size", *PHOTO_PATCH_SIZES)
    seed = _check_int(seed, "seed", 0, 2 ** 63 - 1)
    min_std = _check_min_std(min_std)
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    crops = PhotoCrops(split, size=size, n=n * MAX_TRIES_PER_PATCH + _CHUNK, seed=seed, augment=True)
    return _take(lambda idx: crops.batch(idx)["rgb"], n, size, min_std)


def colorworld_patches(n: int, size: int = 64, seed: int = 0, min_std: float = 0.0) -> torch.Tensor:
    """``n`` ColorWorld scenes of ``size`` x ``size`` pixels (32 to 256), scene i drawn from ``(seed, i)``.

    ColorWorld renders each scene in Lab and converts it with :func:`reprolib.color.lab_to_rgb`; its
    ``rgb`` output is used as is. With ``min_std`` > 0, flat candidates are skipped.

    Returns:
        (n, 3, size, size) float32 in [0, 1].
    """
    n = _check_int(n, "n", 0)
    size = _check_int(size, "size", MIN_SIZE, MAX_SIZE)
    seed = _check_int(seed, "seed", 0, 2 ** 63 - 1)
    min_std = _check_min_std(min_std)
    world = ColorWorld(n * MAX_TRIES_PER_PATCH + _CHUNK, size=size, seed=seed)
    return _take(lambda idx: world.batch(idx)["rgb"], n, size, min_std)
