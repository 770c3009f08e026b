"""ECCV16 architecture: official state-dict layout, sizes of Table 1, shapes and heads."""

import pytest
import torch

from reprolib.models import ECCV16
from reprolib.modelinfo import count_parameters
from reprolib.quantize import ab_bins


def official_eccv16_layout():
    """(key, shape) of the released PyTorch port's state dict, written out from reference-facts section 1.1.

    Blocks are Sequentials where ReLUs take indices; BN closes blocks 1-7; model8 = deconv, 3x3, 3x3, 1x1(313).
    """
    spec = {  # block: [(conv index, cin, cout, k)...], bn index, bn channels
        "model1": ([(0, 1, 64, 3), (2, 64, 64, 3)], 4, 64),
        "model2": ([(0, 64, 128, 3), (2, 128, 128, 3)], 4, 128),
        "model3": ([(0, 128, 256, 3), (2, 256, 256, 3), (4, 256, 256, 3)], 6, 256),
        "model4": ([(0, 256, 512, 3), (2, 512, 512, 3), (4, 512, 512, 3)], 6, 512),
        "model5": ([(0, 512, 512, 3), (2, 512, 512, 3), (4, 512, 512, 3)], 6, 512),
        "model6": ([(0, 512, 512, 3), (2, 512, 512, 3), (4, 512, 512, 3)], 6, 512),
        "model7": ([(0, 512, 512, 3), (2, 512, 512, 3), (4, 512, 512, 3)], 6, 512),
    }
    keys = {}
    for block, (convs, bn, ch) in spec.items():
        for i, cin, cout, k in convs:
            keys[f"{block}.{i}.weight"] = (cout, cin, k, k)
            keys[f"{block}.{i}.bias"] = (cout,)
        for name in ("weight", "bias", "running_mean", "running_var"):
            keys[f"{block}.{bn}.{name}"] = (ch,)
        keys[f"{block}.{bn}.num_batches_tracked"] = ()
    keys["model8.0.weight"] = (512, 256, 4, 4)  # ConvTranspose2d weight is (in, out, k, k)
    keys["model8.0.bias"] = (256,)
    for i in (2, 4):
        keys[f"model8.{i}.weight"] = (256, 256, 3, 3)
        keys[f"model8.{i}.bias"] = (256,)
    keys["model8.6.weight"] = (313, 256, 1, 1)
    keys["model8.6.bias"] = (313,)
    keys["model_out.weight"] = (2, 313, 1, 1)
    return keys


def test_state_dict_matches_official_layout():
    sd = ECCV16(width=1.0).state_dict()
    expected = official_eccv16_layout()
    assert set(sd) == set(expected)
    for k, shape in expected.items():
        assert tuple(sd[k].shape) == shape, k


def test_parameter_count_and_table1_memory():
    m = ECCV16(width=1.0)
    n = count_parameters(m, trainable_only=False)
    assert n == sum(p.numel() for p in m.parameters())
    assert round(n * 4 / 1e6) == 129  # Table 1: 129 MB of float32 parameters
    assert abs(n / 1e6 - 32.2) < 0.05


def test_model_out_is_the_bin_expectation():
    m = ECCV16(width=1 / 16)
    w = m.model_out.weight.detach().reshape(2, 313).t() * 110
    assert torch.allclose(w, ab_bins())
    assert not m.model_out.weight.requires_grad


@pytest.mark.parametrize("size", [32, 48])
def test_output_shapes_and_heads(size):
    L = torch.rand(2, 1, size, size) * 100
    cls = ECCV16(width=1 / 16).eval()
    reg = ECCV16(width=1 / 16, head="regression").eval()
    assert cls(L).shape == (2, 313, size // 4, size // 4)
    assert reg(L).shape == (2, 2, size // 4, size // 4)
    for m in (cls, reg):
        ab = m.colorize(L)
        assert ab.shape == (2, 2, size, size)
        assert torch.isfinite(ab).all()


def test_colorize_temperature_limits():
    torch.manual_seed(0)
    m = ECCV16(width=1 / 16).eval()
    L = torch.rand(1, 1, 32, 32) * 100
    mode = m.colorize(L, T=0, upsample=False)
    near_mode = m.colorize(L, T=1e-4, upsample=False)
    assert torch.allclose(mode, near_mode, atol=1e-3)
    mean = m.colorize(L, T=1.0, upsample=False)
    probs = torch.softmax(m(L), dim=1)
    assert torch.allclose(mean, torch.einsum("nqhw,qc->nchw", probs, ab_bins()), atol=1e-4)


def test_width_scales_channels():
    small, big = ECCV16(width=1 / 8), ECCV16(width=1 / 4)
    assert small.model1[0].out_channels == 8 and big.model1[0].out_channels == 16
    assert count_parameters(small) < count_parameters(big)


def test_bad_inputs():
    m = ECCV16(width=1 / 16)
    with pytest.raises(ValueError, match="multiples of 8"):
        m(torch.zeros(1, 1, 30, 32))
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        m(torch.zeros(1, 3, 32, 32))
    with pytest.raises(ValueError, match="width"):
        ECCV16(width=0)
    with pytest.raises(ValueError, match="head"):
        ECCV16(head="gan")
