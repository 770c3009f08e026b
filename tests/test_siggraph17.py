"""SIGGRAPH17 Local/Global Hints Network: official state-dict layout, shapes, normalisation, the
detached distribution head, the global branch, the 529-class grid, losses and global statistics."""

import pytest
import torch

from reprolib.modelinfo import count_parameters
from reprolib.models import SIGGRAPH17
from reprolib.models.siggraph17 import (
    GLOBAL_INPUT_CHANNELS,
    decode_ab_index,
    distribution_loss,
    encode_ab_index,
    global_histogram,
    global_input,
    mean_saturation,
    random_global_reveal,
    smooth_l1_loss,
)
from reprolib.quantize import ab_bins, grid_bins
from reprolib.weights import WeightsError
from reprolib.chapters.user_guided.official import load_siggraph17_official

# 34,187,027 parameters at width 1, block by block (weights + biases; BN: weight + bias):
#   model1 39,424  model2 221,696  model3 1,475,840  model4 5,900,800  model5-7 3 x 7,080,448
#   model8up+model3short8+model8 3,868,160  model9up+model2short9+model9 819,840
#   model10up+model1short10+model10 483,712  model_out 258  model_class 135,953
FULL_SIZE_PARAMETERS = 34_187_027


def official_siggraph17_layout():
    """(key, shape) of the released state dict, written out from reference-facts sections 2.1 / 11.2."""
    keys = {}

    def conv(name, cin, cout, k=3):
        keys[f"{name}.weight"] = (cout, cin, k, k)
        keys[f"{name}.bias"] = (cout,)

    def deconv(name, cin, cout):  # ConvTranspose2d weight is (in, out, k, k)
        keys[f"{name}.weight"] = (cin, cout, 4, 4)
        keys[f"{name}.bias"] = (cout,)

    def bn(name, ch):
        for p in ("weight", "bias", "running_mean", "running_var"):
            keys[f"{name}.{p}"] = (ch,)
        keys[f"{name}.num_batches_tracked"] = ()

    # Encoder blocks: conv at 0, 2, (4); BN after the last ReLU.
    for block, chans in {
        "model1": [4, 64, 64],
        "model2": [64, 128, 128],
        "model3": [128, 256, 256, 256],
        "model4": [256, 512, 512, 512],
        "model5": [512, 512, 512, 512],
        "model6": [512, 512, 512, 512],
        "model7": [512, 512, 512, 512],
    }.items():
        for i, (cin, cout) in enumerate(zip(chans[:-1], chans[1:])):
            conv(f"{block}.{2 * i}", cin, cout)
        bn(f"{block}.{2 * (len(chans) - 1)}", chans[-1])
    # Decoder: leading ReLU at index 0, so convs at 1, 3 and BN at 5 (model8) / 3 (model9).
    deconv("model8up.0", 512, 256)
    conv("model3short8.0", 256, 256)
    conv("model8.1", 256, 256)
    conv("model8.3", 256, 256)
    bn("model8.5", 256)
    deconv("model9up.0", 256, 128)
    conv("model2short9.0", 128, 128)
    conv("model9.1", 128, 128)
    bn("model9.3", 128)
    deconv("model10up.0", 128, 128)
    conv("model1short10.0", 64, 128)
    conv("model10.1", 128, 128)
    conv("model_class.0", 256, 529, k=1)
    conv("model_out.0", 128, 2, k=1)
    return keys


@pytest.fixture(scope="module")
def full_model():
    torch.manual_seed(0)
    return SIGGRAPH17(width=1.0, mask_cent=0.0).eval()


def small(**kw):
    kw.setdefault("mask_cent", 0.5)
    return SIGGRAPH17(width=kw.pop("width", 1 / 16), **kw)


def hints(n, size, seed=0):
    g = torch.Generator().manual_seed(seed)
    L = torch.rand(n, 1, size, size, generator=g) * 100
    ab = (torch.rand(n, 2, size, size, generator=g) * 2 - 1) * 80
    mask = (torch.rand(n, 1, size, size, generator=g) < 0.1).float()
    return L, ab * mask, mask


# ---------------------------------------------------------------------------------------------
# Layout, size, shapes
# ---------------------------------------------------------------------------------------------


