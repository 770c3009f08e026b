"""The diverse-colorization networks (sec. 6) and losses (Eq. 2-6) on cases with known answers."""

import math

import numpy as np
import pytest
import torch

from reprolib.models import divcolor as dc


def _fields(n=4, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 2, size, size, generator=g) * 1.6 - 0.8


def test_networks_have_the_papers_shapes_at_full_width():
    with torch.device("meta"):
        vae = dc.DivColorVAE("skip", size=64, width=1.0)
        ab, grey = torch.empty(3, 2, 64, 64), torch.empty(3, 1, 64, 64)
        mu, logvar = vae.encode(ab)
        maps = vae.grey(grey)
        out = vae.decode(mu, grey)
        mdn = dc.MDN(512, 28)  # sec. 6.2: G is 28 x 28 x 512
        logits, means = mdn(torch.empty(3, 512, 28, 28))
    assert mu.shape == logvar.shape == (3, 64) and out.shape == (3, 2, 64, 64)
    assert [tuple(m.shape[1:]) for m in maps] == [(128, 32, 32), (256, 16, 16), (512, 8, 8), (64, 4, 4)]
    assert logits.shape == (3, 8) and means.shape == (3, 8, 64)
    assert mdn.fc[-1].out_features == 8 * 64 + 8 == 520  # "FC(8 x d + 8)"
    enc = [m for m in vae.encoder.convs if isinstance(m, torch.nn.Conv2d)]
    assert [(m.out_channels, m.kernel_size[0], m.stride[0]) for m in enc] == [(128, 5, 2), (256, 5, 2), (512, 5, 2),
                                                                            (1024, 4, 2)]


def test_the_decoder_of_ours_reads_z_alone_and_the_skip_decoder_the_grey_image():
    torch.manual_seed(0)
    z = torch.randn(2, 8)
    grey_a, grey_b = torch.rand(2, 1, 16, 16) - 0.5, torch.rand(2, 1, 16, 16) - 0.5
    ours = dc.DivColorVAE("ours", size=16, width=1 / 32, d=8).eval()
    skip = dc.DivColorVAE("skip", size=16, width=1 / 32, d=8).eval()
    with torch.no_grad():
        out = ours.decode(z)
        assert out.shape == (2, 2, 16, 16) and out.abs().max() <= 1  # tanh: ab / 128 in [-1, 1]
        assert not torch.allclose(skip.decode(z, grey_a), skip.decode(z, grey_b))
        assert not torch.allclose(ours.decode(z), ours.decode(z.flip(0)))
    with pytest.raises(ValueError, match="needs the grey image"):
        skip.decode(z)


def test_only_the_cvae_encoder_sees_the_grey_image():
    torch.manual_seed(1)
    ab = _fields(2, 16)
    grey_a, grey_b = torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16)
    cvae = dc.DivColorVAE("cvae", size=16, width=1 / 32, d=8).eval()
    skip = dc.DivColorVAE("skip", size=16, width=1 / 32, d=8).eval()
    with torch.no_grad():
        assert not torch.allclose(cvae.encode(ab, grey_a)[0], cvae.encode(ab, grey_b)[0])
        assert torch.equal(skip.encode(ab, grey_a)[0], skip.encode(ab, grey_b)[0])


def test_bad_configurations_are_explained():
    with pytest.raises(ValueError, match="kind"):
        dc.DivColorVAE("gan")
    with pytest.raises(ValueError, match="multiple of 16"):
        dc.DivColorVAE("ours", size=40)
    with pytest.raises(ValueError, match="width"):
        dc.DivColorVAE("ours", width=0)
    with pytest.raises(ValueError, match="at least 2 x 2"):
        dc.MDN(8, 1)


def test_pca_finds_known_directions_and_their_spreads():
    g = torch.Generator().manual_seed(2)
    dim = 2 * 4 * 4
    basis, _ = torch.linalg.qr(torch.randn(dim, 2, generator=g, dtype=torch.float64))
    coeffs = torch.randn(20000, 2, generator=g, dtype=torch.float64) * torch.tensor([3.0, 1.0], dtype=torch.float64)
    fields = (coeffs @ basis.T + 0.01 * torch.randn(20000, dim, generator=g, dtype=torch.float64)).reshape(-1, 2, 4, 4)
    P, sigma = dc.fit_pca(fields + 5.0, k=2)  # an offset: the directions come from the centred fields
    assert P.shape == (dim, 2)
    torch.testing.assert_close(P.T @ P, torch.eye(2, dtype=torch.float64), atol=1e-12, rtol=0)
    cos = (P * basis).sum(0).abs()
    assert bool((cos > 0.9999).all())
    # the spread of 20000 draws: relative standard error 1/sqrt(2 * 20000) = 0.5 %; 2 % is four of them
    torch.testing.assert_close(sigma, torch.tensor([3.0, 1.0], dtype=torch.float64), rtol=0.02, atol=0)


