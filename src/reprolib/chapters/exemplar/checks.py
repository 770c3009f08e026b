"""The automatic checks of Chapter 7's exercises (see :mod:`reprolib.book.exercises` for the machinery).

Three exercises on what the colorization sub-net of He et al. reads and how its chrominance branch is trained: one
level of the forward similarity map of Eq. 1, sim_T->R(p) = d(F_T(p), F_R(phi_T->R(p))), with d the cosine of
Eq. 2 taken over the feature channels; the chrominance branch's stand-in reference of Eq. 3, the target's own
colours sent to the reference and back, T'_ab(p) = T_ab(phi_R->T(phi_T->R(p))); and the smooth-l1 loss of Eq. 4
(delta = 1: quadratic below a difference of 1, linear above), summed over the pixels and both channels of an image
and averaged over the pairs of the batch, as the chapter's training does. A mapping is stored as in
:mod:`reprolib.nn.correspondence`: for every pixel (y, x) the flat index y * W + x of its match in the other image,
an (N, H, W) long tensor.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from reprolib.book.exercises import _as_float_tensor, check
from reprolib.chapters.exemplar.paper import SMOOTH_L1_DELTA
from reprolib.models.siggraph17 import smooth_l1_loss
from reprolib.nn.correspondence import cycle_reference, warp

__all__ = ["check_chrominance_loss", "check_fake_reference", "check_similarity_maps"]


def _same(got, value, atol: float = 1e-6, rtol: float = 1e-4) -> bool:
    """True when ``got`` has the shape and the values of the finite ``value`` (a tensor or a number), loosely."""
    g, v = _as_float_tensor(got), _as_float_tensor(value)
    if g is None or v is None or not bool(torch.isfinite(v).all()):
        return False
    if v.dim() == 0 and g.numel() == 1:
        g = g.reshape(())
    return g.shape == v.shape and bool(((g - v).abs() <= atol + rtol * v.abs()).all())


def _first_match(got, candidates: list[tuple[torch.Tensor, str]], right) -> str | None:
    """The message of the first wrong-answer candidate that ``got`` equals, skipping those that coincide with the
    right answer on this case (there they explain nothing)."""
    return next((msg for value, msg in candidates if _same(got, value) and not _same(value, right)), None)


def _not_a_tensor(got, shape: str) -> str | None:
    """A diagnosis when ``got`` is not numeric at all (a list, a tuple, a string)."""
    if _as_float_tensor(got) is None:
        return f"return one torch tensor of shape {shape}, not a {type(got).__name__}."
    return None


def _with_note(note: str, found: str | None, right: bool) -> str:
    """A shape note, then what the values say: right after all, or the value diagnosis where one matched."""
    if right:
        return note + " Your values are right."
    return note + (f" Your values are also off: {found}" if found else "")


# 1. One level of Eq. 1: sim_T->R(p) = cos(F_T(p), F_R(phi_T->R(p)))
def _ref_similarity(f_t, f_r, phi_tr):
    """Eq. 1-2 at one level: both feature maps made unit length over the channels, the reference's features read at
    each target position's match (phi_T->R), the dot product over the channels."""
    t = F.normalize(f_t.double(), dim=1)
    r = F.normalize(f_r.double(), dim=1)
    return (t * warp(r, phi_tr)).sum(1)


