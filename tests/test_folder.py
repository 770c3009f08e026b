"""Tests of reprolib.data.folder.ImageFolderColor on a small folder of generated images."""

import numpy as np
import pytest
import torch
from PIL import Image

from reprolib.data import ImageFolderColor


def gradient(h, w):
    """A colourful RGB image: red grows to the right, green downwards (so crops and flips are visible)."""
    r = np.tile(np.linspace(0, 255, w, dtype=np.float32), (h, 1))
    g = np.tile(np.linspace(0, 255, h, dtype=np.float32)[:, None], (1, w))
    return np.stack([r, g, np.full((h, w), 90, np.float32)], -1).astype(np.uint8)


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    Image.fromarray(gradient(60, 80)).save(tmp_path / "wide.png")
    Image.fromarray(gradient(70, 50)).save(tmp_path / "a" / "tall.jpg", quality=95)
    Image.fromarray(gradient(50, 50)).save(tmp_path / "a" / "b" / "UPPER.JPG", quality=95)
    rgba = np.zeros((48, 48, 4), np.uint8)
    rgba[..., :3] = (200, 30, 40)
    rgba[..., 3] = np.linspace(0, 255, 48, dtype=np.uint8)  # varying transparency
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a" / "b" / "rgba.png")
    Image.fromarray(gradient(50, 60)[..., 1], "L").save(tmp_path / "a" / "grey.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


def test_finds_images_recursively_and_skips_greyscale(folder):
    ds = ImageFolderColor(folder, size=32, load_size=40)
    names = sorted(p.name for p in ds.files)
    assert names == ["UPPER.JPG", "rgba.png", "tall.jpg", "wide.png"]  # no .txt, no greyscale
    assert [p.name for p in ds.skipped] == ["grey.jpg"]
    everything = ImageFolderColor(folder, size=32, load_size=40, skip_grayscale=False)
    assert len(everything) == 5
    grey = everything[[p.name for p in everything.files].index("grey.jpg")]["rgb"]
    assert torch.equal(grey[0], grey[1]) and torch.equal(grey[1], grey[2])  # converted to RGB, no colour


def test_shapes_ranges_and_resize(folder):
    ds = ImageFolderColor(folder, size=32, load_size=40, train=False)
    for i in range(len(ds)):
        item = ds[i]
        assert item["rgb"].shape == (3, 32, 32) and item["rgb"].dtype == torch.float32
        assert float(item["rgb"].min()) >= 0 and float(item["rgb"].max()) <= 1
        assert item["path"] == str(ds.files[i])
        full = ds.load_resized(i)
        h, w = full.shape[1:]
        assert min(h, w) == 40
        with Image.open(ds.files[i]) as im:
            assert abs(w / h - im.size[0] / im.size[1]) < 0.05  # aspect ratio kept


def test_test_mode_is_a_deterministic_centre_crop(folder):
    ds = ImageFolderColor(folder, size=32, load_size=40, train=False)
    for i in range(len(ds)):
        a, b = ds[i], ds[i]
        assert torch.equal(a["rgb"], b["rgb"]) and not a["flipped"]
        full = ds.load_resized(i)
        h, w = full.shape[1:]
        top, left = (h - 32) // 2, (w - 32) // 2
        assert torch.equal(a["rgb"], full[:, top:top + 32, left:left + 32])


def find_crop(crop, full):
    """All (top, left, flipped) where crop equals a window of full."""
    s = crop.shape[-1]
    hits = []
    for flipped in (False, True):
        target = crop.flip(-1) if flipped else crop
        for top in range(full.shape[1] - s + 1):
            for left in range(full.shape[2] - s + 1):
                if torch.equal(full[:, top:top + s, left:left + s], target):
                    hits.append((top, left, flipped))
    return hits


def test_train_mode_crops_and_flips(folder):
    offsets, flips = set(), set()
    wide = None
    for seed in range(8):
        ds = ImageFolderColor(folder, size=32, load_size=40, train=True, seed=seed)
        wide = [p.name for p in ds.files].index("wide.png")
        item = ds[wide]
        assert torch.equal(item["rgb"], ds[wide]["rgb"])  # a fixed seed gives a fixed crop
        hits = find_crop(item["rgb"], ds.load_resized(wide))
        assert (hits[0][2] if hits else None) == item["flipped"]  # a window of the image, flipped as reported
        offsets.add(hits[0][:2])
        flips.add(item["flipped"])
    assert len(offsets) >= 3 and flips == {True, False}


def test_train_mode_without_seed_follows_torch_rng(folder):
    ds = ImageFolderColor(folder, size=32, load_size=40, train=True)
    torch.manual_seed(0)
    a = [ds[0]["rgb"] for _ in range(6)]
    torch.manual_seed(0)
    b = [ds[0]["rgb"] for _ in range(6)]
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert any(not torch.equal(a[0], x) for x in a[1:])  # a new crop on each access


def test_rgba_keeps_its_colour(folder):
    ds = ImageFolderColor(folder, size=32, load_size=40, train=False)
    item = ds[[p.name for p in ds.files].index("rgba.png")]
    expected = torch.tensor([200, 30, 40], dtype=torch.float32).view(3, 1, 1) / 255
    assert float((item["rgb"] - expected).abs().max()) < 2 / 255


def test_missing_or_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ImageFolderColor(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.md").write_text("no images here")
    with pytest.raises(FileNotFoundError, match="no image files"):
        ImageFolderColor(tmp_path / "empty")
    (tmp_path / "grey").mkdir()
    Image.fromarray(np.zeros((40, 40), np.uint8), "L").save(tmp_path / "grey" / "g.png")
    with pytest.raises(FileNotFoundError, match="1 greyscale files skipped"):
        ImageFolderColor(tmp_path / "grey", size=32, load_size=40)


def test_unreadable_file_is_named(folder):
    (folder / "a" / "broken.jpg").write_bytes(b"this is not a jpeg")
    with pytest.raises(OSError, match="broken.jpg"):
        ImageFolderColor(folder, size=32, load_size=40)  # the header is read when greyscale is checked
    ds = ImageFolderColor(folder, size=32, load_size=40, skip_grayscale=False)
    with pytest.raises(OSError, match="broken.jpg"):
        ds[[p.name for p in ds.files].index("broken.jpg")]


def test_truncated_file_is_named(folder):
    data = (folder / "wide.png").read_bytes()
    (folder / "cut.png").write_bytes(data[: len(data) // 2])
    ds = ImageFolderColor(folder, size=32, load_size=40)
    with pytest.raises(OSError, match="cut.png"):
        ds[[p.name for p in ds.files].index("cut.png")]


def test_bad_arguments(folder):
    with pytest.raises(ValueError, match="load_size"):
        ImageFolderColor(folder, size=64, load_size=40)
    with pytest.raises(ValueError, match="size"):
        ImageFolderColor(folder, size=0)
    with pytest.raises(NotADirectoryError):
        ImageFolderColor(folder / "wide.png")
    with pytest.raises(IndexError):
        ImageFolderColor(folder, size=32, load_size=40)[99]
