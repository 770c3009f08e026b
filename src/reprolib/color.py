"""RGB <-> CIE Lab in torch, and the normalisation conventions of the Zhang et al. colorizers.

Every chapter of the book works in CIE Lab: the network sees the lightness ``L`` and predicts the two
colour channels ``ab``. This file is the one place where that conversion lives.

Conventions (the same as ``skimage.color.rgb2lab`` / ``lab2rgb``, so results can be checked against it):

* RGB is **sRGB in [0, 1]** (floats), companded as in IEC 61966-2-1.
* XYZ uses the sRGB primaries and the **D65** white, 2-degree observer: white = (0.95047, 1.0, 1.08883).
* Lab has ``L`` in [0, 100] and ``a``, ``b`` roughly in [-110, 110] (for sRGB colours: a in
  [-86.2, 98.2], b in [-107.9, 94.5]).
* Images are channels-first: ``(N, 3, H, W)`` or ``(3, H, W)``; the channel axis is ``dim`` (default
  ``-3``). Lists of colours ``(..., 3)`` work with ``dim=-1``.

Everything is differentiable (no in-place ops on the inputs; the two non-linear knees are written so
that both branches have finite gradients), runs on any device, and keeps the input's floating dtype.

The luma Y' of BT.601 (``0.299 R + 0.587 G + 0.114 B`` on the gamma-encoded values, the "handcrafted
translation" H_t of Ratajczak et al. 2019) is not ``L``: :func:`handcrafted_grey` computes it,
:func:`lightness_to_grey` gives the grey level of a lightness, :func:`replace_luma` sets an image's luma at
fixed chroma (Cb, Cr).

The colorizers of Zhang et al. feed the network ``(L - 50) / 100`` and predict ``ab / 110``
(``BaseColor`` in the released PyTorch code: ``l_cent=50, l_norm=100, ab_norm=110``); the helpers
:func:`normalize_l`, :func:`normalize_ab` and their inverses define that once.
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "L_CENT",
    "L_NORM",
    "AB_NORM",
    "D65_WHITE",
    "XYZ_FROM_RGB",
    "check_rgb",
    "check_lab",
    "rgb_to_lab",
    "lab_to_rgb",
    "rgb_to_l_ab",
    "l_ab_to_rgb",
    "gray_rgb",
    "normalize_l",
    "unnormalize_l",
    "normalize_ab",
    "unnormalize_ab",
    "colorfulness",
    "LUMA_WEIGHTS",
    "handcrafted_grey",
    "lightness_to_grey",
    "replace_luma",
]

# --------------------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------------------

# Normalisation of the Zhang-family networks (richzhang/colorization, colorizers/base_color.py).
L_CENT = 50.0
L_NORM = 100.0
AB_NORM = 110.0

# D65 white point, 2-degree observer, with Y = 1 (skimage.color.xyz_tristimulus_values("D65", "2") / 100).
D65_WHITE = (0.95047, 1.0, 1.08883)

# Linear sRGB -> XYZ, the matrix skimage uses (skimage.color.colorconv.xyz_from_rgb).
XYZ_FROM_RGB = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)

# sRGB companding (IEC 61966-2-1): linear segment below the knee, power 2.4 above.
_SRGB_KNEE = 0.04045  # in companded (gamma) space
_SRGB_KNEE_LINEAR = 0.0031308  # the same knee in linear space
# CIE Lab f(t): cube root above (6/29)^3, a line below. skimage uses the rounded constants
# 0.008856 and 7.787 (instead of 216/24389 and 841/108); we use the same ones to agree with it.
_LAB_EPS = 0.008856
_LAB_KAPPA = 7.787
_LAB_OFFSET = 16.0 / 116.0
_LAB_KNEE_F = 0.2068966  # f(_LAB_EPS) = 6/29, the knee of the inverse

# Hasler & Suesstrunk's colourfulness is defined on 0-255 RGB.
_COLORFULNESS_SCALE = 255.0

_RANGE_TOL = 1e-4  # tolerance for RGB values just outside [0, 1] (float rounding)
_L_TOL = 1e-2  # tolerance for L just outside [0, 100]


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------


def _check_tensor(x, name: str, kind: str, int_hint: str) -> None:
    """Type and dtype checks shared by :func:`check_rgb` and :func:`check_lab`."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor holding {kind}, got {type(x).__name__}. "
            f"Convert it first, e.g. torch.as_tensor(x, dtype=torch.float32)."
        )
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor holding {kind}, got dtype {x.dtype}. {int_hint}"
        )


