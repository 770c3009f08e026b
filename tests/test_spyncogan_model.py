"""SpyncoGan's networks and losses (models/spyncogan.py): H_t, the generator with its output pyramid, the
separable PatchGAN, Col-Cycle's four networks, the Sobel contours, the losses of Eq. 4-9, and the parameter
counts of every reading (exact integers, counted here from the formulas and from the built networks)."""

import pytest
import torch
from torch import nn

from reprolib.modelinfo import count_parameters
from reprolib.models.spyncogan import (
    ALPHA,
    BETA,
    GAMMA,
    H_T,
    PAPER_D_PARAMS,
    PAPER_G_PARAMS,
    PAPER_HT_PARAMS,
    PAPER_TOTAL_PARAMS,
    ZETA,
    HandcraftedTranslation,
    SpyncoDiscriminator,
    SpyncoGenerator,
    colcycle_models,
    contour_loss,
    discriminator_loss,
    generator_gan_loss,
    generator_losses,
    grey_to_input,
    identity_loss,
    parameter_table,
    pseudo_cycle_loss,
    sobel,
)
from reprolib.nn.gan import patch_receptive_fields, set_requires_grad


def _images(n=2, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, size, size, generator=g), torch.rand(n, 3, size, size, generator=g)


def _sep(cin, cout, k):  # k x 1 (cin -> cout) then 1 x k (cout -> cout), two biases
    return k * cin * cout + k * cout * cout + 2 * cout


def _g_count(c1, c2, c3, out=3, decreasing=False):
    u1, u2 = (c2, c1) if decreasing else (c3, c3)
    return (49 * 3 * c1 + c1 + _sep(c1, c2, 3) + _sep(c2, c3, 3) + 6 * (9 * c3 * c3 + c3)
            + _sep(c3, u1, 3) + _sep(u1, u2, 3) + 49 * u2 * out + out)


def _d_count(b, cin=3, out_kernel=1):
    return (_sep(cin, b, 4) + _sep(b, 2 * b, 4) + _sep(2 * b, 4 * b, 4) + _sep(4 * b, 8 * b, 4)
            + out_kernel ** 2 * 8 * b + 1)


# ---------------------------------------------------------------- H_t

def test_ht_has_three_fixed_weights_and_computes_luma():
    H = HandcraftedTranslation()
    assert count_parameters(H) == PAPER_HT_PARAMS == 3 and count_parameters(H, trainable_only=True) == 0
    assert H.weight.flatten().tolist() == pytest.approx([0.299, 0.587, 0.114], abs=1e-7)
    primaries = torch.eye(3).view(3, 3, 1, 1)  # a red, a green and a blue pixel
    assert H(primaries).flatten().tolist() == pytest.approx([0.299, 0.587, 0.114], abs=1e-7)
    grey, _ = _images()
    assert torch.allclose(H(grey_to_input(grey)), grey, atol=1e-6)  # the weights sum to 1: a grey stays itself
    assert H(grey_to_input(grey).double()).dtype == torch.float64  # the weights follow the input's dtype


def test_ht_never_trains_even_if_unfrozen_but_passes_gradients_to_its_input():
    H = HandcraftedTranslation()
    set_requires_grad(H, True)  # a careless "unfreeze everything"
    x = torch.rand(2, 3, 8, 8, requires_grad=True)
    H(x).sum().backward()
    assert H.weight.grad is None
    assert torch.allclose(x.grad[:, :, 0, 0], torch.tensor([0.299, 0.587, 0.114]).expand(2, 3))


# ---------------------------------------------------------------- generator

