"""Chapter 6's exercise checks: correct answers pass, and each usual mistake fails with its own diagnosis."""

import math

import pytest
import torch
import torch.nn.functional as F

from reprolib.book.exercises import ExerciseCheckError
from reprolib.chapters.diverse import checks
from reprolib.models.divcolor import mahalanobis_loss, mdn_closest_loss


def stub(*args):
    raise NotImplementedError("my_function")


# ------------------------------------------------------------------ the closest-component loss (Eq. 6)


def closest(logits, means, z, variance, denominator=None, log_pi=None, reduce="mean", pick="distance",
            pull="closest", leak=0.0):
    """Eq. 6, with the knobs the mistakes turn."""
    dist2 = ((z[:, None] - means) ** 2).sum(2)
    log_pi = F.log_softmax(logits, 1) if log_pi is None else log_pi(logits)
    denominator = 2 * variance if denominator is None else denominator(variance)
    rows = torch.arange(len(z))
    m = dist2.argmin(1) if pick == "distance" else (-log_pi + dist2 / denominator).argmin(1)
    pulled = dist2[rows, m] if pull == "closest" else dist2.sum(1)
    per_item = -log_pi[rows, m] + pulled / denominator + leak * dist2.sum(1)
    return per_item.mean() if reduce == "mean" else per_item.sum()


