"""The automatic checks of Chapter 6's exercises (see :mod:`reprolib.book.exercises` for the machinery).

Three exercises: the MDN's closest-component loss (Eq. 6, with only the nearest mean pulled), the specificity loss
L_mah of sec. 3.1 (a Mahalanobis distance along the top principal components plus the residue at the last one's
scale), and Table 3's protocol (error-of-best and the variance of the k outputs, on the paper's ab / 128 scale).
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from reprolib.book.exercises import ExerciseCheckError, _as_float_tensor, check
from reprolib.metrics.diversity import error_of_best, output_variance
from reprolib.models.divcolor import AB_SCALE, mahalanobis_loss, mdn_closest_loss, mdn_nll

__all__ = ["check_closest_component_loss", "check_mahalanobis_loss", "check_table3_protocol"]


def _is(got, value) -> bool:
    """True when ``got`` (a number or a one-element tensor) equals the finite scalar ``value``, loosely."""
    g, v = _as_float_tensor(got), float(torch.as_tensor(value, dtype=torch.float64).reshape(()))
    if g is None or g.numel() != 1 or not math.isfinite(v):
        return False
    return abs(float(g.reshape(())) - v) <= 1e-9 + 1e-4 * abs(v)


def _first_match(got, candidates: list[tuple[torch.Tensor, str]], right) -> str | None:
    """The message of the first wrong-answer candidate that ``got`` equals, skipping those that coincide with the
    right answer on this case (there they explain nothing)."""
    return next((msg for value, msg in candidates if _is(got, value) and not _is(value, right)), None)


def _one_number(got, n: int, what: str) -> str | None:
    """A diagnosis when ``got`` is not one number: one value per item, or something else."""
    g = _as_float_tensor(got)
    if g is None:
        return None
    if g.numel() == n and n != 1:
        return f"you returned one value per item: average {what} over the batch and return one number."
    if g.numel() != 1:
        return f"return one number (a scalar tensor): {what} averaged over the batch."
    return None


# 1. The closest-component loss (Eq. 6)
def _diagnose_closest(got, expected, logits, means, z, variance) -> str | None:
    n = z.shape[0]
    not_one = _one_number(got, n, "the items' losses")
    if not_one:
        return not_one
    lg, mu, zz = logits.double(), means.double(), z.double()
    dist2 = (zz[:, None, :] - mu).pow(2).sum(2)  # (N, M)
    log_pi = F.log_softmax(lg, 1)
    rows, m = torch.arange(n), dist2.argmin(1)

    def eq6(denominator, neg_log_pi=-log_pi, dist=dist2):
        return (neg_log_pi[rows, m] + dist[rows, m] / denominator).mean()

    sigma = math.sqrt(variance)
    candidates = [
        (eq6(2 * variance ** 2), f"you treated the variance as a standard deviation and squared it: {variance:g} is "
                                 f"sigma^2 already (the paper's 'spherical variance of .1'), so divide "
                                 f"||z - mu_m||^2 by 2 * variance, not by 2 * variance^2 (your distance term is "
                                 f"{1 / variance:g} times what it should be)."),
        (eq6(2 * sigma), f"you divided by 2 sigma with sigma = sqrt(variance) = {sigma:.3g}: Eq. 6 divides "
                         "||z - mu_m||^2 by 2 sigma^2, and sigma^2 is the variance itself: / (2 * variance)."),
        (eq6(variance), "you dropped the 2: the Gaussian's exponent is ||z - mu||^2 / (2 sigma^2)."),
        (eq6(2 * variance, neg_log_pi=-lg), "you used the raw logits as log pi: the mixture weights are "
                                            "softmax(logits), so -log pi_m is -F.log_softmax(logits, 1)[m]."),
        (eq6(2 * variance, neg_log_pi=-torch.softmax(lg, 1)), "you used -pi_m where -log pi_m belongs: "
                                                              "-F.log_softmax(logits, 1)[m]."),
        ((-log_pi + dist2 / (2 * variance)).min(1).values.mean(),
         "you picked the component with the smallest whole loss (-log pi_i included); Eq. 6 picks m by the "
         "distance alone, m = argmin_i ||z - mu_i||, then adds -log pi_m of that component."),
        ((-log_pi[rows, m] + dist2.sum(1) / (2 * variance)).mean(),
         "you pulled every component: only the closest mean mu_m enters the distance term (summing over all "
         "components drags every mean towards z)."),
        ((-log_pi[rows, m] + dist2.mean(1) / (2 * variance)).mean(),
         "you pulled every component (averaging their distances): only the closest mean mu_m enters the distance "
         "term."),
        (mdn_nll(lg, mu, zz, variance), "that is Eq. 5, the mixture's full negative log-likelihood; Eq. 6 keeps the "
                                        "closest component only: -log pi_m + ||z - mu_m||^2 / (2 sigma^2)."),
        (eq6(2 * variance, dist=dist2.sqrt()), "the distance term is squared: ||z - mu_m||^2, the sum of squares "
                                               "over the d code dimensions, not its square root."),
        (eq6(2 * variance) * n, f"your loss is N = {n} times too large: you summed over the batch; average the "
                                "items' losses (.mean())."),
    ]
    return _first_match(got, candidates, expected)


def _closest_gradients(fn: Callable) -> None:
    """Backpropagate the student's loss and require Eq. 6's gradients: on every logit, on the closest means only."""
    gen = torch.Generator().manual_seed(61)
    n, m, d, variance = 4, 5, 3, 0.1
    logits = torch.randn(n, m, generator=gen, dtype=torch.float64).requires_grad_()
    means = torch.randn(n, m, d, generator=gen, dtype=torch.float64).requires_grad_()
    z = torch.randn(n, d, generator=gen, dtype=torch.float64)
    name = "✗ closest-component loss (gradients)"
    try:
        loss = fn(logits, means, z, variance)
    except Exception as exc:
        raise ExerciseCheckError(f"{name}: with logits and means requiring gradients your function raised "
                                 f"{type(exc).__name__}: {exc}. Do not modify them in place.") from exc
    if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
        raise ExerciseCheckError(f"{name}: the loss carries no gradient. Build it from logits and means with torch "
                                 "operations (no .detach(), .item(), numpy or torch.no_grad()).")
    loss.backward()
    if means.grad is None:
        raise ExerciseCheckError(f"{name}: no gradient reached the means: the distance term must be a differentiable "
                                 "function of mu_m (only the choice of m, the argmin, is not).")
    if logits.grad is None:
        raise ExerciseCheckError(f"{name}: no gradient reached the logits: every mixture weight is trained through "
                                 "-log pi_m (the softmax couples them).")
    closest = (z[:, None, :] - means.detach()).pow(2).sum(2).argmin(1)
    chosen = F.one_hot(closest, m).bool()  # (N, M)
    size = means.grad.norm(dim=2)  # (N, M): how hard each mean is pulled
    pulled = size > 1e-10 * (1 + float(size.max()))
    if bool((pulled & ~chosen).any()):
        many = int(pulled.sum(1).max())
        who = "every mean gets" if bool(pulled.all()) else f"up to {many} means of an item get"
        raise ExerciseCheckError(f"{name}: {who} a gradient; Eq. 6 pulls only the closest component's mean, "
                                 "m = argmin_i ||z - mu_i||. Take the distance of that one component (e.g. "
                                 "dist2[rows, m] or dist2.min(1).values), not a mix of all of them.")
    ref_logits, ref_means = logits.detach().clone().requires_grad_(), means.detach().clone().requires_grad_()
    mdn_closest_loss(ref_logits, ref_means, z, variance).backward()
    if not torch.allclose(means.grad, ref_means.grad, atol=1e-8, rtol=1e-5):
        raise ExerciseCheckError(f"{name}: the closest means' gradients differ from Eq. 6's, "
                                 "(mu_m - z) / (N sigma^2): check how the distance term enters the loss.")
    if not torch.allclose(logits.grad, ref_logits.grad, atol=1e-8, rtol=1e-5):
        raise ExerciseCheckError(f"{name}: the logits' gradients differ from Eq. 6's, (softmax(logits) - "
                                 "onehot(m)) / N: -log pi_m must be -log_softmax(logits)[m].")
    print("✓ closest-component loss: only the closest mean is pulled, every logit is trained")


def check_closest_component_loss(fn: Callable) -> None:
    """Check Eq. 6, ``fn(logits (N, M), means (N, M, d), z (N, d), variance) -> scalar``.

    For each item m = argmin_i ||z - mu_i|| (the closest mean), the loss -log pi_m + ||z - mu_m||^2 / (2 sigma^2),
    pi = softmax(logits), sigma^2 = ``variance`` (0.1 in the paper); the mean over the N items. Cases: a hand case
    with M = 2, d = 2 (N = 2: 5.9478, its first item's closest component having the smaller weight), random ones
    (variances 0.1, 0.25 and 2); then the gradients: every logit gets one, and of the means only the closest.
    Reference: :func:`reprolib.models.divcolor.mdn_closest_loss`.
    """
    gen = torch.Generator().manual_seed(60)
    hand = (torch.tensor([[-3.0, 3.0], [0.0, 0.0]]),  # item 0: the closest mean has pi = e^-6 / (e^-6 + 1)
            torch.tensor([[[0.8, 0.0], [1.5, 0.0]], [[0.0, 0.0], [2.0, 2.0]]]),
            torch.tensor([[1.0, 0.0], [0.0, 1.0]]), 0.1)
    cases = [hand,
             (torch.randn(4, 8, generator=gen), torch.randn(4, 8, 16, generator=gen), torch.randn(4, 16, generator=gen),
              0.1),
             (2 * torch.randn(3, 3, generator=gen), torch.randn(3, 3, 4, generator=gen), torch.randn(3, 4, generator=gen),
              0.25),
             (torch.randn(1, 5, generator=gen), 2 * torch.randn(1, 5, 3, generator=gen), torch.randn(1, 3, generator=gen),
              2.0)]
    check(fn, mdn_closest_loss, cases, "closest-component loss", atol=1e-5, rtol=1e-4, diagnose=_diagnose_closest,
          hint=("dist2 = ((z[:, None] - means) ** 2).sum(2); m = dist2.argmin(1); rows = torch.arange(len(z)); "
                "(-F.log_softmax(logits, 1)[rows, m] + dist2[rows, m] / (2 * variance)).mean()"))
    _closest_gradients(fn)


# 2. The specificity loss L_mah (sec. 3.1)
def _mah_variants(diff: torch.Tensor, P: torch.Tensor, sigma: torch.Tensor, power: int = 2, res_div=None,
                  residue: str = "rest") -> torch.Tensor:
    """Per item (N,): sum_k (diff^T P_k)^2 / sigma_k^power + residue / res_div (sigma_K^2 unless given), with the
    knobs the diagnoses turn."""
    proj = diff @ P
    total2 = diff.pow(2).sum(1)
    res = {"rest": total2 - proj.pow(2).sum(1), "all": total2, "none": torch.zeros_like(total2)}[residue]
    return (proj.pow(2) / sigma ** power).sum(1) + res / (sigma[-1] ** 2 if res_div is None else res_div)


def _diagnose_mahalanobis(got, expected, c, f, P, sigma) -> str | None:
    n = c.shape[0]
    not_one = _one_number(got, n, "the items' L_mah")
    if not_one:
        return not_one
    P, sigma = P.double(), sigma.double()
    diff = (c - f).double().flatten(1)
    k, last, first = sigma.numel(), sigma[-1], sigma[0]
    by_sigma = ("you divided by sigma instead of sigma^2: each squared projection (and the residue) is divided by "
                "the variance sigma_k^2, the square of the standard deviation.")
    candidates = [
        (_mah_variants(diff, P, sigma, power=1, res_div=last).mean(), by_sigma),
        (_mah_variants(diff, P, sigma, power=1).mean(), by_sigma),
        (_mah_variants(diff, P, sigma, res_div=last).mean(), "the residue is divided by sigma_K instead of "
                                                             "sigma_K^2: square it too."),
        (_mah_variants(diff, P, sigma, res_div=1.0).mean(), "the residue is not divided by anything: divide it by "
                                                            "sigma_K^2, the last component's variance."),
        (_mah_variants(diff, P, sigma, residue="none").mean(), "you forgot the residual term: add the part of C - f "
                                                               "that the k directions do not explain, "
                                                               "||(C - f)_res||^2 / sigma_K^2."),
        (_mah_variants(diff, P, sigma, res_div=first ** 2).mean(), f"the residue is scaled by sigma[0], the first "
                                                                   f"(largest) component's; the paper divides it by "
                                                                   f"the last one's, sigma[-1] (component {k} of {k}), squared."),
        (_mah_variants(diff, P, sigma, power=1, res_div=first).mean(), f"two slips: divide by sigma^2, not sigma, and "
                                                                       f"scale the residue by the last component "
                                                                       f"(sigma[-1], component {k} of {k}), not sigma[0]."),
        (_mah_variants(diff, P, sigma, residue="all").mean(), "your residue is all of ||C - f||^2; it is what the k "
                                                              "directions do not explain: ||C - f||^2 minus the "
                                                              "squared projections (or ||d - P P^T d||^2)."),
        (_mah_variants(diff, P, sigma).sqrt().mean(), "L_mah is the squared distance: do not take the square root."),
        (_mah_variants(diff, P, sigma).mean().sqrt(), "L_mah is the squared distance: do not take the square root."),
        (_mah_variants((c - f).double().permute(0, 2, 3, 1).flatten(1), P, sigma).mean(),
         "flatten the fields as (2, H, W), channels first ((c - f).flatten(1)), the layout the PCA was fitted on."),
        (_mah_variants(diff, P, sigma).sum(), f"your loss is N = {n} times too large: you summed over the batch; "
                                              "average the items' losses (.mean())."),
    ]
    return _first_match(got, candidates, expected)


def _orthonormal(D: int, k: int, gen: torch.Generator) -> torch.Tensor:
    """k orthonormal columns (D, k), float64: the Q of a random matrix's QR."""
    q, _ = torch.linalg.qr(torch.randn(D, D, generator=gen, dtype=torch.float64))
    return q[:, :k].contiguous()


def check_mahalanobis_loss(fn: Callable) -> None:
    """Check L_mah, ``fn(c, f, P, sigma) -> scalar``: c, f (N, 2, H, W) colour fields, P (D, k) orthonormal
    principal directions (D = 2 H W), sigma (k,) their standard deviations, all float64.

    With d = (c - f) flattened, L_mah = sum_k (d^T P_k)^2 / sigma_k^2 + ||d_res||^2 / sigma_K^2, where d_res =
    d - P P^T d is what the k directions do not explain (``||d||^2 - ||P^T d||^2``) and sigma_K = sigma[-1] the last,
    smallest one; the mean over the N items. Cases: a hand case with P the first 3 standard basis vectors (4.0), a
    full basis (k = D, so the residue is 0), random orthonormal P (the QR of a seeded random matrix).
    Reference: :func:`reprolib.models.divcolor.mahalanobis_loss`.
    """
    gen = torch.Generator().manual_seed(62)
    f64 = torch.float64
    # hand: differences (2, 1, 0.5, 1, 0, ...) and (0, ..., 0, 0.5): items 3 + 1 / 0.25 = 7 and 0.25 / 0.25 = 1
    hand_c = torch.zeros(2, 2, 2, 2, dtype=f64)
    hand_c.view(2, -1)[0, :4] = torch.tensor([2.0, 1.0, 0.5, 1.0], dtype=f64)
    hand_c.view(2, -1)[1, 7] = 0.5
    cases = [(hand_c, torch.zeros(2, 2, 2, 2, dtype=f64), torch.eye(8, dtype=f64)[:, :3],
              torch.tensor([2.0, 1.0, 0.5], dtype=f64))]
    for n, h, w, k in ((3, 2, 2, 8), (4, 2, 3, 4), (2, 3, 3, 6)):
        c = torch.tanh(torch.randn(n, 2, h, w, generator=gen, dtype=f64))
        f = torch.tanh(torch.randn(n, 2, h, w, generator=gen, dtype=f64))
        sigma = (0.2 + torch.rand(k, generator=gen, dtype=f64)).sort(descending=True).values
        cases.append((c, f, _orthonormal(2 * h * w, k, gen), sigma))
    check(fn, mahalanobis_loss, cases, "Mahalanobis loss", atol=1e-6, rtol=1e-6, diagnose=_diagnose_mahalanobis,
          hint=("d = (c - f).flatten(1); proj = d @ P; residue = (d ** 2).sum(1) - (proj ** 2).sum(1); "
                "((proj / sigma) ** 2).sum(1) + residue / sigma[-1] ** 2, then .mean()"))


# 3. Table 3's protocol
def _ref_table3(outputs: torch.Tensor, truth: torch.Tensor) -> tuple[float, float]:
    """(Eob, Var) of Table 3: the fields divided by 128 first, each measure's mean over the items."""
    o, t = outputs.double() / AB_SCALE, truth.double() / AB_SCALE
    return float(error_of_best(o, t).mean()), float(output_variance(o).mean())


def _diagnose_table3(got, expected, outputs, truth) -> str | None:
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return "return two numbers, (eob, var), in that order."
    n, k = outputs.shape[:2]
    for value, what in zip(got, ("eob", "var")):
        v = _as_float_tensor(value)
        if v is not None and v.numel() == n != 1:
            return f"your {what} has one value per item: average it over the {n} items and return one number."
        if v is not None and v.numel() != 1:
            return f"your {what} is not one number: each measure is averaged over the items (and pixels)."
    o, t = outputs.double(), truth.double()
    s = AB_SCALE
    err = (o / s - t[:, None] / s).abs()  # (N, k, 2, H, W)
    if not _is(got[0], expected[0]):
        candidates = [
            (err.mean((2, 3, 4)).mean(), "you averaged the k outputs' errors: error-of-best takes the smallest one, "
                                         "the error of the best output (min over dim 1)."),
            (err.mean((2, 3, 4)).max(1).values.mean(), "you took the largest error over the k outputs: error-of-best "
                                                       "is the smallest (min)."),
            (error_of_best(o / 110, t / 110).mean(), "your fields are ab / 110 (the book's normalisation); Table 3 is "
                                                     "on the paper's scale, ab / 128 (AB_SCALE), so your numbers are "
                                                     "128 / 110 = 1.16 times too large."),
            (error_of_best(o, t).mean(), "you left the fields in ab units: divide outputs and truth by 128 (AB_SCALE) "
                                         "first, Table 3's scale (your number is 128 times too large)."),
            (err.min(1).values.mean(), "you picked the best output at every pixel separately: error-of-best picks one "
                                       "whole output, the one whose mean error over the image is smallest."),
            (err.pow(2).mean((2, 3, 4)).min(1).values.mean(), "that is a squared error: Table 3's is the mean "
                                                              "absolute error, |out - truth|."),
            (err.sum(2).mean((2, 3)).min(1).values.mean(), "you summed the two channels (a per-pixel L1 norm): the "
                                                           "protocol here averages over pixels and channels, the 2 H W "
                                                           "values (half of it)."),
        ]
        return _first_match(got[0], candidates, expected[0])
    x = o / s
    candidates = [
        (x.std(1, correction=0).mean((1, 2, 3)).mean(), "you took the standard deviation across the outputs: Var is "
                                                        "the variance, its square (torch.var, not torch.std)."),
        (output_variance(x).sqrt().mean(), "you took a square root: Var is the variance itself, not a standard "
                                           "deviation."),
        *([] if k == 1 else [  # with one output the sample forms are NaN (and torch warns)
            (x.std(1, correction=1).mean((1, 2, 3)).mean(), "you took the (sample) standard deviation across the "
                                                            "outputs: Var is the population variance."),
            (x.var(1, correction=1).mean((1, 2, 3)).mean(), f"you divided by k - 1 = {k - 1} (the sample variance, "
                                                            "torch.var's default); the protocol's is the population "
                                                            f"variance, divided by k = {k}: torch.var(..., "
                                                            "correction=0)."),
        ]),
        (output_variance(o / 110).mean(), "your fields are ab / 110 (the book's normalisation); Table 3 is on the "
                                          "paper's scale, ab / 128 (AB_SCALE): a variance (128 / 110)^2 = 1.35 times "
                                          "too large."),
        (output_variance(o).mean(), "you left the fields in ab units: divide by 128 (AB_SCALE) first (your variance "
                                    "is 128^2 = 16384 times too large)."),
        (x.flatten(2).var(2, correction=0).mean(), "you took the variance over the pixels and channels of each output "
                                                   "(how colourful one output is); Var is across the k outputs at each "
                                                   "pixel and channel (how much they disagree), then averaged."),
        (x.flatten(2).var(2, correction=1).mean(), "you took the variance over the pixels and channels of each output; "
                                                   "Var is across the k outputs at each pixel and channel, then "
                                                   "averaged over them."),
        (x.flatten(3).var(3, correction=0).mean(), "you took the variance over the pixels of each output and channel; "
                                                   "Var is across the k outputs at each pixel and channel."),
        (x.flatten(1).var(1, correction=0).mean(), "you pooled the outputs and the pixels into one variance: take it "
                                                   "across the k outputs at each pixel and channel, then average."),
    ]
    found = _first_match(got[1], candidates, expected[1])
    g = _as_float_tensor(got[1])
    if found is None and k == 1 and g is not None and not bool(torch.isfinite(g).all()):
        found = "with k = 1 you divided by k - 1 = 0: Var is the population variance (divided by k), 0 for one output."
    return found


def check_table3_protocol(fn: Callable) -> None:
    """Check Table 3's protocol, ``fn(outputs (N, k, 2, H, W), truth (N, 2, H, W)) -> (eob, var)``, two floats.

    Both tensors are in ab units; the fields are first divided by 128 (the paper's scale, ``AB_SCALE``). Eob: per
    item, the smallest over the k outputs of the mean absolute error over the 2 H W values; Var: per item, the
    population variance (divided by k) across the k outputs, averaged over pixels and channels; each then averaged
    over the N items. Cases: a hand case (one pixel, outputs (12.8, 0) and (25.6, 25.6) ab against (0, 0):
    (0.05, 0.00625)), random ones with k = 5 as in the paper, k = 3 and k = 1 (Var 0).
    Reference: :func:`reprolib.metrics.diversity.error_of_best` and :func:`~reprolib.metrics.diversity.
    output_variance` on outputs / 128, averaged over the items.
    """
    gen = torch.Generator().manual_seed(63)
    cases = [(torch.tensor([[12.8, 0.0], [25.6, 25.6]]).reshape(1, 2, 2, 1, 1), torch.zeros(1, 2, 1, 1))]
    for n, k, h, w in ((3, 5, 4, 4), (2, 5, 8, 8), (4, 3, 3, 5), (2, 1, 4, 4)):
        truth = 60 * (2 * torch.rand(n, 2, h, w, generator=gen) - 1)
        outputs = truth[:, None] + 15 * torch.randn(n, k, 2, h, w, generator=gen)
        cases.append((outputs, truth))
    check(fn, _ref_table3, cases, "Table 3 protocol", atol=1e-9, rtol=1e-4, diagnose=_diagnose_table3,
          hint=("x, t = outputs / 128, truth / 128; eob = (x - t[:, None]).abs().mean((2, 3, 4)).min(1).values.mean(); "
                "var = x.var(1, correction=0).mean(); return float(eob), float(var)"))
