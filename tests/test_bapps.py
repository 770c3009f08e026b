"""Tests of reprolib.chapters.lpips.bapps, offline: a small fake BAPPS folder and archives written by the tests."""

import hashlib
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from reprolib.chapters.lpips.bapps import (
    BAPPS2AFC,
    BAPPS_ARCHIVES,
    BAPPSJND,
    JND_SUBSETS,
    TWOAFC_SUBSETS,
    BappsDownloadError,
    download_bapps,
    score_bapps,
)
from reprolib.download import ArchiveError, safe_extract
from reprolib.metrics.distances import l2_distance


def save_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def write_2afc(folder: Path, n: int, seed: int, size: int = 64) -> dict:
    """n triplets: p0 = ref (identical), p1 = ref + strong noise; judge = 0 (everybody chose p0).

    Any sensible metric scores 1.0 on them. Returns the arrays written, for comparison.
    """
    rng = np.random.default_rng(seed)
    out = {"ref": [], "p0": [], "p1": [], "judge": []}
    for i in range(n):
        ref = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        noisy = np.clip(ref.astype(int) + rng.integers(-80, 81, ref.shape), 0, 255).astype(np.uint8)
        judge = np.array([0.0], dtype=np.float32)
        for name, arr in (("ref", ref), ("p0", ref.copy()), ("p1", noisy)):
            save_png(folder / name / f"{i:06d}.png", arr)
            out[name].append(arr)
        (folder / "judge").mkdir(parents=True, exist_ok=True)
        np.save(folder / "judge" / f"{i:06d}.npy", judge)
        out["judge"].append(float(judge[0]))
    return out


