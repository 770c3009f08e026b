"""The "traditional" distortions of the BAPPS dataset (Zhang et al., CVPR 2018; thesis Table 6.2, left).

Section 6.2.1 of the thesis: the "traditional" distortions are standard image operations applied to the
input patches (photometric changes, noise, blur, spatial shifts and corruptions, compression), each with a
parameter for its severity; pairs of them are also applied one after the other. It lists 20 of them; so
does :data:`DISTORTIONS`:

============  =================================================================================
group         distortions
============  =================================================================================
photometric   lightness_shift, color_shift, contrast, saturation
noise         uniform_noise, gaussian_noise, pink_noise, blue_noise, colored_noise, checkerboard
blur          gaussian_blur, bilateral
spatial       shift, affine, homography, linear_warp, cubic_warp, ghosting, chromatic_aberration
compression   jpeg
============  =================================================================================

The thesis names the families but not their parameter ranges; the ranges here are ours (each entry's
``parameter`` says which), chosen so that severity 1 is obvious on a 64 x 64 patch.

Conventions:

* images are float tensors ``(N, 3, H, W)``, sRGB in [0, 1] (LPIPS wants [-1, 1]: the caller converts
  with :func:`to_lpips_range`); the output has the input's shape, dtype and device, clipped to [0, 1];
* ``severity`` is continuous in [0, 1], one number or one per image; severity 0 is the identity (to
  float precision) and the change grows with severity;
* every random draw comes from the explicit ``torch.Generator`` passed as ``rng``, and *how much* is
  drawn does not depend on the severity: two calls from generators in the same state draw the same
  random distortion (the same noise field, shift direction, warp field) and differ only in its
  strength. :mod:`reprolib.chapters.lpips.judgments` relies on it to build pairs whose answer is known;
* pixel sizes (blur widths, shifts) are defined for a 64-pixel patch and scale with ``min(H, W) / 64``.

Computation is in float64 (Lab round trips and resampling are then exact to ~1e-12 at severity 0).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from reprolib.color import check_rgb, lab_to_rgb, rgb_to_lab

__all__ = [
    "GROUPS",
    "Distortion",
    "DISTORTIONS",
    "check_images",
    "check_generator",
    "clone_generator",
    "get_distortion",
    "families",
    "distort",
    "compose",
    "jpeg_quality",
    "to_lpips_range",
]

GROUPS: tuple[str, ...] = ("photometric", "noise", "blur", "spatial", "compression")

MIN_SIDE = 8  # the smallest patch side the distortions accept (one JPEG block)
_REFERENCE_SIDE = 64.0  # pixel parameters are defined for 64 x 64 patches (the BAPPS patch size)

# Float64 tensor of per-image random numbers, shape (N, ...), drawn from the caller's generator.
Draw = Callable[..., torch.Tensor]


# ---------------------------------------------------------------------------------------------------
# Input checks and small helpers
# ---------------------------------------------------------------------------------------------------


def check_images(x: torch.Tensor, name: str = "x") -> None:
    """Raise a clear error unless ``x`` is a float ``(N, 3, H, W)`` batch of sRGB values in [0, 1].

    H and W must be at least 8 pixels. The range check is :func:`reprolib.color.check_rgb`'s (tolerance
    1e-4; it says when the values look like 0-255), plus a hint for images in [-1, 1] (the LPIPS range).
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N, 3, H, W) in [0, 1], got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(
            f"{name} must have shape (N, 3, H, W) (a batch of RGB images), got {tuple(x.shape)}; "
            f"add a batch axis with x[None] for a single image."
        )
    if min(x.shape[-2:]) < MIN_SIDE:
        raise ValueError(f"{name} must be at least {MIN_SIDE} x {MIN_SIDE} pixels, got {tuple(x.shape[-2:])}")
    if x.is_floating_point() and x.numel() and bool(torch.isfinite(x).all()):
        lo, hi = float(x.min()), float(x.max())
        if -1 - 1e-4 <= lo < -1e-4 and hi <= 1 + 1e-4:
            raise ValueError(f"{name} has values in [{lo:.3g}, {hi:.3g}], but must be in [0, 1]; it looks like "
                             f"the [-1, 1] range of LPIPS inputs: convert with (x + 1) / 2")
    check_rgb(x, name=name, dim=1)


def check_generator(rng, name: str = "rng") -> torch.Generator:
    """Raise a TypeError unless ``rng`` is a ``torch.Generator``; return it."""
    if not isinstance(rng, torch.Generator):
        raise TypeError(
            f"{name} must be a torch.Generator (e.g. torch.Generator().manual_seed(0)), got {type(rng).__name__}"
        )
    return rng


def clone_generator(rng: torch.Generator) -> torch.Generator:
    """A new generator in the same state as ``rng``: it will draw exactly what ``rng`` would draw next."""
    check_generator(rng)
    twin = torch.Generator(device=rng.device)
    twin.set_state(rng.get_state())
    return twin


def _severity(severity, n: int) -> torch.Tensor:
    """``severity`` (a number, or one per image) as a float64 tensor of shape (n,), checked to be in [0, 1]."""
    if isinstance(severity, bool) or not isinstance(severity, (int, float, np.integer, np.floating, torch.Tensor)):
        raise TypeError(f"severity must be a number in [0, 1] or a 1-D tensor of them, got {type(severity).__name__}")
    s = torch.as_tensor(severity, dtype=torch.float64).detach().cpu()
    if s.ndim == 0:
        s = s.expand(n)
    elif s.ndim != 1 or s.shape[0] != n:
        raise ValueError(f"severity must be a number or a 1-D tensor with one value per image ({n}), "
                         f"got shape {tuple(s.shape)}")
    if not torch.isfinite(s).all() or (s < 0).any() or (s > 1).any():
        bad = s[~(torch.isfinite(s) & (s >= 0) & (s <= 1))]
        raise ValueError(f"severity must be in [0, 1] (0 = identity, 1 = strongest), got {bad[:4].tolist()}")
    return s.clone()


def _drawer(rng: torch.Generator, n: int, device: torch.device) -> tuple[Draw, Draw]:
    """Uniform and normal float64 draws of shape (n, *shape) from ``rng``, moved to ``device``."""

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand((n, *shape), generator=rng, dtype=torch.float64, device=rng.device).to(device)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn((n, *shape), generator=rng, dtype=torch.float64, device=rng.device).to(device)

    return rand, randn


def _col(v: torch.Tensor) -> torch.Tensor:
    """(N,) -> (N, 1, 1, 1), to broadcast a per-image value over an image batch."""
    return v.reshape(-1, 1, 1, 1)


def _scale(x: torch.Tensor) -> float:
    return min(x.shape[-2:]) / _REFERENCE_SIDE


def _random_sign(u: torch.Tensor) -> torch.Tensor:
    return torch.where(u < 0.5, -1.0, 1.0).to(u)


def _unit_vector(u: torch.Tensor) -> torch.Tensor:
    """A uniform random direction (N, 2) = (dx, dy) from uniforms u (N,)."""
    theta = 2 * math.pi * u
    return torch.stack([torch.cos(theta), torch.sin(theta)], dim=1)


# ---------------------------------------------------------------------------------------------------
# Building blocks: Lab edits, spectral noise, separable blur, resampling
# ---------------------------------------------------------------------------------------------------


