"""Measures of diverse (multimodal) generators: how different their samples are, and, where the true
distribution is known (ColorWorld), how well their samples match it.

* :func:`sample_diversity`: the BicycleGAN protocol (thesis sec. 4.4.1): for each input, the mean distance
  between consecutive samples (with 20 samples, 19 pairs); the distance is LPIPS v0.0 with AlexNet by
  default, as in the paper's Fig. 4.6, or any function of two image batches.
* :func:`random_pairs_diversity`: the same distance between pairs of different real images, the ceiling the
  paper sets beside the models.
* :func:`region_modes`: which true colour mode a region of each image took (the median colour of the region,
  nearest mode within a radius), or none of them: the unit of every mode-frequency measure;
  :func:`scene_region_modes` does it for every object and the ground of rendered ColorWorld scenes.
* :func:`mode_frequencies`, :func:`tv_distance`, :func:`tv_floor`: how often each true mode is generated,
  against the true probabilities, in total variation; a perfect sampler with n draws is not at 0 but at
  :func:`tv_floor`, the expected distance of n draws' frequencies from the probabilities.
* :func:`mode_coverage` and :func:`expected_coverage`: the share of an input's true modes that its k samples
  hit, and what a perfect sampler achieves on average, ``mean_j 1 - (1 - p_j)^k``.
* :func:`latent_recovery_error`: ``mean |E(G(A, z)) - z|`` per sample, the latent regression error.
* :func:`error_of_best` and :func:`output_variance`: Deshpande et al.'s Table 3 (CVPR 2017, sec. 7) for k outputs
  per input, the smallest mean absolute error of one output to the truth, and the population variance across the
  k outputs averaged over pixels and channels; on colour fields ab / 128 they are the paper's Eob and Var.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from reprolib.validation import checked_by

Distance = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

OFF_MODE = -1  # region_modes: the region's colour lies near none of the modes
NO_REGION = -2  # region_modes: the region is absent or too small to judge

__all__ = ["lpips_v0_alex", "sample_diversity", "random_pairs_diversity", "region_modes", "scene_region_modes", "OFF_MODE", "NO_REGION",
           "mode_frequencies", "tv_distance",
           "tv_floor", "mode_coverage", "expected_coverage", "latent_recovery_error", "error_of_best",
           "output_variance"]


def lpips_v0_alex(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """LPIPS v0.0, AlexNet, official weights, between RGB batches in [0, 1]: (N,). The paper's diversity distance."""
    from reprolib.metrics.lpips import lpips_distance

    return lpips_distance(x0, x1, net="alex", version="0.0", normalize=True)


def _check_samples(samples: torch.Tensor) -> None:
    if not isinstance(samples, torch.Tensor) or samples.dim() != 5 or samples.shape[0] < 2:
        raise ValueError("samples must be an (S, N, C, H, W) tensor with S >= 2 samples of each of N inputs, got "
                         f"{tuple(samples.shape) if isinstance(samples, torch.Tensor) else type(samples).__name__}")


def sample_diversity(samples: torch.Tensor, distance: Distance = lpips_v0_alex) -> torch.Tensor:
    """Per input, the mean distance between consecutive samples: (N,) float64.

    ``samples`` (S, N, C, H, W): S samples of each of N inputs (e.g. S = 20 codes z per input). Consecutive
    pairs (0, 1), (1, 2), ..., (S-2, S-1) share no randomness beyond their neighbour, as in the paper.
    """
    _check_samples(samples)
    pairs = [distance(samples[s], samples[s + 1]).to(torch.float64).flatten() for s in range(samples.shape[0] - 1)]
    return torch.stack(pairs).mean(0)


def random_pairs_diversity(images: torch.Tensor, pairs: int, generator: torch.Generator,
                           distance: Distance = lpips_v0_alex) -> torch.Tensor:
    """Distances between ``pairs`` random pairs of *different* real images (N, C, H, W): (pairs,) float64."""
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[0] < 2:
        raise ValueError(f"images must be an (N, C, H, W) tensor of at least 2 images, got "
                         f"{tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__}")
    n = images.shape[0]
    i = torch.randint(0, n, (pairs,), generator=generator)
    j = (i + torch.randint(1, n, (pairs,), generator=generator)) % n  # never i itself
    return distance(images[i], images[j]).to(torch.float64).flatten()


