import pytest
import torch

from reprolib import config


def test_profile_precedence(monkeypatch):
    monkeypatch.setenv("REPROLIB_PROFILE", "smoke")
    assert config.get_profile() == "smoke"
    assert config.get_profile("full") == "full"
    monkeypatch.delenv("REPROLIB_PROFILE")
    assert config.get_profile() == ("full" if torch.cuda.is_available() else "fast")


def test_bad_profile_names_the_source(monkeypatch):
    monkeypatch.setenv("REPROLIB_PROFILE", "quick")
    with pytest.raises(ValueError, match="REPROLIB_PROFILE.*smoke, fast, full"):
        config.get_profile()
    with pytest.raises(ValueError, match="argument"):
        config.get_profile("huge")


def test_cache_dir_env(tmp_path, monkeypatch):
    monkeypatch.setenv("REPROLIB_CACHE", str(tmp_path / "c"))
    p = config.cache_dir("models", "x")
    assert p == tmp_path / "c" / "models" / "x" and p.is_dir()


def test_seeding_is_reproducible():
    config.seed_everything(3)
    a = torch.rand(3)
    config.seed_everything(3)
    assert torch.equal(a, torch.rand(3))
    with pytest.raises(ValueError):
        config.seed_everything(-1)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CPU-only behaviour")
def test_cpu_device_hint():
    with pytest.warns(UserWarning, match="Colab"):
        assert config.get_device().type == "cpu"
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        config.get_device("cuda")
