"""Natural colour photos that ship inside installed wheels (DESIGN section 4.2).

No download, ever: scikit-image, scikit-learn and matplotlib each bundle a few sample photos in their
wheels. They are read straight from the installed package's files (``skimage.data``'s own loaders may
fetch missing files with pooch; we never call them). A photo that is not installed, or that is not a
colour photo, is skipped, and :func:`photo_status` records why.

The photos are split *by image* into :data:`TRAIN_PHOTOS` and :data:`TEST_PHOTOS` (about 3/4 train), and
:class:`PhotoCrops` draws random crops from a split: a second, harder test set than ColorWorld, patches
for LPIPS, and material for qualitative figures.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import Dataset

__all__ = [
    "PHOTO_SOURCES",
    "TRAIN_PHOTOS",
    "TEST_PHOTOS",
    "load_photo",
    "available_photos",
    "photo_status",
    "photo_thumbnails",
    "PhotoCrops",
]

# name -> (package, file inside the package's data folder). Order is fixed: it defines photo indices.
PHOTO_SOURCES: dict[str, tuple[str, str]] = {
    "astronaut": ("skimage", "data/astronaut.png"),
    "chelsea": ("skimage", "data/chelsea.png"),
    "coffee": ("skimage", "data/coffee.png"),
    "rocket": ("skimage", "data/rocket.jpg"),
    "hubble_deep_field": ("skimage", "data/hubble_deep_field.jpg"),
    "immunohistochemistry": ("skimage", "data/ihc.png"),
    "retina": ("skimage", "data/retina.jpg"),
    "motorcycle": ("skimage", "data/motorcycle_left.png"),  # left view of skimage's stereo pair
    "china": ("sklearn", "datasets/images/china.jpg"),
    "flower": ("sklearn", "datasets/images/flower.jpg"),
    "grace_hopper": ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
}

# Split by image: 8 train, 3 test (a cat, a cup, a flower: everyday scenes, unlike the microscopy and
# astronomy photos, which stay in train).
TEST_PHOTOS: tuple[str, ...] = ("chelsea", "coffee", "flower")
TRAIN_PHOTOS: tuple[str, ...] = tuple(name for name in PHOTO_SOURCES if name not in TEST_PHOTOS)

# A photo whose chroma (mean absolute difference between neighbouring channels, in [0, 1] RGB units)
# does not exceed this is a greyscale image stored as RGB: it carries no colour and is not used.
_GREY_TOLERANCE = 2.0 / 255.0


def _photo_path(name: str) -> Path:
    if name not in PHOTO_SOURCES:
        raise ValueError(f"unknown photo {name!r}; known photos are {list(PHOTO_SOURCES)}")
    package, relative = PHOTO_SOURCES[name]
    spec = importlib.util.find_spec(package)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"photo {name!r}: package {package!r} is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / relative


@lru_cache(maxsize=None)
def _load_uint8(name: str) -> np.ndarray:
    path = _photo_path(name)
    if not path.is_file():
        raise FileNotFoundError(f"photo {name!r}: {path} is not bundled in the installed wheel")
    with Image.open(path) as im:
        if im.mode not in ("RGB", "RGBA", "P", "CMYK", "YCbCr"):
            raise ValueError(f"photo {name!r} is a greyscale image (mode {im.mode}), not a colour photo")
        array = np.asarray(im.convert("RGB"))  # drops any alpha channel
    chroma = np.abs(np.diff(array.astype(np.int16), axis=-1)).mean()
    if chroma <= _GREY_TOLERANCE * 255:
        raise ValueError(f"photo {name!r} has identical R, G, B channels: a greyscale image, not a colour photo")
    array.setflags(write=False)
    return array


def load_photo(name: str) -> torch.Tensor:
    """Load a bundled photo as a (3, H, W) float32 RGB tensor in [0, 1] (at its native size).

    Raises:
        ValueError: an unknown name, or a greyscale image.
        FileNotFoundError: the photo is not installed here.
    """
    return torch.from_numpy(_load_uint8(name).copy()).permute(2, 0, 1).float().div_(255.0)


@lru_cache(maxsize=None)
def photo_status() -> dict[str, str]:
    """For every photo in :data:`PHOTO_SOURCES`: ``"ok"`` or why it is skipped."""
    status = {}
    for name in PHOTO_SOURCES:
        try:
            _load_uint8(name)
            status[name] = "ok"
        except (OSError, ValueError) as err:  # missing file, unreadable file, greyscale
            status[name] = f"skipped: {err}"
    return status


def available_photos(split: str | None = None) -> list[str]:
    """Names of the usable photos (all, or those of ``split`` = ``"train"`` / ``"test"``), in a fixed order."""
    names = {None: tuple(PHOTO_SOURCES), "train": TRAIN_PHOTOS, "test": TEST_PHOTOS}
    if split not in names:
        raise ValueError(f"split must be 'train', 'test' or None, got {split!r}")
    status = photo_status()
    return [name for name in names[split] if status[name] == "ok"]


def _resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Antialiased bilinear resize of a (N, 3, h, w) batch, clamped back to [0, 1]."""
    out = F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=True)
    return out.clamp_(0.0, 1.0)


def photo_thumbnails(size: int = 128, names: Sequence[str] | None = None) -> tuple[torch.Tensor, list[str]]:
    """Whole photos for figures: centre-cropped to a square, resized to ``size``.

    Returns:
        images (N, 3, size, size) float32 in [0, 1], and their names (default: every available photo).
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be a positive integer (pixels), got {size!r}")
    names = available_photos() if names is None else list(names)
    out = []
    for name in names:
        photo = load_photo(name)
        h, w = photo.shape[1:]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        out.append(_resize(photo[None, :, top: top + side, left: left + side], (size, size))[0])
    images = torch.stack(out) if out else torch.zeros(0, 3, size, size)
    return images, names


class PhotoCrops(Dataset):
    """Random square crops of the bundled photos of one split.

    Crop i depends on (seed, i) only. It is drawn as: a photo (uniformly among the split's photos), a
    scale, a position and (with ``augment``) a horizontal flip. The scale is such that the photo's
    shorter side, resized, would measure ``short`` pixels with ``short`` log-uniform in
    [size, 3 * size] (capped at the photo's native shorter side): a crop shows between all and a third of
    the shorter side, so crops hold whole objects as well as details. Each photo is stored once with
    its shorter side at the top of that range; a crop is cut from it and resized (bilinear, antialiased).
    Without ``augment`` the scale is fixed at the geometric middle of that range and there is no flip.

    Args:
        split: ``"train"`` or ``"test"`` (see :data:`TRAIN_PHOTOS`, :data:`TEST_PHOTOS`).
        size: crop side in pixels (8 to 512).
        n: number of crops (``len``).
        seed: non-negative integer.
        augment: random scale and flip.

    ``ds[i]``: dict with ``rgb`` (3, size, size) float32 in [0, 1], ``photo`` (int, index into
    ``ds.photo_names``), ``flipped`` (bool) and ``index``. ``ds.batch(indices)`` batches them.
    """

    def __init__(self, split: str = "train", size: int = 64, n: int = 1000, seed: int = 0, augment: bool = True):
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 8 <= size <= 512:
            raise ValueError(f"size must be an integer from 8 to 512 (pixels), got {size!r}")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2 ** 63:
            raise ValueError(f"seed must be an integer in [0, 2**63), got {seed!r}")
        self.split, self.size, self.n, self.seed, self.augment = split, int(size), int(n), int(seed), bool(augment)
        self.photo_names = available_photos(split)
        if not self.photo_names:
            raise RuntimeError(f"no photo of the {split!r} split is available here: {photo_status()}")
        # Each photo is kept once, resized so that its shorter side is the largest one a crop uses
        # (3 * size, or native if smaller): crops then need at most a 3x downscale, which is fast.
        self._photos = []
        for name in self.photo_names:
            photo = load_photo(name)
            h, w = photo.shape[1:]
            target = min(min(h, w), 3 * self.size)
            if target < min(h, w):
                photo = _resize(photo[None], (round(h * target / min(h, w)), round(w * target / min(h, w))))[0]
            self._photos.append(photo)

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        return (f"PhotoCrops(split={self.split!r}, size={self.size}, n={self.n}, seed={self.seed}, "
                f"augment={self.augment}, photos={self.photo_names})")

    def crop_params(self, i: int) -> dict:
        """The random draw of crop i, a function of (seed, i): ``photo``, ``top``, ``left``, ``side`` (the
        crop's square in the stored photo, pixels) and ``flipped``."""
        key = np.array([self.seed, i], dtype=np.uint64)
        u = np.random.Generator(np.random.Philox(key=key)).random(5)
        p = min(int(u[0] * len(self._photos)), len(self._photos) - 1)
        h, w = self._photos[p].shape[1:]
        lo, hi = self.size, max(self.size, min(h, w))  # the stored photo's shorter side is the top
        short = lo * (hi / lo) ** (u[1] if self.augment else 0.5)  # the resized shorter side, in pixels
        side = max(1, min(h, w, int(round(self.size * min(h, w) / short))))
        top, left = int(u[2] * (h - side + 1)), int(u[3] * (w - side + 1))
        return {"photo": p, "top": top, "left": left, "side": side, "flipped": bool(self.augment and u[4] < 0.5)}

    def render_crop(self, params: dict) -> torch.Tensor:
        """Cut and resize the crop described by ``params`` (see :meth:`crop_params`): (3, size, size)."""
        photo, top, left, side = self._photos[params["photo"]], params["top"], params["left"], params["side"]
        crop = _resize(photo[None, :, top: top + side, left: left + side], (self.size, self.size))[0]
        return crop.flip(-1) if params["flipped"] else crop

    def _crop(self, i: int) -> dict:
        params = self.crop_params(i)
        return {"rgb": self.render_crop(params), "photo": params["photo"], "flipped": params["flipped"],
                "index": i}

    def __getitem__(self, i: int) -> dict:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"PhotoCrops index must be an int, got {type(i).__name__}")
        if not -self.n <= i < self.n:
            raise IndexError(f"index {i} out of range for PhotoCrops of length {self.n}")
        return self._crop(int(i) % self.n)

    def batch(self, indices) -> dict:
        """Crops ``indices`` as a dict of batched tensors: ``rgb`` (N, 3, size, size), ``photo``,
        ``flipped``, ``index`` (N,)."""
        items = [self[int(i)] for i in (indices.tolist() if hasattr(indices, "tolist") else indices)]
        if not items:
            return {"rgb": torch.zeros(0, 3, self.size, self.size), "photo": torch.zeros(0, dtype=torch.long),
                    "flipped": torch.zeros(0, dtype=torch.bool), "index": torch.zeros(0, dtype=torch.long)}
        return {
            "rgb": torch.stack([it["rgb"] for it in items]),
            "photo": torch.tensor([it["photo"] for it in items]),
            "flipped": torch.tensor([it["flipped"] for it in items]),
            "index": torch.tensor([it["index"] for it in items]),
        }