def write_jnd(folder: Path, n: int, seed: int) -> None:
    """n pairs, the first half identical (same = 1), the rest noisy (same = 0)."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        p0 = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        identical = i < n // 2
        p1 = p0 if identical else np.clip(p0.astype(int) + rng.integers(-80, 81, p0.shape), 0, 255).astype(np.uint8)
        save_png(folder / "p0" / f"{i:06d}.png", p0)
        save_png(folder / "p1" / f"{i:06d}.png", p1)
        (folder / "same").mkdir(parents=True, exist_ok=True)
        np.save(folder / "same" / f"{i:06d}.npy", np.array([1.0 if identical else 0.0], dtype=np.float32))


@pytest.fixture
def fake_bapps(tmp_path):
    root = tmp_path / "bapps"
    arrays = write_2afc(root / "2afc" / "val" / "traditional", n=5, seed=0)
    write_jnd(root / "jnd" / "val" / "cnn", n=6, seed=1)
    return root, arrays


# ---------------------------------------------------------------------------------------------
# datasets
# ---------------------------------------------------------------------------------------------


def test_2afc_dataset_reads_the_layout(fake_bapps):
    root, arrays = fake_bapps
    ds = BAPPS2AFC(root, "val", "traditional")
    assert len(ds) == 5 and ds.value_range == (-1.0, 1.0)
    ref, p0, p1, judge = ds[3]
    assert ref.shape == p0.shape == p1.shape == (3, 64, 64) and ref.dtype == torch.float32
    expected = torch.from_numpy(arrays["p1"][3]).permute(2, 0, 1).float() / 127.5 - 1
    assert torch.allclose(p1, expected, atol=1e-6)  # RGB order, x / 127.5 - 1
    assert judge.shape == () and judge.item() == 0.0
    ds01 = BAPPS2AFC(root, "val", "traditional", value_range=(0, 1))
    assert torch.allclose(ds01[3][2], (expected + 1) / 2, atol=1e-6)
    assert ds[-1][0].shape == (3, 64, 64)
    with pytest.raises(IndexError):
        ds[5]


def test_smaller_patches_are_resized(tmp_path):
    write_2afc(tmp_path / "2afc" / "val" / "color", n=2, seed=3, size=32)
    ds = BAPPS2AFC(tmp_path, "val", "color")
    assert ds[0][0].shape == (3, 64, 64)
    assert BAPPS2AFC(tmp_path, "val", "color", size=32)[0][0].shape == (3, 32, 32)


def test_jnd_dataset(fake_bapps):
    root, _ = fake_bapps
    ds = BAPPSJND(root, "val", "cnn")
    assert len(ds) == 6
    p0, p1, same = ds[0]
    assert torch.equal(p0, p1) and same.item() == 1.0
    assert ds[5][2].item() == 0.0


def test_missing_folder_says_where_and_how_to_download(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        BAPPS2AFC(tmp_path, "val", "superres")
    msg = str(err.value)
    assert str(tmp_path / "2afc" / "val" / "superres") in msg
    assert "download_bapps" in msg and "'val2afc'" in msg
    with pytest.raises(FileNotFoundError, match="'valjnd'"):
        BAPPSJND(tmp_path, "val", "traditional")


def test_bad_names_and_incomplete_folders(fake_bapps):
    root, _ = fake_bapps
    with pytest.raises(ValueError, match="subset must be one of traditional, cnn, superres"):
        BAPPS2AFC(root, "val", "mix")  # mix exists only in train
    with pytest.raises(ValueError, match="split must be one of train, val"):
        BAPPS2AFC(root, "test", "traditional")
    with pytest.raises(ValueError, match=r"value_range must be \(0, 1\) or \(-1, 1\)"):
        BAPPS2AFC(root, "val", "traditional", value_range=(0, 255))
    folder = root / "2afc" / "val" / "traditional"
    (folder / "judge" / "000004.npy").unlink()
    with pytest.raises(ValueError, match="incomplete"):
        BAPPS2AFC(root, "val", "traditional")
    np.save(folder / "judge" / "000009.npy", np.array([0.0]))  # 5 files again, but one name is off
    with pytest.raises(ValueError, match="do not match"):
        BAPPS2AFC(root, "val", "traditional")
    (folder / "judge" / "000009.npy").unlink()
    np.save(folder / "judge" / "000004.npy", np.array([1.7]))  # aligned again, but not a fraction
    with pytest.raises(ValueError, match=r"one fraction in \[0, 1\]"):
        BAPPS2AFC(root, "val", "traditional")[4]


# ---------------------------------------------------------------------------------------------
# scoring
# ---------------------------------------------------------------------------------------------


def test_score_bapps_on_known_answers(fake_bapps):
    root, _ = fake_bapps
    res = score_bapps(l2_distance, root, "2afc", "val", "traditional", batch_size=2, progress=False)
    assert list(res) == ["traditional"]
    assert res["traditional"].score == pytest.approx(1.0) and res["traditional"].n == 5
    assert res["traditional"].human == pytest.approx(1.0)  # unanimous judgments
    jnd = score_bapps(l2_distance, root, "jnd", subsets=["cnn"], progress=False)
    assert jnd["cnn"].score == pytest.approx(1.0)
    with pytest.raises(FileNotFoundError):  # all subsets by default: the missing ones are reported
        score_bapps(l2_distance, root, "jnd", progress=False)
    with pytest.raises(ValueError, match="kind must be one of 2afc, jnd"):
        score_bapps(l2_distance, root, "3afc")


# ---------------------------------------------------------------------------------------------
# safe extraction and the opt-in download
# ---------------------------------------------------------------------------------------------


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes = b"x") -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def add_link(tar: tarfile.TarFile, name: str, target: str, hard: bool = False) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    tar.addfile(info)


@pytest.mark.parametrize("attack", ["dotdot", "absolute", "symlink", "hardlink", "device"])
def test_safe_extract_refuses_escaping_archives(tmp_path, attack):
    archive, dest = tmp_path / "evil.tar.gz", tmp_path / "dest"
    outside = tmp_path / "outside.txt"
    with tarfile.open(archive, "w:gz") as tar:
        add_bytes(tar, "ok/harmless.txt")  # comes first: nothing may be written before the check fails
        if attack == "dotdot":
            add_bytes(tar, "ok/../../outside.txt", b"pwned")
        elif attack == "absolute":
            add_bytes(tar, str(outside), b"pwned")
        elif attack == "symlink":
            add_link(tar, "ok/link", str(tmp_path))
            add_bytes(tar, "ok/link/outside.txt", b"pwned")
        elif attack == "hardlink":
            add_link(tar, "ok/hard", "/etc/passwd", hard=True)
        else:
            info = tarfile.TarInfo("ok/dev")
            info.type = tarfile.CHRTYPE
            tar.addfile(info)
    with pytest.raises(ArchiveError, match="refusing to unpack"):
        safe_extract(archive, dest)
    assert not outside.exists()
    assert not (dest / "ok" / "harmless.txt").exists()


def test_safe_extract_unpacks_a_normal_archive(tmp_path):
    archive = tmp_path / "good.tar"
    with tarfile.open(archive, "w") as tar:
        add_bytes(tar, "a/b/c.txt", b"hello")
    names = safe_extract(archive, tmp_path / "dest")
    assert names == ["a/b/c.txt"]
    assert (tmp_path / "dest" / "a" / "b" / "c.txt").read_bytes() == b"hello"
    (tmp_path / "broken.tar.gz").write_bytes(b"not a tar file")
    with pytest.raises(ArchiveError, match="cannot unpack"):
        safe_extract(tmp_path / "broken.tar.gz", tmp_path / "dest")


def build_mirror(tmp_path: Path) -> Path:
    """A local mirror with twoafc_val.tar.gz and jnd.tar.gz in the official layouts, one example per subset."""
    staging, mirror = tmp_path / "staging", tmp_path / "mirror"
    mirror.mkdir()
    for i, subset in enumerate(TWOAFC_SUBSETS["val"]):
        write_2afc(staging / "twoafc" / "val" / subset, n=1, seed=i)
    for i, subset in enumerate(JND_SUBSETS["val"]):
        write_jnd(staging / "jnd_root" / "jnd" / "val" / subset, n=2, seed=10 + i)
    with tarfile.open(mirror / "twoafc_val.tar.gz", "w:gz") as tar:  # holds val/<subset>/...
        tar.add(staging / "twoafc" / "val", arcname="val")
    with tarfile.open(mirror / "jnd.tar.gz", "w:gz") as tar:  # holds jnd/val/<subset>/...
        tar.add(staging / "jnd_root" / "jnd", arcname="jnd")
    return mirror


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_download_from_a_mirror_verifies_unpacks_and_skips_when_present(tmp_path):
    mirror = build_mirror(tmp_path)
    root = tmp_path / "data"
    hashes = {"val2afc": sha(mirror / "twoafc_val.tar.gz"), "valjnd": sha(mirror / "jnd.tar.gz")}
    out = download_bapps(root, base_url=mirror.as_uri(), sha256=hashes, progress=False)
    assert out == {"val2afc": root / "2afc" / "val", "valjnd": root / "jnd" / "val"}
    for subset in TWOAFC_SUBSETS["val"]:
        assert len(BAPPS2AFC(root, "val", subset)) == 1
    for subset in JND_SUBSETS["val"]:
        assert len(BAPPSJND(root, "val", subset)) == 2
    assert not (root / "twoafc_val.tar.gz").exists()  # archives are deleted after unpacking
    # present parts are not fetched again (an unreachable URL proves it)
    again = download_bapps(root, base_url=(tmp_path / "nowhere").as_uri(), progress=False)
    assert again == out


def test_download_hash_mismatch_and_unpinned_hash(tmp_path):
    mirror = build_mirror(tmp_path)
    with pytest.raises(BappsDownloadError, match="differs from the expected"):
        download_bapps(tmp_path / "a", ["valjnd"], base_url=mirror.as_uri(), sha256={"valjnd": "0" * 64},
                       progress=False)
    assert not (tmp_path / "a" / "jnd").exists()  # nothing unpacked from an unverified archive
    assert BAPPS_ARCHIVES["valjnd"].sha256 is None  # not pinned: the download reports what it measured
    with pytest.warns(UserWarning, match=sha(mirror / "jnd.tar.gz")):
        download_bapps(tmp_path / "b", ["valjnd"], base_url=mirror.as_uri(), progress=False)
    assert sha(mirror / "jnd.tar.gz") in (tmp_path / "b" / "bapps_sha256.json").read_text()


def test_download_errors(tmp_path):
    with pytest.raises(BappsDownloadError, match="needs internet"):
        download_bapps(tmp_path, ["valjnd"], base_url=(tmp_path / "offline").as_uri(), progress=False)
    with pytest.raises(ValueError, match="unknown BAPPS part"):
        download_bapps(tmp_path, ["val"])
    # an archive without the BAPPS layout
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    with tarfile.open(mirror / "jnd.tar.gz", "w:gz") as tar:
        add_bytes(tar, "something/else.txt")
    with pytest.warns(UserWarning), pytest.raises(BappsDownloadError, match="lacks the subset folders"):
        download_bapps(tmp_path / "c", ["valjnd"], base_url=mirror.as_uri(), progress=False)
