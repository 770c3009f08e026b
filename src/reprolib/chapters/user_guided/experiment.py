"""Chapter 2: user-guided colorization (Zhang, Zhu et al., SIGGRAPH 2017; thesis chapter 3).

What the chapter's notebook and ``python -m reprolib reproduce user_guided`` run:

1. Two networks of ``reprolib.models.SIGGRAPH17``, trained from scratch on a stream of ColorWorld images
   with the smooth-l1 loss (Eq. 3.4-3.5): the **Local Hints Network**, fed simulated user points
   (section 3.3.2: geometric number of points, Gaussian locations, 1x1 to 9x9 patches, 1 % full reveals)
   with its colour-distribution side branch (Eq. 3.6, gradients stopped), and the **Global Hints
   Network**, fed a randomly revealed global histogram and mean saturation (section 3.3.3).
2. Fig. 3.6: mean PSNR against the number of revealed 7x7 points, random and max-error sampling, for the
   network, Levin et al.'s edit propagation, the network with no hints and "predict grey".
3. Table 3.1: PSNR of grey, automatic (Chapter 1's network with and without class rebalancing, loaded from
   Chapter 1's model cache or trained through ``automatic.train_variant``, and this network with no hints),
   + global histogram, + global saturation, + all colours.
4. Probes: histogram transfer (Fig. 3.9), an unusual colour (Fig. 3.7), two colours in one equiluminant
   segment (Fig. 3.8), and, because ColorWorld's true colour modes are known, whether the suggested
   palette (section 3.3.2) covers them.
5. Claims with computed verdicts, exact facts, and the results file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from reprolib.chapters import automatic
from reprolib.chapters.user_guided import paper as zhang2017
from reprolib.chapters.user_guided.hints import EVAL_PATCH, max_error_points, reveal_patches, sample_hints
from reprolib.chapters.user_guided.levin import levin_colorize
from reprolib.chapters.user_guided.palette import distribution_at, suggest_colors
from reprolib.chapters.user_guided.verdicts import CHAPTER1_ROWS, MODE_MIN_PROB, MODE_RADIUS, PALETTE_TOP, claims, facts
from reprolib.color import l_ab_to_rgb, rgb_to_l_ab
from reprolib.config import code_version, get_device, get_profile, seed_everything
from reprolib.data import ColorWorld
from reprolib.metrics.color import psnr
from reprolib.modelcache import fit_with, load_or_train
from reprolib.modelinfo import count_parameters
from reprolib.models.siggraph17 import (
    SIGGRAPH17,
    distribution_loss,
    global_histogram,
    global_input,
    mean_saturation,
    random_global_reveal,
    smooth_l1_loss,
)
from reprolib.quantize import NUM_AB_BINS
from reprolib.runs import ChapterRunBase
from reprolib.train import TrainConfig

CHAPTER = "user_guided"
TITLE = "2. User-guided colorization"
NOTEBOOK = "book/user_guided.ipynb"
NEEDS_GPU = ("no; the smoke and fast profiles run on a CPU, the full profile (the paper's network at full width, "
             "128x128 images) is meant for a GPU")

MASK_CENT = 0.5  # colorization-pytorch's centring; any value works for a network trained from scratch
DIST_WEIGHT = 1.0  # weight of the distribution loss (its gradients reach only the side branch)
HINT_P = 1 / 8  # geometric parameter of the simulated user (section 3.3.2)
PATCH = EVAL_PATCH  # 7x7 evaluation patches (Fig. 3.6)

# A profile changes sizes, never the algorithm (DESIGN section 6).
SETTINGS: dict[str, dict] = {
    "smoke": dict(size=32, width=1 / 16, steps=40, global_steps=30, batch=8, lr=1e-3, n_test=8, eval_batch=8,
                  counts=(0, 1, 2, 5, 10, 20, 50), max_error_counts=(0, 1, 2, 5), probes=4),
    "fast": dict(size=32, width=1 / 8, steps=900, global_steps=600, batch=16, lr=1e-3, n_test=32, eval_batch=32,
                 counts=(0, 1, 2, 5, 10, 20, 50, 100), max_error_counts=(0, 1, 2, 5, 10), probes=32),
    "full": dict(size=128, width=1.0, steps=4000, global_steps=2000, batch=32, lr=1e-4, n_test=200, eval_batch=50,
                 counts=(0, 1, 2, 5, 10, 20, 50, 100, 200, 500), max_error_counts=(0, 1, 2, 5, 10, 20, 50, 100),
                 probes=100),
}


def settings(profile: str | None) -> dict:
    s = dict(SETTINGS[get_profile(profile)])
    s["milestones"] = (int(0.75 * s["steps"]),)
    s["global_milestones"] = (int(0.75 * s["global_steps"]),)
    return s


# ---------------------------------------------------------------------------------------------
# Data


def make_datasets(profile: str | None, seed: int = 0) -> tuple[ColorWorld, ColorWorld]:
    """The training stream (one fresh image per sample, as many as the longer training needs) and the test set."""
    s = settings(profile)
    n_train = max(s["steps"], s["global_steps"]) * s["batch"]
    return ColorWorld(n=n_train, size=s["size"], seed=seed), ColorWorld(n=s["n_test"], size=s["size"], seed=seed + 10_000)


def lab_batch(ds: ColorWorld, indices) -> dict:
    """Render ``indices`` of ``ds`` and add L (N,1,H,W) and ab (N,2,H,W) in Lab units."""
    b = ds.batch(list(indices))
    b["L"], b["ab"] = rgb_to_l_ab(b["rgb"])
    return b


def psnr8(L: torch.Tensor, ab: torch.Tensor, ab_true: torch.Tensor) -> torch.Tensor:
    """PSNR (N,) in dB of the colorization (L, ab) against the ground truth (L, ab_true), both converted to RGB
    and rounded to 8 bits as in the released evaluation (Table 3.1; reference-facts section 2.5). Both go
    through the same Lab -> RGB conversion, so an exact copy of the colours gives ``inf``."""
    q = lambda x: torch.round(x.clamp(0, 1) * 255) / 255  # noqa: E731
    return psnr(q(l_ab_to_rgb(L, ab)), q(l_ab_to_rgb(L, ab_true)))


def nested_random_points(n_images: int, n_max: int, size: int, patch: int = PATCH,
                         generator: torch.Generator | None = None) -> torch.Tensor:
    """(N, n_max, 2) uniform top-left corners of ``patch`` x ``patch`` points; the first n of each image are
    "n random points", so the point sets of increasing n are nested (less noise along the curve)."""
    if n_max < 0 or patch > size:
        raise ValueError(f"need n_max >= 0 and a patch ({patch}) that fits the image ({size})")
    return torch.randint(size - patch + 1, (n_images, n_max, 2), generator=generator)


def reveal_first(ab: torch.Tensor, corners: torch.Tensor, n: int, patch: int = PATCH):
    """``(ab_hint, mask)`` revealing the mean colour of the first ``n`` points of ``corners`` (N, n_max, 2)."""
    N = ab.shape[0]
    c = corners[:, :n]
    image = torch.arange(N)[:, None].expand(N, n)
    points = torch.stack([image, c[..., 0], c[..., 1], torch.full_like(image, patch)], dim=-1).reshape(-1, 4)
    return reveal_patches(ab, points.long())


# ---------------------------------------------------------------------------------------------
# Models and training


def build_local(width: float) -> SIGGRAPH17:
    """The Local Hints Network with the paper's hypercolumn side branch over the Q = 313 bins."""
    return SIGGRAPH17(width, mask_cent=MASK_CENT, dist_head="hypercolumn", num_classes=NUM_AB_BINS)


