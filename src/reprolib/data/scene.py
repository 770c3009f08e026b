"""ColorWorld's building blocks: the parameters of a batch of scenes (:class:`SceneParams`), counter-based
randomness, and shapes and textures in an object's frame.

Everything random in image i comes from a Philox generator keyed by ``(seed, i)`` (:func:`_uniforms`),
so an image never depends on the batch it is rendered in. Shapes and luminance textures are defined in
the object's unit frame (u along the object's axis, v across it, circumradius about 1); the renderer in
:mod:`reprolib.data.colorworld` maps pixels into that frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np
import torch

NOISE_BANK = 512  # per-pixel ab noise is a window of a fixed 2 x 512 x 512 bank of normals


# ----------------------------------------------------------------------------------------------
# Scene parameters: what ColorWorld.sample_params draws and ColorWorld.render renders
# ----------------------------------------------------------------------------------------------

@dataclass
class SceneParams:
    """Everything that defines a batch of N scenes with M object slots (float tensors are float32).

    Geometry is in normalised image coordinates: x, y in [-1, 1], y pointing down. Slot 0 is the primary
    object (drawn last, on top); slots 1.. are distractors (drawn first).
    """

    index: torch.Tensor  # (N,) long, dataset indices
    horizon: torch.Tensor  # (N,) y of the horizon at x = 0
    tilt: torch.Tensor  # (N,) slope dy/dx of the horizon
    sky_l: torch.Tensor  # (N, 2) sky luminance at the top and at the horizon
    ground_l: torch.Tensor  # (N,) mean ground luminance
    light: torch.Tensor  # (N, 2) unit vector towards the light (image plane)
    background_modes: torch.Tensor  # (N, 2) long: drawn mode of the sky, of the ground
    background_jitter: torch.Tensor  # (N, 2, 2) ab offset of sky, ground
    ground_lattice: torch.Tensor  # (N, G, G) uniforms of the ground's luminance noise
    noise_offset: torch.Tensor  # (N, 2) long, window of the per-pixel ab noise bank (rows, columns)
    classes: torch.Tensor  # (N, M) long, -1 for an empty slot
    modes: torch.Tensor  # (N, M) long, -1 for an empty slot
    centre: torch.Tensor  # (N, M, 2) (x, y)
    scale: torch.Tensor  # (N, M) size of the unit shape
    rotation: torch.Tensor  # (N, M, 2) (cos, sin) of the rotation
    jitter: torch.Tensor  # (N, M, 2) ab offset from the mode
    phase: torch.Tensor  # (N, M, 2) texture phases in [0, 1)
    object_lattice: torch.Tensor  # (N, M, g, g) uniforms of the "noise" texture

    def to(self, device) -> "SceneParams":
        return SceneParams(**{k: v.to(device) for k, v in self.__dict__.items()})

    def __len__(self) -> int:
        return int(self.index.shape[0])


# ----------------------------------------------------------------------------------------------
# Counter-based randomness: everything random in image i comes from Philox keyed by (seed, i).
# ----------------------------------------------------------------------------------------------

def _uniforms(seed: int, indices: Sequence[int], count: int) -> np.ndarray:
    """(N, count) float64 uniforms in [0, 1); row j depends only on (seed, indices[j])."""
    out = np.empty((len(indices), count), dtype=np.float64)
    for j, i in enumerate(indices):
        key = np.array([seed, i], dtype=np.uint64)
        out[j] = np.random.Generator(np.random.Philox(key=key)).random(count)
    return out


@lru_cache(maxsize=None)
def _noise_bank() -> torch.Tensor:
    """(2, NOISE_BANK, NOISE_BANK) float32 standard normals, clipped at +-2.5, from a fixed Philox key."""
    gen = np.random.Generator(np.random.Philox(key=np.array([0xC010, 0x4D], dtype=np.uint64)))
    bank = gen.standard_normal((2, NOISE_BANK, NOISE_BANK)).clip(-2.5, 2.5)
    return torch.from_numpy(bank.astype(np.float32))


def _lattice_noise(lattice: torch.Tensor, gx: torch.Tensor, gy: torch.Tensor) -> torch.Tensor:
    """Smooth value noise in [0, 1]: a lattice of uniforms (S, G, G), bicubic-interpolated at (gx, gy).

    gx, gy: (S, H, W) coordinates in [-1, 1] (the lattice's corners; outside, the border is repeated).
    """
    grid = torch.stack([gx, gy], -1)
    out = torch.nn.functional.grid_sample(lattice.unsqueeze(1), grid, mode="bicubic", padding_mode="border",
                                          align_corners=True)
    return out.squeeze(1).clamp(0.0, 1.0)


def _box_muller(u1: np.ndarray, u2: np.ndarray, sigma: float, max_norm: float) -> np.ndarray:
    """(..., 2) Gaussian pairs N(0, sigma^2 I) from uniforms, with their length clipped at max_norm."""
    r = np.sqrt(-2.0 * np.log1p(-u1)) * sigma
    z = np.stack([r * np.cos(2 * np.pi * u2), r * np.sin(2 * np.pi * u2)], -1)
    norm = np.linalg.norm(z, axis=-1, keepdims=True)
    return z * np.minimum(1.0, max_norm / np.maximum(norm, 1e-12))


# ----------------------------------------------------------------------------------------------
# Shapes and textures in the object's unit frame (u along the object's axis, v across it).
# ----------------------------------------------------------------------------------------------

_TRI_NORMALS = [(math.cos(a), math.sin(a)) for a in (math.pi / 2, math.pi / 2 + 2 * math.pi / 3,
                                                     math.pi / 2 + 4 * math.pi / 3)]


def _inside(shape: str, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Boolean mask of the unit shape (circumradius ~1) at local coordinates (u, v)."""
    if shape == "disc":
        return u * u + v * v <= 1.0
    if shape == "lens":  # intersection of two discs: a leaf with points at (+-1, 0), half-width 0.36
        c = 1.2
        return u * u + (v.abs() + c) ** 2 <= 1.0 + c * c
    if shape == "square":
        return torch.maximum(u.abs(), v.abs()) <= 0.7071
    if shape == "star":  # five rounded petals
        r = torch.sqrt(u * u + v * v)
        return r <= 0.62 + 0.38 * torch.cos(5.0 * torch.atan2(v, u))
    if shape == "ring":
        r2 = u * u + v * v
        return (r2 <= 1.0) & (r2 >= 0.55 ** 2)
    if shape == "triangle":  # equilateral, circumradius 1, inradius 0.5
        out = torch.ones_like(u, dtype=torch.bool)
        for nx, ny in _TRI_NORMALS:
            out = out & (u * nx + v * ny <= 0.5)
        return out
    if shape == "bar":
        return (u.abs() <= 1.0) & (v.abs() <= 0.4)
    if shape == "diamond":
        return u.abs() + v.abs() / 0.6 <= 1.0
    raise ValueError(f"unknown shape {shape!r}")


def _lens_area(c: float) -> float:
    r2 = 1.0 + c * c  # two discs of radius sqrt(1 + c^2) centred at (0, +-c): their intersection
    return 2.0 * r2 * math.acos(c / math.sqrt(r2)) - 2.0 * c


# (area, bounding radius) of each unit shape, in closed form: the area turns a target image coverage
# into a scale, the radius bounds the window rendered around an object.
_UNIT_GEOMETRY = {
    "disc": (math.pi, 1.0),
    "lens": (_lens_area(1.2), 1.0),
    "square": (4 * 0.7071 ** 2, 0.7071 * math.sqrt(2)),
    "star": (math.pi * (0.62 ** 2 + 0.38 ** 2 / 2), 1.0),  # (1/2) * integral of r(theta)^2
    "ring": (math.pi * (1 - 0.55 ** 2), 1.0),
    "triangle": (3 * math.sqrt(3) / 4, 1.0),  # equilateral with circumradius 1
    "bar": (2.0 * 0.8, math.sqrt(1 + 0.4 ** 2)),
    "diamond": (2.0 * 0.6, 1.0),
}


def _texture(texture: str, u, v, phase_u, phase_v, lattice) -> torch.Tensor:
    """Luminance pattern in [0, 1] at local coordinates; phases in [0, 1) shift it per object.

    ``lattice``: (S, G, G) uniforms, the object's own field for the ``"noise"`` texture.
    """
    if texture == "stripes":  # chevrons, like the veins of a leaf
        return 0.5 + 0.5 * torch.cos(2 * math.pi * (2.5 * (u + 1.2 * v.abs()) + phase_u))
    if texture == "checker":
        cells = torch.floor(2.5 * u + phase_u) + torch.floor(2.5 * v + phase_v)
        return 0.2 + 0.6 * torch.remainder(cells, 2.0)
    if texture == "rings":
        r = torch.sqrt(u * u + v * v)
        return 0.5 + 0.5 * torch.cos(2 * math.pi * (2.5 * r + phase_u))
    if texture == "spokes":  # tyre tread
        angle = torch.atan2(v, u)
        return torch.where(torch.cos(12.0 * angle + 2 * math.pi * phase_u) > 0, 0.85, 0.15)
    if texture == "dots":  # holes on a square lattice of period 0.45
        px = torch.remainder(u / 0.45 + phase_u, 1.0) - 0.5
        py = torch.remainder(v / 0.45 + phase_v, 1.0) - 0.5
        return torch.where(px * px + py * py < 0.3 ** 2, 0.1, 0.9)
    if texture == "bricks":  # rows of bricks with mortar, every other row shifted by half a brick
        row = v / 0.28 + phase_v
        col = u / 0.55 + phase_u + 0.5 * torch.remainder(torch.floor(row), 2.0)
        mortar = (torch.remainder(row, 1.0) < 0.15) | (torch.remainder(col, 1.0) < 0.08)
        return torch.where(mortar, 0.05, 0.85)
    if texture == "noise":
        # blotches: smooth value noise with its contrast stretched 3x (then clipped)
        return (3.0 * _lattice_noise(lattice, u.expand_as(v), v.expand_as(u)) - 1.0).clamp(0.0, 1.0)
    raise ValueError(f"unknown texture {texture!r}")