def region_modes(ab: torch.Tensor, masks: torch.Tensor, modes: torch.Tensor, radius: float = 15.0,
                 min_pixels: int = 8) -> torch.Tensor:
    """The mode each image's region took: (N,) long.

    ``ab`` (N, 2, H, W) in ab units, ``masks`` (N, H, W) bool (the region in each image), ``modes`` (M, 2) the
    region's true modes. The region's colour is the per-channel median of its pixels (robust to a few bled or
    blotchy pixels); it takes the nearest mode if that lies within ``radius``, else :data:`OFF_MODE`.
    Regions with fewer than ``min_pixels`` pixels get :data:`NO_REGION`.
    """
    if not isinstance(ab, torch.Tensor) or ab.dim() != 4 or ab.shape[1] != 2:
        raise ValueError(f"ab must be (N, 2, H, W), got {tuple(ab.shape) if isinstance(ab, torch.Tensor) else ab!r}")
    if masks.shape != (ab.shape[0], *ab.shape[2:]) or masks.dtype != torch.bool:
        raise ValueError(f"masks must be a bool (N, H, W) = {(ab.shape[0], *ab.shape[2:])} tensor, got "
                         f"{masks.dtype} {tuple(masks.shape)}")
    modes = torch.as_tensor(modes, dtype=torch.float64)
    if modes.dim() != 2 or modes.shape[1] != 2 or modes.shape[0] < 1:
        raise ValueError(f"modes must be (M, 2) ab points, got {tuple(modes.shape)}")
    out = torch.full((ab.shape[0],), NO_REGION, dtype=torch.int64)
    for i in range(ab.shape[0]):
        m = masks[i]
        if int(m.sum()) < min_pixels:
            continue
        colour = ab[i][:, m].to(torch.float64).median(dim=1).values  # (2,)
        d = (modes - colour).norm(dim=1)
        out[i] = int(d.argmin()) if float(d.min()) <= radius else OFF_MODE
    return out


def scene_region_modes(world, rendered: dict, ab: torch.Tensor, radius: float = 15.0,
                       min_pixels: int = 8) -> dict:
    """Which true mode every region of rendered ColorWorld scenes took in the colours ``ab`` (N, 2, H, W).

    ``rendered`` is what ``world.render`` / ``world.batch`` returned for the same scenes (their visible
    object masks and classes, their ground). Returns ``{"objects": (N, M) long, "ground": (N,) long}``: per
    object slot the index of the mode of its class that the slot's median colour lies within ``radius`` of,
    :data:`OFF_MODE` (-1) if none, :data:`NO_REGION` (-2) for an empty slot or a region under ``min_pixels``
    pixels; the same for the ground (the background below the horizon, objects excluded). The rendered ground
    truth itself gives back its drawn modes (``tests/test_diversity.py``).
    """
    masks, classes = rendered["masks"], rendered["classes"]
    n, m = classes.shape
    if ab.shape[0] != n or ab.shape[2:] != masks.shape[2:]:
        raise ValueError(f"ab {tuple(ab.shape)} does not match the rendered scenes ({n} images of "
                         f"{tuple(masks.shape[2:])} pixels)")
    objects = torch.full((n, m), NO_REGION, dtype=torch.int64)
    for c in range(world.num_classes):
        modes, _ = world.true_ab_distribution(c)
        for slot in range(m):
            rows = (classes[:, slot] == c).nonzero().flatten()
            if len(rows):
                objects[rows, slot] = region_modes(ab[rows], masks[rows, slot], modes, radius, min_pixels)
    ground_mask = rendered["background"].bool() & ~masks.any(1)
    ground_modes, _ = world.true_background_distribution("ground")
    return {"objects": objects, "ground": region_modes(ab, ground_mask, ground_modes, radius, min_pixels)}


def mode_frequencies(modes: torch.Tensor, n_modes: int) -> torch.Tensor:
    """Share of each mode among the mode indices ``modes`` (any shape, values in [0, n_modes)): (n_modes,)."""
    m = torch.as_tensor(modes).flatten().to(torch.int64)
    if m.numel() == 0:
        raise ValueError("no mode indices to count")
    if int(m.min()) < 0 or int(m.max()) >= n_modes:
        raise ValueError(f"mode indices must lie in [0, {n_modes}), got {int(m.min())} .. {int(m.max())}")
    return torch.bincount(m, minlength=n_modes).to(torch.float64) / m.numel()


def tv_distance(p: torch.Tensor, q: torch.Tensor) -> float:
    """Total variation ``1/2 sum |p - q|`` between two distributions over the same modes."""
    p, q = torch.as_tensor(p, dtype=torch.float64), torch.as_tensor(q, dtype=torch.float64)
    if p.shape != q.shape or p.dim() != 1:
        raise ValueError(f"p and q must be 1-D of one length, got {tuple(p.shape)} and {tuple(q.shape)}")
    return float(0.5 * (p - q).abs().sum())


