"""Chapter 3's diagram of the six models (the thesis's Fig. 4.2, redrawn from ``VARIANTS``).

Each panel draws a model's cycles from its :class:`~reprolib.models.bicyclegan.Variant` flags: the encoded
cycle B -> z -> B^ (with the KL term when the code is sampled), the random cycle z -> B^ (with the latent
regression back to z, and whether E is trained or frozen there), the discriminator each cycle meets, and
the L1 terms against the ground truth. Nothing in the picture is typed by hand per model.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

COLOURS = {"A": "#9ecae1", "B": "#c7a17a", "B^": "#fdd86a", "z": "#e0e0e0", "net": "#ffffff", "D": "#f4b6b6"}
LOSS = "#b2182b"


def _node(ax, x, y, text, kind, w=0.7):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - 0.3), w, 0.6, boxstyle="round,pad=0.04", fc=COLOURS[kind], ec="0.3",
                                lw=0.8))
    ax.text(x, y, text, ha="center", va="center", fontsize=8.5)


def _arrow(ax, x0, y0, x1, y1, color="0.25", ls="-"):
    ax.annotate("", (x1, y1), (x0, y0), arrowprops=dict(arrowstyle="-|>", lw=0.9, color=color, shrinkA=0, shrinkB=0,
                                                        ls=ls))


def _loss(ax, x, y, text):
    ax.text(x, y, text, ha="center", va="center", fontsize=8, color=LOSS, style="italic")


def _cycle(ax, v, y, encoded):
    """The encoded cycle (drawn above its row) or the random cycle (below)."""
    dy = 0.65 if encoded else -0.65
    if encoded:
        _node(ax, 0.6, y, "B", "B")
        _node(ax, 1.9, y, "E", "net")
        _arrow(ax, 0.95, y, 1.55, y)
        _node(ax, 3.4, y, "z ~ E(B)" if v.sample_code else "z = E(B)", "z", 1.5)
        _arrow(ax, 2.25, y, 2.65, y)
        if v.sample_code:
            _loss(ax, 3.4, y + 0.6, "KL to N(0, I)")
    else:
        _node(ax, 3.4, y, "z ~ N(0, I)", "z", 1.5)
    _node(ax, 5.0, y, "G", "net")
    _arrow(ax, 4.15, y, 4.65, y)
    _node(ax, 5.0, y + 1.45 * dy, "A", "A")
    _arrow(ax, 5.0, y + dy, 5.0, y + 0.45 * dy)
    _node(ax, 6.5, y, r"$\hat B$", "B^")
    _arrow(ax, 5.35, y, 6.15, y)
    _node(ax, 8.0, y + dy, "D2" if (v.two_discriminators and not encoded) else "D", "D")
    _arrow(ax, 6.85, y, 7.65, y + dy)
    _loss(ax, 8.0, y + 1.65 * dy, "GAN")
    if encoded or v.l1_random:
        _loss(ax, 8.0, y - 0.05 * dy / 0.65, "L1 to B")
        _arrow(ax, 6.85, y, 7.45, y, color=LOSS, ls=":")
    if not encoded and v.latent:
        _node(ax, 8.0, y + 0.35, "E", "net")
        _arrow(ax, 6.85, y, 7.65, y + 0.35)
        _node(ax, 9.3, y + 0.35, r"$\hat z$", "z", 0.6)
        _arrow(ax, 8.35, y + 0.35, 9.0, y + 0.35)
        _loss(ax, 9.3, y + 0.9, "L1 to z")
        ax.text(8.0, y + 0.75, "trained" if v.train_e_on_latent else "frozen", ha="center", fontsize=7, color="0.35")


def variant_diagrams(variants) -> plt.Figure:
    """One panel per model of ``variants`` (name -> Variant, e.g. ``VARIANTS``), in a grid of three columns."""
    variants = list(variants.values()) if hasattr(variants, "values") else list(variants)
    if not variants:
        raise ValueError("variant_diagrams needs at least one Variant")
    rows = -(-len(variants) // 3)
    fig, axes = plt.subplots(rows, 3, figsize=(13.5, 3.1 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, v in zip(axes.flat, variants):
        cycles = [True] * v.encoded + [False] * v.random
        for encoded, y in zip(cycles, [2.0] if len(cycles) == 1 else [3.0, 0.75]):
            _cycle(ax, v, y, encoded)
        ax.set_xlim(0, 10)
        ax.set_ylim(-0.6, 4.4)
        ax.set_title(v.label, fontsize=10, fontweight="bold")
    fig.text(0.5, 0.01, "blue: the grey input A;  brown: the true colours B;  yellow: a generated colouring "
             r"$\hat B = G(A, z)$;  red: the losses (dotted: L1 to the ground truth)", ha="center", fontsize=9)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig
