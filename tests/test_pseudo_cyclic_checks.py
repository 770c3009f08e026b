"""Chapter 8's exercise checks: the references and other correct answers pass, each usual mistake fails with its
own diagnosis, and outputs of the wrong type get a clear message."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from reprolib.book.exercises import ExerciseCheckError
from reprolib.chapters.pseudo_cyclic import checks
from reprolib.color import LUMA_WEIGHTS, gray_rgb, handcrafted_grey, rgb_to_l_ab
from reprolib.modelinfo import count_parameters
from reprolib.models.spyncogan import BETA, H_T, HandcraftedTranslation, SeparableConv2d, pseudo_cycle_loss


def stub(*args):
    raise NotImplementedError("my_function")


# ------------------------------------------------------------------ exercise 1: H_t


def conv_h_t(weights=LUMA_WEIGHTS, bias=None, frozen=True):
    """H_t as a 1 x 1 conv, with the knobs the mistakes turn (``bias``: None for none, else its value)."""
    conv = nn.Conv2d(3, 1, 1, bias=bias is not None)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(weights).view(1, 3, 1, 1))
        if bias is not None:
            conv.bias.fill_(bias)
    return conv.requires_grad_(not frozen)


def weighted_sum(weights=LUMA_WEIGHTS, keepdim=True, requires_grad=False):
    """H_t as a plain function of the image (a closure over its weights)."""
    w = torch.tensor(weights, requires_grad=requires_grad).view(1, 3, 1, 1)
    return lambda rgb: (w * rgb).sum(1, keepdim=keepdim)


class WithBuffer(nn.Module):
    """Another correct H_t: the weights a buffer, no parameters at all."""

    def __init__(self):
        super().__init__()
        self.register_buffer("w", torch.tensor(LUMA_WEIGHTS).view(1, 3, 1, 1))

    def forward(self, rgb):
        return F.conv2d(rgb, self.w)


class WithUnusedScale(nn.Module):
    """Right values and a frozen conv, but one trainable parameter the forward pass never uses."""

    def __init__(self):
        super().__init__()
        self.conv = conv_h_t()
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, rgb):
        return self.conv(rgb)


class NoGrad(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = conv_h_t()

    def forward(self, rgb):
        with torch.no_grad():
            return self.conv(rgb)


def luma_with_default_bias():
    """The right weights in an nn.Conv2d that keeps its default (random) bias."""
    conv = nn.Conv2d(3, 1, 1)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(LUMA_WEIGHTS).view(1, 3, 1, 1))
    return conv.requires_grad_(False)


def seeded(make, seed=0):
    """``make`` with the global generator seeded (a fresh nn.Conv2d's weights and bias are random)."""
    def wrapped():
        torch.manual_seed(seed)
        return make()
    return wrapped


def test_handcrafted_translation_reference_and_other_correct_answers_pass(capsys):
    checks.check_handcrafted_translation(HandcraftedTranslation)
    out = capsys.readouterr().out
    assert "✓ handcrafted translation H_t (Eq. 1): all 4 cases pass" in out and "nothing trains" in out
    checks.check_handcrafted_translation(conv_h_t)
    checks.check_handcrafted_translation(WithBuffer)
    checks.check_handcrafted_translation(weighted_sum)
    checks.check_handcrafted_translation(lambda: handcrafted_grey)
    checks.check_handcrafted_translation(lambda: lambda rgb: torch.einsum("c,nchw->nhw", torch.tensor(LUMA_WEIGHTS),
                                                                          rgb)[:, None])


def test_handcrafted_translation_hand_case():
    hand = checks._translation_cases()[-1]
    assert torch.allclose(checks._ref_translation(hand), torch.tensor([[[[0.299, 0.587], [0.114, 1.0]]]],
                                                                      dtype=torch.float64))


@pytest.mark.parametrize("make, needle", [
    (lambda: conv_h_t(LUMA_WEIGHTS[::-1]), "BGR order"),
    (lambda: conv_h_t(LUMA_WEIGHTS[::-1], bias=0.1), "BGR order.*also adds a constant 0.1"),
    (lambda: conv_h_t(bias=0.05), "the luma plus a constant 0.05 .*has a bias"),
    (seeded(luma_with_default_bias), "the luma plus a constant .*has a bias"),
    (seeded(lambda: nn.Conv2d(3, 1, 1, bias=False)), "Did you set the weights\\?.*under torch.no_grad\\(\\)\\.\\n"),
    (seeded(lambda: nn.Conv2d(3, 1, 1)), "Did you set the weights\\?.*and drop the bias"),
    (lambda: conv_h_t(bias=0.0), "your module has a bias \\(bias\\)"),
    (lambda: conv_h_t(frozen=False), "changed its output: the weights train"),
    (WithUnusedScale, "scale of your module require\\(s\\) gradients"),
    (lambda: weighted_sum(requires_grad=True), "a gradient to a tensor of shape \\(3,\\) besides the input"),
    (lambda: conv_h_t((1 / 3, 1 / 3, 1 / 3)), "plain mean \\(R \\+ G \\+ B\\) / 3"),
    (lambda: weighted_sum(checks._BT709_WEIGHTS), "BT.709"),
    (lambda: lambda rgb: rgb_to_l_ab(rgb)[0] / 100, "CIE lightness L\\* / 100"),
    (lambda: lambda rgb: rgb_to_l_ab(rgb)[0], "CIE lightness L\\* \\(Lab's L, 0 to 100\\)"),
    (lambda: lambda rgb: (rgb_to_l_ab(rgb)[0] - 50) / 100, "\\(L\\* - 50\\) / 100"),
    (lambda: gray_rgb, "grey three times.*also off: you returned the sRGB grey of the same CIE lightness"),
    (lambda: lambda rgb: handcrafted_grey(rgb).expand(-1, 3, -1, -1), "grey three times.*Your values are right"),
    (lambda: lambda rgb: conv_h_t(LUMA_WEIGHTS[::-1])(rgb).expand(-1, 3, -1, -1),
     "grey three times.*also off: your weights are in BGR order"),
    (lambda: weighted_sum(keepdim=False), "no channel dimension.*Your values are right"),
    (lambda: lambda rgb: rgb_to_l_ab(rgb)[0][:, 0] / 100,
     "no channel dimension.*also off: you returned the CIE lightness L\\* / 100"),
    (lambda: lambda rgb: rgb * torch.tensor(LUMA_WEIGHTS).view(1, 3, 1, 1), "did not add them up.*Your values are"),
    (seeded(lambda: nn.Conv2d(3, 3, 1, bias=False)), "your output has three channels"),
    (NoGrad, "no gradient passes through your H_t to its input"),
    (stub, "NotImplementedError"),
    (lambda: None, "make\\(\\) returned None"),
    (lambda: torch.zeros(1, 3, 1, 1), "make\\(\\) must return the module .*got a Tensor"),
])
def test_handcrafted_translation_mistakes_are_diagnosed(make, needle):
    with pytest.raises(ExerciseCheckError, match=f"(?s){needle}"):
        checks.check_handcrafted_translation(make)


def test_passing_the_module_instead_of_the_function_that_builds_it_is_refused():
    with pytest.raises(TypeError, match="pass the function that builds your H_t"):
        checks.check_handcrafted_translation(HandcraftedTranslation())


# ------------------------------------------------------------------ exercise 2: the pseudo-cycle loss


def l1(a, b, err="abs", reduce="mean"):
    e = (a - b).abs() if err == "abs" else (a - b) ** 2
    return {"mean": e.mean(), "sum": e.sum(), "image": e.sum() / len(a), "channels": e.sum(1).mean()}[reduce]


def cycle(G_of_HtJ, J, G_of_I, grey, beta, bab_w="beta", aba_w="beta", bab_err="abs", aba_err="abs", reduce="mean",
          back=H_T):
    """Eq. 5-7 written out, with the knobs the mistakes turn (weights "beta", "ones", "reversed", "off" or a tuple)."""
    def w(kind):
        return {"beta": beta, "ones": (1, 1, 1), "reversed": tuple(beta)[::-1], "off": (0, 0, 0)}.get(kind, kind)

    bab = sum(b * l1(G, J, bab_err, reduce) for G, b in zip(G_of_HtJ, w(bab_w), strict=True))
    aba = sum(b * l1(back(G), grey, aba_err, reduce) for G, b in zip(G_of_I, w(aba_w), strict=True))
    return bab + aba


def test_pseudo_cycle_reference_and_other_correct_answers_pass(capsys):
    checks.check_pseudo_cycle_loss(checks._ref_cycle)
    out = capsys.readouterr().out
    assert "✓ pseudo-cycle loss (Eq. 5-7): all 4 cases pass" in out and "gradients reach the three outputs" in out
    checks.check_pseudo_cycle_loss(cycle)
    checks.check_pseudo_cycle_loss(lambda a, J, b, grey, beta: pseudo_cycle_loss(a, J, b, grey, H_T, beta))
    own = conv_h_t()  # the student's exercise-1 H_t, float32

    def with_l1_loss(G_of_HtJ, J, G_of_I, grey, beta):
        return sum(b_i * (F.l1_loss(G_j, J) + F.l1_loss(own(G_i), grey))
                   for G_j, G_i, b_i in zip(G_of_HtJ, G_of_I, beta, strict=True))

    checks.check_pseudo_cycle_loss(with_l1_loss)


def test_pseudo_cycle_hand_case_and_the_differences_stay_away_from_zero():
    *random_cases, hand = checks._cycle_cases()
    assert float(checks._ref_cycle(*hand)) == pytest.approx(10 * 0.1 / 3 + 6 * 0.1 + 4 * 0.2 + 6 * 0.201 + 4 * 0.386)
    assert float(checks._ref_cycle(*hand)) == pytest.approx(4.48333, abs=1e-5)  # the value the docstring announces
    for G_of_HtJ, J, G_of_I, grey, beta in random_cases:
        assert all(bool(((G - J).abs() >= 0.05 - 1e-6).all()) for G in G_of_HtJ)
        assert bool(((handcrafted_grey(G_of_I[0]) - grey).abs() >= 0.05 - 1e-6).all())
        assert tuple(beta) != tuple(beta)[::-1]  # so that reversed weights show


@pytest.mark.parametrize("wrong, needle", [
    (lambda a, J, b, grey, beta: cycle(a, J, b, grey, beta, aba_w="off"), "only B -> A -> B"),
    (lambda a, J, b, grey, beta: cycle(a, J, b, grey, beta, bab_w="off"), "only A -> B -> A"),
    (lambda a, J, b, grey, beta: cycle(a, J, b, grey, beta, bab_w="reversed", aba_w="reversed"),
     "weights are reversed"),
    (lambda a, J, b, grey, beta: cycle(a, J, b, grey, beta, reduce="sum"), "you summed \\|.\\| over all the values"),
    (lambda a, J, b, grey, beta: sum(b_i * (F.l1_loss(x, J, reduction="sum") + F.l1_loss(H_T(y), grey, reduction="sum"))
                                  for x, y, b_i in zip(a, b, beta, strict=True)), "summed \\|.\\| over all the values"),
    (lambda a, J, b, grey, beta: cycle(a, J, b, grey, beta, reduce="image"), "summed \\|.\\| over each image's values"),
    (lambda a, J, b, grey, beta: cycle(a, J, b, grey, beta, reduce="channels"), "over the channels of each pixel"),
    (lambda a, J, b, grey, beta: cycle(a, J, b, grey, beta, back=lambda G: G),
     "compared G_i\\(I\\) with I without H_t"),
    (lambda a, J, b, grey, beta: cycle(a, J, b, grey, beta, aba_w="ones"), "you weighted only B -> A -> B"),
    (lambda a, J, b, grey, beta: cycle(a, J, b, grey, beta, bab_w="ones"), "you weighted only A -> B -> A"),
    (lambda a, J, b, grey, beta: cycle(a, J, b, grey, beta, bab_w="ones", aba_w="ones"), "you forgot the weights"),
    (lambda a, J, b, grey, beta: cycle(a, J, b, grey, BETA), "the paper's BETA = \\(10.0, 6.0, 4.0\\) instead"),
    (lambda a, J, b, grey, beta: cycle(a, J, b, grey, beta, bab_err="sq", aba_err="sq"),
     "you squared the differences: "),
    (lambda a, J, b, grey, beta: sum(b_i * (F.mse_loss(x, J) + F.mse_loss(H_T(y), grey))
                                  for x, y, b_i in zip(a, b, beta, strict=True)), "you squared the differences: "),
    (lambda a, J, b, grey, beta: cycle(a, J, b, grey, beta, bab_err="sq"), "squared the differences of B -> A -> B"),
    (lambda a, J, b, grey, beta: cycle(a, J, b, grey, beta, aba_err="sq"), "squared the differences of A -> B -> A"),
    (lambda a, J, b, grey, beta: cycle(b, J, a, grey, beta), "you swapped the lists"),
    (lambda a, J, b, grey, beta: sum(b_i * l1(H_T(x), H_T(J)) for x, b_i in zip(a, beta, strict=True))
     + cycle(a, J, b, grey, beta, bab_w="off"),
     "in B -> A -> B you compared greys"),
    (lambda a, J, b, grey, beta: cycle(a, J, b, grey, beta) / sum(beta), "divided by the sum of the weights"),
    (lambda a, J, b, grey, beta: cycle(a, J, b, grey, beta).item(), "carries no gradient"),
    (lambda a, J, b, grey, beta: cycle(a, J, [G.detach() for G in b], grey, beta), "no gradient reached G_of_I\\[0\\]"),
    (lambda a, J, b, grey, beta: [b_i * (l1(x, J) + l1(H_T(y), grey)) for x, y, b_i in zip(a, b, beta, strict=True)],
     "3 values \\(list\\), one per output of the pyramid"),
    (lambda a, J, b, grey, beta: (cycle(a, J, b, grey, beta, aba_w="off"), cycle(a, J, b, grey, beta, bab_w="off")),
     "2 values \\(tuple\\), one per direction"),
    (lambda a, J, b, grey, beta: sum(b_i * ((x - J).abs().mean((1, 2, 3)) + (H_T(y) - grey).abs().mean((1, 2, 3)))
                                  for x, y, b_i in zip(a, b, beta, strict=True)), "one per item of the batch"),
    (stub, "NotImplementedError"),
])
def test_pseudo_cycle_mistakes_are_diagnosed(wrong, needle):
    with pytest.raises(ExerciseCheckError, match=f"(?s){needle}"):
        checks.check_pseudo_cycle_loss(wrong)


# ------------------------------------------------------------------ exercise 3: the separable convolution's size


def separable(k, cin, cout, bias=True):
    return k * cin * cout + k * cout * cout + (2 * cout if bias else 0)


def test_separable_reference_and_other_correct_answers_pass(capsys):
    checks.check_separable_parameters(checks._ref_separable)
    assert "✓ separable convolution parameters: all 8 cases pass" in capsys.readouterr().out
    checks.check_separable_parameters(separable)
    checks.check_separable_parameters(lambda k, cin, cout, bias=True: count_parameters(nn.Sequential(
        nn.Conv2d(cin, cout, (k, 1), bias=bias), nn.Conv2d(cout, cout, (1, k), bias=bias))))
    checks.check_separable_parameters(lambda k, cin, cout, bias=True: torch.tensor(separable(k, cin, cout, bias)))


def test_separable_counts_the_built_module_and_the_first_case_tells_every_mistake_apart():
    assert checks._ref_separable(3, 64, 128) == count_parameters(SeparableConv2d(64, 128, 3)) == 73984
    assert checks._ref_separable(3, 64, 128, False) == 73728 == 3 * 3 * 64 * 128  # cout = 2 cin: the plain count
    k, cin, cout, bias = checks._separable_cases()[0]
    assert bias
    wrong = [k * k * cin * cout + cout, k * k * cin * cout, k * k * cin + cin * cout + cin + cout,
             k * k * cin + cin * cout + cout, k * k * cin + cin * cout, k * cin * cout + k * cout * cout,
             k * cin * cout + k * cout * cout + cout, k * cin * cin + k * cin * cout + cin + cout,
             2 * k * cin * cout + 2 * cout, k * cin * cout + cout]
    assert len(set(wrong)) == len(wrong) and checks._ref_separable(k, cin, cout) not in wrong


@pytest.mark.parametrize("wrong, needle", [
    (lambda k, cin, cout, bias=True: k * k * cin * cout + (cout if bias else 0), "plain 3 x 3 convolution, k\\^2"),
    (lambda k, cin, cout, bias=True: k * k * cin * cout, "plain 3 x 3 convolution without its bias"),
    (lambda k, cin, cout, bias=True: k * k * cin + cin * cout + ((cin + cout) if bias else 0), "depthwise-separable"),
    (lambda k, cin, cout, bias=True: k * k * cin + cin * cout + (cout if bias else 0), "depthwise-separable"),
    (lambda k, cin, cout, bias=True: k * k * cin + cin * cout, "depthwise-separable"),
    (lambda k, cin, cout, bias=True: separable(k, cin, cout, bias=False), "you forgot the biases"),
    (lambda k, cin, cout, bias=True: separable(k, cin, cout, bias=False) + (cout if bias else 0),
     "counted the biases once"),
    (lambda k, cin, cout, bias=True: separable(k, cin, cout), "with bias=False no half has a bias"),
    (lambda k, cin, cout, bias=True: k * cin * cin + k * cin * cout + ((cin + cout) if bias else 0),
     "middle width is cin"),
    (lambda k, cin, cout, bias=True: 2 * k * cin * cout + (2 * cout if bias else 0), "both halves of yours map"),
    (lambda k, cin, cout, bias=True: k * cin * cout + (cout if bias else 0), "only the k x 1 half"),
    (lambda k, cin, cout, bias=True: separable(k, cin, cout, bias) + 0.5, "whole number"),
    (lambda k, cin, cout: separable(k, cin, cout), "raised TypeError"),
    (stub, "NotImplementedError"),
])
def test_separable_mistakes_are_diagnosed(wrong, needle):
    with pytest.raises(ExerciseCheckError, match=needle):
        checks.check_separable_parameters(wrong)


# ------------------------------------------------------------------ outputs of the wrong type


@pytest.mark.parametrize("check, output, needle", [
    (checks.check_handcrafted_translation, None, "returned None"),
    (checks.check_handcrafted_translation, [0.3], "(?s)got a list .*return one torch tensor of shape \\(N, 1, H, W\\)"),
    (checks.check_pseudo_cycle_loss, None, "returned None"),
    (checks.check_pseudo_cycle_loss, "4.48", "(?s)got a str .*return one number \\(a scalar tensor\\)"),
    (checks.check_pseudo_cycle_loss, torch.zeros(3, 3), "(?s)expected shape \\(\\), got \\(3, 3\\).*9 values"),
    (checks.check_separable_parameters, None, "returned None"),
    (checks.check_separable_parameters, "73984", "(?s)got a str .*return one integer"),
    (checks.check_separable_parameters, [1, 2], "(?s)got a list .*return one integer"),
])
def test_outputs_of_the_wrong_type_get_a_clear_message(check, output, needle):
    if check is checks.check_handcrafted_translation:
        student = lambda: lambda rgb: output  # noqa: E731  (make() returns an H_t that returns ``output``)
    else:
        student = lambda *args: output  # noqa: E731
    with pytest.raises(ExerciseCheckError, match=needle) as err:
        check(student)
    assert "diagnosis" in str(err.value) or output is None


def test_passing_the_result_instead_of_the_function_is_refused():
    with pytest.raises(TypeError, match="pass your function itself"):
        checks.check_pseudo_cycle_loss(4.48)
    with pytest.raises(TypeError, match="pass your function itself"):
        checks.check_separable_parameters(73984)
    with pytest.raises(TypeError, match="pass the function that builds your H_t"):
        checks.check_handcrafted_translation(0.299)
