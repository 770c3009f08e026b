"""Chapter 3's demo: one grey scene, many colourings.

Pick a test scene and a model and move the code z: the live version (:func:`live_demo`, a kernel needed)
sets the first two of z's dimensions with sliders (the others fixed by a seed); the static version for the
HTML (:func:`static_demo`) walks a straight path between two random codes. Both show the grey input, the
ground truth, the colouring G(A, z), and name the mode each object and the ground took.
"""

from __future__ import annotations

import numpy as np
import torch

from reprolib.book.widgets import enlarge, live_explorer, static_explorer
from reprolib.chapters.bicyclegan.measure import (
    MODE_RADIUS,
    colourings,
    oracle_colourings,
)
from reprolib.color import l_ab_to_rgb, normalize_l, rgb_to_l_ab
from reprolib.metrics.diversity import (
    NO_REGION,
    OFF_MODE,
    lpips_v0_alex,
    scene_region_modes,
)

PANEL = 96  # pixels of each panel (nearest-neighbour upscaling, so the colours stay those the model painted)
PANELS = ("grey input", "ground truth", "G(A, z)")


def mode_names(world, rendered: dict, ab: torch.Tensor) -> str:
    """Which mode each object and the ground took in the colouring ab (1, 2, H, W) of one scene."""
    got = scene_region_modes(world, rendered, ab, radius=MODE_RADIUS)
    parts = []
    for slot, c in enumerate(rendered["classes"][0].tolist()):
        if c < 0:
            continue
        k = int(got["objects"][0, slot])
        cls = world.classes[c]
        what = "too small" if k == NO_REGION else "off-mode" if k == OFF_MODE else cls.mode_names[k]
        parts.append(f"{cls.name}: {what}")
    g = int(got["ground"][0])
    ground = world.backgrounds[1]
    parts.append("ground: " + ("hidden" if g == NO_REGION else "off-mode" if g == OFF_MODE else ground.mode_names[g]))
    return "; ".join(parts)


class SceneView:
    """One test scene of a run, ready to colour: its grey input, ground truth and region layout."""

    def __init__(self, run, index: int):
        self.world, self.index = run.test_set, int(index)
        self.rendered = self.world.batch([self.index])
        self.L, self.ab = rgb_to_l_ab(self.rendered["rgb"])
        self.A = normalize_l(self.L)

    def grey(self) -> torch.Tensor:
        return enlarge(self.rendered["rgb"][0].mean(0, keepdim=True).expand(3, -1, -1).contiguous(), PANEL)

    def truth(self) -> torch.Tensor:
        return enlarge(l_ab_to_rgb(self.L, self.ab)[0], PANEL)

    def colour(self, net, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(ab (1, 2, H, W), rgb (3, H, W)) of G(A, z) for one code z (nz,)."""
        ab = colourings(net, self.A, z.view(1, 1, -1))[0]
        return ab, l_ab_to_rgb(self.L, ab)[0]


def multimodal_scenes(world, n: int) -> list[int]:
    """The first ``n`` scenes of ``world`` whose main object has more than one colour mode (the scenes where a
    colouring has a choice to make; a cheese, say, has one colour and shows nothing of it)."""
    labels = world.batch(range(len(world)))["label"].tolist()
    found = [i for i, c in enumerate(labels) if world.classes[c].num_modes > 1][:n]
    if len(found) < n:
        raise ValueError(f"only {len(found)} of the {len(world)} scenes have a main object with several colour "
                         f"modes; asked for {n}")
    return found


def _code(nz: int, seed: int) -> torch.Tensor:
    return torch.randn(nz, generator=torch.Generator().manual_seed(seed))


def live_demo(run, scenes: int = 6, models: tuple[str, ...] | None = None):
    """Dropdowns for the scene and the model, sliders for z_1 and z_2 (the other dimensions fixed)."""
    names = list(models or run.models)
    views = {i: SceneView(run, i) for i in multimodal_scenes(run.test_set, scenes)}
    values = [round(float(v), 2) for v in np.linspace(-2.5, 2.5, 11)]

    def render(scene, model, z1, z2):
        net, view = run.model(model), views[scene]
        z = _code(net.nz, 1234)
        z[0], z[1] = z1, z2
        ab, rgb = view.colour(net, z)
        return [view.grey(), view.truth(), enlarge(rgb, PANEL)], mode_names(view.world, view.rendered, ab)

    controls = [("scene", "scene", "select", [(f"test scene {i}", i) for i in views]),
                ("model", "model", "select", [(run.model(n).variant.label if "_nz" not in n else n, n) for n in names]),
                ("z1", "z_1", "slider", [(f"{v:+.2f}", v) for v in values]),
                ("z2", "z_2", "slider", [(f"{v:+.2f}", v) for v in values])]
    return live_explorer(render, controls, description="One grey scene, many colourings: move z", width=PANEL,
                         panel_titles=list(PANELS))


def z_path(nz: int, points: int, seed: int) -> torch.Tensor:
    """(points, nz): a straight path from one random code to another."""
    a, b = _code(nz, seed), _code(nz, seed + 1)
    t = torch.linspace(0, 1, points)[:, None]
    return (1 - t) * a + t * b


def static_demo(run, scenes: int | None = None, models: tuple[str, ...] | None = None, points: int | None = None):
    """The HTML twin: scene x model x position on a z path between two random codes, with the modes taken and
    the LPIPS to the previous position (a flat strip when the model ignores z). The oracle's row shows
    independent draws of the true colours instead of a path."""
    s = run.settings
    scenes = s["demo_scenes"] if scenes is None else scenes
    points = s["path_points"] if points is None else points
    names = list(models or run.models)
    views = {i: SceneView(run, i) for i in multimodal_scenes(run.test_set, scenes)}
    cache: dict = {}

    def frames(scene, model):
        if (scene, model) not in cache:
            view = views[scene]
            if model == "oracle":
                abs_ = oracle_colourings(view.world, [view.index], points, run.seed + 5)[:, 0:1]
                rgbs = [l_ab_to_rgb(view.L, a)[0] for a in abs_]
            else:
                net = run.model(model)
                out = [view.colour(net, z) for z in z_path(net.nz, points, run.seed + 5)]
                abs_, rgbs = [o[0] for o in out], [o[1] for o in out]
            step = [None] + [float(lpips_v0_alex(rgbs[k - 1][None], rgbs[k][None])) for k in range(1, points)]
            cache[(scene, model)] = (abs_, rgbs, step)
        return cache[(scene, model)]

    def render(scene, model, position):
        view = views[scene]
        abs_, rgbs, step = frames(scene, model)
        moved = "start of the path" if step[position] is None else f"LPIPS to the previous frame {step[position]:.3f}"
        return [view.grey(), view.truth(), enlarge(rgbs[position], PANEL)], f"{mode_names(view.world, view.rendered, abs_[position])} ({moved})"

    labels = {n: run.model(n).variant.label for n in names}
    labels["oracle"] = "oracle (true colours redrawn)"
    controls = [("scene", "scene", "select", [(f"test scene {i}", i) for i in views]),
                ("model", "model", "select", [(labels[n], n) for n in [*names, "oracle"]]),
                ("position", "position on the z path", "slider", [(f"{k + 1}/{points}", k) for k in range(points)])]
    return static_explorer(render, controls, title="One grey scene, many colourings (precomputed z path)",
                           width=PANEL, panel_titles=list(PANELS))
