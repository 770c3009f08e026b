"""The automatic checks of Chapter 2's exercises (see :mod:`reprolib.book.exercises` for the machinery)."""

from __future__ import annotations

from typing import Callable

import torch

from reprolib.book.exercises import _as_float_tensor, check


def _ref_smooth_l1(ab_pred, ab_true, delta):
    from reprolib.models.siggraph17 import smooth_l1_loss

    return smooth_l1_loss(ab_pred, ab_true, delta=delta, reduction="mean")


def _diagnose_smooth_l1(got, expected, ab_pred, ab_true, delta) -> str | None:
    g = _as_float_tensor(got)
    if g is None or g.numel() != 1:
        return "the loss must be one number (a scalar tensor): sum over a and b, then average over pixels."
    e, g = float(expected), float(g.reshape(()))
    if e != 0 and abs(g / e - 0.5) < 1e-3:
        return "your loss is half the expected one: sum the two channels (a and b) per pixel before averaging over pixels."
    d = (ab_pred - ab_true).abs().double()
    if abs(g - float(d.sum(1).mean())) < 1e-4 * max(1.0, abs(g)):
        return "you computed the plain l1 loss; near zero (|x - y| < delta) Eq. 3.4 is quadratic, 0.5 (x - y)^2."
    quad_full = torch.where(d < delta, d ** 2, delta * (d - 0.5 * delta)).sum(1).mean()
    if abs(g - float(quad_full)) < 1e-4 * max(1.0, abs(g)):
        return "the quadratic branch of Eq. 3.4 is 0.5 (x - y)^2: you dropped the factor 1/2."
    return None


def check_smooth_l1(fn: Callable) -> None:
    """Check a smooth-l1 (Huber) loss ``fn(ab_pred (N,2,H,W), ab_true (N,2,H,W), delta) -> scalar`` (Eq. 3.4-3.5).

    Per element ``0.5 (x - y)^2`` where ``|x - y| < delta``, else ``delta (|x - y| - delta / 2)``; summed over
    a and b, averaged over the N x H x W pixels. Reference: :func:`reprolib.models.siggraph17.smooth_l1_loss`.
    """
    gen = torch.Generator().manual_seed(4)
    small = 0.8 * torch.randn(1, 2, 3, 3, generator=gen)  # mostly inside |d| < 1: the quadratic branch
    cases = [
        (small, torch.zeros(1, 2, 3, 3), 1.0),
        (30 * torch.randn(2, 2, 4, 4, generator=gen), 30 * torch.randn(2, 2, 4, 4, generator=gen), 1.0),
        (5 * torch.randn(1, 2, 4, 5, generator=gen), 5 * torch.randn(1, 2, 4, 5, generator=gen), 4.0),
        (torch.tensor([0.5, 2.0]).reshape(1, 2, 1, 1), torch.zeros(1, 2, 1, 1), 1.0),
    ]
    check(
        fn, _ref_smooth_l1, cases, "smooth-l1 loss", atol=1e-5, rtol=1e-5,
        hint=("d = (ab_pred - ab_true).abs(); per element torch.where(d < delta, 0.5 * d**2, delta * (d - 0.5 * delta)); "
              "then .sum(dim=1).mean()."),
        diagnose=_diagnose_smooth_l1,
    )


def _ref_reveal_patches(ab, points):
    from reprolib.chapters.user_guided.hints import reveal_patches

    return reveal_patches(ab, points)


