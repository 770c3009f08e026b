"""Simulated users: where the colour hints of the Local Hints Network come from.

Training (thesis section 3.3.2, "Simulating User Interactions"; reference-facts section 2.2): for each
image,

* the number of points N is geometric with p = 1/8: ``P(N = k) = (1 - p)^k p`` for k >= 0 (mean
  ``(1 - p) / p = 7``, no hint at all for 1/8 of the images);
* each point's location is drawn from a 2-D Gaussian centred on the image with standard deviations
  (H/4, W/4) (users are assumed to click near the centre more often), clipped so that the
  patch stays inside the image;
* its patch size P is uniform over 1..9 (a P x P square), and "the average ab within the patch" is
  revealed on the whole patch, with mask 1 there;
* for 1 % of the images the full ground-truth colour is revealed instead (mask 1 everywhere), "the
  correct limiting characteristic".

Evaluation (section 3.4.1, Fig. 3.6): :func:`fixed_points` reveals n patches at uniformly random
locations, and :func:`max_error_points` reveals the patches where the current prediction is worst.

Everything is batched over images, works in Lab units (ab in about [-110, 110]), and draws its
randomness from a ``torch.Generator``, so a seed fixes the hints. The mask is 0/1; the network applies
its own centring (``SIGGRAPH17(mask_cent=...)``).
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import torch
from torch.nn import functional as F

from reprolib.validation import checked_by

__all__ = [
    "PAPER_P",
    "PAPER_PATCH_SIZES",
    "PAPER_FULL_REVEAL",
    "EVAL_PATCH",
    "EVAL_WINDOW",
    "HintPoints",
    "sample_hint_points",
    "reveal_patches",
    "sample_hints",
    "fixed_points",
    "max_error_points",
]

PAPER_P = 1 / 8  # geometric parameter: "drawn from a geometric distribution with p = 1/8"
PAPER_PATCH_SIZES = tuple(range(1, 10))  # "drawn uniformly from size 1 x 1 to 9 x 9"
PAPER_FULL_REVEAL = 0.01  # "we provide the full ground truth color ... for 1% of the training instances"
EVAL_PATCH = 7  # Fig. 3.6: "The average color on a 7 x 7 patch is revealed" (the released sweep uses 6)
EVAL_WINDOW = 25  # max-error sampling: "average over a 25 x 25 window"


class HintPoints(NamedTuple):
    """Hint patches for a batch.

    ``points``: (M, 4) int64 rows ``(image, top, left, size)``: image index in the batch, top-left
    corner and side of a square patch, in drawing order (a later patch overwrites an earlier one where
    they overlap). ``full``: (N,) bool, the images whose whole ground truth is revealed.
    """

    points: torch.Tensor
    full: torch.Tensor


# --------------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------------


def _check_ab(ab, name: str = "ab") -> None:
    if not isinstance(ab, torch.Tensor) or not ab.is_floating_point():
        raise TypeError(f"{name} must be a floating-point torch.Tensor of shape (N, 2, H, W) in Lab units")
    if ab.dim() != 4 or ab.shape[1] != 2:
        raise ValueError(f"{name} must have shape (N, 2, H, W), got {tuple(ab.shape)}")


def _check_generator(generator) -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")


def _check_int(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return value


def _check_prob(value, name: str, open_low: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1
    if not ok or (open_low and value == 0):
        interval = "(0, 1]" if open_low else "[0, 1]"
        raise ValueError(f"{name} must be a probability in {interval}, got {value!r}")
    return float(value)


# --------------------------------------------------------------------------------------------------
# Training: the simulated user of section 3.3.2
# --------------------------------------------------------------------------------------------------


def sample_hint_points(
    batch_size: int,
    height: int,
    width: int,
    generator: torch.Generator | None = None,
    p: float = PAPER_P,
    patch_sizes: Sequence[int] = PAPER_PATCH_SIZES,
    full_reveal: float = PAPER_FULL_REVEAL,
) -> HintPoints:
    """Draw the hint patches of a training batch (no image needed): see the module docstring.

    Args:
        batch_size, height, width: N, H, W of the batch.
        generator: the source of randomness (``None``: torch's global generator).
        p: geometric parameter in (0, 1]; ``p = 1`` gives no points (colorization-pytorch's
            classification stage), the paper's 1/8 gives 7 points on average.
        patch_sizes: the sizes P to draw from, uniformly; each must fit in the image.
        full_reveal: probability that an image gets its full ground truth instead of points.

    Returns:
        :class:`HintPoints`. Locations: the patch centre ``top + (P - 1) / 2`` is
        ``N((H - 1) / 2, H / 4)``, rounded to the nearest valid top-left corner and clipped to
        [0, H - P] (the same for the columns). The released code draws the corner with mean
        ``(H - P + 1) / 2`` and deviation ``(H - P + 1) / 4`` and truncates; the paper's sigma = H/4 is
        used here. Points are drawn for every image, also those in ``full``.
    """
    N = _check_int(batch_size, "batch_size", 1)
    H = _check_int(height, "height", 1)
    W = _check_int(width, "width", 1)
    _check_generator(generator)
    p = _check_prob(p, "p", open_low=True)
    full_reveal = _check_prob(full_reveal, "full_reveal")
    sizes = torch.as_tensor(list(patch_sizes), dtype=torch.long)
    if sizes.dim() != 1 or sizes.numel() == 0 or int(sizes.min()) < 1 or int(sizes.max()) > min(H, W):
        raise ValueError(
            f"patch_sizes must be a non-empty list of integers in [1, {min(H, W)}], got {list(patch_sizes)}"
        )

    # Number of points by inversion: k = floor(log U / log(1 - p)), U in (0, 1], gives P(N >= k) = (1 - p)^k.
    u = 1.0 - torch.rand(N, generator=generator, dtype=torch.float64)
    if p < 1:
        counts = torch.floor(torch.log(u) / math.log1p(-p)).long()
    else:
        counts = torch.zeros(N, dtype=torch.long)
    full = torch.rand(N, generator=generator, dtype=torch.float64) < full_reveal

    M = int(counts.sum())
    image = torch.repeat_interleave(torch.arange(N), counts)
    P = sizes[torch.randint(len(sizes), (M,), generator=generator)]
    z = torch.randn(2, M, generator=generator, dtype=torch.float64)

    def corner(z_row: torch.Tensor, extent: int) -> torch.Tensor:
        # centre = (extent - 1) / 2 + z * extent / 4  ->  top = centre - (P - 1) / 2 = (extent - P) / 2 + z * extent / 4
        top = torch.floor((extent - P) / 2.0 + z_row * (extent / 4.0) + 0.5).long()
        return torch.minimum(top.clamp(min=0), extent - P)

    points = torch.stack([image, corner(z[0], H), corner(z[1], W), P], dim=1)
    return HintPoints(points, full)


def _check_reveal_args(ab, points, full) -> None:
    _check_ab(ab)
    N, _, H, W = ab.shape
    if not isinstance(points, torch.Tensor) or points.dtype != torch.long or points.dim() != 2 or points.shape[1] != 4:
        raise ValueError("points must be an (M, 4) int64 tensor of (image, top, left, size) rows")
    if points.shape[0]:
        img, top, left, size = points.t()
        bad = (img < 0) | (img >= N) | (size < 1) | (top < 0) | (left < 0) | (top + size > H) | (left + size > W)
        if bad.any():
            raise ValueError(f"points row {int(bad.nonzero()[0])} lies outside the (N, H, W) = {(N, H, W)} batch")
    if full is not None and (not isinstance(full, torch.Tensor) or full.dtype != torch.bool or tuple(full.shape) != (N,)):
        raise ValueError(f"full must be an ({N},) bool tensor")


@checked_by(_check_reveal_args)
def reveal_patches(
    ab: torch.Tensor, points: torch.Tensor, full: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Build ``(ab_hint, mask)`` from patches: each patch gets the mean ab of the ground truth over it.

    Args:
        ab: (N, 2, H, W) ground-truth ab in Lab units.
        points: (M, 4) int64 rows ``(image, top, left, size)`` (see :class:`HintPoints`); a later row
            overwrites an earlier one where patches overlap.
        full: optional (N,) bool: these images get ``ab_hint = ab`` and ``mask = 1`` everywhere.

    Returns:
        ``ab_hint`` (N, 2, H, W), zero where there is no hint, and ``mask`` (N, 1, H, W) in {0, 1}.
    """
    N, _, H, W = ab.shape
    ab_hint = torch.zeros_like(ab)
    mask = ab.new_zeros(N, 1, H, W)
    if points.shape[0]:
        img, top, left, size = points.t()
        # Patch means from a summed-area table (one lookup per patch instead of a slice mean).
        sat = F.pad(ab.double().cumsum(-1).cumsum(-2), (1, 0, 1, 0))
        bottom, right = top + size, left + size
        sums = (
            sat[img, :, bottom, right] - sat[img, :, top, right] - sat[img, :, bottom, left] + sat[img, :, top, left]
        )
        means = (sums / (size * size)[:, None].double()).to(ab.dtype)
        for (i, t, l, s), m in zip(points.tolist(), means):
            ab_hint[i, :, t : t + s, l : l + s] = m[:, None, None]
            mask[i, :, t : t + s, l : l + s] = 1.0
    if full is not None:
        full = full.to(ab.device)
        ab_hint[full] = ab[full]
        mask[full] = 1.0
    return ab_hint, mask


def sample_hints(
    ab: torch.Tensor,
    generator: torch.Generator | None = None,
    p: float = PAPER_P,
    patch_sizes: Sequence[int] = PAPER_PATCH_SIZES,
    full_reveal: float = PAPER_FULL_REVEAL,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The simulated user of section 3.3.2 for a training batch: ``ab`` (N, 2, H, W) -> ``(ab_hint, mask)``.

    :func:`sample_hint_points` then :func:`reveal_patches`; see them for the details and arguments.
    (colorization-pytorch also drops nearly grey images, ab range < 5, from its batches; that is a
    data filter, not part of the simulated user, and is not done here.)
    """
    _check_ab(ab)
    N, _, H, W = ab.shape
    hp = sample_hint_points(N, H, W, generator, p=p, patch_sizes=patch_sizes, full_reveal=full_reveal)
    return reveal_patches(ab, hp.points.to(ab.device), hp.full)


# --------------------------------------------------------------------------------------------------
# Evaluation (section 3.4.1, Fig. 3.6)
# --------------------------------------------------------------------------------------------------


def fixed_points(
    ab: torch.Tensor, n: int, patch: int = EVAL_PATCH, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reveal ``n`` patches of ``patch`` x ``patch`` per image at uniformly random locations.

    Fig. 3.6: each point is drawn uniformly at random, and the mean colour of a 7 x 7 patch there is
    revealed. The top-left corners are uniform over the positions where the patch fits; patches may
    overlap (a later one overwrites). Returns ``(ab_hint, mask)`` as :func:`reveal_patches`.
    """
    _check_ab(ab)
    n = _check_int(n, "n", 0)
    N, _, H, W = ab.shape
    patch = _check_int(patch, "patch", 1)
    if patch > min(H, W):
        raise ValueError(f"patch {patch} does not fit in a {H} x {W} image")
    _check_generator(generator)
    top = torch.randint(H - patch + 1, (N, n), generator=generator)
    left = torch.randint(W - patch + 1, (N, n), generator=generator)
    image = torch.arange(N)[:, None].expand(N, n)
    points = torch.stack([image, top, left, torch.full_like(top, patch)], dim=-1).reshape(-1, 4)
    return reveal_patches(ab, points.to(ab.device))


def max_error_points(
    ab_true: torch.Tensor,
    ab_pred: torch.Tensor,
    n: int = 1,
    patch: int = EVAL_PATCH,
    window: int = EVAL_WINDOW,
    revealed_mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The paper's "max-error" sampling: reveal the patches where the prediction is worst.

    Section 3.4.1: the l2 error of the current prediction against the ground truth is averaged over a
    25 x 25 window, and a 7 x 7 patch is revealed at the point where that error is largest, skipping points
    whose patch would overlap one revealed earlier.

    The per-pixel error is the Euclidean distance in ab, averaged over a ``window`` x ``window`` box;
    outside the image the error counts as 0 (averaging over only the pixels inside would favour the
    borders: a window cut by the border around an error blob has a higher mean than the centred one).
    A candidate patch is scored by the windowed error at its centre pixel (``top + patch // 2``). A box
    window has plateaus (every window that holds a small error blob scores the same), so ties are
    broken by the mean error over the patch itself: the patch nearest the error wins (scores in
    float64, tie-break weight 1e-6). A candidate is excluded when it overlaps a revealed pixel of
    ``revealed_mask`` or a patch chosen earlier in this call. With ``n > 1`` the points are chosen
    greedily for the same prediction; the paper re-runs the network after every point, i.e. calls this
    with ``n = 1`` in a loop. Fewer than ``n`` patches are returned when no free place remains.

    Args:
        ab_true, ab_pred: (N, 2, H, W) in Lab units.
        n: patches to add per image.
        patch, window: patch side (7) and error-averaging window (25), both from the paper.
        revealed_mask: (N, 1, H, W) 0/1 mask of the hints revealed so far, or ``None``.

    Returns:
        ``(ab_hint, mask)`` of the **new** patches only (mean ground-truth ab over each). Combine with
        the earlier hints by ``hint = torch.where(new_mask > 0, new_hint, hint)`` and
        ``mask = torch.maximum(mask, new_mask)``.
    """
    _check_ab(ab_true, "ab_true")
    _check_ab(ab_pred, "ab_pred")
    if ab_true.shape != ab_pred.shape:
        raise ValueError(f"ab_true {tuple(ab_true.shape)} and ab_pred {tuple(ab_pred.shape)} differ in shape")
    N, _, H, W = ab_true.shape
    n = _check_int(n, "n", 0)
    patch = _check_int(patch, "patch", 1)
    window = _check_int(window, "window", 1)
    if patch > min(H, W):
        raise ValueError(f"patch {patch} does not fit in a {H} x {W} image")
    if revealed_mask is None:
        taken = ab_true.new_zeros(N, 1, H, W)
    else:
        if not isinstance(revealed_mask, torch.Tensor) or tuple(revealed_mask.shape) != (N, 1, H, W):
            raise ValueError(f"revealed_mask must be a tensor of shape {(N, 1, H, W)}")
        taken = (revealed_mask > 0).to(ab_true.dtype)

    err = (ab_pred.detach() - ab_true).double().pow(2).sum(dim=1, keepdim=True).sqrt()
    windowed = F.avg_pool2d(err, window, stride=1, padding=window // 2, count_include_pad=True)
    windowed = windowed[..., :H, :W]  # an even window yields one extra row and column
    c = patch // 2
    score = windowed[:, 0, c : c + H - patch + 1, c : c + W - patch + 1]  # (N, H-P+1, W-P+1), per top-left
    score = score + 1e-6 * F.avg_pool2d(err, patch, stride=1)[:, 0]  # tie-break: error on the patch
    Wc = score.shape[-1]

    rows = []
    for _ in range(n):
        blocked = F.max_pool2d(taken, patch, stride=1)[:, 0] > 0  # patch at (t, l) touches a revealed pixel
        s = score.masked_fill(blocked, -math.inf).reshape(N, -1)
        best, where = s.max(dim=1)
        ok = torch.isfinite(best)
        if not ok.any():
            break
        top, left = (where // Wc)[ok], (where % Wc)[ok]
        img = torch.arange(N, device=ab_true.device)[ok]
        for i, t, l in zip(img.tolist(), top.tolist(), left.tolist()):
            taken[i, :, t : t + patch, l : l + patch] = 1.0
        rows.append(torch.stack([img, top, left, torch.full_like(top, patch)], dim=1))
    points = torch.cat(rows) if rows else torch.zeros(0, 4, dtype=torch.long, device=ab_true.device)
    return reveal_patches(ab_true, points.long())
