"""A global colour-transfer baseline for Chapter 7: Welsh, Ashikhmin & Mueller, "Transferring Color to Greyscale
Images" (SIGGRAPH 2002), the classic exemplar-based colorization that predates learned ones such as He et al. 2018.

Reinhard, Ashikhmin, Gooch & Shirley ("Color Transfer between Images", IEEE CG&A 2001) recolour one *colour*
image with the palette of another: in a colour space whose three axes are nearly uncorrelated for natural images,
each channel of the image is shifted and scaled so that its mean and standard deviation become the other image's.
For a grey target that recipe has nothing to work with: its two chrominance channels are zero everywhere, so there
are no statistics to match, and shifting them to the reference's means would only paint one flat colour over the
whole image. Only the luminance channel carries information, and Welsh et al. keep exactly that part of Reinhard's
method (step 1 below) and add a per-pixel search for where the colour should come from. Their global method is
therefore the baseline here; Reinhard's transfer itself is not implemented.

:func:`welsh_transfer`, for a grey target with luminance ``L_t`` and a colour reference ``(L_r, ab_r)``:

1. **Luminance remapping** (:func:`remap_luminance`): the reference's luminance is mapped linearly so that its
   mean and standard deviation are the target's, ``L_r' = (L_r - mean_r) * std_t / std_r + mean_t``, so that the
   two images are compared on the same brightness scale. A flat reference (``std_r`` = 0) is mapped to ``mean_t``.
2. **Neighbourhood statistics** (:func:`matching_features`): every pixel is described by its luminance and the
   standard deviation of the luminance in the ``window x window`` neighbourhood around it (5 x 5), a crude
   measure of texture; the target is described on all its pixels, the reference on its remapped luminance.
3. **Jittered sampling** (:func:`jittered_samples`): about 200 reference pixels are drawn, one at random in each
   cell of a regular grid over the reference, so the samples cover the whole image without a regular pattern.
4. **Matching** (:func:`nearest_samples`): each target pixel takes the ``ab`` of the sample whose features are
   closest, under ``0.5 |dL| + 0.5 |d sigma|`` (a weighted L1 distance: the paper's "weighted average of luminance
   and standard deviation", 50 % each, read as weights on the two absolute differences); the target keeps its own
   L, so only ``ab`` is returned. Ties go to the lowest sample index.

Departures from the paper, all stated where they are made: the paper works in Ruderman's l-alpha-beta space, here
CIE Lab is used as in the rest of the package (:mod:`reprolib.color`: L in [0, 100], ab in ab units); it matches
pixels in scan-line order, which changes nothing for a global method without spatial terms; it does not say how
neighbourhoods are cut at the image border, here the edge pixels are repeated (replicate padding). The paper's
swatches (user-drawn rectangle pairs) are not part of the global method and are not implemented.

Steps 1 and 2 run in float64 and their features are rounded to float32 for step 4. A pixel's nearest sample can
change with the last bit of its features, and the last bits of a reduction (a mean, a standard deviation) depend
on how it is split over threads and batch entries; in float64 that difference almost never survives the rounding
to float32, so a batch and its images one at a time pick the same samples.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from reprolib.validation import checked_by

__all__ = ["WELSH_SAMPLES", "WELSH_WEIGHTS", "WELSH_WINDOW", "grid_shape", "jittered_samples", "matching_features",
           "nearest_samples", "remap_luminance", "welsh_transfer"]

# Welsh et al. 2002, sec. 2.1 (global image matching): "about 200" jittered samples; the standard deviation over
# a 5 x 5 neighbourhood; the best match by a weighted average of luminance (50 %) and standard deviation (50 %).
WELSH_SAMPLES = 200
WELSH_WINDOW = 5
WELSH_WEIGHTS = (0.5, 0.5)  # (luminance, neighbourhood standard deviation)

_L_TOL = 1e-2  # L may exceed [0, 100] by this much (float rounding), as in reprolib.color
_FLAT_STD = 1e-6  # a reference whose L has a smaller standard deviation is flat (L units)
_CHUNK = 1 << 22  # target-pixel x sample distances held at once in nearest_samples


# --------------------------------------------------------------------------------------------------
# Argument checks (kept apart from the method, see reprolib.validation)
# --------------------------------------------------------------------------------------------------


def _describe(x) -> str:
    return f"shape {tuple(x.shape)}" if isinstance(x, torch.Tensor) else f"a {type(x).__name__}"


def _check_image(x, name: str, channels: int, what: str) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != channels:
        raise ValueError(f"{name} must be an (N, {channels}, H, W) tensor holding {what}, got {_describe(x)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor ({what}), got dtype {x.dtype}")
    if x.shape[0] < 1 or x.shape[2] < 1 or x.shape[3] < 1:
        raise ValueError(f"{name} must hold at least one image of at least 1 x 1 pixels, got shape "
                         f"{tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or inf values; expected finite {what}")


def _check_lightness(L, name: str) -> None:
    _check_image(L, name, 1, "CIE L in [0, 100]")
    lo, hi = (float(v) for v in torch.aminmax(L))
    if lo < -_L_TOL or hi > 100 + _L_TOL:
        raise ValueError(f"{name} has L values in [{lo:.4g}, {hi:.4g}], but L must be in [0, 100] (tolerance "
                         f"{_L_TOL}). If it is the network-normalised (L - 50) / 100, undo it with "
                         f"reprolib.color.unnormalize_l first.")


def _check_positive_int(value, name: str, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1 ({what}), got {value!r}")


def _check_window(window) -> None:
    _check_positive_int(window, "window", "the side of the odd square neighbourhood, e.g. 5")
    if window % 2 == 0:
        raise ValueError(f"window must be odd, so that the neighbourhood is centred on its pixel (e.g. 3 or 5), "
                         f"got {window}")


def _check_welsh(L_t, L_r, ab_r, samples, window, generator) -> None:
    _check_lightness(L_t, "L_t (the grey target's lightness)")
    _check_lightness(L_r, "L_r (the reference's lightness)")
    _check_image(ab_r, "ab_r (the reference's colour)", 2, "CIE ab in ab units")
    if ab_r.shape[2:] != L_r.shape[2:]:
        raise ValueError(f"ab_r {tuple(ab_r.shape)} and L_r {tuple(L_r.shape)} must have the same H and W: they "
                         f"are the two parts of one reference image")
    if not L_t.shape[0] == L_r.shape[0] == ab_r.shape[0]:
        raise ValueError(f"L_t, L_r and ab_r must hold the same number of images N (one reference per target), got "
                         f"N = {L_t.shape[0]}, {L_r.shape[0]} and {ab_r.shape[0]}")
    if not L_t.device == L_r.device == ab_r.device:
        raise ValueError(f"L_t, L_r and ab_r must be on one device, got {L_t.device}, {L_r.device} and "
                         f"{ab_r.device}")
    _check_positive_int(samples, "samples", "how many reference pixels to sample, about 200 in the paper")
    _check_window(window)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")


def _check_remap(L_r, L_t) -> None:
    _check_image(L_r, "L_r", 1, "CIE L")
    _check_image(L_t, "L_t", 1, "CIE L")
    if L_r.shape[0] != L_t.shape[0]:
        raise ValueError(f"L_r and L_t must hold the same number of images N, got {L_r.shape[0]} and "
                         f"{L_t.shape[0]}")


def _check_features(L, window) -> None:
    _check_image(L, "L", 1, "CIE L")
    _check_window(window)


def _check_grid(height, width, samples) -> None:
    _check_positive_int(height, "height", "the reference's height in pixels")
    _check_positive_int(width, "width", "the reference's width in pixels")
    _check_positive_int(samples, "samples", "how many reference pixels to sample")


def _check_jitter(height, width, samples, batch, generator) -> None:
    _check_grid(height, width, samples)
    _check_positive_int(batch, "batch", "the number of reference images")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")


def _check_nearest(features_t, features_s, weights) -> None:
    for name, f in (("features_t", features_t), ("features_s", features_s)):
        if not isinstance(f, torch.Tensor) or f.dim() != 3 or f.shape[2] != 2 or not f.is_floating_point():
            raise ValueError(f"{name} must be a floating (N, points, 2) tensor of (L, local std) features, got "
                             f"{_describe(f)}")
    if features_t.shape[0] != features_s.shape[0] or features_s.shape[1] < 1:
        raise ValueError(f"features_t {tuple(features_t.shape)} and features_s {tuple(features_s.shape)} must have "
                         f"the same N, and there must be at least one sample")
    if len(weights) != 2 or any(not (w >= 0) for w in weights):
        raise ValueError(f"weights must be two non-negative numbers (luminance, local std), got {weights!r}")


# --------------------------------------------------------------------------------------------------
# The method
# --------------------------------------------------------------------------------------------------


@checked_by(_check_remap)
def remap_luminance(L_r: torch.Tensor, L_t: torch.Tensor) -> torch.Tensor:
    """Step 1: map each reference's L linearly to the mean and standard deviation of its target's L.

    ``L_r`` (N, 1, H_r, W_r) and ``L_t`` (N, 1, H, W), image i of one to image i of the other; population
    statistics over each image's pixels. A flat reference goes to the target's mean. Same dtype as ``L_r``.
    """
    std_r, mean_r = torch.std_mean(L_r, dim=(1, 2, 3), keepdim=True, correction=0)
    std_t, mean_t = torch.std_mean(L_t, dim=(1, 2, 3), keepdim=True, correction=0)
    flat = std_r < _FLAT_STD
    scale = torch.where(flat, 0.0, std_t / torch.where(flat, 1.0, std_r))
    return (L_r - mean_r) * scale + mean_t


@checked_by(_check_features)
def matching_features(L: torch.Tensor, window: int = WELSH_WINDOW) -> torch.Tensor:
    """Step 2: each pixel's luminance and the standard deviation of L in its ``window x window`` neighbourhood.

    ``L`` (N, 1, H, W) -> (N, H * W, 2), pixels in row-major order, features (L, std). At the border the edge
    pixels are repeated (the paper does not say); population standard deviation, as ``sqrt(E[L^2] - E[L]^2)``
    over the window (in float64 the cancellation leaves at most a few 1e-6 in a flat neighbourhood).
    """
    pad = window // 2
    padded = F.pad(L, (pad, pad, pad, pad), mode="replicate")
    mean, mean_sq = F.avg_pool2d(padded, window, stride=1), F.avg_pool2d(padded * padded, window, stride=1)
    local_std = (mean_sq - mean * mean).clamp(min=0).sqrt()
    return torch.stack([L.flatten(1), local_std.flatten(1)], dim=2)


@checked_by(_check_grid)
def grid_shape(height: int, width: int, samples: int) -> tuple[int, int]:
    """The (rows, cols) of the jittered grid: about ``samples`` cells, as square as the image allows.

    ``rows * cols`` is close to ``samples`` (196 = 14 x 14 for 200 on a square image), never more cells than
    pixels in either direction: with ``samples >= height * width`` every pixel is a sample.
    """
    rows = min(height, max(1, round(math.sqrt(samples * height / width))))
    cols = min(width, max(1, round(samples / rows)))
    return rows, cols


@checked_by(_check_jitter)
def jittered_samples(height: int, width: int, samples: int = WELSH_SAMPLES, batch: int = 1,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Step 3: one uniformly random pixel in each cell of the :func:`grid_shape` grid, for each of ``batch`` images.

    Returns (batch, rows * cols) long flat indices ``y * width + x``, cells in row-major order, on the generator's
    device (the CPU without one). Cell edges are at ``i * height // rows`` (and likewise for columns), so every
    cell holds at least one pixel. Image i uses the i-th draw from ``generator``: with one generator, images
    sampled one at a time get the positions they get in a batch.
    """
    rows, cols = grid_shape(height, width, samples)
    device = generator.device if generator is not None else torch.device("cpu")
    y_edges = torch.arange(rows + 1, device=device) * height // rows
    x_edges = torch.arange(cols + 1, device=device) * width // cols
    y0, dy = y_edges[:-1, None], (y_edges[1:] - y_edges[:-1])[:, None]  # (rows, 1)
    x0, dx = x_edges[None, :-1], (x_edges[1:] - x_edges[:-1])[None, :]  # (1, cols)
    picks = []
    for _ in range(batch):
        u = torch.rand(2, rows, cols, generator=generator, device=device, dtype=torch.float64)
        y = y0 + torch.minimum((u[0] * dy).long(), dy - 1)
        x = x0 + torch.minimum((u[1] * dx).long(), dx - 1)
        picks.append((y * width + x).flatten())
    return torch.stack(picks)


