"""The released He et al. (2018) colorization sub-net: the .combo reader, the release's 13-channel input, the
strict loader of example_net.pth and the Imagenette pairs of the chapter's online section.

Offline: every .combo and weight file is written here (the combo byte by byte, with Pillow's PNG encoder), and
any attempt to reach the network fails the test.
"""

from __future__ import annotations

import io
import struct
import urllib.request

import numpy as np
import pytest
import torch
from PIL import Image

from reprolib.chapters.exemplar import official
from reprolib.color import rgb_to_l_ab
from reprolib.models.exemplar import ExampleColorNet, assemble_input
from reprolib.weights import WeightsError, sha256_of

H, W = 12, 20  # a combo's size (not multiples of 8, as the release's short-side-256 images often are not)


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to reach the network")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


# ------------------------------------------------------------------ a .combo in the release's layout


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def _arrays(seed: int = 0, h: int = H, w: int = W) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "warp_ba": rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
        "warp_aba": rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
        "err_ba": rng.integers(0, 256, (5, h, w), dtype=np.uint8),
        "err_ab": rng.integers(0, 256, (5, h, w), dtype=np.uint8),
    }


def _combo_bytes(a: dict, h: int = H, w: int = W) -> bytes:
    """int32 h, int32 w (little-endian), then length-prefixed PNGs: warp_ba, warp_aba, 5 x (err_ba, err_ab)."""
    blobs = [_png(a["warp_ba"]), _png(a["warp_aba"])]
    for k in range(5):
        blobs += [_png(a["err_ba"][k]), _png(a["err_ab"][k])]
    return struct.pack("<ii", h, w) + b"".join(struct.pack("<i", len(b)) + b for b in blobs)


def test_read_combo_round_trip(tmp_path):
    a = _arrays()
    data = _combo_bytes(a)
    path = tmp_path / "in1_ref1.combo"
    path.write_bytes(data)
    for source in (data, path, str(path)):
        c = official.read_combo(source)
        assert c["size"] == (H, W) and c["levels"] == ("conv5_1", "conv4_1", "conv3_1", "conv2_1", "conv1_1")
        assert c["warp_ba"].shape == (3, H, W) and c["warp_aba"].shape == (3, H, W)
        assert c["err_ba"].shape == (5, H, W) and c["err_ab"].shape == (5, H, W)
        for key in ("warp_ba", "warp_aba", "err_ba", "err_ab"):
            assert c[key].dtype == torch.float32 and 0 <= float(c[key].min()) and float(c[key].max()) <= 1
        # PNG is lossless: the bytes come back within the uint8 quantisation step.
        torch.testing.assert_close(c["warp_ba"] * 255, torch.from_numpy(a["warp_ba"]).permute(2, 0, 1).float(),
                                   rtol=0, atol=0.5)
        torch.testing.assert_close(c["warp_aba"] * 255, torch.from_numpy(a["warp_aba"]).permute(2, 0, 1).float(),
                                   rtol=0, atol=0.5)
        torch.testing.assert_close(c["err_ba"] * 255, torch.from_numpy(a["err_ba"]).float(), rtol=0, atol=0.5)
        torch.testing.assert_close(c["err_ab"] * 255, torch.from_numpy(a["err_ab"]).float(), rtol=0, atol=0.5)


def test_read_combo_keeps_rgb_order_and_the_pair_order():
    a = _arrays(1)
    a["warp_ba"][:] = (255, 0, 0)  # pure red: channel 0 of the result
    a["err_ba"] = np.stack([np.full((H, W), 10 * k, np.uint8) for k in range(5)])
    a["err_ab"] = np.stack([np.full((H, W), 200 + k, np.uint8) for k in range(5)])
    c = official.read_combo(_combo_bytes(a))
    assert torch.allclose(c["warp_ba"][0], torch.ones(H, W)) and float(c["warp_ba"][1:].abs().max()) == 0
    # Blocks alternate err_ba, err_ab level by level; the reader separates them, keeping the file's level order.
    torch.testing.assert_close(c["err_ba"][:, 0, 0] * 255, torch.tensor([0.0, 10, 20, 30, 40]), rtol=0, atol=1e-3)
    torch.testing.assert_close(c["err_ab"][:, 0, 0] * 255, torch.tensor([200.0, 201, 202, 203, 204]), rtol=0, atol=1e-3)


