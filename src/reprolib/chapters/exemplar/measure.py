"""What Chapter 7 measures: does the colorization follow the reference, and what happens when it cannot?

Only ColorWorld can answer the first question exactly. A test target is colorized with references of known kinds
(:func:`test_references`):

* **related**: another scene whose primary object has the target's class, its primary re-rendered in a chosen
  colour mode m (its grey image is unchanged; the mode is uniform over the class's modes);
* **unrelated**: a scene that holds none of the target's object classes (sky and ground are always shared);
* **recommended**: the top-1 of sec. 4's recommendation among the reference scenes of the target's class;
* **random**: any reference scene.

Per object (its visible mask) the median predicted ab takes the nearest mode of its class within 15 ab units, or
none (:func:`reprolib.metrics.diversity.scene_region_modes`, Chapters 1 and 3's convention). From that:
*adherence* (related references, primaries of multimodal classes: the share whose mode is m; a network that
ignores the reference scores about 1 / (number of modes)), the *on-mode rate* (the share of objects wearing any
mode of their class: plausible colours), and the *copy rate* (the share whose colour lies within 15 ab of the
warped reference's median colour on that object). Matching is judged per pixel: does phi_T->R(p) land on a
region of the same kind (object class, sky, ground)? The similarity maps should rank correct matches first
(an AUC, :func:`match_auc`).
"""

from __future__ import annotations

import torch

from reprolib.chapters.exemplar import pairs as pr
from reprolib.chapters.exemplar.baselines import SEQUENTIAL_RULES, crosscheck_points, threshold_points
from reprolib.chapters.exemplar.transfer import welsh_transfer
from reprolib.color import l_ab_to_rgb, rgb_to_l_ab
from reprolib.data import ColorWorld
from reprolib.metrics.color import psnr
from reprolib.metrics.diversity import scene_region_modes
from reprolib.nn import correspondence as cr

__all__ = ["MODE_RADIUS", "region_labels", "test_references", "render_with_primary_mode", "colorize",
           "object_measures", "match_auc"]

MODE_RADIUS = 15.0  # Chapter 1's radius: a region "takes" a mode whose centre lies within this ab distance


def region_labels(rendered: dict, num_classes: int) -> torch.Tensor:
    """(N, H, W) long: the class of the visible object at each pixel, else K for sky and K + 1 for ground."""
    labels = rendered["background"].long() + num_classes
    for slot in range(rendered["masks"].shape[1]):
        m = rendered["masks"][:, slot]
        labels = torch.where(m, rendered["classes"][:, slot, None, None].expand_as(labels), labels)
    return labels


def render_with_primary_mode(world, indices: torch.Tensor, modes: torch.Tensor) -> dict:
    """Scenes ``indices`` of ``world`` with their primary object re-rendered in colour mode ``modes`` (N,)."""
    params = world.sample_params(indices.tolist())
    override = params.modes.clone()
    override[:, 0] = modes
    return world.render(params, mode_override=override)


def test_references(targets: dict, refs: dict, world, seed: int) -> dict:
    """For every target scene, the reference scene indices of each kind (see the module docstring), and the
    mode drawn for the related reference's primary. ``targets`` and ``refs`` are rendered scene batches."""
    g = torch.Generator().manual_seed(seed)
    t_cls, r_cls = targets["classes"], refs["classes"]
    n = t_cls.shape[0]
    related, unrelated, modes = (torch.empty(n, dtype=torch.long) for _ in range(3))
    for i in range(n):
        same = (r_cls[:, 0] == t_cls[i, 0]).nonzero().flatten()
        present = t_cls[i][t_cls[i] >= 0]
        disjoint = (~(r_cls[:, :, None] == present[None, None, :]).any(dim=(1, 2))).nonzero().flatten()
        if len(same) == 0 or len(disjoint) == 0:
            raise ValueError("the reference scenes are too few: some target has no related or no unrelated one")
        related[i] = same[torch.randint(len(same), (1,), generator=g)]
        unrelated[i] = disjoint[torch.randint(len(disjoint), (1,), generator=g)]
        modes[i] = torch.randint(world.classes[int(t_cls[i, 0])].num_modes, (1,), generator=g)
    return {"related": related, "related_mode": modes, "unrelated": unrelated,
            "random": torch.randint(refs["classes"].shape[0], (n,), generator=g)}


@torch.no_grad()
def colorize(net, aligned: pr.Aligned, L_t: torch.Tensor, ab_r: torch.Tensor, reference: bool = True,
             batch: int = 64) -> torch.Tensor:
    """ab predicted for targets L_t with references of colours ab_r, aligned by ``aligned`` (or, with
    ``reference=False``, with the reference channels blanked: the control's input)."""
    out = []
    device = next(net.parameters()).device
    for s in range(0, L_t.shape[0], batch):
        rows = torch.arange(s, min(s + batch, L_t.shape[0]))
        if reference:
            x = aligned.inputs(rows, L_t[rows], ab_r[rows], cycle=False)
        else:
            x = pr.blank_input(L_t[rows])
        out.append(net(x.to(device)).float().cpu())
    return torch.cat(out)


def object_measures(world, rendered: dict, ab: torch.Tensor, warped_ab: torch.Tensor) -> dict:
    """Per object slot: the mode taken (-1 off-mode, -2 absent), and whether its colour copies the warped ab."""
    taken = scene_region_modes(world, rendered, ab, radius=MODE_RADIUS)["objects"]
    masks = rendered["masks"]
    copied = torch.zeros(taken.shape, dtype=torch.bool)
    warped_off = torch.zeros(taken.shape, dtype=torch.bool)
    for i in range(taken.shape[0]):
        for slot in range(taken.shape[1]):
            m = masks[i, slot]
            if taken[i, slot] == -2 or int(m.sum()) == 0:
                continue
            pred = ab[i][:, m].median(dim=1).values
            warp = warped_ab[i][:, m].median(dim=1).values
            copied[i, slot] = bool((pred - warp).norm() <= MODE_RADIUS)
            modes, _ = world.true_ab_distribution(int(rendered["classes"][i, slot]))
            warped_off[i, slot] = bool((modes.to(warp) - warp).norm(dim=1).min() > MODE_RADIUS)
    return {"taken": taken, "copied": copied, "warped_off_mode": warped_off}