def test_closest_component_correct_passes(capsys):
    checks.check_closest_component_loss(closest)
    out = capsys.readouterr().out
    assert "✓ closest-component loss: all 4 cases pass" in out and "only the closest mean is pulled" in out
    hand = (torch.tensor([[-3.0, 3.0], [0.0, 0.0]]), torch.tensor([[[0.8, 0.0], [1.5, 0.0]], [[0.0, 0.0], [2.0, 2.0]]]),
            torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    by_hand = ((6 + math.log(1 + math.exp(-6)) + 0.04 / 0.2) + (math.log(2) + 1 / 0.2)) / 2
    assert float(mdn_closest_loss(*hand, 0.1)) == pytest.approx(by_hand, rel=1e-6)
    assert by_hand == pytest.approx(5.9478, abs=1e-4)  # the value the docstring announces


def test_other_correct_formulations_of_eq6_pass():
    def with_min(logits, means, z, variance):
        d2, m = ((z.unsqueeze(1) - means) ** 2).sum(-1).min(1)
        return (-torch.log_softmax(logits, -1).gather(1, m[:, None]).squeeze(1) + d2 / (2 * variance)).mean()

    def with_one_hot(logits, means, z, variance):
        d2 = torch.cdist(z[:, None], means).squeeze(1) ** 2
        onehot = F.one_hot(d2.argmin(1), logits.shape[1]).to(d2.dtype)
        return ((-F.log_softmax(logits, 1) + d2 / (2 * variance)) * onehot).sum(1).mean()

    checks.check_closest_component_loss(with_min)
    checks.check_closest_component_loss(with_one_hot)


@pytest.mark.parametrize("wrong, needle", [
    (lambda l, mu, z, v: closest(l, mu, z, v, denominator=lambda v: 2 * math.sqrt(v)), "2 sigma with sigma = sqrt"),
    (lambda l, mu, z, v: closest(l, mu, z, v, denominator=lambda v: 2 * v ** 2), "variance as a standard deviation"),
    (lambda l, mu, z, v: closest(l, mu, z, v, denominator=lambda v: v), "dropped the 2"),
    (lambda l, mu, z, v: closest(l, mu, z, v, log_pi=lambda lg: lg), "raw logits"),
    (lambda l, mu, z, v: closest(l, mu, z, v, pick="whole loss"), "smallest whole loss"),
    (lambda l, mu, z, v: closest(l, mu, z, v, reduce="sum"), "N = 2 times too large: you summed over the batch"),
    (lambda l, mu, z, v: closest(l, mu, z, v, pull="all"), "you pulled every component"),
    # the right value within the tolerance, but every mean is pulled a little
    (lambda l, mu, z, v: closest(l, mu, z, v, leak=1e-6), "every mean gets a gradient"),
    (lambda l, mu, z, v: closest(l, mu.detach(), z, v), "no gradient reached the means"),
    (lambda l, mu, z, v: closest(l, mu, z, v).item(), "carries no gradient"),
    (lambda l, mu, z, v: -torch.logsumexp(F.log_softmax(l, 1) - ((z[:, None] - mu) ** 2).sum(2) / (2 * v)
                                          - 0.5 * z.shape[1] * math.log(2 * math.pi * v), 1).mean(), "that is Eq. 5"),
    (lambda l, mu, z, v: -F.log_softmax(l, 1)[torch.arange(len(z)), ((z[:, None] - mu) ** 2).sum(2).argmin(1)]
     + ((z[:, None] - mu) ** 2).sum(2).min(1).values / (2 * v), "one value per item"),
    (stub, "NotImplementedError"),
])
def test_closest_component_mistakes_are_diagnosed(wrong, needle):
    with pytest.raises(ExerciseCheckError, match=needle):
        checks.check_closest_component_loss(wrong)


# ------------------------------------------------------------------ the Mahalanobis loss


def mahalanobis(c, f, P, sigma, power=2, residual=True, res_scale=-1, reduce="mean"):
    d = (c - f).flatten(1)
    proj = d @ P
    residue = (d ** 2).sum(1) - (proj ** 2).sum(1)
    loss = (proj ** 2 / sigma ** power).sum(1)
    if residual:
        loss = loss + residue / sigma[res_scale] ** power
    return loss.mean() if reduce == "mean" else loss.sum()


def test_mahalanobis_correct_passes(capsys):
    checks.check_mahalanobis_loss(mahalanobis)
    assert "✓ Mahalanobis loss: all 4 cases pass" in capsys.readouterr().out
    # the hand case of the docstring: 4.0
    c = torch.zeros(2, 8, dtype=torch.float64)
    c[0, :4] = torch.tensor([2.0, 1.0, 0.5, 1.0])
    c[1, 7] = 0.5
    sigma = torch.tensor([2.0, 1.0, 0.5], dtype=torch.float64)
    args = (c.view(2, 2, 2, 2), torch.zeros(2, 2, 2, 2, dtype=torch.float64), torch.eye(8, dtype=torch.float64)[:, :3])
    assert float(mahalanobis_loss(*args, sigma)) == pytest.approx(4.0)


def test_mahalanobis_with_a_full_basis_has_no_residue_and_the_projection_form_passes():
    gen = torch.Generator().manual_seed(0)
    P = checks._orthonormal(8, 8, gen)
    assert torch.allclose(P.T @ P, torch.eye(8, dtype=torch.float64))
    c, f = torch.randn(3, 2, 2, 2, generator=gen, dtype=torch.float64), torch.zeros(3, 2, 2, 2, dtype=torch.float64)
    sigma = torch.linspace(2, 0.5, 8, dtype=torch.float64)
    # full basis: the loss without its residue is the same number
    assert float(mahalanobis_loss(c, f, P, sigma)) == pytest.approx(float(mahalanobis(c, f, P, sigma, residual=False)))

    def by_residual_vector(c, f, P, sigma):
        d = (c - f).reshape(len(c), -1)
        proj = d @ P
        rest = d - proj @ P.T
        return (((proj / sigma) ** 2).sum(1) + (rest ** 2).sum(1) / sigma[-1] ** 2).mean()

    checks.check_mahalanobis_loss(by_residual_vector)


@pytest.mark.parametrize("wrong, needle", [
    (lambda c, f, P, s: mahalanobis(c, f, P, s, power=1), "divided by sigma instead of sigma\\^2"),
    (lambda c, f, P, s: mahalanobis(c, f, P, s, residual=False), "forgot the residual term"),
    (lambda c, f, P, s: mahalanobis(c, f, P, s, res_scale=0), "scaled by sigma\\[0\\]"),
    (lambda c, f, P, s: mahalanobis(c, f, P, s, reduce="sum"), "N = 2 times too large: you summed over the batch"),
    (lambda c, f, P, s: mahalanobis(c, f, P, s).sqrt(), "do not take the square root"),
    (lambda c, f, P, s: mahalanobis(c.permute(0, 2, 3, 1), f.permute(0, 2, 3, 1), P, s), "channels first"),
    (lambda c, f, P, s: (((c - f).flatten(1) @ P / s) ** 2).sum(1).mean() + ((c - f) ** 2).flatten(1).sum(1).mean()
     / s[-1] ** 2, "all of \\|\\|C - f\\|\\|\\^2"),
    (lambda c, f, P, s: ((((c - f).flatten(1) @ P) / s) ** 2).sum(1), "one value per item"),
    (stub, "NotImplementedError"),
])
def test_mahalanobis_mistakes_are_diagnosed(wrong, needle):
    with pytest.raises(ExerciseCheckError, match=needle):
        checks.check_mahalanobis_loss(wrong)


# ------------------------------------------------------------------ Table 3's protocol


def table3(outputs, truth, scale=128.0, best="min", spread="var", over="outputs", correction=0):
    x, t = outputs / scale, truth / scale
    errors = (x - t[:, None]).abs().mean((2, 3, 4))
    eob = errors.min(1).values if best == "min" else errors.mean(1)
    if over == "outputs":
        per = x.var(1, correction=correction) if spread == "var" else x.std(1, correction=correction)
        var = per.mean()
    else:  # over each output's pixels and channels
        var = x.flatten(2).var(2, correction=correction).mean()
    return float(eob.mean()), float(var)


def test_table3_correct_passes_and_the_hand_case(capsys):
    checks.check_table3_protocol(table3)
    assert "✓ Table 3 protocol: all 5 cases pass" in capsys.readouterr().out
    outputs, truth = torch.tensor([[12.8, 0.0], [25.6, 25.6]]).reshape(1, 2, 2, 1, 1), torch.zeros(1, 2, 1, 1)
    eob, var = checks._ref_table3(outputs, truth)
    assert eob == pytest.approx(0.05) and var == pytest.approx(0.00625)


def test_table3_with_loops_and_tensors_passes():
    def looped(outputs, truth):
        N, k = outputs.shape[:2]
        eobs, variances = [], []
        for n in range(N):
            x = outputs[n] / 128
            eobs.append(min(float((x[j] - truth[n] / 128).abs().mean()) for j in range(k)))
            variances.append(float(((x - x.mean(0)) ** 2).mean()))
        return torch.tensor(eobs).mean(), torch.tensor(variances).mean()

    checks.check_table3_protocol(looped)


@pytest.mark.parametrize("wrong, needle", [
    (lambda o, t: table3(o, t, best="mean"), "you averaged the k outputs' errors"),
    (lambda o, t: table3(o, t, spread="std"), "standard deviation"),
    (lambda o, t: table3(o, t, scale=110.0), "ab / 110"),
    (lambda o, t: table3(o, t, scale=1.0), "left the fields in ab units"),
    (lambda o, t: table3(o, t, over="pixels"), "over the pixels and channels of each output"),
    (lambda o, t: table3(o, t, correction=1), "divided by k - 1 = 1 \\(the sample variance"),
    (lambda o, t: (float((o / 128 - t[:, None] / 128).abs().min(1).values.mean()), table3(o, t)[1]),
     "best output at every pixel"),
    (lambda o, t: table3(o, t)[0], "return two numbers"),
    (lambda o, t: (torch.tensor([table3(o[n:n + 1], t[n:n + 1])[0] for n in range(len(o))]), table3(o, t)[1]),
     "your eob has one value per item"),
    (stub, "NotImplementedError"),
])
def test_table3_mistakes_are_diagnosed(wrong, needle):
    with pytest.raises(ExerciseCheckError, match=needle):
        checks.check_table3_protocol(wrong)


def test_table3_sample_variance_with_one_output_is_explained():
    outputs = torch.randn(2, 1, 2, 3, 3)
    got = (checks._ref_table3(outputs, outputs[:, 0])[0], float("nan"))
    expected = checks._ref_table3(outputs, outputs[:, 0])
    assert "divided by k - 1 = 0" in checks._diagnose_table3(got, expected, outputs, outputs[:, 0])
