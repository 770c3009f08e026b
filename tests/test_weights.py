"""Official-weight loading: strict key/shape checks and hash verification, all offline."""

import hashlib

import pytest
import torch

from reprolib import weights
from reprolib.chapters.automatic import official
from reprolib.models import ECCV16


def test_official_layout_file_loads(tmp_path, monkeypatch):
    # A file with the released layout (random values) loads strictly and the values arrive.
    src = ECCV16(width=1.0)
    with torch.no_grad():
        src.model8[6].bias.fill_(0.25)
    path = tmp_path / official.ECCV16_OFFICIAL.name
    torch.save(src.state_dict(), path)
    model = official.load_eccv16_official(path=path)
    assert torch.equal(model.model8[6].bias, torch.full((313,), 0.25))
    assert not model.training


def test_mismatched_keys_are_reported(tmp_path):
    sd = ECCV16(width=1.0).state_dict()
    sd["model9.0.weight"] = sd.pop("model8.6.weight")   # a renamed key
    sd["model1.0.bias"] = torch.zeros(3)                # a wrong shape
    with pytest.raises(weights.WeightsError) as err:
        weights.load_state_dict_strict(ECCV16(width=1.0), sd, source="test")
    msg = str(err.value)
    assert "missing keys (1): model8.6.weight" in msg
    assert "unexpected keys (1): model9.0.weight" in msg
    assert "model1.0.bias: file (3,) vs model (64,)" in msg


def test_verify_checks_sha256_prefix(tmp_path):
    f = tmp_path / "w.pth"
    f.write_bytes(b"some bytes")
    digest = hashlib.sha256(b"some bytes").hexdigest()
    weights.verify(f, weights.WeightFile("w.pth", "http://invalid/w.pth", digest[:8], 0.0))
    with pytest.raises(weights.WeightsError, match="does not start with"):
        weights.verify(f, weights.WeightFile("w.pth", "http://invalid/w.pth", "00000000", 0.0))


def test_offline_download_fails_clearly_and_leaves_nothing(tmp_path):
    wf = weights.WeightFile("x.pth", "http://127.0.0.1:9/x.pth", "deadbeef", 0.0)
    with pytest.raises(weights.WeightsError, match="needs internet access"):
        weights.fetch(wf, directory=tmp_path, timeout=2)
    assert list(tmp_path.iterdir()) == []


def test_missing_cached_file_without_download(tmp_path, monkeypatch):
    monkeypatch.setenv("REPROLIB_CACHE", str(tmp_path))
    with pytest.raises(weights.WeightsError, match="download=True"):
        official.load_eccv16_official()
