"""Chapter 5: deep features as a perceptual metric, LPIPS (Zhang et al., CVPR 2018; thesis ch. 6).

What the chapter's notebook and ``python -m reprolib reproduce lpips`` run:

1. The official weights: LPIPS-alex and -vgg v0.1 on the released example triplet, the sizes of the
   linear layers, the share of zero weights per layer (Fig. 6.6), and the throughput on 64 x 64 patches.
2. Judgment sets whose answers are known by construction (:mod:`reprolib.chapters.lpips.judgments`), on 64 x 64 patches
   of the bundled photos and of ColorWorld:

   * ``sentinel``: one distortion family at two severities (same random draw): the weaker is closer. The
     families are the *held-out* ones (never seen by our calibration);
   * ``sentinel_cnn``: the same for CNN-based distortions (:mod:`reprolib.chapters.lpips.cnn_distortions`): the output of
     a small, briefly trained denoising autoencoder vs. a blend that keeps at most 30 % of its change;
   * ``equal_mse``: a structure-preserving change (lightness shift, contrast) vs. a structure-damaging one
     (blur, noise, JPEG) at the same RGB MSE (Wang & Bovik 2009): the former is closer. ``equal_mse_heldout``
     is its subset with held-out families on both sides (contrast vs. blur or JPEG);
   * ``jnd``: identical copies ("same") vs. heavy noise ("different"), scored by mAP;
   * ``mixed``: random distortions with no known answer: only metric-vs-metric agreement is reported.

3. Metrics scored on every set: L2 (Lab), PSNR, SSIM, a randomly initialised AlexNet, ImageNet AlexNet and
   VGG16 (cosine: w = 1, and the official lin weights), our lin weights calibrated on constructed judgments
   of the *training* families, the ``tune`` and ``scratch`` variants (sec. 6.3), and a self-supervised
   network: Chapter 1's colorization network (it sees only the L channel).
4. Claims with verdicts computed from these measurements, exact facts, and the results file.

Efficiency. Every deep metric here is Eq. 6.1: ``d = sum_l w_l . mean_hw (y_hat0 - y_hat1)^2``. Since the
spatial mean and the 1 x 1 "lin" layer are both linear, ``d = w . v`` with ``v`` the per-channel spatial
means of the squared differences (one vector of sum_l C_l numbers per pair, :func:`triplet_vectors`). A
trunk therefore runs once per image, and cosine, official and learned weights are all scored from the
same vectors; our lin calibration (frozen trunk) trains on them too (:func:`fit_lin_on_vectors`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from reprolib.chapters.lpips import judgments as J
from reprolib.chapters.lpips.agreement import jnd_map, two_afc_credit
from reprolib.chapters.lpips.cnn_distortions import make_cnn_distorters
from reprolib.chapters.lpips.ranking import train_lin
from reprolib.chapters.lpips.vectors import (
    BATCH,
    BETA1,
    Calibration,
    ColorizationTrunk,
    fit_lin_on_vectors,
    lin_vector,
    lpips_trunk,
    pair_vectors,
    triplet_vectors,
)
from reprolib.chapters.lpips.verdicts import claims, facts
from reprolib.config import code_version, get_device, get_profile, repo_root, seed_everything
from reprolib.data.patches import colorworld_patches, photo_patches
from reprolib.metrics.distances import l2_distance, psnr_distance, ssim_distance
from reprolib.metrics.lpips import LPIPS, zero_weight_fractions
from reprolib.modelcache import load_or_train
from reprolib.nn.backbones import TAP_CHANNELS
from reprolib.runs import ChapterRunBase

CHAPTER = "lpips"
TITLE = "5. LPIPS: deep features as a perceptual metric"
NOTEBOOK = "book/lpips.ipynb"
NEEDS_GPU = ("no; every profile runs on a CPU (the official metric and the small calibrations are cheap), "
             "but the full profile's VGG16 evaluation and tune/scratch training are meant for a GPU")

# A profile changes sizes, never the algorithm (DESIGN section 6). n_*: triplets/pairs per set, built from
# half photo patches (test split) and half ColorWorld scenes; vgg_n: how many of each set VGG16 scores.
SETTINGS: dict[str, dict] = {
    "smoke": dict(size=64, n_test=12, n_train=60, vgg_n=4, n_cnn=4, cnn_k=1, cnn_steps=4, cnn_size=32,
                  lin_epochs=5, lin_decay=5, lin_lr=1e-3, tune_n=10, tune_epochs=1, tune_decay=0,
                  tune_lr=1e-4, bench_batch=4, bench_repeats=1, color_profile="smoke", demo_patches=2),
    "fast": dict(size=64, n_test=100, n_train=600, vgg_n=20, n_cnn=32, cnn_k=3, cnn_steps=40, cnn_size=32,
                 lin_epochs=5, lin_decay=5, lin_lr=1e-3, tune_n=40, tune_epochs=1, tune_decay=1,
                 tune_lr=1e-4, bench_batch=50, bench_repeats=1, color_profile="fast", demo_patches=3),
    "full": dict(size=64, n_test=1000, n_train=10000, vgg_n=1000, n_cnn=400, cnn_k=16, cnn_steps=300,
                 cnn_size=64, lin_epochs=5, lin_decay=5, lin_lr=1e-4, tune_n=4000, tune_epochs=5,
                 tune_decay=5, tune_lr=1e-4, bench_batch=50, bench_repeats=5, color_profile="full",
                 demo_patches=4),
}
# Held out of every calibration: these families are only ever tested (split_families accepts groups).
HELD_OUT = ("contrast", "gaussian_blur", "jpeg", "spatial")
TRAIN_BENIGN, TRAIN_DAMAGING = ("lightness_shift",), ("gaussian_noise",)
CNN_MAX_BLEND = 0.3  # the weak side of a CNN sentinel keeps at most this share of the CNN's change
SETS = ("sentinel", "sentinel_cnn", "equal_mse", "equal_mse_heldout", "heldout", "jnd")
METRICS = ("l2", "psnr", "ssim", "alex_random", "alex_random_lin", "alex", "alex_lin_official", "alex_lin_ours",
           "vgg", "vgg_lin_official", "vgg_lin_ours", "alex_tune", "alex_scratch", "color", "color_lin_ours")


def settings(profile: str | None = None) -> dict:
    return dict(SETTINGS[get_profile(profile)])


# ---------------------------------------------------------------------------------------------
# Data: patches and judgment sets


@dataclass
class Sets:
    """The judgment sets of a run (see the module docstring)."""

    train: J.TwoAFC
    sentinel: J.TwoAFC
    sentinel_cnn: J.TwoAFC
    equal_mse: J.TwoAFC
    jnd: J.JNDPairs
    mixed: J.TwoAFC
    heldout_mask: torch.Tensor  # over equal_mse: held-out families on both sides
    train_families: list[str] = field(default_factory=list)
    heldout_families: list[str] = field(default_factory=list)
    cnn_names: list[str] = field(default_factory=list)

    def two_afc(self) -> dict[str, J.TwoAFC]:
        return {"sentinel": self.sentinel, "sentinel_cnn": self.sentinel_cnn, "equal_mse": self.equal_mse,
                "mixed": self.mixed}


def reference_patches(n: int, size: int, seed: int, split: str = "test") -> torch.Tensor:
    """``n`` patches: half from the bundled photos (``split``), half ColorWorld scenes (flat ones skipped)."""
    n_photo = (n + 1) // 2
    photos = photo_patches(n_photo, size, split=split, seed=seed, min_std=0.05)
    world = colorworld_patches(n - n_photo, size, seed=seed + (0 if split == "test" else 7), min_std=0.05)
    return torch.cat([photos, world])


def cnn_sentinel(refs: torch.Tensor, distorters: list, rng: torch.Generator) -> J.TwoAFC:
    """Sentinels for CNN-based distortions: ``G(c(x))`` vs. ``x + t (G(c(x)) - x)``, t ~ U(0, 0.3).

    The weak side carries the same artefacts at most 30 % as strongly (at most 9 % of the MSE), so it is
    the closer one for any observer, as for the traditional sentinels.
    """
    n = refs.shape[0]
    strong = torch.empty_like(refs)
    names = []
    for i in range(n):
        g = distorters[i % len(distorters)]
        strong[i:i + 1] = g(refs[i:i + 1], rng=rng).clamp(0, 1)
        names.append(g.family)
    t = CNN_MAX_BLEND * torch.rand(n, generator=rng, dtype=torch.float64).float()[:, None, None, None]
    weak = (refs + t * (strong - refs)).clamp(0, 1)
    weak_is_p1 = torch.rand(n, generator=rng) < 0.5
    flip = weak_is_p1[:, None, None, None]
    p0, p1 = torch.where(flip, strong, weak), torch.where(flip, weak, strong)
    mse = lambda a: ((a.double() - refs.double()) ** 2).mean(dim=(1, 2, 3))  # noqa: E731
    sev_w = [(float(v),) for v in t.flatten()]
    return J.TwoAFC(ref=refs.clone(), p0=p0, p1=p1, judge=weak_is_p1.double(), family0=names, family1=names,
                    sev0=[(1.0,) if not f else s for f, s in zip(weak_is_p1.tolist(), sev_w)],
                    sev1=[s if f else (1.0,) for f, s in zip(weak_is_p1.tolist(), sev_w)],
                    mse0=mse(p0), mse1=mse(p1), index=torch.arange(n), kind="sentinel_cnn",
                    info={"distorters": sorted(set(names)), "max_blend": CNN_MAX_BLEND})


def make_sets(s: dict, seed: int = 0) -> Sets:
    train_fams, heldout_fams = J.split_families(list(HELD_OUT))
    size, n = s["size"], s["n_test"]
    g = torch.Generator().manual_seed(seed)
    # Training judgments (train photos and other ColorWorld scenes; training families only).
    train_refs = reference_patches(s["n_train"], size, seed + 1, split="train")
    k = s["n_train"] * 2 // 3
    train = _concat(J.sentinel_2afc(train_refs[:k], g, families=train_fams),
                    J.equal_mse_2afc(train_refs[k:], g, benign=TRAIN_BENIGN, damaging=TRAIN_DAMAGING))
    # Test sets: test photos and fresh ColorWorld scenes.
    refs = reference_patches(4 * n + s["n_cnn"], size, seed + 2, split="test")
    chunks = refs.split([n, n, n, n, s["n_cnn"]])
    sentinel = J.sentinel_2afc(chunks[0], g, families=heldout_fams)
    equal_mse = J.equal_mse_2afc(chunks[1], g)
    jnd = J.sentinel_jnd(chunks[2], g, fractions=(0.5, 0.0, 0.5))
    mixed = J.mixed_2afc(chunks[3], g)
    cnn_train = photo_patches(128, s["cnn_size"], split="train", seed=seed + 3)
    distorters = make_cnn_distorters(s["cnn_k"], seed=seed, steps=s["cnn_steps"], size=s["cnn_size"],
                                     patches=cnn_train)
    sentinel_cnn = cnn_sentinel(chunks[4], distorters, g)
    held = set(heldout_fams)
    mask = torch.tensor([a in held and b in held for a, b in zip(equal_mse.family0, equal_mse.family1)])
    return Sets(train, sentinel, sentinel_cnn, equal_mse, jnd, mixed, mask, train_fams, heldout_fams,
                [d.family for d in distorters])


def _concat(a: J.TwoAFC, b: J.TwoAFC) -> J.TwoAFC:
    return J.TwoAFC(ref=torch.cat([a.ref, b.ref]), p0=torch.cat([a.p0, b.p0]), p1=torch.cat([a.p1, b.p1]),
                    judge=torch.cat([a.judge, b.judge]), family0=a.family0 + b.family0, family1=a.family1 + b.family1,
                    sev0=a.sev0 + b.sev0, sev1=a.sev1 + b.sev1, mse0=torch.cat([a.mse0, b.mse0]),
                    mse1=torch.cat([a.mse1, b.mse1]), index=torch.cat([a.index, b.index + len(a.index)]),
                    kind=f"{a.kind}+{b.kind}", info={"parts": [a.kind, b.kind]})


# ---------------------------------------------------------------------------------------------
# The chapter run


@dataclass
class ChapterRun(ChapterRunBase):
    """Everything the notebook needs after a run."""

    sets: Sets | None = None
    modules: dict = field(default_factory=dict)  # name -> LPIPS or ColorizationTrunk
    vectors: dict = field(default_factory=dict)  # (trunk, set) -> tensors
    weights: dict = field(default_factory=dict)  # metric -> w vector
    calibrations: dict = field(default_factory=dict)
    distances: dict = field(default_factory=dict)  # (metric, set) -> (d0, d1) or d
    timings: dict = field(default_factory=dict)


def colorization_network(profile: str, seed: int = 0, device=None, force: bool = False):
    """Chapter 1's "full" ECCV16 network at ``profile``, trained (or loaded from the cache) exactly as
    Chapter 1 trains it, so that a machine that ran Chapter 1 reuses its model."""
    from reprolib.chapters import automatic

    return automatic.train_variant(automatic.prepare(profile, seed, device), "full", force=force)


def prepare(profile: str | None = None, seed: int = 0, device=None) -> ChapterRun:
    profile = get_profile(profile)
    seed_everything(seed)
    device = get_device(device, quiet=True)
    run = ChapterRun(profile, seed, settings(profile), device)
    t0 = time.perf_counter()
    run.sets = make_sets(run.settings, seed)
    run.timings["sets"] = time.perf_counter() - t0
    return run


def _fit_trunk_variant(mode: str, triplets: J.TwoAFC, s: dict, seed: int, device):
    def fit(model: LPIPS, checkpoint_path: Path) -> dict:
        trained, history = train_lin(model, (triplets.ref, triplets.p0, triplets.p1, triplets.judge), mode=mode,
                                     epochs=s["tune_epochs"], decay_epochs=s["tune_decay"], lr=s["tune_lr"],
                                     batch_size=BATCH, beta1=BETA1, seed=seed, device=device, value_range=(0.0, 1.0),
                                     progress=False)
        model.load_state_dict(trained.state_dict())
        return {k: v for k, v in history.items() if k != "head"}

    return fit


def train_all(run: ChapterRun, force: bool = False) -> ChapterRun:
    """Build the trunks, compute the vectors of every set, calibrate lin, train tune/scratch."""
    s, seed, sets, dev = run.settings, run.seed, run.sets, run.device
    t0 = time.perf_counter()
    run.modules["alex"] = LPIPS("alex").to(dev)
    run.modules["vgg"] = LPIPS("vgg").to(dev)
    run.modules["alex_random"] = LPIPS("alex", pretrained=False, lpips=False, seed=seed).to(dev)
    colorizer, info = colorization_network(s["color_profile"], seed, dev, force=force)
    run.histories["colorizer"] = {"cached": info["cached"], "seconds": info["seconds"]}
    run.modules["color"] = ColorizationTrunk(colorizer).to(dev)
    run.timings["colorizer"] = info["seconds"]
    # tune and scratch (sec. 6.3): the whole AlexNet trunk learns, on the first tune_n training triplets.
    tune_set = sets.train.subset(torch.arange(min(s["tune_n"], len(sets.train))))
    for mode in ("tune", "scratch"):
        t1 = time.perf_counter()
        config = {"mode": mode, "seed": seed, "code": code_version(), "n": len(tune_set), "size": s["size"],
                  "epochs": s["tune_epochs"], "decay": s["tune_decay"], "lr": s["tune_lr"], "n_train": s["n_train"]}
        model, info = load_or_train(
            CHAPTER, f"alex_{mode}", run.profile, config,
            build=lambda mode=mode: LPIPS("alex", pretrained=(mode == "tune")),
            fit=_fit_trunk_variant(mode, tune_set, s, seed, dev), force=force, device=dev,
        )
        run.modules[f"alex_{mode}"] = model
        run.histories[f"alex_{mode}"] = {"cached": info["cached"], "seconds": info["seconds"]}
        run.weights[f"alex_{mode}"] = lin_vector(model)
        run.timings[f"train_{mode}"] = time.perf_counter() - t1

    # Vectors of every trunk on every set (VGG16 on the first vgg_n of each test set only).
    trunks = {
        "alex": lpips_trunk(run.modules["alex"]), "alex_random": lpips_trunk(run.modules["alex_random"]),
        "color": run.modules["color"], "vgg": lpips_trunk(run.modules["vgg"]),
        "alex_tune": lpips_trunk(run.modules["alex_tune"]), "alex_scratch": lpips_trunk(run.modules["alex_scratch"]),
    }
    for name, trunk in trunks.items():
        t1 = time.perf_counter()
        limit = s["vgg_n"] if name == "vgg" else None
        for set_name, triplets in sets.two_afc().items():
            sub = triplets if limit is None else triplets.subset(torch.arange(min(limit, len(triplets))))
            run.vectors[(name, set_name)] = triplet_vectors(trunk, sub.ref, sub.p0, sub.p1, device=dev)
        jnd = sets.jnd if limit is None else _jnd_subset(sets.jnd, limit)
        run.vectors[(name, "jnd")] = (pair_vectors(trunk, jnd.ref, jnd.p, device=dev),)
        if name in ("alex", "alex_random", "color"):  # the trunks we calibrate (frozen): training vectors
            run.vectors[(name, "train")] = triplet_vectors(trunk, sets.train.ref, sets.train.p0, sets.train.p1,
                                                           device=dev)
        run.timings[f"vectors_{name}"] = time.perf_counter() - t1

    # Weights: cosine (1), official lin, ours.
    for name in ("alex", "vgg"):
        run.weights[f"{name}_lin_official"] = lin_vector(run.modules[name])
    for name in ("alex", "alex_random", "color"):
        channels = TAP_CHANNELS["alex"] if name != "color" else run.modules["color"].channels
        v0, v1 = run.vectors[(name, "train")]
        config = {"trunk": name, "seed": seed, "code": code_version(), "n_train": s["n_train"], "size": s["size"],
                  "epochs": s["lin_epochs"], "decay": s["lin_decay"], "lr": s["lin_lr"],
                  "color_profile": s["color_profile"]}
        model, info = load_or_train(
            CHAPTER, f"{name}_lin", run.profile, config, build=lambda c=channels: Calibration(c),
            fit=lambda m, _p, v0=v0, v1=v1: fit_lin_on_vectors(
                m, v0, v1, sets.train.judge, s["lin_epochs"], s["lin_decay"], s["lin_lr"], seed=seed),
            force=force, device="cpu",
        )
        run.calibrations[name] = model
        run.histories[f"{name}_lin"] = info["history"]
        run.weights[f"{name}_lin_ours"] = model.weights()
    run.timings["train_all"] = time.perf_counter() - t0
    return run


def _jnd_subset(p: J.JNDPairs, n: int) -> J.JNDPairs:
    i = torch.arange(min(n, len(p)))
    return J.JNDPairs(ref=p.ref[i], p=p.p[i], same=p.same[i], level=p.level[i], family=p.family[: len(i)],
                      severity=p.severity[i], mse=p.mse[i], index=p.index[i])


# ---------------------------------------------------------------------------------------------
# Evaluation


_TRUNK_OF = {"alex_random": "alex_random", "alex_random_lin": "alex_random", "alex": "alex",
             "alex_lin_official": "alex", "alex_lin_ours": "alex", "vgg": "vgg", "vgg_lin_official": "vgg",
             "vgg_lin_ours": "vgg", "alex_tune": "alex_tune", "alex_scratch": "alex_scratch", "color": "color",
             "color_lin_ours": "color"}
_WEIGHTS_OF = {"alex_random_lin": "alex_random_lin_ours", "alex_lin_official": "alex_lin_official",
               "alex_lin_ours": "alex_lin_ours", "vgg_lin_official": "vgg_lin_official", "vgg_lin_ours": "vgg_lin_ours",
               "alex_tune": "alex_tune", "alex_scratch": "alex_scratch", "color_lin_ours": "color_lin_ours"}
_PIXEL = {"l2": l2_distance, "psnr": psnr_distance, "ssim": ssim_distance}


def available_metrics(run: ChapterRun) -> list[str]:
    return [m for m in METRICS if m in _PIXEL or (
        (_TRUNK_OF[m], "sentinel") in run.vectors and (m not in _WEIGHTS_OF or _WEIGHTS_OF[m] in run.weights))]


def _deep_distances(run: ChapterRun, metric: str, set_name: str) -> tuple[torch.Tensor, ...]:
    vs = run.vectors[(_TRUNK_OF[metric], set_name)]
    w = run.weights[_WEIGHTS_OF[metric]] if metric in _WEIGHTS_OF else None
    return tuple(v.sum(dim=1) if w is None else v @ w for v in vs)


def _pixel_distances(fn, x: torch.Tensor, ys: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    return tuple(torch.cat([fn(x[i:i + 200], y[i:i + 200]) for i in range(0, len(x), 200)]) for y in ys)


def distances(run: ChapterRun, metric: str, set_name: str) -> tuple[torch.Tensor, ...]:
    """The metric's distances on a set: (d0, d1) for 2AFC sets, (d,) for ``jnd`` (cached)."""
    key = (metric, set_name)
    if key not in run.distances:
        if metric in _PIXEL:
            if set_name == "jnd":
                run.distances[key] = _pixel_distances(_PIXEL[metric], run.sets.jnd.ref, [run.sets.jnd.p])
            else:
                t = run.sets.two_afc()[set_name]
                run.distances[key] = _pixel_distances(_PIXEL[metric], t.ref, [t.p0, t.p1])
        else:
            run.distances[key] = _deep_distances(run, metric, set_name)
    return run.distances[key]


