"""Target-reference pairs of ColorWorld scenes (He et al. 2018, sec. 3.2.3) and their alignment (sec. 3.1).

The paper trains on ImageNet pairs of three kinds: 45 % a target with one of the top-5 references that its
recommendation step (sec. 4) retrieves within the target's class, 45 % a random reference of the same class,
10 % a random image of another class of the same category; the roles of target and reference are swapped at
random. Here a scene's class is the class of its primary object, the recommendation is :mod:`.recommend` on
grey VGG16 features (the global vector is relu5_1 averaged over positions, standing in for fc6; the local map
is relu4_1, one position per 8 x 8-pixel cell), and "another class" is any other primary class (ColorWorld has
no categories).

ColorWorld draws the colour mode of every object independently, so a same-class reference says nothing about
which mode the target's object wears. That is harder on a reference-following network than ImageNet, where a
retrieved reference often shares the target's colours: the chrominance branch can still learn to copy (its
"reference" is the target's own colours, Eq. 3), but the perceptual branch pays nothing for copying a wrong yet
plausible mode. The chapter measures what this does.

An :class:`Aligned` set holds, per pair, what the colorization sub-net reads besides L: the two mappings and the
ten similarity maps of Eq. 1. It keeps the cell maps as int32 and similarities as float16 (about 80 kB per pair at
64 px); :meth:`Aligned.inputs` assembles the 13-channel input for either branch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from reprolib.chapters.exemplar.paper import PAIR_MIX
from reprolib.chapters.exemplar.recommend import recommend
from reprolib.color import rgb_to_l_ab
from reprolib.models.exemplar import NUM_SIM_LEVELS, assemble_input
from reprolib.nn import correspondence as cr
from reprolib.nn.backbones import FeatureTaps

__all__ = ["KINDS", "MIX", "TOP_K", "Pool", "Aligned", "make_pool", "recommend_in_pool", "training_pairs",
           "blank_input", "align_pairs"]

KINDS = ("retrieved", "same_class", "other_class")
MIX = tuple(v / 100 for v in PAIR_MIX.values())  # (0.45, 0.45, 0.10), in the order of KINDS
TOP_K = 5  # a "retrieved" reference is one of the recommendation's top 5 (sec. 3.2.3)
GLOBAL_LEVEL, LOCAL_LEVEL = 4, 3  # relu5_1 (averaged: the global vector), relu4_1 (the local map)
LOCAL_CELL = 8  # pixels per relu4_1 position


@dataclass
class Pool:
    """Scenes with what pairing and alignment need: grey and colour, labels, masks, retrieval features."""

    rendered: dict  # what ColorWorld.batch returned (rgb, masks, classes, modes, label, background, ...)
    L: torch.Tensor  # (n, 1, H, W)
    ab: torch.Tensor  # (n, 2, H, W)
    global_features: torch.Tensor  # (n, 512)
    local_features: torch.Tensor  # (n, 512, H/8, W/8), float16

    def __len__(self) -> int:
        return int(self.L.shape[0])

    @property
    def labels(self) -> torch.Tensor:
        return self.rendered["label"]


def make_pool(rendered: dict, taps: FeatureTaps, chunk: int = 64) -> Pool:
    """A :class:`Pool` of rendered ColorWorld scenes; ``taps`` is VGG16 at relu{1..5}_1 (frozen)."""
    L, ab = rgb_to_l_ab(rendered["rgb"])
    glob, loc = [], []
    with torch.no_grad():
        for s in range(0, L.shape[0], chunk):
            pyr = cr.feature_pyramid(taps, L[s:s + chunk])
            glob.append(pyr[GLOBAL_LEVEL].mean(dim=(2, 3)))
            loc.append(pyr[LOCAL_LEVEL].half())
    return Pool(rendered, L, ab, torch.cat(glob), torch.cat(loc))


def recommend_in_pool(query: Pool, i: int, pool: Pool, top_n: int, exclude: int | None = None,
                      label: int | None = None) -> torch.Tensor:
    """Pool indices ranked by sec. 4's recommendation for scene ``i`` of ``query``, among the pool's scenes of
    class ``label`` (default: the query's primary class; the paper uses the classifier's top-1 class)."""
    label = int(query.labels[i]) if label is None else label
    candidates = (pool.labels == label).nonzero().flatten()
    if exclude is not None:
        candidates = candidates[candidates != exclude]
    if len(candidates) == 0:
        raise ValueError(f"the pool has no scene of class {label} to recommend")
    rec = recommend(query.global_features[i], pool.global_features[candidates],
                    query.local_features[i].float(), pool.local_features[candidates].float(),
                    query.L[i, 0], pool.L[candidates, 0], cell=LOCAL_CELL, top_n=top_n)
    return candidates[rec.indices]


def _other(candidates: torch.Tensor, g: torch.Generator) -> int:
    return int(candidates[torch.randint(len(candidates), (1,), generator=g)])


def training_pairs(pool: Pool, n_pairs: int, seed: int, top_n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n_pairs`` (target, reference, kind) index triples within ``pool`` in the mix of sec. 3.2.3."""
    g = torch.Generator().manual_seed(seed)
    labels = pool.labels
    kinds = torch.multinomial(torch.tensor(MIX), n_pairs, replacement=True, generator=g)
    targets = torch.randint(len(pool), (n_pairs,), generator=g)
    refs = torch.empty(n_pairs, dtype=torch.long)
    retrieved: dict[int, torch.Tensor] = {}
    for k in range(n_pairs):
        t = int(targets[k])
        same = (labels == labels[t]).nonzero().flatten()
        same = same[same != t]
        if KINDS[int(kinds[k])] == "retrieved":
            if t not in retrieved:
                retrieved[t] = recommend_in_pool(pool, t, pool, top_n, exclude=t)[:TOP_K]
            refs[k] = _other(retrieved[t], g)
        elif KINDS[int(kinds[k])] == "same_class":
            refs[k] = _other(same, g)
        else:
            refs[k] = _other((labels != labels[t]).nonzero().flatten(), g)
    swap = torch.rand(n_pairs, generator=g) < 0.5  # roles swapped at random
    return torch.where(swap, refs, targets), torch.where(swap, targets, refs), kinds


