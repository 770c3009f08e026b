"""Chapter 7's figures: one grey target colorized with references of every kind, beside the intermediate maps.

:func:`reference_rows` builds, for a test target whose primary class has several colour modes, one row per
reference: a related reference re-rendered in each of the class's modes, then an unrelated one. Each row shows
the target's ground truth, the reference, its colours warped onto the target (R'_ab on the target's L), the mean
of the ten similarity maps, and the outputs of the trained networks. The question the figure answers at a
glance: does the same grey target change with the reference, and what happens when nothing matches?

:func:`pipeline_maps` and :func:`pipeline_figure` show the whole pipeline on one pair with its real intermediate
maps; :func:`live_demo` and :func:`static_demo` (its HTML twin) let the reader pick a target and a reference.
"""

from __future__ import annotations

import torch

from reprolib.book.widgets import enlarge, live_explorer, static_explorer
from reprolib.chapters.exemplar import measure as ms
from reprolib.chapters.exemplar import pairs as pr
from reprolib.color import l_ab_to_rgb, rgb_to_l_ab
from reprolib.nn import correspondence as cr

__all__ = ["COLUMNS", "multimodal_targets", "reference_rows", "pipeline_maps", "pipeline_figure", "ReferenceDemo",
           "live_demo", "static_demo"]

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


# ---------------------------------------------------------------------------------------------
# The pipeline on one pair, with its real intermediate maps

PANEL = 96  # pixels of a demo panel (nearest neighbour: the colours stay those the model painted)
LEVEL_NAMES = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
BRANCH_MODELS = ("chrom", "perc", "two")


@torch.no_grad()
def pipeline_maps(run, rgb_t: torch.Tensor, rgb_r: torch.Tensor) -> dict:
    """Everything the pipeline computes for one (target, reference) pair of colour images (3, H, W) in [0, 1]:
    the alignment, the warped reference R'_ab and the round-trip T'_ab (training only: it needs the target's
    colours), the ten similarity maps, the two point sets of the sequential baseline, and the outputs of the
    three reference networks. Images are returned as RGB (3, H, W) on the target's L."""
    from reprolib.chapters.exemplar.baselines import crosscheck_points, threshold_points

    L_t, ab_t = rgb_to_l_ab(rgb_t[None])
    L_r, ab_r = rgb_to_l_ab(rgb_r[None])
    aligned = pr.align_pairs(run.taps, L_t, L_r)
    phi_tr, phi_rt = aligned.phi()
    warped = cr.warped_reference(ab_r, phi_tr)
    cycle = cr.cycle_reference(ab_t, phi_tr, phi_rt)
    on_l = lambda ab: l_ab_to_rgb(L_t, ab)[0]  # noqa: E731
    out = {"target": rgb_t, "grey": on_l(torch.zeros_like(ab_t)), "reference": rgb_r, "warped": on_l(warped),
           "cycle": on_l(cycle), "sim_tr": aligned.sim_tr[0].float(), "sim_rt": aligned.sim_rt[0].float(),
           "mean_sim": ms.mean_similarity(aligned)[0],
           "threshold": threshold_points(ms.mean_similarity(aligned))[0],
           "crosscheck": crosscheck_points(phi_tr, phi_rt)[0]}
    for name in BRANCH_MODELS:
        if name in run.nets:
            out[name] = on_l(ms.colorize(run.net(name), aligned, L_t, ab_r))
    return out