def _check_channels(x: torch.Tensor, dim: int, name: str) -> int:
    """Return ``dim`` as a non-negative index after checking that axis has size 3."""
    if x.ndim == 0:
        raise ValueError(f"{name} must have a channel axis of size 3, got a 0-d tensor.")
    if not -x.ndim <= dim < x.ndim:
        raise ValueError(
            f"{name} has shape {tuple(x.shape)}, which has no axis dim={dim}. Images are (N, 3, H, W) or "
            f"(3, H, W) with dim=-3; lists of colours are (..., 3) with dim=-1."
        )
    d = dim % x.ndim
    if x.shape[d] != 3:
        raise ValueError(
            f"{name} must have 3 channels on axis dim={dim}, but shape {tuple(x.shape)} has "
            f"{x.shape[d]} there. "
            f"Images are (N, 3, H, W) or (3, H, W) with dim=-3; lists of colours are (..., 3) with dim=-1."
        )
    return d


def check_rgb(rgb: torch.Tensor, name: str = "rgb", dim: int = -3) -> None:
    """Raise a clear error unless ``rgb`` is a finite floating tensor of sRGB values in [0, 1].

    Checks, in order: it is a ``torch.Tensor``; it has a floating dtype (a ``uint8`` image gets the hint
    ``.float() / 255``); axis ``dim`` has size 3; no NaN or inf; values within [0, 1] up to 1e-4.
    A maximum above 1.5 almost always means 0-255 values stored as floats, the most common silent
    error in colorization code (e.g. feeding them to ``rgb2lab``); the message says so.
    """
    _check_tensor(
        rgb,
        name,
        "sRGB values in [0, 1]",
        "For a uint8 image in 0-255 use rgb.float() / 255.",
    )
    _check_channels(rgb, dim, name)
    if rgb.numel() == 0:
        return
    lo, hi = (float(v) for v in torch.aminmax(rgb.detach()))  # NaN and inf show up here too
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name} contains NaN or inf values; expected finite sRGB values in [0, 1].")
    if hi > 1.5:
        raise ValueError(
            f"{name} has values up to {hi:.4g}, but sRGB must be in [0, 1]. It looks like 0-255 values "
            f"stored as floats: divide by 255 first (rgb / 255)."
        )
    if lo < -_RANGE_TOL or hi > 1 + _RANGE_TOL:
        raise ValueError(
            f"{name} has values in [{lo:.4g}, {hi:.4g}], but sRGB must be in [0, 1] "
            f"(tolerance {_RANGE_TOL}). Clamp it with rgb.clamp(0, 1) if the excess is rounding."
        )


def check_lab(lab: torch.Tensor, name: str = "lab", dim: int = -3) -> None:
    """Raise a clear error unless ``lab`` is a finite floating tensor with L in [0, 100].

    ``a`` and ``b`` are only required to be finite (Lab has no hard bounds; sRGB colours have
    ``|a|, |b| < 110``). ``L`` may exceed [0, 100] by 1e-2 (float rounding). A common mistake this
    catches: passing the network-normalised ``(L - 50) / 100`` instead of ``L``.
    """
    _check_tensor(lab, name, "CIE Lab values (L in [0, 100])", "Lab values are real numbers, not integers.")
    d = _check_channels(lab, dim, name)
    if lab.numel() == 0:
        return
    if not torch.isfinite(lab.detach()).all():
        raise ValueError(f"{name} contains NaN or inf values; expected finite Lab values.")
    lo, hi = (float(v) for v in torch.aminmax(lab.detach().select(d, 0)))
    if lo < -_L_TOL or hi > 100 + _L_TOL:
        raise ValueError(
            f"{name}: L (channel 0) is in [{lo:.4g}, {hi:.4g}], but must be in [0, 100]. "
            f"If it is the network-normalised (L - 50) / 100, undo it with unnormalize_l first."
        )