@dataclass
class Aligned:
    """The similarity sub-net's output for P pairs (see the module docstring): the cell maps T->R and R->T of
    :func:`reprolib.nn.correspondence.correspond` (pixel maps are lifted from them on use) and Eq. 1's maps."""

    cells_tr: torch.Tensor  # (P, h*w) int32
    cells_rt: torch.Tensor  # (P, h*w) int32
    sim_tr: torch.Tensor  # (P, 5, H, W) float16
    sim_rt: torch.Tensor  # (P, 5, H, W) float16

    def __len__(self) -> int:
        return int(self.cells_tr.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        return tuple(self.sim_tr.shape[2:])

    def phi(self, rows: torch.Tensor | slice = slice(None)) -> tuple[torch.Tensor, torch.Tensor]:
        """phi_T->R and phi_R->T of pairs ``rows``, (n, H, W) long each."""
        return (cr.lift_to_pixels(self.cells_tr[rows].long(), self.size),
                cr.lift_to_pixels(self.cells_rt[rows].long(), self.size))

    def inputs(self, rows: torch.Tensor, L_t: torch.Tensor, colour_ab: torch.Tensor, cycle: bool) -> torch.Tensor:
        """The 13-channel input of pairs ``rows``: the reference's ab warped (``cycle=False``: R'_ab, from
        ``colour_ab`` = the references' ab) or the target's own ab through the round trip (``cycle=True``: T'_ab
        of Eq. 3, ``colour_ab`` = the targets' ab)."""
        phi_tr, phi_rt = self.phi(rows)
        ab = cr.cycle_reference(colour_ab, phi_tr, phi_rt) if cycle else cr.warped_reference(colour_ab, phi_tr)
        return assemble_input(L_t, ab, self.sim_tr[rows].float(), self.sim_rt[rows].float())


def blank_input(L_t: torch.Tensor) -> torch.Tensor:
    """The 13-channel input with no reference (zero ab, zero similarity): what the reference-blind control sees."""
    blank = torch.zeros(L_t.shape[0], NUM_SIM_LEVELS, *L_t.shape[2:], dtype=L_t.dtype)
    return assemble_input(L_t, torch.zeros_like(blank[:, :2]), blank, blank)


def align_pairs(taps: FeatureTaps, L_t: torch.Tensor, L_r: torch.Tensor, chunk: int = 32) -> Aligned:
    """Run the similarity sub-net (:func:`reprolib.nn.correspondence.correspond` and Eq. 1) over P pairs."""
    out = {k: [] for k in ("cells_tr", "cells_rt", "sim_tr", "sim_rt")}
    size = tuple(L_t.shape[2:])
    with torch.no_grad():
        for s in range(0, L_t.shape[0], chunk):
            pyr_t, pyr_r = cr.feature_pyramid(taps, L_t[s:s + chunk]), cr.feature_pyramid(taps, L_r[s:s + chunk])
            cells_tr, cells_rt = cr.correspond(pyr_t, pyr_r, size)
            sim_tr, sim_rt = cr.similarity_maps(pyr_t, pyr_r, cells_tr, cells_rt, size)
            out["cells_tr"].append(cells_tr.int())
            out["cells_rt"].append(cells_rt.int())
            out["sim_tr"].append(sim_tr.half())
            out["sim_rt"].append(sim_rt.half())
    return Aligned(**{k: torch.cat(v) for k, v in out.items()})
