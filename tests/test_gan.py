"""Tests of the shared adversarial and latent-code pieces: reprolib.nn.gan and reprolib.nn.latent."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from reprolib.nn.gan import (GANLoss, MultiScaleDiscriminator, PatchDiscriminator, discriminator_loss,
                             generator_loss, patch_receptive_fields, set_requires_grad)
from reprolib.nn.latent import kl_standard_normal, reparameterize


# ------------------------------------------------------------------------------------------
# losses


def test_lsgan_loss_is_the_mean_squared_error_per_map_summed_over_maps():
    a = torch.tensor([[[[0.5, 1.0], [0.0, 2.0]]]])
    b = torch.tensor([[[[1.0]]]])
    loss = GANLoss("lsgan")
    real = ((0.5 - 1) ** 2 + 0 + 1 + 1) / 4 + 0.0
    fake = (0.25 + 1 + 0 + 4) / 4 + 1.0
    assert float(loss([a, b], True)) == pytest.approx(real)
    assert float(loss([a, b], False)) == pytest.approx(fake)
    assert float(loss(a, True)) == pytest.approx(real)  # one map needs no list


def test_vanilla_loss_is_the_cross_entropy_of_the_logits():
    p = torch.tensor([[0.0, 2.0, -1.0]])
    sig = torch.sigmoid(p)
    loss = GANLoss("vanilla")
    assert float(loss(p, True)) == pytest.approx(float(-torch.log(sig).mean()), rel=1e-6)
    assert float(loss(p, False)) == pytest.approx(float(-torch.log(1 - sig).mean()), rel=1e-6)


def test_loss_arguments_are_checked():
    with pytest.raises(ValueError, match="lsgan"):
        GANLoss("wgan")
    with pytest.raises(TypeError, match="True \\(real\\) or False"):
        GANLoss()(torch.zeros(1), 1)
    with pytest.raises(TypeError, match="non-empty list"):
        GANLoss()([], True)


def _toy_gan():
    torch.manual_seed(0)
    G = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.Tanh())
    D = MultiScaleDiscriminator(3, ndf=4, n_layers=2, num_D=2)
    return G, D, torch.randn(2, 1, 32, 32), torch.rand(2, 3, 32, 32) * 2 - 1


def test_the_discriminator_step_leaves_the_generators_gradients_untouched():
    G, D, x, real = _toy_gan()
    loss = GANLoss()
    fake = G(x)
    generator_loss(D, fake, loss).backward(retain_graph=True)
    before = [p.grad.clone() for p in G.parameters()]
    D.zero_grad()
    discriminator_loss(D, real, fake, loss).backward()
    assert all(torch.equal(b, p.grad) for b, p in zip(before, G.parameters()))
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in D.parameters())


def test_a_frozen_discriminator_collects_no_gradient_from_the_generator_loss():
    G, D, x, _ = _toy_gan()
    set_requires_grad(D, False)
    generator_loss(D, G(x), GANLoss()).backward()
    assert all(p.grad is None for p in D.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in G.parameters())
    set_requires_grad([D, None], True)
    assert all(p.requires_grad for p in D.parameters())
    with pytest.raises(TypeError, match="torch modules"):
        set_requires_grad([D, "E"], False)


# ------------------------------------------------------------------------------------------
# discriminators


def test_patch_discriminator_keys_and_map_size_follow_the_released_layout():
    D = PatchDiscriminator(3).to("meta")  # ndf 64, 3 layers: built on the meta device, no memory
    shapes = {k: tuple(v.shape) for k, v in D.state_dict().items()}
    assert shapes == {"model.0.weight": (64, 3, 4, 4), "model.0.bias": (64,),
                      "model.2.weight": (128, 64, 4, 4), "model.2.bias": (128,),
                      "model.5.weight": (256, 128, 4, 4), "model.5.bias": (256,),
                      "model.8.weight": (512, 256, 4, 4), "model.8.bias": (512,),
                      "model.11.weight": (1, 512, 4, 4), "model.11.bias": (1,)}
    assert tuple(D(torch.empty(1, 3, 256, 256, device="meta")).shape) == (1, 1, 30, 30)


def test_multiscale_discriminator_halves_the_width_and_the_image_per_scale():
    D = MultiScaleDiscriminator(3, ndf=64, n_layers=3, num_D=2).to("meta")
    sd = D.state_dict()
    assert tuple(sd["model_0.0.weight"].shape) == (64, 3, 4, 4)
    assert tuple(sd["model_1.0.weight"].shape) == (32, 3, 4, 4)
    assert tuple(sd["model_1.11.weight"].shape) == (1, 256, 4, 4)
    assert {k.split(".")[0] for k in sd} == {"model_0", "model_1"}  # instance norm adds no keys
    maps = D(torch.empty(1, 3, 256, 256, device="meta"))
    assert [tuple(m.shape[-2:]) for m in maps] == [(30, 30), (14, 14)]


def test_receptive_fields_are_70_and_141_and_match_the_networks_gradient_support():
    assert patch_receptive_fields(3, 2) == [70, 141]
    assert patch_receptive_fields(1) == [16]
    torch.manual_seed(1)
    # No norm: instance norm would couple every pixel to every output. The support of the gradient of one
    # central score with respect to the input is the patch that score sees.
    D = MultiScaleDiscriminator(1, ndf=2, n_layers=3, num_D=2, norm="none").double()
    x = torch.randn(1, 1, 320, 320, dtype=torch.float64, requires_grad=True)
    for d, expected in enumerate(patch_receptive_fields(3, 2)):
        maps = D(x)
        h, w = maps[d].shape[-2:]
        (grad,) = torch.autograd.grad(maps[d][0, 0, h // 2, w // 2], x)
        rows = torch.nonzero(grad[0, 0].abs().sum(1)).flatten()
        cols = torch.nonzero(grad[0, 0].abs().sum(0)).flatten()
        assert int(rows[-1] - rows[0] + 1) == expected and int(cols[-1] - cols[0] + 1) == expected


@pytest.mark.parametrize("kwargs, message", [(dict(in_channels=0), "in_channels"), (dict(in_channels=3, n_layers=0), "n_layers"),
                                             (dict(in_channels=3, norm="group"), "norm"),
                                             (dict(in_channels=3, ndf=1, num_D=3), "no channels")])
def test_discriminator_arguments_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MultiScaleDiscriminator(**kwargs)


# ------------------------------------------------------------------------------------------
# latent codes


def test_reparameterize_draws_from_the_gaussian_and_is_differentiable():
    n = 20000
    mu = torch.full((n, 2), 1.0, requires_grad=True)
    logvar = torch.full((n, 2), math.log(4.0), requires_grad=True)
    z = reparameterize(mu, logvar, torch.Generator().manual_seed(0))
    # mean 1, sd 2: the sample mean's SE is 2 / sqrt(40000) = 0.01 and the sample sd's ~0.007; 5 SEs
    zs = z.detach()
    assert float(zs.mean()) == pytest.approx(1.0, abs=0.05) and float(zs.std()) == pytest.approx(2.0, abs=0.035)
    again = reparameterize(mu, logvar, torch.Generator().manual_seed(0))
    assert torch.equal(z, again)  # the same generator state, the same draw, on one machine
    z.sum().backward()
    eps = (again - 1.0) / 2.0
    assert torch.allclose(mu.grad, torch.ones_like(mu))
    assert torch.allclose(logvar.grad, 0.5 * 2.0 * eps, atol=1e-5)  # dz/dlogvar = sigma * eps / 2


def test_kl_matches_the_divergence_of_two_normals_and_its_reductions():
    torch.manual_seed(0)
    mu, logvar = torch.randn(4, 8, dtype=torch.float64), torch.randn(4, 8, dtype=torch.float64)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    expected = torch.distributions.kl_divergence(q, p).sum(1)
    assert torch.allclose(kl_standard_normal(mu, logvar, "none"), expected, rtol=1e-12)
    assert float(kl_standard_normal(mu, logvar, "sum")) == pytest.approx(float(expected.sum()), rel=1e-12)
    assert float(kl_standard_normal(mu, logvar)) == pytest.approx(float(expected.mean()), rel=1e-12)
    zero = torch.zeros(3, 8)
    assert float(kl_standard_normal(zero, zero)) == 0.0  # the prior itself
    assert (kl_standard_normal(mu, logvar, "none") > 0).all()


def test_latent_arguments_are_checked():
    with pytest.raises(ValueError, match="same shape"):
        kl_standard_normal(torch.zeros(2, 8), torch.zeros(2, 4))
    with pytest.raises(ValueError, match=r"\(N, nz\)"):
        reparameterize(torch.zeros(8), torch.zeros(8))
    with pytest.raises(ValueError, match="reduction"):
        kl_standard_normal(torch.zeros(2, 8), torch.zeros(2, 8), "mean")


# ------------------------------------------------------------------------------------------
# encoders


def test_resnet_encoder_has_the_released_resnet_256_layout():
    from reprolib.nn.latent import ResNetEncoder

    E = ResNetEncoder(3, 8, size=256).to("meta")
    s = {k: tuple(v.shape) for k, v in E.state_dict().items()}
    assert s["conv.0.weight"] == (64, 3, 4, 4)
    widths = [(64, 128), (128, 192), (192, 256), (256, 256)]  # reference-facts 3.3
    for n, (i, o) in enumerate(widths, start=1):
        assert s[f"conv.{n}.conv.2.weight"] == (i, i, 3, 3)
        assert s[f"conv.{n}.conv.5.0.weight"] == (o, i, 3, 3)
        assert s[f"conv.{n}.shortcut.1.weight"] == (o, i, 1, 1)
    assert s["fc.0.weight"] == s["fcVar.0.weight"] == (8, 256)
    assert len(s) == 2 + 4 * 6 + 4  # instance norm adds no keys
    mu, logvar = E(torch.empty(2, 3, 256, 256, device="meta"))
    assert mu.shape == logvar.shape == (2, 8)


def test_conv_encoder_has_the_released_conv_256_layout():
    from reprolib.nn.latent import ConvEncoder

    s = {k: tuple(v.shape) for k, v in ConvEncoder(3, 8, size=256).to("meta").state_dict().items()}
    assert [k for k in s if k.endswith("weight")] == ["conv.0.weight", "conv.2.weight", "conv.5.weight", "conv.8.weight",
                                                      "conv.11.weight", "fc.0.weight", "fcVar.0.weight"]
    assert s["conv.5.weight"] == (256, 128, 4, 4) and s["conv.11.weight"] == (256, 256, 4, 4)


@pytest.mark.parametrize("kind", ["ResNetEncoder", "ConvEncoder"])
def test_small_encoders_run_and_check_their_input(kind):
    import reprolib.nn.latent as L

    torch.manual_seed(0)
    E = getattr(L, kind)(3, 4, size=32, nef=4)
    x = torch.randn(2, 3, 32, 32)
    mu, logvar = E(x)
    assert mu.shape == logvar.shape == (2, 4) and not torch.allclose(mu[0], mu[1])
    acts = [m for m in E.modules() if isinstance(m, nn.LeakyReLU)]
    assert acts and not any(m.inplace for m in acts)
    with pytest.raises(ValueError, match=r"built for \(N, C, 32, 32\) images"):
        E(torch.randn(1, 3, 64, 64))
    with pytest.raises(ValueError, match="power-of-two size >= 16"):
        getattr(L, kind)(3, 4, size=48)
