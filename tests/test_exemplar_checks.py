"""Chapter 7's exercise checks: the references and other correct answers pass, each usual mistake fails with its
own diagnosis, and outputs of the wrong type get a clear message."""

import pytest
import torch
import torch.nn.functional as F

from reprolib.book.exercises import ExerciseCheckError
from reprolib.chapters.exemplar import checks


def stub(*args):
    raise NotImplementedError("my_function")


def gather(x, phi):
    """``x`` (N, C, H, W) read at the flat indices ``phi`` (N, H, W), written out without the package's warp."""
    n, c = x.shape[:2]
    return x.flatten(2).gather(2, phi.flatten(1)[:, None].expand(-1, c, -1)).view(n, c, *phi.shape[1:])


# ------------------------------------------------------------------ exercise 1: one level of Eq. 1


def similarity(f_t, f_r, phi, dims=1, which="both", read="reference", keepdim=False, reduce=True):
    """Eq. 1 at one level, with the knobs the mistakes turn."""
    def unit(f):
        return f / f.pow(2).sum(dims, keepdim=True).sqrt()

    t = unit(f_t) if which in ("both", "target") else f_t
    r = unit(f_r) if which in ("both", "reference") else f_r
    a, b = {"reference": (t, gather(r, phi)), "target": (gather(t, phi), r), "same": (t, r)}[read]
    return (a * b).sum(1, keepdim=keepdim) if reduce else a * b


