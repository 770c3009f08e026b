"""CIFAR-10: a tiny archive in the official layout, pickled as Python 2 wrote the real batches, read back safely.

No network anywhere: the download is exercised with ``urllib.request.urlopen`` serving bytes from memory, and
one test makes every network call fail while the module is imported and the loader runs.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import os
import pickle
import pickletools
import socket
import struct
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from reprolib.data import cifar
from reprolib.data.cifar import fetch_cifar10, load_cifar10, to_grey, unpaired_domains
from reprolib.download import ArchiveError, UnsafePickleError

PER_BATCH = 6  # images per training batch (10,000 in the real data set)
N_TRAIN = PER_BATCH * len(cifar.TRAIN_BATCHES)
N_TEST = 5


class _Py2Pickler(pickle._Pickler):
    """Protocol 2 as Python 2's cPickle wrote the CIFAR-10 batches: every string (``str`` of Python 2, so
    also the dict keys and an array's raw bytes) as a BINSTRING opcode, numpy's globals under ``numpy.core``.
    (Python 3's protocol 2 writes bytes as a call of ``_codecs.encode`` instead.)"""

    dispatch = pickle._Pickler.dispatch.copy()

    def _save_py2_str(self, obj):
        data = obj if isinstance(obj, bytes) else obj.encode("latin-1")
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    def save_global(self, obj, name=None):  # also reached for functions (numpy's _reconstruct)
        module = obj.__module__.replace("numpy._core", "numpy.core")
        self.write(pickle.GLOBAL + f"{module}\n{name or obj.__qualname__}\n".encode("ascii"))
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str
    dispatch[str] = _save_py2_str
    dispatch[type] = save_global


def _py2_pickle(obj) -> bytes:
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def _images(n: int, seed: int) -> np.ndarray:
    """(n, 32, 32, 3) uint8 noise; image 0 has a constant colour, image 1 a red plane that numbers its pixels."""
    out = np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    out[0] = (10, 20, 30)
    out[1, :, :, 0] = np.arange(1024).reshape(32, 32) % 256
    return out


def _rows(images: np.ndarray) -> np.ndarray:
    """The batches' row layout: 1024 red, 1024 green, 1024 blue values per image, each plane row by row."""
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2).reshape(len(images), 3072))


def _batch(images: np.ndarray, labels: list[int], name: str) -> bytes:
    return _py2_pickle({b"batch_label": name.encode(), b"labels": [int(v) for v in labels], b"data": _rows(images),
                        b"filenames": [f"img_{i}.png".encode() for i in range(len(images))]})


TRAIN_IMAGES = _images(N_TRAIN, seed=1)
TRAIN_LABELS = np.arange(N_TRAIN) % 10  # three images of every class
TEST_IMAGES = _images(N_TEST, seed=2)
TEST_LABELS = np.array([3, 1, 4, 1, 5])


def _files() -> dict[str, bytes]:
    files = {}
    for i, name in enumerate(cifar.TRAIN_BATCHES):
        part = slice(i * PER_BATCH, (i + 1) * PER_BATCH)
        files[f"{cifar.TOP}/{name}"] = _batch(TRAIN_IMAGES[part], TRAIN_LABELS[part].tolist(),
                                              f"training batch {i + 1} of 5")
    files[f"{cifar.TOP}/{cifar.TEST_BATCH}"] = _batch(TEST_IMAGES, TEST_LABELS.tolist(), "testing batch 1 of 1")
    files[f"{cifar.TOP}/{cifar.META}"] = _py2_pickle({b"num_cases_per_batch": PER_BATCH, b"num_vis": 3072,
                                                      b"label_names": [c.encode() for c in cifar.CLASSES]})
    files[f"{cifar.TOP}/readme.html"] = b"<html>CIFAR-10</html>"
    return files


def _tar_gz(path: Path, files: dict[str, bytes], folders=(cifar.TOP,)) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for folder in folders:
            info = tarfile.TarInfo(folder)
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return _tar_gz(tmp_path_factory.mktemp("cifar") / cifar.ARCHIVE_NAME, _files())


@pytest.fixture(scope="module")
def root(archive, tmp_path_factory) -> Path:
    """The fake archive unpacked (without the download)."""
    folder = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    return folder


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


def _no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the network was touched")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


# ------------------------------------------------------------------ constants and the fixture itself


