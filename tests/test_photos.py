"""Tests of reprolib.data.photos: the photos bundled in installed wheels, their split and their crops."""

import numpy as np
import pytest
import torch
from PIL import Image

from reprolib.data import photos
from reprolib.data.photos import (
    PHOTO_SOURCES,
    TEST_PHOTOS,
    TRAIN_PHOTOS,
    PhotoCrops,
    available_photos,
    load_photo,
    photo_status,
    photo_thumbnails,
)


def test_split_is_by_image_and_about_three_quarters_train():
    assert set(TRAIN_PHOTOS).isdisjoint(TEST_PHOTOS)
    assert set(TRAIN_PHOTOS) | set(TEST_PHOTOS) == set(PHOTO_SOURCES)
    assert 0.65 <= len(TRAIN_PHOTOS) / len(PHOTO_SOURCES) <= 0.8
    assert available_photos("train") + available_photos("test") != []
    assert set(available_photos("test")) <= set(TEST_PHOTOS)
    with pytest.raises(ValueError, match="split"):
        available_photos("val")


def test_status_covers_every_source_and_agrees_with_loading():
    status = photo_status()
    assert set(status) == set(PHOTO_SOURCES)
    assert available_photos() == [name for name in PHOTO_SOURCES if status[name] == "ok"]
    assert len(available_photos("train")) >= 1 and len(available_photos("test")) >= 1
    for name in available_photos():
        photo = load_photo(name)
        assert photo.dtype == torch.float32 and photo.ndim == 3 and photo.shape[0] == 3
        assert float(photo.min()) >= 0 and float(photo.max()) <= 1
        assert float((photo[0] - photo[1]).abs().mean()) > 2 / 255  # a colour photo, not a grey one


def test_loaded_pixels_equal_the_packages_own_loaders():
    if photo_status()["astronaut"] == "ok":
        import skimage.data

        ref = skimage.data.astronaut()  # bundled in the wheel: read locally, no download
        assert torch.equal((load_photo("astronaut") * 255).round().byte(), torch.from_numpy(ref).permute(2, 0, 1))
    if photo_status()["china"] == "ok":
        from sklearn.datasets import load_sample_image

        ref = np.array(load_sample_image("china.jpg"))
        assert torch.equal((load_photo("china") * 255).round().byte(), torch.from_numpy(ref).permute(2, 0, 1))


def test_unknown_photo_name():
    with pytest.raises(ValueError, match="unknown photo 'lena'"):
        load_photo("lena")


@pytest.fixture
def fake_sources(tmp_path, monkeypatch):
    """Point two extra names at local files: a greyscale PNG and a grey image saved as RGB."""
    grey = np.tile(np.arange(64, dtype=np.uint8) * 4, (48, 1))
    Image.fromarray(grey, "L").save(tmp_path / "grey.png")
    Image.fromarray(np.stack([grey] * 3, -1), "RGB").save(tmp_path / "grey_rgb.png")
    files = {"grey": tmp_path / "grey.png", "grey_rgb": tmp_path / "grey_rgb.png", "gone": tmp_path / "gone.png"}
    real = photos._photo_path
    monkeypatch.setattr(photos, "PHOTO_SOURCES", {**PHOTO_SOURCES, **{k: ("x", k) for k in files}})
    monkeypatch.setattr(photos, "_photo_path", lambda name: files[name] if name in files else real(name))
    photos._load_uint8.cache_clear()
    photos.photo_status.cache_clear()
    yield
    photos._load_uint8.cache_clear()
    photos.photo_status.cache_clear()


def test_greyscale_and_missing_photos_are_skipped_with_a_reason(fake_sources):
    with pytest.raises(ValueError, match="greyscale"):
        load_photo("grey")
    with pytest.raises(ValueError, match="greyscale"):
        load_photo("grey_rgb")
    with pytest.raises(FileNotFoundError, match="not bundled"):
        load_photo("gone")
    status = photos.photo_status()
    assert status["grey"].startswith("skipped") and "greyscale" in status["grey"]
    assert status["gone"].startswith("skipped")
    assert not {"grey", "grey_rgb", "gone"} & set(photos.available_photos())


