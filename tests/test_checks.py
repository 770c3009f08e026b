"""Tests of reprolib.book.exercises: the generic checker and the chapter-1 exercise checks."""

from __future__ import annotations


import pytest
import torch

from reprolib import quantize
from reprolib.chapters.automatic import checks
from reprolib.book.exercises import ExerciseCheckError, check


def _reference(x, scale=1.0):
    return torch.softmax(x * scale, dim=1)


CASES = [
    (torch.arange(12.0).reshape(2, 6) / 7,),
    {"x": torch.linspace(-2, 2, 15).reshape(3, 5), "scale": 2.0},
]


def _fails(student, reference=_reference, cases=CASES, **kwargs) -> str:
    with pytest.raises(ExerciseCheckError) as info:
        check(student, reference, cases, "softmax", **kwargs)
    return str(info.value)


# ----------------------------------------------------------------------------- generic checker


def test_correct_function_passes_and_says_so(capsys):
    check(lambda x, scale=1.0: torch.softmax(x * scale, dim=-1), _reference, CASES, "softmax")
    assert capsys.readouterr().out.strip() == "✓ softmax: all 2 cases pass"


def test_error_is_an_assertion_error():
    assert issubclass(ExerciseCheckError, AssertionError)


def test_wrong_values_report_case_inputs_worst_element_and_hint():
    def student(x, scale=1.0):
        out = torch.softmax(x * scale, dim=1)
        out[1, 2] += 0.5  # one wrong element in the second case only
        return out if scale != 1.0 else torch.softmax(x, dim=1)

    msg = _fails(student, hint="divide by the sum over dim 1")
    assert "case 2 of 2" in msg
    assert "x = tensor of shape (3, 5), float32" in msg and "scale = 2" in msg  # inputs, named
    assert "1 of 15 values differ" in msg and "index (1, 2)" in msg
    expected = float(_reference(CASES[1]["x"], 2.0)[1, 2])
    assert f"expected {expected:.6g}, got {expected + 0.5:.6g}" in msg
    assert "hint: divide by the sum over dim 1" in msg


def test_shape_mismatch_is_explained_before_values():
    msg = _fails(lambda x, scale=1.0: _reference(x, scale).T)
    assert "expected shape (2, 6), got (6, 2)" in msg and "different order" in msg
    msg = _fails(lambda x, scale=1.0: _reference(x, scale).unsqueeze(0))
    assert "size 1" in msg
    msg = _fails(lambda x, scale=1.0: _reference(x, scale).sum(1))
    assert "1 dimensions instead of 2" in msg


def test_constant_factor_is_recognised_as_normalisation():
    msg = _fails(lambda x, scale=1.0: 3 * _reference(x, scale))
    assert "3 times the expected one" in msg


def test_nan_is_called_out():
    def student(x, scale=1.0):
        out = _reference(x, scale)
        out[0, 0] = float("nan")
        return out

    assert "NaN" in _fails(student)


def test_none_means_not_filled_in():
    def student(x, scale=1.0):
        pass  # the student has not written it yet

    msg = _fails(student)
    assert "returned None" in msg and "filled it in" in msg


def test_not_implemented_is_reported_as_not_done_yet():
    def student(x, scale=1.0):
        raise NotImplementedError("TODO")

    assert "raises NotImplementedError" in _fails(student)


def test_exception_is_reported_with_type_message_and_case():
    def student(x, scale=1.0):
        if scale == 1.0:
            return torch.softmax(x, dim=1)  # case 1 is right
        return 1 // 0

    msg = _fails(student)
    assert "case 2 of 2" in msg and "raised ZeroDivisionError" in msg
    with pytest.raises(ExerciseCheckError) as info:
        check(student, _reference, CASES, "softmax")
    assert isinstance(info.value.__cause__, ZeroDivisionError)  # the traceback stays available


def test_wrong_type_and_structure():
    assert "expected a Tensor of numbers, got a str" in _fails(lambda x, scale=1.0: "softmax")
    pair_ref = lambda x: (x.min(), x.max())  # noqa: E731
    msg = _fails(lambda x: (x.min(),), reference=pair_ref, cases=[(torch.ones(3),)])
    assert "expected 2 items, got 1" in msg