def test_the_official_archive_and_its_published_md5():
    assert cifar.CIFAR10_URL == "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    assert cifar.CIFAR10_MD5 == "c58f30108f718f92721af3b95e74349a"
    assert cifar.TRAIN_BATCHES == ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5")
    assert (cifar.N_TRAIN, cifar.N_TEST, cifar.SIZE, len(cifar.CLASSES)) == (50_000, 10_000, 32, 10)
    assert cifar.GREY_WEIGHTS == (0.299, 0.587, 0.114) and abs(sum(cifar.GREY_WEIGHTS) - 1) < 1e-12


def test_the_fixture_is_written_as_python_2_did():
    raw = _files()[f"{cifar.TOP}/data_batch_1"]
    assert raw[:2] == b"\x80\x02"  # protocol 2
    assert b"cnumpy.core.multiarray\n_reconstruct\n" in raw and b"_codecs" not in raw
    assert b"U\x04data" in raw  # the key as a Python 2 str (SHORT_BINSTRING)


# ------------------------------------------------------------------ download, with the server in memory


def test_download_checks_the_md5_before_the_rename_and_leaves_nothing(archive, tmp_path, monkeypatch):
    asked = _serve(monkeypatch, archive.read_bytes())  # our tiny archive is not the real one
    with pytest.raises(ArchiveError, match=f"md5 .* differs from the expected {cifar.CIFAR10_MD5}"):
        fetch_cifar10(tmp_path / "cache")
    assert asked == [cifar.CIFAR10_URL]
    assert list((tmp_path / "cache").iterdir()) == []  # no archive, no temporary file, no folder


def test_download_unpacks_and_removes_the_archive(archive, tmp_path, monkeypatch):
    payload = archive.read_bytes()
    asked = _serve(monkeypatch, payload)
    folder = fetch_cifar10(tmp_path / "cache", md5=hashlib.md5(payload).hexdigest())
    assert folder == tmp_path / "cache" / cifar.TOP and asked == [cifar.CIFAR10_URL]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [*cifar.TRAIN_BATCHES, cifar.TEST_BATCH, cifar.META, "readme.html"])
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [cifar.TOP]  # the archive is gone
    images, labels = load_cifar10(tmp_path / "cache")
    assert np.array_equal(images, TRAIN_IMAGES) and np.array_equal(labels, TRAIN_LABELS)
    _no_network(monkeypatch)
    assert fetch_cifar10(tmp_path / "cache") == folder  # there already: no download, no md5 of a missing archive


def test_an_archive_already_there_is_checked_then_unpacked_and_kept_on_request(archive, tmp_path, monkeypatch):
    _no_network(monkeypatch)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / cifar.ARCHIVE_NAME).write_bytes(archive.read_bytes())
    with pytest.raises(ArchiveError, match="(?s)differs from the expected.*force=True"):
        fetch_cifar10(cache)
    assert not (cache / cifar.TOP).exists()
    folder = fetch_cifar10(cache, md5=hashlib.md5(archive.read_bytes()).hexdigest(), keep_archive=True)
    assert (folder / cifar.TEST_BATCH).is_file() and (cache / cifar.ARCHIVE_NAME).is_file()


def test_download_explains_offline_a_wrong_archive_and_an_unsafe_one(tmp_path, monkeypatch):
    def offline(url, timeout=None):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(ArchiveError, match="(?s)could not download .*needs internet access.*put it at"):
        fetch_cifar10(tmp_path / "offline")
    wrong = _tar_gz(tmp_path / "wrong.tar.gz", {"other/readme.txt": b"x"}, folders=("other",))
    _serve(monkeypatch, wrong.read_bytes())
    with pytest.raises(ArchiveError, match="did not unpack to .*data_batch_1"):
        fetch_cifar10(tmp_path / "wrong", md5=None)
    unsafe = _tar_gz(tmp_path / "unsafe.tar.gz", {f"{cifar.TOP}/../../escaped": b"x"})
    _serve(monkeypatch, unsafe.read_bytes())
    with pytest.raises(ArchiveError, match="climbs out"):
        fetch_cifar10(tmp_path / "deep" / "unsafe", md5=None)
    assert not (tmp_path / "deep" / "escaped").exists() and not (tmp_path / "escaped").exists()


def test_importing_and_reading_touch_no_network(root, monkeypatch):
    _no_network(monkeypatch)
    module = importlib.reload(cifar)
    images, labels = module.load_cifar10(root, "test")
    assert images.shape == (N_TEST, 32, 32, 3)


