"""LFW (deep-funneled): a tiny archive in LFW's layout, written here, read back without unpacking it.

No network anywhere: the download is exercised with ``urllib.request.urlopen`` serving bytes from memory,
and one test makes every network call fail while the module is imported and the loader runs.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import pickle
import socket
import tarfile
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from reprolib.data import lfw
from reprolib.data.lfw import LFWFaces, fetch_lfw, lfw_members, person_of, split_lfw
from reprolib.download import ArchiveError

RED, GREEN, BLUE = (220, 20, 20), (30, 200, 40), (20, 30, 210)


def _jpeg(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _noise(w: int, h: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def _framed() -> Image.Image:
    """250 x 250: a green 100 x 100 centre in a blue frame."""
    im = Image.new("RGB", (250, 250), BLUE)
    im.paste(Image.new("RGB", (100, 100), GREEN), (75, 75))
    return im


# 3 people, 5 images of different sizes and modes; written in a shuffled order, with other members about
FACES = {
    "lfw-deepfunneled/Bob_Ray/Bob_Ray_0002.jpg": _noise(250, 250, seed=1),
    "lfw-deepfunneled/Ann_Lee/Ann_Lee_0001.jpg": Image.new("RGB", (40, 30), RED),
    "lfw-deepfunneled/Cy_de_la_Vega/Cy_de_la_Vega_0001.jpg": _framed(),
    "lfw-deepfunneled/Ann_Lee/Ann_Lee_0002.jpg": _noise(250, 250, seed=2),
    "lfw-deepfunneled/Bob_Ray/Bob_Ray_0001.jpg": Image.new("L", (30, 40), 128),  # a grey JPEG
}
NOISE = "lfw-deepfunneled/Bob_Ray/Bob_Ray_0002.jpg"
RED_ONE = "lfw-deepfunneled/Ann_Lee/Ann_Lee_0001.jpg"
GREY_ONE = "lfw-deepfunneled/Bob_Ray/Bob_Ray_0001.jpg"
FRAMED = "lfw-deepfunneled/Cy_de_la_Vega/Cy_de_la_Vega_0001.jpg"


def _add(tar: tarfile.TarFile, name: str, data: bytes | None = None) -> None:
    info = tarfile.TarInfo(name)
    if data is None:
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    else:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def _write(path: Path, files: dict[str, bytes], folders=()) -> Path:
    with tarfile.open(path, "w:gz" if path.suffix in (".tgz", ".gz") else "w") as tar:
        for folder in folders:
            _add(tar, folder)
        for name, data in files.items():
            _add(tar, name, data)
    return path


def _lfw_archive(folder: Path, name: str = "lfw-deepfunneled.tgz") -> Path:
    files = {n: _jpeg(im) for n, im in FACES.items()}
    files["lfw-deepfunneled/README.txt"] = b"not an image"
    files["lfw-deepfunneled/Ann_Lee/Bob_Ray_0003.jpg"] = _jpeg(Image.new("RGB", (8, 8)))  # wrong folder
    folders = ["lfw-deepfunneled", "lfw-deepfunneled/Ann_Lee", "lfw-deepfunneled/Bob_Ray"]
    return _write(folder / name, files, folders)


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return _lfw_archive(tmp_path_factory.mktemp("lfw"))


# ------------------------------------------------------------------ members and split


def test_members_are_the_images_in_the_layout_sorted(archive):
    assert lfw_members(archive) == sorted(FACES)
    assert person_of(FRAMED) == "Cy_de_la_Vega"
    with pytest.raises(ValueError, match="not an image member in LFW's layout"):
        person_of("lfw-deepfunneled/README.txt")


def test_a_plain_tar_with_dot_slash_names_is_read_too(tmp_path):
    files = {f"./{n}": _jpeg(im) for n, im in FACES.items()}
    path = _write(tmp_path / "lfw.tar", files)
    assert lfw_members(path) == sorted(FACES)
    assert LFWFaces(path, [RED_ONE], size=8)[0]["rgb"].shape == (3, 8, 8)


def test_split_is_seeded_disjoint_and_covers_everything(archive):
    members = lfw_members(archive)
    train, test = split_lfw(members, n_test=2, seed=0)
    assert len(test) == 2 and len(train) == 3
    assert set(train).isdisjoint(test) and sorted(train + test) == members
    assert train == sorted(train) and test == sorted(test)
    assert split_lfw(members[::-1], n_test=2, seed=0) == (train, test)  # the input order does not matter
    draws = {tuple(split_lfw(members, n_test=2, seed=s)[1]) for s in range(12)}
    assert len(draws) > 1  # the seed matters


def test_split_has_the_papers_sizes_and_an_image_keeps_its_rank():
    names = [f"lfw-deepfunneled/P{k // 3}/P{k // 3}_{k % 3 + 1:04d}.jpg" for k in range(lfw.LFW_N_IMAGES)]
    train, test = split_lfw(names, seed=3)
    assert (len(train), len(test)) == (12233, 1000)
    # an image's side depends on its own name and the seed, not on which other images are present
    _, test_less = split_lfw([n for n in names if n != train[0]], n_test=1000, seed=3)
    assert test_less == test


def test_split_refuses_bad_arguments(archive):
    members = lfw_members(archive)
    with pytest.raises(ValueError, match=r"n_test must be an integer from 0 to the number of members \(5\)"):
        split_lfw(members, n_test=6)
    with pytest.raises(ValueError, match="duplicates"):
        split_lfw(members + members[:1], n_test=1)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        split_lfw(members, n_test=1, seed=-1)


# ------------------------------------------------------------------ the dataset


def test_images_have_the_shape_range_and_order_asked_for(archive):
    ds = LFWFaces(archive)
    assert len(ds) == 5 and ds.members == sorted(FACES)
    for i in range(len(ds)):
        item = ds[i]
        assert item["rgb"].shape == (3, 64, 64) and item["rgb"].dtype == torch.float32
        assert 0.0 <= item["rgb"].min() and item["rgb"].max() <= 1.0
        assert item["name"] == ds.members[i] and item["person"] == person_of(ds.members[i])
    small = LFWFaces(archive, members=[NOISE, RED_ONE], size=16)
    b = small.batch([1, 0, -1])
    assert b["rgb"].shape == (3, 3, 16, 16) and b["index"].tolist() == [1, 0, 1]
    assert torch.equal(b["rgb"][0], small[1]["rgb"]) and torch.equal(b["rgb"][1], small[0]["rgb"])
    assert small.batch([])["rgb"].shape == (0, 3, 16, 16)


def test_colour_and_grey_survive_the_resize(archive):
    ds = LFWFaces(archive, members=[RED_ONE, GREY_ONE], size=64)
    red = ds[0]["rgb"]  # 40 x 30 JPEG, upsampled from its centred 30 x 30
    assert red[0].min() > 0.75 and red[1:].max() < 0.2
    grey = ds[1]["rgb"]
    assert (grey - 128 / 255).abs().max() < 3 / 255  # a grey JPEG comes back grey, all channels equal
    assert torch.equal(grey[0], grey[1]) and torch.equal(grey[1], grey[2])


def test_the_crop_is_the_centred_square(archive):
    whole = LFWFaces(archive, members=[FRAMED], size=25)[0]["rgb"]  # the whole photo, 10x smaller
    green, blue = torch.tensor(GREEN) / 255, torch.tensor(BLUE) / 255
    assert (whole[:, 12, 12] - green).abs().max() < 0.05 and (whole[:, 0, 0] - blue).abs().max() < 0.05
    centre = LFWFaces(archive, members=[FRAMED], size=10, crop=90)[0]["rgb"]  # inside the green square
    assert (centre - green[:, None, None]).abs().max() < 0.05
    with pytest.raises(ValueError, match="is 40 x 30 pixels, smaller than crop=32"):
        LFWFaces(archive, members=[RED_ONE], crop=32)[0]


def test_a_resized_noise_image_is_the_pillow_bilinear_resize(archive):
    ds = LFWFaces(archive, members=[NOISE], size=32)
    with tarfile.open(archive) as tar:
        with Image.open(tar.extractfile(NOISE)) as im:
            ref = np.asarray(im.convert("RGB").resize((32, 32), Image.Resampling.BILINEAR), dtype=np.float32)
    assert torch.allclose(ds[0]["rgb"] * 255, torch.from_numpy(ref).permute(2, 0, 1), atol=1e-3)
    # antialiased: each output pixel averages about 8 x 8 source pixels, so uniform noise (std 0.29) keeps
    # std ~0.03; a bilinear point sample of 2 x 2 neighbours, as cv2.resize takes, would keep at least 0.14
    rgb = ds[0]["rgb"]
    assert float(rgb.std()) < 0.07 and abs(float(rgb.mean()) - 0.5) < 0.05


def test_preloaded_and_lazy_reads_agree_and_the_dataset_pickles(archive):
    lazy = LFWFaces(archive, size=16)
    order = [4, 0, 3, 1, 2, 0]
    rows = lazy.batch(order)["rgb"]
    eager = LFWFaces(archive, size=16, preload=True)
    assert torch.equal(eager.batch(order)["rgb"], rows)
    assert "preloaded=True" in repr(eager)
    copy = pickle.loads(pickle.dumps(lazy))  # the open archive stays behind; the copy opens its own
    assert copy._tar is None
    assert torch.equal(copy[3]["rgb"], rows[2])
    lazy.close()
    assert torch.equal(lazy[4]["rgb"], rows[0])  # reopens after close


# ------------------------------------------------------------------ errors


def test_a_file_that_is_not_an_archive_is_explained(tmp_path):
    path = tmp_path / "lfw-deepfunneled.tgz"
    path.write_bytes(b"<html>404 Not Found</html>")
    with pytest.raises(ArchiveError, match=r"(?s)is not a readable tar archive .*expected lfw-deepfunneled.tgz"):
        lfw_members(path)
    with pytest.raises(ArchiveError, match="is not a readable tar archive"):
        LFWFaces(path)
    with pytest.raises(FileNotFoundError, match="no LFW archive at .*fetch_lfw"):
        lfw_members(tmp_path / "absent.tgz")


def test_an_archive_without_the_layout_is_explained(tmp_path):
    path = _write(tmp_path / "faces.tgz", {"faces/Ann_Lee/Ann_Lee_0001.jpg": b"x",
                                           "lfw-deepfunneled/Ann_Lee/Ann_Lee_1.jpg": b"x"})
    with pytest.raises(ArchiveError, match=r"holds no image in LFW's layout: expected members named "
                                           r"lfw-deepfunneled/<Person_Name>/<Person_Name>_0001.jpg.*"
                                           r"its first files are faces/Ann_Lee/Ann_Lee_0001.jpg"):
        lfw_members(path)
    empty = _write(tmp_path / "empty.tgz", {})
    with pytest.raises(ArchiveError, match="it holds no files"):
        lfw_members(empty)


def test_bad_indices_members_and_settings_are_explained(archive):
    ds = LFWFaces(archive, size=8)
    with pytest.raises(IndexError, match="index 5 out of range for a selection of 5 images"):
        ds[5]
    with pytest.raises(IndexError, match="index -6 out of range"):
        ds.batch([0, -6])
    with pytest.raises(TypeError, match="LFWFaces index must be an int"):
        ds[1.0]
    with pytest.raises(ValueError, match=r"1 of the 2 members asked for are not images of .*'lfw-deepfunneled/README.txt'"):
        LFWFaces(archive, members=[RED_ONE, "lfw-deepfunneled/README.txt"])
    with pytest.raises(ValueError, match="size must be a positive integer"):
        LFWFaces(archive, size=0)
    with pytest.raises(ValueError, match="crop must be a positive integer .*or None"):
        LFWFaces(archive, crop=-3)


def test_a_damaged_image_names_the_member(tmp_path):
    path = _write(tmp_path / "lfw-deepfunneled.tgz", {RED_ONE: b"\xff\xd8 not really a jpeg"})
    with pytest.raises(OSError, match="cannot decode lfw-deepfunneled/Ann_Lee/Ann_Lee_0001.jpg from"):
        LFWFaces(path)[0]


# ------------------------------------------------------------------ no network


def _no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the network was touched")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_importing_and_reading_touch_no_network(archive, monkeypatch):
    _no_network(monkeypatch)
    module = importlib.reload(lfw)
    members = module.lfw_members(archive)
    train, test = module.split_lfw(members, n_test=1)
    ds = module.LFWFaces(archive, members=test, size=8, preload=True)
    assert ds.batch(range(len(ds)))["rgb"].shape == (1, 3, 8, 8)


# ------------------------------------------------------------------ download, with the server in memory


class _Served(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


def _serve(monkeypatch, payload: bytes) -> list[str]:
    asked = []

    def urlopen(url, timeout=None):
        asked.append(url)
        return _Served(payload)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return asked


def test_download_checks_the_published_md5_and_keeps_nothing_that_fails(archive, tmp_path, monkeypatch):
    asked = _serve(monkeypatch, archive.read_bytes())  # our tiny archive is not the real one
    with pytest.raises(ArchiveError, match=f"md5 .* differs from the expected {lfw.LFW_MD5}"):
        fetch_lfw(tmp_path / "cache")
    assert asked == [lfw.LFW_URL]
    assert list((tmp_path / "cache").iterdir()) == []  # no archive, no partial file


def test_download_without_a_pinned_sha256_reports_and_records_it(archive, tmp_path, monkeypatch):
    payload = archive.read_bytes()
    asked = _serve(monkeypatch, payload)
    digest = hashlib.sha256(payload).hexdigest()
    with pytest.warns(UserWarning, match=f"lfw-deepfunneled.tgz has sha256 {digest}"):
        path = fetch_lfw(tmp_path / "cache", md5=hashlib.md5(payload).hexdigest())
    assert path == tmp_path / "cache" / "lfw-deepfunneled.tgz" and path.read_bytes() == payload
    assert json.loads((tmp_path / "cache" / "lfw_sha256.json").read_text()) == {"lfw-deepfunneled.tgz": digest}
    assert lfw_members(path) == sorted(FACES)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # present and already recorded: no download, no second report
        assert fetch_lfw(tmp_path / "cache", md5=None, sha256=digest) == path
    assert len(asked) == 1
    with pytest.raises(ArchiveError, match="sha256 .* differs .*fetch_lfw\\(force=True\\)"):
        fetch_lfw(tmp_path / "cache", md5=None, sha256="0" * 64)


def test_download_refuses_an_error_page_and_explains_offline(tmp_path, monkeypatch):
    _serve(monkeypatch, b"<html>moved</html>")
    with pytest.raises(ArchiveError, match="is not a readable tar archive"):
        fetch_lfw(tmp_path / "cache", md5=None)
    assert not (tmp_path / "cache" / "lfw-deepfunneled.tgz").exists()

    def offline(url, timeout=None):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(ArchiveError, match="(?s)could not download .*needs internet access.*put it at"):
        fetch_lfw(tmp_path / "cache")
