"""The automatic checks of Chapter 8's exercises (see :mod:`reprolib.book.exercises` for the machinery).

SpyncoGan replaces CycleGAN's way back, a second generator, by a formula, and thins its convolutions; the three
exercises rebuild those pieces. The first builds H_t (Eq. 1), the luma 0.299 R + 0.587 G + 0.114 B as a 1 x 1
convolution without a bias whose three weights never train, while gradients still pass through it to G. The second
writes the pseudo-cycle loss of Eq. 5-7, both directions (colour -> grey -> colour through G(H_t(J)), grey -> colour
-> grey through H_t(G(I))) over the three outputs of the pyramid, weighted by beta, each term the mean absolute error
as in :mod:`reprolib.models.spyncogan`. The third counts the parameters of a spatially separable k x k convolution,
a k x 1 bank (cin -> cout) followed by a 1 x k bank (cout -> cout), the layer behind the paper's small parameter
budget. Images are sRGB in [0, 1], channels first.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from reprolib.book.exercises import ExerciseCheckError, _as_float_tensor, _close, check
from reprolib.color import LUMA_WEIGHTS, gray_rgb, handcrafted_grey, rgb_to_l_ab
from reprolib.models.spyncogan import BETA, H_T, SeparableConv2d, pseudo_cycle_loss

__all__ = ["check_handcrafted_translation", "check_pseudo_cycle_loss", "check_separable_parameters"]


def _matches(got, value) -> bool:
    """True when ``got`` has the shape and the finite values of ``value`` (a tensor or a number), loosely."""
    g, v = _as_float_tensor(got), _as_float_tensor(value)
    if g is None or v is None or not bool(torch.isfinite(v).all()):
        return False
    if v.dim() == 0 and g.numel() == 1:
        g = g.reshape(())
    return _close(g, v, atol=1e-6, rtol=1e-4)


def _first_match(got, candidates: list[tuple[object, str]], right) -> str | None:
    """The message of the first wrong-answer candidate ``got`` equals, skipping those equal to the right answer."""
    return next((msg for value, msg in candidates if _matches(got, value) and not _matches(value, right)), None)


def _with_note(note: str, found: str | None, right: bool) -> str:
    """A shape note, then what the values say: right after all, or the value diagnosis where one matched."""
    if right:
        return note + " Your values are right."
    return note + (f" Your values are also off: {found}" if found else "")


# 1. H_t (Eq. 1): a fixed 1 x 1 convolution, RGB -> grey
_BT709_WEIGHTS = (0.2126, 0.7152, 0.0722)  # the HDTV luma, a common stand-in for Eq. 1's BT.601 weights
_NO_BIAS = "H_t has no bias: nn.Conv2d(3, 1, kernel_size=1, bias=False)."


def _ref_translation(rgb):
    """Eq. 1 in float64: 0.299 R + 0.587 G + 0.114 B at every pixel, (N, 3, H, W) -> (N, 1, H, W)."""
    return handcrafted_grey(rgb.double())


def _affine_fit(g: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, float] | None:
    """The weights of R, G, B and the constant of an output (N, 1, H, W) that is exactly (to round-off) an affine
    map of the input's channels, by least squares over the pixels; None when it is not one (or too few pixels)."""
    X = torch.cat([x.permute(0, 2, 3, 1).reshape(-1, 3), torch.ones(x.numel() // 3, 1, dtype=x.dtype)], 1)
    y = g.reshape(-1, 1)
    if X.shape[0] < 12:
        return None
    coef = torch.linalg.lstsq(X, y).solution[:, 0]
    if float((X @ coef - y[:, 0]).abs().max()) > 1e-5 * (1 + float(y.abs().max())):
        return None
    return coef[:3], float(coef[3])


def _affine_diagnosis(w: torch.Tensor, bias: float) -> str | None:
    """What the weights and the constant of an affine output say."""
    has_bias = abs(bias) > 1e-5
    weights = {"luma": LUMA_WEIGHTS, "bgr": LUMA_WEIGHTS[::-1], "mean": (1 / 3,) * 3, "709": _BT709_WEIGHTS}
    kind = next((k for k, v in weights.items() if torch.allclose(w, torch.tensor(v, dtype=w.dtype), atol=1e-4)), None)
    also = f" Your output also adds a constant {bias:.4g} everywhere: a bias. {_NO_BIAS}" if has_bias else ""
    if kind == "luma":
        return (f"your output is the luma plus a constant {bias:.4g} at every pixel: your convolution has a bias "
                "(nn.Conv2d has one unless bias=False, initialised at random). " + _NO_BIAS) if has_bias else None
    if kind == "bgr":
        return ("your weights are in BGR order, 0.114 R + 0.587 G + 0.299 B (OpenCV's channel order): reprolib's "
                "images are RGB, channel 0 is red, so the weight of shape (1, 3, 1, 1) holds 0.299, 0.587, 0.114 in "
                "that order." + also)
    if kind == "mean":
        return ("you took the plain mean (R + G + B) / 3: Eq. 1 weighs the channels as the eye does, 0.299 R + "
                "0.587 G + 0.114 B (green counts most, blue least)." + also)
    if kind == "709":
        return ("those are the BT.709 (HDTV) luma weights 0.2126, 0.7152, 0.0722: Eq. 1 uses BT.601's 0.299, "
                "0.587, 0.114 (reprolib.color.LUMA_WEIGHTS)." + also)
    a, b, c = (float(v) for v in w)
    terms = f"{a:.4g} R" + "".join(f" {'-' if v < 0 else '+'} {abs(v):.4g} {ch}" for v, ch in ((b, "G"), (c, "B")))
    constant = f" {'-' if bias < 0 else '+'} {abs(bias):.4g}" if has_bias else ""
    return (f"your output is {terms}{constant}, not 0.299 R + 0.587 G + 0.114 B. Did you set "
            "the weights? A new nn.Conv2d starts random: copy LUMA_WEIGHTS into conv.weight, of shape (1, 3, 1, 1), "
            "under torch.no_grad()" + (f", and drop the bias: {_NO_BIAS}" if has_bias else "."))


def _translation_values(g: torch.Tensor, expected, x: torch.Tensor) -> str | None:
    """The value mistakes of exercise 1, for an output of the right shape (N, 1, H, W)."""
    fit = _affine_fit(g, x)
    if fit is not None:
        return _affine_diagnosis(*fit)
    L = rgb_to_l_ab(x)[0]
    lab = ("H_t is the luma, a fixed weighted sum of the gamma-encoded R, G, B (Eq. 1), linear so that a 1 x 1 "
           "convolution computes it and the pseudo-cycle's gradients pass through it; L* is a non-linear function "
           "of linear light and differs from the luma on coloured pixels (at L* = 55 a red has luma 0.487, a green "
           "0.441).")
    candidates = [
        (L / 100, "you returned the CIE lightness L* / 100 (Lab's L): " + lab),
        (L, "you returned the CIE lightness L* (Lab's L, 0 to 100): " + lab),
        ((L - 50) / 100, "you returned Lab's L normalised as the colorizers feed it, (L* - 50) / 100: " + lab),
        (gray_rgb(x).mean(1, keepdim=True), "you returned the sRGB grey of the same CIE lightness (what gray_rgb "
                                            "gives, the colorizers' grey): " + lab),
    ]
    return _first_match(g, candidates, expected)


def _diagnose_translation(got, expected, rgb) -> str | None:
    g = _as_float_tensor(got)
    if g is None:
        return f"return one torch tensor of shape (N, 1, H, W), not a {type(got).__name__}."
    x = rgb.double()
    n, _, h, w = x.shape
    if tuple(g.shape) == tuple(expected.shape):
        return _translation_values(g, expected, x)
    weighted = x * torch.tensor(LUMA_WEIGHTS, dtype=x.dtype).view(1, 3, 1, 1)
    if tuple(g.shape) == (n, h, w):
        note, g = ("your output has no channel dimension, (N, H, W): H_t's grey is an image of one channel, "
                   "(N, 1, H, W), like the grey images I it is compared with (a 1 x 1 conv with one output channel "
                   "keeps it; so does .sum(1, keepdim=True))."), g[:, None]
    elif tuple(g.shape) == (n, 3, h, w) and _close(g, g.mean(1, keepdim=True).expand_as(g), atol=1e-3, rtol=1e-3):
        note, g = ("you returned the grey three times, (N, 3, H, W), the way G reads a grey image: H_t's output is "
                   "the grey itself, one channel (N, 1, H, W), compared with I (N, 1, H, W) in the pseudo-cycle; "
                   "grey_to_input replicates it only where G needs three channels."), g.mean(1, keepdim=True)
    elif tuple(g.shape) == (n, 3, h, w) and _matches(g, weighted):
        note, g = ("you weighted the three channels but did not add them up: the grey is their sum, one channel "
                   "(N, 1, H, W): nn.Conv2d(3, 1, 1) does both (or (weights * rgb).sum(1, keepdim=True))."), \
            g.sum(1, keepdim=True)
    elif tuple(g.shape) == (n, 3, h, w):
        return ("your output has three channels: H_t maps the three colour channels to one grey channel, "
                "nn.Conv2d(3, 1, kernel_size=1, bias=False) (out_channels = 1).")
    else:
        return None
    return _with_note(note, _translation_values(g, expected, x), _matches(g, expected))


def _translation_cases() -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(80)
    cases = [torch.rand(n, 3, h, w, generator=gen) for n, h, w in ((2, 5, 4), (1, 3, 7), (3, 4, 4))]
    # hand: pure red, green and blue, and white: 0.299, 0.587, 0.114 and 1
    hand = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 1.0]]).T.reshape(1, 3, 2, 2)
    return cases + [hand]  # last: with 4 pixels any output fits an affine map, so its diagnoses say less