@pytest.mark.parametrize("cut, message", [
    (6, r"truncated.*header \(int32 w\)"),
    (10, r"truncated.*byte count of block warp_ba"),
    (40, r"truncated: block warp_ba needs"),
    (-3, r"truncated: block err_ab\[conv1_1\] needs"),
])
def test_truncated_combo_is_named(cut, message):
    data = _combo_bytes(_arrays())
    with pytest.raises(official.ComboError, match=message):
        official.read_combo(data[:cut])


def test_garbled_combo_gets_clear_errors():
    good = _combo_bytes(_arrays())
    with pytest.raises(official.ComboError, match="trailing bytes"):
        official.read_combo(good + b"\0\0\0\0")
    with pytest.raises(official.ComboError, match="not an image size"):
        official.read_combo(struct.pack("<ii", -4, W) + good[8:])
    with pytest.raises(official.ComboError, match="not an image size"):
        official.read_combo(_png(np.zeros((4, 4), np.uint8)))  # a PNG is not a combo
    bad = bytearray(good)
    bad[12:20] = b"notapng!"  # inside the first PNG's signature
    with pytest.raises(official.ComboError, match="cannot decode block warp_ba"):
        official.read_combo(bytes(bad))
    neg = bytearray(good)
    neg[8:12] = struct.pack("<i", -1)
    with pytest.raises(official.ComboError, match="byte count -1"):
        official.read_combo(bytes(neg))
    # A block of the wrong size, and a grey block where the colour image belongs.
    a = _arrays()
    a["err_ab"] = a["err_ab"][:, :, :-1]
    with pytest.raises(official.ComboError, match=r"block err_ab\[conv5_1\] is 19 x 12"):
        official.read_combo(_combo_bytes(a))
    deep = _arrays()
    deep["err_ba"] = deep["err_ba"].astype(np.uint16) * 257  # 16-bit maps: not what the release writes
    blobs = [_png(deep["warp_ba"]), _png(deep["warp_aba"]), _png(deep["err_ba"][0])]
    sixteen = struct.pack("<ii", H, W) + b"".join(struct.pack("<i", len(b)) + b for b in blobs)
    with pytest.raises(official.ComboError, match=r"block err_ba\[conv5_1\] is a I;16.* image, expected 8-bit grey"):
        official.read_combo(sixteen)
    with pytest.raises(TypeError, match="path or the file's bytes"):
        official.read_combo(12)
    with pytest.raises(FileNotFoundError, match="no combo file"):
        official.read_combo("/nonexistent/x.combo")


# ------------------------------------------------------------------ the release's 13 channels


def _target_L(h: int = H, w: int = W, seed: int = 2) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 1, h, w, generator=g) * 100


def test_combo_input_has_the_release_scalings():
    a = _arrays(3)
    c = official.read_combo(_combo_bytes(a))
    L = _target_L()
    x = official.combo_input(L, c)
    assert x.shape == (1, 13, H, W) and x.dtype == torch.float32
    # Against the release's formulas written out from the raw bytes.
    _, ab = rgb_to_l_ab(torch.from_numpy(a["warp_ba"]).permute(2, 0, 1).float()[None] / 255)
    torch.testing.assert_close(x[:, :1], L - 50, rtol=0, atol=1e-5)
    torch.testing.assert_close(x[:, 1:3], ab, rtol=1e-5, atol=1e-4)
    for maps, channels in ((a["err_ba"], slice(3, 8)), (a["err_ab"], slice(8, 13))):
        torch.testing.assert_close(x[0, channels], (torch.from_numpy(maps).float() - 127) / 2, rtol=0, atol=1e-4)
    assert -63.5 - 1e-4 <= float(x[:, 3:].min()) and float(x[:, 3:].max()) <= 64 + 1e-4
    # Against assemble_input on the same maps: the first three channels agree, the maps are 63.75 m + 0.25.
    ref = assemble_input(L, ab, c["err_ba"][None], c["err_ab"][None])
    torch.testing.assert_close(x[:, :3], ref[:, :3], rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(x[:, 3:], 63.75 * ref[:, 3:] + 0.25, rtol=0, atol=1e-4)
    torch.testing.assert_close(official.release_maps(torch.tensor([-1.0, 1.0])), torch.tensor([-63.5, 64.0]))


def test_combo_input_checks_the_target():
    c = official.read_combo(_combo_bytes(_arrays()))
    with pytest.raises(ValueError, match=r"L_target is 12 x 16 .* combo holds 12 x 20"):
        official.combo_input(_target_L(H, 16), c)
    with pytest.raises(ValueError, match=r"shape \(1, 1, H, W\)"):
        official.combo_input(_target_L()[0], c)
    with pytest.raises(ValueError, match=r"L is in"):
        official.combo_input(_target_L() * 3, c)
    with pytest.raises(TypeError, match="dict read_combo returns"):
        official.combo_input(_target_L(), {"warp_ba": c["warp_ba"]})


def test_release_errors_turn_our_similarities_into_the_files_maps():
    sim = torch.tensor([0.2, 1.0, -0.5, 0.7, 0.999]).view(1, 5, 1, 1)  # relu1_1 first
    err = official.release_errors(sim)
    # 1 - sim clipped to [0, 1], truncated to bytes, deepest level (our last) first.
    expected = torch.tensor([204, 0, 255, 76, 0]).float().flip(0) / 255  # int(255 * clamp(1 - s, 0, 1))
    torch.testing.assert_close(err.view(5), expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(official.release_errors(sim, quantize=False).view(5),
                               torch.tensor([0.8, 0.0, 1.0, 0.3, 0.001]).flip(0), rtol=0, atol=1e-6)


@pytest.fixture(scope="module")
def small_net():
    torch.manual_seed(0)
    return ExampleColorNet(width=0.125).eval()


def test_colorize_with_release_resizes_like_the_test_script(small_net):
    c = official.read_combo(_combo_bytes(_arrays(4)))
    L = _target_L()
    ab = official.colorize_with_release(small_net, L, c)
    assert ab.shape == (1, 2, H, W) and torch.isfinite(ab).all() and not ab.requires_grad
    # The same as resizing the input to 8 x 16 by hand, running the net and resizing back bicubically.
    x = torch.nn.functional.interpolate(official.combo_input(L, c), size=(8, 16), mode="bilinear", align_corners=False)
    with torch.no_grad():
        back = torch.nn.functional.interpolate(small_net(x), size=(H, W), mode="bicubic", align_corners=False)
    torch.testing.assert_close(ab, back, rtol=1e-4, atol=1e-4)


def test_release_forward_leaves_multiples_of_8_alone(small_net):
    a = _arrays(5, 16, 24)
    c = official.read_combo(_combo_bytes(a, 16, 24))
    x = official.combo_input(_target_L(16, 24), c)
    with torch.no_grad():
        direct = small_net(x)
    torch.testing.assert_close(official.release_forward(small_net, x), direct, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="13-channel input"):
        official.release_forward(small_net, x[:, :12])
    with pytest.raises(ValueError, match="at least 8 x 8"):
        official.release_forward(small_net, x[..., :4, :])
    with pytest.raises(TypeError, match="ExampleColorNet"):
        official.colorize_with_release("net", _target_L(16, 24), c)


# ------------------------------------------------------------------ the weights, offline


def test_the_release_facts():
    assert official.EXAMPLE_NET.name == "example_net.pth"
    assert official.EXAMPLE_NET_PAGE == "https://www.dropbox.com/s/rg6qi5iz3sj7cnc/example_net.pth?dl=0"
    assert official.EXAMPLE_NET.url == "https://www.dropbox.com/s/rg6qi5iz3sj7cnc/example_net.pth?dl=1"
    assert official.EXAMPLE_NET.sha256_prefix == ""  # none is published: nothing is claimed
    bn_channels = 64 + 128 + 256 + 4 * 512 + 256 + 128  # the nine BatchNorms' running mean and variance
    assert official.min_file_bytes() == 4 * (official.RELEASED_PARAMETERS + 2 * bn_channels)
    assert abs(official.EXAMPLE_NET.size_mb - official.min_file_bytes() / 1e6) < 0.05


@pytest.fixture(scope="module")
def fresh_state():
    torch.manual_seed(1)
    return ExampleColorNet().state_dict()


def _save(state, path):
    torch.save(state, path)
    return path


def test_strict_loader_loads_a_file_of_the_released_layout(fresh_state, tmp_path, capsys):
    # Without the counters, as a 2018 file may be: the loader adds them.
    state = {k: v for k, v in fresh_state.items() if not k.endswith("num_batches_tracked")}
    path = _save(state, tmp_path / "example_net.pth")
    net = official.load_example_net_official(path=path)
    assert not net.training
    assert torch.equal(net.conv1_1[0].weight, fresh_state["conv1_1.0.weight"])
    assert torch.equal(net.conv4_3norm.running_var, fresh_state["conv4_3norm.running_var"])
    assert sum(p.numel() for p in net.parameters()) == official.RELEASED_PARAMETERS
    digest = sha256_of(path)
    assert digest in capsys.readouterr().out
    official.load_example_net_official(path=path, sha256=digest[:12].upper(), report=False)
    with pytest.raises(WeightsError, match="does not start with"):
        official.load_example_net_official(path=path, sha256="0" * 64, report=False)
    with pytest.raises(ValueError, match="hex digest"):
        official.load_example_net_official(path=path, sha256="xyz", report=False)


def test_strict_loader_names_a_missing_key_and_a_wrong_shape(fresh_state, tmp_path):
    missing = dict(fresh_state)
    del missing["conv10_ab.bias"]
    with pytest.raises(WeightsError, match=r"missing keys \(1\): conv10_ab.bias"):
        official.load_example_net_official(path=_save(missing, tmp_path / "a.pth"), report=False)
    reshaped = dict(fresh_state)
    reshaped["conv10_ab.weight"] = torch.zeros(2, 64, 1, 1)
    with pytest.raises(WeightsError, match=r"shape mismatches \(1\): conv10_ab.weight"):
        official.load_example_net_official(path=_save(reshaped, tmp_path / "b.pth"), report=False)
    extra = dict(fresh_state)
    extra["conv11.weight"] = torch.zeros(2)
    with pytest.raises(WeightsError, match=r"unexpected keys \(1\): conv11.weight"):
        official.load_example_net_official(path=_save(extra, tmp_path / "c.pth"), report=False)


def test_loader_refuses_small_files_non_state_dicts_and_absent_files(tmp_path, monkeypatch):
    small = _save(ExampleColorNet(width=0.125).state_dict(), tmp_path / "small.pth")
    with pytest.raises(WeightsError, match="truncated or not the released one"):
        official.load_example_net_official(path=small, report=False)
    page = tmp_path / "page.pth"
    page.write_bytes(b"<html>" + b" " * official.min_file_bytes())  # a Dropbox page padded to size
    with pytest.raises(WeightsError, match="weights-only state dict"):
        official.load_example_net_official(path=page, report=False)
    with pytest.raises(WeightsError, match="is not a file"):
        official.load_example_net_official(path=tmp_path / "none.pth", report=False)
    monkeypatch.setenv("REPROLIB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(WeightsError, match=r"download=True"):
        official.load_example_net_official()


def test_download_path_checks_before_renaming(tmp_path, monkeypatch, fresh_state):
    # The network is replaced by bytes in memory: first an HTML page, then the file.
    served = {}

    class Response(io.BytesIO):
        def __init__(self, body: bytes):
            super().__init__(body)
            self.headers: dict = {}

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def fake_urlopen(url, timeout=None):
        served["url"] = url
        return Response(served["body"])

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    served["body"] = b"<html>sign in to Dropbox</html>"
    with pytest.raises(WeightsError, match="truncated or not the released one"):
        official.fetch_example_net(tmp_path, progress=False)
    assert served["url"].endswith("example_net.pth?dl=1")
    assert list(tmp_path.iterdir()) == []  # nothing left under the final name, no temporary file
    buf = io.BytesIO()
    torch.save(fresh_state, buf)
    served["body"] = buf.getvalue()
    path = official.fetch_example_net(tmp_path, progress=False)
    assert path == tmp_path / "example_net.pth" and path.stat().st_size == len(served["body"])
    served["body"] = b""  # a second call uses the file on disk
    assert official.fetch_example_net(tmp_path, progress=False) == path


# ------------------------------------------------------------------ Imagenette pairs


def _photo_tree(root, counts: dict[str, int]) -> None:
    for c, (cls, n) in enumerate(counts.items()):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            rgb = np.zeros((10, 14, 3), np.uint8)
            rgb[..., c % 3] = 60 + 60 * (c // 3) + i  # class colour, a little different per photo
            Image.fromarray(rgb).save(root / cls / f"{cls}_{i}.png")
    Image.fromarray(np.full((10, 14), 128, np.uint8)).save(root / next(iter(counts)) / "grey.png")


def test_imagenette_pairs_are_same_class_and_seeded(tmp_path):
    root = tmp_path / "imagenette2-160" / "val"
    _photo_tree(root, {"n01440764": 3, "n02102040": 2, "n02979186": 1, "n03000684": 4})
    pairs = official.imagenette_pairs(root, n=6, size=8, seed=0)
    assert pairs["target"].shape == (6, 3, 8, 8) and pairs["reference"].shape == (6, 3, 8, 8)
    assert pairs["target"].dtype == torch.float32
    assert 0 <= float(pairs["target"].min()) and float(pairs["reference"].max()) <= 1
    assert len(set(pairs["target_path"])) == 6  # targets without repetition
    for t, r, label in zip(pairs["target_path"], pairs["reference_path"], pairs["label"]):
        assert t != r and f"/{label}/" in t and f"/{label}/" in r
        assert label != "n02979186" and not t.endswith("grey.png") and not r.endswith("grey.png")
    # Each photo's tensor is its own file's: the dominant channel is its class colour.
    for img, label in zip(pairs["target"], pairs["label"]):
        c = ["n01440764", "n02102040", "n02979186", "n03000684"].index(label)
        assert int(img.mean((1, 2)).argmax()) == c % 3
    again = official.imagenette_pairs(root, n=6, size=8, seed=0)
    assert again["target_path"] == pairs["target_path"] and again["reference_path"] == pairs["reference_path"]
    assert torch.equal(again["target"], pairs["target"])
    others = [official.imagenette_pairs(root, n=6, size=8, seed=s)["target_path"] for s in range(1, 6)]
    assert any(o != pairs["target_path"] for o in others)


def test_imagenette_pairs_errors(tmp_path):
    root = tmp_path / "val"
    _photo_tree(root, {"a": 2, "b": 1})
    with pytest.raises(ValueError, match="only 2 photos"):
        official.imagenette_pairs(root, n=3, size=8, seed=0)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        official.imagenette_pairs(root, n=0, size=8, seed=0)
    Image.fromarray(np.zeros((10, 14, 3), np.uint8) + 9).save(root / "loose.png")
    with pytest.raises(ValueError, match="directly in"):
        official.imagenette_pairs(root, n=1, size=8, seed=0)
    with pytest.raises(FileNotFoundError):
        official.imagenette_pairs(tmp_path / "missing", n=1, size=8, seed=0)


def test_imagenette_note_has_the_facts():
    note = official.IMAGENETTE_NOTE
    assert official.IMAGENETTE_URL in note and official.IMAGENETTE_MD5 in note
    assert "imagenette2-160/val/<wnid>" in note and "n03888257" in note


def test_imagenette_archive_is_refused_when_its_md5_differs(tmp_path, monkeypatch):
    import io as _io

    from reprolib.chapters.exemplar import official

    payload = b"not the archive"

    class Response(_io.BytesIO):
        headers = {"Content-Length": str(len(payload))}

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr("urllib.request.urlopen", lambda url, timeout=60: Response(payload))
    with pytest.raises(official.WeightsError, match="MD5"):
        official.fetch_imagenette(tmp_path)
    assert not (tmp_path / "imagenette2-160.tgz").exists() and not list(tmp_path.iterdir())
