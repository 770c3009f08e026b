"""Colorization metrics: the ECCV16 paper's Table 1 and the ones the book adds.

All functions are batched torch. Conventions (see ``color.py``):

* ``ab`` tensors are (N, 2, H, W) in Lab units (a, b roughly in [-110, 110]);
* ``rgb`` tensors are (N, 3, H, W) in [0, 1] (or [0, data_range]);
* masks are (N, H, W) booleans.

Zhang, Isola, Efros, "Colorful Image Colorization", ECCV 2016, sec. 3.1:

* **Raw accuracy (AuC)**, item 3: the share of pixels whose predicted ab lies within an L2 threshold of the
  true ab, taken over thresholds from 0 to 150; the area under that curve, normalised, is the score (after
  Deshpande et al. 2015). -> :func:`auc`.
* **Class-balanced AuC**: the same, with each pixel weighted by the inverse probability of its colour class
  (Eq. 4 with lambda = 0). -> :func:`class_balanced_auc`.

Added by the book because ColorWorld knows the true colour distribution of every pixel:
:func:`mass_on_modes` (does the predicted distribution put mass on every true mode?),
:func:`saturation` and :func:`spatial_roughness` (the mean is desaturated and smooth, the mode vivid
and splotchy: sec. 2.3, Fig. 4), and :func:`colorfulness` (Hasler & Suesstrunk 2003, in ``color.py``).
"""

from __future__ import annotations

import torch

from reprolib.color import colorfulness
from reprolib.quantize import NUM_AB_BINS, encode_nearest

__all__ = [
    "ab_error",
    "ab_error_cdf",
    "auc",
    "class_balanced_weights",
    "class_balanced_auc",
    "psnr",
    "mean_psnr",
    "colorfulness",
    "saturation",
    "spatial_roughness",
    "mass_on_modes",
    "top1_accuracy",
]

# Table 1 of the paper sweeps the ab-error threshold from 0 to 150.
AUC_MAX_THRESHOLD = 150.0


# ----------------------------------------------------------------------------- input checks


def _check_tensor(x, name: str, ndim: int | None = None, channels: int | None = None) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(x.shape)}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(
            f"{name} must have {channels} channels in dim 1 (N, {channels}, H, W), got shape {tuple(x.shape)}"
        )
    return x


def _check_ab(x, name: str) -> torch.Tensor:
    _check_tensor(x, name, ndim=4, channels=2)
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor of ab values in Lab units, got {x.dtype}")
    return x


def _check_pair(pred, true, pred_name: str, true_name: str) -> None:
    if pred.shape != true.shape:
        raise ValueError(
            f"{pred_name} and {true_name} must have the same shape, got {tuple(pred.shape)} "
            f"and {tuple(true.shape)}"
        )