def _credit(run: ChapterRun, metric: str, set_name: str) -> torch.Tensor:
    d0, d1 = distances(run, metric, set_name)
    judge = run.sets.two_afc()[set_name].judge[: len(d0)]
    return two_afc_credit(d0, d1, judge)


def evaluate(run: ChapterRun) -> dict:
    """2AFC (%) on every set with known answers, JND mAP (%), agreement on ``mixed``, and the set sizes."""
    sets = run.sets
    scores: dict[str, dict] = {}
    sizes: dict[str, dict] = {}
    mask = sets.heldout_mask
    # per judgment, every metric's credit (100, 50 or 0): the bootstrap resamples judgments. A metric scored
    # on the first k judgments only (VGG16, to save time) goes to its own group, "<set>.first<k>".
    samples: dict[str, dict] = {}
    full_size = {name: len(t.judge) for name, t in sets.two_afc().items() if t.judge is not None}

    def keep(set_name: str, credit: torch.Tensor, full: int) -> None:
        group = set_name if len(credit) == full else f"{set_name}.first{len(credit)}"
        samples.setdefault(group, {})[metric] = (100.0 * credit.double()).tolist()

    for metric in available_metrics(run):
        row, n = {}, {}
        for set_name in ("sentinel", "sentinel_cnn", "equal_mse"):
            c = _credit(run, metric, set_name)
            row[set_name], n[set_name] = 100.0 * float(c.mean()), int(c.numel())
            keep(set_name, c, full_size[set_name])
        c_eq = _credit(run, metric, "equal_mse")
        c_held = torch.cat([_credit(run, metric, "sentinel"), c_eq[mask[: len(c_eq)]]])
        keep("heldout", c_held, full_size["sentinel"] + int(mask.sum()))
        if int(mask[: len(c_eq)].sum()):
            row["equal_mse_heldout"] = 100.0 * float(c_eq[mask[: len(c_eq)]].mean())
        n["equal_mse_heldout"] = int(mask[: len(c_eq)].sum())
        row["heldout"], n["heldout"] = 100.0 * float(c_held.mean()), int(c_held.numel())
        (d,) = distances(run, metric, "jnd")
        known = sets.jnd.known[: len(d)]
        same = sets.jnd.same[: len(d)][known]
        row["jnd"] = 100.0 * jnd_map(d[known], same) if float(same.sum()) > 0 else None
        n["jnd"] = int(known.sum())
        scores[metric], sizes[metric] = row, n
    # metric-vs-metric agreement on the mixed set (no answers): share of triplets where both pick the same side
    ref_metric = "alex_lin_official"
    d0r, d1r = distances(run, ref_metric, "mixed")
    agreement = {}
    for metric in available_metrics(run):
        d0, d1 = distances(run, metric, "mixed")
        m = len(d0)
        agreement[metric] = 100.0 * float(((d0 < d1) == (d0r[:m] < d1r[:m])).double().mean())
    return {"scores": scores, "n": sizes, "mixed_agreement_with_alex_lin_official": agreement, "samples": samples}


