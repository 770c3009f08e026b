"""Chapter 8's demo, "watching an unpaired model learn colour", and its figures.

Every model recorded its three pyramid outputs on the first test scenes at a few checkpoints of its training (the
``frames`` buffer of :mod:`.training`): the demo steps through them. Panels: the grey input, G_3, G_2, G_1 and the
real colours; the text gives the checkpoint's step, the MSE and SSIM of G_1 on the evaluation scenes there, and
whether the primary object's colour is on a mode of its class. :func:`live_demo` needs a kernel, :func:`static_demo`
is its HTML twin. :func:`cycle_figure` draws the pseudo-cycle beside CycleGAN's full cycle; :func:`curve_figure` the
MSE and SSIM of the three outputs over training.
"""

from __future__ import annotations

import torch

from reprolib.book.widgets import enlarge, live_explorer, static_explorer
from reprolib.chapters.pseudo_cyclic.measure import primary_on_mode

__all__ = ["PANEL", "PANELS", "DEMO_MODELS", "frame", "live_demo", "static_demo", "cycle_figure", "curve_figure"]

PANEL = 96  # pixels of a panel (nearest neighbour: the colours stay those the model painted)
PANELS = ("grey input", "G_3 (from S/4)", "G_2 (from S/2)", "G_1 (the output)", "real colours")
DEMO_MODELS = {"spynco": "SpyncoGan", "no_contours": "without the contours loss", "colcycle": "Col-Cycle"}


def frame(run, model: str, scene: int, checkpoint: int) -> tuple[list[torch.Tensor], str]:
    """The panels and the text of one (model, demo scene, checkpoint)."""
    net = run.net(model)
    outs = net.frames[checkpoint, scene].cpu()  # (3 outputs, 3, H, W): G_1, G_2, G_3
    grey = run.test["grey"][scene].expand(3, -1, -1)
    truth = run.test["rgb"][scene]
    one = {k: v[scene:scene + 1] for k, v in run.test.items()}
    on = primary_on_mode(run.worlds["test"], one, outs[0][None])
    mode = "hidden" if bool(torch.isnan(on).all()) else ("on a mode of its class" if float(on[0]) else "off-mode")
    step, curve = int(net.steps[checkpoint]), net.curve[checkpoint].cpu()
    text = (f"{DEMO_MODELS.get(model, model)}, update {step} of {run.settings['steps']}: G_1's MSE "
            f"{float(curve[0, 0]):.0f}, SSIM {float(curve[0, 1]):.2f} on the evaluation scenes; "
            f"this scene's primary: {mode}")
    return [enlarge(grey, PANEL), enlarge(outs[2], PANEL), enlarge(outs[1], PANEL), enlarge(outs[0], PANEL), enlarge(truth, PANEL)], text


def _controls(run) -> list:
    s = run.settings
    steps = [int(x) for x in run.net("spynco").steps.tolist()]
    return [("model", "model", "select", [(label, name) for name, label in DEMO_MODELS.items() if name in run.nets]),
            ("scene", "scene", "select", [(f"test scene {i}", i) for i in range(s["demo"])]),
            ("checkpoint", "update", "slider", [(str(st), k) for k, st in enumerate(steps)])]


def live_demo(run):
    return live_explorer(lambda model, scene, checkpoint: frame(run, model, scene, checkpoint), _controls(run),
                         description="Watching an unpaired model learn colour", panel_titles=list(PANELS))


def static_demo(run):
    return static_explorer(lambda model, scene, checkpoint: frame(run, model, scene, checkpoint), _controls(run),
                           title="Watching an unpaired model learn colour (recorded during training)",
                           panel_titles=list(PANELS))


def cycle_figure():
    """CycleGAN's two cycles (two generators, two discriminators) beside the pseudo-cycle (one G, one D, H_t)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))

    def box(ax, x, y, text, fc, w=1.6):
        ax.add_patch(FancyBboxPatch((x - w / 2, y - 0.3), w, 0.6, boxstyle="round,pad=0.05", fc=fc, ec="0.3", lw=0.8))
        ax.text(x, y, text, ha="center", va="center", fontsize=8.5)

    def arrow(ax, x0, y0, x1, y1, label="", color="0.25"):
        ax.annotate("", (x1, y1), (x0, y0), arrowprops=dict(arrowstyle="-|>", lw=1.0, color=color))
        if label:
            ax.text((x0 + x1) / 2, (y0 + y1) / 2 + 0.18, label, ha="center", fontsize=8, color=color)

    for ax, title in zip(axes, ("CycleGAN / Col-Cycle: two learned translations", "SpyncoGan: one learned, one fixed")):
        ax.set_xlim(0, 8)
        ax.set_ylim(0, 3)
        ax.axis("off")
        ax.set_title(title, fontsize=9)
        box(ax, 1.2, 1.5, "grey I\n(domain A)", "#d9d9d9")
        box(ax, 6.8, 1.5, "colour J\n(domain B)", "#fdd86a")
    ax = axes[0]
    arrow(ax, 2.1, 1.8, 5.9, 1.8, "G (learned)")
    arrow(ax, 5.9, 1.2, 2.1, 1.2, "F (learned)")
    ax.text(4, 0.45, "two discriminators (D_A, D_B); cycle I -> G -> F -> I and J -> F -> G -> J", ha="center",
            fontsize=8, style="italic")
    ax = axes[1]
    arrow(ax, 2.1, 1.8, 5.9, 1.8, "G (learned, 3 outputs)")
    arrow(ax, 5.9, 1.2, 2.1, 1.2, "H_t = 0.299 R + 0.587 G + 0.114 B (fixed)", color="#b2182b")
    ax.text(4, 0.45, "one discriminator (D on colour); pseudo-cycles H_t(G(I)) = I and G(H_t(J)) = J", ha="center",
            fontsize=8, style="italic")
    fig.tight_layout()
    return fig


def curve_figure(summary: dict, models=("spynco", "no_osp", "no_contours", "colcycle", "paired")):
    """MSE and SSIM on the evaluation scenes at each checkpoint: the three outputs of SpyncoGan, G_1 of the others."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for j, what in enumerate(("mse", "ssim")):
        ax = axes[j]
        for name in models:
            if name not in summary:
                continue
            c = summary[name]["curve"]
            outs = (0, 1, 2) if name == "spynco" else (0,)
            for i in outs:
                ax.plot(c["steps"], [row[i] for row in c[what]], marker="o", ms=3, lw=1.2,
                        label=f"{name} G_{i + 1}" if name == "spynco" else f"{name} G_1",
                        ls="-" if name == "spynco" else "--")
        ax.set_xlabel("update", fontsize=8)
        ax.set_title("MSE (8-bit scale; lower is better)" if what == "mse" else "SSIM (higher is better)", fontsize=9)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig
