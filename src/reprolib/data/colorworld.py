"""ColorWorld: a procedural dataset whose true colour distribution is known (DESIGN section 4.1).

Every image is a small scene: a sky (blue, brighter towards the horizon) over a ground (grass *or*
earth), one large *primary* object near the centre and up to ``max_objects - 1`` smaller distractors.
Each object belongs to one of K classes. A class has its own shape and luminance texture, so it can be
recognised from the grey image alone, and its own colour distribution: a mixture of ab modes with known
probabilities (an apple is red 50 %, green 30 %, yellow 20 %; a leaf is always green).

Rendering happens in CIE Lab (D65), in two independent steps:

1. the luminance L: background gradient and texture, object shapes, their textures and shading; none of
   it depends on which colour mode was drawn;
2. the chrominance ab: per region, the drawn mode plus a small per-image jitter and a tiny per-pixel
   noise.

So the grey image carries no information about the drawn mode, and the true conditional distribution
of an object's ab given the grey image is exactly its class's mode mixture (up to the jitter). This is
what lets the book measure what the papers could only estimate: does a model put mass on every true
mode (Zhang et al. 2016, section 2.1 on multimodality), does rebalancing recover the rare ones, does a
diverse model cover them.

Every mode is kept inside the sRGB gamut over its class's luminance range; ``clipping_report`` measures
what is left. ``grey="luma"`` (opt-in, Chapter 8) renders the same scenes for a grey made by luma,
Y' = 0.299 R + 0.587 G + 0.114 B (:func:`reprolib.color.handcrafted_grey`), instead of L: a pixel's Y' is the
grey level of its rendered L (:func:`reprolib.color.lightness_to_grey`), its chroma (Cb, Cr) that of its Lab
colour (:func:`reprolib.color.replace_luma`), so the luma carries no information about the modes (the L of
the RGB image then does, by a few L units). Every image depends on ``(seed, index)`` only (a counter-based
Philox generator), so an image is the same whatever batch it is rendered in, and ``batch`` renders many
images at once with vectorised torch.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from reprolib.color import handcrafted_grey, lab_to_rgb, lightness_to_grey, replace_luma, rgb_to_lab
from reprolib.data.scene import (
    _UNIT_GEOMETRY,
    NOISE_BANK,
    SceneParams,
    _box_muller,
    _inside,
    _lattice_noise,
    _noise_bank,
    _texture,
    _uniforms,
)

__all__ = [
    "ColorClass",
    "BackgroundRegion",
    "SceneParams",
    "ColorWorld",
    "DEFAULT_CLASSES",
    "SKY",
    "GROUND",
    "SHAPES",
    "TEXTURES",
    "MIN_SIZE",
    "MAX_SIZE",
    "GREY_RENDERS",
]

MIN_SIZE, MAX_SIZE = 32, 256
GREY_RENDERS = ("lstar", "luma")  # what the grey image is: L (the default) or the luma Y' (``grey="luma"``)

# Shapes are defined in a unit frame (circumradius about 1); see ``_inside``.
SHAPES = ("disc", "lens", "square", "star", "ring", "triangle", "bar", "diamond")
# Luminance textures, in the same unit frame; see ``_texture``.
TEXTURES = ("smooth", "stripes", "checker", "rings", "spokes", "dots", "bricks", "noise")


def _check_modes(name: str, l_range, modes, probs, mode_names) -> tuple:
    lo, hi = (float(v) for v in l_range)
    if not (0.0 <= lo < hi <= 100.0):
        raise ValueError(f"{name}: l_range must satisfy 0 <= lo < hi <= 100 (L units), got {l_range}")
    modes = tuple((float(a), float(b)) for a, b in modes)
    probs = tuple(float(p) for p in probs)
    if len(modes) == 0 or len(modes) != len(probs):
        raise ValueError(f"{name}: need one probability per mode, got {len(modes)} modes, {len(probs)} probs")
    if any(p <= 0 for p in probs) or abs(sum(probs) - 1.0) > 1e-6:
        raise ValueError(f"{name}: probs must be positive and sum to 1, got {probs}")
    if any(abs(a) > 110 or abs(b) > 110 for a, b in modes):
        raise ValueError(f"{name}: modes must lie in the ab square [-110, 110]^2, got {modes}")
    mode_names = tuple(mode_names) if mode_names else tuple(f"mode{m}" for m in range(len(modes)))
    if len(mode_names) != len(modes):
        raise ValueError(f"{name}: {len(mode_names)} mode_names for {len(modes)} modes")
    return (lo, hi), modes, probs, mode_names


def _normalise_mixture(obj) -> None:
    """Validate a frozen class/region's luminance range and colour mixture, storing the cleaned values."""
    l_range, modes, probs, names = _check_modes(obj.name, obj.l_range, obj.modes, obj.probs, obj.mode_names)
    for attr, value in (("l_range", l_range), ("modes", modes), ("probs", probs), ("mode_names", names)):
        object.__setattr__(obj, attr, value)


@dataclass(frozen=True)
class ColorClass:
    """One object class of ColorWorld.

    Attributes:
        name: e.g. ``"apple"``.
        shape: one of :data:`SHAPES`.
        texture: one of :data:`TEXTURES` (a luminance pattern; ``"smooth"`` is a shaded sphere).
        l_range: (lo, hi) luminance range in L units [0, 100]; the texture and shading span it.
        modes: the ab colour modes, ((a, b), ...) in ab units.
        probs: their probabilities (positive, sum to 1).
        mode_names: optional readable names of the modes (``"red"``, ...).
    """

    name: str
    shape: str
    texture: str
    l_range: tuple[float, float]
    modes: tuple[tuple[float, float], ...]
    probs: tuple[float, ...]
    mode_names: tuple[str, ...] = field(default=())

    def __post_init__(self):
        if self.shape not in SHAPES:
            raise ValueError(f"{self.name}: unknown shape {self.shape!r}; expected one of {SHAPES}")
        if self.texture not in TEXTURES:
            raise ValueError(f"{self.name}: unknown texture {self.texture!r}; expected one of {TEXTURES}")
        _normalise_mixture(self)

    @property
    def num_modes(self) -> int:
        return len(self.modes)

    def mean_ab(self) -> tuple[float, float]:
        """The probability-weighted mean of the modes: what an L2 regressor converges to (paper sec. 2.1)."""
        a = sum(p * m[0] for p, m in zip(self.probs, self.modes))
        b = sum(p * m[1] for p, m in zip(self.probs, self.modes))
        return a, b


@dataclass(frozen=True)
class BackgroundRegion:
    """A background region (sky or ground): a luminance range and a mixture of ab modes, like a class."""

    name: str
    l_range: tuple[float, float]
    modes: tuple[tuple[float, float], ...]
    probs: tuple[float, ...]
    mode_names: tuple[str, ...] = field(default=())

    def __post_init__(self):
        _normalise_mixture(self)

    @property
    def num_modes(self) -> int:
        return len(self.modes)


# The default world. Every mode, widened by a disc of radius 9 ab units (jitter + noise), stays inside
# the sRGB gamut over the whole l_range of its class (checked numerically when the classes were chosen;
# ``ColorWorld.clipping_report`` measures it on rendered images). Modes of one class are >= 40 ab units
# apart, so that a 15-unit neighbourhood of each mode (metrics.mass_on_modes) is unambiguous.
DEFAULT_CLASSES: tuple[ColorClass, ...] = (
    ColorClass("apple", "disc", "smooth", (50, 64), ((44, 28), (-32, 28), (4, 46)), (0.5, 0.3, 0.2),
               ("red", "green", "yellow")),
    ColorClass("leaf", "lens", "stripes", (35, 55), ((-26, 28),), (1.0,), ("green",)),
    # red and blue are 80 units apart: the mean colour (26, -1) is a dull grey-pink, >= 38 units off every mode.
    ColorClass("car", "square", "checker", (36, 52), ((45, 32), (18, -40), (-28, 26)), (0.45, 0.45, 0.10),
               ("red", "blue", "green")),
    ColorClass("flower", "star", "rings", (55, 70), ((42, -22), (0, 48), (-12, -20)), (0.6, 0.3, 0.1),
               ("pink", "yellow", "blue")),
    ColorClass("tyre", "ring", "spokes", (15, 32), ((0, 0),), (1.0,), ("grey",)),
    ColorClass("cheese", "triangle", "dots", (66, 80), ((-3, 55),), (1.0,), ("yellow",)),
    ColorClass("brick", "bar", "bricks", (36, 50), ((32, 30),), (1.0,), ("brick-red",)),
    ColorClass("fish", "diamond", "noise", (50, 64), ((26, 42), (28, -34)), (0.7, 0.3), ("orange", "purple")),
)
SKY = BackgroundRegion("sky", (60, 80), ((-3, -20),), (1.0,), ("blue",))
GROUND = BackgroundRegion("ground", (32, 52), ((-24, 26), (14, 20)), (0.6, 0.4), ("grass", "earth"))