def pipeline_figure(maps: dict, title: str = ""):
    """Three rows: the inputs and what the similarity sub-net makes of them; the ten similarity maps; the
    sequential baseline's points and the outputs of the three networks."""
    import matplotlib.pyplot as plt

    def show(ax, img, label, cmap=None):
        x = img.permute(1, 2, 0).clamp(0, 1).numpy() if img.dim() == 3 else img.numpy()
        ax.imshow(x, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(label, fontsize=8)
        ax.axis("off")

    fig, axes = plt.subplots(3, 5, figsize=(11, 7.2))
    show(axes[0, 0], maps["grey"], "target T (grey input)")
    show(axes[0, 1], maps["reference"], "reference R")
    show(axes[0, 2], maps["warped"], "R'_ab = R_ab(phi_T->R(p))")
    show(axes[0, 3], maps["cycle"], "T'_ab (Eq. 3, training only)")
    show(axes[0, 4], maps["mean_sim"], "mean of the 10 maps", cmap="viridis")
    for k in range(5):
        both = torch.cat([maps["sim_tr"][k], maps["sim_rt"][k]], dim=1).clamp(0, 1)
        show(axes[1, k], both, f"{LEVEL_NAMES[k]}: sim T->R | R->T", cmap="viridis")
    points = maps["grey"].clone()
    points[:, maps["threshold"]] = torch.tensor([1.0, 0.2, 0.2])[:, None]
    points[:, maps["crosscheck"] & ~maps["threshold"]] = torch.tensor([0.2, 0.5, 1.0])[:, None]
    show(axes[2, 0], points, "Fig. 9 points: top 10 % (red),\ncross-checked (blue)")
    labels = {"chrom": "chrominance branch only", "perc": "perceptual branch only", "two": "both branches (Eq. 7)"}
    for ax, name in zip(axes[2, 1:4], BRANCH_MODELS):
        if name in maps:
            show(ax, maps[name], labels[name])
        else:
            ax.axis("off")
    show(axes[2, 4], maps["target"], "target's true colours")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------
# The demo: one grey target, the reference of your choice

REFERENCE_CHOICES = (("related, 1st colour mode", "mode0"), ("related, 2nd colour mode", "mode1"),
                     ("unrelated (none of its classes)", "unrelated"), ("top-1 recommended", "recommended"))
DEMO_PANELS = ("grey target", "reference", "warped R'_ab", "mean similarity", "both branches", "chrominance only",
               "perceptual only")


class ReferenceDemo:
    """The test targets whose primary has several colour modes, each with the four references of
    ``REFERENCE_CHOICES``; :meth:`frame` colorizes one (target, reference) and says which mode the primary took."""

    def __init__(self, run, n_targets: int):
        from reprolib.data import ColorWorld

        s = run.settings
        self.run = run
        self.tw = ColorWorld(n=s["n_test"], size=s["size"], seed=run.seed + 10_700)
        self.rw = ColorWorld(n=s["n_refs"], size=s["size"], seed=run.seed + 10_701)
        self.T, self.R = self.tw.batch(range(s["n_test"])), self.rw.batch(range(s["n_refs"]))
        self.picks = ms.test_references(self.T, self.R, self.rw, run.seed + 10_702)
        self.targets = multimodal_targets(self.tw, self.T, n_targets)
        self._pool = None

    def options(self) -> list[tuple[str, int]]:
        return [(f"test scene {i} ({self.tw.class_names[int(self.T['classes'][i, 0])]})", i) for i in self.targets]

    def reference(self, i: int, choice: str) -> dict:
        if choice.startswith("mode"):
            return ms.render_with_primary_mode(self.rw, self.picks["related"][i:i + 1], torch.tensor([int(choice[4:])]))
        if choice == "unrelated":
            j = int(self.picks["unrelated"][i])
        else:
            if self._pool is None:
                self._pool = (pr.make_pool(self.T, self.run.taps), pr.make_pool(self.R, self.run.taps))
            j = int(pr.recommend_in_pool(self._pool[0], i, self._pool[1], self.run.settings["top_n"])[0])
        return {key: v[j:j + 1] for key, v in self.R.items()}

    @torch.no_grad()
    def frame(self, target: int, choice: str) -> tuple[list[torch.Tensor], str]:
        from reprolib.metrics.diversity import scene_region_modes

        i = target
        t = {key: v[i:i + 1] for key, v in self.T.items()}
        ref = self.reference(i, choice)
        L_t, _ = rgb_to_l_ab(t["rgb"])
        L_r, ab_r = rgb_to_l_ab(ref["rgb"])
        aligned = pr.align_pairs(self.run.taps, L_t, L_r)
        warped = cr.warped_reference(ab_r, aligned.phi()[0])
        sim = ms.mean_similarity(aligned)[0].clamp(0, 1)
        outs = {name: ms.colorize(self.run.net(name), aligned, L_t, ab_r) for name in ("two", "chrom", "perc")}
        cls = self.tw.classes[int(t["classes"][0, 0])]

        def mode_of(ab, world, rendered):
            k = int(scene_region_modes(world, rendered, ab, radius=ms.MODE_RADIUS)["objects"][0, 0])
            return cls.mode_names[k] if k >= 0 else ("off-mode" if k == -1 else "hidden")

        ref_cls = int(ref["classes"][0, 0])
        ref_text = (f"reference's {cls.name}: {mode_of(ab_r, self.rw, ref)}" if ref_cls == int(t["classes"][0, 0])
                    else f"reference shows a {self.rw.class_names[ref_cls]}, no {cls.name}")
        got = "; ".join(f"{name}: {mode_of(ab, self.tw, t)}" for name, ab in outs.items())
        panels = [l_ab_to_rgb(L_t, torch.zeros(1, 2, *L_t.shape[2:]))[0], ref["rgb"][0], l_ab_to_rgb(L_t, warped)[0],
                  sim[None].expand(3, -1, -1)] + [l_ab_to_rgb(L_t, outs[n])[0] for n in ("two", "chrom", "perc")]
        return [enlarge(p, PANEL) for p in panels], f"{ref_text} | the target's {cls.name} under {got}"


def _demo_controls(view: ReferenceDemo) -> list:
    return [("target", "target", "select", view.options()), ("choice", "reference", "select", list(REFERENCE_CHOICES))]


def live_demo(run, n_targets: int = 12):
    """The live version: any of the first multimodal test targets, colorized when asked."""
    view = ReferenceDemo(run, n_targets)
    return live_explorer(view.frame, _demo_controls(view), description="One grey target, the reference of your choice",
                         panel_titles=list(DEMO_PANELS))


def static_demo(run, n_targets: int = 6):
    """The HTML twin: ``n_targets`` targets x 4 references, precomputed."""
    view = ReferenceDemo(run, n_targets)
    return static_explorer(view.frame, _demo_controls(view),
                           title="One grey target, the reference of your choice (precomputed)",
                           panel_titles=list(DEMO_PANELS))