def _leaves(t: torch.Tensor) -> list[torch.Tensor]:
    """The leaf tensors that a backward pass from ``t`` would give a gradient (its graph's AccumulateGrad nodes)."""
    found, seen, todo = [], set(), [t.grad_fn]
    while todo:
        node = todo.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if hasattr(node, "variable"):
            found.append(node.variable)
        todo.extend(nxt for nxt, _ in node.next_functions)
    return found


def _check_frozen(h_t: Callable) -> None:
    """H_t has no bias, lets gradients through to its input, and nothing of it trains: no parameter needs a gradient,
    no other tensor of its graph would get one, and one optimiser step through it leaves its output unchanged."""
    name = "✗ handcrafted translation (frozen)"
    gen = torch.Generator().manual_seed(81)
    x = torch.rand(2, 3, 4, 4, generator=gen).requires_grad_()
    target = torch.rand(2, 1, 4, 4, generator=gen)
    params = dict(h_t.named_parameters()) if isinstance(h_t, nn.Module) else {}
    biases = [key for key, p in params.items() if key.split(".")[-1] == "bias"]
    if biases:
        raise ExerciseCheckError(f"{name}: your module has a bias ({', '.join(biases)}). It is zero here, but it is "
                                 f"one more parameter, and H_t is a pure weighted sum. {_NO_BIAS}")
    y = h_t(x)
    if not isinstance(y, torch.Tensor) or not y.requires_grad:
        raise ExerciseCheckError(f"{name}: no gradient passes through your H_t to its input. The pseudo-cycle trains G "
                                 "through H_t (the loss compares H_t(G_i(I)) with I), so H_t must be a torch operation "
                                 "on its input: no torch.no_grad(), .detach(), .item() or numpy in it.")
    if params:
        before = _as_float_tensor(h_t(x))
        optimiser = torch.optim.SGD(params.values(), lr=0.1)
        (h_t(x) - target).abs().mean().backward()
        optimiser.step()
        if not _close(_as_float_tensor(h_t(x)), before, atol=1e-9, rtol=1e-7):
            raise ExerciseCheckError(f"{name}: one optimiser step (SGD over your module's parameters, on an L1 loss "
                                     "through it) changed its output: the weights train. H_t's weights are fixed: "
                                     "conv.weight.requires_grad_(False) after setting them (count_parameters(module, "
                                     "trainable_only=True) must be 0).")
    trainable = [key for key, p in params.items() if p.requires_grad]
    if trainable:
        raise ExerciseCheckError(f"{name}: {', '.join(trainable)} of your module require(s) gradients, so an optimiser "
                                 "given the module's parameters would train them; H_t has nothing to learn: "
                                 ".requires_grad_(False) (count_parameters(module, trainable_only=True) must be 0).")
    others = [leaf for leaf in _leaves(y) if leaf is not x]
    if others:
        shapes = ", ".join(str(tuple(leaf.shape)) for leaf in others)
        raise ExerciseCheckError(f"{name}: a backward pass through your H_t would give a gradient to a tensor of "
                                 f"shape {shapes} besides the input: your weights require gradients, so they would "
                                 "train. Create them with requires_grad=False (or .requires_grad_(False)).")
    print("✓ handcrafted translation: no bias, nothing trains, gradients reach the input")


def check_handcrafted_translation(make: Callable) -> None:
    """Check H_t (Eq. 1), ``make() -> module``, an nn.Module (or a function) mapping RGB (N, 3, H, W) in [0, 1] to
    the grey (N, 1, H, W) = 0.299 R + 0.587 G + 0.114 B.

    The module is a 1 x 1 convolution with these weights (``reprolib.color.LUMA_WEIGHTS``), no bias and nothing
    trainable. Cases: random float32 images with H != W, then a hand case of a red, a green, a blue and a white pixel
    ([[0.299, 0.587], [0.114, 1]]). Then: no parameter named bias, gradients pass through H_t to its input, no
    parameter (nor any other tensor of its graph) requires a gradient, and one SGD step on a loss through it leaves
    its output unchanged. Reference: :func:`reprolib.color.handcrafted_grey`
    (:class:`reprolib.models.spyncogan.HandcraftedTranslation` is the chapter's module).
    """
    title = "handcrafted translation H_t (Eq. 1)"
    if not callable(make) or isinstance(make, nn.Module):
        raise TypeError(f"{title}: pass the function that builds your H_t (make, without calling it), got "
                        f"{type(make).__name__}")
    try:
        h_t = make()
    except NotImplementedError as exc:
        raise ExerciseCheckError(f"✗ {title}: your function raises NotImplementedError ({exc}). Fill it in, then run "
                                 "the check again.") from None
    if h_t is None:
        raise ExerciseCheckError(f"✗ {title}: make() returned None. Have you filled it in yet? If you have, check that "
                                 "it ends with `return` and the module.")
    if not callable(h_t):
        raise ExerciseCheckError(f"✗ {title}: make() must return the module (an nn.Module such as an nn.Conv2d) or a "
                                 f"function of an image, got a {type(h_t).__name__}.")
    check(h_t, _ref_translation, _translation_cases(), title, atol=1e-6, rtol=1e-5,
          diagnose=_diagnose_translation,
          hint=("conv = nn.Conv2d(3, 1, kernel_size=1, bias=False); copy torch.tensor(LUMA_WEIGHTS).view(1, 3, 1, 1) "
                "into conv.weight under torch.no_grad(); conv.weight.requires_grad_(False)"))
    _check_frozen(h_t)


# 2. The pseudo-cycle loss (Eq. 5-7)
def _ref_cycle(G_of_HtJ, J_colour, G_of_I, I_grey, beta):
    """Eq. 5-7 in float64: sum_i beta_i mean|G_i(H_t(J)) - J| + sum_i beta_i mean|H_t(G_i(I)) - I|."""
    return pseudo_cycle_loss([o.double() for o in G_of_HtJ], J_colour.double(), [o.double() for o in G_of_I],
                             I_grey.double(), H_T, tuple(beta))


def _cycle_value(G_of_HtJ, J_colour, G_of_I, I_grey, beta, bab_beta="beta", aba_beta="beta", bab_err="abs",
                 aba_err="abs", reduce="mean", back="H_t", lists="right", bab_in="colour"):
    """Eq. 5-7 with the knobs the mistakes turn: each direction's weights ("beta", "none" for all 1, "off" to leave
    the direction out, or a tuple) and error ("abs" or "sq"), the reduction, the way back of A -> B -> A ("H_t" or
    "none"), the pairing of the lists, and whether B -> A -> B compares colours or their greys."""
    G_HtJ, G_I = [o.double() for o in G_of_HtJ], [o.double() for o in G_of_I]
    J, grey = J_colour.double(), I_grey.double()
    if lists == "swapped":
        G_HtJ, G_I = G_I, G_HtJ
    n = J.shape[0]
    red = {"mean": lambda e: e.mean(), "sum": lambda e: e.sum(), "per image": lambda e: e.sum() / n,
           "channels": lambda e: e.sum(1).mean()}[reduce]

    def dist(a, b, err):
        return red((a - b).abs() if err == "abs" else (a - b) ** 2)

    def weighted(weights, parts):
        w = {"beta": beta, "none": (1.0,) * len(parts), "off": (0.0,) * len(parts)}.get(weights, weights)
        return sum(w_i * p for w_i, p in zip(w, parts, strict=True))

    bab = [dist(H_T(G), H_T(J), bab_err) if bab_in == "grey" else dist(G, J, bab_err) for G in G_HtJ]
    aba = [dist(H_T(G) if back == "H_t" else G, grey, aba_err) for G in G_I]
    return weighted(bab_beta, bab) + weighted(aba_beta, aba)


def _diagnose_cycle(got, expected, G_of_HtJ, J_colour, G_of_I, I_grey, beta) -> str | None:
    n = J_colour.shape[0]
    if isinstance(got, (list, tuple)):
        what = {2: " one per direction", 3: " one per output of the pyramid"}.get(len(got), "")
        return (f"you returned {len(got)} values ({type(got).__name__}),{what or ' not one'}: return one number (a "
                "scalar tensor), the weighted sum over the three outputs of both directions.")
    g = _as_float_tensor(got)
    if g is None:
        return f"return one number (a scalar tensor), not a {type(got).__name__}."
    if g.numel() != 1:
        per = " one per item of the batch" if g.numel() == n else ""
        return (f"you returned {g.numel()} values{per}: return one number, each term the mean over the batch, the "
                "channels and the pixels, weighted and summed over the outputs and both directions.")

    def v(**knobs):
        return _cycle_value(G_of_HtJ, J_colour, G_of_I, I_grey, beta, **knobs)

    rev = tuple(beta)[::-1]
    b = ", ".join(f"{x:g}" for x in beta)
    summed = ("E|.|_1 here is the mean of the absolute differences over the batch, the channels and the pixels "
              "(F.l1_loss's default, reduction='mean'), as in the identity loss; a sum grows with the image size and "
              "weighs the colour term (3 channels) three times the grey one (1 channel).")
    both = "the weights beta belong to both directions (Eq. 6 and 7), the same beta_i for G_i in each: "
    squared = "the cycle terms are L1, the mean absolute difference |.|, which blurs less than a squared error."
    candidates = [
        (v(aba_beta="off"), "only B -> A -> B: add the A -> B -> A direction (Eq. 7), sum_i beta_i "
                            "mean|H_t(G_i(I)) - I|: the grey of each colourised image must give back the grey input."),
        (v(bab_beta="off"), "only A -> B -> A: add the B -> A -> B direction (Eq. 6), sum_i beta_i "
                            "mean|G_i(H_t(J)) - J|: G must rebuild a colour image from its own grey."),
        (v(bab_beta=rev, aba_beta=rev), f"your weights are reversed: beta = ({b}) goes with [G_1, G_2, G_3] in that "
                                        f"order, beta_1 = {beta[0]:g} for G_1, the full-resolution last output, which "
                                        "the inner ones are judged against (Sec. 5.2); you weighted G_3 most."),
        (v(back="none"), "you compared G_i(I) with I without H_t: G_i(I) is a colour image (N, 3, H, W) and I a "
                         "grey one (N, 1, H, W), so broadcasting compared each of R, G and B with the grey, which "
                         "asks G for a grey output (R = G = B = I) instead of a colour whose luma is I. Go back to the "
                         "grey domain first: H_t(G_i(I)), (N, 1, H, W), then compare with I."),
        (v(reduce="sum"), "you summed |.| over all the values: " + summed),
        (v(reduce="per image"), "you summed |.| over each image's values (then averaged over the batch): " + summed),
        (v(reduce="channels"), "you summed |.| over the channels of each pixel (an L1 norm per pixel): " + summed),
        (v(aba_beta="none"), both + "you weighted only B -> A -> B."),
        (v(bab_beta="none"), both + "you weighted only A -> B -> A."),
        (v(bab_beta="none", aba_beta="none"), f"you forgot the weights: each output's two terms are multiplied by "
                                              f"its beta_i ({b})."),
        (v(bab_beta=BETA, aba_beta=BETA), f"you used the paper's BETA = {BETA} instead of the weights passed in, "
                                          f"beta = ({b}): use the argument."),
        (v(bab_err="sq", aba_err="sq"), "you squared the differences: " + squared),
        (v(bab_err="sq"), "you squared the differences of B -> A -> B: " + squared),
        (v(aba_err="sq"), "you squared the differences of A -> B -> A: " + squared),
        (v(lists="swapped"), "you swapped the lists: G_of_HtJ (G applied to H_t(J)) is compared with J, G_of_I (G "
                             "applied to I) goes back through H_t and is compared with I."),
        (v(bab_in="grey"), "in B -> A -> B you compared greys, H_t(G_i(H_t(J))) with H_t(J): that term compares the "
                           "colour images, G_i(H_t(J)) with J (G must give the colours back, not just the grey)."),
        (expected / sum(beta), f"you divided by the sum of the weights ({sum(beta):g}): Eq. 6-7 are plain weighted "
                               "sums."),
    ]
    return _first_match(g, candidates, expected)


