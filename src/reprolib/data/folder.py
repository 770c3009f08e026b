"""Any folder of photos as a colorization dataset, with the paper's preprocessing (opt-in real data).

For readers with internet and a GPU (e.g. Imagenette or ImageNet unpacked in Colab). Zhang et al.
train on ImageNet images resized so that the shorter side is 256 and take random 176 x 176 crops with
random mirroring; they test on centre crops (reference-facts section 1.4: "random crop 176x176,
mirror"; loadSize 256, fineSize 176 in the PyTorch port). Pillow only, no torchvision.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

__all__ = ["ImageFolderColor", "IMAGE_EXTENSIONS"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm")

# Pillow modes without colour: the image carries no chroma to learn from.
_GREY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")


def checked_index(i, n: int, owner: str, unit: str) -> int:
    """``i`` as a non-negative index into ``n`` items (negative counts from the end), or a clear error naming
    ``owner`` (the dataset's class) and ``unit`` (what it holds: "a folder", "a split")."""
    if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
        raise TypeError(f"{owner} index must be an int, got {type(i).__name__}")
    if not -n <= i < n:
        raise IndexError(f"index {i} out of range for {unit} of {n} images")
    return int(i) % n


def crop_window(h: int, w: int, size: int, train: bool, seed: int | None, index: int,
                flip: bool = True) -> tuple[int, int, bool]:
    """``(top, left, flipped)`` of a ``size`` x ``size`` crop of an h x w image: centred and unflipped for
    evaluation; for training uniform and mirrored half of the time, drawn from the global torch generator, or,
    with a ``seed``, from a Philox stream keyed by (seed, index), so item ``index`` always gets the same crop."""
    if not train:
        return (h - size) // 2, (w - size) // 2, False
    if seed is None:
        u = torch.rand(3).tolist()
    else:
        u = np.random.Generator(np.random.Philox(key=np.array([seed, index], dtype=np.uint64))).random(3)
    top, left = min(int(u[0] * (h - size + 1)), h - size), min(int(u[1] * (w - size + 1)), w - size)
    return top, left, flip and bool(u[2] < 0.5)


def _is_grey(im: Image.Image) -> bool:
    if im.mode in _GREY_MODES:
        return True
    if im.mode == "P":  # a palette whose entries are all grey
        palette = np.asarray(im.getpalette() or [], dtype=np.int16).reshape(-1, 3)
        return palette.size > 0 and bool((palette.max(1) == palette.min(1)).all())
    return False


class ImageFolderColor(Dataset):
    """Every image file under ``root`` (recursively, sorted by path), preprocessed as in the paper.

    Each image is converted to RGB (alpha dropped, palettes and CMYK converted), resized with bicubic
    filtering so that its shorter side is ``load_size``, then cropped to ``size`` x ``size``: a random
    crop and a random horizontal flip when ``train``, the centre crop otherwise.

    Args:
        root: the folder (searched recursively; files with other extensions are ignored).
        size: crop side in pixels (176 in the paper).
        train: random crop + flip (True) or centre crop (False).
        load_size: the shorter side after resizing (256 in the paper); must be >= size.
        extensions: file extensions to include (case-insensitive).
        skip_grayscale: skip greyscale files (they carry no colour, and colorization training should not
            see them). Decided from the file's Pillow mode, read from its header when the dataset is made.
        seed: ``None``: training crops use torch's global random generator (different each epoch, as
            usual). An int: crop i is a fixed function of (seed, i).

    ``ds[i]``: dict with ``rgb`` (3, size, size) float32 in [0, 1], ``path`` (str), ``flipped`` (bool).
    """

    def __init__(self, root, size: int = 176, train: bool = True, load_size: int = 256,
                 extensions: tuple[str, ...] = IMAGE_EXTENSIONS, skip_grayscale: bool = True,
                 seed: int | None = None):
        for name, value in (("size", size), ("load_size", load_size)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer (pixels), got {value!r}")
        if load_size < size:
            raise ValueError(f"load_size ({load_size}) must be >= size ({size}): the crop is cut from the "
                             f"image resized to shorter side load_size")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed must be None or a non-negative integer, got {seed!r}")
        if isinstance(extensions, str):
            extensions = (extensions,)
        root = Path(root)
        if not root.exists():
            raise FileNotFoundError(f"image folder {str(root)!r} does not exist")
        if not root.is_dir():
            raise NotADirectoryError(f"{str(root)!r} is not a folder")
        self.root, self.size, self.train, self.load_size = root, int(size), bool(train), int(load_size)
        self.seed, self.skip_grayscale = seed, bool(skip_grayscale)
        self.extensions = tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in extensions)

        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in self.extensions)
        self.skipped: list[Path] = []
        if self.skip_grayscale:
            kept = []
            for path in files:
                with self._open(path) as im:
                    (self.skipped if _is_grey(im) else kept).append(path)
            files = kept
        if not files:
            detail = f" ({len(self.skipped)} greyscale files skipped)" if self.skipped else ""
            raise FileNotFoundError(f"no image files with extensions {self.extensions} under "
                                    f"{str(root)!r}{detail}")
        self.files = files

    @staticmethod
    def _open(path: Path) -> Image.Image:
        try:
            return Image.open(path)
        except (UnidentifiedImageError, OSError) as err:
            raise OSError(f"cannot read image file {str(path)!r}: {err}") from err

    def __len__(self) -> int:
        return len(self.files)

    def __repr__(self) -> str:
        return (f"ImageFolderColor(root={str(self.root)!r}, n={len(self)}, size={self.size}, "
                f"train={self.train}, load_size={self.load_size})")

    def load_resized(self, i: int) -> torch.Tensor:
        """Image i as RGB, resized (bicubic) so that its shorter side is ``load_size``: (3, h, w) in [0, 1]."""
        path = self.files[i]
        try:
            with self._open(path) as im:
                im = im.convert("RGB")  # drops alpha; converts palette, CMYK and greyscale
                w, h = im.size
                scale = self.load_size / min(w, h)
                new = (max(self.load_size, round(w * scale)), max(self.load_size, round(h * scale)))
                im = im.resize(new, Image.BICUBIC)
                array = np.asarray(im, dtype=np.uint8)
        except OSError as err:  # truncated or corrupt data only shows when the pixels are decoded
            raise OSError(f"cannot read image file {str(path)!r}: {err}") from err
        return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255.0)

    def __getitem__(self, i: int) -> dict:
        i = checked_index(i, len(self), "ImageFolderColor", "a folder")
        image = self.load_resized(i)
        h, w = image.shape[1:]
        s = self.size
        top, left, flipped = crop_window(h, w, s, self.train, self.seed, i)
        crop = image[:, top: top + s, left: left + s]
        if flipped:
            crop = crop.flip(-1)
        return {"rgb": crop.contiguous(), "path": str(self.files[i]), "flipped": flipped}