# --------------------------------------------------------------------------------------------------
# The conversions
# --------------------------------------------------------------------------------------------------
#
# Both directions are per-pixel maps of the three channel planes. On the CPU, large inputs are
# processed in chunks of _CHUNK pixels: each elementwise op then reuses small, cache-resident
# buffers instead of allocating (and page-faulting) a fresh full-size tensor, which is 1.5-4x faster
# for a batch of images. Inputs that need a gradient are processed in one piece.

_CHUNK = 1 << 18  # pixels per chunk on the CPU

# The matrices with the white point folded in: rows of XYZ_FROM_RGB divided by the white (RGB -> XYZ/white),
# and the inverse matrix with columns multiplied by it (XYZ/white -> linear RGB).
_XYZ_FROM_RGB64 = torch.tensor(XYZ_FROM_RGB, dtype=torch.float64)
_WHITE64 = torch.tensor(D65_WHITE, dtype=torch.float64)
_XYZN_FROM_RGB = (_XYZ_FROM_RGB64 / _WHITE64[:, None]).tolist()
_RGB_FROM_XYZN = (torch.linalg.inv(_XYZ_FROM_RGB64) * _WHITE64[None, :]).tolist()


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    # half precision is too coarse for the cube root near the knee: compute in float32.
    return x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32


def _power(x: torch.Tensor, p: float, floor: float) -> torch.Tensor:
    """``max(x, floor) ** p`` as exp(p log x), which torch vectorises better than pow on the CPU.

    ``floor`` > 0 keeps the log (and the gradient) finite where torch.where discards the branch.
    """
    return torch.exp(torch.log(x.clamp(min=floor)) * p)


def _mix(m, c0, c1, c2):
    """The three planes of the 3x3 matrix ``m`` (nested lists) applied to planes (c0, c1, c2)."""
    return [m[i][0] * c0 + m[i][1] * c1 + m[i][2] * c2 for i in range(3)]


def _rgb_to_lab_planes(r, g, b):
    def linear(c):  # sRGB companding, IEC 61966-2-1
        return torch.where(c > _SRGB_KNEE, _power((c + 0.055) / 1.055, 2.4, _SRGB_KNEE), c / 12.92)

    def f(t):  # CIE f(t): cube root above the knee, linear below
        return torch.where(t > _LAB_EPS, _power(t, 1.0 / 3.0, _LAB_EPS), _LAB_KAPPA * t + _LAB_OFFSET)

    fx, fy, fz = (f(t) for t in _mix(_XYZN_FROM_RGB, linear(r), linear(g), linear(b)))
    return 116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)


def _f_inv(f):  # the inverse of CIE f(t)
    return torch.where(f > _LAB_KNEE_F, f * f * f, (f - _LAB_OFFSET) / _LAB_KAPPA)


def _companded(c):  # linear light -> sRGB (gamma) value, IEC 61966-2-1
    gamma = 1.055 * _power(c, 1 / 2.4, _SRGB_KNEE_LINEAR) - 0.055
    return torch.where(c > _SRGB_KNEE_LINEAR, gamma, c * 12.92)


def _lab_to_rgb_planes(L, a, b):
    fy = (L + 16.0) / 116.0
    fx = fy + a / 500.0
    fz = (fy - b / 200.0).clamp(min=0.0)  # as skimage: negative Z (far outside any gamut) -> 0
    return [_companded(c) for c in _mix(_RGB_FROM_XYZN, _f_inv(fx), _f_inv(fy), _f_inv(fz))]


