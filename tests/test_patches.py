"""Tests of reprolib.data.patches: 64x64-style patches from the bundled photos and from ColorWorld."""

import pytest
import torch

from reprolib.color import lab_to_rgb
from reprolib.data import ColorWorld, PhotoCrops, available_photos
from reprolib.data.patches import colorworld_patches, photo_patches

needs_photos = pytest.mark.skipif(not available_photos("train") or not available_photos("test"),
                                  reason="the bundled photos are not installed")


@needs_photos
@pytest.mark.parametrize("split", ["train", "test"])
def test_photo_patches_are_the_crops_of_their_split(split):
    x = photo_patches(6, size=32, split=split, seed=3)
    assert x.shape == (6, 3, 32, 32) and x.dtype == torch.float32
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    # patch i is crop i of the split's PhotoCrops: test patches only ever come from test photos
    crops = PhotoCrops(split, size=32, n=6, seed=3, augment=True)
    assert torch.equal(x, crops.batch(range(6))["rgb"])
    assert {crops.photo_names[crops.crop_params(i)["photo"]] for i in range(6)} <= set(available_photos(split))


@needs_photos
def test_photo_patches_deterministic_and_seed_dependent():
    a = photo_patches(4, size=32, seed=11)
    assert torch.equal(a, photo_patches(4, size=32, seed=11))
    assert not torch.equal(a, photo_patches(4, size=32, seed=12))
    assert not torch.equal(a, photo_patches(4, size=32, split="test", seed=11))


@needs_photos
def test_min_std_keeps_the_first_textured_candidates_in_order():
    x = photo_patches(5, size=32, split="train", seed=0, min_std=0.12)
    assert (x.std(dim=(1, 2, 3)) >= 0.12).all()
    candidates = PhotoCrops("train", size=32, n=200, seed=0).batch(range(200))["rgb"]
    expected = candidates[candidates.std(dim=(1, 2, 3)) >= 0.12][:5]
    assert torch.equal(x, expected)
    assert (candidates.std(dim=(1, 2, 3)) < 0.12).any()  # the filter did skip something


def test_colorworld_patches_are_colorworld_scenes_in_rgb():
    x = colorworld_patches(4, size=32, seed=5)
    assert x.shape == (4, 3, 32, 32) and x.dtype == torch.float32
    out = ColorWorld(4, size=32, seed=5).batch(range(4), return_lab=True)
    assert torch.equal(x, out["rgb"])
    # the RGB is the Lab render converted by reprolib.color
    assert torch.allclose(x, lab_to_rgb(out["lab"]), atol=1e-5)
    assert torch.equal(x, colorworld_patches(4, size=32, seed=5))
    assert not torch.equal(x, colorworld_patches(4, size=32, seed=6))


def test_zero_patches():
    assert colorworld_patches(0, size=32).shape == (0, 3, 32, 32)


@pytest.mark.parametrize("call, match", [
    (lambda: photo_patches(2, size=4), "size must be an integer from 8 to 512"),
    (lambda: photo_patches(2, split="val"), "split must be 'train' or 'test'"),
    (lambda: photo_patches(-1), "n must be an integer >= 0"),
    (lambda: photo_patches(2, seed=-3), "seed must be"),
    (lambda: photo_patches(2, min_std=0.7), "min_std must be a number in"),
    (lambda: colorworld_patches(2, size=16), "size must be an integer from 32 to 256"),
    (lambda: colorworld_patches(2.5), "n must be an integer"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_unreachable_min_std_is_reported():
    with pytest.raises(RuntimeError, match="lower min_std"):
        colorworld_patches(1, size=32, min_std=0.49)
