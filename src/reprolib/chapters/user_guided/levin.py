"""Levin, Lischinski & Weiss (SIGGRAPH 2004), "Colorization using Optimization": the classic
edit-propagation baseline of thesis chapter 3 (Fig. 3.4, Fig. 3.6).

"Neighbouring pixels with similar intensities should have similar colours." For each chroma channel U
the method minimises

    J(U) = sum_r ( U(r) - sum_{s in N(r)} w_rs U(s) )^2,      w_rs ∝ exp(-(Y(r) - Y(s))^2 / (2 sigma_r^2))

over the pixels r, with N(r) the 8 neighbours of r (a 3 x 3 window), the weights of each row summing
to 1, and the user's colours as hard constraints. J is zero exactly when ``(I - W) U = 0`` on the free
pixels, so the minimiser solves the sparse linear system

    (I - W)_ff U_f = W_fc U_c        (f: free pixels, c: constrained pixels, U_c the hints)

once per channel. The matrix is the same for a and b: it is factorised once (SuperLU) and used for both.

sigma_r comes from the local variance of the intensity: ``2 sigma_r^2 = var_scale * var_r``, with var_r
the variance of Y over the 3 x 3 window around r (r included). The defaults are the constants of the
authors' released MATLAB code (``getColorExact.m``): ``var_scale = 0.6``, a floor of 2e-6 on
``2 sigma_r^2``, and a second floor that keeps the most similar neighbour's unnormalised weight at least
0.01. Y is the intensity in [0, 1]: here ``L / 100`` (Lab lightness; the original works in YIQ).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.linalg import splu

__all__ = ["VAR_SCALE", "VAR_FLOOR", "MIN_NEIGHBOUR_WEIGHT", "levin_weights", "levin_colorize"]

VAR_SCALE = 0.6
VAR_FLOOR = 2e-6
MIN_NEIGHBOUR_WEIGHT = 0.01

# The 8 neighbours of a pixel (dy, dx).
_OFFSETS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]


def _to_numpy(x, name: str, shape_hint: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array or torch tensor {shape_hint}, got {type(x).__name__}")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer) or x.dtype == bool):
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    x = x.astype(np.float64)
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf")
    return x


def levin_weights(
    Y: np.ndarray,
    var_scale: float = VAR_SCALE,
    var_floor: float = VAR_FLOOR,
    min_weight: float = MIN_NEIGHBOUR_WEIGHT,
) -> sp.csr_matrix:
    """The row-normalised affinity matrix W (H*W x H*W, 8 neighbours per row) of an intensity image.

    Args:
        Y: (H, W) intensities, in [0, 1] for the default constants.
        var_scale, var_floor, min_weight: ``2 sigma_r^2 = max(var_scale * var_r, var_floor,
            -min_s d_rs^2 / ln(min_weight))`` with ``d_rs = Y(r) - Y(s)`` (see the module docstring).

    Row r holds ``w_rs`` for the in-image neighbours s of r (border pixels have fewer), summing to 1.
    Pixels are numbered row-major, ``r = y * W + x``.
    """
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim != 2 or min(Y.shape) < 1 or Y.size < 2:
        raise ValueError(f"Y must be a 2-D (H, W) image with at least 2 pixels, got shape {Y.shape}")
    for name, v in (("var_scale", var_scale), ("var_floor", var_floor)):
        if not (isinstance(v, (int, float)) and v > 0):
            raise ValueError(f"{name} must be a number > 0, got {v!r}")
    if not (isinstance(min_weight, (int, float)) and 0 < min_weight < 1):
        raise ValueError(f"min_weight must be in (0, 1), got {min_weight!r}")
    H, W = Y.shape
    pad = np.pad(Y, 1, mode="constant", constant_values=np.nan)  # NaN marks "outside the image"
    # (8, H, W) neighbour intensities; NaN outside.
    nb = np.stack([pad[1 + dy : 1 + dy + H, 1 + dx : 1 + dx + W] for dy, dx in _OFFSETS])
    valid = ~np.isnan(nb)
    # Window statistics over the valid neighbours and the pixel itself.
    count = valid.sum(0) + 1.0
    mean = (np.nansum(nb, 0) + Y) / count
    var = (np.nansum((nb - mean) ** 2, 0) + (Y - mean) ** 2) / count
    d2 = np.where(valid, (nb - Y) ** 2, np.inf)
    two_sigma2 = np.maximum(var_scale * var, -d2.min(0) / math.log(min_weight))
    two_sigma2 = np.maximum(two_sigma2, var_floor)
    w = np.where(valid, np.exp(-np.where(valid, d2, 0.0) / two_sigma2), 0.0)
    w /= w.sum(0, keepdims=True)

    r = np.arange(H * W).reshape(H, W)
    rows, cols, vals = [], [], []
    for k, (dy, dx) in enumerate(_OFFSETS):
        m = valid[k]
        rows.append(r[m])
        cols.append((r + dy * W + dx)[m])
        vals.append(w[k][m])
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(H * W, H * W)
    )


def levin_colorize(L, ab_hint, mask, **weight_kwargs):
    """Propagate sparse colour hints over a grey image by Levin et al.'s optimisation.

    Args:
        L: lightness, (H, W) or (1, H, W), Lab units [0, 100].
        ab_hint: (2, H, W) hint colours in Lab units (read where ``mask`` is set).
        mask: (H, W) or (1, H, W), nonzero where a hint is given.
        **weight_kwargs: ``var_scale``, ``var_floor``, ``min_weight`` of :func:`levin_weights`.

    Returns:
        ab, (2, H, W) float64 numpy array, or a torch tensor (dtype and device of ``ab_hint``) when
        ``ab_hint`` is a tensor. Hinted pixels keep their hint exactly. Without any hint the problem
        has no unique solution (every constant image is one); we return grey (ab = 0), what edit
        propagation "defaults to" (thesis section 3.4.1).
    """
    like = ab_hint if isinstance(ab_hint, torch.Tensor) else None
    L = _to_numpy(L, "L", "of shape (H, W) or (1, H, W)")
    ab_hint = _to_numpy(ab_hint, "ab_hint", "of shape (2, H, W)")
    mask = _to_numpy(mask, "mask", "of shape (H, W) or (1, H, W)")
    if L.ndim == 3 and L.shape[0] == 1:
        L = L[0]
    if mask.ndim == 3 and mask.shape[0] == 1:
        mask = mask[0]
    if L.ndim != 2:
        raise ValueError(f"L must have shape (H, W) or (1, H, W), got {L.shape}")
    H, W = L.shape
    if ab_hint.shape != (2, H, W):
        raise ValueError(f"ab_hint must have shape (2, {H}, {W}) to match L, got {ab_hint.shape}")
    if mask.shape != (H, W):
        raise ValueError(f"mask must have shape ({H}, {W}) or (1, {H}, {W}) to match L, got {mask.shape}")
    if L.min() < -0.01 or L.max() > 100.01:
        raise ValueError(f"L must be in [0, 100] (Lab lightness), got [{L.min():.3g}, {L.max():.3g}]")

    known = mask.reshape(-1) != 0
    hints = ab_hint.reshape(2, -1).T  # (H*W, 2)
    out = np.zeros((H * W, 2))
    out[known] = hints[known]
    if known.any() and not known.all():
        A = sp.identity(H * W, format="csr") - levin_weights(L / 100.0, **weight_kwargs)
        free = ~known
        A_ff = A[free][:, free].tocsc()
        rhs = -(A[free][:, known] @ hints[known])  # (I - W)_ff U_f = -(I - W)_fc U_c = W_fc U_c
        out[free] = splu(A_ff).solve(rhs)
    ab = out.T.reshape(2, H, W)
    if like is not None:
        return torch.from_numpy(ab).to(dtype=like.dtype, device=like.device)
    return ab