def test_crops_contract_and_determinism():
    ds = PhotoCrops("train", size=48, n=20, seed=1)
    assert len(ds) == 20 and ds.photo_names == available_photos("train")
    item = ds[3]
    assert item["rgb"].shape == (3, 48, 48) and item["rgb"].dtype == torch.float32
    assert float(item["rgb"].min()) >= 0 and float(item["rgb"].max()) <= 1
    assert 0 <= item["photo"] < len(ds.photo_names)
    again = PhotoCrops("train", size=48, n=20, seed=1)
    batch = again.batch([7, 3])
    assert torch.equal(batch["rgb"][1], item["rgb"]) and int(batch["photo"][1]) == item["photo"]
    other = PhotoCrops("train", size=48, n=20, seed=2).batch(range(20))
    mine = ds.batch(range(20))
    assert not torch.equal(mine["rgb"], other["rgb"])
    assert float(mine["rgb"].flatten(1).std(1).min()) > 0.01  # real content, not blank
    assert bool(mine["flipped"].any()) and not bool(mine["flipped"].all())


def test_crop_is_the_drawn_square_resized_and_flip_mirrors_it():
    ds = PhotoCrops("test", size=32, n=50, seed=0)
    i = next(i for i in range(50) if ds[i]["flipped"])
    params = ds.crop_params(i)
    unflipped = ds.render_crop({**params, "flipped": False})
    assert torch.equal(unflipped.flip(-1), ds[i]["rgb"])
    # the crop is the drawn square of the stored photo, resized (checked against Pillow)
    stored = ds._photos[params["photo"]]
    t, l, s = params["top"], params["left"], params["side"]
    square = (stored[:, t:t + s, l:l + s] * 255).round().byte().permute(1, 2, 0).numpy()
    ref = np.asarray(Image.fromarray(square).resize((32, 32), Image.BILINEAR), dtype=np.float32) / 255
    assert np.abs(unflipped.permute(1, 2, 0).numpy() - ref).mean() < 0.03
    # crops show between a third of and the whole shorter side of the stored photo
    sides = [ds.crop_params(j)["side"] / min(ds._photos[ds.crop_params(j)["photo"]].shape[1:]) for j in range(50)]
    assert min(sides) >= 1 / 3 - 0.02 and max(sides) <= 1.0


def test_test_split_crops_without_augmentation():
    ds = PhotoCrops("test", size=32, n=12, seed=0, augment=False)
    out = ds.batch(range(12))
    assert not bool(out["flipped"].any())
    assert set(ds.photo_names) <= set(TEST_PHOTOS)


def test_crop_arguments_are_validated():
    with pytest.raises(ValueError, match="split"):
        PhotoCrops("valid")
    with pytest.raises(ValueError, match="size"):
        PhotoCrops(size=4)
    with pytest.raises(IndexError):
        PhotoCrops(n=3)[3]


def test_thumbnails_are_centre_squares():
    images, names = photo_thumbnails(size=40)
    assert images.shape == (len(available_photos()), 3, 40, 40) and names == available_photos()
    # compare one non-square photo with Pillow's resize of its centre square
    name = next(n for n in names if load_photo(n).shape[1] != load_photo(n).shape[2])
    photo = (load_photo(name) * 255).round().byte().permute(1, 2, 0).numpy()
    h, w = photo.shape[:2]
    side = min(h, w)
    square = photo[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
    ref = np.asarray(Image.fromarray(square).resize((40, 40), Image.BILINEAR), dtype=np.float32) / 255
    mine = images[names.index(name)].permute(1, 2, 0).numpy()
    assert np.abs(mine - ref).mean() < 0.03