def _unit_over(x: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    return x / x.pow(2).sum(dims, keepdim=True).sqrt()


def _similarity_values(g: torch.Tensor, expected, f_t, f_r, phi_tr) -> str | None:
    """The value mistakes of exercise 1, for an output of the right shape (N, h, w)."""
    ft, fr = f_t.double(), f_r.double()
    t, r = F.normalize(ft, dim=1), F.normalize(fr, dim=1)

    def cos(a, b, read="reference"):
        if read == "reference":
            return (a * warp(b, phi_tr)).sum(1)
        if read == "target":
            return (warp(a, phi_tr) * b).sum(1)
        return (a * b).sum(1)

    by_channels = "make each position's feature vector unit length over its C channels: F.normalize(f, dim=1)."
    candidates = [
        (cos(ft, fr), "you forgot to normalise: that is the raw dot product F_T(p) . F_R(phi(p)). Eq. 2's cosine "
                      "divides it by |F_T(p)| |F_R(phi(p))|, the lengths over the channels; " + by_channels),
        (cos(t, fr), "you normalised only the target's features: " + by_channels + " Do it for f_r too."),
        (cos(ft, r), "you normalised only the reference's features: " + by_channels + " Do it for f_t too."),
        (cos(_unit_over(ft, (2, 3)), _unit_over(fr, (2, 3))),
         "you normalised over the positions (dims 2 and 3), so each channel became a unit map; the cosine is taken "
         "between two feature vectors: " + by_channels),
        (cos(_unit_over(ft, (2,)), _unit_over(fr, (2,))), "you normalised over dim 2 (the rows): " + by_channels),
        (cos(_unit_over(ft, (3,)), _unit_over(fr, (3,))), "you normalised over dim 3 (the columns): " + by_channels),
        (cos(_unit_over(ft, (1, 2, 3)), _unit_over(fr, (1, 2, 3))),
         "you normalised each whole feature map (channels and positions together): " + by_channels),
        (cos(_unit_over(ft, (0,)), _unit_over(fr, (0,))), "you normalised over the batch (dim 0): " + by_channels),
        (cos(ft / ft.norm(), fr / fr.norm()), "you divided by the norm of the whole tensor: " + by_channels),
        (cos(t, r, read="same"), ("you compared F_T(p) with F_R(p), the reference at the same position (an "
                                  "identity mapping): read the reference at p's match, F_R(phi_T->R(p)), e.g. "
                                  "warp(f_r, phi_tr).")),
        (cos(t, r, read="target"), ("you read the target through phi_T->R: phi_tr(p) is a position in the reference, "
                                    "so it is the reference that is read there, cos(F_T(p), F_R(phi_T->R(p))): "
                                    "warp(f_r, phi_tr), with f_t as it is.")),
        (1 - expected, ("you returned the cosine distance 1 - cos: Eq. 2's d is the similarity itself, "
                        "x . y / (|x| |y|), 1 for a perfect match.")),
    ]
    return _first_match(g, candidates, expected)


def _diagnose_similarity(got, expected, f_t, f_r, phi_tr) -> str | None:
    not_tensor = _not_a_tensor(got, "(N, h, w)")
    if not_tensor:
        return not_tensor
    g = _as_float_tensor(got)
    n, c, h, w = f_t.shape
    if tuple(g.shape) == tuple(expected.shape):
        return _similarity_values(g, expected, f_t, f_r, phi_tr)
    if tuple(g.shape) == (n, 1, h, w):
        note, g = ("you kept the channel dimension (a sum with keepdim=True?): the similarity is one number per "
                   "position, (N, h, w); sum over dim 1 without keepdim."), g[:, 0]
    elif tuple(g.shape) == (n, c, h, w) and c != 1:
        note, g = (f"you returned C = {c} values per position, the channels' products: the cosine is their sum over "
                   "the channels, .sum(1), one number per position (N, h, w)."), g.sum(1)
    elif g.numel() == expected.numel() and g.shape[0] == n:
        note, g = "return the map as (N, h, w): reshape your result with .reshape(N, h, w).", g.reshape(expected.shape)
    else:
        return None
    return _with_note(note, _similarity_values(g, expected, f_t, f_r, phi_tr), _same(g, expected))


def _similarity_cases() -> list[tuple]:
    gen = torch.Generator().manual_seed(70)
    # hand: target vectors (1, 0), (0, 2); reference (3, 4), (0, -1); each target position matched to the other
    # reference position: cos((1, 0), (0, -1)) = 0 and cos((0, 2), (3, 4)) = 8 / (2 * 5) = 0.8
    hand = (torch.tensor([[1.0, 0.0], [0.0, 2.0]]).reshape(1, 2, 1, 2),
            torch.tensor([[3.0, 0.0], [4.0, -1.0]]).reshape(1, 2, 1, 2), torch.tensor([[[1, 0]]]))
    cases = []
    for n, c, h, w, kind in ((2, 8, 3, 4, "signed"), (1, 3, 4, 2, "relu"), (3, 16, 5, 5, "signed")):
        f_t = torch.randn(n, c, h, w, generator=gen)
        f_r = torch.randn(n, c, h, w, generator=gen)
        if kind == "relu":  # non-negative, like the VGG's relu{i}_1 features (never all zero)
            f_t, f_r = f_t.abs() + 0.05, f_r.abs() + 0.05
        if n == 1:  # a permutation: every reference position is somebody's match
            phi = torch.randperm(h * w, generator=gen).reshape(1, h, w)
        else:
            phi = torch.randint(0, h * w, (n, h, w), generator=gen)
        cases.append((f_t, f_r, phi))
    return cases + [hand]  # last: its zero entries make some mistakes NaN, less telling than the random cases


def check_similarity_maps(fn: Callable) -> None:
    """Check one level of Eq. 1, ``fn(f_t (N, C, h, w), f_r (N, C, h, w), phi_tr (N, h, w) long) -> sim (N, h, w)``.

    ``phi_tr[n, y, x]`` is the flat index y' * w + x' of target position (y, x)'s match in the reference;
    sim(p) = F_T(p) . F_R(phi_T->R(p)) / (|F_T(p)| |F_R(phi_T->R(p))|), the cosine over the C channels (Eq. 2).
    Cases: random feature maps (signed, and non-negative like ReLU features), mostly with h != w, matched by random
    maps and by a permutation; then a hand case with two positions of two channels ([[0, 0.8]]).
    Reference: the channels normalised (``F.normalize(f, dim=1)``), the reference read through
    :func:`reprolib.nn.correspondence.warp`, the product summed over the channels.
    """
    check(fn, _ref_similarity, _similarity_cases(), "similarity map (Eq. 1)", atol=1e-5, rtol=1e-4,
          diagnose=_diagnose_similarity,
          hint=("t, r = F.normalize(f_t, dim=1), F.normalize(f_r, dim=1); matched = warp(r, phi_tr) (or r.flatten(2)"
                ".gather(2, phi_tr.flatten(1)[:, None].expand(-1, C, -1)).view_as(r)); return (t * matched).sum(1)"))


# 2. The chrominance branch's reference of Eq. 3: T'_ab(p) = T_ab(phi_R->T(phi_T->R(p)))
def _ref_fake_reference(T_ab, phi_tr, phi_rt):
    """Eq. 3: the round trip p -> phi_T->R(p) -> phi_R->T(phi_T->R(p)), and T_ab read where it ends."""
    return cycle_reference(T_ab.double(), phi_tr, phi_rt)


def _read(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``x`` (N, C, H, W) or a map (N, H, W) read at the flat indices ``idx`` (N, H, W)."""
    return warp(x, idx) if x.dim() == 4 else warp(x[:, None], idx)[:, 0]


def _fake_reference_values(g: torch.Tensor, expected, T_ab, phi_tr, phi_rt) -> str | None:
    """The value mistakes of exercise 2, for an output of the right shape (N, 2, H, W)."""
    T = T_ab.double()
    H, W = T.shape[2:]

    def swapped(idx):  # the pixel a student reaches who reads a flat index as x * H + y
        return (idx % H) * W + idx // H

    round_trip = "T'_ab(p) = T_ab(phi_R->T(phi_T->R(p))): from p to its match in the reference, then back"
    decoded = (f"you decoded the flat indices as x * H + y: they are row-major, y * W + x (the order of .flatten()), "
               f"so y = idx // W and x = idx % W (here H = {H}, W = {W}).")
    candidates = [
        (_read(_read(T, phi_tr), phi_rt),
         "you composed the maps in the wrong order, T_ab(phi_T->R(phi_R->T(p))). Warping twice applies the maps "
         "inside out: warp(warp(T_ab, phi_tr), phi_rt) reads T_ab at phi_tr(phi_rt(p)). " + round_trip + ": compose "
         "the indices first, q = phi_rt.flatten(1).gather(1, phi_tr.flatten(1)), then read T_ab at q (or warp by "
         "phi_rt first, then by phi_tr)."),
        (_read(T, phi_tr), "you used phi_T->R alone: that reads T_ab at phi_T->R(p), a position in the reference, "
                           "the way R'_ab(p) = R_ab(phi_T->R(p)) reads the reference's colours; but T_ab lives on the "
                           "target's grid. " + round_trip + " to the target with phi_R->T."),
        (_read(T, phi_rt), "you used phi_R->T alone, as if p were a reference pixel: first follow phi_T->R from p "
                           "into the reference, then phi_R->T from there. " + round_trip + "."),
        (T, "you returned T_ab unchanged: that hands the network the ground truth itself as its reference (it would "
            "learn to copy). " + round_trip + "; it differs from T_ab wherever the round trip does not come home."),
        (_read(T, swapped(_read(phi_rt, swapped(phi_tr)))), decoded),
        (_read(T, swapped(_read(phi_rt, phi_tr))), decoded + " (You did so when reading T_ab.)"),
        (_read(T, _read(phi_rt, swapped(phi_tr))), decoded + " (You did so when reading phi_R->T.)"),
    ]
    return _first_match(g, candidates, expected)


def _diagnose_fake_reference(got, expected, T_ab, phi_tr, phi_rt) -> str | None:
    not_tensor = _not_a_tensor(got, "(N, 2, H, W)")
    if not_tensor:
        return not_tensor
    g = _as_float_tensor(got)
    if tuple(g.shape) == tuple(expected.shape):
        return _fake_reference_values(g, expected, T_ab, phi_tr, phi_rt)
    if g.numel() != expected.numel() or tuple(g.shape[:2]) != tuple(expected.shape[:2]):
        return None
    g = g.reshape(expected.shape)
    note = ("return the colours as (N, 2, H, W), like T_ab: reshape your result with .reshape(N, 2, H, W) (or "
            ".view_as(T_ab)).")
    return _with_note(note, _fake_reference_values(g, expected, T_ab, phi_tr, phi_rt), _same(g, expected))


def _fake_reference_cases() -> list[tuple]:
    gen = torch.Generator().manual_seed(71)
    # hand: one row of three pixels; the round trip sends pixel 0 -> 2 -> 0, 1 -> 0 -> 1, 2 -> 1 -> 1
    hand = (torch.tensor([[10.0, 20.0, 30.0], [-1.0, -2.0, -3.0]]).reshape(1, 2, 1, 3),
            torch.tensor([[[2, 0, 1]]]), torch.tensor([[[1, 1, 0]]]))
    cases = [hand]
    for n, H, W, kind in ((2, 3, 4, "random"), (1, 4, 6, "permutation"), (3, 5, 2, "random")):
        T_ab = 60 * (2 * torch.rand(n, 2, H, W, generator=gen) - 1)
        if kind == "permutation":  # one-to-one maps both ways
            phi_tr = torch.stack([torch.randperm(H * W, generator=gen) for _ in range(n)]).reshape(n, H, W)
            phi_rt = torch.stack([torch.randperm(H * W, generator=gen) for _ in range(n)]).reshape(n, H, W)
        else:
            phi_tr = torch.randint(0, H * W, (n, H, W), generator=gen)
            phi_rt = torch.randint(0, H * W, (n, H, W), generator=gen)
        cases.append((T_ab, phi_tr, phi_rt))
    return cases


def check_fake_reference(fn: Callable) -> None:
    """Check Eq. 3's T'_ab, ``fn(T_ab (N, 2, H, W), phi_tr (N, H, W) long, phi_rt (N, H, W) long) -> (N, 2, H, W)``.

    ``phi_tr`` holds for every target pixel the flat index y * W + x of its match in the reference (same size),
    ``phi_rt`` the same from the reference to the target; T'_ab(p) = T_ab(phi_R->T(phi_T->R(p))), the target's
    colours sent to the reference and back (the chrominance branch's reference, where R'_ab is unusable for
    training because the reference's colours are not the ground truth). Cases: a hand case of one row of three
    pixels, random maps and permutations on images with H != W. Reference:
    :func:`reprolib.nn.correspondence.cycle_reference`.
    """
    check(fn, _ref_fake_reference, _fake_reference_cases(), "fake reference (Eq. 3)", atol=1e-5, rtol=1e-5,
          diagnose=_diagnose_fake_reference,
          hint=("q = phi_rt.flatten(1).gather(1, phi_tr.flatten(1)) (the round trip, flat indices); then "
                "T_ab.flatten(2).gather(2, q[:, None].expand(-1, 2, -1)).view_as(T_ab)"))


# 3. The chrominance loss of Eq. 4
def _ref_chrominance_loss(pred_ab, true_ab):
    """Eq. 4: the smooth-l1 (delta = 1) of every pixel and channel, summed, divided by the number of pairs N."""
    total = smooth_l1_loss(pred_ab.double(), true_ab.double(), delta=SMOOTH_L1_DELTA, reduction="sum")
    return float(total) / pred_ab.shape[0]


def _diagnose_chrominance_loss(got, expected, pred_ab, true_ab) -> str | None:
    g = _as_float_tensor(got)
    if g is None:
        return f"return one number (a scalar tensor), not a {type(got).__name__}."
    n, _, h, w = pred_ab.shape
    if g.numel() == n and n != 1:
        return (f"you returned one value per item ({n} of them): Eq. 4's sum over each image's pixels and channels "
                "is averaged over the batch, one number.")
    if g.numel() != 1:
        return ("return one number (a scalar tensor): the sum over the pixels and both channels, averaged over the "
                "batch.")
    d = (pred_ab.double() - true_ab.double()).abs()
    huber = torch.where(d < 1, 0.5 * d ** 2, d - 0.5)

    def per_pair(elementwise):
        return float(elementwise.sum()) / n

    regimes = "quadratic below |x - y| = 1, 0.5 (x - y)^2, and linear above, |x - y| - 0.5."
    candidates = [
        (huber.mean(), (f"you averaged over all N x 2 x H x W = {d.numel()} values (the default reduction='mean' of "
                        "F.smooth_l1_loss): Eq. 4 sums over the pixels and both channels of an image and averages only "
                        f"over the batch, so your loss is 2 H W = {2 * h * w} times too small.")),
        (huber.sum(1).mean(), (f"you averaged over the pixels (a per-pixel sum over a and b, Chapter 2's "
                               f"normalisation): Eq. 4 sums over the H x W = {h * w} pixels of an image too; divide "
                               "the sum by the number of pairs N only.")),
        (float(huber.sum()), (f"your loss is N = {n} times too large: you summed over the batch too; divide the sum by "
                              "the number of pairs, N.")),
        (per_pair(d), "you computed the plain l1 loss, sum |x - y|: Eq. 4's smooth-l1 is " + regimes),
        (d.mean(), "that is the mean absolute error (F.l1_loss's default): Eq. 4 is the smooth-l1, " + regimes
                   + " Summed over the pixels and channels, averaged over the batch."),
        (per_pair(d ** 2), "you computed the squared (l2) loss, sum (x - y)^2: Eq. 4 is " + regimes
                           + " Large errors are not squared."),
        (per_pair(0.5 * d ** 2), ("you computed half the squared (l2) loss, 0.5 sum (x - y)^2, everywhere: Eq. 4 is "
                                  "quadratic only below |x - y| = 1 and linear above, |x - y| - 0.5.")),
        ((d ** 2).mean(), "that is the mean squared error (F.mse_loss's default): Eq. 4 is the smooth-l1, " + regimes
                          + " Summed over the pixels and channels, averaged over the batch."),
        (per_pair(torch.where(d < 1, d ** 2, d - 0.5)), ("the quadratic branch is 0.5 (x - y)^2: you dropped the "
                                                         "factor 1/2.")),
        (per_pair(torch.where(d < 1, 0.5 * d ** 2, d)), ("the linear branch is |x - y| - 0.5: you dropped the - 0.5 "
                                                         "(without it the two branches do not meet at |x - y| = 1).")),
    ]
    return _first_match(g, candidates, expected)


def _chrominance_cases() -> list[tuple]:
    gen = torch.Generator().manual_seed(72)
    cases = []
    for n, h, w in ((2, 3, 4), (3, 4, 2), (4, 2, 5)):
        true_ab = 50 * (2 * torch.rand(n, 2, h, w, generator=gen) - 1)
        # half of the differences small (the quadratic branch), half large (the linear one)
        scale = torch.where(torch.rand(n, 2, h, w, generator=gen) < 0.5, 0.4, 15.0)
        cases.append((true_ab + scale * torch.randn(n, 2, h, w, generator=gen), true_ab))
    # hand: differences 0.5, 3, -0.2 and 0: 0.125 + 2.5 + 0.02 + 0 = 2.645
    cases.append((torch.tensor([[0.5, 3.0], [-0.2, 0.0]]).reshape(1, 2, 1, 2), torch.zeros(1, 2, 1, 2)))
    return cases


def check_chrominance_loss(fn: Callable) -> None:
    """Check Eq. 4, ``fn(pred_ab (N, 2, H, W), true_ab (N, 2, H, W)) -> scalar``.

    Per value 0.5 (x - y)^2 where |x - y| < 1, else |x - y| - 0.5 (the smooth-l1 with delta = 1, ``SMOOTH_L1_DELTA``);
    summed over the pixels and both channels of each image, averaged over the N images (the chapter's
    ``branch_loss``). Cases: random ab with half of the differences below 1 and half large, and a hand case of one
    image of two pixels (2.645). Reference: :func:`reprolib.models.siggraph17.smooth_l1_loss` with
    ``reduction="sum"``, divided by N.
    """
    check(fn, _ref_chrominance_loss, _chrominance_cases(), "chrominance loss (Eq. 4)", atol=1e-6, rtol=1e-5,
          diagnose=_diagnose_chrominance_loss,
          hint=("d = (pred_ab - true_ab).abs(); torch.where(d < 1, 0.5 * d ** 2, d - 0.5).sum() / len(pred_ab), or "
                "F.smooth_l1_loss(pred_ab, true_ab, reduction='sum') / len(pred_ab)"))