def test_generator_layer_list():
    G = SpyncoGenerator(1 / 8)
    convs = [m for m in G.modules() if isinstance(m, nn.Conv2d)]
    sep = [(3, 1), (1, 3)]
    assert [m.kernel_size for m in convs] == [(7, 7)] + sep * 2 + [(3, 3)] * 6 + sep * 2 + [(7, 7)]
    assert [m.stride for m in convs[1:5]] == [(2, 1), (1, 2)] * 2 and all(m.stride == (1, 1) for m in convs[5:])
    assert all(m.groups == 1 and m.padding_mode == "reflect" and m.bias is not None for m in convs)  # not depthwise
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in G.modules())  # interpolation + conv
    assert [m.out_channels for m in convs if m.out_channels == 3] == [3]  # one shared map to RGB
    norms = [m for m in G.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert len(norms) == 3 + 6 + 2 and not any(m.affine for m in norms)


def test_generator_outputs_the_pyramid_at_full_size_in_the_unit_range():
    torch.manual_seed(0)
    G = SpyncoGenerator(1 / 8)
    x = torch.rand(2, 3, 32, 48)
    outs = G(x)
    assert isinstance(outs, list) and len(outs) == 3
    assert all(o.shape == (2, 3, 32, 48) and 0 <= o.min() and o.max() <= 1 for o in outs)
    O_1, O_2, O_3 = G.features(x)
    assert [tuple(o.shape) for o in (O_1, O_2, O_3)] == [(2, 32, 32, 48), (2, 32, 16, 24), (2, 32, 8, 12)]
    # G_i = map(up^(i-1)(O_i)), one map for all, up = nearest x2 (twice = nearest x4)
    up4 = nn.functional.interpolate(O_3, scale_factor=4, mode="nearest")
    assert torch.equal(outs[2], (1 + torch.tanh(G.map(up4))) / 2)
    up2 = O_2.repeat_interleave(2, -1).repeat_interleave(2, -2)  # nearest x2, written another way
    assert torch.equal(outs[1], G.to_image(up2)) and torch.equal(outs[0], G.to_image(O_1))


def test_no_pyramid_flag_returns_only_g1_with_the_same_network():
    torch.manual_seed(0)
    G, G1 = SpyncoGenerator(1 / 8), SpyncoGenerator(1 / 8, pyramids=False)
    G1.load_state_dict(G.state_dict())  # same keys: the ablation changes the losses, not the network
    assert count_parameters(G1) == count_parameters(G)
    x = grey_to_input(_images(size=32)[0])
    one = G1(x)
    assert len(one) == 1 and torch.allclose(one[0], G(x)[0], atol=1e-6)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(G1.pyramid(x), G(x), strict=True))
    # with one output every loss uses the first weight only
    grey, J = _images(size=32)
    terms, fakes = generator_losses(G1, SpyncoDiscriminator(3, 1 / 8), grey, J)
    assert len(fakes) == 1
    G_of_J = G1(J)
    assert torch.allclose(terms["identity"], ALPHA[0] * (G_of_J[0] - J).abs().mean(), atol=1e-6)


def test_generator_counts_and_width_scaling():
    assert count_parameters(SpyncoGenerator()) == _g_count(64, 128, 256) == 4_744_451
    for width, channels in ((0.5, (32, 64, 128)), (1 / 8, (8, 16, 32)), (1 / 16, (4, 8, 16))):
        G = SpyncoGenerator(width)
        assert G.channels == channels and count_parameters(G) == _g_count(*channels)
    assert SpyncoGenerator(1 / 4, n=128).channels == (8, 16, 32)


# ---------------------------------------------------------------- discriminator

def test_discriminator_layers_counts_and_map_size():
    D = SpyncoDiscriminator()
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert [m.kernel_size for m in convs] == [(4, 1), (1, 4)] * 4 + [(1, 1)]
    assert [m.stride for m in convs] == [(2, 1), (1, 2)] * 3 + [(1, 1)] * 3 and all(m.groups == 1 for m in convs)
    assert count_parameters(D) == _d_count(64) == 2_083_969
    assert count_parameters(SpyncoDiscriminator(out_kernel=4)) == _d_count(64, out_kernel=4) == 2_091_649
    assert count_parameters(SpyncoDiscriminator(affine=True)) == 2_083_969 + 2 * (128 + 256 + 512) == 2_085_761
    assert count_parameters(SpyncoDiscriminator(1)) == _d_count(64, cin=1) == 2_083_457
    small = SpyncoDiscriminator(3, 1 / 8)
    assert count_parameters(small) == _d_count(8)
    assert small(torch.rand(2, 3, 32, 32)).shape == (2, 1, 3, 3)
    assert SpyncoDiscriminator(3, 1 / 8, out_kernel=4)(torch.rand(2, 3, 32, 32)).shape == (2, 1, 2, 2)


@pytest.mark.parametrize("out_kernel, field", [(1, 46), (4, patch_receptive_fields(3)[0])])
def test_discriminator_patch_size(out_kernel, field):
    torch.manual_seed(0)
    D = SpyncoDiscriminator(3, 1 / 16, out_kernel=out_kernel)
    for i, m in enumerate(D.model):  # InstanceNorm couples every pixel; without it the field shows
        if isinstance(m, nn.InstanceNorm2d):
            D.model[i] = nn.Identity()
    x = torch.rand(1, 3, 96, 96, requires_grad=True)
    scores = D(x)
    scores[0, 0, 5, 5].backward()
    seen = x.grad.abs().sum((0, 1)) > 0
    rows, cols = seen.any(1).nonzero().flatten(), seen.any(0).nonzero().flatten()
    assert int(rows[-1] - rows[0]) + 1 == field == int(cols[-1] - cols[0]) + 1
    assert field == (70 if out_kernel == 4 else 46)


# ---------------------------------------------------------------- Col-Cycle

def test_colcycle_has_two_generators_and_two_discriminators():
    torch.manual_seed(0)
    net = colcycle_models(1 / 8)
    x, grey = torch.rand(2, 3, 32, 32), torch.rand(2, 1, 32, 32)
    assert net.G(x)[0].shape == (2, 3, 32, 32) and len(net.G(x)) == 1
    assert net.F(x)[0].shape == (2, 1, 32, 32)  # the grey side writes one channel
    assert net.D_B(x).shape == net.D_A(grey).shape == (2, 1, 3, 3)
    with pytest.raises(RuntimeError, match="no output pyramid"):
        net.G.pyramid(x)
    full = colcycle_models(1.0)
    counts = [count_parameters(m) for m in full]
    assert counts == [_g_count(64, 128, 256, decreasing=True), _g_count(64, 128, 256, 1, decreasing=True),
                      _d_count(64), _d_count(64, cin=1)] == [4_113_475, 4_107_201, 2_083_969, 2_083_457]
    assert sum(counts) == 12_388_102 > count_parameters(SpyncoGenerator()) + count_parameters(SpyncoDiscriminator())


# ---------------------------------------------------------------- Sobel and the losses

def test_sobel_on_a_step_edge():
    step = torch.zeros(1, 1, 8, 8)
    step[..., 4:] = 1.0  # dark left, bright right
    g = sobel(step)
    assert g.shape == (1, 2, 8, 8)
    expected = torch.zeros(8, 8)
    expected[:, 3:5] = 4.0  # (1 + 2 + 1) on the two columns beside the edge, borders included
    assert torch.equal(g[0, 0], expected) and torch.equal(g[0, 1], torch.zeros(8, 8))
    g_t = sobel(step.transpose(-1, -2))  # the same edge lying down: only d/dy sees it
    assert torch.equal(g_t[0, 1], expected.T) and torch.equal(g_t[0, 0], torch.zeros(8, 8))
    assert torch.equal(sobel(torch.full((1, 2, 5, 5), 0.3)), torch.zeros(1, 4, 5, 5))  # flat: zero everywhere


def test_the_paper_weights():
    assert (ALPHA, BETA, GAMMA, ZETA) == ((5, 3, 2), (10, 6, 4), (1, 1, 1), (1, 0, 0))  # Sec. 5.2
    assert (PAPER_G_PARAMS, PAPER_D_PARAMS, PAPER_TOTAL_PARAMS) == (4_978_000, 2_085_000, 7_063_000)


def test_identity_loss():
    _, J = _images()
    assert identity_loss([J, J, J], J) == 0
    assert identity_loss([J + 0.1] * 3, J).item() == pytest.approx((5 + 3 + 2) * 0.1, rel=1e-5)
    assert identity_loss([J, J, J + 0.1], J).item() == pytest.approx(2 * 0.1, rel=1e-5)  # G_3 weighs least
    assert identity_loss([J + 0.1], J).item() == pytest.approx(5 * 0.1, rel=1e-5)  # L^1: alpha_1 only


