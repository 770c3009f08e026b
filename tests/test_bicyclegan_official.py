"""The released BicycleGAN G and E: layout on the meta device, old-file patching, strict errors, loading.

No test downloads anything: layouts come from networks built on the meta device, and the download path is
exercised with ``urllib.request.urlopen`` replaced by a function that serves bytes from memory.
"""

from __future__ import annotations

import io
import urllib.request

import pytest
import torch
from torch import nn

from reprolib.chapters.bicyclegan import official
from reprolib.chapters.bicyclegan.verdicts import hand_count_E, hand_count_G
from reprolib.nn.latent import ResNetEncoder
from reprolib.nn.unet import UNetZ
from reprolib.weights import WeightsError

# ------------------------------------------------------------------ the parameter counts by hand


# The formulas live in the chapter's verdicts (its facts compare them with the built networks).


def test_the_hand_formula_counts_a_small_unet_too():
    # Control: the formula is not fitted to the one configuration; it matches other widths and nz as well.
    with torch.device("meta"):
        g = UNetZ(2, 3, 5, 8, ngf=4)
    assert sum(p.numel() for p in g.parameters()) == hand_count_G(2, nz=5, ngf=4)


@pytest.mark.parametrize("name, part, count", [
    ("edges2shoes", "G", 54_792_579),
    ("edges2handbags", "G", 54_792_579),
    ("facades", "G", 54_794_627),
    ("maps", "G", 54_794_627),
    ("night2day", "G", 54_794_627),
    ("edges2shoes", "E", 2_590_032),
    ("facades", "E", 2_590_032),
])
def test_parameter_counts_match_the_hand_formula(name, part, count):
    m = official.RELEASED_MODELS[name]
    by_hand = hand_count_G(m.input_nc) if part == "G" else hand_count_E()
    assert by_hand == count
    assert official.parameter_count(name, part) == count
    net = official.official_network(name, part, torch.device("meta"))
    assert sum(p.numel() for p in net.parameters()) == count
    assert official.min_file_size(name, part) == 4 * count  # no buffers: the file is its float32 parameters


def test_grey_and_rgb_generators_differ_by_two_input_channels_of_the_first_conv():
    # 54,794,627 - 54,792,579 = 2 channels x 64 filters x 4 x 4.
    assert official.parameter_count("facades") - official.parameter_count("edges2shoes") == 2 * 64 * 16


# ------------------------------------------------------------------ the layout on the meta device


def test_released_table():
    table = official.RELEASED_MODELS
    assert sorted(table) == ["edges2handbags", "edges2shoes", "facades", "maps", "night2day"]
    assert {n for n, m in table.items() if m.input_nc == 1} == {"edges2shoes", "edges2handbags"}
    assert {n for n, m in table.items() if m.direction == "BtoA"} == {"facades", "maps"}
    assert [n for n, m in table.items() if not m.encode] == ["maps"]
    assert official.weight_url("edges2shoes", "E") == \
        "http://efrosgans.eecs.berkeley.edu/BicycleGAN//models/edges2shoes_net_E.pth"


def test_edges2shoes_generator_layout():
    layout = official.expected_layout("edges2shoes", "G")
    assert len(layout) == 32  # 8 down convs + 8 up convs, weight and bias; norms and dropout own no tensors
    assert layout["model.down.0.weight"] == (64, 1 + 8, 4, 4)
    assert layout["model.submodule.down.1.weight"] == (128, 64 + 8, 4, 4)  # z enters the second level too
    innermost = "model" + ".submodule" * 7
    assert layout[innermost + ".down.1.weight"] == (512, 512 + 8, 4, 4)
    assert layout[innermost + ".up.1.weight"] == (512, 512, 4, 4)    # ConvTranspose2d: (in, out, k, k)
    assert layout["model.up.1.weight"] == (128, 3, 4, 4)             # 2 x 64 skip channels -> RGB
    down_inputs = [shape[1] for key, shape in layout.items()
                   if key.endswith("down.1.weight") or key == "model.down.0.weight"]
    assert down_inputs == [9, 72, 136, 264, 520, 520, 520, 520]  # every down conv has nz = 8 extra inputs
    assert not [k for k in layout if "running" in k or "num_batches" in k]


def test_the_meta_build_allocates_nothing():
    g = official.official_generator("facades", torch.device("meta"))
    assert all(p.is_meta for p in g.parameters())
    assert g.model.down[0].weight.shape == (64, 3 + 8, 4, 4)