# ------------------------------------------------------------------ reading


def test_train_split_is_the_five_batches_in_order(root):
    images, labels = load_cifar10(root)
    assert images.shape == (N_TRAIN, 32, 32, 3) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and np.array_equal(labels, TRAIN_LABELS)
    assert np.array_equal(images, TRAIN_IMAGES)
    assert images[0, 5, 7].tolist() == [10, 20, 30]  # R, G and B planes in that order
    assert images[1, 3, 4, 0] == (32 * 3 + 4) % 256 and images[1, 31, 0, 0] == (32 * 31) % 256  # rows, then columns
    assert load_cifar10(root / cifar.TOP)[0].shape == images.shape  # the batches' folder itself works too


def test_test_split_and_the_tensor_form(root):
    images, labels = load_cifar10(root, split="test")
    assert np.array_equal(images, TEST_IMAGES) and labels.tolist() == TEST_LABELS.tolist()
    x, y = load_cifar10(root, split="test", as_tensor=True)
    assert x.dtype == torch.float32 and x.shape == (N_TEST, 3, 32, 32) and y.dtype == torch.int64
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert torch.equal(x, torch.from_numpy(TEST_IMAGES).permute(0, 3, 1, 2).float() / 255)
    assert y.tolist() == TEST_LABELS.tolist()
    assert cifar.cifar10_label_names(root) == cifar.CLASSES


