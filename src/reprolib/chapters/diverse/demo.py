"""Chapter 6's demo, "eight futures for one grey scene", and its figures.

Pick a test scene and a method and step through its 8 colorizations: for ours+skip and ours the decoded means
of the 8 MDN components, sorted by their mixture weight; for the CVAE 8 clusters of 256 prior samples, sorted by
size; for Chapter 1 8 independent per-pixel samples. Each frame shows the grey input, the ground truth, the
selected colorization and all 8 at once, and names the mode the object and the ground took, the component's
weight and the true probability of that pair of modes. :func:`live_demo` needs a kernel (any test scene);
:func:`static_demo` precomputes the frames for the HTML.

The figures: :func:`pipeline_figure` (the two stages of Fig. 1), :func:`pi_bars` (the MDN's mass per true mode
against the true probabilities, per class) and :func:`speckle_figure` (Fig. 2's per-pixel samples beside the
MDN's means on the same scene).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import FancyBboxPatch

from reprolib.book.widgets import enlarge, live_explorer, static_explorer
from reprolib.chapters.diverse.measure import (
    MDN_METHODS,
    MODE_RADIUS,
    ch1_probabilities,
    cvae_outputs,
    decode_all,
    mdn_components,
    perpixel_samples,
)
from reprolib.color import l_ab_to_rgb, rgb_to_l_ab
from reprolib.metrics.diversity import NO_REGION, OFF_MODE, scene_region_modes
from reprolib.models.divcolor import COMPONENTS, grey_input

PANEL = 96  # pixels of the single panels (nearest neighbour: the colours stay those the model painted)
TILE = 48  # side of each of the 8 tiles of the overview
METHODS = {"ours_skip": "ours+skip (MDN means)", "ours": "ours (MDN means)", "cvae": "CVAE (8 clusters of 256)",
           "perpixel": "Ch. 1, per-pixel samples"}
PANELS = ("grey input", "ground truth", "this future", "all 8, by weight")


def mosaic(rgbs: torch.Tensor) -> torch.Tensor:
    """(8, 3, H, W) -> one (3, 2 TILE, 4 TILE) image: the first row components 1-4, the second 5-8."""
    tiles = [enlarge(x, TILE) for x in rgbs]
    return torch.cat([torch.cat(tiles[:4], 2), torch.cat(tiles[4:], 2)], 1)


def multimodal_scenes(world, n: int) -> list[int]:
    """Up to ``n`` test scenes whose object has several colour modes, a different class first where possible."""
    labels = world.batch(range(len(world)))["label"].tolist()
    multi = [i for i, c in enumerate(labels) if world.classes[c].num_modes > 1]
    first, seen = [], set()
    for i in multi:
        if labels[i] not in seen:
            first.append(i)
            seen.add(labels[i])
    rest = [i for i in multi if i not in first]
    return (first + rest)[:n]


class Futures:
    """The 8 colorizations of one test scene by each method, with the modes each took."""

    def __init__(self, run, index: int):
        world = run.test_set
        self.world, self.index = world, int(index)
        self.rendered = world.batch([self.index])
        self.L, self.ab = rgb_to_l_ab(self.rendered["rgb"])
        self.cls = int(self.rendered["classes"][0, 0])
        self.run = run
        self._cache: dict = {}

    def grey(self) -> torch.Tensor:
        return enlarge(self.rendered["rgb"][0].mean(0, keepdim=True).expand(3, -1, -1).contiguous(), PANEL)

    def truth(self) -> torch.Tensor:
        return enlarge(l_ab_to_rgb(self.L, self.ab)[0], PANEL)

    @torch.no_grad()
    def method(self, name: str) -> tuple[torch.Tensor, list[float | None]]:
        """(8, 2, H, W) ab of the method's 8 futures and their weights (None for per-pixel samples)."""
        if name not in self._cache:
            run, grey = self.run, grey_input(self.L)
            if name in MDN_METHODS:
                mdn_name, vae_name = MDN_METHODS[name]
                weights, means = mdn_components(run, mdn_name, run.features(self.L))
                out, w = decode_all(run.vae(vae_name), means, grey, run.device)[0], weights[0].tolist()
            elif name == "cvae":
                out = cvae_outputs(run, grey, k=COMPONENTS, seed=run.seed + 7)[0]
                w = [None] * COMPONENTS
            else:
                out = perpixel_samples(ch1_probabilities(run, self.L), self.L.shape[-1], COMPONENTS, run.seed + 7)[0]
                w = [None] * COMPONENTS
            self._cache[name] = (out, w)
        return self._cache[name]

    def describe(self, ab: torch.Tensor) -> tuple[str, float | None]:
        """The modes the object and the ground took in ab (2, H, W), and the true probability of that pair."""
        got = scene_region_modes(self.world, self.rendered, ab[None], radius=MODE_RADIUS)
        k, g = int(got["objects"][0, 0]), int(got["ground"][0])
        cls, ground = self.world.classes[self.cls], self.world.backgrounds[1]
        name = lambda m, modes: "off-mode" if m == OFF_MODE else "too small" if m == NO_REGION else modes[m]  # noqa: E731
        text = f"{cls.name}: {name(k, cls.mode_names)}; ground: {name(g, ground.mode_names)}"
        prob = cls.probs[k] * ground.probs[g] if k >= 0 and g >= 0 else None
        return text, prob

    def frame(self, name: str, component: int) -> tuple[list[torch.Tensor], str]:
        out, weights = self.method(name)
        rgbs = l_ab_to_rgb(self.L.expand(COMPONENTS, -1, -1, -1), out)
        text, prob = self.describe(out[component])
        w = weights[component]
        head = f"future {component + 1} of 8" + (f", weight pi = {w:.2f}" if w is not None else "")
        truth = "" if prob is None else f" (true probability of this pair {prob:.2f})"
        return [self.grey(), self.truth(), enlarge(rgbs[component], PANEL), mosaic(rgbs)], f"{head}: {text}{truth}"