def _cycle_case(n: int, h: int, w: int, beta, gen: torch.Generator) -> tuple:
    """Random images, every difference the loss takes at least 0.05 from 0 (so |.| and its gradient are clear)."""
    def away(like):
        sign = torch.where(torch.rand(like.shape, generator=gen) < 0.5, -1.0, 1.0)
        return sign * (0.05 + 0.15 * torch.rand(like.shape, generator=gen))

    J = 0.2 + 0.6 * torch.rand(n, 3, h, w, generator=gen)
    G_of_HtJ = [J + away(J) for _ in range(3)]
    G_of_I = [0.2 + 0.6 * torch.rand(n, 3, h, w, generator=gen) for _ in range(3)]
    I_grey = handcrafted_grey(G_of_I[0]) + away(G_of_I[0][:, :1])  # a grey near G_1(I)'s, as after some training
    return G_of_HtJ, J, G_of_I, I_grey, beta


def _cycle_cases() -> list[tuple]:
    gen = torch.Generator().manual_seed(82)
    cases = [_cycle_case(n, h, w, beta, gen) for n, h, w, beta in
             ((2, 4, 6, BETA), (3, 5, 3, (1.0, 0.5, 0.25)), (1, 4, 4, (2.0, 3.0, 7.0)))]
    # hand: one pixel. B -> A -> B errors 0.1, 0.3 and 0.6 over 3 channels, A -> B -> A 0, 0.201 and 0.386:
    # 10 * 0.1/3 + 6 * 0.1 + 4 * 0.2 + 0 + 6 * 0.201 + 4 * 0.386 = 4.48333
    J = torch.tensor([0.2, 0.4, 0.6]).view(1, 3, 1, 1)
    G_of_HtJ = [torch.tensor(c).view(1, 3, 1, 1) for c in ([0.3, 0.4, 0.6], [0.2, 0.1, 0.6], [0.2, 0.4, 0.0])]
    G_of_I = [torch.tensor(c).view(1, 3, 1, 1) for c in ([0.5, 0.5, 0.5], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0])]
    return cases + [(G_of_HtJ, J, G_of_I, torch.full((1, 1, 1, 1), 0.5), BETA)]