def test_reading_explains_what_is_missing_or_wrong(root, tmp_path):
    with pytest.raises(ValueError, match="split must be one of train, test"):
        load_cifar10(root, split="val")
    with pytest.raises(FileNotFoundError, match="fetch_cifar10"):
        load_cifar10(tmp_path / "nothing")
    folder = tmp_path / "partial" / cifar.TOP
    folder.mkdir(parents=True)
    (folder / cifar.TEST_BATCH).write_bytes((root / cifar.TOP / cifar.TEST_BATCH).read_bytes()[:200])  # cut short
    with pytest.raises(ArchiveError, match="not a readable CIFAR-10 batch"):
        load_cifar10(tmp_path / "partial", split="test")
    with pytest.raises(FileNotFoundError, match="data_batch_1"):
        load_cifar10(tmp_path / "partial", split="train")
    (folder / cifar.TEST_BATCH).write_bytes(_py2_pickle({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}))
    with pytest.raises(ArchiveError, match=r"labels in 0\.\.9"):
        load_cifar10(tmp_path / "partial", split="test")
    (folder / cifar.TEST_BATCH).write_bytes(_py2_pickle({b"data": np.zeros((2, 1024), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(ArchiveError, match=r"\(N, 3072\) uint8"):
        load_cifar10(tmp_path / "partial", split="test")


class _System:
    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_a_batch_that_would_run_a_command_is_refused_before_anything_runs(root, tmp_path):
    folder = tmp_path / "evil" / cifar.TOP
    folder.mkdir(parents=True)
    marker = tmp_path / "ran"
    command = f"touch {marker}"
    crafted = {
        "reduce": pickle.dumps({"data": _System(command), "labels": []}, protocol=2),
        "opcodes": b"\x80\x02cos\nsystem\nq\x00U" + bytes([len(command)]) + command.encode() + b"\x85R.",
        "py2": _py2_pickle({b"data": np.zeros((1, 3072), np.uint8), b"labels": [_System(command)]}),
    }
    refused = r"test_batch: refusing to unpickle the global (os|posix|nt)\.system"
    for how, payload in crafted.items():
        ops = [(op.name, arg) for op, arg, _ in pickletools.genops(payload)]  # parsed, never run
        assert ("REDUCE", None) in ops and any(name in ("GLOBAL", "STACK_GLOBAL") for name, _ in ops), how
        (folder / cifar.TEST_BATCH).write_bytes(payload)
        with pytest.raises(UnsafePickleError, match=refused):
            load_cifar10(tmp_path / "evil", split="test")
        assert not marker.exists(), how
    # Python 3's own protocol 2 writes bytes through _codecs.encode: not how the batches were written, refused too
    (folder / cifar.TEST_BATCH).write_bytes(pickle.dumps({b"data": b"x", b"labels": []}, protocol=2))
    with pytest.raises(UnsafePickleError, match="_codecs.encode"):
        load_cifar10(tmp_path / "evil", split="test")
    assert issubclass(UnsafePickleError, pickle.UnpicklingError)


# ------------------------------------------------------------------ grey and the two domains


def test_grey_is_eq_1_rounded_on_uint8_and_exact_on_floats():
    px = np.array([[[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [10, 20, 30], [0, 0, 0]]]], np.uint8)
    assert to_grey(px)[0, 0, :, 0].tolist() == [76, 150, 29, 255, 18, 0]  # 76.245, 149.685, 29.07, 255, 18.15
    x = torch.rand(4, 3, 8, 8, dtype=torch.float64)
    grey = to_grey(x)
    assert grey.shape == (4, 1, 8, 8)
    assert torch.allclose(grey[:, 0], 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2], atol=1e-15)
    with pytest.raises(ValueError, match="uint8 array"):
        to_grey(px.astype(np.float32))
    with pytest.raises(ValueError, match="float tensor"):
        to_grey(torch.zeros(1, 1, 4, 4))


def test_the_papers_domains_hold_every_image_once_each_in_its_own_order():
    d = unpaired_domains(TRAIN_IMAGES, TRAIN_LABELS, seed=0)
    assert d.grey.shape == (N_TRAIN, 32, 32, 1) and d.grey.dtype == np.uint8 and d.colour.shape == (N_TRAIN, 32, 32, 3)
    assert sorted(d.grey_index) == sorted(d.colour_index) == list(range(N_TRAIN))  # the whole training set, twice
    assert not np.array_equal(d.grey_index, d.colour_index)  # not paired: two orders
    assert np.array_equal(d.grey, to_grey(TRAIN_IMAGES)[d.grey_index])
    assert np.array_equal(d.colour, TRAIN_IMAGES[d.colour_index])
    assert np.array_equal(d.grey_labels, TRAIN_LABELS[d.grey_index])
    assert np.array_equal(d.colour_labels, TRAIN_LABELS[d.colour_index])
    again, other = unpaired_domains(TRAIN_IMAGES, TRAIN_LABELS, seed=0), unpaired_domains(TRAIN_IMAGES, TRAIN_LABELS, 1)
    assert np.array_equal(again.grey_index, d.grey_index) and np.array_equal(again.colour_index, d.colour_index)
    assert not np.array_equal(other.grey_index, d.grey_index)


def test_the_disjoint_halves_are_drawn_per_class_and_seeded():
    d = unpaired_domains(TRAIN_IMAGES, TRAIN_LABELS, seed=0, disjoint=True)
    assert set(d.grey_index).isdisjoint(d.colour_index)
    assert sorted([*d.grey_index, *d.colour_index]) == list(range(N_TRAIN))
    assert (len(d.grey), len(d.colour)) == (10, 20)  # three of every class: one to A, two to B
    assert np.bincount(d.grey_labels).tolist() == [1] * 10 and np.bincount(d.colour_labels).tolist() == [2] * 10
    assert np.array_equal(d.grey, to_grey(TRAIN_IMAGES)[d.grey_index])
    again = unpaired_domains(TRAIN_IMAGES, TRAIN_LABELS, seed=0, disjoint=True)
    assert np.array_equal(again.grey_index, d.grey_index) and np.array_equal(again.colour_index, d.colour_index)
    even = unpaired_domains(TRAIN_IMAGES[:20], TRAIN_LABELS[:20], seed=3, disjoint=True)
    assert (len(even.grey), len(even.colour)) == (10, 10)
    draws = {tuple(sorted(unpaired_domains(TRAIN_IMAGES, TRAIN_LABELS, s, disjoint=True).grey_index)) for s in range(5)}
    assert len(draws) > 1


def test_the_tensor_domains_keep_h_t_exact_and_the_labels_as_tensors(root):
    x, y = load_cifar10(root, as_tensor=True)
    d = unpaired_domains(x, y, seed=0)
    assert d.grey.shape == (N_TRAIN, 1, 32, 32) and d.colour.shape == (N_TRAIN, 3, 32, 32)
    assert isinstance(d.grey_labels, torch.Tensor) and torch.equal(d.grey_labels, y[torch.from_numpy(d.grey_index)])
    # the grey of image k is H_t (Eq. 1) of its colour version, wherever each domain put it
    where_colour = np.argsort(d.colour_index)
    h_t = to_grey(d.colour[torch.from_numpy(where_colour[d.grey_index])])
    assert torch.allclose(h_t, d.grey, atol=1e-6)
    with pytest.raises(ValueError, match="one per image"):
        unpaired_domains(x, y[:-1], seed=0)
