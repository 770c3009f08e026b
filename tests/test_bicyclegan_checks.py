"""Chapter 3's exercise checks: correct answers pass, and each usual mistake fails with its own diagnosis."""

import math

import pytest
import torch
import torch.nn.functional as F

from reprolib.book.exercises import ExerciseCheckError
from reprolib.chapters.bicyclegan import checks
from reprolib.metrics.diversity import sample_diversity
from reprolib.nn.latent import reparameterize


def stub(*args):
    raise NotImplementedError("my_function")


# ------------------------------------------------------------------ KL and reparameterisation


def kl_per_dim(mu, logvar):
    return -0.5 * (1 + logvar - mu**2 - logvar.exp())


def good_kl(mu, logvar):
    return kl_per_dim(mu, logvar).sum(dim=1).mean()


def test_kl_correct_passes_and_the_cases_are_the_announced_ones(capsys):
    checks.check_kl(good_kl)
    assert "✓ KL divergence: all 5 cases pass" in capsys.readouterr().out
    ones, zeros = torch.ones(3, 8), torch.zeros(3, 8)
    assert float(checks._ref_kl(zeros, zeros)) == 0.0
    assert float(checks._ref_kl(ones, zeros)) == pytest.approx(0.5 * 8)
    assert float(checks._ref_kl(zeros, torch.full((3, 8), math.log(4)))) == pytest.approx(8 * 0.5 * (3 - math.log(4)))


@pytest.mark.parametrize("wrong, needle", [
    (lambda m, lv: -(1 + lv - m**2 - lv.exp()).sum(1).mean(), "dropped the 1/2"),
    (lambda m, lv: -good_kl(m, lv), "wrong sign"),
    (lambda m, lv: kl_per_dim(m, lv).mean(1).mean(), "nz = 8 times too small"),
    (lambda m, lv: kl_per_dim(m, lv).mean(), "nz = 8 times too small"),
    (lambda m, lv: kl_per_dim(m, lv).sum(), "N = 3 times too large: you summed over the batch"),
    (lambda m, lv: kl_per_dim(m, lv).sum(1), "one KL per sample"),
    # logvar read as sigma, then as sigma^2: the log of logvar = 0 is -inf
    (lambda m, lv: (0.5 * (lv**2 + m**2 - 1 - torch.log(lv**2))).sum(1).mean(), "not finite"),
    (lambda m, lv: (0.5 * (lv + m**2 - 1 - torch.log(lv))).sum(1).mean(), "not finite"),
    (lambda m, lv: (-0.5 * (1 + lv - m**2 - lv)).sum(1).mean(), "where sigma\\^2 belongs"),
    (stub, "NotImplementedError"),
])
def test_kl_mistakes_are_diagnosed(wrong, needle):
    with pytest.raises(ExerciseCheckError, match=needle):
        checks.check_kl(wrong)


def test_kl_diagnoses_logvar_read_as_sigma_where_it_stays_finite():
    mu, lv = torch.zeros(2, 3), torch.full((2, 3), 1.5)
    as_sigma = (0.5 * (lv**2 + mu**2 - 1 - torch.log(lv**2))).sum(1).mean()
    as_var = (0.5 * (lv + mu**2 - 1 - torch.log(lv))).sum(1).mean()
    assert "as sigma;" in checks._diagnose_kl(as_sigma, good_kl(mu, lv), mu, lv)
    assert "as sigma^2;" in checks._diagnose_kl(as_var, good_kl(mu, lv), mu, lv)


def good_reparameterize(mu, logvar, eps):
    return mu + torch.exp(0.5 * logvar) * eps