def test_mahalanobis_loss_is_the_weighted_projections_plus_the_residue():
    c, f = _fields(3, 4, seed=3), _fields(3, 4, seed=4)
    dim = 32
    g = torch.Generator().manual_seed(5)
    P, _ = torch.linalg.qr(torch.randn(dim, 5, generator=g, dtype=torch.float64))
    sigma = torch.tensor([2.0, 1.5, 1.0, 0.5, 0.25], dtype=torch.float64)
    d = (c.double() - f.double()).flatten(1).numpy()
    proj = d @ P.numpy()
    residue = d - proj @ P.numpy().T  # what the five directions leave
    expected = ((proj / sigma.numpy()) ** 2).sum(1) + (residue ** 2).sum(1) / 0.25 ** 2
    loss = dc.mahalanobis_loss(c.double(), f.double(), P, sigma)
    assert float(loss) == pytest.approx(expected.mean(), rel=1e-10)
    # with a complete basis nothing is left over: the loss is the Mahalanobis distance alone
    Q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=g, dtype=torch.float64))
    s = torch.linspace(2.0, 0.5, dim, dtype=torch.float64)
    full = ((d @ Q.numpy() / s.numpy()) ** 2).sum(1).mean()
    assert float(dc.mahalanobis_loss(c.double(), f.double(), Q, s)) == pytest.approx(full, rel=1e-9)


def test_colourfulness_and_gradient_losses():
    c, f = _fields(2, 8, seed=6), _fields(2, 8, seed=7)
    ones = torch.ones(2, 8, 8)
    assert float(dc.hist_loss(c, f, ones)) == pytest.approx(float((c - f).pow(2).sum() / 2), rel=1e-6)
    w = torch.rand(2, 8, 8, generator=torch.Generator().manual_seed(8))
    assert float(dc.hist_loss(c, f, 3 * w)) == pytest.approx(3 * float(dc.hist_loss(c, f, w)), rel=1e-6)
    assert float(dc.grad_loss(c, c + 0.3)) == pytest.approx(0.0, abs=1e-10)  # a constant shift has the same gradients
    # one step edge in f only: the horizontal differences see it once per row and channel
    edge = torch.zeros(1, 2, 4, 4)
    edge[..., 2:] = 1.0
    assert float(dc.grad_loss(torch.zeros(1, 2, 4, 4), edge)) == pytest.approx(2 * 4 * 1.0)


def test_closest_component_loss_by_hand_and_its_gradients():
    logits = torch.tensor([[0.0, math.log(3.0)]], requires_grad=True)  # pi = (1/4, 3/4)
    means = torch.tensor([[[0.0, 0.0], [2.0, 2.0]]], requires_grad=True)
    z = torch.tensor([[0.5, 0.0]])  # nearest: component 0, distance^2 0.25
    loss = dc.mdn_closest_loss(logits, means, z, variance=0.1)
    assert float(loss.detach()) == pytest.approx(-math.log(0.25) + 0.25 / 0.2, rel=1e-6)
    loss.backward()
    assert float(means.grad[0, 1].abs().sum()) == 0.0  # the far component's mean gets no gradient
    assert float(means.grad[0, 0].abs().sum()) > 0 and bool((logits.grad != 0).all())  # every weight does


def test_eq5_underflows_in_float32_where_the_log_sum_exp_does_not():
    g = torch.Generator().manual_seed(9)
    logits = torch.zeros(4, 8)
    z = torch.randn(4, 64, generator=g)
    means = torch.randn(4, 8, 64, generator=g)  # at initialisation: ||z - mu||^2 about 128, far above 2 * 0.1 * 104
    naive = dc.mdn_nll_naive(logits, means, z)
    stable = dc.mdn_nll(logits, means, z)
    assert bool(torch.isinf(naive).all()) and bool(torch.isfinite(stable))
    # the same in float64 by hand: log of the mixture computed with the largest term factored out
    lg = dc._log_gauss(means.double(), z.double(), 0.1) + math.log(1 / 8)
    top = lg.max(1).values
    assert float(stable) == pytest.approx(float(-(top + (lg - top[:, None]).exp().sum(1).log()).mean()), rel=1e-5)
    near = means[:, :, :] * 0.01 + z[:, None, :]  # every mean close to its code: both forms agree
    torch.testing.assert_close(dc.mdn_nll_naive(logits, near, z).mean(), dc.mdn_nll(logits, near, z), rtol=1e-5, atol=1e-4)


def test_top_means_are_sorted_by_weight():
    logits = torch.tensor([[0.1, 2.0, -1.0, 1.0]])
    means = torch.arange(4.0).reshape(1, 4, 1).expand(1, 4, 3)
    top, weights = dc.top_means(logits, means, k=3)
    assert top[0, :, 0].tolist() == [1.0, 3.0, 0.0]
    assert bool((weights[0, :-1] >= weights[0, 1:]).all()) and np.isclose(float(torch.softmax(logits, 1)[0, 1]), float(weights[0, 0]))