def build_global(width: float) -> SIGGRAPH17:
    """The Global Hints Network: the same trunk, no local hints used, no distribution head, a global branch."""
    return SIGGRAPH17(width, mask_cent=MASK_CENT, dist_head=None, global_hints=True)


def local_loss(model: SIGGRAPH17, L, ab, generator: torch.Generator | None = None):
    """Eq. 3.5 (smooth-l1, averaged per pixel) on the simulated user's hints, plus Eq. 3.6 for the side branch
    (hard targets as in the released code; its gradients stop at the trunk)."""
    hint, mask = sample_hints(ab, generator=generator, p=HINT_P)
    out = model(L, hint, mask)
    reg = smooth_l1_loss(out.ab, ab)
    cls = distribution_loss(out.logits, ab, target="hard")
    return reg + DIST_WEIGHT * cls, {"smooth_l1": reg.detach(), "dist_ce": cls.detach()}


def global_hints_for(ab: torch.Tensor, rgb: torch.Tensor, reveal_hist, reveal_sat) -> torch.Tensor:
    """U_g of section 3.3.3 for a batch: histogram and saturation of the ground truth, revealed as asked."""
    return global_input(global_histogram(ab), mean_saturation(rgb), reveal_hist, reveal_sat)


def global_loss(model: SIGGRAPH17, L, ab, rgb, generator: torch.Generator | None = None):
    """Eq. 3.5 with the global statistics randomly revealed: both, one, or neither (section 3.3.3)."""
    rh, rs = random_global_reveal(L.shape[0], generator=generator)
    g = global_hints_for(ab, rgb, rh.to(L.device), rs.to(L.device))
    return smooth_l1_loss(model(L, global_hints=g).ab, ab)