def tv_floor(probs: torch.Tensor, n: int, draws: int = 4000, seed: int = 0) -> float:
    """Expected :func:`tv_distance` between ``probs`` and the frequencies of ``n`` independent draws from it:
    what a perfect sampler scores with n samples (Monte Carlo over ``draws`` repetitions, NumPy PCG64 with
    ``seed``; its standard error is below 1 % of the value for the usual sizes)."""
    p = np.asarray(torch.as_tensor(probs, dtype=torch.float64))
    if p.ndim != 1 or (p < 0).any() or abs(p.sum() - 1) > 1e-6:
        raise ValueError(f"probs must be a 1-D probability vector, got {p.tolist()}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    counts = np.random.default_rng(seed).multinomial(n, p / p.sum(), size=draws)
    return float(0.5 * np.abs(counts / n - p).sum(1).mean())


def mode_coverage(sample_modes: torch.Tensor, probs: torch.Tensor, min_prob: float = 0.0) -> torch.Tensor:
    """Per input, the share of its true modes (those with probability > ``min_prob``) that at least one of its
    samples took. ``sample_modes`` (N, K) mode indices of K samples per input (-1: none of the modes);
    ``probs`` (M,) the modes' probabilities. Returns (N,) float64."""
    p = torch.as_tensor(probs, dtype=torch.float64)
    wanted = p > min_prob
    if not bool(wanted.any()):
        raise ValueError(f"no mode has probability above min_prob={min_prob}")
    s = torch.as_tensor(sample_modes).to(torch.int64)
    if s.dim() != 2:
        raise ValueError(f"sample_modes must be (N, K), got {tuple(s.shape)}")
    hit = (s.unsqueeze(-1) == torch.arange(len(p)).view(1, 1, -1)).any(1)  # (N, M)
    return (hit & wanted).sum(1).to(torch.float64) / int(wanted.sum())


def expected_coverage(probs: torch.Tensor, k: int, min_prob: float = 0.0) -> float:
    """What a perfect sampler's :func:`mode_coverage` is on average with ``k`` samples: the mean over the
    wanted modes of the chance ``1 - (1 - p_j)^k`` that some sample takes mode j."""
    p = torch.as_tensor(probs, dtype=torch.float64)
    wanted = p[p > min_prob]
    if wanted.numel() == 0:
        raise ValueError(f"no mode has probability above min_prob={min_prob}")
    return float((1 - (1 - wanted) ** k).mean())


def latent_recovery_error(z: torch.Tensor, z_hat: torch.Tensor) -> torch.Tensor:
    """``mean_j |z_hat_j - z_j|`` per sample, (N,) float64: how well the encoder recovers the code."""
    if z.shape != z_hat.shape or z.dim() != 2:
        raise ValueError(f"z and z_hat must both be (N, nz), got {tuple(z.shape)} and {tuple(z_hat.shape)}")
    return (z_hat.to(torch.float64) - z.to(torch.float64)).abs().mean(1)



def _shape_of(x) -> str:
    return str(tuple(x.shape)) if isinstance(x, torch.Tensor) else type(x).__name__


def _check_outputs(outputs) -> None:
    if (not isinstance(outputs, torch.Tensor) or outputs.dim() != 5 or outputs.shape[2] != 2
            or outputs.shape[0] < 1 or outputs.shape[1] < 1 or not outputs.is_floating_point()):
        raise ValueError("outputs must be a floating (N, k, 2, H, W) tensor: k colour fields (a and b) for each of "
                         f"N >= 1 inputs, k >= 1, got {_shape_of(outputs)}"
                         + (f" {outputs.dtype}" if isinstance(outputs, torch.Tensor) else ""))


def _check_error_of_best(outputs, truth) -> None:
    _check_outputs(outputs)
    want = (outputs.shape[0], *outputs.shape[2:])
    if not isinstance(truth, torch.Tensor) or tuple(truth.shape) != want or not truth.is_floating_point():
        raise ValueError(f"truth must be a floating (N, 2, H, W) = {want} tensor, one true colour field per input of "
                         f"outputs {tuple(outputs.shape)}, got {_shape_of(truth)}"
                         + (f" {truth.dtype}" if isinstance(truth, torch.Tensor) else ""))


def _check_output_variance(outputs) -> None:
    _check_outputs(outputs)


@checked_by(_check_error_of_best)
def error_of_best(outputs: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Error of the best of k outputs (Table 3's Eob): (N,) float64.

    ``outputs`` (N, k, 2, H, W) and ``truth`` (N, 2, H, W), in the same units; for each input, the smallest
    over its k outputs of the mean absolute error ``mean |out - truth|`` over the 2 H W values (pixels and
    channels). On ab / 128 fields this is the paper's number; times 128 it is in ab units.
    """
    errors = (outputs.to(torch.float64) - truth.to(torch.float64)[:, None]).abs().mean((2, 3, 4))  # (N, k)
    return errors.min(1).values


@checked_by(_check_output_variance)
def output_variance(outputs: torch.Tensor) -> torch.Tensor:
    """Variance of k outputs (Table 3's Var): (N,) float64.

    ``outputs`` (N, k, 2, H, W): for each input, the population variance (divided by k) of every pixel's and
    channel's value across the k outputs, averaged over the 2 H W values. One output gives 0.
    """
    return outputs.to(torch.float64).var(1, correction=0).mean((1, 2, 3))