def _diagnose_reveal_patches(got, expected, ab, points) -> str | None:
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return "return a pair (ab_hint, mask)."
    hint, mask = (_as_float_tensor(g) for g in got)
    if hint is None or mask is None or hint.shape != expected[0].shape:
        return None
    if mask.shape == expected[1].shape and torch.equal(mask, expected[1].double()):
        centre = torch.zeros_like(hint)
        for i, t, l, s in points.tolist():
            centre[i, :, t:t + s, l:l + s] = ab[i, :, t + s // 2, l + s // 2].double()[:, None, None]
        if torch.allclose(hint, centre, atol=1e-4):
            return "you revealed the colour of the patch's centre pixel; the paper reveals the *mean* ab over the patch."
        if torch.allclose(hint, (ab * expected[1]).double(), atol=1e-4):
            return "you copied the true colours pixel by pixel; every pixel of a patch gets the patch's mean ab."
    else:
        return "the mask must be 1 exactly on the patches' pixels and 0 elsewhere, with shape (N, 1, H, W)."
    return None


def check_reveal_patches(fn: Callable) -> None:
    """Check the simulated user's reveal ``fn(ab (N,2,H,W), points (M,4) int64) -> (ab_hint, mask)`` (section 3.3.2).

    Each row ``(image, top, left, size)`` is a square patch; every pixel of it gets the patch's mean true ab in
    ``ab_hint`` and 1 in ``mask`` (N,1,H,W); later rows overwrite earlier ones; elsewhere both are 0.
    Reference: :func:`reprolib.chapters.user_guided.hints.reveal_patches`.
    """
    gen = torch.Generator().manual_seed(5)
    ab = 40 * torch.randn(2, 2, 8, 8, generator=gen)
    cases = [
        (ab[:1].clone(), torch.tensor([[0, 2, 3, 3]])),
        (ab.clone(), torch.tensor([[0, 0, 0, 1], [1, 4, 4, 4], [1, 1, 2, 2]])),
        (ab.clone(), torch.tensor([[0, 1, 1, 5], [0, 3, 3, 3]])),  # overlap: the later patch wins
        (ab.clone(), torch.zeros(0, 4, dtype=torch.long)),
    ]
    check(
        fn, _ref_reveal_patches, cases, "reveal patches", atol=1e-4, rtol=1e-5,
        hint=("start from zeros (N,2,H,W) and (N,1,H,W); for each row i, t, l, s in points.tolist(): "
              "m = ab[i, :, t:t+s, l:l+s].mean(dim=(1, 2)); write it into the patch and set the mask to 1."),
        diagnose=_diagnose_reveal_patches,
    )


def _ref_lloyd_step(points, weights, centres):
    X, w, C = points.double(), weights.double(), centres.double()
    label = torch.cdist(X, C).argmin(1)
    mass = torch.zeros(C.shape[0], dtype=torch.float64).index_add_(0, label, w)
    sums = torch.zeros_like(C).index_add_(0, label, w[:, None] * X)
    return torch.where(mass[:, None] > 0, sums / mass.clamp(min=1e-300)[:, None], C)


def _diagnose_lloyd_step(got, expected, points, weights, centres) -> str | None:
    g = _as_float_tensor(got)
    if g is None or g.shape != expected.shape:
        return None
    unweighted = _ref_lloyd_step(points, (weights > 0).double(), centres)
    if torch.allclose(g, unweighted, atol=1e-4):
        return "your centres are plain means of their points; weight each point by its probability (weights)."
    return None


def check_lloyd_step(fn: Callable) -> None:
    """Check one step of weighted k-means ``fn(points (M,D), weights (M,), centres (K,D)) -> new centres (K,D)``.

    Assign every point to its nearest centre (ties: the lower index); move each centre to the weighted mean
    of its points; a centre whose points have no weight stays where it is. The palette of section 3.3.2 runs
    such steps on the ab bin centres weighted by the softened predicted distribution.
    """
    gen = torch.Generator().manual_seed(6)
    pts = torch.tensor([[0.0, 0.0], [1.0, 0.0], [10.0, 10.0], [11.0, 10.0]])
    cases = [
        (pts, torch.tensor([1.0, 3.0, 1.0, 1.0]), torch.tensor([[0.0, 1.0], [10.0, 9.0]])),
        (pts, torch.tensor([1.0, 1.0, 0.0, 0.0]), torch.tensor([[0.0, 1.0], [10.0, 9.0]])),  # an empty centre stays
        (30 * torch.randn(40, 2, generator=gen), torch.rand(40, generator=gen), 30 * torch.randn(5, 2, generator=gen)),
    ]
    check(
        fn, _ref_lloyd_step, cases, "weighted k-means step", atol=1e-6, rtol=1e-6,
        hint=("label = torch.cdist(points, centres).argmin(1); for each k: the points with label k, "
              "(w[:, None] * x).sum(0) / w.sum(); keep the old centre when w.sum() == 0."),
        diagnose=_diagnose_lloyd_step,
    )