def test_state_dict_matches_official_layout(full_model):
    sd = full_model.state_dict()
    expected = official_siggraph17_layout()
    assert sorted(sd) == sorted(expected)
    for k, shape in expected.items():
        assert tuple(sd[k].shape) == shape, k
    assert isinstance(full_model.model10[2], torch.nn.LeakyReLU) and full_model.model10[2].negative_slope == 0.2
    assert isinstance(full_model.model_out[1], torch.nn.Tanh)
    assert [full_model.model5[i].dilation for i in (0, 2, 4)] == [(2, 2)] * 3


def test_parameter_count(full_model):
    layout = official_siggraph17_layout()
    from_layout = sum(
        torch.Size(s).numel()
        for k, s in layout.items()
        if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))
    )
    assert count_parameters(full_model) == from_layout == FULL_SIZE_PARAMETERS


@pytest.mark.parametrize("size", [64, 176])
def test_forward_shapes_full_width(full_model, size):
    L, ab, mask = hints(1, size)
    with torch.no_grad():
        out = full_model(L, ab, mask)
    assert out.ab.shape == (1, 2, size, size)
    assert out.logits.shape == (1, 529, size // 4, size // 4)
    assert out.ab.abs().max() <= 110 and torch.isfinite(out.logits).all()


@pytest.mark.parametrize("size", [64, 176])
def test_forward_shapes_quarter_width(size):
    m = SIGGRAPH17(width=0.25, mask_cent=0.5).eval()
    assert m.model1[0].out_channels == 16 and m.model4[0].out_channels == 128
    L, ab, mask = hints(2, size)
    with torch.no_grad():
        ab_out, logits = m(L, ab, mask)
    assert ab_out.shape == (2, 2, size, size) and logits.shape == (2, 529, size // 4, size // 4)
    with torch.no_grad():  # no hints at all: automatic colorization
        assert m(L).ab.shape == (2, 2, size, size)


def test_subsampling_keeps_every_second_pixel():
    """Block 2 sees conv1[:, :, ::2, ::2] (not pooling): perturbing an odd pixel of conv1's output
    must not change model2's input."""
    m = small().eval()
    seen = []
    m.model2.register_forward_pre_hook(lambda mod, inp: seen.append(inp[0].clone()))
    conv1 = []
    m.model1.register_forward_hook(lambda mod, inp, out: conv1.append(out.clone()))
    L, ab, mask = hints(1, 32)
    with torch.no_grad():
        m(L, ab, mask)
    assert torch.equal(seen[0], conv1[0][:, :, ::2, ::2])


# ---------------------------------------------------------------------------------------------
# Normalisation and mask centring
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cent", [0.0, 0.5])
def test_input_normalisation(cent):
    m = small(mask_cent=cent).eval()
    seen = []
    m.model1.register_forward_pre_hook(lambda mod, inp: seen.append(inp[0].clone()))
    L, ab, mask = hints(2, 32)
    with torch.no_grad():
        m(L, ab, mask)
    x = seen[0]
    assert x.shape == (2, 4, 32, 32)
    assert torch.allclose(x[:, :1], (L - 50) / 100)
    assert torch.allclose(x[:, 1:3], ab / 110)
    assert torch.equal(x[:, 3:], mask - cent)


def test_output_is_110_tanh():
    m = small().eval()
    seen = []
    m.model_out[0].register_forward_hook(lambda mod, inp, out: seen.append(out.clone()))
    with torch.no_grad():
        ab = m(*hints(1, 32)).ab
    assert torch.allclose(ab, 110 * torch.tanh(seen[0]), atol=1e-5)


def test_same_weights_different_mask_cent_differ():
    torch.manual_seed(1)
    a = small(mask_cent=0.0).eval()
    b = small(mask_cent=0.5).eval()
    b.load_state_dict(a.state_dict())
    L, ab, mask = hints(1, 32)
    with torch.no_grad():
        out_a, out_b = a(L, ab, mask).ab, b(L, ab, mask).ab
    assert (out_a - out_b).abs().max() > 1e-3
    # ... and the centring is the only difference: shifting the mask channel of a's input by -0.5
    # (what b does inside) reproduces b exactly.
    shift = torch.tensor([0.0, 0.0, 0.0, 0.5]).view(1, 4, 1, 1)
    a.model1.register_forward_pre_hook(lambda mod, inp: (inp[0] - shift,))
    with torch.no_grad():
        assert torch.allclose(a(L, ab, mask).ab, out_b, atol=1e-5)


def test_mask_cent_is_required_and_checked():
    with pytest.raises(TypeError):
        SIGGRAPH17(width=1 / 16)
    with pytest.raises(ValueError, match="mask_cent"):
        SIGGRAPH17(width=1 / 16, mask_cent=1.0)


# ---------------------------------------------------------------------------------------------
# The distribution side branch never trains the trunk
# ---------------------------------------------------------------------------------------------


def _trunk_grads(m):
    heads = ("model_class", "dist_branch")
    return {n: p.grad for n, p in m.named_parameters() if not n.startswith(heads)}


@pytest.mark.parametrize("head", ["released", "hypercolumn"])
def test_no_gradient_from_distribution_head_into_trunk(head):
    torch.manual_seed(0)
    m = small(dist_head=head).train()
    L, ab, mask = hints(2, 32)
    out = m(L, ab, mask)
    distribution_loss(out.logits, ab).backward()
    trunk = _trunk_grads(m)
    assert trunk and all(g is None or g.abs().max() == 0 for g in trunk.values())
    head_params = [p for n, p in m.named_parameters() if n.startswith(("model_class", "dist_branch"))]
    assert head_params and all(p.grad is not None and p.grad.abs().max() > 0 for p in head_params)

    # The regression loss does train the trunk, and leaves the head alone.
    m.zero_grad(set_to_none=True)
    out = m(L, ab, mask)
    smooth_l1_loss(out.ab, torch.zeros_like(out.ab)).backward()
    assert m.model1[0].weight.grad.abs().max() > 0
    assert all(p.grad is None for p in head_params)


def test_detach_dist_false_lets_the_class_loss_train_the_trunk():
    m = small(detach_dist=False).train()
    L, ab, mask = hints(2, 32)
    distribution_loss(m(L, ab, mask).logits, ab).backward()
    assert m.model1[0].weight.grad.abs().max() > 0


def test_hypercolumn_head_and_313_classes():
    m = small(dist_head="hypercolumn", num_classes=313).eval()
    assert not hasattr(m, "model_class") and torch.equal(m.bins(), ab_bins())
    with torch.no_grad():
        logits = m(*hints(1, 32)).logits
    assert logits.shape == (1, 313, 8, 8)
    assert small(dist_head=None)(*hints(2, 32)).logits is None


# ---------------------------------------------------------------------------------------------
# Global hints
# ---------------------------------------------------------------------------------------------


def test_global_branch_is_added_to_conv4():
    torch.manual_seed(0)
    m = small(global_hints=True, dist_head=None).eval()
    conv4, conv5_in = [], []
    m.model4.register_forward_hook(lambda mod, inp, out: conv4.append(out.clone()))
    m.model5.register_forward_pre_hook(lambda mod, inp: conv5_in.append(inp[0].clone()))
    L, _, _ = hints(2, 32)
    ab = torch.randn(2, 2, 32, 32) * 30
    rgb = torch.rand(2, 3, 32, 32)
    g = global_input(global_histogram(ab), mean_saturation(rgb))
    assert g.shape == (2, GLOBAL_INPUT_CHANNELS)
    with torch.no_grad():
        out = m(L, global_hints=g).ab
        branch = m.global_branch(g)
        assert branch.shape == (2, m.model4[0].out_channels, 1, 1)
        assert torch.allclose(conv5_in[0], conv4[0] + branch.expand_as(conv4[0]), atol=1e-6)
        other = global_input(global_histogram(-ab), mean_saturation(rgb))
        assert (m.global_branch(other) - branch).abs().max() > 0
        # No global input means both indicators 0.
        none = global_input(None, None, batch_size=2)
        assert torch.equal(m(L).ab, m(L, global_hints=none).ab)
    # The branch reaches the output: the colorization has a gradient w.r.t. every branch parameter.
    m(L, global_hints=g).ab.pow(2).sum().backward()
    assert all(p.grad is not None and p.grad.abs().max() > 0 for p in m.global_branch.parameters())
    assert out.shape == (2, 2, 32, 32)


def test_global_input_layout_and_reveal():
    hist = torch.softmax(torch.randn(3, 313), dim=1)
    sat = torch.tensor([0.2, 0.5, 0.9])
    g = global_input(
        hist, sat, reveal_hist=torch.tensor([True, False, True]), reveal_sat=torch.tensor([False, True, True])
    )
    assert torch.equal(g[:, 313], torch.tensor([1.0, 0.0, 1.0]))  # histogram indicator
    assert torch.equal(g[:, 315], torch.tensor([0.0, 1.0, 1.0]))  # saturation indicator
    assert torch.allclose(g[0, :313], hist[0]) and g[1, :313].abs().sum() == 0
    assert torch.allclose(g[:, 314], torch.tensor([0.0, 0.5, 0.9]))
    with pytest.raises(ValueError, match="hist"):
        global_input(torch.zeros(3, 312), sat)
    m = small()
    with pytest.raises(ValueError, match="global_hints=True"):
        m(torch.rand(1, 1, 32, 32) * 100, global_hints=g[:1])
    with pytest.raises(ValueError, match="316"):
        small(global_hints=True)(torch.rand(2, 1, 32, 32) * 100, global_hints=torch.zeros(2, 315))


def test_random_global_reveal_covers_the_four_cases():
    n = 8000
    h, s = random_global_reveal(n, torch.Generator().manual_seed(0))
    for case in [(True, True), (True, False), (False, True), (False, False)]:
        frac = ((h == case[0]) & (s == case[1])).double().mean().item()
        assert abs(frac - 0.25) < 5 * (0.25 * 0.75 / n) ** 0.5  # 5 standard errors
    again = random_global_reveal(n, torch.Generator().manual_seed(0))
    assert torch.equal(again[0], h) and torch.equal(again[1], s)


def test_global_histogram_known_values():
    bins = ab_bins()
    q1, q2 = 100, 200
    ab = torch.zeros(2, 2, 16, 16)
    ab[0] = bins[q1].view(2, 1, 1)
    ab[1, :, :, :8] = bins[q1].view(2, 1, 1)
    ab[1, :, :, 8:] = bins[q2].view(2, 1, 1)
    h = global_histogram(ab)
    assert h.shape == (2, 313) and torch.allclose(h.sum(1), torch.ones(2))
    assert h[0, q1] == 1 and h[1, q1] == 0.5 and h[1, q2] == 0.5
    # Pooling comes before the hard assignment: a fine checkerboard of two colours 20 apart in a
    # becomes their midpoint, one bin, although no pixel has that colour.
    a0 = bins[q1]
    a1 = a0 + torch.tensor([20.0, 0.0])
    mid = int(((bins - (a0 + a1) / 2) ** 2).sum(1).argmin())
    checker = ((torch.arange(8)[:, None] + torch.arange(8)[None]) % 2).bool()
    ab2 = torch.where(checker, a1.view(2, 1, 1), a0.view(2, 1, 1))[None]
    assert global_histogram(ab2)[0, mid] == 1
    assert global_histogram(ab2, pool=1)[0, mid] == 0


def test_mean_saturation():
    red = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1).expand(1, 3, 4, 4)
    grey = torch.full((1, 3, 4, 4), 0.4)
    black = torch.zeros(1, 3, 4, 4)
    half = torch.tensor([0.8, 0.4, 0.4]).view(1, 3, 1, 1).expand(1, 3, 4, 4)  # S = (0.8 - 0.4) / 0.8
    s = mean_saturation(torch.cat([red, grey, black, half]))
    assert torch.allclose(s, torch.tensor([1.0, 0.0, 0.0, 0.5]))
    mix = torch.cat([red[..., :2], grey[..., 2:]], dim=-1)
    assert torch.allclose(mean_saturation(mix), torch.tensor([0.5]))
    with pytest.raises(ValueError, match="255"):
        mean_saturation(red * 255)


# ---------------------------------------------------------------------------------------------
# The 529-class grid
# ---------------------------------------------------------------------------------------------


def test_encode_decode_529_round_trip():
    idx = torch.arange(529).view(1, 23, 23)
    ab = decode_ab_index(idx)
    assert ab.shape == (1, 2, 23, 23)
    assert torch.equal(encode_ab_index(ab), idx)
    assert torch.equal(ab[0].permute(1, 2, 0).reshape(529, 2), grid_bins())  # a-major, = grid_bins rows
    # a-major: index 1 is (a, b) = (-110, -100), index 23 is (-100, -110).
    assert decode_ab_index(torch.tensor([[1]])).flatten().tolist() == [-110.0, -100.0]
    assert decode_ab_index(torch.tensor([[23]])).flatten().tolist() == [-100.0, -110.0]
    # Any ab within 4.9 of a centre (per axis) encodes to that centre; beyond the range it clamps.
    g = torch.Generator().manual_seed(0)
    jitter = (torch.rand(1, 2, 23, 23, generator=g) * 2 - 1) * 4.9
    assert torch.equal(encode_ab_index(ab + jitter), idx)
    far = torch.tensor([[-500.0], [300.0]]).view(1, 2, 1, 1)
    assert encode_ab_index(far).item() == 0 * 23 + 22


def test_decode_rejects_bad_indices():
    with pytest.raises(ValueError, match="529"):
        decode_ab_index(torch.tensor([[529]]))
    with pytest.raises(TypeError):
        decode_ab_index(torch.tensor([[1.0]]))


# ---------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------


def test_smooth_l1_known_values():
    true = torch.zeros(1, 2, 1, 2)
    pred = torch.tensor([[[[0.5, 3.0]], [[-0.5, 0.0]]]])  # pixel 1: (0.5, -0.5); pixel 2: (3, 0)
    # Eq. 3.4 with delta 1: 0.5 * 0.25 twice = 0.25; 1 * (3 - 0.5) = 2.5. Eq. 3.5 sums over q.
    assert torch.isclose(smooth_l1_loss(pred, true, reduction="sum"), torch.tensor(2.75))
    assert torch.isclose(smooth_l1_loss(pred, true), torch.tensor(2.75 / 2))
    assert torch.isclose(smooth_l1_loss(pred * 10, true, delta=10.0, reduction="sum"), torch.tensor(275.0))
    with pytest.raises(ValueError, match="delta"):
        smooth_l1_loss(pred, true, delta=0)


def test_distribution_loss():
    g = torch.Generator().manual_seed(0)
    ab = (torch.rand(2, 2, 32, 32, generator=g) * 2 - 1) * 100
    uniform = torch.zeros(2, 529, 8, 8)
    for target in ("hard", "soft"):
        assert torch.isclose(distribution_loss(uniform, ab, target=target), torch.log(torch.tensor(529.0)))
    idx = encode_ab_index(ab[:, :, ::4, ::4])
    right = torch.nn.functional.one_hot(idx, 529).permute(0, 3, 1, 2).float() * 20
    wrong = torch.roll(right, 100, dims=1)
    assert distribution_loss(right, ab) < 1e-6 < distribution_loss(wrong, ab)
    assert distribution_loss(right, ab, target="soft") < distribution_loss(wrong, ab, target="soft")
    with pytest.raises(ValueError, match="resolution"):
        distribution_loss(uniform, ab[:, :, :30, :30])


# ---------------------------------------------------------------------------------------------
# Errors and weight loading
# ---------------------------------------------------------------------------------------------


def test_bad_inputs():
    m = small()
    L, ab, mask = hints(1, 32)
    with pytest.raises(ValueError, match="multiples of 8"):
        m(L[..., :30], ab[..., :30], mask[..., :30])
    with pytest.raises(ValueError, match=r"\[0, 100\]"):
        m((L - 50) / 100, ab, mask)
    with pytest.raises(ValueError, match="0/1 mask"):
        m(L, ab, mask - 0.5)
    with pytest.raises(ValueError, match="ab_hint"):
        m(L, ab[:, :1], mask)
    with pytest.raises(ValueError, match="dist_head"):
        SIGGRAPH17(width=1 / 16, mask_cent=0, dist_head="mlp")


def test_load_official_from_a_local_file(tmp_path, full_model):
    state = {k: v for k, v in full_model.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "siggraph17.pth"
    torch.save(state, path)
    loaded = load_siggraph17_official(path=path)
    assert loaded.mask_cent == 0.0 and not loaded.training
    assert torch.equal(loaded.model_class[0].weight, full_model.model_class[0].weight)
    state["model_class.1.weight"] = state.pop("model_class.0.weight")
    torch.save(state, path)
    with pytest.raises(WeightsError, match="model_class"):
        load_siggraph17_official(path=path)