def _cycle_gradients(fn: Callable) -> None:
    """The loss reaches every output of G, in both directions, with Eq. 5-7's gradients."""
    name = "✗ pseudo-cycle loss (gradients)"
    G_of_HtJ, J, G_of_I, I_grey, beta = _cycle_cases()[0]
    mine = [[o.clone().requires_grad_() for o in outs] for outs in (G_of_HtJ, G_of_I)]
    ref = [[o.double().requires_grad_() for o in outs] for outs in (G_of_HtJ, G_of_I)]
    try:
        loss = fn(mine[0], J.clone(), mine[1], I_grey.clone(), beta)
    except Exception as exc:
        raise ExerciseCheckError(f"{name}: with G's outputs requiring gradients your function raised "
                                 f"{type(exc).__name__}: {exc}. Do not modify them in place.") from exc
    if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
        raise ExerciseCheckError(f"{name}: the loss carries no gradient. Build it from G's outputs with torch "
                                 "operations (no .detach(), .item(), numpy or torch.no_grad()): it is what trains G.")
    loss.backward()
    _ref_cycle(ref[0], J, ref[1], I_grey, beta).backward()
    for label, outs, refs, way in (("G_of_HtJ", mine[0], ref[0], "B -> A -> B"),
                                   ("G_of_I", mine[1], ref[1], "A -> B -> A, through H_t")):
        for i, (o, r) in enumerate(zip(outs, refs, strict=True), 1):
            if o.grad is None:
                raise ExerciseCheckError(f"{name}: no gradient reached {label}[{i - 1}] (G_{i}): the {way} term must "
                                         "be a differentiable function of it (no .detach(), and an H_t that lets "
                                         "gradients through).")
            if not torch.allclose(o.grad.double(), r.grad, atol=1e-9, rtol=1e-4):
                raise ExerciseCheckError(f"{name}: the gradient on {label}[{i - 1}] (G_{i}) differs from Eq. 5-7's "
                                         f"(beta_i sign(difference) / number of values): check the {way} term.")
    print("✓ pseudo-cycle loss: the gradients reach the three outputs in both directions")


def check_pseudo_cycle_loss(fn: Callable) -> None:
    """Check Eq. 5-7, ``fn(G_of_HtJ, J_colour, G_of_I, I_grey, beta) -> scalar``.

    ``G_of_HtJ`` = [G_1, G_2, G_3](grey_to_input(H_t(J))), three colour images (N, 3, H, W); ``J_colour`` the colour
    images J (N, 3, H, W); ``G_of_I`` = [G_1, G_2, G_3](grey_to_input(I)), (N, 3, H, W) each; ``I_grey`` the grey
    images I (N, 1, H, W); ``beta`` three weights (the paper's ``BETA`` = (10, 6, 4)). The loss is
    sum_i beta_i mean|G_i(H_t(J)) - J| + sum_i beta_i mean|H_t(G_i(I)) - I|, each mean over the batch, the channels
    and the pixels, H_t being ``reprolib.models.spyncogan.H_T`` (or your exercise 1's). The same terms, in the same
    order, as :func:`~reprolib.models.spyncogan.pseudo_cycle_loss`, whose fifth argument H_t is left out here. Cases:
    random float32 images (every difference at least 0.05 from 0) with beta = (10, 6, 4), (1, 0.5, 0.25) and
    (2, 3, 7), a hand case
    of one pixel (4.48333); then the gradients: every output of both lists gets Eq. 5-7's.
    Reference: :func:`reprolib.models.spyncogan.pseudo_cycle_loss` with ``H_t = H_T``.
    """
    check(fn, _ref_cycle, _cycle_cases(), "pseudo-cycle loss (Eq. 5-7)", atol=1e-6, rtol=1e-5,
          diagnose=_diagnose_cycle,
          hint=("bab = sum(b * (G - J).abs().mean() for G, b in zip(G_of_HtJ, beta)); aba = sum(b * (H_T(G) - "
                "I).abs().mean() for G, b in zip(G_of_I, beta)); return bab + aba"))
    _cycle_gradients(fn)


# 3. The parameters of a spatially separable convolution
def _ref_separable(k, cin, cout, bias=True):
    """The parameters of :class:`reprolib.models.spyncogan.SeparableConv2d` (k x 1, cin -> cout, then 1 x k,
    cout -> cout), counted on the built module (meta device), without its biases when ``bias`` is False."""
    with torch.device("meta"):  # sizes only: no memory, no initialisation cost
        conv = SeparableConv2d(cin, cout, k)
    return sum(p.numel() for key, p in conv.named_parameters() if bias or not key.endswith("bias"))