def test_encoder_layout_is_the_same_for_every_model():
    layout = official.expected_layout("edges2shoes", "E")
    assert len(layout) == 30
    assert layout["conv.0.weight"] == (64, 3, 4, 4)  # E reads the RGB output side, even for edge inputs
    assert layout["fc.0.weight"] == (8, 256) and layout["fcVar.0.weight"] == (8, 256)
    assert layout["conv.4.shortcut.1.weight"] == (256, 256, 1, 1)
    assert all(official.expected_layout(n, "E") == layout for n in official.RELEASED_MODELS)


def test_bad_names_are_explained():
    with pytest.raises(ValueError, match="released ones are edges2shoes, edges2handbags"):
        official.official_generator("shoes")
    with pytest.raises(ValueError, match="'G' \\(the generator\\) or 'E'"):
        official.expected_layout("facades", "D")


# ------------------------------------------------------------------ old files and strict errors


def _meta_state(net: nn.Module) -> dict[str, torch.Tensor]:
    return {k: torch.empty(v.shape, device="meta") for k, v in net.state_dict().items()}


def _instance_norms(net: nn.Module) -> list[tuple[str, int]]:
    return [(n, m.num_features) for n, m in net.named_modules() if isinstance(m, nn.InstanceNorm2d)]


@pytest.mark.parametrize("part, n_norms", [("G", 13), ("E", 8)])
def test_running_stats_of_old_files_are_stripped(part, n_norms):
    # A file from PyTorch < 0.4 holds running_mean/var for every InstanceNorm layer: 13 in G (6 on the down
    # path, 7 on the up path), 8 in E (two per residual block).
    net = official.official_network("edges2shoes", part, torch.device("meta"))
    norms = _instance_norms(net)
    assert len(norms) == n_norms
    state = _meta_state(net)
    for name, c in norms:
        state[f"{name}.running_mean"] = torch.zeros(c)
        state[f"{name}.running_var"] = torch.ones(c)
    state[f"{norms[0][0]}.num_batches_tracked"] = torch.tensor(0)
    assert len(state) == len(net.state_dict()) + 2 * n_norms + 1
    kept = official.conform_state_dict(state, net)
    assert set(kept) == set(net.state_dict())


def test_running_stats_on_a_layer_that_is_not_an_instance_norm_are_refused():
    net = official.official_generator("edges2shoes", torch.device("meta"))
    state = _meta_state(net)
    state["model.down.0.running_mean"] = torch.zeros(64)  # a conv has no statistics: not an old-file artefact
    with pytest.raises(WeightsError, match=r"unexpected keys \(1\): model\.down\.0\.running_mean"):
        official.conform_state_dict(state, net)


def test_strict_error_names_missing_unexpected_and_misshaped_keys():
    net = official.official_generator("edges2shoes", torch.device("meta"))
    state = _meta_state(official.official_generator("facades", torch.device("meta")))  # RGB input: 11 channels
    state["model.up.9.weight"] = state.pop("model.up.1.weight")
    with pytest.raises(WeightsError) as err:
        official.conform_state_dict(state, net, source="facades_net_G.pth")
    msg = str(err.value)
    assert "facades_net_G.pth does not fit UNetZ" in msg
    assert "missing keys (1): model.up.1.weight" in msg
    assert "unexpected keys (1): model.up.9.weight" in msg
    assert "shape mismatches (1): model.down.0.weight: file (64, 11, 4, 4) vs model (64, 9, 4, 4)" in msg
    assert "issue #27" in msg


def test_a_generator_trained_with_another_nz_mismatches_every_down_conv():
    # BicycleGAN issue #27: with add_all, nz is part of all eight down convs' shapes (and of nothing else).
    with torch.device("meta"):
        other = UNetZ(1, 3, 16, 8)
    net = official.official_generator("edges2shoes", torch.device("meta"))
    with pytest.raises(WeightsError, match=r"shape mismatches \(8\)") as err:
        official.conform_state_dict(_meta_state(other), net)
    assert "missing" not in str(err.value) and "unexpected" not in str(err.value)