def _controls(views: dict) -> list:
    return [("scene", "scene", "select", [(f"test scene {i} ({v.world.class_names[v.cls]})", i) for i, v in views.items()]),
            ("method", "method", "select", [(label, name) for name, label in METHODS.items()]),
            ("component", "future", "slider", [(f"{k + 1}", k) for k in range(COMPONENTS)])]


def live_demo(run, scenes: int = 12):
    """The live version: any of the first multimodal test scenes, computed when asked."""
    views = {i: Futures(run, i) for i in multimodal_scenes(run.test_set, scenes)}
    return live_explorer(lambda scene, method, component: views[scene].frame(method, component), _controls(views),
                         description="Eight futures for one grey scene", panel_titles=list(PANELS))


def static_demo(run, scenes: int | None = None):
    """The HTML twin: the profile's demo scenes x 4 methods x 8 futures, precomputed."""
    n = run.settings["demo_scenes"] if scenes is None else scenes
    views = {i: Futures(run, i) for i in multimodal_scenes(run.test_set, n)}
    return static_explorer(lambda scene, method, component: views[scene].frame(method, component), _controls(views),
                           title="Eight futures for one grey scene (precomputed)",
                           panel_titles=list(PANELS))


# ---------------------------------------------------------------------------------------------
# Figures


