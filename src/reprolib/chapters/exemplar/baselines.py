"""Chapter 7's baselines: the sequential pipeline of sec. 5.2 (Fig. 9) and Chapter 1's automatic colorizer.

**Sequential.** Instead of learning where to trust the warped colours, the paper tries two fixed rules for
picking colour points, then hands the points to Zhang et al. 2017's hint network (Chapter 2):

* *threshold*: the 10 % of the target's pixels with the highest mean bidirectional similarity (the mean of the
  ten maps of Eq. 1);
* *cross-check*: the pixels whose round trip phi_R->T(phi_T->R(p)) comes back to p exactly.

Every chosen pixel becomes a 1 x 1 hint carrying the warped reference's colour R'_ab(p). The hint network here is
Chapter 2's Local Hints Network, the very model that chapter trains and caches for the profile and seed, called
through its package (:func:`reprolib.chapters.user_guided.train_all`). It was trained on simulated user points
(patches of the ground truth's own colours), not on points of this kind: the paper's explanation for the
pipeline's artifacts.

**Automatic.** Chapter 1's class-rebalanced colorizer (annealed mean, T = 0.38) sees no reference at all. It is
trained at Chapter 1's image size, so the same test scenes are rendered there, colorized, and the ab resized to
this chapter's size (the convention of Chapter 2's Table 3.1). Chapter 1's classifier (a small CNN trained on the
colour scenes) gives Table 2's measure, the share of colorized scenes whose class it names; every image is
resized the same way to the classifier's size first, the colour ground truth included.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from reprolib.chapters import automatic, user_guided
from reprolib.chapters.exemplar.paper import SEQUENTIAL_TOP_SHARE
from reprolib.color import rgb_to_l_ab
from reprolib.data import ColorWorld
from reprolib.nn import correspondence as cr

__all__ = ["SEQUENTIAL_RULES", "CHAPTER1_VARIANT", "threshold_points", "crosscheck_points", "sequential_hints",
           "Baselines", "load_baselines"]

SEQUENTIAL_RULES = ("threshold", "crosscheck")
CHAPTER1_VARIANT = "full"  # Chapter 1's class-rebalanced classification network: Zhang et al. 2016's row of Table 2


def threshold_points(similarity: torch.Tensor, share: float = SEQUENTIAL_TOP_SHARE / 100) -> torch.Tensor:
    """(N, H, W) bool: each image's ``share`` of pixels with the highest mean similarity (N, H, W)."""
    n = similarity.shape[0]
    flat = similarity.reshape(n, -1).float()
    k = max(1, round(share * flat.shape[1]))
    chosen = torch.zeros_like(flat, dtype=torch.bool)
    chosen.scatter_(1, flat.topk(k, dim=1).indices, True)
    return chosen.reshape(similarity.shape)


def crosscheck_points(phi_tr: torch.Tensor, phi_rt: torch.Tensor) -> torch.Tensor:
    """(N, H, W) bool: the pixels whose round trip T -> R -> T returns to themselves."""
    return cr.cross_check(phi_tr, phi_rt, tolerance=0)


def sequential_hints(warped_ab: torch.Tensor, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Chapter 2's hint input: ``(ab_hint (N, 2, H, W), mask (N, 1, H, W))``, the warped colour at the points."""
    mask = points[:, None].to(warped_ab.dtype)
    return warped_ab * mask, mask


@dataclass
class Baselines:
    """Chapter 2's hint network and Chapter 1's colorizer and classifier, for one profile and seed."""

    hints: object  # user_guided's ChapterRun (its Local Hints Network)
    automatic: object  # automatic's ChapterRun (its colorizers and classifier)

    @property
    def automatic_size(self) -> int:
        return int(self.automatic.settings["size"])

    @torch.no_grad()
    def sequential(self, L: torch.Tensor, warped_ab: torch.Tensor, points: torch.Tensor, batch: int = 64):
        """ab (N, 2, H, W) of the hint network given the warped colours at ``points`` (N, H, W) bool."""
        out = []
        for s in range(0, L.shape[0], batch):
            hint, mask = sequential_hints(warped_ab[s:s + batch], points[s:s + batch])
            out.append(self.hints.colorize(L[s:s + batch], hint, mask)[0])
        return torch.cat(out)

    @torch.no_grad()
    def chapter1(self, world: ColorWorld, size: int, batch: int = 64) -> torch.Tensor:
        """ab (N, 2, size, size) that Chapter 1's network predicts for every scene of ``world``, rendered at
        Chapter 1's size and resized to ``size``."""
        there = ColorWorld(n=world.n, size=self.automatic_size, seed=world.seed, classes=world.classes,
                           max_objects=world.max_objects)
        out = []
        for s in range(0, world.n, batch):
            L, _ = rgb_to_l_ab(there.batch(range(s, min(s + batch, world.n)))["rgb"])
            out.append(_resize(self.automatic.colorize(CHAPTER1_VARIANT, L).float(), size, "area"))
        return torch.cat(out)

    @torch.no_grad()
    def recognised(self, rgb: torch.Tensor, labels: torch.Tensor, batch: int = 128) -> torch.Tensor:
        """(N,) 1.0 where Chapter 1's classifier names the class ``labels`` of the (resized) image, else 0.0."""
        net = self.automatic.classifier
        device = next(net.parameters()).device
        out = []
        for s in range(0, rgb.shape[0], batch):
            x = _resize(rgb[s:s + batch], self.automatic_size, "bilinear").clamp(0, 1)
            out.append((net(x.to(device)).argmax(1).cpu() == labels[s:s + batch]).double())
        return torch.cat(out)


def _resize(x: torch.Tensor, size: int, mode: str) -> torch.Tensor:
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    if mode == "area" and x.shape[-1] < size:
        mode = "bilinear"  # area averaging only shrinks
    kwargs = {"align_corners": False} if mode == "bilinear" else {}
    return F.interpolate(x, size=(size, size), mode=mode, **kwargs)


def load_baselines(profile: str, seed: int, device=None) -> Baselines:
    """Chapters 1 and 2's trained models for ``profile`` and ``seed`` (trained here only where those chapters
    have not run yet; ``force`` is never passed on)."""
    hints = user_guided.train_all(user_guided.prepare(profile, seed, device))
    ch1 = automatic.train_all(automatic.prepare(profile, seed, device))
    return Baselines(hints=hints, automatic=ch1)