# Rendering constants (ab units unless noted).
AB_JITTER = 3.0  # per-image, per-region offset of the drawn mode: N(0, 3^2) per channel ...
AB_JITTER_MAX = 7.5  # ... with its length clipped at 2.5 sigma
AB_NOISE = 1.0  # per-pixel noise, per channel, clipped at +-2.5 sigma
PRIMARY_AREA = (0.15, 0.35)  # fraction of the image covered by the (unoccluded, uncropped) primary object
DISTRACTOR_AREA = (0.02, 0.06)
N_BG_UNIFORMS = 16  # uniforms per image for the background and lighting
N_OBJ_UNIFORMS = 12  # uniforms per object slot

GROUND_LATTICE = 12  # the ground's luminance noise: a 12 x 12 lattice of uniforms across the image
OBJECT_LATTICE = 8  # the "noise" texture: an 8 x 8 lattice across the object's unit frame [-1, 1]^2


# ----------------------------------------------------------------------------------------------
# The dataset
# ----------------------------------------------------------------------------------------------

class ColorWorld(Dataset):
    """Procedural scenes with known colour distributions (see the module docstring).

    Args:
        n: number of images (``len(ds)``).
        size: image side H = W in pixels, 32 to 256. Geometry is resolution independent: the same
            (seed, index) gives the same scene at every size.
        seed: non-negative integer; image i depends on (seed, i) only.
        classes: the object classes (default :data:`DEFAULT_CLASSES`, K = 8).
        max_objects: object slots per image: one primary object plus 0 .. max_objects - 1 distractors.
        grey: ``"lstar"`` (default; the grey image is L) or ``"luma"``: the same scenes rendered so that their
            luma is the grey image, whatever the drawn modes (see the module docstring). Adds ``grey``.

    ``ds[i]`` is a dict:
        ``rgb`` (3, H, W) float32 in [0, 1]; ``label`` int, class of the primary object;
        ``classes`` (max_objects,) long, -1 for an absent (or fully hidden) object;
        ``masks`` (max_objects, H, W) bool, the *visible* pixels of each object (disjoint);
        ``modes`` (max_objects,) long, index of the drawn colour mode, -1 when absent;
        ``background`` (H, W) long, 0 sky / 1 ground (the layout behind the objects too);
        ``background_modes`` (2,) long, drawn mode of the sky and of the ground; ``index`` int;
        with ``grey="luma"`` also ``grey`` (1, H, W) float32, the luma of ``rgb`` (``handcrafted_grey(rgb)``).
    ``ds.batch(indices)`` returns the same keys batched (``label`` and ``index`` as (N,) long tensors).
    """

    def __init__(self, n: int, size: int = 64, seed: int = 0, classes: Sequence[ColorClass] | None = None,
                 max_objects: int = 3, grey: str = "lstar"):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n must be a non-negative integer (number of images), got {n!r}")
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not MIN_SIZE <= size <= MAX_SIZE:
            raise ValueError(f"size must be an integer from {MIN_SIZE} to {MAX_SIZE} (pixels), got {size!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2 ** 63:
            raise ValueError(f"seed must be an integer in [0, 2**63), got {seed!r}")
        if isinstance(max_objects, bool) or not isinstance(max_objects, (int, np.integer)) \
                or not 1 <= max_objects <= 8:
            raise ValueError(f"max_objects must be an integer from 1 to 8, got {max_objects!r}")
        if not isinstance(grey, str) or grey not in GREY_RENDERS:
            raise ValueError(f"grey must be one of {GREY_RENDERS} (the grey image is L or the luma), got {grey!r}")
        classes = tuple(DEFAULT_CLASSES if classes is None else classes)
        if len(classes) == 0 or not all(isinstance(c, ColorClass) for c in classes):
            raise TypeError("classes must be a non-empty sequence of ColorClass")
        names = [c.name for c in classes]
        if len(set(names)) != len(names):
            raise ValueError(f"class names must be unique, got {names}")
        looks = [(c.shape, c.texture) for c in classes]
        if len(set(looks)) != len(looks):
            warnings.warn("two classes share shape and texture: they cannot be told apart from luminance",
                          stacklevel=2)
        self.n, self.size, self.seed, self.max_objects = int(n), int(size), int(seed), int(max_objects)
        self.classes, self.grey = classes, grey
        self.backgrounds = (SKY, GROUND)

        # Per-class tables used by the vectorised sampler and renderer.
        k, mmax = len(classes), max(c.num_modes for c in classes)
        self._num_modes = torch.tensor([c.num_modes for c in classes])
        self._mode_ab = torch.zeros(k, mmax, 2)
        cum = np.full((k, mmax), 2.0)  # 2.0 pads: a uniform never exceeds it
        for j, c in enumerate(classes):
            self._mode_ab[j, : c.num_modes] = torch.tensor(c.modes)
            cum[j, : c.num_modes] = np.cumsum(c.probs)
        cum[np.arange(k), self._num_modes.numpy() - 1] = 2.0  # guard against float round-off
        self._cumprobs = cum
        self._l_range = torch.tensor([c.l_range for c in classes], dtype=torch.float32)
        self._unit_area = np.array([_UNIT_GEOMETRY[c.shape][0] for c in classes])
        self._unit_radius = [_UNIT_GEOMETRY[c.shape][1] + 0.01 for c in classes]

    # ------------------------------------------------------------------ metadata
    @property
    def class_names(self) -> list[str]:
        return [c.name for c in self.classes]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def _class_index(self, class_index: int | str) -> int:
        if isinstance(class_index, str):
            if class_index not in self.class_names:
                raise ValueError(f"unknown class {class_index!r}; classes are {self.class_names}")
            return self.class_names.index(class_index)
        if not 0 <= int(class_index) < self.num_classes:
            raise ValueError(f"class_index must be in [0, {self.num_classes}), got {class_index}")
        return int(class_index)

    def true_ab_distribution(self, class_index: int | str) -> tuple[torch.Tensor, torch.Tensor]:
        """The true colour distribution of a class: modes (M, 2) float32 in ab units, probs (M,) float32.

        Because ab is drawn independently of everything visible in the grey image, this is also the true
        conditional distribution of the colour of any pixel of that class given the grey image (up to the
        jitter of AB_JITTER and the per-pixel noise of AB_NOISE ab units). With ``grey="luma"`` too: the luma
        moves an object's median ab by 0.2 ab on average, 1.2 at most (tests/test_colorworld_luma.py).
        """
        c = self.classes[self._class_index(class_index)]
        return torch.tensor(c.modes, dtype=torch.float32), torch.tensor(c.probs, dtype=torch.float32)

    def true_background_distribution(self, region: int | str) -> tuple[torch.Tensor, torch.Tensor]:
        """Like :meth:`true_ab_distribution` for a background region: 0 / ``"sky"``, 1 / ``"ground"``."""
        names = [b.name for b in self.backgrounds]
        idx = names.index(region) if region in names else region
        if not isinstance(idx, (int, np.integer)) or not 0 <= idx < len(names):
            raise ValueError(f"region must be one of {names} or an index < {len(names)}, got {region!r}")
        b = self.backgrounds[idx]
        return torch.tensor(b.modes, dtype=torch.float32), torch.tensor(b.probs, dtype=torch.float32)

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        return (f"ColorWorld(n={self.n}, size={self.size}, seed={self.seed}, "
                f"classes={self.class_names}, max_objects={self.max_objects}"
                + ("" if self.grey == "lstar" else f", grey={self.grey!r}") + ")")

    @classmethod
    def splits(cls, n_train: int, n_test: int, size: int = 64, seed: int = 0,
               **kwargs) -> tuple["ColorWorld", "ColorWorld"]:
        """Train and test sets from disjoint random streams: seeds ``seed`` and ``seed + 2**32``.

        ``seed`` must be below 2**32, so that no other seed below 2**32 can reproduce the test set.
        """
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2 ** 32:
            raise ValueError(f"seed for splits must be an integer in [0, 2**32), got {seed!r}")
        return (cls(n_train, size=size, seed=seed, **kwargs),
                cls(n_test, size=size, seed=int(seed) + 2 ** 32, **kwargs))

    # ------------------------------------------------------------------ sampling
    def _check_indices(self, indices) -> list[int]:
        if isinstance(indices, torch.Tensor):
            indices = indices.reshape(-1).tolist()
        elif isinstance(indices, np.ndarray):
            indices = indices.reshape(-1).tolist()
        elif isinstance(indices, (int, np.integer)):
            raise TypeError("indices must be a sequence of ints; use ds[i] for a single image")
        out = []
        for i in indices:
            if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
                raise TypeError(f"indices must be integers, got {i!r}")
            if not -self.n <= i < self.n:
                raise IndexError(f"index {i} out of range for ColorWorld of length {self.n}")
            out.append(int(i) % self.n)
        return out

    def sample_params(self, indices: Sequence[int]) -> SceneParams:
        """Draw the parameters of the scenes ``indices`` (each from Philox keyed by (seed, index)).

        Indices are not bounds-checked here (a scene exists for every non-negative index).
        """
        idx = [int(i) for i in indices]
        n, m = len(idx), self.max_objects
        g, go = GROUND_LATTICE, OBJECT_LATTICE
        sizes = [N_BG_UNIFORMS, N_OBJ_UNIFORMS * m, g * g, go * go * m]
        u = _uniforms(self.seed, idx, sum(sizes))
        bg, ob, ground_lattice, object_lattice = np.split(u, np.cumsum(sizes)[:-1], axis=1)
        ob = ob.reshape(n, m, N_OBJ_UNIFORMS)
        f32 = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))  # noqa: E731

        # Background and lighting. All transcendental maths is done in float64 NumPy, so a scene's
        # parameters are bit-identical whatever batch it is drawn in.
        horizon = -0.35 + 0.6 * bg[:, 0]
        tilt = -0.2 + 0.4 * bg[:, 1]
        lo, hi = SKY.l_range
        sky_l = np.stack([lo + 0.4 * (hi - lo) * bg[:, 2],  # top of the image: a darker blue
                          lo + 0.6 * (hi - lo) + 0.4 * (hi - lo) * bg[:, 3]], 1)  # horizon: brighter
        glo, ghi = GROUND.l_range
        ground_l = glo + 0.3 * (ghi - glo) + 0.4 * (ghi - glo) * bg[:, 4]
        theta = 2 * np.pi * bg[:, 5]
        light = np.stack([np.cos(theta), np.sin(theta)], 1)
        ground_cum = np.cumsum(GROUND.probs)
        ground_mode = np.minimum((bg[:, 6:7] >= ground_cum[None, :-1]).sum(1), GROUND.num_modes - 1)
        sky_mode = np.zeros(n, dtype=np.int64)  # the sky has one mode
        jit = _box_muller(bg[:, 7:9], bg[:, 9:11], AB_JITTER, AB_JITTER_MAX)  # (N, 2 regions, 2)
        noise_offset = (bg[:, 13:15] * NOISE_BANK).astype(np.int64)
        n_objects = 1 + np.minimum((bg[:, 12] * m).astype(np.int64), m - 1)

        # Objects: classes uniform over K, modes from the class probabilities.
        k = self.num_classes
        cls_ = np.minimum((ob[..., 0] * k).astype(np.int64), k - 1)
        present = np.arange(m)[None, :] < n_objects[:, None]
        cum = self._cumprobs[cls_]  # (N, M, Mmax)
        mode = (ob[..., 1:2] >= cum).sum(-1)
        area = np.where(np.arange(m)[None, :] == 0,
                        PRIMARY_AREA[0] + (PRIMARY_AREA[1] - PRIMARY_AREA[0]) * ob[..., 2],
                        DISTRACTOR_AREA[0] + (DISTRACTOR_AREA[1] - DISTRACTOR_AREA[0]) * ob[..., 2])
        scale = np.sqrt(4.0 * area / self._unit_area[cls_])  # the image is 2 x 2 units
        # Primary near the centre; distractors on a ring around it, so they overlap it only partly.
        primary_xy = -0.2 + 0.4 * ob[..., 3:5]
        phi, dist = 2 * np.pi * ob[..., 3], 0.55 + 0.35 * ob[..., 4]
        distractor_xy = np.stack([dist * np.cos(phi), dist * np.sin(phi)], -1)
        centre = np.where((np.arange(m) == 0)[None, :, None], primary_xy, distractor_xy)
        rot = 2 * np.pi * ob[..., 5]
        rotation = np.stack([np.cos(rot), np.sin(rot)], -1)
        jitter = _box_muller(ob[..., 6], ob[..., 7], AB_JITTER, AB_JITTER_MAX)
        phase = ob[..., 8:10]

        return SceneParams(
            index=torch.tensor(idx, dtype=torch.int64),
            horizon=f32(horizon), tilt=f32(tilt), sky_l=f32(sky_l), ground_l=f32(ground_l), light=f32(light),
            background_modes=torch.from_numpy(np.stack([sky_mode, ground_mode], 1).astype(np.int64)),
            background_jitter=f32(jit), ground_lattice=f32(ground_lattice.reshape(n, g, g)),
            noise_offset=torch.from_numpy(noise_offset),
            classes=torch.from_numpy(np.where(present, cls_, -1)),
            modes=torch.from_numpy(np.where(present, mode, -1)),
            centre=f32(centre), scale=f32(scale), rotation=f32(rotation), jitter=f32(jitter), phase=f32(phase),
            object_lattice=f32(object_lattice.reshape(n, m, go, go)),
        )

    # ------------------------------------------------------------------ rendering
    def render(self, params: SceneParams, mode_override: int | torch.Tensor | None = None,
               background_mode_override: int | torch.Tensor | None = None,
               return_lab: bool = False) -> dict:
        """Render scenes from their parameters (vectorised over the batch; no loop over pixels).

        Args:
            params: from :meth:`sample_params` (on the device to render on).
            mode_override: replaces the drawn colour modes, to show that luminance ignores them: an int
                or an (N, M) long tensor, taken modulo each object's number of modes.
            background_mode_override: the same for (sky, ground): int or (N, 2) long.
            return_lab: also return ``lab`` (N, 3, H, W), the Lab image before the conversion to RGB (with
                ``grey="luma"`` the Lab whose L sets the luma and whose colour sets the chroma).

        Returns:
            dict of batched tensors (see the class docstring).
        """
        device = params.index.device
        n, m, s = len(params), self.max_objects, self.size
        classes, modes = params.classes, params.modes
        present = classes >= 0
        safe_cls = classes.clamp_min(0)
        if mode_override is not None:
            over = torch.as_tensor(mode_override, dtype=torch.int64, device=device).expand(n, m)
            modes = torch.where(present, torch.remainder(over, self._num_modes.to(device)[safe_cls]), -1)
        bg_modes = params.background_modes
        if background_mode_override is not None:
            over = torch.as_tensor(background_mode_override, dtype=torch.int64, device=device).expand(n, 2)
            bg_modes = torch.remainder(over, torch.tensor([SKY.num_modes, GROUND.num_modes], device=device))

        # Pixel centres in normalised coordinates, y pointing down.
        g = (torch.arange(s, device=device, dtype=torch.float32) + 0.5) * (2.0 / s) - 1.0
        x, y = g.view(1, 1, s), g.view(1, s, 1)

        # --- 1. The background. Luminance: a sky gradient above the horizon, a noisy ground below.
        # Chrominance: one ab per region, the drawn mode plus a per-image jitter.
        horizon = params.horizon.view(n, 1, 1) + params.tilt.view(n, 1, 1) * x  # (N, 1, W)
        ground = y > horizon  # (N, H, W)
        frac = ((y + 1.0) / (horizon + 1.0)).clamp(0.0, 1.0)
        sky_top, sky_hor = params.sky_l[:, 0].view(n, 1, 1), params.sky_l[:, 1].view(n, 1, 1)
        l_sky = sky_top + (sky_hor - sky_top) * frac
        glo, ghi = GROUND.l_range
        field = _lattice_noise(params.ground_lattice, x.expand(n, s, s), y.expand(n, s, s))
        l_ground = (params.ground_l.view(n, 1, 1) + 0.3 * (ghi - glo) * (field - 0.5)).clamp(glo, ghi)
        sky_lab = torch.cat([torch.zeros(n, 1, device=device), torch.tensor(SKY.modes, device=device)[
            bg_modes[:, 0]] + params.background_jitter[:, 0]], 1)  # (N, 3) with L = 0 for now
        ground_lab = torch.cat([torch.zeros(n, 1, device=device), torch.tensor(GROUND.modes, device=device)[
            bg_modes[:, 1]] + params.background_jitter[:, 1]], 1)
        lab = torch.where(ground.unsqueeze(-1), ground_lab.view(n, 1, 1, 3), sky_lab.view(n, 1, 1, 3))
        lab[..., 0] = torch.where(ground, l_ground, l_sky)  # lab is channels-last (N, H, W, 3) until the end

        # --- 2. The objects, in painter's order: distractors (slots m-1 .. 1) first, the primary (slot 0)
        # on top. Each is rendered in a square window around it (vectorised over the objects of one
        # class in one slot): L from shape, shading and texture, then ab = mode + jitter, constant.
        owner = torch.full((n, s, s), -1, dtype=torch.int8, device=device)
        lab_flat, owner_flat = lab.view(-1, 3), owner.view(-1)  # views: painting them paints lab, owner
        obj_ab = self._mode_ab.to(device)[safe_cls, modes.clamp_min(0)] + params.jitter  # (N, M, 2)
        for j in list(range(m - 1, 0, -1)) + [0]:
            for k, cc in enumerate(self.classes):
                sel = (classes[:, j] == k).nonzero().view(-1)
                if sel.numel() == 0:
                    continue
                centre, sc = params.centre[sel, j], params.scale[sel, j]
                # Window: w pixels, enough for the largest object of the group, kept inside the image.
                w = min(s, int(math.ceil(float(sc.max()) * self._unit_radius[k] * s)) + 4)
                origin = torch.floor((centre + 1.0) * (s / 2.0) - 0.5 - (w - 1) / 2.0).long().clamp(0, s - w)
                span = torch.arange(w, device=device)
                cols, rows = origin[:, :1] + span, origin[:, 1:] + span  # (S, w) pixel indices
                sc = sc.view(-1, 1, 1)
                dx = (g[cols].unsqueeze(1) - centre[:, 0].view(-1, 1, 1)) / sc  # (S, 1, w)
                dy = (g[rows].unsqueeze(2) - centre[:, 1].view(-1, 1, 1)) / sc  # (S, w, 1)
                cos, sin = params.rotation[sel, j, 0].view(-1, 1, 1), params.rotation[sel, j, 1].view(-1, 1, 1)
                u = cos * dx + sin * dy  # image offsets rotated into the object's frame
                v = cos * dy - sin * dx
                mask = _inside(cc.shape, u, v)  # (S, w, w)
                lx, ly = params.light[sel, 0].view(-1, 1, 1), params.light[sel, 1].view(-1, 1, 1)
                if cc.texture == "smooth":
                    # A Lambertian sphere lit from the light direction, a little towards the viewer.
                    nz = torch.sqrt((1.0 - u * u - v * v).clamp_min(0.0))
                    t = 0.1 + 0.9 * (0.6 * (dx * lx + dy * ly) + 0.8 * nz).clamp(0.0, 1.0)
                else:  # a linear shading along the light direction, and the class's texture
                    shade = (0.5 + 0.5 * (dx * lx + dy * ly)).clamp(0.0, 1.0)
                    ph = params.phase[sel, j].view(-1, 2, 1, 1)
                    lattice = params.object_lattice[sel, j] if cc.texture == "noise" else None
                    t = 0.3 * shade + 0.7 * _texture(cc.texture, u, v, ph[:, 0], ph[:, 1], lattice)
                # Paint the pixels inside the shape: L from t, ab from the object's mode + jitter.
                lo, hi = cc.l_range
                inside = mask.view(-1)
                flat = ((sel.view(-1, 1, 1) * s + rows.unsqueeze(2)) * s + cols.unsqueeze(1)).view(-1)[inside]
                which = torch.arange(len(sel), device=device).repeat_interleave(w * w)[inside]
                l_val = lo + (hi - lo) * t.clamp(0.0, 1.0).expand(-1, w, w).reshape(-1)[inside]
                lab_flat.index_copy_(0, flat, torch.cat([l_val.unsqueeze(1), obj_ab[sel, j][which]], 1))
                owner_flat.index_fill_(0, flat, j)

        # --- 3. A tiny per-pixel noise in ab: a window of a fixed bank of normals; independent of L.
        bank = _noise_bank().to(device)
        span = torch.arange(s, device=device).view(1, s)
        rows = (span + params.noise_offset[:, :1]) % NOISE_BANK  # (N, H)
        cols = (span + params.noise_offset[:, 1:]) % NOISE_BANK  # (N, W)
        at = (rows.view(n, s, 1) * NOISE_BANK + cols.view(n, 1, s)).view(-1)
        lab[..., 1] += AB_NOISE * bank[0].view(-1).index_select(0, at).view(n, s, s)
        lab[..., 2] += AB_NOISE * bank[1].view(-1).index_select(0, at).view(n, s, s)

        if self.grey == "luma":  # the luma is L's grey level; the chroma is the Lab colour's, fitted into the gamut
            grey = lightness_to_grey(lab[..., 0]).unsqueeze(1)
            rgb = lab_to_rgb(lab, dim=-1, clip=False, check=False).permute(0, 3, 1, 2)
            rgb = replace_luma(rgb, grey)[0].contiguous()
        else:
            rgb = lab_to_rgb(lab, dim=-1, clip=True, check=False).permute(0, 3, 1, 2).contiguous()

        masks = owner.unsqueeze(1) == torch.arange(m, device=device, dtype=torch.int8).view(1, m, 1, 1)
        visible = masks.flatten(2).any(-1)
        classes = torch.where(visible, classes, -1)
        out = {
            "rgb": rgb.to(torch.float32), "label": classes[:, 0].clone(), "classes": classes, "masks": masks,
            "modes": torch.where(visible, modes, -1), "background": ground.long(),
            "background_modes": bg_modes.clone(), "index": params.index.clone(),
        }
        if self.grey == "luma":
            out["grey"] = grey.contiguous()
        if return_lab:
            out["lab"] = lab.permute(0, 3, 1, 2).contiguous()
        return out

    def _render_indices(self, indices: list[int], device=None, return_lab: bool = False,
                        chunk_pixels: int = 2 ** 21) -> dict:
        """Render in chunks of about ``chunk_pixels`` pixels (bounds memory at large sizes)."""
        per = max(1, chunk_pixels // (self.size * self.size))
        parts = []
        for start in range(0, len(indices), per):
            params = self.sample_params(indices[start: start + per])
            if device is not None:
                params = params.to(device)
            parts.append(self.render(params, return_lab=return_lab))
        if not parts:
            return self.render(self.sample_params([]), return_lab=return_lab)
        if len(parts) == 1:
            return parts[0]
        return {key: torch.cat([p[key] for p in parts]) for key in parts[0]}

    def batch(self, indices, device: str | torch.device | None = None, return_lab: bool = False) -> dict:
        """Render the images ``indices`` at once: a dict of batched tensors (see the class docstring).

        Row j equals ``ds[indices[j]]`` whatever the other indices are (labels and masks exactly, ``rgb``
        up to float round-off, < 1e-6). ``device`` renders there (e.g. a GPU); ``return_lab`` adds the
        rendered Lab image ``lab`` (N, 3, H, W) before the conversion to RGB.
        """
        return self._render_indices(self._check_indices(indices), device=device, return_lab=return_lab)

    def __getitem__(self, i: int) -> dict:
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"ColorWorld index must be an int, got {type(i).__name__}; use ds.batch(indices)")
        out = self.batch([i])
        item = {k: v[0] for k, v in out.items()}
        item["label"], item["index"] = int(item["label"]), int(item["index"])
        return item

    # ------------------------------------------------------------------ measurements
    def clipping_report(self, n: int = 256, threshold: float = 1.0) -> dict:
        """How much of the rendered Lab survives the conversion to sRGB, over the first ``n`` scenes.

        Each pixel is rendered in Lab, converted to RGB (clipped to [0, 1]) and back; a pixel counts as
        clipped when the round trip moves it by more than ``threshold`` Delta-E (CIE76, Lab units). With
        ``grey="luma"`` the reference is the colour at its luma before its chroma was fitted into the gamut.

        Returns:
            dict: ``fraction`` (all pixels), ``sky``, ``ground`` (visible background pixels),
            ``classes`` {name: fraction of that class's visible pixels}, ``mean_delta_e`` and
            ``max_delta_e`` over all pixels, ``n_images``.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        out = self._render_indices(list(range(int(n))), return_lab=True)
        ref = out["lab"].double()
        if self.grey == "luma":
            unfitted = lab_to_rgb(ref, clip=False, check=False)
            ref = rgb_to_lab(out["grey"].double() + unfitted - handcrafted_grey(unfitted), check=False)
        delta = (rgb_to_lab(out["rgb"].double(), dim=-3) - ref).norm(dim=1)  # (N, H, W)
        clipped = delta > threshold
        objects = out["masks"].any(1)
        frac = lambda sel: float(clipped[sel].float().mean()) if bool(sel.any()) else float("nan")  # noqa: E731
        per_class = {}
        for k, name in enumerate(self.class_names):
            sel = (out["masks"] & (out["classes"] == k).view(*out["classes"].shape, 1, 1)).any(1)
            per_class[name] = frac(sel)
        return {
            "fraction": float(clipped.float().mean()),
            "sky": frac(~objects & (out["background"] == 0)),
            "ground": frac(~objects & (out["background"] == 1)),
            "classes": per_class,
            "mean_delta_e": float(delta.mean()),
            "max_delta_e": float(delta.max()),
            "n_images": int(n),
        }