def match_auc(score: torch.Tensor, correct: torch.Tensor) -> float:
    """Area under the ROC curve of ``score`` for the binary ``correct`` (the Mann-Whitney statistic, ties 1/2)."""
    s, c = score.flatten().double(), correct.flatten().bool()
    pos, neg = s[c], s[~c]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    ranks = torch.empty_like(s)
    order = torch.argsort(s)
    ranks[order] = torch.arange(1, len(s) + 1, dtype=torch.float64)
    # average ranks over ties
    uniq, inverse = torch.unique(s, return_inverse=True)
    sums = torch.zeros(len(uniq), dtype=torch.float64).index_add_(0, inverse, ranks)
    counts = torch.zeros(len(uniq), dtype=torch.float64).index_add_(0, inverse, torch.ones_like(ranks))
    ranks = (sums / counts)[inverse]
    return float((ranks[c].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def correct_matches(labels_t: torch.Tensor, labels_r: torch.Tensor, phi_tr: torch.Tensor) -> torch.Tensor:
    """(N, H, W) bool: phi_T->R(p) lands on a region of the kind of p's (object class, sky or ground)."""
    n = labels_t.shape[0]
    landed = labels_r.reshape(n, -1).gather(1, phi_tr.long().reshape(n, -1)).reshape(labels_t.shape)
    return landed == labels_t


@torch.no_grad()
def colour_matches(taps, rgb_t: torch.Tensor, rgb_r: torch.Tensor, chunk: int = 32) -> torch.Tensor:
    """phi_T->R (N, H, W) from the colour images of both sides (an oracle: a grey target has no colour)."""
    size, out = tuple(rgb_t.shape[2:]), []
    for s in range(0, rgb_t.shape[0], chunk):
        cells_tr, _ = cr.correspond(cr.colour_feature_pyramid(taps, rgb_t[s:s + chunk]),
                                    cr.colour_feature_pyramid(taps, rgb_r[s:s + chunk]), size)
        out.append(cr.lift_to_pixels(cells_tr, size))
    return torch.cat(out)


def mean_similarity(aligned: pr.Aligned) -> torch.Tensor:
    """The mean of the ten similarity maps (N, H, W)."""
    return torch.cat([aligned.sim_tr, aligned.sim_rt], dim=1).float().mean(dim=1)


def cross_checked(aligned: pr.Aligned) -> torch.Tensor:
    return cr.cross_check(*aligned.phi())


# ---------------------------------------------------------------------------------------------
# The evaluation


def _share(flags: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Per scene: the number of valid slots that are flagged, and the number of valid slots (for ratios)."""
    return (flags & valid).sum(dim=1).double(), valid.sum(dim=1).double()


def scene_auc(score: torch.Tensor, correct: torch.Tensor) -> tuple[list, list]:
    """Per scene, the AUC of ``score`` (N, H, W) for ``correct`` over its pixels, and 1 where it is defined (the
    scene has both correct and wrong matches), else 0 (and an AUC of 0 that the ratio ignores)."""
    auc, defined = [], []
    for sc, co in zip(score, correct):
        ok = 0 < int(co.sum()) < co.numel()
        auc.append(match_auc(sc, co) if ok else 0.0)
        defined.append(1.0 if ok else 0.0)
    return auc, defined


def primary_colour(ab: torch.Tensor, rendered: dict) -> torch.Tensor:
    """The median ab over each scene's visible primary object (N, 2); zeros where it is hidden."""
    out = torch.zeros(ab.shape[0], 2)
    for i in range(ab.shape[0]):
        m = rendered["masks"][i, 0]
        if int(m.sum()):
            out[i] = ab[i][:, m].median(dim=1).values
    return out


def _method_outputs(run, kind: str, ctx: dict, models: tuple[str, ...], baselines) -> dict[str, torch.Tensor]:
    """Every reference-following method's ab for one kind of reference (``ctx``: the targets, the reference's
    colours, the alignment and the warped colours)."""
    out = {name: colorize(run.net(name), ctx["aligned"], ctx["L_t"], ctx["ab_r"]) for name in models if name != "auto"}
    if baselines is None or kind == "related_other":
        return out
    g = torch.Generator().manual_seed(run.seed + 10_703)
    out["welsh"] = welsh_transfer(ctx["L_t"], ctx["L_r"], ctx["ab_r"], generator=g)
    phi_tr, phi_rt = ctx["aligned"].phi()
    points = {"threshold": threshold_points(ctx["sim"]),
              "crosscheck": crosscheck_points(phi_tr, phi_rt)}
    for rule in SEQUENTIAL_RULES:
        out[f"seq_{rule}"] = baselines.sequential(ctx["L_t"], ctx["warped"], points[rule])
    return out


def _blind_outputs(run, models: tuple[str, ...], baselines, world, L_t) -> dict[str, torch.Tensor]:
    """The methods that see no reference: the control network and (with the baselines) Chapter 1's colorizer."""
    out = {}
    if "auto" in models:
        out["auto"] = colorize(run.net("auto"), None, L_t, None, reference=False)
    if baselines is not None:
        out["ch1"] = baselines.chapter1(world, run.settings["size"])
    return out


@torch.no_grad()
def evaluate(run, models: tuple[str, ...] | None = None, baselines=None) -> dict:
    """Colorize the test targets with every kind of reference under every trained model (and, given
    ``baselines``, global transfer, the two sequential pipelines and Chapter 1's network) and measure (see the
    module docstring). Per-scene values go to ``samples["scenes"]`` for the bootstrap of the claims."""
    s = run.settings
    models = tuple(run.nets) if models is None else models
    targets_world = ColorWorld(n=s["n_test"], size=s["size"], seed=run.seed + 10_700)
    refs_world = ColorWorld(n=s["n_refs"], size=s["size"], seed=run.seed + 10_701)
    T = targets_world.batch(range(s["n_test"]))
    R = refs_world.batch(range(s["n_refs"]))
    L_t, ab_t = rgb_to_l_ab(T["rgb"])
    picks = test_references(T, R, refs_world, run.seed + 10_702)
    n_modes = torch.tensor([targets_world.classes[int(c)].num_modes for c in T["classes"][:, 0]])
    multimodal = n_modes > 1
    other_mode = (picks["related_mode"] + 1) % n_modes  # a second related reference in another mode
    ref_pool, target_pool = pr.make_pool(R, run.taps), pr.make_pool(T, run.taps)
    picks["recommended"] = torch.stack([pr.recommend_in_pool(target_pool, i, ref_pool, s["top_n"])[0]
                                        for i in range(s["n_test"])])
    references = {"related": render_with_primary_mode(refs_world, picks["related"], picks["related_mode"]),
                  "related_other": render_with_primary_mode(refs_world, picks["related"], other_mode),
                  **{k: {key: v[picks[k]] for key, v in R.items()} for k in ("unrelated", "recommended", "random")}}
    labels_t = region_labels(T, targets_world.num_classes)
    present = T["classes"] >= 0
    samples: dict[str, list] = {"multimodal": multimodal.double().tolist()}
    summary: dict[str, dict] = {}
    primary: dict[str, torch.Tensor] = {}
    warped_by_kind: dict[str, torch.Tensor] = {}

    def measure(key: str, name: str, kind: str, ab: torch.Tensor, warped: torch.Tensor) -> None:
        got = object_measures(targets_world, T, ab, warped)
        taken = got["taken"]
        on, n_obj = _share(taken >= 0, present)
        copied, _ = _share(got["copied"], present)
        off_warp = got["warped_off_mode"] & present
        samples.update({f"{key}.on_mode": on.tolist(), f"{key}.objects": n_obj.tolist(),
                        f"{key}.copied": copied.tolist(),
                        f"{key}.copied_off": (got["copied"] & off_warp).sum(1).double().tolist(),
                        f"{key}.warped_off": off_warp.sum(1).double().tolist(),
                        f"{key}.psnr": psnr(l_ab_to_rgb(L_t, ab), T["rgb"]).double().tolist()})
        row = {"on_mode": float(on.sum() / n_obj.sum()), "copied": float(copied.sum() / n_obj.sum()),
               "psnr": float(torch.tensor(samples[f"{key}.psnr"]).mean())}
        if kind in ("related", "none"):
            follows = (taken[:, 0] == picks["related_mode"]) & multimodal
            samples[f"{key}.adherent"] = follows.double().tolist()
            row["adherence"] = float(follows.sum() / multimodal.sum())
        if baselines is not None:
            recognised = baselines.recognised(l_ab_to_rgb(L_t, ab), T["label"])
            samples[f"{key}.recognised"] = recognised.tolist()
            row["recognised"] = float(recognised.mean())
        summary.setdefault(name, {}).setdefault(kind, {}).update(row)

    for kind, ref in references.items():
        L_r, ab_r = rgb_to_l_ab(ref["rgb"])
        if kind != "related_other":  # the same grey reference as "related": the same alignment
            aligned = pr.align_pairs(run.taps, L_t, L_r)
            phi_tr, _ = aligned.phi()
            correct = correct_matches(labels_t, region_labels(ref, refs_world.num_classes), phi_tr)
            sim = mean_similarity(aligned)
            auc, defined = scene_auc(sim, correct)
            summary.setdefault("matching", {})[kind] = {
                "correct": float(correct.double().mean()), "auc_pooled": match_auc(sim, correct),
                "auc_scene_mean": sum(auc) / max(sum(defined), 1),
                "cross_checked": float(cross_checked(aligned).double().mean())}
            samples[f"{kind}.correct"] = correct.flatten(1).double().mean(1).tolist()
            if kind == "related":  # what grey input costs: the same pairs matched on their colour images
                colour = correct_matches(labels_t, region_labels(ref, refs_world.num_classes),
                                         colour_matches(run.taps, T["rgb"], ref["rgb"]))
                summary["matching"]["related_colour_input"] = {"correct": float(colour.double().mean())}
                samples["related_colour.correct"] = colour.flatten(1).double().mean(1).tolist()
            samples[f"{kind}.auc"], samples[f"{kind}.auc_defined"] = auc, defined
        warped = warped_by_kind[kind] = cr.warped_reference(ab_r, phi_tr)
        ctx = {"aligned": aligned, "L_t": L_t, "L_r": L_r, "ab_r": ab_r, "warped": warped, "sim": sim}
        for name, ab in _method_outputs(run, kind, ctx, models, baselines).items():
            key = f"{name}.{kind}"
            primary[key] = primary_colour(ab, T)
            if kind != "related_other":  # only the primary's change of colour is wanted from it
                measure(key, name, kind, ab, warped)
    # the reference-blind methods, once each; their copy rate is against the related reference's warped colours
    warped_related = warped_by_kind["related"]
    for name, ab in _blind_outputs(run, models, baselines, targets_world, L_t).items():
        measure(name, name, "none", ab, warped_related)
    if baselines is not None:
        for key, ab in (("truth", ab_t), ("grey", torch.zeros_like(ab_t))):
            recognised = baselines.recognised(l_ab_to_rgb(L_t, ab), T["label"])
            samples[f"{key}.recognised"] = recognised.tolist()
            summary.setdefault(key, {})["none"] = {"recognised": float(recognised.mean())}
    for name in models:
        if name != "auto":
            change = (primary[f"{name}.related"] - primary[f"{name}.related_other"]).norm(dim=1) * multimodal
            samples[f"{name}.mode_change"] = change.double().tolist()
            summary[name]["related"]["mode_change"] = float(change.sum() / multimodal.sum())
    return {"samples": {"scenes": samples}, "summary": summary,
            "data": {"test_targets": s["n_test"], "reference_scenes": s["n_refs"],
                     "multimodal_targets": int(multimodal.sum())}}