def _fit(kind: str, train_set: ColorWorld, s: dict, seed: int, device):
    steps = s["steps"] if kind == "local" else s["global_steps"]
    milestones = s["milestones"] if kind == "local" else s["global_milestones"]
    cfg = TrainConfig(steps=steps, lr=s["lr"], betas=(0.9, 0.99), lr_milestones=milestones, lr_gamma=0.1, seed=seed,
                      checkpoint_every=max(50, steps // 4), log_every=max(1, steps // 50))
    B = s["batch"]

    def get_batch(step: int) -> dict:
        b = lab_batch(train_set, range(step * B, (step + 1) * B))
        return {"L": b["L"], "ab": b["ab"], "rgb": b["rgb"]}

    def loss_fn(model, batch):
        L, ab = batch["L"].to(device), batch["ab"].to(device)
        if kind == "local":
            return local_loss(model, L, ab)
        return global_loss(model, L, ab, batch["rgb"].to(device))

    return fit_with(loss_fn, get_batch, cfg, device=device, desc=kind)


@dataclass
class ChapterRun(ChapterRunBase):
    """Everything the notebook needs after a run: data, the two networks (and Chapter 1's), metrics, results."""

    train_set: ColorWorld
    test_set: ColorWorld
    models: dict = field(default_factory=dict)
    chapter1_size: int | None = None  # image side Chapter 1's models were trained at (set by load_chapter1)

    @torch.no_grad()
    def colorize(self, L: torch.Tensor, ab_hint: torch.Tensor | None = None, mask: torch.Tensor | None = None):
        """Local Hints Network: ``(ab (N,2,H,W), logits (N,313,H/4,W/4))`` on the CPU."""
        out = self.models["local"](L.to(self.device), None if ab_hint is None else ab_hint.to(self.device),
                                   None if mask is None else mask.to(self.device))
        return out.ab.float().cpu(), out.logits.float().cpu()

    @torch.no_grad()
    def colorize_global(self, L: torch.Tensor, g: torch.Tensor | None = None) -> torch.Tensor:
        """Global Hints Network: ab (N,2,H,W) for global hints ``g`` (N,316) or none."""
        g = None if g is None else g.to(self.device)
        return self.models["global"](L.to(self.device), global_hints=g).ab.float().cpu()

    @torch.no_grad()
    def colorize_chapter1(self, variant: str, indices) -> torch.Tensor:
        """ab (N,2,H,W) that Chapter 1's ``variant`` predicts for the test images ``indices``, at this chapter's size.

        Chapter 1's profiles train at their own image size (64 px in ``fast``, where this chapter uses 32 px).
        ColorWorld's geometry is resolution independent, so the same test scenes are rendered at Chapter 1's
        size, colorized there (annealed mean, T = 0.38) and the ab resized to this chapter's size (area
        average when smaller). PSNR is then measured against this chapter's own L and ab, like every row."""
        if f"chapter1_{variant}" not in self.models:
            raise RuntimeError("Chapter 1's models are not loaded; call load_chapter1(run) (train_all does) first")
        L = lab_batch(self._chapter1_scenes(), indices)["L"]
        return self._to_size(self.models[f"chapter1_{variant}"].colorize(L.to(self.device)).float().cpu())

    def chapter1_resize_ceiling(self, indices) -> torch.Tensor:
        """PSNR (N,) of the *true* ab at Chapter 1's size, resized like its predictions: what the change of
        size alone costs (an upper bound for any model evaluated this way)."""
        b = lab_batch(self.test_set, indices)
        return psnr8(b["L"], self._to_size(lab_batch(self._chapter1_scenes(), indices)["ab"]), b["ab"])

    def _chapter1_scenes(self) -> ColorWorld:
        if self.chapter1_size is None:
            raise RuntimeError("Chapter 1's models are not loaded; call load_chapter1(run) (train_all does) first")
        t = self.test_set
        return ColorWorld(n=t.n, size=self.chapter1_size, seed=t.seed, classes=t.classes, max_objects=t.max_objects)

    def _to_size(self, ab: torch.Tensor) -> torch.Tensor:
        size = self.settings["size"]
        if ab.shape[-1] > size:
            return F.interpolate(ab, size=(size, size), mode="area")
        if ab.shape[-1] < size:
            return F.interpolate(ab, size=(size, size), mode="bilinear", align_corners=False)
        return ab


def prepare(profile: str | None = None, seed: int = 0, device=None) -> ChapterRun:
    profile = get_profile(profile)
    seed_everything(seed)
    device = get_device(device, quiet=True)
    train_set, test_set = make_datasets(profile, seed)
    return ChapterRun(profile, seed, settings(profile), device, train_set, test_set)


def train_all(run: ChapterRun, force: bool = False) -> ChapterRun:
    s = run.settings
    common = {"seed": run.seed, "code": code_version(), "mask_cent": MASK_CENT, "p": HINT_P, "dist_w": DIST_WEIGHT,
              **{k: v for k, v in s.items() if k in ("size", "width", "batch", "lr")}}
    for kind, build in (("local", build_local), ("global", build_global)):
        config = {"model": kind, **common, "steps": s["steps" if kind == "local" else "global_steps"]}
        model, info = load_or_train(CHAPTER, kind, run.profile, config, build=lambda b=build: b(s["width"]),
                                    fit=_fit(kind, run.train_set, s, run.seed, run.device), force=force, device=run.device)
        run.models[kind], run.histories[kind] = model.eval(), info
    load_chapter1(run)
    return run


def load_chapter1(run: ChapterRun) -> ChapterRun:
    """Chapter 1's two classification colorizers (without and with class rebalancing) for Table 3.1.

    They come from :func:`automatic.train_variant`, so they are the very models Chapter 1 trains and caches
    for this profile and seed (trained here only when Chapter 1 has not run yet). ``force`` is not passed on:
    retraining this chapter does not retrain Chapter 1's models."""
    ch1 = automatic.prepare(run.profile, run.seed, run.device)
    for _, variant in CHAPTER1_ROWS:
        model, info = automatic.train_variant(ch1, variant)
        run.models[f"chapter1_{variant}"], run.histories[f"chapter1_{variant}"] = model.eval(), info
    run.chapter1_size = ch1.settings["size"]
    return run


# ---------------------------------------------------------------------------------------------
# Evaluation


def _mean(x: torch.Tensor) -> float:
    return float(x.double().mean())


def _mean_db(psnrs: torch.Tensor) -> float | str:
    """Mean PSNR, or the paper's "∞" when every image is an exact copy."""
    return zhang2017.LEVIN_ALL if bool(torch.isinf(psnrs).all()) else _mean(psnrs)


def levin_batch(L, hint, mask) -> torch.Tensor:
    return torch.stack([levin_colorize(L[i], hint[i], mask[i]) for i in range(L.shape[0])]).float()


@torch.no_grad()
def _kept(samples: dict | None, key: str, per_image: torch.Tensor) -> float:
    """The mean of ``per_image``; its values are kept under ``key`` in ``samples`` (for the bootstrap)."""
    if samples is not None:
        samples[key] = per_image.double().tolist()
    return _mean(per_image)


@torch.no_grad()
def psnr_curves(run: ChapterRun, L, ab, rgb, samples: dict | None = None) -> dict:
    """Fig. 3.6: mean PSNR against the number of revealed 7x7 points, random and max-error sampling.

    With ``samples`` (a dict), each curve point's per-image PSNRs are kept there under
    ``curve.<sampling>.<method>.<points>``."""
    s = run.settings
    N, size = L.shape[0], L.shape[-1]
    gen = torch.Generator().manual_seed(run.seed + 7)
    corners = nested_random_points(N, max(s["counts"]), size, generator=gen)
    auto = _mean(psnr8(L, run.colorize(L)[0], ab))
    grey = _mean(psnr8(L, torch.zeros_like(ab), ab))
    random_curve = {"network": [], "levin": []}
    for n in s["counts"]:
        hint, mask = reveal_first(ab, corners, n)
        random_curve["network"].append(_kept(samples, f"curve.random.network.{n}", psnr8(L, run.colorize(L, hint, mask)[0], ab)))
        random_curve["levin"].append(_kept(samples, f"curve.random.levin.{n}", psnr8(L, levin_batch(L, hint, mask), ab)))
    # Max-error: the paper re-runs each method after every point and reveals where its own error is largest.
    max_curve = {}
    for method in ("network", "levin"):
        hint, mask = torch.zeros_like(ab), torch.zeros_like(L)
        values, done = [], 0
        for n in s["max_error_counts"]:
            while done < n:
                pred = run.colorize(L, hint, mask)[0] if method == "network" else levin_batch(L, hint, mask)
                new_hint, new_mask = max_error_points(ab, pred, n=1, revealed_mask=mask)
                hint = torch.where(new_mask > 0, new_hint, hint)
                mask = torch.maximum(mask, new_mask)
                done += 1
            pred = run.colorize(L, hint, mask)[0] if method == "network" else levin_batch(L, hint, mask)
            values.append(_kept(samples, f"curve.max_error.{method}.{n}", psnr8(L, pred, ab)))
        max_curve[method] = values
    return {"counts": list(s["counts"]), "random": random_curve, "max_error_counts": list(s["max_error_counts"]),
            "max_error": max_curve, "network_no_hints": auto, "gray": grey}


@torch.no_grad()
def table31(run: ChapterRun, L, ab, rgb, samples: dict | None = None) -> dict:
    """Table 3.1: PSNR with added information (per-image PSNRs kept in ``samples`` as ``table.<row>.psnr``)."""
    N = L.shape[0]
    none = global_input(None, None, batch_size=N)
    hist_only = global_hints_for(ab, rgb, True, False)
    sat_only = global_hints_for(ab, rgb, False, True)
    full_mask = torch.ones_like(L)
    rows = {
        "gray": torch.zeros_like(ab),
        **{row: run.colorize_chapter1(variant, range(N)) for row, variant in CHAPTER1_ROWS},
        "local_auto": run.colorize(L)[0],
        "global_auto": run.colorize_global(L, none),
        "global_hist": run.colorize_global(L, hist_only),
        "global_sat": run.colorize_global(L, sat_only),
        "local_all": run.colorize(L, ab, full_mask)[0],
    }
    table = {k: {"psnr": _kept(samples, f"table.{k}.psnr", psnr8(L, v, ab))} for k, v in rows.items()}
    levin_all = psnr8(L, levin_batch(L, ab, full_mask), ab)
    table["levin_all"] = {"psnr": _mean_db(levin_all)}
    table["chapter1_resize_ceiling"] = {"psnr": _mean_db(run.chapter1_resize_ceiling(range(N)))}
    return table


def histogram_distance(h1: torch.Tensor, h2: torch.Tensor) -> torch.Tensor:
    """Total-variation distance (N,) between two (N, Q) histograms: half their l1 distance, in [0, 1]."""
    return 0.5 * (h1 - h2).abs().sum(dim=1)


@torch.no_grad()
def histogram_transfer(run: ChapterRun, L, ab, rgb, samples: dict | None = None) -> dict:
    """Fig. 3.9 analogue: colorize image i with the global histogram of image i + 1 (another scene). Does the
    output's histogram move toward the reference's, compared with the automatic output?"""
    ref_ab = ab.roll(1, dims=0)
    ref_hist = global_histogram(ref_ab)
    g = global_input(ref_hist, None, True, False)
    out = run.colorize_global(L, g)
    auto = run.colorize_global(L, global_input(None, None, batch_size=L.shape[0]))
    return {"tv_transfer": _kept(samples, "transfer.tv_transfer", histogram_distance(global_histogram(out), ref_hist)),
            "tv_auto": _kept(samples, "transfer.tv_auto", histogram_distance(global_histogram(auto), ref_hist)),
            "tv_own_vs_ref": _mean(histogram_distance(global_histogram(ab), ref_hist))}


def object_centre(mask: torch.Tensor) -> tuple[int, int]:
    """The pixel of a (H, W) bool mask nearest to the mask's centroid."""
    ys, xs = mask.nonzero(as_tuple=True)
    cy, cx = ys.float().mean(), xs.float().mean()
    k = int(((ys - cy) ** 2 + (xs - cx) ** 2).argmin())
    return int(ys[k]), int(xs[k])


def point_hint(shape: tuple[int, int], points: list[tuple[int, int, tuple[float, float]]], patch: int = PATCH):
    """``(ab_hint (1,2,H,W), mask (1,1,H,W))`` with a ``patch`` x ``patch`` hint of colour ab centred at each
    (y, x, (a, b)), clipped to the image."""
    H, W = shape
    hint, mask = torch.zeros(1, 2, H, W), torch.zeros(1, 1, H, W)
    r = patch // 2
    for y, x, col in points:
        if not (0 <= y < H and 0 <= x < W) or len(col) != 2:
            raise ValueError(f"each point must be (y, x, (a, b)) with (y, x) inside the {H} x {W} image, got {(y, x, col)}")
        t, l = max(0, y - r), max(0, x - r)
        hint[0, :, t:y + r + 1, l:x + r + 1] = torch.tensor(col, dtype=torch.float32)[:, None, None]
        mask[0, :, t:y + r + 1, l:x + r + 1] = 1.0
    return hint, mask


@torch.no_grad()
def unusual_colour_probe(run: ChapterRun, b: dict, n: int) -> dict:
    """Fig. 3.7 analogue: one 7x7 hint of an unusual colour (the object's mean colour turned by 180 degrees in
    the ab plane, at chroma 50) at the centre of each test image's main object. How far does the object's
    colour move toward the hint, and how far does the rest of the image move (non-local effects)?"""
    follow_in, follow_out = [], []
    for i in range(min(n, b["L"].shape[0])):
        obj = b["masks"][i, 0]
        if int(obj.sum()) < 4 * PATCH:
            continue
        L, ab = b["L"][i:i + 1], b["ab"][i:i + 1]
        base = run.colorize(L)[0]
        mean = ab[0][:, obj].mean(1)
        direction = -mean / mean.norm().clamp(min=1e-6) if mean.norm() > 5 else torch.tensor([0.0, -1.0])
        colour = 50.0 * direction
        y, x = object_centre(obj)
        hint, mask = point_hint(L.shape[-2:], [(y, x, tuple(colour.tolist()))])
        out = run.colorize(L, hint, mask)[0]
        shift = (out - base)[0]  # (2, H, W)
        along = (shift * direction[:, None, None]).sum(0) / 50.0  # fraction of the way toward the hint, per pixel
        inside = obj & (mask[0, 0] == 0)
        follow_in.append(float(along[inside].mean()))
        follow_out.append(float(along[~obj].mean()))
    return {"follow_in_object": float(np.mean(follow_in)), "follow_outside": float(np.mean(follow_out)),
            "objects": len(follow_in)}


def square_image(size: int) -> torch.Tensor:
    """Fig. 3.8's toy input: a grey (L = 50) square of half the image side on black (L = 0), (1, 1, H, W)."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 8 or size % 8:
        raise ValueError(f"size must be a positive multiple of 8 (the network's input), got {size!r}")
    L = torch.zeros(1, 1, size, size)
    q = size // 4
    L[..., q:size - q, q:size - q] = 50.0
    return L


TWO_COLOURS = {"blue": (10.0, -50.0), "red": (55.0, 35.0), "green": (-45.0, 40.0), "pink": (45.0, -10.0)}


@torch.no_grad()
def two_colour_probe(run: ChapterRun, first: str = "blue", second: str = "red") -> dict:
    """Fig. 3.8 analogue: two hints placed symmetrically inside the grey square. Returns the colorizations and
    the share of the square's pixels on each side that take the colour of that side's hint."""
    for name in (first, second):
        if name not in TWO_COLOURS:
            raise ValueError(f"unknown colour {name!r}; choose from {sorted(TWO_COLOURS)}")
    size = run.settings["size"]
    L = square_image(size)
    c, off = size // 2, size // 8
    single, _ = run.colorize(L, *point_hint((size, size), [(c, c, TWO_COLOURS[first])]))
    pair_hint, pair_mask = point_hint((size, size), [(c, c - off, TWO_COLOURS[first]), (c, c + off, TWO_COLOURS[second])])
    pair, _ = run.colorize(L, pair_hint, pair_mask)
    a, bcol = torch.tensor(TWO_COLOURS[first]), torch.tensor(TWO_COLOURS[second])
    pix = pair[0].permute(1, 2, 0)  # (H, W, 2)
    closer_a = (pix - a).norm(dim=-1) < (pix - bcol).norm(dim=-1)
    q = size // 4
    square = torch.zeros(size, size, dtype=torch.bool)
    square[q:size - q, q:size - q] = True
    left, right = square.clone(), square.clone()
    left[:, c:] = False
    right[:, :c] = False
    return {"L": L, "single": single, "pair": pair, "pair_hint": pair_hint, "pair_mask": pair_mask,
            "left_takes_first": float(closer_a[left].float().mean()),
            "right_takes_second": float((~closer_a[right]).float().mean())}


@torch.no_grad()
def palette_coverage(run: ChapterRun, b: dict, logits: torch.Tensor) -> dict:
    """Do the palette's top suggestions at an object's centre (no hints) cover its class's true colour modes?

    For every test image whose main object belongs to a multimodal class: the K = 9 suggestions of
    section 3.3.2 at the object's centre pixel; a true mode (probability >= MODE_MIN_PROB) counts as covered
    when one of the PALETTE_TOP most probable suggestions lies within MODE_RADIUS of it in ab.
    """
    per_class: dict[str, list[float]] = {}
    H, W = b["L"].shape[-2:]
    world = run.test_set
    for i in range(b["L"].shape[0]):
        c = int(b["classes"][i, 0])
        modes, probs = world.true_ab_distribution(c)
        if c < 0 or len(probs) < 2 or int(b["masks"][i, 0].sum()) == 0:
            continue
        y, x = object_centre(b["masks"][i, 0])
        pal = suggest_colors(distribution_at(logits[i], y, x, (H, W)), k=zhang2017.PALETTE_K.value, seed=0)
        top = pal.ab[:PALETTE_TOP].float()
        wanted = modes[probs >= MODE_MIN_PROB].float()
        covered = (torch.cdist(wanted, top).min(dim=1).values <= MODE_RADIUS).float().mean()
        per_class.setdefault(world.classes[c].name, []).append(float(covered))
    classes = {k: float(np.mean(v)) for k, v in per_class.items()}
    # per object, one group per class: the bootstrap resamples each class's objects separately (stratified),
    # so that every replicate has every class, as the mean over classes needs
    samples = {f"palette.{name}": {"covered": v} for name, v in per_class.items()}
    return {"per_class": classes, "objects": int(sum(len(v) for v in per_class.values())),
            "mean_coverage": float(np.mean(list(classes.values()))) if classes else None, "samples": samples}


def evaluate(run: ChapterRun) -> dict:
    """Measure every number of the chapter on the test set."""
    b = lab_batch(run.test_set, range(len(run.test_set)))
    L, ab, rgb = b["L"], b["ab"], b["rgb"]
    logits = run.colorize(L)[1]
    two = two_colour_probe(run)
    images: dict = {}  # one value per test image for every compared quantity (the bootstrap's units)
    palette = palette_coverage(run, b, logits)
    return {
        "curves": psnr_curves(run, L, ab, rgb, images),
        "table": table31(run, L, ab, rgb, images),
        "transfer": histogram_transfer(run, L, ab, rgb, images),
        "unusual": unusual_colour_probe(run, b, run.settings["probes"]),
        "two_colours": {k: v for k, v in two.items() if isinstance(v, float)},
        "palette": {k: v for k, v in palette.items() if k != "samples"},
        "saturation": saturation_spread(b),
        "samples": {"images": images, **palette["samples"]},
    }


def saturation_spread(b: dict) -> dict:
    """How much the global saturation hint varies between the test images, and how well it tracks their
    mean chroma |ab|: a statistic that barely varies tells the network little."""
    sat = mean_saturation(b["rgb"]).double()
    chroma = b["ab"].double().norm(dim=1).mean(dim=(1, 2))
    corr = float(torch.corrcoef(torch.stack([sat, chroma]))[0, 1]) if len(sat) > 1 else float("nan")
    return {"mean": float(sat.mean()), "std": float(sat.std()) if len(sat) > 1 else 0.0,
            "min": float(sat.min()), "max": float(sat.max()), "chroma_corr": corr}


# ---------------------------------------------------------------------------------------------
# Facts and claims


def model_facts() -> dict:
    """Parameter counts of the full-size networks (width 1)."""
    released = SIGGRAPH17(1.0, mask_cent=0.0, dist_head="released")
    paper = SIGGRAPH17(1.0, mask_cent=0.0, dist_head="hypercolumn", num_classes=NUM_AB_BINS)
    glob = SIGGRAPH17(1.0, mask_cent=0.0, dist_head=None, global_hints=True)
    return {"released_params": count_parameters(released), "hypercolumn_params": count_parameters(paper),
            "global_params": count_parameters(glob),
            "global_branch_params": count_parameters(glob.global_branch)}


# ---------------------------------------------------------------------------------------------
# Entry points


def run_experiment(profile: str | None = None, seed: int = 0, force: bool = False, device=None,
                   write: bool = True) -> ChapterRun:
    """Run the whole chapter: train (or load) every model, evaluate, check the claims, write the results."""
    run = prepare(profile, seed, device)
    train_all(run, force=force)
    run.metrics = evaluate(run)
    measured = model_facts()
    run.metrics["model"] = measured
    run.metrics["training"] = run.training_summary()
    s = run.settings
    prov = run.provenance(data={
        "dataset": "ColorWorld", "image_size": s["size"], "train_images_local": s["steps"] * s["batch"],
        "train_images_global": s["global_steps"] * s["batch"], "test_images": s["n_test"], "width": s["width"],
        "steps": s["steps"], "global_steps": s["global_steps"], "batch": s["batch"]})
    return run.conclude(CHAPTER, claims(), facts(measured), prov, write=write)


def run(profile: str | None = None, seed: int = 0, force: bool = False, device=None, write: bool = True) -> dict:
    """CLI entry point: run the chapter and (``write``) write ``book/results/<profile>/user_guided.json``."""
    return run_experiment(profile=profile, seed=seed, force=force, device=device, write=write).results