def test_similarity_reference_and_other_correct_answers_pass(capsys):
    checks.check_similarity_maps(checks._ref_similarity)
    assert "✓ similarity map (Eq. 1): all 4 cases pass" in capsys.readouterr().out
    checks.check_similarity_maps(similarity)
    checks.check_similarity_maps(lambda f_t, f_r, phi: F.cosine_similarity(f_t, gather(f_r, phi), dim=1))

    def looped(f_t, f_r, phi):
        n, _, h, w = f_t.shape
        out = torch.empty(n, h, w)
        for i in range(n):
            for y in range(h):
                for x in range(w):
                    q = int(phi[i, y, x])
                    a, b = f_t[i, :, y, x], f_r[i, :, q // w, q % w]
                    out[i, y, x] = a @ b / (a.norm() * b.norm())
        return out

    checks.check_similarity_maps(looped)


def test_similarity_hand_case():
    f_t, f_r, phi = checks._similarity_cases()[-1]
    assert torch.allclose(checks._ref_similarity(f_t, f_r, phi), torch.tensor([[[0.0, 0.8]]], dtype=torch.float64))


@pytest.mark.parametrize("wrong, needle", [
    (lambda t, r, p: similarity(t, r, p, which="none"), "you forgot to normalise"),
    (lambda t, r, p: similarity(t, r, p, which="target"), "normalised only the target's"),
    (lambda t, r, p: similarity(t, r, p, which="reference"), "normalised only the reference's"),
    (lambda t, r, p: similarity(t, r, p, dims=(2, 3)), "normalised over the positions"),
    (lambda t, r, p: similarity(t, r, p, dims=2), "normalised over dim 2 \\(the rows\\)"),
    (lambda t, r, p: similarity(t, r, p, dims=3), "normalised over dim 3 \\(the columns\\)"),
    (lambda t, r, p: similarity(t, r, p, dims=(1, 2, 3)), "normalised each whole feature map"),
    (lambda t, r, p: similarity(t, r, p, dims=0), "normalised over the batch"),
    (lambda t, r, p: similarity(t / t.norm(), r / r.norm(), p, which="none"), "norm of the whole tensor"),
    (lambda t, r, p: similarity(t, r, p, read="same"), "the reference at the same position"),
    (lambda t, r, p: similarity(t, r, p, read="target"), "you read the target through phi_T->R"),
    (lambda t, r, p: 1 - similarity(t, r, p), "cosine distance 1 - cos"),
    (lambda t, r, p: similarity(t, r, p, keepdim=True), "kept the channel dimension .* Your values are right"),
    (lambda t, r, p: similarity(t, r, p, which="none", keepdim=True),
     "kept the channel dimension .* also off: you forgot to normalise"),
    (lambda t, r, p: similarity(t, r, p, reduce=False), "values per position, the channels' products"),
    (lambda t, r, p: similarity(t, r, p).flatten(1), "reshape your result"),
    (stub, "NotImplementedError"),
])
def test_similarity_mistakes_are_diagnosed(wrong, needle):
    with pytest.raises(ExerciseCheckError, match=needle):
        checks.check_similarity_maps(wrong)


# ------------------------------------------------------------------ exercise 2: Eq. 3's T'_ab


def round_trip(phi_tr, phi_rt):
    """p -> phi_rt(phi_tr(p)), flat indices."""
    return phi_rt.flatten(1).gather(1, phi_tr.flatten(1)).view_as(phi_tr)


def by_coordinates(T_ab, phi_tr, phi_rt, swap=False):
    """Eq. 3 pixel by pixel, decoding each flat index to (y, x) (as x * H + y with ``swap``)."""
    N, _, H, W = T_ab.shape
    decode = (lambda i: (i % H, i // H)) if swap else (lambda i: (i // W, i % W))
    out = torch.empty_like(T_ab)
    for n in range(N):
        for y in range(H):
            for x in range(W):
                ry, rx = decode(int(phi_tr[n, y, x]))
                ty, tx = decode(int(phi_rt[n, ry, rx]))
                out[n, :, y, x] = T_ab[n, :, ty, tx]
    return out


def test_fake_reference_reference_and_other_correct_answers_pass(capsys):
    checks.check_fake_reference(checks._ref_fake_reference)
    assert "✓ fake reference (Eq. 3): all 4 cases pass" in capsys.readouterr().out
    checks.check_fake_reference(lambda T, a, b: gather(T, round_trip(a, b)))
    checks.check_fake_reference(lambda T, a, b: gather(gather(T, b), a))  # warp by phi_rt first, then phi_tr
    checks.check_fake_reference(by_coordinates)


def test_fake_reference_hand_case_and_cases_where_every_mistake_shows():
    T_ab, phi_tr, phi_rt = checks._fake_reference_cases()[0]
    assert torch.equal(checks._ref_fake_reference(T_ab, phi_tr, phi_rt)[0, 0], torch.tensor([[10.0, 20.0, 20.0]],
                                                                                          dtype=torch.float64))
    for T_ab, phi_tr, phi_rt in checks._fake_reference_cases()[1:]:
        assert T_ab.shape[2] != T_ab.shape[3]  # so that a swapped decoding of the indices shows
        right = checks._ref_fake_reference(T_ab, phi_tr, phi_rt)
        for wrong in (gather(gather(T_ab, phi_tr), phi_rt), gather(T_ab, phi_tr), gather(T_ab, phi_rt), T_ab,
                      by_coordinates(T_ab, phi_tr, phi_rt, swap=True)):
            assert not torch.allclose(wrong.double(), right)


@pytest.mark.parametrize("wrong, needle", [
    (lambda T, a, b: gather(gather(T, a), b), "composed the maps in the wrong order"),
    (lambda T, a, b: gather(T, round_trip(b, a)), "composed the maps in the wrong order"),
    (lambda T, a, b: gather(T, a), "you used phi_T->R alone"),
    (lambda T, a, b: gather(T, b), "you used phi_R->T alone"),
    (lambda T, a, b: T.clone(), "you returned T_ab unchanged"),
    (lambda T, a, b: by_coordinates(T, a, b, swap=True), "decoded the flat indices as x \\* H \\+ y"),
    (lambda T, a, b: gather(T, round_trip(a, b)).flatten(2), "reshape your result .* Your values are right"),
    (lambda T, a, b: gather(T, a).flatten(2), "reshape your result .* also off: you used phi_T->R alone"),
    (stub, "NotImplementedError"),
])
def test_fake_reference_mistakes_are_diagnosed(wrong, needle):
    with pytest.raises(ExerciseCheckError, match=needle):
        checks.check_fake_reference(wrong)


# ------------------------------------------------------------------ exercise 3: Eq. 4


def chrominance(pred, true, quad=0.5, shift=0.5, reduce="pairs", kind="smooth"):
    """Eq. 4, with the knobs the mistakes turn."""
    d = (pred - true).abs()
    per_value = {"smooth": torch.where(d < 1, quad * d ** 2, d - shift), "l1": d, "l2": d ** 2, "half l2": 0.5 * d ** 2}
    e = per_value[kind]
    return {"pairs": e.sum() / len(pred), "all": e.mean(), "pixels": e.sum(1).mean(), "sum": e.sum(),
            "items": e.sum((1, 2, 3))}[reduce]


def test_chrominance_reference_and_other_correct_answers_pass(capsys):
    checks.check_chrominance_loss(checks._ref_chrominance_loss)
    assert "✓ chrominance loss (Eq. 4): all 4 cases pass" in capsys.readouterr().out
    checks.check_chrominance_loss(chrominance)
    checks.check_chrominance_loss(lambda p, t: F.smooth_l1_loss(p, t, reduction="sum") / len(p))
    checks.check_chrominance_loss(lambda p, t: float(F.huber_loss(p, t, delta=1.0, reduction="none").sum((1, 2, 3))
                                                     .mean()))


def test_chrominance_hand_case_and_the_cases_mix_both_branches():
    *random_cases, (pred, true) = checks._chrominance_cases()
    assert checks._ref_chrominance_loss(pred, true) == pytest.approx(2.645)
    for pred, true in random_cases:
        d = (pred - true).abs()
        assert len(pred) > 1 and bool((d < 1).any()) and bool((d > 1).any())


@pytest.mark.parametrize("wrong, needle", [
    (lambda p, t: chrominance(p, t, reduce="all"), "averaged over all N x 2 x H x W = 48 values"),
    (lambda p, t: F.smooth_l1_loss(p, t), "2 H W = 24 times too small"),
    (lambda p, t: chrominance(p, t, reduce="pixels"), "averaged over the pixels"),
    (lambda p, t: chrominance(p, t, reduce="sum"), "N = 2 times too large: you summed over the batch"),
    (lambda p, t: chrominance(p, t, kind="l1"), "plain l1 loss"),
    (lambda p, t: F.l1_loss(p, t), "mean absolute error"),
    (lambda p, t: chrominance(p, t, kind="l2"), "the squared \\(l2\\) loss"),
    (lambda p, t: chrominance(p, t, kind="half l2"), "half the squared \\(l2\\) loss"),
    (lambda p, t: F.mse_loss(p, t), "mean squared error"),
    (lambda p, t: chrominance(p, t, quad=1.0), "dropped the factor 1/2"),
    (lambda p, t: chrominance(p, t, shift=0.0), "dropped the - 0.5"),
    (lambda p, t: chrominance(p, t, reduce="items"), "one value per item \\(2 of them\\)"),
    (stub, "NotImplementedError"),
])
def test_chrominance_mistakes_are_diagnosed(wrong, needle):
    with pytest.raises(ExerciseCheckError, match=needle):
        checks.check_chrominance_loss(wrong)


# ------------------------------------------------------------------ outputs of the wrong type


@pytest.mark.parametrize("check, output, needle", [
    (checks.check_similarity_maps, None, "returned None"),
    (checks.check_similarity_maps, [0.0, 0.8], "(?s)got a list .*return one torch tensor of shape \\(N, h, w\\)"),
    (checks.check_fake_reference, None, "returned None"),
    (checks.check_fake_reference, [[10.0, 20.0]], "(?s)got a list .*return one torch tensor of shape \\(N, 2, H, W\\)"),
    (checks.check_chrominance_loss, None, "returned None"),
    (checks.check_chrominance_loss, [1.0, 2.0], "(?s)got a list .*return one number \\(a scalar tensor\\)"),
    (checks.check_chrominance_loss, torch.zeros(3, 3), "(?s)expected shape \\(\\), got \\(3, 3\\).*return one number"),
])
def test_outputs_of_the_wrong_type_get_a_clear_message(check, output, needle):
    with pytest.raises(ExerciseCheckError, match=needle) as err:
        check(lambda *args: output)
    assert "diagnosis" in str(err.value) or output is None


def test_passing_the_result_instead_of_the_function_is_refused():
    with pytest.raises(TypeError, match="pass your function itself"):
        checks.check_chrominance_loss(1.5)