def _edit_lab(x: torch.Tensor, edit: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """Apply ``edit`` to the Lab image of ``x`` (float64) and convert back (clipped to the sRGB cube)."""
    return lab_to_rgb(edit(rgb_to_lab(x, check=False)), check=False)


def _spectral_noise(white: torch.Tensor, exponent: torch.Tensor) -> torch.Tensor:
    """Noise with power spectrum ~ 1 / f^a: ``white`` (N, C, H, W) filtered by f^(-a/2), unit std per plane.

    a = 0 white, 1 pink, 2 brown (red), -1 blue, -2 violet. The DC term is removed.
    """
    h, w = white.shape[-2:]
    fy = torch.fft.fftfreq(h, dtype=torch.float64, device=white.device)[:, None]
    fx = torch.fft.fftfreq(w, dtype=torch.float64, device=white.device)[None, :]
    f = torch.sqrt(fx * fx + fy * fy)
    f[0, 0] = 1.0  # any finite value: the DC gain is zeroed below
    gain = f[None, None] ** (-_col(exponent) / 2)
    gain[..., 0, 0] = 0.0
    noise = torch.fft.ifft2(torch.fft.fft2(white) * gain).real
    noise = noise - noise.mean(dim=(-2, -1), keepdim=True)
    return noise / noise.std(dim=(-2, -1), keepdim=True).clamp(min=1e-12)


def _gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur with a per-image width ``sigma`` (N,) in pixels; sigma -> 0 is the identity."""
    n, c, h, w = x.shape
    radius = max(1, min(math.ceil(3 * float(sigma.max())), h - 1, w - 1))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64, device=x.device)
    s = sigma.clamp(min=1e-6)[:, None]
    kernel = torch.exp(-offsets[None] ** 2 / (2 * s * s))  # (N, K); a delta when sigma is tiny
    kernel = (kernel / kernel.sum(dim=1, keepdim=True)).repeat_interleave(c, dim=0)  # (N*C, K)
    # One group per (image, channel), so each image gets its own kernel.
    y = F.pad(x.reshape(1, n * c, h, w), (radius, radius, radius, radius), mode="reflect")
    y = F.conv2d(y, kernel[:, None, :, None], groups=n * c)
    y = F.conv2d(y, kernel[:, None, None, :], groups=n * c)
    return y.reshape(n, c, h, w)


def _bilateral(x: torch.Tensor, sigma_space: torch.Tensor, sigma_range: torch.Tensor) -> torch.Tensor:
    """Bilateral filter (Tomasi & Manduchi 1998): neighbours weighted by distance and by colour difference.

    The range weight uses the Euclidean RGB distance, so the three channels share one weight.
    """
    n, c, h, w = x.shape
    radius = max(1, min(math.ceil(2 * float(sigma_space.max())), h - 1, w - 1))
    ss = _col(sigma_space.clamp(min=1e-6))
    sr = _col(sigma_range.clamp(min=1e-6))
    padded = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    num = torch.zeros_like(x)
    den = torch.zeros_like(x[:, :1])
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            nb = padded[:, :, radius + dy: radius + dy + h, radius + dx: radius + dx + w]
            diff2 = ((nb - x) ** 2).sum(dim=1, keepdim=True)
            weight = torch.exp(-(dx * dx + dy * dy) / (2 * ss * ss) - diff2 / (2 * sr * sr))
            num += weight * nb
            den += weight
    return num / den  # the centre pixel has weight 1, so den >= 1


def _remap(x: torch.Tensor, displacement: torch.Tensor) -> torch.Tensor:
    """Output pixel p takes the (bilinearly interpolated) input at p + displacement(p).

    ``displacement`` is (N, 2, H, W) in pixels, channel 0 = dx, 1 = dy. Borders reflect. Zero
    displacement returns ``x`` (to float64 precision).
    """
    n, _, h, w = x.shape
    ys = torch.arange(h, dtype=torch.float64, device=x.device)
    xs = torch.arange(w, dtype=torch.float64, device=x.device)
    px = xs[None, None, :] + displacement[:, 0]
    py = ys[None, :, None] + displacement[:, 1]
    # pixel centres -> [-1, 1] for grid_sample with align_corners=False
    grid = torch.stack([(2 * px + 1) / w - 1, (2 * py + 1) / h - 1], dim=-1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _constant_displacement(x: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """(N, 2) -> (N, 2, H, W)."""
    return d[:, :, None, None].expand(-1, -1, *x.shape[-2:])


def _pixel_coords(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel coordinates relative to the image centre, each (1, H, W)."""
    h, w = x.shape[-2:]
    ys = torch.arange(h, dtype=torch.float64, device=x.device) - (h - 1) / 2
    xs = torch.arange(w, dtype=torch.float64, device=x.device) - (w - 1) / 2
    return xs[None, None, :].expand(1, h, w), ys[None, :, None].expand(1, h, w)


# ---------------------------------------------------------------------------------------------------
# The 20 distortions. Each is fn(x, s, rand, randn) -> unclipped float64 image, with x float64
# (N, 3, H, W) and s the per-image severity (N,); rand/randn draw per-image random numbers.
# ---------------------------------------------------------------------------------------------------

# photometric ---------------------------------------------------------------------------------------
_LIGHTNESS_MAX = 25.0  # Delta L (Lab units) at severity 1
_COLOR_SHIFT_MAX = 30.0  # |Delta ab| at severity 1
_CONTRAST_MAX = 1.0  # contrast gain 1 + 1.0 * severity
_SATURATION_MAX = 3.0  # chroma gain in [1/3, 3]


def _lightness_shift(x, s, rand, randn):
    sign = _random_sign(rand())
    return _edit_lab(x, lambda lab: lab + torch.stack(
        [_LIGHTNESS_MAX * s * sign, torch.zeros_like(s), torch.zeros_like(s)], dim=1)[:, :, None, None])


def _color_shift(x, s, rand, randn):
    d = _COLOR_SHIFT_MAX * s[:, None] * _unit_vector(rand())
    return _edit_lab(x, lambda lab: lab + torch.cat([torch.zeros_like(s)[:, None], d], dim=1)[:, :, None, None])


def _contrast(x, s, rand, randn):
    mean = x.mean(dim=(1, 2, 3), keepdim=True)  # one grey level per image
    return mean + (1 + _CONTRAST_MAX * _col(s)) * (x - mean)


def _saturation(x, s, rand, randn):
    gain = torch.exp(_random_sign(rand()) * s * math.log(_SATURATION_MAX))
    scale = torch.stack([torch.ones_like(gain), gain, gain], dim=1)[:, :, None, None]
    return _edit_lab(x, lambda lab: lab * scale)


# noise ---------------------------------------------------------------------------------------------
_NOISE_STD = 0.2  # standard deviation of every noise at severity 1
_CHECKER_AMPLITUDE = 0.15


def _uniform_noise(x, s, rand, randn):
    # U(-a, a) has std a / sqrt(3)
    return x + _col(s) * _NOISE_STD * math.sqrt(3) * (2 * rand(*x.shape[1:]) - 1)


def _gaussian_noise(x, s, rand, randn):
    return x + _col(s) * _NOISE_STD * randn(*x.shape[1:])


def _pink_noise(x, s, rand, randn):
    return x + _col(s) * _NOISE_STD * _spectral_noise(randn(*x.shape[1:]), torch.ones_like(s))


def _blue_noise(x, s, rand, randn):
    return x + _col(s) * _NOISE_STD * _spectral_noise(randn(*x.shape[1:]), -torch.ones_like(s))


def _colored_noise(x, s, rand, randn):
    # Spectral exponent between violet (-2) and brown (+2); the channels share a component (correlation
    # rho) and have different gains, so the noise has a colour, not just grain.
    exponent = 4 * rand() - 2
    rho = 0.3 + 0.6 * rand()
    gains = 0.5 + 0.5 * rand(3)
    planes = _spectral_noise(randn(4, *x.shape[2:]), exponent)
    shared, own = planes[:, :1], planes[:, 1:]
    noise = torch.sqrt(_col(rho)) * shared + torch.sqrt(1 - _col(rho)) * own
    return x + _col(s) * _NOISE_STD * gains[:, :, None, None] * noise


def _checkerboard(x, s, rand, randn):
    # The checkerboard artefact of strided transposed convolutions (Odena et al. 2016): a +-1 pattern
    # of cells 1 or 2 pixels wide, random phase, per-channel weights.
    u = rand(5)
    cell = torch.where(u[:, 0] < 0.5, 1.0, 2.0).to(x)
    phase_x, phase_y = torch.floor(u[:, 1] * 2), torch.floor(u[:, 2] * 2)
    weights = (0.5 + 0.5 * rand(3)) * _random_sign(u[:, 3])[:, None]
    h, w = x.shape[-2:]
    ix = torch.floor((torch.arange(w, dtype=torch.float64, device=x.device)[None] + phase_x[:, None]) / cell[:, None])
    iy = torch.floor((torch.arange(h, dtype=torch.float64, device=x.device)[None] + phase_y[:, None]) / cell[:, None])
    pattern = 1 - 2 * torch.remainder(iy[:, :, None] + ix[:, None, :], 2)  # (N, H, W), +-1
    return x + _col(s) * _CHECKER_AMPLITUDE * weights[:, :, None, None] * pattern[:, None]


# blur ----------------------------------------------------------------------------------------------
_BLUR_SIGMA = 2.5  # pixels at severity 1 (64-pixel patch)
_BILATERAL_SPACE = 3.0
_BILATERAL_RANGE = 0.3  # RGB distance


def _gaussian_blur_fn(x, s, rand, randn):
    return _gaussian_blur(x, _BLUR_SIGMA * _scale(x) * s)


def _bilateral_fn(x, s, rand, randn):
    return _bilateral(x, _BILATERAL_SPACE * _scale(x) * s, _BILATERAL_RANGE * s)


# spatial -------------------------------------------------------------------------------------------
_SHIFT_MAX = 6.0  # pixels
_AFFINE_LINEAR = 0.15  # entries of A - I
_AFFINE_TRANSLATION = 3.0  # pixels
_HOMOGRAPHY_LINEAR = 0.1  # in coordinates normalised to [-1, 1]
_HOMOGRAPHY_PERSPECTIVE = 0.15
_WARP_GRID = 5  # control points per side of the smooth warps
_WARP_STD = 2.5  # pixels, std of a control point's displacement
_GHOST_ALPHA = 0.4  # weight of the ghost at severity 1
_GHOST_OFFSET = (2.0, 6.0)  # pixels, range of the ghost's offset (drawn, not scaled by severity)
_ABERRATION_MAX = 2.0  # pixels, shift of red (and, opposite, blue) at severity 1


def _shift(x, s, rand, randn):
    d = _SHIFT_MAX * _scale(x) * s[:, None] * _unit_vector(rand())
    return _remap(x, _constant_displacement(x, d))


def _affine(x, s, rand, randn):
    a = _AFFINE_LINEAR * (2 * rand(2, 2) - 1) * s[:, None, None]  # A - I
    t = _AFFINE_TRANSLATION * _scale(x) * (2 * rand(2) - 1) * s[:, None]
    px, py = _pixel_coords(x)
    dx = a[:, 0, 0, None, None] * px + a[:, 0, 1, None, None] * py + t[:, 0, None, None]
    dy = a[:, 1, 0, None, None] * px + a[:, 1, 1, None, None] * py + t[:, 1, None, None]
    return _remap(x, torch.stack([dx, dy], dim=1))


def _homography(x, s, rand, randn):
    r = 2 * rand(8) - 1
    h, w = x.shape[-2:]
    px, py = _pixel_coords(x)
    qx, qy = px / (w / 2), py / (h / 2)  # centred coordinates in about [-1, 1]

    def e(i, amplitude):
        return (amplitude * r[:, i] * s)[:, None, None]

    num_x = (1 + e(0, _HOMOGRAPHY_LINEAR)) * qx + e(1, _HOMOGRAPHY_LINEAR) * qy + e(2, _HOMOGRAPHY_LINEAR)
    num_y = e(3, _HOMOGRAPHY_LINEAR) * qx + (1 + e(4, _HOMOGRAPHY_LINEAR)) * qy + e(5, _HOMOGRAPHY_LINEAR)
    den = 1 + e(6, _HOMOGRAPHY_PERSPECTIVE) * qx + e(7, _HOMOGRAPHY_PERSPECTIVE) * qy  # >= 0.7
    dx = (num_x / den - qx) * (w / 2)
    dy = (num_y / den - qy) * (h / 2)
    return _remap(x, torch.stack([dx, dy], dim=1))


def _smooth_warp(x, s, randn, mode: str):
    """A random displacement field: control points on a 5 x 5 grid interpolated ``mode``-ly."""
    control = _WARP_STD * _scale(x) * randn(2, _WARP_GRID, _WARP_GRID) * _col(s)
    field = F.interpolate(control, size=x.shape[-2:], mode=mode, align_corners=True)
    return _remap(x, field)


def _linear_warp(x, s, rand, randn):
    return _smooth_warp(x, s, randn, "bilinear")


def _cubic_warp(x, s, rand, randn):
    return _smooth_warp(x, s, randn, "bicubic")


def _ghosting(x, s, rand, randn):
    lo, hi = _GHOST_OFFSET
    u = rand(2)
    d = _scale(x) * (lo + (hi - lo) * u[:, 0])[:, None] * _unit_vector(u[:, 1])
    alpha = _col(_GHOST_ALPHA * s)
    return (1 - alpha) * x + alpha * _remap(x, _constant_displacement(x, d))


def _chromatic_aberration(x, s, rand, randn):
    d = _ABERRATION_MAX * _scale(x) * s[:, None] * _unit_vector(rand())
    red = _remap(x[:, :1], _constant_displacement(x, d))
    blue = _remap(x[:, 2:], _constant_displacement(x, -d))
    return torch.cat([red, x[:, 1:2], blue], dim=1)


# compression ---------------------------------------------------------------------------------------
_JPEG_QUALITY_AT_1 = 5


def jpeg_quality(severity: float) -> float:
    """The (continuous) JPEG quality of a severity: 101 at severity 0 down to 5 at severity 1.

    Quality 101 stands for "not compressed". A fractional quality q is rendered as the linear blend of
    the decoded images at floor(q) and ceil(q), so the distortion is continuous in the severity.
    """
    s = float(_severity(severity, 1)[0])
    return 101.0 - (101.0 - _JPEG_QUALITY_AT_1) * s


def _jpeg_round_trip(image: torch.Tensor, quality: int) -> torch.Tensor:
    """Encode one (3, H, W) float image as an 8-bit JPEG (PIL/libjpeg, 4:2:0) and decode it."""
    if quality > 100:
        return image
    array = (image.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    buffer = io.BytesIO()
    Image.fromarray(array, mode="RGB").save(buffer, format="JPEG", quality=int(quality))
    buffer.seek(0)
    with Image.open(buffer) as im:
        decoded = np.asarray(im.convert("RGB"))
    return torch.from_numpy(decoded.copy()).permute(2, 0, 1).to(image) / 255.0


def _jpeg(x, s, rand, randn):
    out = []
    for image, severity in zip(x, s.tolist()):
        q = 101.0 - (101.0 - _JPEG_QUALITY_AT_1) * severity
        lo = math.floor(q)
        t = q - lo  # in [0, 1)
        blend = (1 - t) * _jpeg_round_trip(image, lo)
        if t > 0:
            blend = blend + t * _jpeg_round_trip(image, lo + 1)
        out.append(blend)
    return torch.stack(out) if out else x.clone()


# ---------------------------------------------------------------------------------------------------
# The registry
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Distortion:
    """One distortion family of Table 6.2 (left).

    Attributes:
        name: registry key, e.g. ``"gaussian_blur"``.
        group: one of :data:`GROUPS`.
        description: what it does.
        parameter: what the severity controls, and its value at severity 1.
        random: whether it draws from ``rng`` (deterministic ones ignore it).
    """

    name: str
    group: str
    description: str
    parameter: str
    random: bool
    fn: Callable[..., torch.Tensor]

    def apply(self, x: torch.Tensor, severity: float | torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """Distort the batch ``x`` (N, 3, H, W) in [0, 1] at ``severity`` in [0, 1] (one, or one per image).

        Draws the random parameters from ``rng`` (the same amount whatever the severity) and returns a
        tensor of ``x``'s shape, dtype and device, clipped to [0, 1].
        """
        check_images(x)
        s = _severity(severity, x.shape[0]).to(x.device)
        check_generator(rng)
        rand, randn = _drawer(rng, x.shape[0], x.device)
        out = self.fn(x.detach().to(torch.float64), s, rand, randn)
        return out.clamp_(0.0, 1.0).to(x.dtype)

    __call__ = apply

    def __repr__(self) -> str:
        return f"Distortion({self.name!r}, group={self.group!r})"


def _entry(name, group, fn, description, parameter, random=True) -> tuple[str, Distortion]:
    return name, Distortion(name, group, description, parameter, random, fn)


DISTORTIONS: dict[str, Distortion] = dict([
    _entry("lightness_shift", "photometric", _lightness_shift, "Lab lightness L shifted up or down",
           f"|Delta L| = {_LIGHTNESS_MAX:g} * severity (Lab units), random sign"),
    _entry("color_shift", "photometric", _color_shift, "Lab ab shifted in a random hue direction",
           f"|Delta ab| = {_COLOR_SHIFT_MAX:g} * severity (Lab units)"),
    _entry("contrast", "photometric", _contrast, "contrast stretch about the image's mean grey level",
           f"gain 1 + {_CONTRAST_MAX:g} * severity", random=False),
    _entry("saturation", "photometric", _saturation, "chroma (ab) scaled up or down",
           f"gain {_SATURATION_MAX:g}^(+-severity), random sign"),
    _entry("uniform_noise", "noise", _uniform_noise, "white noise, uniform per pixel and channel",
           f"std {_NOISE_STD:g} * severity"),
    _entry("gaussian_noise", "noise", _gaussian_noise, "white Gaussian noise per pixel and channel",
           f"std {_NOISE_STD:g} * severity"),
    _entry("pink_noise", "noise", _pink_noise, "Gaussian noise with power spectrum 1/f (per channel)",
           f"std {_NOISE_STD:g} * severity"),
    _entry("blue_noise", "noise", _blue_noise, "Gaussian noise with power spectrum f (per channel)",
           f"std {_NOISE_STD:g} * severity"),
    _entry("colored_noise", "noise", _colored_noise,
           "Gaussian noise with power spectrum 1/f^a, a uniform in [-2, 2] (violet to brown), "
           "correlated across channels with unequal gains",
           f"std up to {_NOISE_STD:g} * severity"),
    _entry("checkerboard", "noise", _checkerboard, "+-1 checkerboard of 1- or 2-pixel cells added",
           f"amplitude up to {_CHECKER_AMPLITUDE:g} * severity"),
    _entry("gaussian_blur", "blur", _gaussian_blur_fn, "separable Gaussian blur",
           f"sigma = {_BLUR_SIGMA:g} px * severity", random=False),
    _entry("bilateral", "blur", _bilateral_fn, "bilateral filter (edge-preserving smoothing)",
           f"sigma_space = {_BILATERAL_SPACE:g} px * severity, sigma_range = {_BILATERAL_RANGE:g} * severity",
           random=False),
    _entry("shift", "spatial", _shift, "sub-pixel translation in a random direction",
           f"{_SHIFT_MAX:g} px * severity"),
    _entry("affine", "spatial", _affine, "random affine warp about the centre",
           f"|A - I| entries up to {_AFFINE_LINEAR:g} * severity, translation up to "
           f"{_AFFINE_TRANSLATION:g} px * severity"),
    _entry("homography", "spatial", _homography, "random projective warp",
           f"linear terms up to {_HOMOGRAPHY_LINEAR:g}, perspective terms up to "
           f"{_HOMOGRAPHY_PERSPECTIVE:g} (normalised coordinates), times severity"),
    _entry("linear_warp", "spatial", _linear_warp,
           f"smooth random displacement field: a {_WARP_GRID}x{_WARP_GRID} grid interpolated bilinearly",
           f"control-point std {_WARP_STD:g} px * severity"),
    _entry("cubic_warp", "spatial", _cubic_warp,
           f"smooth random displacement field: a {_WARP_GRID}x{_WARP_GRID} grid interpolated bicubically",
           f"control-point std {_WARP_STD:g} px * severity"),
    _entry("ghosting", "spatial", _ghosting, "a shifted copy blended in (offset 2-6 px, random)",
           f"ghost weight {_GHOST_ALPHA:g} * severity"),
    _entry("chromatic_aberration", "spatial", _chromatic_aberration,
           "red and blue channels shifted in opposite directions", f"{_ABERRATION_MAX:g} px * severity"),
    _entry("jpeg", "compression", _jpeg, "JPEG round trip (PIL / libjpeg, 4:2:0 chroma subsampling)",
           f"quality 101 - {101 - _JPEG_QUALITY_AT_1} * severity (101 = uncompressed), blended "
           f"between neighbouring integer qualities", random=False),
])


def get_distortion(name: str) -> Distortion:
    """The registry entry ``name``; a ValueError listing the known names otherwise."""
    if not isinstance(name, str) or name not in DISTORTIONS:
        raise ValueError(f"unknown distortion {name!r}; known distortions are {sorted(DISTORTIONS)}")
    return DISTORTIONS[name]


def families(group: str | Sequence[str] | None = None) -> list[str]:
    """Names of the distortions, in registry order; only those of ``group`` (or groups) if given."""
    if group is None:
        return list(DISTORTIONS)
    groups = [group] if isinstance(group, str) else list(group)
    for g in groups:
        if g not in GROUPS:
            raise ValueError(f"unknown group {g!r}; groups are {list(GROUPS)}")
    return [name for name, d in DISTORTIONS.items() if d.group in groups]


def distort(x: torch.Tensor, name: str, severity: float | torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """``DISTORTIONS[name].apply(x, severity, rng)``, with a clear error for an unknown name."""
    return get_distortion(name).apply(x, severity, rng)


def compose(x: torch.Tensor, steps: Sequence[tuple[str, float]], rng: torch.Generator) -> torch.Tensor:
    """Apply distortions one after the other, e.g. ``[("gaussian_blur", 0.3), ("jpeg", 0.6)]``.

    The thesis composes pairs of distortions sequentially "to better explore the space" (sec. 6.2.1).
    Any number of steps >= 1 is accepted; each is clipped to [0, 1] before the next.
    """
    if isinstance(steps, (str, bytes)) or not isinstance(steps, Sequence) or len(steps) == 0:
        raise ValueError(f"steps must be a non-empty sequence of (name, severity) pairs, got {steps!r}")
    parsed = []
    for step in steps:
        if not (isinstance(step, (tuple, list)) and len(step) == 2):
            raise ValueError(f"each step must be a (name, severity) pair, got {step!r}")
        parsed.append((get_distortion(step[0]), step[1]))
    check_images(x)
    for distortion, severity in parsed:
        x = distortion.apply(x, severity, rng)
    return x


def to_lpips_range(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] images -> [-1, 1], the range LPIPS expects (reference-facts section 5.1): ``2 x - 1``."""
    check_images(x)
    return 2 * x - 1