def test_numpy_and_float_outputs_are_accepted():
    check(lambda x: _reference(torch.as_tensor(x)).numpy(), _reference, [(torch.ones(2, 3),)], "np")
    check(lambda x: torch.tensor([x.sum().item()]), lambda x: float(x.sum()), [(torch.ones(4),)], "sum")
    assert "expected 4" in _fails(lambda x: 5.0, reference=lambda x: float(x.sum()), cases=[(torch.ones(4),)])


def test_inputs_are_copied_so_in_place_edits_do_not_leak():
    x = torch.ones(2, 3)

    def student(x):
        out = torch.softmax(x, dim=1)
        x.zero_()  # vandalises its input after use
        return out

    check(student, _reference, [(x,), (x,)], "softmax")
    assert torch.equal(x, torch.ones(2, 3))


def test_bad_calls_are_type_errors():
    with pytest.raises(TypeError, match="without calling it"):
        check(torch.ones(3), _reference, CASES, "softmax")
    with pytest.raises(ValueError, match="no cases"):
        check(_reference, _reference, [], "softmax")


def test_diagnose_adds_its_text_and_cannot_hide_the_message():
    wrong = lambda x, scale=1.0: torch.softmax(x, dim=1)  # noqa: E731  (ignores scale)
    msg = _fails(wrong, diagnose=lambda got, exp, x, scale=1.0: "scale ignored" if scale != 1 else None)
    assert "diagnosis: scale ignored" in msg
    msg = _fails(wrong, diagnose=lambda *a, **k: 1 / 0)
    assert "values differ" in msg and "diagnosis" not in msg


# ----------------------------------------------------------------------------- chapter 1: soft-encoding


def soft_encoding(ab, bins, k, sigma, gaussian=True, normalise=True, two=2.0, keep=None):
    """A straightforward student solution; the keyword switches reproduce typical mistakes."""
    n, _, h, w = ab.shape
    pts = ab.permute(0, 2, 3, 1).reshape(-1, 2)
    d, idx = torch.cdist(pts, bins).topk(keep or k, dim=1, largest=False)
    wts = torch.exp(-(d**2) / (two * sigma**2)) if gaussian else torch.ones_like(d)
    if normalise:
        wts = wts / wts.sum(dim=1, keepdim=True)
    out = torch.zeros(pts.shape[0], bins.shape[0]).scatter_(1, idx, wts)
    return out.reshape(n, h, w, -1).permute(0, 3, 1, 2)


def _check_fails(checker, fn) -> str:
    with pytest.raises(ExerciseCheckError) as info:
        checker(fn)
    return str(info.value)


def test_soft_encoding_correct_solution_passes(capsys):
    checks.check_soft_encoding(soft_encoding)
    assert "✓ soft-encoding: all 5 cases pass" in capsys.readouterr().out


@pytest.mark.parametrize(
    "mistake, expected",
    [
        (dict(normalise=False), "should sum to 1 over the bins"),
        (dict(gaussian=False), "you forgot the Gaussian"),
        (dict(two=1.0), "exp(-d^2 / sigma^2)"),
        (dict(keep=12), "not among the k = 5 nearest"),
    ],
)
def test_soft_encoding_typical_mistakes_are_diagnosed(mistake, expected):
    msg = _check_fails(
        checks.check_soft_encoding, lambda ab, bins, k, sigma: soft_encoding(ab, bins, k, sigma, **mistake)
    )
    assert expected in msg and "hint:" in msg


def test_soft_encoding_channels_last_is_a_shape_error():
    msg = _check_fails(checks.check_soft_encoding, lambda *a: soft_encoding(*a).permute(0, 2, 3, 1))
    assert "expected shape (1, 12, 2, 3), got (1, 2, 3, 12)" in msg and "different order" in msg