def test_not_a_state_dict_is_refused():
    net = official.official_encoder("facades", torch.device("meta"))
    with pytest.raises(WeightsError, match="are a list, expected a state dict"):
        official.conform_state_dict([torch.zeros(1)], net)
    with pytest.raises(WeightsError, match="not \\(name, tensor\\) pairs \\(1\\): fc.0.bias"):
        official.conform_state_dict({"fc.0.bias": 3.0}, net)


# ------------------------------------------------------------------ loading


def _randomize(net: nn.Module, seed: int) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return net


def test_a_saved_tiny_generator_round_trips(tmp_path):
    torch.manual_seed(0)
    src = _randomize(UNetZ(1, 3, 8, 5, ngf=4), seed=1).eval()
    state = dict(src.state_dict())
    for name, c in _instance_norms(src):  # written the way a PyTorch 0.3 file would hold them
        state[f"{name}.running_mean"], state[f"{name}.running_var"] = torch.zeros(c), torch.ones(c)
    path = tmp_path / "tiny_net_G.pth"
    torch.save(state, path)
    dst = official.load_state_file(UNetZ(1, 3, 8, 5, ngf=4), path).eval()
    assert all(torch.equal(v, dst.state_dict()[k]) for k, v in src.state_dict().items())
    x, z = torch.rand(2, 1, 32, 32) * 2 - 1, torch.randn(2, 8)
    with torch.no_grad():
        assert torch.equal(dst(x, z), src(x, z))


def test_a_file_that_is_not_a_state_dict_is_reported(tmp_path):
    path = tmp_path / "junk.pth"
    path.write_bytes(b"<html>not found</html>")
    with pytest.raises(WeightsError, match="cannot read .*junk.pth as a weights-only state dict"):
        official.load_state_file(ResNetEncoder(3, 8, 16, nef=4), path)


class _Served(io.BytesIO):
    """What urlopen returns, for bytes held in memory."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


def _serve(monkeypatch, data: bytes) -> list[str]:
    asked: list[str] = []

    def urlopen(url, timeout=None):
        asked.append(url)
        return _Served(data)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return asked


def test_a_truncated_download_is_refused_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("REPROLIB_CACHE", str(tmp_path))
    asked = _serve(monkeypatch, b"\0" * 1000)
    with pytest.raises(WeightsError, match="1,000 bytes, but the tensors .* take 219,170,316 bytes"):
        official.load_official("edges2shoes", "G", download=True)
    assert asked == ["http://efrosgans.eecs.berkeley.edu/BicycleGAN//models/edges2shoes_net_G.pth"]
    assert list((tmp_path / "weights" / "bicyclegan").iterdir()) == []


def test_the_released_encoder_downloads_records_its_hash_and_loads(tmp_path, monkeypatch):
    # The full-size E (2.6 M parameters, 10 MB) in the released layout, served as if from the authors' server.
    src = _randomize(official.official_encoder("facades"), seed=2)
    buffer = io.BytesIO()
    torch.save(src.state_dict(), buffer)
    monkeypatch.setenv("REPROLIB_CACHE", str(tmp_path))
    asked = _serve(monkeypatch, buffer.getvalue())
    with pytest.raises(WeightsError, match="download=True"):
        official.load_official("facades", "E")
    assert asked == []
    with pytest.warns(UserWarning, match="facades_net_E.pth: no sha256 is recorded"):
        e = official.load_official("facades", "E", download=True)
    assert asked == [official.weight_url("facades", "E")] and not e.training
    assert all(torch.equal(v, e.state_dict()[k]) for k, v in src.state_dict().items())
    cached = tmp_path / "weights" / "bicyclegan" / "facades_net_E.pth"
    side = cached.with_name("facades_net_E.pth.sha256")
    from reprolib.weights import sha256_of

    assert side.read_text().strip() == sha256_of(cached)
    official.load_official("facades", "E")            # the cached copy, checked against its recorded hash
    assert len(asked) == 1
    with open(cached, "ab") as f:                     # a later change to the file is caught
        f.write(b"\0")
    with pytest.raises(WeightsError, match="differs from .* recorded at its first download"):
        official.load_official("facades", "E")


def test_a_local_copy_too_small_for_the_model_is_refused(tmp_path):
    path = tmp_path / "maps_net_E.pth"
    path.write_bytes(b"\0" * 100)
    with pytest.raises(WeightsError, match="truncated or not the released one"):
        official.load_official("maps", "E", path=path)
    with pytest.raises(WeightsError, match="is not a file"):
        official.load_official("maps", "E", path=tmp_path / "absent.pth")
