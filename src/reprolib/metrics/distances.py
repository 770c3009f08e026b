"""Distances between image patches that need no training: L2 (in Lab or RGB), PSNR and SSIM, each as a
distance (larger = more different), and the value-range conventions of their inputs."""

from __future__ import annotations

import math
from typing import Any

import torch

from reprolib.color import check_rgb, rgb_to_lab
from reprolib.metrics.color import psnr

#: The two value ranges images come in: distance functions take (0, 1), LPIPS and BAPPS use (-1, 1).
VALUE_RANGES = ((0.0, 1.0), (-1.0, 1.0))


# Values may overshoot their declared range by this much (rounding) before we call them out of range.
_RANGE_TOL = 1e-4


def _check_value_range(value_range: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise ValueError(f"value_range must be (0, 1) or (-1, 1), got {value_range!r}") from None
    if (lo, hi) not in VALUE_RANGES:
        raise ValueError(f"value_range must be (0, 1) or (-1, 1), got {value_range!r}")
    return lo, hi


def to_value_range(x: torch.Tensor, source: tuple[float, float], target: tuple[float, float]) -> torch.Tensor:
    """Map images from the value range ``source`` to ``target`` (each ``(0, 1)`` or ``(-1, 1)``).

    ``(0, 1) -> (-1, 1)`` is ``2x - 1`` (the ``normalize=True`` of the reference LPIPS), the other way
    ``(x + 1) / 2``. Equal ranges return ``x`` itself.
    """
    source, target = _check_value_range(source), _check_value_range(target)
    if source == target:
        return x
    return x * 2.0 - 1.0 if source == (0.0, 1.0) else (x + 1.0) / 2.0


def _check_in_range(x: torch.Tensor, value_range: tuple[float, float], name: str) -> None:
    lo, hi = (float(v) for v in torch.aminmax(x.detach()))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name} contains NaN or inf values")
    if lo < value_range[0] - _RANGE_TOL or hi > value_range[1] + _RANGE_TOL:
        hint = " (it looks like 0-255 values: divide by 255)" if hi > 2 else ""
        raise ValueError(
            f"{name} has values in [{lo:.4g}, {hi:.4g}] but value_range={value_range} was declared{hint}"
        )


def _check_images(x0: Any, x1: Any, min_size: int = 1) -> None:
    for name, x in (("x0", x0), ("x1", x1)):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor (N, 3, H, W) of RGB in [0, 1], got {type(x).__name__}")
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"{name} must have shape (N, 3, H, W), got {tuple(x.shape)}")
        if x.is_floating_point() and x.numel() and float(x.detach().min()) < -0.01:
            raise ValueError(
                f"{name} has negative values (min {float(x.detach().min()):.3g}): distance functions take RGB "
                "in [0, 1]; images in [-1, 1] (LPIPS, BAPPS) convert with (x + 1) / 2"
            )
        check_rgb(x, name=name)
    if x0.shape != x1.shape:
        raise ValueError(f"x0 and x1 must have the same shape, got {tuple(x0.shape)} and {tuple(x1.shape)}")
    if min(x0.shape[-2:]) < min_size:
        raise ValueError(f"images must be at least {min_size} x {min_size} pixels, got {tuple(x0.shape[-2:])}")


def _colorspace(colorspace: str) -> str:
    if not isinstance(colorspace, str) or colorspace.lower() not in ("lab", "rgb"):
        raise ValueError(f"colorspace must be 'lab' or 'rgb', got {colorspace!r}")
    return colorspace.lower()


def l2_distance(x0: torch.Tensor, x1: torch.Tensor, colorspace: str = "lab") -> torch.Tensor:
    """Mean squared difference per image, (N,): the paper's "l2" baseline.

    ``colorspace="lab"`` (the default of the released evaluation script, ``--colorspace Lab``; the paper
    does not say) compares CIE Lab values divided by 100; ``"rgb"`` compares the [0, 1] RGB values. The
    reference's ``0.5 * mean(...)`` differs by a constant factor, which changes no 2AFC or JND score.
    """
    _check_images(x0, x1)
    cs = _colorspace(colorspace)
    a, b = x0.detach().double(), x1.detach().double()
    if cs == "lab":
        a, b = rgb_to_lab(a, check=False) / 100.0, rgb_to_lab(b, check=False) / 100.0
    return (a - b).pow(2).flatten(1).mean(1)


def psnr_distance(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """Negative PSNR per image in dB, (N,), so that smaller means closer (RGB in [0, 1], peak 1).

    Identical images give ``-inf`` (infinite PSNR). PSNR is a decreasing function of the RGB MSE, so its
    2AFC and JND scores equal those of ``l2_distance(colorspace="rgb")``.
    """
    _check_images(x0, x1)
    return -psnr(x0.detach(), x1.detach(), data_range=1.0).double()


def ssim_distance(x0: torch.Tensor, x1: torch.Tensor, colorspace: str = "lab") -> torch.Tensor:
    """``1 - SSIM`` per image, (N,), with scikit-image's ``structural_similarity``.

    SSIM (Wang et al. 2004) with scikit-image's defaults (7 x 7 uniform window), computed per channel
    and averaged (``channel_axis``). As in the released evaluation script (``DSSIM``, default
    ``--colorspace Lab``), ``colorspace="lab"`` compares CIE Lab images with ``data_range=100``;
    ``"rgb"`` compares RGB in [0, 1] with ``data_range=1``. The paper only says "SSIM [15]". The
    reference reports ``(1 - SSIM) / 2``, which ranks identically. Images must be at least 7 x 7.
    """
    from skimage.metrics import structural_similarity

    _check_images(x0, x1, min_size=7)
    cs = _colorspace(colorspace)
    a, b = x0.detach().double().cpu(), x1.detach().double().cpu()
    data_range = 1.0
    if cs == "lab":
        a, b, data_range = rgb_to_lab(a, check=False), rgb_to_lab(b, check=False), 100.0
    a, b = a.permute(0, 2, 3, 1).numpy(), b.permute(0, 2, 3, 1).numpy()
    ssim = [structural_similarity(u, v, channel_axis=-1, data_range=data_range) for u, v in zip(a, b)]
    return 1.0 - torch.tensor(ssim, dtype=torch.float64)
