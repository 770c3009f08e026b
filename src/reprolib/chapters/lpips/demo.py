"""Chapter 5's interactive demo (a distortion explorer with a live LPIPS map) and its scores table."""

from __future__ import annotations

from typing import Callable

import torch

from reprolib.chapters.lpips.experiment import reference_patches
from reprolib.chapters.lpips.verdicts import LABELS
from reprolib.metrics.distances import l2_distance, psnr_distance, ssim_distance
from reprolib.metrics.lpips import LPIPS

DEMO_FAMILIES = ("gaussian_blur", "gaussian_noise", "jpeg", "lightness_shift", "affine")
DEMO_SEVERITIES = (0.1, 0.25, 0.5, 0.75, 1.0)  # no 0: every control must change the picture


def demo_patches(n: int, seed: int = 0) -> torch.Tensor:
    """``n`` 64 x 64 test patches for the demo (photos first, then ColorWorld)."""
    return reference_patches(n, 64, seed + 11, split="test")


def explorer_render(patches: torch.Tensor, metric: LPIPS | None = None, seed: int = 0) -> Callable:
    """``render(patch, distortion, severity) -> ([reference, distorted, LPIPS map], text)`` for the demo.

    The random draw of a distortion is fixed per (patch, distortion), so the severity only changes its
    strength. The map is LPIPS-alex v0.1 with ``spatial=True`` (its mean is the distance), shown with a
    fixed colour scale (0 to 1.5) so that frames compare.
    """
    import matplotlib

    from reprolib.chapters.lpips.distortions import distort

    metric = metric if metric is not None else LPIPS("alex", spatial=True)
    cmap = matplotlib.colormaps["magma"]

    @torch.no_grad()
    def render(patch: int, distortion: str, severity: float):
        if not 0 <= int(patch) < len(patches):
            raise ValueError(f"patch must be in 0 .. {len(patches) - 1}, got {patch}")
        ref = patches[int(patch): int(patch) + 1]
        g = torch.Generator().manual_seed(seed * 1000 + int(patch) * 37 + DEMO_FAMILIES.index(distortion)
                                          if distortion in DEMO_FAMILIES else seed)
        x = distort(ref, distortion, float(severity), g)
        dmap = metric(ref * 2 - 1, x * 2 - 1, normalize=False, spatial=True)[0, 0]
        heat = torch.from_numpy(cmap((dmap / 1.5).clamp(0, 1).numpy())[..., :3]).permute(2, 0, 1).float()
        l2 = float(l2_distance(ref, x, colorspace="rgb"))
        ssim = 1.0 - float(ssim_distance(ref, x))
        text = (f"L2 (RGB MSE) {l2:.4f} | PSNR {float(-psnr_distance(ref, x)):.1f} dB | SSIM {ssim:.3f} | "
                f"LPIPS-alex {float(dmap.mean()):.3f}")
        return [ref[0], x[0], heat], text

    return render


def explorer_controls(n_patches: int) -> list:
    return [("patch", "patch", "select", [(f"patch {i}", i) for i in range(n_patches)]),
            ("distortion", "distortion", "select", [(d.replace("_", " "), d) for d in DEMO_FAMILIES]),
            ("severity", "severity", "slider", [(f"{s:.2f}", s) for s in DEMO_SEVERITIES])]


def scores_table(metrics: dict, caption: str = ""):
    """Every metric (rows) on every set (columns, %): 2AFC, JND mAP, and agreement on the unanswered set."""
    from reprolib.book.tables import _Table

    cols = [("sentinel", "sentinel"), ("sentinel_cnn", "sentinel CNN"), ("equal_mse", "equal-MSE"),
            ("equal_mse_heldout", "equal-MSE held-out"), ("heldout", "held-out (all)"), ("jnd", "JND mAP")]
    agree = metrics.get("mixed_agreement_with_alex_lin_official", {})
    body = []
    for m, row in metrics["scores"].items():
        cells = [LABELS.get(m, m)] + ["\u2013" if row.get(k) is None else f"{row[k]:.1f}" for k, _ in cols]
        cells.append("\u2013" if m not in agree else f"{agree[m]:.1f}")
        n = metrics.get("n", {}).get(m, {})
        cells.append(str(n.get("equal_mse", "")))
        body.append(cells)
    header = ["metric"] + [label for _, label in cols] + ["agrees with Alex-lin on 'mixed'", "n (equal-MSE)"]
    return _Table(header, body, caption)