def test_pseudo_cycle_loss_has_both_directions():
    grey, J = _images()
    right_bab, right_aba = [J] * 3, [grey_to_input(grey)] * 3  # G(H_t(J)) = J and H_t(G(grey)) = grey
    assert pseudo_cycle_loss(right_bab, J, right_aba, grey).item() < 1e-6
    bab = pseudo_cycle_loss([J + 0.1] * 3, J, right_aba, grey).item()
    aba = pseudo_cycle_loss(right_bab, J, [grey_to_input(grey) + 0.1] * 3, grey).item()
    assert bab == pytest.approx(20 * 0.1, rel=1e-4) and aba == pytest.approx(20 * 0.1, rel=1e-4)
    # A -> B -> A compares greys: a colour whose luma is grey costs nothing, however colourful
    colourful = grey_to_input(grey) + torch.tensor([0.114, 0.0, -0.299]).view(1, 3, 1, 1)
    assert pseudo_cycle_loss(right_bab, J, [colourful] * 3, grey).item() < 1e-6


def test_contour_loss():
    grey = torch.zeros(2, 1, 8, 8)
    grey[..., 4:] = 1.0
    flat = torch.full((2, 3, 8, 8), 0.5)
    assert contour_loss([grey_to_input(grey) + 0.2] * 3, grey) < 1e-6  # brighter, same edges: no contour cost
    assert contour_loss([flat], grey).item() == pytest.approx(4 * 2 / 8)  # mean |d/dx| of the lost edge
    assert contour_loss([grey_to_input(grey), flat, flat], grey) == 0  # zeta = (1, 0, 0): G_2, G_3 ignored
    assert contour_loss([flat, flat], grey, zeta=(0.0, 1.0)).item() == pytest.approx(1.0)


class _Score(nn.Module):
    """A stand-in D: the mean red of each image, as a 2 x 2 map (red images are "real")."""

    def forward(self, x):
        return x[:, :1].mean((2, 3), keepdim=True).expand(-1, 1, 2, 2)


def test_gan_losses_zero_when_they_should_be():
    red, blue = torch.zeros(2, 3, 8, 8), torch.zeros(2, 3, 8, 8)
    red[:, 0], blue[:, 2] = 1.0, 1.0
    D = _Score()
    assert discriminator_loss(D, red, [blue] * 3) == 0  # D tells them apart
    assert generator_gan_loss(D, [blue] * 3).item() == pytest.approx(3.0)  # every fake caught, gamma = 1 each
    assert generator_gan_loss(D, [red] * 3) == 0  # D fooled
    assert discriminator_loss(D, red, [red] * 3).item() == pytest.approx(1.0)  # the gamma-weighted mean of fakes
    assert discriminator_loss(D, red, [red]).item() == pytest.approx(1.0)  # the same scale for L^1
    torch.manual_seed(0)
    D = SpyncoDiscriminator(3, 1 / 16)
    real, fake = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32, requires_grad=True)
    discriminator_loss(D, real, [fake]).backward()
    assert fake.grad is None and all(p.grad is not None for p in D.parameters())  # D's loss stops at D
    generator_gan_loss(D, [fake]).backward()
    assert fake.grad is not None


def test_gradients_reach_every_generator_weight_but_not_ht():
    torch.manual_seed(0)
    G, D = SpyncoGenerator(1 / 16), SpyncoDiscriminator(3, 1 / 16)
    grey, J = _images(size=32)
    set_requires_grad(D, False)
    terms, fakes = generator_losses(G, D, grey, J)
    assert set(terms) == {"identity", "cycle", "gan", "contours", "total"} and len(fakes) == 3
    assert all(t.dim() == 0 and t.item() > 0 for t in terms.values())
    terms["total"].backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in G.parameters())
    assert H_T.weight.grad is None and not H_T.weight.requires_grad
    assert all(p.grad is None for p in D.parameters())
    # the A -> B -> A term alone reaches G, through H_t
    G.zero_grad(set_to_none=True)
    pseudo_cycle_loss([J], J, G(grey_to_input(grey)), grey).backward()
    assert all(p.grad is not None for p in G.parameters())