def pipeline_figure():
    """Fig. 1 redrawn: stage 1 embeds colour fields in z (the VAE), stage 2 predicts a mixture over z from grey
    features (the MDN); at test time the MDN's means go through the VAE's decoder."""
    fig, ax = plt.subplots(figsize=(9.5, 3.2))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 3.4)
    ax.axis("off")

    def box(x, y, text, fc, w=1.5):
        ax.add_patch(FancyBboxPatch((x - w / 2, y - 0.28), w, 0.56, boxstyle="round,pad=0.05", fc=fc, ec="0.3", lw=0.8))
        ax.text(x, y, text, ha="center", va="center", fontsize=8.5)

    def arrow(x0, y0, x1, y1, ls="-"):
        ax.annotate("", (x1, y1), (x0, y0), arrowprops=dict(arrowstyle="-|>", lw=0.9, color="0.25", ls=ls))

    ax.text(0.1, 3.25, "stage 1: VAE on colour fields (trained first)", fontsize=9, weight="bold")
    box(0.9, 2.6, "colour field C\n64 x 64 x 2", "#fdd86a")
    box(3.0, 2.6, "encoder Q(z | C)", "white")
    box(5.0, 2.6, "code z (d = 64)", "#e0e0e0")
    box(7.0, 2.6, "decoder f(z, grey)", "white")
    box(9.1, 2.6, "C^ = f(z)", "#fdd86a", 1.3)
    for x0, x1 in ((1.65, 2.25), (3.75, 4.25), (5.75, 6.25), (7.75, 8.45)):
        arrow(x0, 2.6, x1, 2.6)
    ax.text(7.0, 3.05, "Eq. 4: L_hist + 0.1 L_mah + 1e-3 L_grad, + 1e-2 KL", ha="center", fontsize=7.5, color="#b2182b",
            style="italic")
    ax.text(0.1, 1.45, "stage 2: MDN on grey-level features (VAE frozen)", fontsize=9, weight="bold")
    box(0.9, 0.8, "grey image", "#9ecae1")
    box(3.0, 0.8, "Ch. 1 network,\nblock 7 (frozen): G", "white", 1.7)
    box(5.0, 0.8, "MDN: 8 x (pi_i, mu_i)", "white", 1.7)
    box(7.0, 0.8, "top-5 means mu_i", "#e0e0e0")
    for x0, x1 in ((1.65, 2.15), (3.85, 4.15), (5.85, 6.25)):
        arrow(x0, 0.8, x1, 0.8)
    arrow(7.0, 1.1, 7.0, 2.3, ls="--")
    arrow(5.0, 2.3, 5.0, 1.12, ls="--")
    ax.text(5.1, 1.7, "target: mu(C)\n(Eq. 6)", fontsize=7.5, color="#b2182b", style="italic")
    ax.text(7.1, 1.7, "test: decode\neach mean", fontsize=7.5, style="italic")
    fig.tight_layout()
    return fig


def pi_bars(metrics: dict, method: str = "ours_skip"):
    """Per multimodal class: the MDN's mixture mass landing on each true mode (and off-mode) beside the true
    probabilities, averaged over the test scenes of that class."""
    table = metrics["pi"][method]
    names = list(table)
    fig, axes = plt.subplots(1, len(names), figsize=(2.3 * len(names), 2.6), squeeze=False)
    for ax, name in zip(axes[0], names):
        row = table[name]
        probs, mass = row["probs"], row["mass"]
        x = range(len(mass))
        ax.bar([i - 0.2 for i in x], [*probs, 0.0], width=0.4, color="0.6", label="true p")
        ax.bar([i + 0.2 for i in x], mass, width=0.4, color="#2b8cbe", label="MDN mass")
        ax.set_xticks(list(x), [f"mode {i + 1}" for i in range(len(probs))] + ["off"], fontsize=7)
        ax.set_title(f"{name} ({row['scenes']} scenes)", fontsize=9)
        ax.set_ylim(0, 1)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def speckle_figure(run, index: int | None = None):
    """Fig. 2 on ColorWorld: three per-pixel samples of Chapter 1's network beside three MDN means (ours+skip)
    of the same grey scene, and the ground truth."""
    index = multimodal_scenes(run.test_set, 1)[0] if index is None else index
    view = Futures(run, index)
    rows = []
    for name in ("perpixel", "ours_skip"):
        out, _ = view.method(name)
        rows.append(l_ab_to_rgb(view.L.expand(3, -1, -1, -1), out[:3]))
    truth = l_ab_to_rgb(view.L, view.ab)[0]
    fig, axes = plt.subplots(2, 4, figsize=(8, 4.2))
    titles = ("per-pixel sample", "MDN mean")
    for r, imgs in enumerate(rows):
        for c in range(3):
            axes[r, c].imshow(imgs[c].permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
            axes[r, c].set_title(f"{titles[r]} {c + 1}", fontsize=8)
        axes[r, 3].imshow(truth.permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
        axes[r, 3].set_title("ground truth", fontsize=8)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    return fig
