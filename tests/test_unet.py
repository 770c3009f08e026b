"""Tests of reprolib.nn.unet: the U-Net generator with z added at every level or at the input."""

from __future__ import annotations

import pytest
import torch

from reprolib.nn.unet import UNetZ, tile_z


def _shapes(net):
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def test_add_all_has_the_released_unet_256_layout():
    # The released edges2shoes generator: 1 input channel (grey edges), 3 out, nz 8, 8 levels, ngf 64.
    G = UNetZ(1, 3, nz=8, num_downs=8).to("meta")
    s = _shapes(G)
    assert s["model.down.0.weight"] == (64, 1 + 8, 4, 4)  # z enters the outermost down conv
    assert s["model.up.1.weight"] == (128, 3, 4, 4)  # ConvTranspose2d weights are (in, out, k, k)
    inner = "model" + ".submodule" * 7
    assert s[f"{inner}.down.1.weight"] == (512, 512 + 8, 4, 4)  # ... and the innermost's
    assert s[f"{inner}.up.1.weight"] == (512, 512, 4, 4)
    assert f"{inner}.submodule.down.1.weight" not in s
    assert s["model.submodule.down.1.weight"] == (128, 64 + 8, 4, 4)
    # 8 levels, each a down conv and an up transposed conv with biases; instance norm adds no keys
    assert len(s) == 8 * 4 and all(k.endswith((".weight", ".bias")) for k in s)
    # dropout sits in the up path of the three 8 ngf levels next to the innermost
    dropouts = [name for name, m in G.named_modules() if isinstance(m, torch.nn.Dropout)]
    assert sorted(n.count("submodule") for n in dropouts) == [4, 5, 6]


def test_add_input_has_the_nested_sequential_layout():
    G = UNetZ(1, 2, nz=8, num_downs=8, where_add="input").to("meta")
    s = _shapes(G)
    assert s["model.model.0.weight"] == (64, 1 + 8, 4, 4)  # z only at the input
    assert s["model.model.3.weight"] == (128, 2, 4, 4)
    assert s["model.model.1.model.1.weight"] == (128, 64, 4, 4)  # the level inside: LReLU, conv, norm, ...
    assert s["model.model.1.model.3.model.3.model.5.weight"] == (1024, 256, 4, 4)
    assert len(s) == 8 * 4


@pytest.mark.parametrize("where_add", ["all", "input"])
def test_output_shape_range_and_the_code_matters(where_add):
    torch.manual_seed(0)
    G = UNetZ(1, 2, nz=3, num_downs=5, ngf=4, where_add=where_add).eval()
    x = torch.randn(2, 1, 32, 32)
    z0, z1 = torch.zeros(2, 3), torch.ones(2, 3)
    y0, y1 = G(x, z0), G(x, z1)
    assert y0.shape == (2, 2, 32, 32) and float(y0.detach().abs().max()) <= 1
    assert (y0 - y1).abs().max() > 1e-4  # another code, another output
    assert torch.equal(G(x, z0), y0)  # eval: no dropout noise


def test_without_a_code_it_is_the_plain_unet_and_dropout_only_trains():
    torch.manual_seed(0)
    G = UNetZ(1, 2, nz=0, num_downs=6, ngf=4)
    assert G.where_add == "input" and G.model.model[0].in_channels == 1
    x = torch.randn(1, 1, 64, 64)
    G.train()
    assert not torch.equal(G(x), G(x))  # one 8 ngf level with dropout
    G.eval()
    assert torch.equal(G(x), G(x))


def test_no_activation_works_in_place():
    G = UNetZ(1, 2, nz=2, num_downs=5, ngf=2)
    acts = [m for m in G.modules() if isinstance(m, (torch.nn.ReLU, torch.nn.LeakyReLU))]
    assert acts and not any(m.inplace for m in acts)


def test_tile_z():
    z = torch.tensor([[1.0, 2.0]])
    t = tile_z(z, 3, 4)
    assert t.shape == (1, 2, 3, 4) and torch.equal(t[0, 1], torch.full((3, 4), 2.0))


def test_bad_shapes_and_arguments_say_what_is_expected():
    G = UNetZ(1, 2, nz=3, num_downs=5, ngf=2)
    with pytest.raises(ValueError, match="multiples of 32"):
        G(torch.zeros(1, 1, 48, 40), torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"code z of shape \(1, 3\)"):
        G(torch.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError, match=r"code z of shape \(1, 3\), got \(1, 8\)"):
        G(torch.zeros(1, 1, 32, 32), torch.zeros(1, 8))
    with pytest.raises(ValueError, match="at least 5 levels"):
        UNetZ(1, 2, nz=8, num_downs=4)
    with pytest.raises(ValueError, match="where_add"):
        UNetZ(1, 2, nz=8, num_downs=5, where_add="middle")