# ---------------------------------------------------------------------------------------------
# Official weights: example distances, sizes, sparsity, throughput


def fixture_dir() -> Path | None:
    """The released example triplet (``ex_ref.png``, ``ex_p0.png``, ``ex_p1.png``), if present."""
    candidates = [Path.cwd() / "tests" / "fixtures" / "lpips", Path.cwd().parent / "tests" / "fixtures" / "lpips"]
    root = repo_root()
    if root is not None:
        candidates += [root / "tests" / "fixtures" / "lpips", root.parent / "shared" / "fixtures" / "lpips"]
    for c in candidates:
        if (c / "ex_ref.png").exists():
            return c
    return None


def _display_path(folder: Path | None) -> str | None:
    """``folder`` relative to the repository (or the folder beside it that holds ``shared/``), so that the
    results file does not depend on where the clone lives; absolute only when it is elsewhere."""
    if folder is None:
        return None
    root = repo_root()
    for base in ([root, root.parent] if root is not None else []):
        try:
            return folder.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            continue
    return str(folder)


def load_png(path: Path) -> torch.Tensor:
    """An 8-bit RGB PNG as (1, 3, H, W) in [-1, 1] (``x / 127.5 - 1``, as the released example does)."""
    from PIL import Image

    arr = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)
    return torch.from_numpy(arr).permute(2, 0, 1)[None] / 127.5 - 1