def test_generator_losses_batch_equals_separate_calls():
    torch.manual_seed(0)
    G, D = SpyncoGenerator(1 / 16), SpyncoDiscriminator(3, 1 / 16)
    grey, J = _images(n=2, size=32, seed=3)
    J = J[:1]  # unequal batches of the two domains
    terms, _ = generator_losses(G, D, grey, J)
    G_of_I, G_of_J, G_of_HtJ = G(grey_to_input(grey)), G(J), G(grey_to_input(H_T(J)))
    alone = {"identity": identity_loss(G_of_J, J), "cycle": pseudo_cycle_loss(G_of_HtJ, J, G_of_I, grey),
             "gan": generator_gan_loss(D, G_of_I), "contours": contour_loss(G_of_I, grey)}
    for k, v in alone.items():
        assert torch.allclose(terms[k], v, rtol=1e-4, atol=1e-6), k
    assert torch.allclose(terms["total"], sum(alone.values()), rtol=1e-4)
    no_contours, _ = generator_losses(G, D, grey, J, zeta=(0.0, 0.0, 0.0))
    assert no_contours["contours"] == 0


# ---------------------------------------------------------------- parameter table

def test_parameter_table():
    rows = parameter_table()
    counts = [(r.network, r.params) for r in rows]
    assert counts == [("G", 4_744_451), ("D", 2_764_737), ("D", 2_091_649), ("D", 2_083_969), ("D", 2_085_761),
                      ("H_t", 3), ("G + D", 6_828_420), ("Col-Cycle", 12_388_102)]
    assert rows[3].reading.endswith("1x1 output (this module)") and abs(rows[3].relative) < 0.005
    assert abs(rows[0].relative) < 0.05 and rows[1].relative > 0.3 and rows[-1].relative is None


# ---------------------------------------------------------------- bad input

def test_clear_errors_for_bad_input():
    G = SpyncoGenerator(1 / 16)
    with pytest.raises(ValueError, match="multiples of 4"):
        G(torch.rand(1, 3, 30, 32))
    with pytest.raises(ValueError, match="multiples of 4"):
        G(torch.rand(1, 3, 4, 4))  # too small for two stride-2 layers
    with pytest.raises(ValueError, match="grey_to_input"):
        G(torch.rand(1, 1, 32, 32))
    with pytest.raises(TypeError, match="floating tensor"):
        G(torch.rand(3, 32, 32))
    with pytest.raises(ValueError, match="RGB"):
        H_T(torch.rand(1, 1, 8, 8))
    with pytest.raises(ValueError, match="1 channel"):
        grey_to_input(torch.rand(1, 3, 8, 8))
    for kwargs in ({"width": 0}, {"width": -1.0}, {"decoder": "wide"}, {"decoder": "decreasing"}, {"n": 0}):
        with pytest.raises(ValueError):
            SpyncoGenerator(**kwargs)
    with pytest.raises(ValueError, match="out_kernel"):
        SpyncoDiscriminator(out_kernel=3)
    with pytest.raises(ValueError, match="too small"):
        SpyncoDiscriminator(3, 1 / 16)(torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match="3 channel"):
        SpyncoDiscriminator(3, 1 / 16)(torch.rand(1, 1, 32, 32))
    grey, J = _images()
    with pytest.raises(ValueError, match="4 outputs"):
        identity_loss([J] * 4, J)
    with pytest.raises(TypeError, match="list"):
        identity_loss(J, J)
    with pytest.raises(ValueError, match="same batch and image size"):
        identity_loss([J[:, :, :8]], J)
    with pytest.raises(ValueError, match="alpha"):
        identity_loss([J], J, alpha=(-1.0,))
    with pytest.raises(ValueError, match="1 channel"):
        pseudo_cycle_loss([J], J, [J], J)  # grey given in colour
    with pytest.raises(ValueError, match="no weight"):
        discriminator_loss(_Score(), J, [J], gamma=(0.0, 1.0, 1.0))
    with pytest.raises(TypeError, match="sobel"):
        sobel(torch.rand(8, 8))