def _check_mask(mask, shape: tuple[int, ...], name: str = "mask") -> torch.Tensor:
    """``mask`` must be (N, H, W) matching ``shape``; returned as bool."""
    _check_tensor(mask, name)
    if tuple(mask.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape (N, H, W) = {tuple(shape)}, got {tuple(mask.shape)}")
    if mask.dtype != torch.bool:
        if mask.is_floating_point() and not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError(f"{name} must be boolean (or 0/1), got values other than 0 and 1")
        mask = mask != 0
    return mask


def _pixel_weights(weights, shape: tuple[int, ...]) -> torch.Tensor | None:
    if weights is None:
        return None
    _check_tensor(weights, "weights")
    if tuple(weights.shape) != tuple(shape):
        raise ValueError(f"weights must have shape (N, H, W) = {tuple(shape)}, got {tuple(weights.shape)}")
    weights = weights.to(torch.float64)
    if bool((weights < 0).any()) or not bool(torch.isfinite(weights).all()):
        raise ValueError("weights must be finite and non-negative")
    if float(weights.sum()) <= 0:
        raise ValueError("weights sum to zero: no pixel would count")
    return weights


def ab_error(pred_ab: torch.Tensor, true_ab: torch.Tensor) -> torch.Tensor:
    """Per-pixel Euclidean error in ab space, (N, H, W), in Lab units."""
    _check_ab(pred_ab, "pred_ab")
    _check_ab(true_ab, "true_ab")
    _check_pair(pred_ab, true_ab, "pred_ab", "true_ab")
    return torch.linalg.vector_norm(pred_ab - true_ab, dim=1)


# ----------------------------------------------------------------------------- AuC (Table 1)


def ab_error_cdf(
    pred_ab: torch.Tensor,
    true_ab: torch.Tensor,
    thresholds: torch.Tensor | None = None,
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Cumulative distribution of the per-pixel ab error.

    Args:
        pred_ab, true_ab: (N, 2, H, W) in Lab units.
        thresholds: (T,) error thresholds in ab units; default ``torch.arange(0, 151)`` (0, 1, ..., 150).
        weights: optional (N, H, W) non-negative per-pixel weights.

    Returns:
        (T,) float64: entry t is the (weighted) fraction of pixels with ``||pred - true||_2 <= thresholds[t]``.
        Non-decreasing in the threshold, in [0, 1].
    """
    err = ab_error(pred_ab, true_ab)
    w = _pixel_weights(weights, tuple(err.shape))
    if thresholds is None:
        thresholds = torch.arange(0, int(AUC_MAX_THRESHOLD) + 1)
    thresholds = torch.as_tensor(thresholds, dtype=torch.float64, device=err.device)
    if thresholds.ndim != 1:
        raise ValueError(f"thresholds must be 1-D (T,), got shape {tuple(thresholds.shape)}")

    # Sort the errors once; the CDF at t is the cumulative weight of all errors <= t.
    err, order = err.flatten().to(torch.float64).sort()
    w = torch.ones_like(err) if w is None else w.flatten()[order]
    cum = torch.cat([w.new_zeros(1), w.cumsum(0)])
    count = torch.searchsorted(err, thresholds, right=True)  # number of errors <= t
    return cum[count] / cum[-1]


def auc(
    pred_ab: torch.Tensor,
    true_ab: torch.Tensor,
    max_threshold: float = AUC_MAX_THRESHOLD,
    weights: torch.Tensor | None = None,
) -> float:
    """Area under the cumulative ab-error curve, thresholds 0..``max_threshold``, normalised to [0, 1].

    The paper (sec. 3.1, item 3) sweeps thresholds from 0 to 150 and integrates the CDF. We integrate the
    CDF *exactly* rather than on a grid of thresholds::

        AuC = 1/M * integral_0^M P(e <= t) dt = E[ max(0, 1 - e/M) ]        (M = max_threshold)

    (for one pixel, the integrand is 1 on [e, M] and 0 before). So a pixel with error ``e`` scores
    ``1 - e/M`` and any error >= M scores 0; if every error equals ``d`` the AuC is ``(M - d)/M``.
    A perfect prediction scores 1. The trapezoid rule on the integer thresholds of :func:`ab_error_cdf`
    (the other common discretisation) differs from this by at most ``0.5/M`` (0.33 percentage points).

    Args:
        pred_ab, true_ab: (N, 2, H, W) in Lab units.
        max_threshold: M, in ab units (150 in the paper).
        weights: optional (N, H, W) non-negative per-pixel weights (a weighted mean over pixels).

    Returns:
        A float in [0, 1]; higher is better.
    """
    score, w = _pixel_scores(pred_ab, true_ab, max_threshold, weights)
    if w is None:
        return float(score.mean())
    return float((score * w).sum() / w.sum())


def _pixel_scores(pred_ab, true_ab, max_threshold, weights):
    """Each pixel's AuC score ``max(0, 1 - e/M)`` (float64) and its checked weight (None without weights)."""
    if not max_threshold > 0:
        raise ValueError(f"max_threshold must be positive, got {max_threshold}")
    err = ab_error(pred_ab, true_ab).to(torch.float64)
    return (1.0 - err / float(max_threshold)).clamp(min=0.0), _pixel_weights(weights, tuple(err.shape))


def auc_terms(
    pred_ab: torch.Tensor,
    true_ab: torch.Tensor,
    max_threshold: float = AUC_MAX_THRESHOLD,
    weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image, the two sums whose pooled ratio is :func:`auc`: ``(sum_p w_p s_p, sum_p w_p)``, each (N,)
    float64, with ``s_p = max(0, 1 - e_p/M)`` the pixel's score and ``w_p`` its weight (1 without ``weights``).

    ``terms[0].sum() / terms[1].sum()`` is the AuC of all the images together; a bootstrap over images
    resamples these pairs.
    """
    score, w = _pixel_scores(pred_ab, true_ab, max_threshold, weights)
    if w is None:
        w = torch.ones_like(score)
    return (score * w).flatten(1).sum(1), w.flatten(1).sum(1)


def class_balanced_weights(
    true_ab: torch.Tensor, prior: torch.Tensor, bins: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-pixel weights ``1 / prior[q*]``, (N, H, W) float64, ``q*`` the bin nearest to the true ab.

    This is Eq. 4 of the paper with lambda = 0 (its normalisation E[w] = 1 cancels in a weighted mean).
    Pixels whose class has zero prior probability get weight 0. ``bins`` (Q, 2) defaults to the 313
    ECCV16 bins, and ``prior`` must have one entry per bin.
    """
    _check_ab(true_ab, "true_ab")
    _check_tensor(prior, "prior", ndim=1)
    n_bins = NUM_AB_BINS if bins is None else bins.shape[0]
    if prior.shape[0] != n_bins:
        raise ValueError(
            f"prior has {prior.shape[0]} entries but there are {n_bins} bins; expected a distribution over "
            "the bins (the 313 of reprolib.quantize.ab_bins() unless you pass bins)"
        )
    prior = prior.to(device=true_ab.device, dtype=torch.float64)
    if bool((prior < 0).any()) or not bool(torch.isfinite(prior).all()):
        raise ValueError("prior must be finite and non-negative")
    p = prior[encode_nearest(true_ab, bins)]  # (N, H, W) prior probability of each pixel's true class
    return torch.where(p > 0, 1.0 / p.clamp(min=torch.finfo(torch.float64).tiny), torch.zeros_like(p))


def class_balanced_auc(
    pred_ab: torch.Tensor,
    true_ab: torch.Tensor,
    prior: torch.Tensor,
    max_threshold: float = AUC_MAX_THRESHOLD,
    bins: torch.Tensor | None = None,
) -> float:
    """Class-balanced AuC (Table 1, column 2): :func:`auc` with each pixel weighted by ``1/prior[q*]``.

    ``q*`` is the ab bin nearest to the pixel's *true* colour and ``prior`` a (Q,) distribution over the
    bins (the paper uses the smoothed training-set distribution p~ of Eq. 4, e.g.
    ``reprolib.quantize.empirical_prior`` of the training ab). When ``prior`` equals the evaluation set's
    own class frequencies every colour class present counts equally, whatever its pixel count; with a
    training prior, rare colours are up-weighted by how rare they were in training. Bins with zero prior
    probability get weight 0.
    """
    w = class_balanced_weights(true_ab, prior, bins)
    if float(w.sum()) <= 0:
        raise ValueError("every pixel's colour class has zero prior probability: the prior does not fit the data")
    return auc(pred_ab, true_ab, max_threshold=max_threshold, weights=w)


# ----------------------------------------------------------------------------- PSNR


def psnr(pred_rgb: torch.Tensor, true_rgb: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio per image, (N,), in dB: ``10 log10(data_range^2 / MSE)``.

    The MSE is over all channels and pixels of each image; identical images give ``inf``.
    """
    _check_tensor(pred_rgb, "pred_rgb", ndim=4)
    _check_tensor(true_rgb, "true_rgb", ndim=4)
    _check_pair(pred_rgb, true_rgb, "pred_rgb", "true_rgb")
    if not data_range > 0:
        raise ValueError(f"data_range must be positive, got {data_range}")
    diff = pred_rgb.to(torch.float64) - true_rgb.to(torch.float64)
    mse = diff.pow(2).flatten(1).mean(1)
    return (10.0 * torch.log10(float(data_range) ** 2 / mse)).to(torch.float32)


def mean_psnr(pred_rgb: torch.Tensor, true_rgb: torch.Tensor, data_range: float = 1.0) -> float:
    """Mean over images of the per-image PSNR (dB), as the papers report it (not the PSNR of the mean MSE)."""
    return float(psnr(pred_rgb, true_rgb, data_range).mean())


# ----------------------------------------------------------------------------- mean vs mode (sec. 2.3)


def saturation(ab: torch.Tensor) -> torch.Tensor:
    """Mean chroma ``sqrt(a^2 + b^2)`` per image, (N,), in ab units. 0 for a grey image."""
    _check_ab(ab, "ab")
    return torch.linalg.vector_norm(ab, dim=1).flatten(1).mean(1)


def spatial_roughness(ab: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean colour change between neighbouring pixels per image, (N,), in ab units.

    A total-variation measure for the paper's observation that the mode of the predicted distribution
    is "spatially inconsistent" while the mean is smooth (sec. 2.3, Fig. 4). For every pair of
    horizontally or vertically adjacent pixels we take the Euclidean distance between their ab values
    ``||ab[p] - ab[p']||_2`` and average over all pairs (both directions pooled). With ``mask`` (N, H, W)
    only pairs whose *two* pixels are inside the mask count; an image with no such pair gets NaN.
    A constant image scores 0.
    """
    _check_ab(ab, "ab")
    n, _, h, w = ab.shape
    dx = torch.linalg.vector_norm(ab[:, :, :, 1:] - ab[:, :, :, :-1], dim=1)  # (N, H, W-1)
    dy = torch.linalg.vector_norm(ab[:, :, 1:, :] - ab[:, :, :-1, :], dim=1)  # (N, H-1, W)
    if mask is None:
        total = dx.flatten(1).sum(1) + dy.flatten(1).sum(1)
        count = torch.full((n,), dx[0].numel() + dy[0].numel(), dtype=ab.dtype, device=ab.device)
    else:
        mask = _check_mask(mask, (n, h, w)).to(ab.device)
        mx = (mask[:, :, 1:] & mask[:, :, :-1]).to(ab.dtype)
        my = (mask[:, 1:, :] & mask[:, :-1, :]).to(ab.dtype)
        total = (dx * mx).flatten(1).sum(1) + (dy * my).flatten(1).sum(1)
        count = mx.flatten(1).sum(1) + my.flatten(1).sum(1)
    return total / count  # 0/0 = NaN where no pair counts


# ----------------------------------------------------------------------------- multimodality


def mode_assignment(bins: torch.Tensor, modes: torch.Tensor, radius: float) -> torch.Tensor:
    """(Q, M) float64: row q is one-hot on the mode nearest to bin centre q if that mode lies within ``radius``
    (ab units), all zero otherwise; the bin-to-mode assignment of :func:`mass_on_modes`."""
    bins64, modes64 = bins.to(torch.float64), modes.to(device=bins.device, dtype=torch.float64)
    nearest_dist, nearest = torch.cdist(bins64, modes64).min(dim=1)  # (Q,)
    assign = torch.nn.functional.one_hot(nearest, modes.shape[0]).to(torch.float64)
    assign = assign * (nearest_dist <= radius).unsqueeze(1)
    if bool((assign.sum(0) == 0).any()):
        empty = modes.cpu()[(assign.sum(0) == 0).cpu()].tolist()
        raise ValueError(f"no bin centre lies within radius={radius} of mode(s) {empty}; increase radius")
    return assign


def mode_mass_per_image(
    probs: torch.Tensor, assign: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image, the predicted mass on each mode summed over the image's masked pixels, (N, M) float64, and
    the number of masked pixels, (N,). Their sums over images divided give :func:`mass_on_modes`'s
    ``mode_mass``; ``assign`` comes from :func:`mode_assignment`."""
    mask = mask.to(device=probs.device, dtype=torch.float64)  # (N, H, W)
    per_pixel = torch.einsum("nqhw,qm->nmhw", probs.to(torch.float64), assign.to(probs.device))
    return (per_pixel * mask[:, None]).sum(dim=(2, 3)), mask.sum(dim=(1, 2))


def mass_on_modes(
    probs: torch.Tensor,
    bins: torch.Tensor,
    modes: torch.Tensor,
    mode_probs: torch.Tensor,
    mask: torch.Tensor,
    radius: float = 15.0,
) -> dict:
    """How much predicted probability lands on each true colour mode, for pixels with a known distribution.

    ColorWorld draws the colour of an object from a mixture of modes (e.g. red 50 %, green 30 %, yellow
    20 %) independently of its luminance, so the ideal prediction for those pixels *is* that mixture.

    Definition. Each bin centre is assigned to its nearest mode, if that mode lies within ``radius``
    (ab units, Euclidean); other bins belong to no mode (bins are never counted twice, even when two
    modes are closer than ``2 * radius``). For each pixel in ``mask`` the mass on mode m is the sum of
    ``probs`` over the bins of m; ``mode_mass[m]`` is its mean over the masked pixels.
    ``total_mass = sum_m mode_mass[m]`` (1 means no mass off the modes); ``mode_share = mode_mass /
    total_mass``; ``tv_distance = 0.5 * sum_m |mode_share[m] - mode_probs[m]|`` in [0, 1] (0: the
    prediction splits its on-mode mass exactly like the truth; NaN if ``total_mass`` is 0).

    Args:
        probs: (N, Q, H, W) predicted per-pixel probabilities over the Q bins (each pixel sums to 1).
        bins: (Q, 2) bin centres in ab units (``reprolib.quantize.ab_bins()``).
        modes: (M, 2) the true modes in ab units.
        mode_probs: (M,) their probabilities (sum to 1).
        mask: (N, H, W) bool, the pixels whose true distribution is this mixture.
        radius: in ab units. The default 15 catches the bin containing the mode and its neighbours,
            where a sigma = 5 soft-encoding of the mode puts nearly all its mass.

    Returns:
        dict with ``mode_mass`` (M,) tensor, ``mode_share`` (M,) tensor, ``true_probs`` (M,) tensor,
        ``total_mass`` float, ``tv_distance`` float, ``n_pixels`` int, ``bins_per_mode`` (M,) long tensor.
    """
    _check_tensor(probs, "probs", ndim=4)
    _check_tensor(bins, "bins", ndim=2, channels=2)
    _check_tensor(modes, "modes", ndim=2, channels=2)
    _check_tensor(mode_probs, "mode_probs", ndim=1)
    n, q, h, w = probs.shape
    if bins.shape[0] != q:
        raise ValueError(f"probs has {q} bins in dim 1 but bins has {bins.shape[0]} centres; they must match")
    if mode_probs.shape[0] != modes.shape[0]:
        raise ValueError(f"mode_probs has {mode_probs.shape[0]} entries but there are {modes.shape[0]} modes")
    if bool((mode_probs < 0).any()) or abs(float(mode_probs.sum()) - 1.0) > 1e-4:
        raise ValueError(f"mode_probs must be non-negative and sum to 1, got {mode_probs.tolist()}")
    if not radius > 0:
        raise ValueError(f"radius must be positive, got {radius}")
    mask = _check_mask(mask, (n, h, w)).to(probs.device)
    if not bool(mask.any()):
        raise ValueError("mask selects no pixel")

    assign = mode_assignment(bins.to(probs.device), modes.to(probs.device), radius)
    bins_per_mode = assign.sum(0).long()

    p = probs.permute(0, 2, 3, 1)[mask].to(torch.float64)  # (P, Q) the masked pixels
    if bool((p < -1e-6).any()) or float((p.sum(1) - 1).abs().max()) > 1e-3:
        raise ValueError(
            "probs must be per-pixel probabilities over dim 1 (non-negative, summing to 1); "
            "did you pass logits? apply softmax(dim=1) first"
        )
    mode_mass = (p @ assign).mean(0)  # (M,)
    total = float(mode_mass.sum())
    share = mode_mass / total if total > 0 else torch.full_like(mode_mass, float("nan"))
    true_probs = mode_probs.to(device=probs.device, dtype=torch.float64)
    return {
        "mode_mass": mode_mass,
        "mode_share": share,
        "true_probs": true_probs,
        "total_mass": total,
        "tv_distance": float(0.5 * (share - true_probs).abs().sum()),
        "n_pixels": int(p.shape[0]),
        "bins_per_mode": bins_per_mode,
    }


# ----------------------------------------------------------------------------- classification


def top1_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of argmax-over-dim-1 predictions equal to ``labels``.

    ``logits`` (N, C) with ``labels`` (N,), or dense (N, C, H, W) with (N, H, W). Returns a float in [0, 1].
    """
    _check_tensor(logits, "logits")
    _check_tensor(labels, "labels")
    if logits.ndim < 2:
        raise ValueError(f"logits must be (N, C, ...), got shape {tuple(logits.shape)}")
    expected = (logits.shape[0],) + tuple(logits.shape[2:])
    if tuple(labels.shape) != expected:
        raise ValueError(
            f"labels must have shape {expected} (logits' shape without the class dim 1), got {tuple(labels.shape)}"
        )
    if labels.is_floating_point():
        raise TypeError(f"labels must be integer class indices, got {labels.dtype}")
    return float((logits.argmax(dim=1) == labels.to(logits.device)).to(torch.float64).mean())