@torch.no_grad()
def official_facts(run: ChapterRun) -> dict:
    out: dict = {"example": {}, "lin_weights": {}, "zero_fraction": {}}
    folder = fixture_dir()
    for net in ("alex", "vgg"):
        m = run.modules[net]
        out["lin_weights"][net] = int(sum(lin.weight.numel() for lin in m.lins))
        out["zero_fraction"][net] = [100.0 * f for f in zero_weight_fractions(m)]
        if folder is not None:
            ref, p0, p1 = (load_png(folder / f"ex_{k}.png").to(run.device) for k in ("ref", "p0", "p1"))
            # the released test_network.py: spatial map, then its mean
            out["example"][net] = [float(m(ref, p, spatial=True).mean()) for p in (p0, p1)]
    for name in ("alex", "alex_random", "color"):
        cal = run.calibrations.get(name)
        if cal is not None:
            out["zero_fraction"][f"{name}_lin_ours"] = [100.0 * f for f in zero_weight_fractions(cal.lins)]
    out["example_fixture"] = _display_path(folder)
    return out


@torch.no_grad()
def throughput(run: ChapterRun, nets: Sequence[str] = ("alex", "vgg")) -> dict:
    """Pairs per second of LPIPS v0.1 (forward, no gradient) on 64 x 64 patches, batch ``bench_batch``."""
    s = run.settings
    gen = torch.Generator().manual_seed(0)
    x0 = (torch.rand(s["bench_batch"], 3, 64, 64, generator=gen) * 2 - 1).to(run.device)
    x1 = (torch.rand(s["bench_batch"], 3, 64, 64, generator=gen) * 2 - 1).to(run.device)
    out = {"batch": s["bench_batch"], "repeats": s["bench_repeats"], "device": str(run.device),
           "threads": torch.get_num_threads()}
    for net in nets:
        m = run.modules[net]
        m(x0[:2], x1[:2])  # warm-up
        times = []
        for _ in range(s["bench_repeats"]):
            if run.device.type == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            m(x0, x1)
            if run.device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t)
        out[net] = {"seconds_per_batch": float(np.median(times)), "pairs_per_second": s["bench_batch"] / float(np.median(times))}
    return out


