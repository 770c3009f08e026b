"""The automatic checks of Chapter 3's exercises (see :mod:`reprolib.book.exercises` for the machinery).

Four exercises: the KL term of Eq. 4.5 and the reparameterisation trick, the multi-scale LSGAN losses that
stand in for Eq. 4.1, the shapes of the U-Net's down convolutions when z is added to every level or to the
input only, and the paper's diversity protocol (consecutive pairs of samples).
"""

from __future__ import annotations

import copy
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from reprolib.book.exercises import ExerciseCheckError, _as_float_tensor, _close, check
from reprolib.metrics.diversity import sample_diversity
from reprolib.nn.gan import GANLoss, MultiScaleDiscriminator, discriminator_loss, generator_loss
from reprolib.nn.latent import kl_standard_normal
from reprolib.nn.unet import UNetZ

__all__ = ["check_kl", "check_reparameterize", "check_gan_losses", "check_unet_shapes", "check_diversity",
           "mean_abs_distance"]


# 1. The KL term of Eq. 4.5 and the reparameterisation trick
def _ref_kl(mu, logvar):
    return kl_standard_normal(mu, logvar, reduction="batchmean")


def _scalar_is(got: torch.Tensor, value: torch.Tensor) -> bool:
    return bool(torch.isfinite(value).all()) and _close(got.reshape(()), value.reshape(()).to(torch.float64))


def _first_match(got: torch.Tensor, candidates: list[tuple[torch.Tensor, str]], right: torch.Tensor) -> str | None:
    """The message of the first wrong-answer candidate that ``got`` equals (a scalar), skipping candidates that
    coincide with the right answer on this case (there they explain nothing)."""
    right = torch.as_tensor(right, dtype=torch.float64)
    return next((msg for value, msg in candidates if _scalar_is(got, value) and not _scalar_is(value, right)), None)


def _diagnose_kl(got, expected, mu, logvar) -> str | None:
    g = _as_float_tensor(got)
    if g is None:
        return None
    if g.numel() == mu.shape[0] and g.numel() != 1:
        return "you returned one KL per sample: average them over the batch and return one number."
    if g.numel() != 1:
        return "return one number: sum over the code dimensions (dim=1), then the mean over the batch."
    is_log = " logvar is log sigma^2 itself (0 means sigma = 1), and sigma^2 = exp(logvar)."
    if not bool(torch.isfinite(g).all()):
        return "your KL is not finite: you took the log of logvar or treated it as sigma or sigma^2;" + is_log
    mu, lv = mu.double(), logvar.double()
    per_dim = -0.5 * (1 + lv - mu.pow(2) - lv.exp())
    candidates = [
        (-per_dim.sum(1).mean(), "wrong sign: a KL is never negative; it is -1/2 * sum(1 + logvar - mu^2 - e^logvar)."),
        (2 * per_dim.sum(1).mean(), "your KL is twice the expected one: you dropped the 1/2 in front of the sum."),
        (per_dim.mean(), f"your KL is nz = {mu.shape[1]} times too small: sum over the code dimensions (the KL of "
                         "independent dimensions adds up), average only over the batch."),
        (per_dim.sum(), f"your KL is N = {mu.shape[0]} times too large: you summed over the batch. Take the mean "
                        "over the samples (the released code sums, with one sample per branch; see the text)."),
        ((-0.5 * (1 - mu.pow(2))).sum(1).mean(), "you used logvar where sigma^2 belongs: sigma^2 = exp(logvar)."),
        ((0.5 * (lv.pow(2) + mu.pow(2) - 1 - lv.pow(2).log())).sum(1).mean(), "you treated logvar as sigma;" + is_log),
        ((0.5 * (lv + mu.pow(2) - 1 - lv.log())).sum(1).mean(), "you treated logvar as sigma^2;" + is_log),
    ]
    return _first_match(g, candidates, expected)