def test_soft_encoding_cases_have_no_near_ties():
    """A pixel equidistant from its k-th and (k+1)-th bins would make two answers right."""
    gen = torch.Generator().manual_seed(0)
    bins = quantize.ab_bins()
    ab = checks._ab_without_ties(gen, (4, 2, 8, 8), bins, 10, -80.0, 80.0)
    d = torch.cdist(ab.permute(0, 2, 3, 1).reshape(-1, 2).double(), bins.double()).sort(dim=1).values
    assert float((d[:, 10] - d[:, 9]).min()) >= 0.05


# ----------------------------------------------------------------------------- chapter 1: annealed mean


def annealed_mean(logits, bins, T, how="logits"):
    if how == "logits":
        probs = torch.softmax(logits / T, dim=1)
    elif how == "power":  # p^(1/T) / sum: the same thing written with probabilities
        p = torch.softmax(logits, dim=1) ** (1 / T)
        probs = p / p.sum(dim=1, keepdim=True)
    elif how == "divide probabilities":
        p = torch.softmax(logits, dim=1) / T
        probs = p / p.sum(dim=1, keepdim=True)
    elif how == "multiply":
        probs = torch.softmax(logits * T, dim=1)
    elif how == "mode":
        probs = torch.nn.functional.one_hot(logits.argmax(1), logits.shape[1]).permute(0, 3, 1, 2).float()
    return torch.einsum("nqhw,qc->nchw", probs, bins)


@pytest.mark.parametrize("how", ["logits", "power"])
def test_annealed_mean_correct_solutions_pass(how, capsys):
    checks.check_annealed_mean(lambda logits, bins, T: annealed_mean(logits, bins, T, how))
    assert "✓ annealed mean: all 5 cases pass" in capsys.readouterr().out


@pytest.mark.parametrize(
    "how, expected",
    [
        ("divide probabilities", "temperature had no effect"),
        ("multiply", "you multiplied the logits by T"),
        ("mode", "your result is the mode"),
    ],
)
def test_annealed_mean_typical_mistakes_are_diagnosed(how, expected):
    msg = _check_fails(checks.check_annealed_mean, lambda logits, bins, T: annealed_mean(logits, bins, T, how))
    assert expected in msg


def test_annealed_mean_wrong_output_shape():
    msg = _check_fails(checks.check_annealed_mean, lambda *a: annealed_mean(*a).permute(0, 2, 3, 1))
    assert "expected shape (1, 2, 2, 3), got (1, 2, 3, 2)" in msg and "different order" in msg


# ----------------------------------------------------------------------------- chapter 1: rebalancing


def rebalance(prior, lam, how="right"):
    q = prior.shape[0]
    mix = (1 - lam) * prior + lam / q
    if how == "swapped":
        mix = lam * prior + (1 - lam) / q
    w = mix if how == "no reciprocal" else 1 / mix
    if how == "sum to one":
        return w / w.sum()
    w = torch.where(prior > 0, w, torch.zeros_like(w)) if lam == 0 else w
    return w / (prior * w).sum()


def test_rebalance_weights_correct_solution_passes(capsys):
    checks.check_rebalance_weights(rebalance)
    assert "✓ rebalancing weights: all 6 cases pass" in capsys.readouterr().out


@pytest.mark.parametrize(
    "how, expected",
    [
        ("sum to one", "Eq. 4 normalises the *expected* weight"),
        ("no reciprocal", "you forgot the reciprocal"),
        ("swapped", "lam and 1 - lam are swapped"),
    ],
)
def test_rebalance_weights_typical_mistakes_are_diagnosed(how, expected):
    msg = _check_fails(checks.check_rebalance_weights, lambda prior, lam: rebalance(prior, lam, how))
    assert expected in msg


def test_checkers_report_unfinished_and_crashing_functions():
    assert "returned None" in _check_fails(checks.check_rebalance_weights, lambda prior, lam: None)

    def crashes(logits, bins, T):
        return torch.softmax(logits / T, dim=1) @ bins  # (N, Q, H, W) @ (Q, 2): wrong dimensions

    msg = _check_fails(checks.check_annealed_mean, crashes)
    assert "raised RuntimeError" in msg and "case 1 of 5" in msg and "logits = tensor of shape (1, 12, 2, 3)" in msg