def _diagnose_separable(got, expected, k, cin, cout, bias=True) -> str | None:
    g = _as_float_tensor(got)
    if g is None or g.numel() != 1:
        return f"return one integer, the number of parameters, not a {type(got).__name__}."
    if float(g.reshape(())) != round(float(g.reshape(()))):
        return "a parameter count is a whole number: multiply and add integers (no division)."
    two = 2 * cout if bias else 0
    layers = (f"the k x 1 half maps cin -> cout ({k} * {cin} * {cout} weights), the 1 x k half maps cout -> cout "
              f"({k} * {cout} * {cout})")
    candidates = [
        (k * k * cin * cout + (cout if bias else 0), f"that is a plain {k} x {k} convolution, k^2 cin cout"
                                                     f"{' + cout' if bias else ''}: the separable one replaces the "
                                                     f"k x k bank by two thin ones; {layers}."),
        (k * k * cin * cout, f"that is a plain {k} x {k} convolution without its bias, k^2 cin cout: the separable one "
                             f"replaces the k x k bank by two thin ones; {layers}."),
        *[(k * k * cin + cin * cout + extra, f"that is the depthwise-separable count (a k x k conv per input channel, "
                                             f"then a 1 x 1 conv cin -> cout): the paper's convolutions are spatially "
                                             f"separable, not depthwise (Sec. 4.1); {layers}.")
          for extra in ((cin + cout, cout, 0) if bias else (0, cin + cout, cout))],
        (k * cin * cout + k * cout * cout, f"you forgot the biases: each half has one per output channel, 2 cout = "
                                           f"{2 * cout} in all."),
        (k * cin * cout + k * cout * cout + cout, f"you counted the biases once: each of the two convolutions has its "
                                                  f"own, cout each ({2 * cout} in all)."),
        (k * cin * cout + k * cout * cout + 2 * cout, "with bias=False no half has a bias: leave out the 2 cout."),
        (k * cin * cin + k * cin * cout + ((cin + cout) if bias else 0),
         f"your middle width is cin: the k x 1 half already maps cin -> cout, and the 1 x k half maps cout -> cout "
         f"(k cin cout + k cout^2{' + 2 cout' if bias else ''})."),
        (2 * k * cin * cout + two, f"both halves of yours map cin -> cout, but the 1 x k half reads the first half's "
                                   f"cout channels: k cout^2 = {k * cout * cout} weights, not k cin cout."),
        (k * cin * cout + (cout if bias else 0), "you counted only the k x 1 half: add the 1 x k half, cout -> cout "
                                                 f"(k cout^2{' + cout' if bias else ''})."),
    ]
    return _first_match(g, candidates, expected)


def _separable_cases() -> list[tuple]:
    # the first case tells every diagnosis apart; then G's down layers (3 x 3; with cout = 2 cin the plain count,
    # k^2 cin cout, equals the separable one without biases), D's first layer (4 x 4), sizes without biases
    return [(3, 32, 48, True), (3, 64, 128), (3, 128, 256, True), (4, 3, 64, True), (5, 40, 24, False),
            (4, 256, 512, False), (7, 16, 8, True), (1, 6, 10, True)]


def check_separable_parameters(fn: Callable) -> None:
    """Check ``fn(k, cin, cout, bias=True) -> int``, the parameters of a spatially separable k x k convolution.

    As :class:`reprolib.models.spyncogan.SeparableConv2d` builds it: a k x 1 convolution cin -> cout, then a 1 x k
    convolution cout -> cout (the middle width is cout), each with cout biases when ``bias``: k cin cout + k cout^2
    + 2 cout, against k^2 cin cout + cout for the plain k x k convolution. Cases: a first one that tells every
    usual mistake apart (3, 32, 48), G's separable layers (3, 64, 128) (the default bias) and (3, 128, 256), D's
    first (4, 3, 64), and sizes with bias=False, k = 7 and k = 1. Reference: the parameters of ``SeparableConv2d``
    built with those sizes (on the meta device), its biases left out when ``bias`` is False.
    """
    check(fn, _ref_separable, _separable_cases(), "separable convolution parameters", atol=0.0, rtol=1e-9,
          diagnose=_diagnose_separable,
          hint="k * cin * cout (k x 1, cin -> cout) + k * cout * cout (1 x k, cout -> cout) + 2 * cout if bias")