def check_kl(fn: Callable) -> None:
    """Check the KL term of Eq. 4.5, ``fn(mu (N, nz), logvar (N, nz)) -> scalar``.

    KL(N(mu, diag(exp(logvar))) || N(0, I)) = -1/2 sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j)), summed over the
    nz code dimensions and averaged over the N samples. Cases: mu = 0, logvar = 0 (KL 0); mu = 1 (1/2 per
    dimension); logvar = ln 4 (1/2 (4 - 1 - ln 4) per dimension); random codes.
    Reference: :func:`reprolib.nn.latent.kl_standard_normal` with ``reduction="batchmean"``.
    """
    gen = torch.Generator().manual_seed(30)
    cases = [
        (torch.zeros(3, 8), torch.zeros(3, 8)),
        (torch.ones(3, 8), torch.zeros(3, 8)),
        (torch.zeros(3, 8), torch.full((3, 8), float(torch.log(torch.tensor(4.0))))),
        (torch.randn(5, 4, generator=gen), 0.7 * torch.randn(5, 4, generator=gen)),
        (2 * torch.randn(1, 8, generator=gen), torch.randn(1, 8, generator=gen)),
    ]
    check(fn, _ref_kl, cases, "KL divergence", atol=1e-5, rtol=1e-4, diagnose=_diagnose_kl,
          hint="-0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(dim=1).mean()")


def _ref_reparameterize(mu, logvar, eps):
    return mu + torch.exp(0.5 * logvar) * eps


def check_reparameterize(fn: Callable) -> None:
    """Check the reparameterisation trick ``fn(mu, logvar, eps) -> z``, all (N, nz).

    z = mu + exp(logvar / 2) * eps: a sample of N(mu, exp(logvar)) made from the given standard normal noise,
    so the result is deterministic and differentiable. The check compares values, then backpropagates
    through z and requires the gradients to reach both mu and logvar.
    Reference: :func:`reprolib.nn.latent.reparameterize` (which draws eps itself).
    """

    def diagnose(got, expected, mu, logvar, eps) -> str | None:
        g = _as_float_tensor(got)
        if g is None or g.shape != expected.shape:
            return None
        if not bool(torch.isfinite(g).all()):
            return "NaN or inf: logvar may be 0 or negative; sigma = exp(logvar / 2) is always positive."
        again = _as_float_tensor(fn(mu.clone(), logvar.clone(), eps.clone()))
        if again is not None and not torch.equal(g, again):
            return "two calls on the same input differ: use the eps passed in, do not draw new noise."
        neither = "logvar is log sigma^2, neither sigma nor sigma^2: sigma = exp(logvar / 2)."
        candidates = [(mu + logvar.exp() * eps, "you scaled eps by exp(logvar) = sigma^2; sigma is exp(logvar / 2)."),
                      (mu + logvar * eps, neither), (mu + logvar.sqrt() * eps, neither),
                      (mu + torch.exp(-0.5 * logvar) * eps, "sigma = exp(+logvar / 2), not exp(-logvar / 2)."),
                      (torch.exp(0.5 * logvar) + mu * eps, "mu and sigma are swapped: z = mu + sigma * eps.")]
        return next((msg for z, msg in candidates if _close(g, z.double())), None)

    gen = torch.Generator().manual_seed(31)
    ln4 = float(torch.log(torch.tensor(4.0)))
    cases = [  # sigma = 2 first: there every usual misreading of logvar gives a different z
        (torch.randn(2, 8, generator=gen), torch.full((2, 8), ln4), torch.randn(2, 8, generator=gen)),
        (torch.zeros(2, 8), torch.zeros(2, 8), torch.randn(2, 8, generator=gen)),
        (torch.randn(4, 3, generator=gen), torch.randn(4, 3, generator=gen), torch.randn(4, 3, generator=gen)),
    ]
    check(fn, _ref_reparameterize, cases, "reparameterization", atol=1e-5, rtol=1e-4, diagnose=diagnose,
          hint="mu + torch.exp(0.5 * logvar) * eps")
    mu = torch.randn(3, 4, generator=gen, dtype=torch.float64).requires_grad_()
    logvar = (0.5 * torch.randn(3, 4, generator=gen, dtype=torch.float64)).requires_grad_()
    eps = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    name = "✗ reparameterization (gradients)"
    try:
        z = fn(mu, logvar, eps)
    except Exception as exc:
        raise ExerciseCheckError(f"{name}: with mu and logvar requiring gradients your function raised "
                                 f"{type(exc).__name__}: {exc}. Do not modify mu or logvar in place.") from exc
    if not isinstance(z, torch.Tensor) or not z.requires_grad:
        raise ExerciseCheckError(f"{name}: z carries no gradient. Build it from mu and logvar with torch operations "
                                 "(no .detach(), .item(), numpy, torch.tensor(...) or torch.no_grad()).")
    z.sum().backward()
    for arg, t in (("mu", mu), ("logvar", logvar)):
        if t.grad is None:
            raise ExerciseCheckError(f"{name}: no gradient reached {arg}. The point of the trick is that z is a "
                                     f"differentiable function of {arg}: do not detach it or go through numpy.")
    print("✓ reparameterization: gradients reach mu and logvar")