# ---------------------------------------------------------------------------------------------
# Entry points


def run_experiment(profile: str | None = None, seed: int = 0, force: bool = False, device=None,
                   write: bool = True) -> ChapterRun:
    """Run the whole chapter: :func:`prepare`, :func:`train_all`, then :func:`finish`."""
    run = prepare(profile, seed, device)
    train_all(run, force=force)
    return finish(run, write=write)


def finish(run: ChapterRun, started: datetime | None = None, t0: float | None = None, write: bool = True) -> ChapterRun:
    """Evaluate a trained run, check the claims and facts, and write the results file. The provenance's
    start and wall time run from ``started``/``t0``, by default from when :func:`prepare` made ``run``."""
    t1 = time.perf_counter()
    run.metrics = evaluate(run)
    run.timings["evaluate"] = time.perf_counter() - t1
    run.metrics["official"] = official_facts(run)
    run.metrics["throughput"] = throughput(run)
    run.metrics["training"] = {k: {kk: vv for kk, vv in v.items() if not isinstance(vv, (list, dict))}
                               for k, v in run.histories.items()}
    run.metrics["lin_training"] = {k: {"loss": run.histories[f"{k}_lin"]["loss"],
                                       "agreement": run.histories[f"{k}_lin"]["agreement"]}
                                   for k in run.calibrations}
    run.metrics["timings"] = dict(run.timings)
    s, sets = run.settings, run.sets
    prov = run.provenance(
        started=started, t0=t0,
        data={"patch_size": s["size"], "train_triplets": len(sets.train), "sentinel": len(sets.sentinel),
              "sentinel_cnn": len(sets.sentinel_cnn), "equal_mse": len(sets.equal_mse),
              "equal_mse_heldout": int(sets.heldout_mask.sum()), "jnd_known": int(sets.jnd.known.sum()),
              "mixed": len(sets.mixed), "vgg_per_set": s["vgg_n"], "cnn_distorters": s["cnn_k"],
              "held_out_families": sets.heldout_families, "train_families": sets.train_families,
              "patches": "bundled photos (test split) + ColorWorld; training: photos (train split) + ColorWorld"},
    )
    return run.conclude(CHAPTER, claims(), facts(run.metrics), prov, write=write)


def run(profile: str | None = None, seed: int = 0, force: bool = False, device=None, write: bool = True) -> dict:
    """CLI entry point: run the chapter and (``write``) write ``book/results/<profile>/lpips.json``."""
    return run_experiment(profile=profile, seed=seed, force=force, device=device, write=write).results
