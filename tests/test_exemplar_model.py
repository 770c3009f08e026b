"""He et al. (2018) colorization sub-net: the released ``ExampleColorNet`` state-dict layout, the wiring of
its forward pass, the width profiles, input checks and the 13-channel input assembly."""

import pytest
import torch
from torch.nn import functional as F

from reprolib.modelinfo import count_parameters
from reprolib.models import exemplar
from reprolib.models.exemplar import (
    AB_SCALE,
    EXEMPLAR_IN_CHANNELS,
    ExampleColorNet,
    assemble_input,
    sims_to_channels,
)
from reprolib.weights import WeightsError, load_state_dict_strict

# Every key of the released example_net.pth (ExampleColorNet(ic=13) of msracver/Deep-Exemplar-based-
# Colorization, colorization_subnet/models/ExampleColorNet.py) and its shape, written out from that file.
# Conv2d weight: (out, in, k, k); ConvTranspose2d weight: (in, out, k, k); the depthwise *_ss convs:
# (c, 1, 1, 1), no bias; BatchNorm2d(affine=False): running statistics only. The num_batches_tracked
# counters are left out: a file saved by a 2018 PyTorch may lack them.
RELEASED_LAYOUT = {
    "conv1_1.0.weight": (32, 13, 3, 3), "conv1_1.0.bias": (32,),
    "conv1_1.2.weight": (64, 32, 3, 3), "conv1_1.2.bias": (64,),
    "conv1_2.weight": (64, 64, 3, 3), "conv1_2.bias": (64,),
    "conv1_2norm.running_mean": (64,), "conv1_2norm.running_var": (64,),
    "conv1_2norm_ss.weight": (64, 1, 1, 1),
    "conv2_1.weight": (128, 64, 3, 3), "conv2_1.bias": (128,),
    "conv2_2.weight": (128, 128, 3, 3), "conv2_2.bias": (128,),
    "conv2_2norm.running_mean": (128,), "conv2_2norm.running_var": (128,),
    "conv2_2norm_ss.weight": (128, 1, 1, 1),
    "conv3_1.weight": (256, 128, 3, 3), "conv3_1.bias": (256,),
    "conv3_2.weight": (256, 256, 3, 3), "conv3_2.bias": (256,),
    "conv3_3.weight": (256, 256, 3, 3), "conv3_3.bias": (256,),
    "conv3_3norm.running_mean": (256,), "conv3_3norm.running_var": (256,),
    "conv3_3norm_ss.weight": (256, 1, 1, 1),
    "conv4_1.weight": (512, 256, 3, 3), "conv4_1.bias": (512,),
    "conv4_2.weight": (512, 512, 3, 3), "conv4_2.bias": (512,),
    "conv4_3.weight": (512, 512, 3, 3), "conv4_3.bias": (512,),
    "conv4_3norm.running_mean": (512,), "conv4_3norm.running_var": (512,),
    "conv5_1.weight": (512, 512, 3, 3), "conv5_1.bias": (512,),
    "conv5_2.weight": (512, 512, 3, 3), "conv5_2.bias": (512,),
    "conv5_3.weight": (512, 512, 3, 3), "conv5_3.bias": (512,),
    "conv5_3norm.running_mean": (512,), "conv5_3norm.running_var": (512,),
    "conv6_1.weight": (512, 512, 3, 3), "conv6_1.bias": (512,),
    "conv6_2.weight": (512, 512, 3, 3), "conv6_2.bias": (512,),
    "conv6_3.weight": (512, 512, 3, 3), "conv6_3.bias": (512,),
    "conv6_3norm.running_mean": (512,), "conv6_3norm.running_var": (512,),
    "conv7_1.weight": (512, 512, 3, 3), "conv7_1.bias": (512,),
    "conv7_2.weight": (512, 512, 3, 3), "conv7_2.bias": (512,),
    "conv7_3.weight": (512, 512, 3, 3), "conv7_3.bias": (512,),
    "conv7_3norm.running_mean": (512,), "conv7_3norm.running_var": (512,),
    "conv8_1.weight": (512, 256, 4, 4), "conv8_1.bias": (256,),
    "conv3_3_short.weight": (256, 256, 3, 3), "conv3_3_short.bias": (256,),
    "conv8_2.weight": (256, 256, 3, 3), "conv8_2.bias": (256,),
    "conv8_3.weight": (256, 256, 3, 3), "conv8_3.bias": (256,),
    "conv8_3norm.running_mean": (256,), "conv8_3norm.running_var": (256,),
    "conv9_1.weight": (256, 128, 4, 4), "conv9_1.bias": (128,),
    "conv2_2_short.weight": (128, 128, 3, 3), "conv2_2_short.bias": (128,),
    "conv9_2.weight": (128, 128, 3, 3), "conv9_2.bias": (128,),
    "conv9_2norm.running_mean": (128,), "conv9_2norm.running_var": (128,),
    "conv10_1.weight": (128, 128, 4, 4), "conv10_1.bias": (128,),
    "conv1_2_short.weight": (128, 64, 3, 3), "conv1_2_short.bias": (128,),
    "conv10_2.weight": (128, 128, 3, 3), "conv10_2.bias": (128,),
    "conv10_ab.weight": (2, 128, 1, 1), "conv10_ab.bias": (2,),
}
NORMS = ["conv1_2norm", "conv2_2norm", "conv3_3norm", "conv4_3norm", "conv5_3norm", "conv6_3norm",
         "conv7_3norm", "conv8_3norm", "conv9_2norm"]