# 2. The multi-scale LSGAN losses (Eq. 4.1 as the models are trained)
class _TinyDiscriminator(MultiScaleDiscriminator):
    def __repr__(self) -> str:  # one line in the failure messages
        return f"a tiny MultiScaleDiscriminator with {self.num_D} scale(s)"


def _tiny_discriminator(num_D: int, seed: int) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return _TinyDiscriminator(3, ndf=4, n_layers=1, num_D=num_D, norm="instance")


def _ref_d_loss(D, real, fake):
    return discriminator_loss(D, real, fake, GANLoss("lsgan"))


def _ref_g_loss(D, fake):
    return generator_loss(D, fake, GANLoss("lsgan"))


def _gan_term(maps: list[torch.Tensor], target: float, elem: str = "sq", reduce: str = "sum") -> torch.Tensor:
    """One side of a GAN loss over a list of maps, correct (squared error, mean per map, summed) or not."""
    per = {"sq": lambda p: (p - target) ** 2, "abs": lambda p: (p - target).abs(),
           "bce": lambda p: F.binary_cross_entropy_with_logits(p, torch.full_like(p, target), reduction="none")}[elem]
    if reduce == "pooled":
        return torch.cat([per(p).flatten() for p in maps]).mean()
    total = sum(per(p).mean() for p in maps)
    return total / len(maps) if reduce == "mean" else total


def _gan_diagnosis(got, terms: Callable[..., torch.Tensor], num_D: int, who: str) -> str | None:
    g = _as_float_tensor(got)
    if g is not None and g.numel() != 1:
        return "return one number (a scalar tensor): the sum over the scales of each map's mean."
    if g is None:
        return None
    right = terms("sq", "sum", False)
    candidates = [
        (terms("bce", "sum", False), "you used the cross-entropy (vanilla GAN) loss; the paper's models use LSGAN: "
                                     "the squared error of every prediction to its target."),
        (terms("sq", "sum", True), "the targets are swapped: real images have target 1, fakes target 0 in the "
                                   "discriminator's loss, and the generator wants its fakes judged real (1)."),
        (terms("abs", "sum", False), "least squares: square the difference to the target, not its absolute value."),
        (terms("sq", "mean", False), f"you averaged over the {num_D} scales; add them up instead (one term per "
                                     "scale, as the released code does)."),
        (terms("sq", "pooled", False), "you took one mean over the entries of all maps together, so the small, "
                                       "coarse scale hardly counts: take each map's mean, then sum over the maps."),
        (0.5 * right, "your loss is half the expected one: no factor 1/2"
                      + ("; the real and the fake terms simply add up." if who == "D" else ".")),
    ]
    if who == "D":
        candidates += [(terms("sq", "real", False), "only the real term: add the fakes' term, mean(D(fake)^2)."),
                       (terms("sq", "fake", False), "only the fake term: add the real term, mean((D(real) - 1)^2).")]
    return _first_match(g, candidates, right)


def _diagnose_d_loss(got, expected, D, real, fake) -> str | None:
    with torch.no_grad():
        pr, pf = D(real), D(fake)

    def terms(elem, reduce, swap):  # reduce "real" or "fake": that term alone
        r, f = (0.0, 1.0) if swap else (1.0, 0.0)
        how = "sum" if reduce in ("real", "fake") else reduce
        real, fake = _gan_term(pr, r, elem, how), _gan_term(pf, f, elem, how)
        return {"real": real, "fake": fake}.get(reduce, real + fake)

    return _gan_diagnosis(got, terms, len(pr), "D")