@checked_by(_check_nearest)
def nearest_samples(features_t: torch.Tensor, features_s: torch.Tensor,
                    weights: tuple[float, float] = WELSH_WEIGHTS) -> torch.Tensor:
    """Step 4: for every target pixel, the index of the sample at the smallest ``w_L |dL| + w_s |d std|``.

    ``features_t`` (N, P, 2) and ``features_s`` (N, S, 2), as from :func:`matching_features`; returns (N, P) long.
    Ties go to the lowest index. The distances are computed for a few images at a time (at most about 4 M).
    """
    w = features_t.new_tensor(weights)
    per_chunk = max(1, _CHUNK // (features_t.shape[1] * features_s.shape[1]))
    best = [torch.cdist(ft * w, fs * w, p=1).argmin(dim=2)  # weighted L1: sum_k |w_k f_t,k - w_k f_s,k|
            for ft, fs in zip(features_t.split(per_chunk), features_s.split(per_chunk), strict=True)]
    return torch.cat(best)


@checked_by(_check_welsh)
def welsh_transfer(L_t: torch.Tensor, L_r: torch.Tensor, ab_r: torch.Tensor, samples: int = WELSH_SAMPLES,
                   window: int = WELSH_WINDOW, generator: torch.Generator | None = None) -> torch.Tensor:
    """Welsh et al.'s global colour transfer from a colour reference to a grey target (see the module docstring).

    Args:
        L_t: (N, 1, H, W) the targets' CIE L in [0, 100].
        L_r, ab_r: (N, 1, H_r, W_r) and (N, 2, H_r, W_r) the references' L and ab; reference i colours target i.
        samples: about how many reference pixels to sample (jittered grid, :func:`grid_shape`).
        window: odd side of the neighbourhood whose standard deviation describes a pixel's texture.
        generator: the source of the sample positions (the global generator if None).

    Returns:
        (N, 2, H, W) float32: the targets' ab, each pixel's copied from its best-matching reference sample. The
        targets keep their own L: the colorized image is ``l_ab_to_rgb(L_t, ab)``.
    """
    N, _, H, W = L_t.shape
    L_t, L_r = L_t.double(), L_r.double()  # see the module docstring: matching must not hinge on rounding
    L_r = remap_luminance(L_r, L_t)                                                   # 1. luminance remapping
    features_t = matching_features(L_t, window)                                       # 2. (N, H * W, 2)
    features_r = matching_features(L_r, window)                                       #    (N, H_r * W_r, 2)
    picks = jittered_samples(L_r.shape[2], L_r.shape[3], samples, N, generator)       # 3. (N, S)
    picks = picks.to(L_r.device)[:, :, None]
    features_s = features_r.gather(1, picks.expand(-1, -1, 2))                        #    (N, S, 2)
    ab_s = ab_r.flatten(2).transpose(1, 2).gather(1, picks.expand(-1, -1, 2))         #    (N, S, 2)
    best = nearest_samples(features_t.float(), features_s.float())                    # 4. (N, H * W)
    ab = ab_s.gather(1, best[:, :, None].expand(-1, -1, 2))                           #    (N, H * W, 2)
    return ab.transpose(1, 2).reshape(N, 2, H, W).float()
