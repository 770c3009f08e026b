"""The oracle sampler of ColorWorld: the same grey scenes with their colours drawn again.

ColorWorld draws colour independently of everything that shapes the luminance, so p(colour | grey image)
is known exactly; :func:`redraw_colours` samples it. A diverse colorizer's samples are measured against
these (diversity, mode frequencies, coverage), the reference no photo data set can give.
"""

from __future__ import annotations

import numpy as np
import torch

from reprolib.data.colorworld import AB_JITTER, AB_JITTER_MAX, GROUND, ColorWorld, SceneParams
from reprolib.data.scene import NOISE_BANK, _box_muller
from reprolib.validation import checked_by

__all__ = ["redraw_colours"]


def _check_redraw(world, params, seed):
    if not isinstance(world, ColorWorld):
        raise TypeError(f"redraw_colours takes a ColorWorld first, got {type(world).__name__}")
    if not isinstance(params, SceneParams):
        raise TypeError(f"redraw_colours takes the SceneParams of sample_params, got {type(params).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")


@checked_by(_check_redraw)
def redraw_colours(world: ColorWorld, params: SceneParams, seed: int) -> SceneParams:
    """The same scenes with every colour drawn again: the oracle sampler of p(colour | grey image).

    Everything that shapes the luminance (geometry, lighting, textures) is kept; what ColorWorld draws
    independently of it is drawn anew from NumPy's PCG64 seeded with ``seed``: each object's mode (from
    its class's probabilities) and ab jitter, the ground's mode, both background jitters and the window
    of the per-pixel ab noise. Rendering the result (``world.render``) gives a sample of exactly the colour
    distribution the grey image leaves open, the reference every diverse colorizer is measured against.
    """
    rng = np.random.default_rng(int(seed))
    n, m = len(params), world.max_objects
    classes = params.classes.cpu().numpy()
    present = classes >= 0
    cum = world._cumprobs[np.maximum(classes, 0)]  # (N, M, Mmax)
    modes = np.where(present, (rng.random((n, m, 1)) >= cum).sum(-1), -1)
    ground_cum = np.cumsum(GROUND.probs)
    ground = np.minimum((rng.random((n, 1)) >= ground_cum[None, :-1]).sum(1), GROUND.num_modes - 1)
    bg_modes = np.stack([params.background_modes[:, 0].cpu().numpy(), ground], 1)
    jitter = _box_muller(rng.random((n, m)), rng.random((n, m)), AB_JITTER, AB_JITTER_MAX)
    bg_jitter = _box_muller(rng.random((n, 2)), rng.random((n, 2)), AB_JITTER, AB_JITTER_MAX)
    noise_offset = (rng.random((n, 2)) * NOISE_BANK).astype(np.int64)
    device = params.index.device
    f32 = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(device)  # noqa: E731
    return SceneParams(**{**params.__dict__, "modes": torch.from_numpy(modes.astype(np.int64)).to(device),
                          "background_modes": torch.from_numpy(bg_modes.astype(np.int64)).to(device),
                          "jitter": f32(jitter), "background_jitter": f32(bg_jitter),
                          "noise_offset": torch.from_numpy(noise_offset).to(device)})