def _diagnose_g_loss(got, expected, D, fake) -> str | None:
    with torch.no_grad():
        pf = D(fake)
    return _gan_diagnosis(got, lambda elem, reduce, swap: _gan_term(pf, 0.0 if swap else 1.0, elem, reduce),
                          len(pf), "G")


def _check_gan_graph(d_loss_fn: Callable, g_loss_fn: Callable) -> None:
    """One adversarial step on a tiny generator (a 1x1 conv) and a two-scale discriminator: D's loss must stop at
    D and give it the reference gradients; G's loss must reach G."""
    name = "✗ LSGAN losses (gradients)"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(32)
        G = nn.Conv2d(1, 3, 1)
        A, real = torch.randn(2, 1, 32, 32), torch.tanh(torch.randn(2, 3, 32, 32))
    D = _tiny_discriminator(2, 33)
    D_ref = copy.deepcopy(D)
    d = d_loss_fn(D, real, torch.tanh(G(A)))
    if not isinstance(d, torch.Tensor) or not d.requires_grad:
        raise ExerciseCheckError(f"{name}: your D loss carries no gradient: return the loss tensor itself, built "
                                 "with torch operations (no .item() or torch.no_grad()).")
    d.backward()
    if any(p.grad is not None for p in G.parameters()):
        raise ExerciseCheckError(f"{name}: your D loss backpropagates into the generator: detach the fake "
                                 "(D(fake.detach())), so that the discriminator's update leaves G's gradients alone.")
    _ref_d_loss(D_ref, real, torch.tanh(G(A)).detach()).backward()
    for (key, p), q in zip(D.named_parameters(), D_ref.parameters()):
        if p.grad is None or not torch.allclose(p.grad, q.grad, atol=1e-6, rtol=1e-4):
            raise ExerciseCheckError(f"{name}: the discriminator's gradient ({key}) is not the reference's. Did you "
                                     "compute D(fake) under torch.no_grad() or detach D's output? Detach the input "
                                     "fake instead: D must still learn from the fake term.")
    D.zero_grad(set_to_none=True)
    g = g_loss_fn(D, torch.tanh(G(A)))
    if isinstance(g, torch.Tensor) and g.requires_grad:
        g.backward()
    if any(p.grad is None for p in G.parameters()):
        raise ExerciseCheckError(f"{name}: your G loss does not reach the generator: do not detach the fake in the "
                                 "generator's loss; its gradient must flow through D into G.")
    print("✓ LSGAN losses: the D loss stops at D, the G loss reaches G")


def check_gan_losses(d_loss_fn: Callable, g_loss_fn: Callable) -> None:
    """Check the multi-scale LSGAN losses ``d_loss_fn(D, real, fake)`` and ``g_loss_fn(D, fake)`` (Eq. 4.1 as trained).

    ``D(x)`` returns a list of prediction maps, one per scale. D's loss is the sum over the scales of
    ``mean((D(real) - 1)^2) + mean(D(fake)^2)`` with the fake detached; G's loss is the sum over the scales of
    ``mean((D(fake) - 1)^2)``. Cases use tiny discriminators with 1, 2 and 3 scales; then one step on a tiny
    generator checks that D's loss leaves the generator without gradients and that G's loss reaches it.
    Reference: :func:`reprolib.nn.gan.discriminator_loss`, :func:`reprolib.nn.gan.generator_loss` with LSGAN.
    """
    gen = torch.Generator().manual_seed(34)
    images = lambda: torch.tanh(torch.randn(2, 3, 32, 32, generator=gen))  # noqa: E731
    Ds = [_tiny_discriminator(n, 35 + n) for n in (1, 2, 3)]
    check(d_loss_fn, _ref_d_loss, [(D, images(), 0.5 * images()) for D in Ds], "LSGAN discriminator loss",
          atol=1e-6, rtol=1e-4, diagnose=_diagnose_d_loss,
          hint="sum(((p - 1) ** 2).mean() for p in D(real)) + sum((p ** 2).mean() for p in D(fake.detach()))")
    check(g_loss_fn, _ref_g_loss, [(D, 0.5 * images()) for D in Ds], "LSGAN generator loss",
          atol=1e-6, rtol=1e-4, diagnose=_diagnose_g_loss, hint="sum(((p - 1) ** 2).mean() for p in D(fake))")
    _check_gan_graph(d_loss_fn, g_loss_fn)