def test_reparameterize_correct_passes_and_matches_the_library(capsys):
    checks.check_reparameterize(good_reparameterize)
    out = capsys.readouterr().out
    assert "✓ reparameterization: all 3 cases pass" in out and "gradients reach mu and logvar" in out
    mu, logvar = torch.randn(4, 8), torch.randn(4, 8)
    z = reparameterize(mu, logvar, generator=torch.Generator().manual_seed(3))
    eps = torch.randn(mu.shape, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(z, checks._ref_reparameterize(mu, logvar, eps))


@pytest.mark.parametrize("wrong, needle", [
    (lambda m, lv, e: m + lv.exp() * e, "exp\\(logvar\\) = sigma\\^2"),
    (lambda m, lv, e: m + lv * e, "neither sigma nor sigma"),
    (lambda m, lv, e: m + torch.exp(-0.5 * lv) * e, "exp\\(\\+logvar / 2\\)"),
    (lambda m, lv, e: torch.exp(0.5 * lv) + m * e, "swapped"),
    (lambda m, lv, e: m + torch.exp(0.5 * lv) * torch.randn_like(m), "use the eps passed in"),
    (lambda m, lv, e: m + lv.sqrt() * e, "neither sigma nor sigma"),
    (lambda m, lv, e: m + torch.exp(0.5 * lv) * e * lv.sign() ** -1, "NaN or inf"),  # inf where logvar = 0
    (lambda m, lv, e: good_reparameterize(m, lv, e).detach(), "z carries no gradient"),
    (lambda m, lv, e: m + torch.exp(0.5 * lv.detach()) * e, "no gradient reached logvar"),
    (lambda m, lv, e: m.detach() + torch.exp(0.5 * lv) * e, "no gradient reached mu"),
    (lambda m, lv, e: m.add_(torch.exp(0.5 * lv) * e), "in place"),
    (stub, "NotImplementedError"),
])
def test_reparameterize_mistakes_are_diagnosed(wrong, needle):
    with pytest.raises(ExerciseCheckError, match=needle):
        checks.check_reparameterize(wrong)


# ------------------------------------------------------------------ multi-scale LSGAN losses


def good_d_loss(D, real, fake):
    return (sum(((p - 1) ** 2).mean() for p in D(real))
            + sum((p ** 2).mean() for p in D(fake.detach())))


def good_g_loss(D, fake):
    return sum(((p - 1) ** 2).mean() for p in D(fake))


def test_gan_losses_correct_pass(capsys):
    checks.check_gan_losses(good_d_loss, good_g_loss)
    out = capsys.readouterr().out
    assert "✓ LSGAN discriminator loss: all 3 cases pass" in out
    assert "✓ LSGAN generator loss: all 3 cases pass" in out
    assert "the D loss stops at D, the G loss reaches G" in out


def bce(p, target):
    return F.binary_cross_entropy_with_logits(p, torch.full_like(p, target))


D_MISTAKES = [
    (lambda D, r, f: sum(bce(p, 1.0) for p in D(r)) + sum(bce(p, 0.0) for p in D(f.detach())), "cross-entropy"),
    (lambda D, r, f: sum((p ** 2).mean() for p in D(r)) + sum(((p - 1) ** 2).mean() for p in D(f.detach())),
     "targets are swapped"),
    (lambda D, r, f: good_d_loss(D, r, f) / len(D(r)), "averaged over the 2 scales"),
    (lambda D, r, f: 0.5 * good_d_loss(D, r, f), "no factor 1/2"),
    (lambda D, r, f: (torch.cat([((p - 1) ** 2).flatten() for p in D(r)]).mean()
                      + torch.cat([(p ** 2).flatten() for p in D(f.detach())]).mean()), "entries of all maps together"),
    (lambda D, r, f: sum((p - 1).abs().mean() for p in D(r)) + sum(p.abs().mean() for p in D(f.detach())),
     "not its absolute value"),
    (lambda D, r, f: sum(((p - 1) ** 2).mean() for p in D(r)), "only the real term"),
    (lambda D, r, f: sum(((p - 1) ** 2).mean() for p in D(r)) + sum((p ** 2).mean() for p in D(f)),
     "backpropagates into the generator: detach the fake"),
    (lambda D, r, f: good_d_loss(D, r, f).item(), "carries no gradient"),
    (stub, "NotImplementedError"),
]


@pytest.mark.parametrize("wrong, needle", D_MISTAKES)
def test_d_loss_mistakes_are_diagnosed(wrong, needle):
    with pytest.raises(ExerciseCheckError, match=needle):
        checks.check_gan_losses(wrong, good_g_loss)


def no_grad_fake(D, real, fake):
    with torch.no_grad():
        fake_maps = D(fake)
    return sum(((p - 1) ** 2).mean() for p in D(real)) + sum((p ** 2).mean() for p in fake_maps)


def test_d_loss_that_gives_d_no_gradient_from_the_fakes_is_caught():
    with pytest.raises(ExerciseCheckError, match="torch.no_grad"):
        checks.check_gan_losses(no_grad_fake, good_g_loss)


@pytest.mark.parametrize("wrong, needle", [
    (lambda D, f: sum(bce(p, 1.0) for p in D(f)), "cross-entropy"),
    (lambda D, f: sum((p ** 2).mean() for p in D(f)), "targets are swapped"),
    (lambda D, f: good_g_loss(D, f) / len(D(f)), "averaged over the 2 scales"),
    (lambda D, f: good_g_loss(D, f.detach()), "G loss does not reach the generator"),
    (stub, "NotImplementedError"),
])
def test_g_loss_mistakes_are_diagnosed(wrong, needle):
    with pytest.raises(ExerciseCheckError, match=needle):
        checks.check_gan_losses(good_d_loss, wrong)


# ------------------------------------------------------------------ U-Net shapes


def good_shapes(in_channels, nz, ngf, num_downs, where_add, cap=8):
    shapes, prev = [], in_channels
    for k in range(num_downs):
        out = ngf * min(2 ** k, cap)
        extra = nz if where_add == "all" or k == 0 else 0
        shapes.append((out, prev + extra, 4, 4))
        prev = out
    return shapes


def test_unet_shapes_correct_passes_and_the_reference_is_the_released_layout(capsys):
    checks.check_unet_shapes(good_shapes)
    assert "✓ U-Net down-conv shapes: all 6 cases pass" in capsys.readouterr().out
    shoes = checks._ref_down_conv_shapes(1, 8, 64, 8, "all")
    assert shoes[:2] == [(64, 9, 4, 4), (128, 72, 4, 4)] and shoes[-1] == (512, 520, 4, 4)
    for args in [(1, 8, 64, 8, "all"), (3, 8, 64, 8, "input"), (1, 2, 16, 6, "all"), (2, 0, 8, 5, "input")]:
        assert checks._shapes(*args) == checks._ref_down_conv_shapes(*args), args


@pytest.mark.parametrize("wrong, needle", [
    (lambda i, nz, g, n, w: good_shapes(i, nz, g, n, "input"), "you added z to the image only"),
    (lambda i, nz, g, n, w: good_shapes(i, nz, g, n, "all"), "just the first"),
    (lambda i, nz, g, n, w: good_shapes(i, 0, g, n, w), "you forgot z"),
    (lambda i, nz, g, n, w: good_shapes(i, nz, g, n, w, cap=1024), "stop doubling at 8 \\* ngf"),
    (lambda i, nz, g, n, w: [(s[1], s[0], 4, 4) for s in good_shapes(i, nz, g, n, w)],
     r"\(out_channels, in_channels, kH, kW\)"),
    (lambda i, nz, g, n, w: good_shapes(i, nz, g, n, w)[:-1], "num_downs = 8 of them"),
    (lambda i, nz, g, n, w: [(s[0], s[1], 3, 3) for s in good_shapes(i, nz, g, n, w)], "4 x 4 kernel"),
    (lambda i, nz, g, n, w: 42, "one weight shape"),
    (stub, "NotImplementedError"),
])
def test_unet_shape_mistakes_are_diagnosed(wrong, needle):
    with pytest.raises(ExerciseCheckError, match=needle):
        checks.check_unet_shapes(wrong)


# ------------------------------------------------------------------ diversity


def good_diversity(samples, distance):
    d = torch.stack([distance(samples[s], samples[s + 1]) for s in range(samples.shape[0] - 1)])
    return float(d.mean())


def pairs_mean(samples, distance, keep):
    S = samples.shape[0]
    d = [distance(samples[s], samples[t]) for s in range(S) for t in range(S) if keep(s, t, S)]
    return float(torch.stack(d).mean())


def test_diversity_correct_passes(capsys):
    checks.check_diversity(good_diversity)
    assert "✓ sample diversity: all 4 cases pass" in capsys.readouterr().out
    x = torch.rand(3, 2, 3, 4, 4)
    assert checks.mean_abs_distance(x[0], x[1]).shape == (2,)
    ours = good_diversity(x, checks.mean_abs_distance)
    assert float(sample_diversity(x, checks.mean_abs_distance).mean()) == pytest.approx(ours)


@pytest.mark.parametrize("wrong, needle", [
    (lambda x, d: pairs_mean(x, d, lambda s, t, S: s < t), "all 21 pairs"),
    (lambda x, d: pairs_mean(x, d, lambda s, t, S: s <= t), "with itself"),
    (lambda x, d: pairs_mean(x, d, lambda s, t, S: True), "including each sample with itself"),
    (lambda x, d: pairs_mean(x, d, lambda s, t, S: t == (s + 1) % S), "6 pairs, not 7"),
    (lambda x, d: good_diversity(x.transpose(0, 1), d), "you paired different inputs"),
    (lambda x, d: float(torch.stack([d(x[s], x[s + 1]) for s in range(x.shape[0] - 1)]).sum(0).mean()),
     "summed over the 6 pairs"),
    (lambda x, d: torch.stack([d(x[s], x[s + 1]) for s in range(x.shape[0] - 1)]).mean(0), "one value per input"),
    (stub, "NotImplementedError"),
])
def test_diversity_mistakes_are_diagnosed(wrong, needle):
    with pytest.raises(ExerciseCheckError, match=needle):
        checks.check_diversity(wrong)


def test_diversity_per_image_loop_with_single_images_passes():
    def looped(samples, distance):
        S, N = samples.shape[:2]
        pairs = [float(distance(samples[s, n], samples[s + 1, n])) for s in range(S - 1) for n in range(N)]
        return sum(pairs) / len(pairs)

    checks.check_diversity(looped)


# ------------------------------------------------------------------ other correct answers pass too


def test_other_correct_formulations_pass():
    checks.check_kl(lambda mu, lv: 0.5 * (mu**2 + lv.exp() - 1 - lv).sum(-1).mean(0))
    checks.check_kl(lambda mu, lv: torch.distributions.kl_divergence(
        torch.distributions.Normal(mu, (0.5 * lv).exp()), torch.distributions.Normal(0.0, 1.0)).sum(1).mean())
    checks.check_reparameterize(lambda mu, lv, eps: torch.addcmul(mu, lv.mul(0.5).exp(), eps))

    def d_mse(D, real, fake):
        total = 0
        for p in D(real):
            total = total + F.mse_loss(p, torch.ones_like(p))
        for p in D(fake.detach()):
            total = total + F.mse_loss(p, torch.zeros_like(p))
        return total

    checks.check_gan_losses(d_mse, lambda D, fake: sum(F.mse_loss(p, torch.ones_like(p)) for p in D(fake)))

    def shapes_from_the_network(in_channels, nz, ngf, num_downs, where_add):
        from reprolib.nn.unet import UNetZ

        with torch.device("meta"):
            net = UNetZ(in_channels, 2, nz, num_downs, ngf, where_add=where_add)
        return [tuple(m.weight.shape) for m in net.modules() if isinstance(m, torch.nn.Conv2d)]

    checks.check_unet_shapes(shapes_from_the_network)
    checks.check_diversity(lambda x, d: d(x[:-1].flatten(0, 1), x[1:].flatten(0, 1)).mean().item())
