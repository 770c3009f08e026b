"""Chapter 7's figures: one grey target colorized with references of every kind, beside the intermediate maps.

:func:`reference_rows` builds, for a test target whose primary class has several colour modes, one row per
reference: a related reference re-rendered in each of the class's modes, then an unrelated one. Each row shows
the target's ground truth, the reference, its colours warped onto the target (R'_ab on the target's L), the mean
of the ten similarity maps, and the outputs of the trained networks. The question the figure answers at a
glance: does the same grey target change with the reference, and what happens when nothing matches?
"""

from __future__ import annotations

import torch

from reprolib.chapters.exemplar import measure as ms
from reprolib.chapters.exemplar import pairs as pr
from reprolib.color import l_ab_to_rgb, rgb_to_l_ab
from reprolib.nn import correspondence as cr

__all__ = ["COLUMNS", "multimodal_targets", "reference_rows"]

COLUMNS = ("target (truth)", "reference", "warped R'_ab", "mean similarity")


def multimodal_targets(world, rendered: dict, k: int) -> list[int]:
    """The first ``k`` scenes whose primary object has a class with several colour modes."""
    out = [i for i in range(rendered["classes"].shape[0])
           if world.classes[int(rendered["classes"][i, 0])].num_modes > 1]
    return out[:k]


@torch.no_grad()
def reference_rows(run, targets_world, targets: dict, refs_world, refs: dict, picks: dict, i: int,
                   models: tuple[str, ...] = ("two", "chrom", "perc", "auto")) -> list[list[torch.Tensor]]:
    """Rows of RGB images (3, H, W) for target ``i``: a related reference in each mode of its primary's class,
    then the unrelated one of ``picks`` (see :func:`reprolib.chapters.exemplar.measure.test_references`)."""
    L_t, ab_t = rgb_to_l_ab(targets["rgb"][i:i + 1])
    cls = targets_world.classes[int(targets["classes"][i, 0])]
    references = [ms.render_with_primary_mode(refs_world, picks["related"][i:i + 1], torch.tensor([m]))
                  for m in range(cls.num_modes)]
    references.append({key: v[picks["unrelated"][i:i + 1]] for key, v in refs.items()})
    rows = []
    for ref in references:
        L_r, ab_r = rgb_to_l_ab(ref["rgb"])
        aligned = pr.align_pairs(run.taps, L_t, L_r)
        warped = cr.warped_reference(ab_r, aligned.phi()[0])
        sim = ms.mean_similarity(aligned)[0].clamp(0, 1)
        row = [l_ab_to_rgb(L_t, ab_t)[0], ref["rgb"][0], l_ab_to_rgb(L_t, warped)[0], sim[None].expand(3, -1, -1)]
        for name in models:
            ab = ms.colorize(run.net(name), aligned, L_t, ab_r, reference=name != "auto")
            row.append(l_ab_to_rgb(L_t, ab)[0])
        rows.append(row)
    return rows