# 3. The shapes of the U-Net's down convolutions
def _ref_down_conv_shapes(in_channels, nz, ngf, num_downs, where_add):
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        net = UNetZ(in_channels, 2, nz, num_downs, ngf, where_add=where_add)
    # modules() walks each level's down conv before the levels inside it; transposed convs are not Conv2d
    return [tuple(m.weight.shape) for m in net.modules() if isinstance(m, nn.Conv2d)]


def _shapes(in_channels, nz, ngf, num_downs, where_add, cap=8, transpose=False):
    """The down convs' weight shapes by formula, with the knobs the diagnoses turn."""
    out = [ngf * min(2 ** k, cap) for k in range(num_downs)]
    ins = [in_channels] + out[:-1]
    extra = [nz] * num_downs if where_add == "all" else [nz] + [0] * (num_downs - 1)
    return [(i + e, o, 4, 4) if transpose else (o, i + e, 4, 4) for o, i, e in zip(out, ins, extra)]


def _diagnose_unet_shapes(got, expected, in_channels, nz, ngf, num_downs, where_add) -> str | None:
    try:
        shapes = [tuple(int(v) for v in s) for s in got]
    except (TypeError, ValueError):
        return "return a list with one weight shape (a tuple of 4 ints) per down convolution."
    if len(shapes) != num_downs:
        return f"one down convolution per level: num_downs = {num_downs} of them, outermost first."
    args = (in_channels, nz, ngf, num_downs)
    other = "input" if where_add == "all" else "all"
    wrong_place = ("you added z to the image only; with where_add='all' the code is tiled and concatenated to the "
                   "input of every down conv, so each one has nz extra input channels." if where_add == "all" else
                   "with where_add='input' z is concatenated to the image only: just the first down conv has nz "
                   "extra input channels.")
    candidates = [
        (_shapes(*args, where_add, transpose=True), "a Conv2d weight is (out_channels, in_channels, kH, kW)."),
        (_shapes(*args, other), wrong_place),
        (_shapes(in_channels, 0, ngf, num_downs, where_add), "you forgot z: the code adds nz channels to the input "
                                                             "of the down conv(s) it is concatenated to."),
        (_shapes(*args, where_add, cap=2 ** num_downs), "the widths stop doubling at 8 * ngf: ngf, 2 ngf, 4 ngf, "
                                                        "then 8 ngf for every deeper level."),
    ]
    right = [tuple(s) for s in expected]
    found = next((msg for value, msg in candidates if shapes == value and value != right), None)
    kernel = any(s[2:] != (4, 4) for s in shapes)
    return found or ("every down conv has a 4 x 4 kernel (stride 2, padding 1)." if kernel else None)


def check_unet_shapes(fn: Callable) -> None:
    """Check ``fn(in_channels, nz, ngf, num_downs, where_add) -> [weight shape of each down conv]``, outermost first.

    The U-Net of ``num_downs`` levels has one 4x4 stride-2 conv per level, widths ngf, 2 ngf, 4 ngf, then 8 ngf;
    with ``where_add="all"`` each conv also takes the nz channels of the tiled code, with ``"input"`` only the
    first does. Cases include the released edges2shoes generator (1 input channel, nz 8, ngf 64, 8 levels, z
    everywhere: (64, 9, 4, 4), then (128, 72, 4, 4), ...).
    Reference: the Conv2d modules of :class:`reprolib.nn.unet.UNetZ`, built on the meta device.
    """
    cases = [(1, 8, 64, 8, "all"), (1, 8, 64, 8, "input"), (3, 8, 64, 8, "all"), (1, 2, 16, 6, "all"),
             (2, 4, 32, 5, "input"), (1, 0, 8, 7, "all")]
    check(fn, _ref_down_conv_shapes, cases, "U-Net down-conv shapes", atol=0.0, rtol=0.0,
          diagnose=_diagnose_unet_shapes, hint=("out widths [ngf * min(2**k, 8) for k in range(num_downs)]; in = the "
                                                "previous out (in_channels first), plus nz where z is added; each "
                                                "shape is (out, in, 4, 4)."))