FULL_SIZE_PARAMETERS = 34_065_666  # stated in the model's docstring


def _is_statistic(key):
    return key.endswith(("running_mean", "running_var", "num_batches_tracked"))


@pytest.fixture(scope="module")
def full_model():
    torch.manual_seed(0)
    return ExampleColorNet().eval()


def small(width=0.25, seed=0):
    torch.manual_seed(seed)
    return ExampleColorNet(width=width)


def _random_stats(model, seed=1):
    """Give every BatchNorm non-trivial running statistics, so that evaluation mode uses them."""
    g = torch.Generator().manual_seed(seed)
    for name in NORMS:
        bn = getattr(model, name)
        bn.running_mean.copy_(torch.randn(bn.running_mean.shape, generator=g) * 0.1)
        bn.running_var.copy_(torch.rand(bn.running_var.shape, generator=g) + 0.5)
    return model


# ---------------------------------------------------------------------------------------------
# The released layout
# ---------------------------------------------------------------------------------------------


def test_state_dict_matches_released_layout(full_model):
    sd = full_model.state_dict()
    own = {k: tuple(v.shape) for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    assert sorted(own) == sorted(RELEASED_LAYOUT)
    mismatched = {k: (own[k], s) for k, s in RELEASED_LAYOUT.items() if own[k] != s}
    assert not mismatched
    # One counter per BatchNorm and nothing else beside the layout.
    assert sorted(k for k in sd if k.endswith("num_batches_tracked")) == sorted(f"{n}.num_batches_tracked" for n in NORMS)


def test_parameter_count(full_model):
    from_layout = sum(torch.Size(s).numel() for k, s in RELEASED_LAYOUT.items() if not _is_statistic(k))
    assert count_parameters(full_model) == from_layout == FULL_SIZE_PARAMETERS
    assert f"{FULL_SIZE_PARAMETERS:,}" in ExampleColorNet.__doc__ and f"{FULL_SIZE_PARAMETERS:,}" in exemplar.__doc__


def test_released_hyperparameters_not_in_the_state_dict(full_model):
    m = full_model
    for block in (5, 6):
        for i in (1, 2, 3):
            conv = getattr(m, f"conv{block}_{i}")
            assert conv.dilation == (2, 2) and conv.padding == (2, 2), conv
    for name in ("conv1_2", "conv2_1", "conv4_1", "conv7_3", "conv8_2", "conv3_3_short", "conv1_2_short", "conv10_2"):
        conv = getattr(m, name)
        assert conv.kernel_size == (3, 3) and conv.padding == (1, 1) and conv.dilation == (1, 1), name
    for name, c in (("conv1_2norm_ss", 64), ("conv2_2norm_ss", 128), ("conv3_3norm_ss", 256)):
        ss = getattr(m, name)
        assert ss.stride == (2, 2) and ss.groups == c and ss.bias is None and ss.padding == (0, 0), name
    for name in ("conv8_1", "conv9_1", "conv10_1"):
        up = getattr(m, name)
        assert isinstance(up, torch.nn.ConvTranspose2d) and up.stride == (2, 2) and up.padding == (1, 1), name
    for name in NORMS:
        assert getattr(m, name).affine is False and getattr(m, name).track_running_stats, name
    assert isinstance(m.conv1_1[1], torch.nn.ReLU)
    assert m.leaky_relu.negative_slope == 0.2
    assert m.conv10_ab.kernel_size == (1, 1) and m.conv10_ab.padding == (0, 0)


def _released_like_state(seed=0, counters=True):
    g = torch.Generator().manual_seed(seed)
    state = {}
    for k, s in RELEASED_LAYOUT.items():
        t = torch.randn(s, generator=g) * 0.01
        state[k] = t.abs() + 0.5 if k.endswith("running_var") else t
    if counters:  # what a loader adds when the file predates the counters
        state.update({f"{n}.num_batches_tracked": torch.tensor(0) for n in NORMS})
    return state


def test_released_layout_loads_strictly():
    model = ExampleColorNet()
    state = _released_like_state()
    load_state_dict_strict(model, state, source="example_net.pth (random stand-in)")
    assert torch.equal(model.conv1_1[0].weight, state["conv1_1.0.weight"])
    assert torch.equal(model.conv10_ab.bias, state["conv10_ab.bias"])
    assert torch.equal(model.conv4_3norm.running_var, state["conv4_3norm.running_var"])
    # Without the counters the strict loader names them: a real loader has to add them.
    with pytest.raises(WeightsError, match="num_batches_tracked"):
        load_state_dict_strict(ExampleColorNet(), _released_like_state(counters=False))
    # The layout does not fit another input width (control: the check can fail).
    with pytest.raises(WeightsError, match="conv1_1.0.weight"):
        load_state_dict_strict(ExampleColorNet(in_channels=12), state)


# ---------------------------------------------------------------------------------------------
# The forward pass
# ---------------------------------------------------------------------------------------------


def _released_wiring(m, x):
    """The released forward pass, written out layer by layer from ExampleColorNet.forward."""
    r = F.relu
    c1 = m.conv1_2norm(r(m.conv1_2(r(m.conv1_1(x)))))
    c2 = m.conv2_2norm(r(m.conv2_2(r(m.conv2_1(m.conv1_2norm_ss(c1))))))
    c3 = m.conv3_3norm(r(m.conv3_3(r(m.conv3_2(r(m.conv3_1(m.conv2_2norm_ss(c2))))))))
    h = m.conv4_3norm(r(m.conv4_3(r(m.conv4_2(r(m.conv4_1(m.conv3_3norm_ss(c3))))))))
    for b in (5, 6, 7):
        for i in (1, 2, 3):
            h = r(getattr(m, f"conv{b}_{i}")(h))
        h = getattr(m, f"conv{b}_3norm")(h)
    h = r(m.conv8_1(h) + m.conv3_3_short(c3))
    h = m.conv8_3norm(r(m.conv8_3(r(m.conv8_2(h)))))
    h = r(m.conv9_1(h) + m.conv2_2_short(c2))
    h = m.conv9_2norm(r(m.conv9_2(h)))
    h = r(m.conv10_1(h) + m.conv1_2_short(c1))
    h = F.leaky_relu(m.conv10_2(h), 0.2)
    return torch.tanh(m.conv10_ab(h)) * 100


def test_forward_follows_the_released_wiring():
    model = _random_stats(small()).eval()
    x = torch.randn(2, EXEMPLAR_IN_CHANNELS, 32, 40, generator=torch.Generator().manual_seed(3)) * 20
    with torch.no_grad():
        ours, ref = model(x), _released_wiring(model, x)
    assert ours.shape == (2, 2, 32, 40)
    assert ours.abs().max() > 1e-3  # not a trivially zero output
    torch.testing.assert_close(ours, ref, rtol=1e-4, atol=1e-4)


def test_block_resolutions():
    model = small().eval()
    sizes = {}
    names = ["conv1_2norm", "conv2_2norm", "conv3_3norm", "conv4_3norm", "conv7_3norm", "conv8_3norm",
             "conv9_2norm", "conv10_2"]
    hooks = [getattr(model, n).register_forward_hook(lambda mod, i, o, n=n: sizes.__setitem__(n, tuple(o.shape[-2:])))
             for n in names]
    with torch.no_grad():
        model(torch.randn(1, 13, 64, 32))
    for h in hooks:
        h.remove()
    assert sizes == {"conv1_2norm": (64, 32), "conv2_2norm": (32, 16), "conv3_3norm": (16, 8),
                     "conv4_3norm": (8, 4), "conv7_3norm": (8, 4), "conv8_3norm": (16, 8),
                     "conv9_2norm": (32, 16), "conv10_2": (64, 32)}


def test_full_width_forward_shape(full_model):
    with torch.no_grad():
        out = full_model(torch.randn(1, 13, 16, 24))
    assert out.shape == (1, 2, 16, 24) and torch.isfinite(out).all()


def test_output_is_bounded_by_100():
    model = small().eval()
    with torch.no_grad():
        model.conv10_ab.weight.mul_(1e4)  # drive the tanh into saturation
        out = model(torch.randn(2, 13, 32, 32, generator=torch.Generator().manual_seed(0)) * 50)
    assert AB_SCALE == 100.0
    assert out.abs().max() <= 100.0
    assert out.abs().max() > 99.0  # saturated: the bound is 100, not 1 or 110


def test_gradient_reaches_the_input_and_every_parameter():
    model = small().train()
    x = torch.randn(2, 13, 32, 32, generator=torch.Generator().manual_seed(0), requires_grad=True)
    model(x).square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not no_grad


def test_width_scales_every_channel():
    model = small(width=0.25)
    assert model.conv1_1[0].out_channels == 8 and model.conv1_1[2].out_channels == 16
    assert model.conv2_1.out_channels == 32 and model.conv3_1.out_channels == 64
    assert model.conv4_1.out_channels == 128 and model.conv10_1.out_channels == 32
    assert model.conv1_2norm_ss.groups == 16 and model.conv1_2_short.in_channels == 16
    assert count_parameters(model) < FULL_SIZE_PARAMETERS / 10
    with torch.no_grad():
        out = model.eval()(torch.randn(1, 13, 32, 32))
    assert out.shape == (1, 2, 32, 32) and torch.isfinite(out).all()


def test_bad_inputs_get_clear_errors():
    model = small().eval()
    with pytest.raises(ValueError, match=r"shape \(N, 13, H, W\).*got \(1, 12, 32, 32\)"):
        model(torch.zeros(1, 12, 32, 32))
    with pytest.raises(ValueError, match=r"shape \(N, 13, H, W\)"):
        model(torch.zeros(13, 32, 32))
    with pytest.raises(ValueError, match="multiples of 8.*H=36, W=32"):
        model(torch.zeros(1, 13, 36, 32))
    with pytest.raises(ValueError, match="multiples of 8.*W=20"):
        model(torch.zeros(1, 13, 32, 20))
    with pytest.raises(TypeError, match="floating-point.*torch.uint8"):
        model(torch.zeros(1, 13, 32, 32, dtype=torch.uint8))
    with pytest.raises(TypeError, match="torch.Tensor"):
        model([[0.0]])
    with pytest.raises(ValueError, match="width"):
        ExampleColorNet(width=0)
    with pytest.raises(ValueError, match="width"):
        ExampleColorNet(width=1.5)
    with pytest.raises(ValueError, match="in_channels must be a positive integer"):
        ExampleColorNet(in_channels=0)


# ---------------------------------------------------------------------------------------------
# The 13-channel input
# ---------------------------------------------------------------------------------------------


def _pieces(n=2, h=8, w=16):
    L = torch.full((n, 1, h, w), 30.0)
    ab = torch.stack([torch.full((n, h, w), 5.0), torch.full((n, h, w), -7.0)], dim=1)
    levels = torch.arange(5, dtype=torch.float32) / 10  # 0.0, 0.1, ..., 0.4: one value per level
    fwd = levels[None, :, None, None].expand(n, 5, h, w).clone()
    bwd = -fwd - 0.5
    return L, ab, fwd, bwd


def test_assemble_input_channel_order_and_scaling():
    L, ab, fwd, bwd = _pieces()
    x = assemble_input(L, ab, fwd, bwd)
    assert x.shape == (2, 13, 8, 16) and x.dtype == torch.float32
    per_channel = x[0, :, 0, 0]
    expected = torch.tensor([30.0 - 50.0, 5.0, -7.0,
                             -1.0, -0.8, -0.6, -0.4, -0.2,  # 2 * sim_forward - 1, level by level
                             -2.0, -2.2, -2.4, -2.6, -2.8])  # 2 * sim_backward - 1
    torch.testing.assert_close(per_channel, expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(x, per_channel[None, :, None, None].expand_as(x), rtol=0, atol=1e-6)
    # The mapping itself: sim = 0 -> -1, 0.5 -> 0, 1 -> 1 (ReLU-feature cosines [0, 1] -> [-1, 1]).
    torch.testing.assert_close(sims_to_channels(torch.tensor([0.0, 0.5, 1.0, -1.0])),
                               torch.tensor([-1.0, 0.0, 1.0, -3.0]))


def test_assemble_input_feeds_the_network():
    L, ab, fwd, bwd = _pieces(n=1, h=32, w=32)
    with torch.no_grad():
        out = small().eval()(assemble_input(L, ab, fwd, bwd))
    assert out.shape == (1, 2, 32, 32)


def test_documented_release_arithmetic():
    # Module docstring: bytes x = 255 sim (sim in [0, 1]) fed as (x - 127) / 2 equal 63.75 (2 sim - 1) + 0.25;
    # bytes x = 255 (sim + 1) / 2 (sim in [-1, 1]) give 63.75 sim + 0.25 = 31.875 (2 sim - 1) + 32.125.
    s01 = torch.linspace(0, 1, 11, dtype=torch.float64)
    s11 = torch.linspace(-1, 1, 11, dtype=torch.float64)
    torch.testing.assert_close((255 * s01 - 127) / 2, 63.75 * sims_to_channels(s01) + 0.25)
    torch.testing.assert_close((255 * (s11 + 1) / 2 - 127) / 2, 63.75 * s11 + 0.25)
    torch.testing.assert_close(63.75 * s11 + 0.25, 31.875 * sims_to_channels(s11) + 32.125)


def test_assemble_input_errors():
    L, ab, fwd, bwd = _pieces()
    with pytest.raises(ValueError, match=r"sim_backward has shape \(2, 5, 8, 12\).*same batch size and image size"):
        assemble_input(L, ab, fwd, bwd[..., :12])
    with pytest.raises(ValueError, match=r"warped_ab has shape \(1, 2, 8, 16\)"):
        assemble_input(L, ab[:1], fwd, bwd)
    with pytest.raises(ValueError, match=r"sim_forward must have shape \(N, 5, H, W\)"):
        assemble_input(L, ab, fwd[:, :4], bwd)
    with pytest.raises(ValueError, match=r"warped_ab must have shape \(N, 2, H, W\)"):
        assemble_input(L, torch.cat([L, ab], 1), fwd, bwd)
    with pytest.raises(TypeError, match="floating-point.*torch.uint8"):
        assemble_input(L, ab, (fwd * 255).to(torch.uint8), bwd)
    with pytest.raises(TypeError, match="L must be a torch.Tensor"):
        assemble_input(30.0, ab, fwd, bwd)
    with pytest.raises(ValueError, match=r"L is in \[-20, -20\].*\[0, 100\]"):
        assemble_input(L - 50, ab, fwd, bwd)
    with pytest.raises(ValueError, match=r"sim_forward is in \[.*\[-1, 1\]"):
        assemble_input(L, ab, (fwd * 255 - 127) / 2, bwd)
    with pytest.raises(ValueError, match="float64"):
        assemble_input(L, ab, fwd.double(), bwd)
    with pytest.raises(ValueError, match="NaN"):
        assemble_input(L, ab.clone().fill_(float("nan")), fwd, bwd)
