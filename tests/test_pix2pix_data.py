"""The aligned pix2pix/BicycleGAN datasets: a small archive in the released layout, written here, read back.

No network: the download is exercised with ``urllib.request.urlopen`` serving the archive from memory.
"""

from __future__ import annotations

import io
import tarfile
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from reprolib.data.pix2pix import AlignedPairs, download_pix2pix, split_pair
from reprolib.download import ArchiveError, safe_extract

SIDE = 16  # each half is 16 x 16, whole JPEG blocks; saved without chroma subsampling, so the halves do not bleed
JPEG_TOL = 6 / 127.5  # a few 8-bit levels, on the [-1, 1] scale


def _colours(split: str, k: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """The known colours of pair k of a split: A (left) and B (right)."""
    s = ("train", "val", "test").index(split)
    a = (40 + 60 * k, 30 + 80 * s, 200)
    b = (220 - 60 * k, 180, 20 + 70 * s)
    return a, b


def _pair_image(a, b, side: int = SIDE) -> Image.Image:
    im = Image.new("RGB", (2 * side, side), a)
    im.paste(Image.new("RGB", (side, side), b), (side, 0))
    return im


def _to_unit(rgb) -> torch.Tensor:
    return torch.tensor(rgb, dtype=torch.float32) / 127.5 - 1


def _luma(rgb) -> float:
    r, g, b = rgb
    return (299 * r + 587 * g + 114 * b) / 1000


def _archive(tmp_path, splits=("train", "val", "test"), name="facades") -> Path:
    path = tmp_path / f"{name}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for split in splits:
            for k in range(3):
                data = io.BytesIO()
                _pair_image(*_colours(split, k)).save(data, format="JPEG", quality=95, subsampling=0)
                info = tarfile.TarInfo(f"{name}/{split}/{k + 1}.jpg")
                info.size = len(data.getvalue())
                tar.addfile(info, io.BytesIO(data.getvalue()))
    return path


@pytest.fixture
def facades(tmp_path):
    names = safe_extract(_archive(tmp_path), tmp_path / "datasets")
    assert len(names) == 9 and "facades/val/2.jpg" in names
    return tmp_path / "datasets" / "facades"


# ------------------------------------------------------------------ reading back


@pytest.mark.parametrize("split", ["train", "val", "test"])
def test_each_split_reads_back_its_own_pairs(facades, split):
    ds = AlignedPairs(facades, split=split, direction="AtoB", load_size=SIDE, crop_size=SIDE)
    assert len(ds) == 3 and [p.name for p in ds.files] == ["1.jpg", "2.jpg", "3.jpg"]
    for k in range(3):
        item = ds[k]
        a, b = _colours(split, k)
        assert item["A"].shape == (3, SIDE, SIDE) and item["A"].dtype == torch.float32
        assert (item["A"] - _to_unit(a)[:, None, None]).abs().max() < JPEG_TOL
        assert (item["B"] - _to_unit(b)[:, None, None]).abs().max() < JPEG_TOL
        assert item["path"].endswith(f"{split}/{k + 1}.jpg") and not item["flipped"]


def test_btoa_takes_the_right_half_as_the_input(facades):
    ds = AlignedPairs(facades, split="val", direction="BtoA", load_size=SIDE, crop_size=SIDE)
    a, b = _colours("val", 1)
    assert (ds[1]["A"] - _to_unit(b)[:, None, None]).abs().max() < JPEG_TOL
    assert (ds[1]["B"] - _to_unit(a)[:, None, None]).abs().max() < JPEG_TOL


def test_a_grey_input_is_the_luma_of_the_left_half(facades):
    # edges2shoes / edges2handbags: input_nc = 1, the target stays RGB.
    ds = AlignedPairs(facades, split="train", input_nc=1, load_size=SIDE, crop_size=SIDE)
    for k in range(3):
        a, b = _colours("train", k)
        item = ds[k]
        assert item["A"].shape == (1, SIDE, SIDE) and item["B"].shape == (3, SIDE, SIDE)
        assert (item["A"] - (_luma(a) / 127.5 - 1)).abs().max() < JPEG_TOL
        assert (item["B"] - _to_unit(b)[:, None, None]).abs().max() < JPEG_TOL
    grey_target = AlignedPairs(facades, split="train", direction="BtoA", output_nc=1, load_size=SIDE,
                               crop_size=SIDE)[0]["B"]
    assert (grey_target - (_luma(_colours("train", 0)[0]) / 127.5 - 1)).abs().max() < JPEG_TOL


def _ramp_pair(side: int) -> Image.Image:
    """Lossless pair whose pixels name their position: A = (8 col, 8 row, 0), B = A + (4, 4, 100)."""
    rows, cols = np.mgrid[0:side, 0:side]
    a = np.stack([8 * cols, 8 * rows, np.zeros_like(cols)], -1)
    b = a + np.array([4, 4, 100])
    return Image.fromarray(np.concatenate([a, b], 1).astype(np.uint8))


@pytest.fixture
def ramps(tmp_path):
    folder = tmp_path / "ramps" / "test"
    folder.mkdir(parents=True)
    for k in range(4):
        _ramp_pair(SIDE).save(folder / f"{k}.png")
    return tmp_path / "ramps"


def test_the_test_crop_is_the_centre_and_exact(ramps):
    ds = AlignedPairs(ramps, split="test", load_size=None, crop_size=10)
    a = (ds[0]["A"] + 1) * 127.5
    assert a.shape == (3, 10, 10)
    # (16 - 10) // 2 = 3: the crop starts at row 3, column 3; PNG is lossless, so the values are exact.
    assert torch.allclose(a[0, 0], torch.tensor([8.0 * c for c in range(3, 13)]), atol=1e-4)
    assert torch.allclose(a[1, :, 0], torch.tensor([8.0 * r for r in range(3, 13)]), atol=1e-4)
    assert torch.equal(ds[0]["A"], ds[3]["A"])  # no randomness at test time: equal files, equal crops


def test_resizing_keeps_a_uniform_half_uniform(facades):
    ds = AlignedPairs(facades, split="test", load_size=8, crop_size=6)
    item = ds[2]
    a, _ = _colours("test", 2)
    assert item["A"].shape == (3, 6, 6)
    assert (item["A"] - _to_unit(a)[:, None, None]).abs().max() < JPEG_TOL


def test_training_crops_cut_a_and_b_alike_and_repeat_with_the_seed(ramps):
    ds = AlignedPairs(ramps, split="test", load_size=None, crop_size=8, train=True, seed=5)
    seen = set()
    for i in range(len(ds)):
        item = ds[i]
        diff = (item["B"] - item["A"]) * 127.5
        # the same crop and the same mirror on both sides: B - A is the constant offset everywhere
        assert torch.allclose(diff, torch.tensor([4.0, 4.0, 100.0])[:, None, None], atol=1e-3)
        a = (item["A"] + 1) * 127.5
        step = -8.0 if item["flipped"] else 8.0
        assert torch.allclose(a[0, 0, 1:] - a[0, 0, :-1], torch.full((7,), step), atol=1e-3)
        seen.add((int(a[0, 0, 0]), int(a[1, 0, 0]), item["flipped"]))
        assert torch.equal(item["A"], ds[i]["A"])  # fixed by (seed, i)
    assert len(seen) > 1  # the crops are not all the same
    no_flip = AlignedPairs(ramps, split="test", load_size=None, crop_size=8, train=True, seed=5, flip=False)
    assert not any(no_flip[i]["flipped"] for i in range(len(no_flip)))


# ------------------------------------------------------------------ errors


def test_a_missing_split_is_named_with_the_splits_present(tmp_path):
    safe_extract(_archive(tmp_path, splits=("train", "val"), name="maps"), tmp_path / "d")
    with pytest.raises(FileNotFoundError, match="has no test/ folder; the splits present are train, val"):
        AlignedPairs(tmp_path / "d" / "maps", split="test")
    with pytest.raises(ValueError, match="split must be one of"):
        AlignedPairs(tmp_path / "d" / "maps", split="testing")


def test_an_image_that_is_not_two_squares_wide_is_refused(tmp_path):
    folder = tmp_path / "odd" / "val"
    folder.mkdir(parents=True)
    Image.new("RGB", (30, 16), (10, 20, 30)).save(folder / "1.png")
    ds = AlignedPairs(tmp_path / "odd", split="val", load_size=8, crop_size=8)
    with pytest.raises(ValueError, match=r"1.png: .*width must be twice its height; got 30 x 16 .*expected 32 x 16"):
        ds[0]
    left, right = split_pair(_pair_image((1, 2, 3), (4, 5, 6), side=4))
    assert left.size == right.size == (4, 4)
    assert left.getpixel((3, 3)) == (1, 2, 3) and right.getpixel((0, 0)) == (4, 5, 6)


def test_bad_settings_are_explained(facades):
    with pytest.raises(ValueError, match="direction must be 'AtoB'"):
        AlignedPairs(facades, direction="A2B")
    with pytest.raises(ValueError, match="input_nc must be 1 \\(grey\\) or 3"):
        AlignedPairs(facades, input_nc=2)
    with pytest.raises(ValueError, match="crop_size \\(32\\) must be <= load_size \\(16\\)"):
        AlignedPairs(facades, load_size=16, crop_size=32)
    with pytest.raises(ValueError, match="smaller than crop_size=32"):
        AlignedPairs(facades, split="val", load_size=None, crop_size=32)[0]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        AlignedPairs(facades / "nowhere")


def _tar_with(tmp_path, member: tarfile.TarInfo, data: bytes = b"x") -> Path:
    path = tmp_path / "bad.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        good = tarfile.TarInfo("facades/train/ok.txt")
        good.size = 2
        tar.addfile(good, io.BytesIO(b"ok"))
        member.size = len(data) if member.isfile() else 0
        tar.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return path


def _symlink(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info


@pytest.mark.parametrize("member, why", [
    (tarfile.TarInfo("../evil.txt"), "its path climbs out with '..'"),
    (tarfile.TarInfo("facades/../../evil.txt"), "its path climbs out with '..'"),
    (tarfile.TarInfo("/tmp/evil.txt"), "it is an absolute path"),
    (_symlink("facades/train/link", "/etc/passwd"), "it is a link"),
], ids=["dotdot", "nested-dotdot", "absolute", "symlink"])
def test_a_malicious_member_is_refused_and_nothing_is_written(tmp_path, member, why):
    archive = _tar_with(tmp_path, member)
    dest = tmp_path / "out"
    with pytest.raises(ArchiveError, match=f"its member .* is unsafe \\({why}"):
        safe_extract(archive, dest)
    assert list(dest.rglob("*")) == []          # not even the good member before it
    assert not (tmp_path / "evil.txt").exists()


def test_a_file_that_is_not_an_archive_is_explained(tmp_path):
    path = tmp_path / "facades.tar.gz"
    path.write_bytes(b"<html>404</html>")
    with pytest.raises(ArchiveError, match="(?s)cannot unpack .*facades.tar.gz: .*expected a tar or tar.gz archive"):
        safe_extract(path, tmp_path / "out")


# ------------------------------------------------------------------ download, with the server in memory


class _Served(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


def test_download_unpacks_records_the_hash_and_removes_the_archive(tmp_path, monkeypatch):
    src = tmp_path / "src"
    src.mkdir()
    payload = _archive(src).read_bytes()
    asked = []

    def urlopen(url, timeout=None):
        asked.append(url)
        return _Served(payload)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    root = tmp_path / "root"
    with pytest.warns(UserWarning, match="facades.tar.gz has sha256"):
        folder = download_pix2pix("facades", root)
    assert asked == ["http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/facades.tar.gz"]
    assert folder == root / "facades" and sorted(p.name for p in folder.iterdir()) == ["test", "train", "val"]
    assert not (root / "facades.tar.gz").exists() and (root / "pix2pix_sha256.json").exists()
    assert len(AlignedPairs(folder, split="val", load_size=SIDE, crop_size=SIDE)) == 3
    assert download_pix2pix("facades", root) == folder and len(asked) == 1  # present: not fetched again
    with pytest.raises(ValueError, match="unknown pix2pix dataset 'shoes'"):
        download_pix2pix("shoes", root)