def _map_planes(fn, x: torch.Tensor, dim: int) -> torch.Tensor:
    """Apply ``fn(c0, c1, c2) -> (o0, o1, o2)`` to the channel planes of ``x`` along ``dim``."""
    d = dim % x.ndim
    outer, inner = math.prod(x.shape[:d]), math.prod(x.shape[d + 1 :])
    xv = x.reshape(outer, 3, inner)
    work = _compute_dtype(x)
    whole = x.device.type != "cpu" or (x.requires_grad and torch.is_grad_enabled()) or outer * inner <= _CHUNK
    if whole:
        xv = xv.to(work)
        return torch.stack(list(fn(xv[:, 0], xv[:, 1], xv[:, 2])), dim=1).to(x.dtype).reshape(x.shape)
    out = torch.empty(outer, 3, inner, dtype=x.dtype, device=x.device)
    rows = max(1, _CHUNK // inner)  # whole rows of `inner` pixels per chunk, or pieces of one row
    for i in range(0, outer, rows):
        for j in range(0, inner, _CHUNK):
            piece = xv[i : i + rows, :, j : j + _CHUNK].to(work)
            for c, plane in enumerate(fn(piece[:, 0], piece[:, 1], piece[:, 2])):
                out[i : i + rows, c, j : j + _CHUNK] = plane
    return out.reshape(x.shape)


def rgb_to_lab(rgb: torch.Tensor, dim: int = -3, check: bool = True) -> torch.Tensor:
    """Convert sRGB in [0, 1] to CIE Lab (D65).

    Args:
        rgb: floating tensor with a channel axis of size 3 at ``dim``, e.g. ``(N, 3, H, W)`` or
            ``(3, H, W)`` (``dim=-3``) or ``(..., 3)`` (``dim=-1``); values in [0, 1].
        dim: the channel axis.
        check: validate the input with :func:`check_rgb` (costs a device sync on GPU).

    Returns:
        Lab, same shape, dtype and device: ``L`` in [0, 100], ``a``, ``b`` in about [-110, 110].
    """
    if check:
        check_rgb(rgb, dim=dim)
    else:
        _check_channels(rgb, dim, "rgb")
    return _map_planes(_rgb_to_lab_planes, rgb, dim)


def lab_to_rgb(lab: torch.Tensor, dim: int = -3, clip: bool = True, check: bool = True) -> torch.Tensor:
    """Convert CIE Lab (D65) to sRGB.

    Args:
        lab: floating tensor with channels (L, a, b) at ``dim``; ``L`` in [0, 100].
        dim: the channel axis.
        clip: clamp the result to [0, 1]. Lab colours outside the sRGB gamut give values outside
            [0, 1] when ``clip=False`` (useful to measure how far out of gamut a prediction is).
        check: validate the input with :func:`check_lab`.

    Returns:
        sRGB, same shape, dtype and device.

    As in skimage, a negative Z (a very yellow, dark colour, far outside any gamut) is set to 0
    before the inverse companding.
    """
    if check:
        check_lab(lab, dim=dim)
    else:
        _check_channels(lab, dim, "lab")
    rgb = _map_planes(_lab_to_rgb_planes, lab, dim)
    return rgb.clamp(0.0, 1.0) if clip else rgb


# --------------------------------------------------------------------------------------------------
# Network normalisation (Zhang et al.: BaseColor)
# --------------------------------------------------------------------------------------------------


def normalize_l(L: torch.Tensor) -> torch.Tensor:
    """``L`` in [0, 100] -> ``(L - 50) / 100`` in [-0.5, 0.5], the network input."""
    return (L - L_CENT) / L_NORM


def unnormalize_l(l_norm: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`normalize_l`: [-0.5, 0.5] -> [0, 100]."""
    return l_norm * L_NORM + L_CENT


def normalize_ab(ab: torch.Tensor) -> torch.Tensor:
    """``ab`` in about [-110, 110] -> ``ab / 110`` in about [-1, 1], the regression target."""
    return ab / AB_NORM


def unnormalize_ab(ab_norm: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`normalize_ab`."""
    return ab_norm * AB_NORM


# --------------------------------------------------------------------------------------------------
# Conveniences
# --------------------------------------------------------------------------------------------------


def rgb_to_l_ab(rgb: torch.Tensor, check: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Split an sRGB image into lightness and colour.

    Args:
        rgb: ``(N, 3, H, W)`` or ``(3, H, W)`` sRGB in [0, 1].

    Returns:
        ``(L, ab)``: ``L`` of shape ``(N, 1, H, W)`` in [0, 100] and ``ab`` of shape ``(N, 2, H, W)``
        (or ``(1, H, W)`` and ``(2, H, W)`` for a single image), unnormalised.
    """
    lab = rgb_to_lab(rgb, dim=-3, check=check)
    return lab[..., :1, :, :], lab[..., 1:, :, :]


def l_ab_to_rgb(L: torch.Tensor, ab: torch.Tensor, clip: bool = True, check: bool = True) -> torch.Tensor:
    """Join lightness ``(N, 1, H, W)`` in [0, 100] and colour ``(N, 2, H, W)`` into sRGB ``(N, 3, H, W)``.

    Both must be unnormalised (see :func:`unnormalize_l`, :func:`unnormalize_ab`).
    """
    for name, t, c in (("L", L, 1), ("ab", ab, 2)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}.")
        if t.ndim < 3 or t.shape[-3] != c:
            raise ValueError(
                f"{name} must have shape (N, {c}, H, W) or ({c}, H, W), got {tuple(t.shape)}."
            )
    if L.shape[:-3] != ab.shape[:-3] or L.shape[-2:] != ab.shape[-2:]:
        raise ValueError(
            f"L {tuple(L.shape)} and ab {tuple(ab.shape)} must agree in every axis but the channel axis."
        )
    ab = ab.to(L.dtype)
    return lab_to_rgb(torch.cat([L, ab], dim=-3), dim=-3, clip=clip, check=check)


def gray_rgb(rgb: torch.Tensor) -> torch.Tensor:
    """The grey version of an sRGB image as a colorizer sees it: same ``L``, ``ab = 0``, back to RGB.

    Shape ``(N, 3, H, W)`` or ``(3, H, W)`` in, same shape out (R = G = B up to 1e-4).
    """
    L, ab = rgb_to_l_ab(rgb)
    return l_ab_to_rgb(L, torch.zeros_like(ab))


def colorfulness(rgb: torch.Tensor) -> torch.Tensor:
    """Colourfulness metric of Hasler & Suesstrunk (2003), one number per image.

    On 0-255 RGB, with ``rg = R - G`` and ``yb = (R + G) / 2 - B`` over the pixels of an image,
    ``M = sqrt(std(rg)^2 + std(yb)^2) + 0.3 * sqrt(mean(rg)^2 + mean(yb)^2)`` (population std).
    A grey image scores 0; the authors' scale calls about 33 "moderately" and 59 "quite" colourful.

    Args:
        rgb: ``(N, 3, H, W)`` sRGB in [0, 1] (or ``(3, H, W)``).

    Returns:
        ``(N,)`` tensor (a 0-d tensor for a single image), same dtype as the input.
    """
    check_rgb(rgb, dim=-3)
    if rgb.ndim < 3:
        raise ValueError(f"rgb must be (N, 3, H, W) or (3, H, W), got shape {tuple(rgb.shape)}.")
    x = rgb.flatten(-2) * _COLORFULNESS_SCALE  # (..., 3, H*W)
    R, G, B = x.unbind(-2)
    rg = R - G
    yb = 0.5 * (R + G) - B
    sigma = torch.sqrt(rg.var(dim=-1, correction=0) + yb.var(dim=-1, correction=0))
    mu = torch.sqrt(rg.mean(dim=-1) ** 2 + yb.mean(dim=-1) ** 2)
    return sigma + 0.3 * mu


# --------------------------------------------------------------------------------------------------
# Luma (ITU-R BT.601): the grey of Ratajczak et al.'s handcrafted translation H_t
# --------------------------------------------------------------------------------------------------

# The weights of R, G, B in the luma Y' (on gamma-encoded sRGB); in Y'CbCr, Cb = (B - Y') / (2 (1 - 0.114)) and
# Cr = (R - Y') / (2 (1 - 0.299)).
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def handcrafted_grey(rgb: torch.Tensor, dim: int = -3) -> torch.Tensor:
    """The luma ``Y' = 0.299 R + 0.587 G + 0.114 B`` of sRGB values (H_t, Eq. 1 of Ratajczak et al. 2019).

    A weighted sum of the gamma-encoded channels, not the CIE lightness ``L``: at ``L = 55`` a red
    (a, b) = (55, 40) has luma 0.487 and a green (-45, 45) 0.441. ``rgb`` has 3 channels on axis ``dim``; the
    result keeps that axis with size 1 (``(N, 3, H, W)`` -> ``(N, 1, H, W)``), same dtype; linear, so
    differentiable, and no range check.
    """
    _check_tensor(rgb, "rgb", "sRGB values", "For a uint8 image in 0-255 use rgb.float() / 255.")
    d = _check_channels(rgb, dim, "rgb")
    r, g, b = rgb.unbind(d)
    return (LUMA_WEIGHTS[0] * r + LUMA_WEIGHTS[1] * g + LUMA_WEIGHTS[2] * b).unsqueeze(d)


def lightness_to_grey(L: torch.Tensor) -> torch.Tensor:
    """The sRGB grey level (R = G = B, in [0, 1]) whose CIE lightness is ``L`` (in [0, 100]), same shape.

    The sRGB companding of the relative luminance ``Y = f^-1((L + 16) / 116)``: strictly increasing, and the
    luma of that grey is the grey level itself (what ``lab_to_rgb`` gives for ``(L, 0, 0)``, up to 1e-4).
    """
    return _companded(_f_inv((L + 16.0) / 116.0))


def replace_luma(rgb: torch.Tensor, luma: torch.Tensor, dim: int = -3) -> tuple[torch.Tensor, torch.Tensor]:
    """The colour with luma ``luma`` and the chroma of ``rgb``: Y'CbCr (BT.601, H_t's weights) with Y' replaced.

    The chroma vector ``c = rgb - handcrafted_grey(rgb)`` holds (Cb, Cr) (``R - Y' = 1.402 Cr``,
    ``B - Y' = 1.772 Cb``) and has luma 0, so ``luma + s c`` has luma ``luma`` for every ``s``. ``s`` is 1 unless
    that leaves [0, 1]; then it is the largest factor that keeps all three channels inside: the chroma is
    reduced at constant luma and hue (a gamut mapping, where clipping each channel would change the luma).

    Args:
        rgb: 3 channels on axis ``dim``, any real values (e.g. ``lab_to_rgb(..., clip=False)``, out of gamut).
        luma: the target luma in [0, 1], the shape of ``rgb`` with size 1 on axis ``dim``.

    Returns:
        ``(out, s)``: ``out`` in [0, 1] with ``handcrafted_grey(out) == luma`` up to float round-off, and ``s``
        (the shape of ``luma``) the share of the chroma kept, 1 where nothing was reduced.
    """
    chroma = rgb - handcrafted_grey(rgb, dim)
    room = torch.where(chroma > 0, 1.0 - luma, luma).clamp_min(0.0)  # distance to the bound c moves towards
    s = (room / chroma.abs().clamp_min(1e-12)).amin(dim=dim, keepdim=True).clamp(0.0, 1.0)
    return (luma + s * chroma).clamp(0.0, 1.0), s