# 4. The diversity protocol
def mean_abs_distance(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """A cheap stand-in for LPIPS: the mean absolute difference of each pair of images, (N, C, H, W) x 2 -> (N,).
    (A single pair of (C, H, W) images gives a 0-dimensional tensor.)"""
    d = (x0 - x1).abs()
    return d.flatten(1).mean(1) if d.dim() == 4 else d.mean()


def _ref_diversity(samples, distance):
    return float(sample_diversity(samples, distance).mean())


def _diagnose_diversity(got, expected, samples, distance) -> str | None:
    g, (S, N) = _as_float_tensor(got), samples.shape[:2]
    if g is None:
        return None
    if g.numel() == N and N != 1:
        return "you returned one value per input: average them over the inputs too and return one number."
    if g.numel() != 1:
        return "return one number: the mean over inputs of the mean distance of consecutive samples."
    pair = torch.stack([torch.stack([distance(samples[s], samples[t]).double().reshape(N) for t in range(S)])
                        for s in range(S)])  # (S, S, N): pair[s, t, n] = d(sample s, sample t) of input n
    i, j = torch.triu_indices(S, S, offset=1)
    ii, jj = torch.triu_indices(S, S, offset=0)
    consecutive = pair[torch.arange(S - 1), torch.arange(1, S)]  # (S - 1, N)
    candidates = [
        (pair[i, j].mean(), f"you averaged over all {S * (S - 1) // 2} pairs of samples; the protocol takes the "
                            f"{S - 1} consecutive pairs (0, 1), (1, 2), ..., ({S - 2}, {S - 1})."),
        (pair[ii, jj].mean(), "you included pairs of a sample with itself (distance 0): only pairs of two different, "
                              "consecutive samples count."),
        (pair.mean(), "you averaged over every (s, t), including each sample with itself: only the consecutive "
                      "pairs (s, s + 1) count."),
        (torch.cat([consecutive, pair[S - 1, 0][None]]).mean(), f"the last sample is not paired with the first: "
                                                                f"{S - 1} pairs, not {S}."),
        (consecutive.sum(0).mean(), f"you summed over the {S - 1} pairs; average them."),
    ]
    if N >= 2:
        candidates.append((torch.tensor(_ref_diversity(samples.transpose(0, 1), distance)),
                           "you paired different inputs: dim 0 of samples (S, N, C, H, W) indexes the samples, dim 1 "
                           "the inputs; pair samples[s] with samples[s + 1] (the same inputs' consecutive samples)."))
    return _first_match(g, candidates, torch.tensor(expected))


def check_diversity(fn: Callable) -> None:
    """Check the diversity protocol ``fn(samples (S, N, C, H, W), distance) -> float``.

    For each of the N inputs, the mean distance between its S - 1 consecutive samples (s, s + 1); then the mean
    over the inputs (the paper: S = 20 samples, 19 pairs, LPIPS). ``distance(x0, x1)`` takes two (N, C, H, W)
    batches and returns (N,); the check passes :func:`mean_abs_distance` to keep it fast. Cases include samples
    on a straight line (every consecutive pair at the same distance) and S = 20.
    Reference: :func:`reprolib.metrics.diversity.sample_diversity`, averaged over the inputs.
    """
    gen = torch.Generator().manual_seed(36)
    ramp = torch.rand(1, 3, 3, 4, 4, generator=gen) + 0.1 * torch.arange(7.0).reshape(7, 1, 1, 1, 1)
    cases = [(x, mean_abs_distance) for x in (ramp, torch.rand(20, 2, 3, 8, 8, generator=gen),
                                               torch.rand(4, 6, 1, 4, 4, generator=gen) ** 3,
                                               torch.rand(2, 4, 3, 4, 4, generator=gen))]
    check(fn, _ref_diversity, cases, "sample diversity", atol=1e-6, rtol=1e-5, diagnose=_diagnose_diversity,
          hint=("torch.stack([distance(samples[s], samples[s + 1]) for s in range(S - 1)]) is (S - 1, N): "
                "its mean over both dimensions, as a float."))
