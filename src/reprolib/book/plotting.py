"""Figures shared by the chapters (matplotlib only). Functions return the Figure they draw."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from reprolib.color import l_ab_to_rgb, lab_to_rgb


def to_numpy_image(img) -> np.ndarray:
    """(3,H,W) or (H,W,3) tensor/array in [0,1] -> (H,W,3) float numpy array."""
    if isinstance(img, torch.Tensor):
        img = img.detach().cpu().float().numpy()
    img = np.asarray(img, dtype=np.float32)
    if img.ndim == 3 and img.shape[0] == 3 and img.shape[-1] != 3:
        img = img.transpose(1, 2, 0)
    return np.clip(img, 0.0, 1.0)


def lab_image(L: torch.Tensor, ab: torch.Tensor) -> np.ndarray:
    """L (1,H,W) and ab (2,H,W) of one image -> RGB (H,W,3) numpy."""
    return to_numpy_image(l_ab_to_rgb(L[None], ab[None])[0])


def image_grid(rows: Sequence[Sequence], row_titles: Sequence[str] | None = None,
               col_titles: Sequence[str] | None = None, cell: float = 1.6, title: str | None = None):
    """A grid of images: ``rows[i][j]`` is an image (see ``to_numpy_image``)."""
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(cell * n_cols, cell * n_rows), squeeze=False)
    for i, row in enumerate(rows):
        for j in range(n_cols):
            ax = axes[i][j]
            ax.set_xticks([]), ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if j < len(row) and row[j] is not None:
                ax.imshow(to_numpy_image(row[j]), interpolation="nearest")
            if i == 0 and col_titles is not None and j < len(col_titles):
                ax.set_title(col_titles[j], fontsize=9)
            if j == 0 and row_titles is not None:
                ax.set_ylabel(row_titles[i], fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def ab_swatches(ab: torch.Tensor, L: float = 50.0) -> np.ndarray:
    """RGB colours (K,3) of ab values (K,2) at lightness L."""
    lab = torch.cat([torch.full((ab.shape[0], 1), float(L), dtype=torch.float64), ab.double()], dim=1)
    return lab_to_rgb(lab, dim=-1).float().numpy()


def plot_bins(ax, bins: torch.Tensor, values=None, L: float = 50.0, cmap: str = "viridis", log: bool = False,
              title: str = "", size: float = 10.0):
    """Draw the ab bins as squares of side 10: coloured by their colour at ``L``, or by ``values``."""
    b = bins.double().numpy()
    if values is None:
        colors = ab_swatches(bins, L)
        ax.scatter(b[:, 1], b[:, 0], c=colors, marker="s", s=size * 6, linewidths=0)
    else:
        v = np.asarray(values, dtype=np.float64)
        if log:
            v = np.log10(np.maximum(v, 1e-12))
        sc = ax.scatter(b[:, 1], b[:, 0], c=v, cmap=cmap, marker="s", s=size * 6, linewidths=0)
        plt.colorbar(sc, ax=ax, fraction=0.046, pad=0.04, label="log10" if log else None)
    ax.set_xlim(-115, 115), ax.set_ylim(115, -115)
    ax.set_xlabel("b"), ax.set_ylabel("a"), ax.set_aspect("equal")
    ax.set_title(title, fontsize=10)
    return ax


def curves(ax, x, ys: dict, xlabel: str = "", ylabel: str = "", title: str = "", logx: bool = False, marker="o"):
    for name, y in ys.items():
        ax.plot(x, y, marker=marker, ms=3, label=name)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel), ax.set_ylabel(ylabel), ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


VERDICT_COLOURS = {"reproduced": "#1a7f37", "not_reproduced": "#cf222e", "inconclusive": "#d4a72c",
                   "not_testable": "#8c959f"}


def verdict_bars(recorded: dict, profiles=("fast", "full")):
    """Horizontal stacked bars, one per chapter and recorded profile, of how many claims got each of the four
    verdicts. ``recorded`` maps a chapter's title to ``{profile: results dict or None}``. Returns the figure."""
    from reprolib.claims import VERDICTS
    from reprolib.results import verdict_counts

    bars = [(f"{title} ({p})", verdict_counts(runs[p])) for title, runs in recorded.items()
            for p in profiles if runs.get(p)]
    fig, ax = plt.subplots(figsize=(8, 0.45 * max(len(bars), 1) + 1.1))
    for y, (label, counts) in enumerate(bars):
        left = 0
        for v in VERDICTS:
            if counts[v]:
                ax.barh(y, counts[v], left=left, color=VERDICT_COLOURS[v], edgecolor="white")
                ax.text(left + counts[v] / 2, y, str(counts[v]), ha="center", va="center", color="white", fontsize=9)
                left += counts[v]
    ax.set_yticks(range(len(bars)), [b[0] for b in bars])
    ax.invert_yaxis()
    ax.set_xlabel("claims")
    ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=VERDICT_COLOURS[v]) for v in VERDICTS],
              labels=[v.replace("_", " ") for v in VERDICTS], ncol=4, loc="lower center", bbox_to_anchor=(0.5, 1.0),
              frameon=False, fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig
