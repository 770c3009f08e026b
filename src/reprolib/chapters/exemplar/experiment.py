"""Chapter 7: exemplar-based colorization (He, Chen, Liao, Sander & Yuan, SIGGRAPH 2018), trained from scratch.

What the chapter's notebook and ``python -m reprolib reproduce exemplar`` run:

1. A pool of ColorWorld training scenes with their grey VGG16 features (:func:`.pairs.make_pool`), training
   pairs in the mix of sec. 3.2.3 (:func:`.pairs.training_pairs`: recommended, random same-class, other-class;
   roles swapped at random) and their alignment by our similarity sub-net (:mod:`reprolib.nn.correspondence`:
   the two mappings and the ten similarity maps of Eq. 1), computed once.
2. The colorization sub-net (:class:`reprolib.models.exemplar.ExampleColorNet`) trained four ways
   (``MODELS``): both branches (Eq. 7, alpha = 0.005, half of each batch per branch, one forward so that the
   two halves share BatchNorm statistics), the chrominance branch alone (Eq. 3-4), the perceptual branch alone
   (Eq. 5-6), and, as the learning-based control, the same network with its reference channels blanked and the
   smooth-l1 loss to the ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from reprolib.chapters.exemplar import measure
from reprolib.chapters.exemplar import pairs as pr
from reprolib.chapters.exemplar.baselines import Baselines, load_baselines
from reprolib.chapters.exemplar.paper import ALPHA, LR
from reprolib.chapters.exemplar.verdicts import claims, facts
from reprolib.config import code_version, get_device, get_profile, seed_everything
from reprolib.data import ColorWorld
from reprolib.modelcache import fit_with, load_or_train
from reprolib.modelinfo import count_parameters
from reprolib.models.exemplar import ExampleColorNet
from reprolib.models.siggraph17 import smooth_l1_loss
from reprolib.nn import vgg16_relu_x_1
from reprolib.nn.feature_loss import FeatureLoss
from reprolib.nn.pretrained import pretrained_backbone
from reprolib.runs import ChapterRunBase
from reprolib.train import TrainConfig

CHAPTER = "exemplar"
TITLE = "7. Exemplar-based colorization"
NOTEBOOK = "book/exemplar.ipynb"
NEEDS_GPU = "no; the smoke and fast profiles run on a CPU, the full profile (wider network, 96 px) is meant for a GPU"

# name -> (the branches each update runs, ``batch`` pairs each; the weight of the perceptual loss; reference given).
# "two" is Eq. 7 (the paper's batch: half per branch); "chrom" and "perc" are the single-branch ablations of
# sec. 5.1 / Fig. 8, with as many pairs per update in their branch as "two" has; "auto" sees no reference (zero ab,
# zero similarity) and learns from the ground truth by Eq. 4: a learning-based colorizer of the same size, the
# control for "does the output follow the reference".
MODELS: dict[str, dict] = {
    "two": dict(branches=("chrom", "perc"), alpha=ALPHA, reference=True),
    "chrom": dict(branches=("chrom",), alpha=0.0, reference=True),
    "perc": dict(branches=("perc",), alpha=ALPHA, reference=True),
    "auto": dict(branches=("chrom",), alpha=0.0, reference=False),
}

# A profile changes sizes, never the algorithm. benchmarks/bench_exemplar.py (AMD EPYC, AVX2, 2 threads, 64 px):
# VGG16 to relu5_1 22 ms per grey image, the matching 15 ms and Eq. 1 5 ms per pair; the perceptual loss 62 ms per
# image forward and backward, against 16 ms per pair for a width-1/8 update of the chrominance branch. The
# perceptual branch dominates, so fast runs at 48 px (0.56 of the pixels) with 8 pairs per branch and update.
SETTINGS: dict[str, dict] = {
    "smoke": dict(size=32, width=1 / 8, n_pool=256, n_pairs=256, top_n=20, steps=30, batch=4, lr=1e-3, n_test=24,
                  n_refs=64),
    "fast": dict(size=48, width=1 / 8, n_pool=1024, n_pairs=1024, top_n=20, steps=300, batch=8, lr=1e-3,
                 n_test=128, n_refs=512),
    "full": dict(size=96, width=1 / 2, n_pool=8000, n_pairs=16000, top_n=200, steps=6000, batch=32, lr=LR,
                 n_test=1000, n_refs=2000),
}


def settings(profile: str | None) -> dict:
    return dict(SETTINGS[get_profile(profile)])


@dataclass
class ChapterRun(ChapterRunBase):
    """The training pool, its pairs and their alignment, the frozen VGG16 (similarity sub-net and perceptual
    loss share one copy), and (after :func:`train_all`) the trained colorization networks."""

    pool: pr.Pool
    targets: torch.Tensor
    references: torch.Tensor
    kinds: torch.Tensor
    aligned: pr.Aligned
    taps: torch.nn.Module
    feature_loss: FeatureLoss
    nets: dict = field(default_factory=dict)
    keys: dict = field(default_factory=dict)
    baselines: Baselines | None = None  # Chapters 1 and 2's models (after train_all)

    def net(self, name: str) -> ExampleColorNet:
        if name not in self.nets:
            raise KeyError(f"model {name!r} is not trained in this run; trained: {', '.join(self.nets) or 'none'}")
        return self.nets[name]


def load_vgg() -> tuple[torch.nn.Module, FeatureLoss]:
    """ImageNet VGG16 (offline weights), frozen, read at relu{1..5}_1 and as the relu5_1 feature loss."""
    trunk = pretrained_backbone("vgg")
    return vgg16_relu_x_1(trunk), FeatureLoss(trunk)


def prepare(profile: str | None = None, seed: int = 0, device=None) -> ChapterRun:
    """Settings, the training pool, its pairs and their alignment (nothing trained yet)."""
    profile = get_profile(profile)
    s = settings(profile)
    seed_everything(seed)
    taps, loss = load_vgg()
    world = ColorWorld(n=s["n_pool"], size=s["size"], seed=seed + 700)
    pool = pr.make_pool(world.batch(range(s["n_pool"])), taps)
    targets, references, kinds = pr.training_pairs(pool, s["n_pairs"], seed + 701, s["top_n"])
    aligned = pr.align_pairs(taps, pool.L[targets], pool.L[references])
    return ChapterRun(profile, seed, s, get_device(device, quiet=True), pool=pool, targets=targets,
                      references=references, kinds=kinds, aligned=aligned, taps=taps, feature_loss=loss)


def model_config(name: str, run: ChapterRun) -> dict:
    keys = ("size", "width", "n_pool", "n_pairs", "top_n", "steps", "batch", "lr")
    return {"model": name, **MODELS[name], **{k: run.settings[k] for k in keys}, "seed": run.seed,
            "code": code_version()}


def _rows(step: int, batch: int, n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed * 1_000_003 + step)
    return torch.randint(n, (batch,), generator=g)


def batch_for(run: ChapterRun, name: str, step: int) -> dict:
    """The training batch of ``step``: the first part through the chrominance branch (the target's own colours
    through the round trip, T'_ab of Eq. 3), the rest through the perceptual branch (the reference's, R'_ab)."""
    spec, s = MODELS[name], run.settings
    rows = _rows(step, s["batch"] * len(spec["branches"]), len(run.aligned), run.seed + 702)
    n_chrom = s["batch"] if "chrom" in spec["branches"] else 0
    t, r = run.targets[rows], run.references[rows]
    L, ab_t, ab_r = run.pool.L[t], run.pool.ab[t], run.pool.ab[r]
    if not spec["reference"]:
        x = pr.blank_input(L)
    else:
        parts = [(slice(0, n_chrom), ab_t, True), (slice(n_chrom, len(rows)), ab_r, False)]
        x = torch.cat([run.aligned.inputs(rows[part], L[part], ab[part], cycle=cycle)
                       for part, ab, cycle in parts if part.stop > part.start])
    return {"x": x, "L": L, "ab": ab_t, "n_chrom": n_chrom}


def branch_loss(run: ChapterRun, name: str):
    """Eq. 7: the smooth-l1 chrominance loss (Eq. 4) on the first part of the batch plus alpha times the
    perceptual loss (Eq. 6) on the rest, each a sum over pixels (positions), averaged over the images."""
    alpha = MODELS[name]["alpha"]

    def loss_fn(net: ExampleColorNet, b: dict):
        pred = net(b["x"])  # one forward for both halves: they share the BatchNorm statistics
        k, n = b["n_chrom"], b["x"].shape[0]
        chrom = smooth_l1_loss(pred[:k], b["ab"][:k], reduction="sum") / k if k else pred.new_zeros(())
        perc = run.feature_loss(b["L"][k:], pred[k:], b["ab"][k:]).sum() / (n - k) if k < n else pred.new_zeros(())
        return chrom + alpha * perc, {"chrom": float(chrom.detach()), "perc": float(perc.detach())}

    return loss_fn


def train_model(run: ChapterRun, name: str, force: bool = False) -> ExampleColorNet:
    s = run.settings
    cfg = TrainConfig(steps=s["steps"], lr=s["lr"], seed=run.seed, log_every=max(1, s["steps"] // 40),
                      checkpoint_every=max(50, s["steps"] // 4))
    fit = fit_with(branch_loss(run, name), lambda step: batch_for(run, name, step), cfg, device=run.device,
                   desc=name)
    net, info = load_or_train(CHAPTER, name, run.profile, model_config(name, run),
                              lambda: ExampleColorNet(width=s["width"]), fit, force=force, device=run.device)
    run.nets[name], run.histories[name], run.keys[name] = net, info, info["key"]
    return net


def train_all(run: ChapterRun, force: bool = False, baselines: bool = True) -> ChapterRun:
    """Train (or load) every network of ``MODELS`` and, with ``baselines``, load Chapters 1 and 2's models (the
    very ones those chapters train and cache for this profile and seed; ``force`` does not retrain them)."""
    for name in MODELS:
        train_model(run, name, force=force)
    if baselines:
        run.baselines = load_baselines(run.profile, run.seed, run.device)
    return run


# ---------------------------------------------------------------------------------------------
# Entry points


@torch.no_grad()
def model_facts(run: ChapterRun) -> dict:
    """What the facts check: the full-width network's size, its input, and the similarity sub-net on self pairs."""
    idx = torch.arange(min(8, len(run.pool)))
    a = pr.align_pairs(run.taps, run.pool.L[idx], run.pool.L[idx])
    phi_tr, phi_rt = a.phi()
    ident = torch.arange(phi_tr[0].numel()).reshape(phi_tr.shape[1:])
    both = (phi_tr == ident) & (phi_rt == ident)
    net = ExampleColorNet()
    return {"paper_net_params": count_parameters(net), "input_channels": net.conv1_1[0].in_channels,
            "self_match_identity": float(both.double().mean()),
            "params": {name: count_parameters(m) for name, m in run.nets.items()}}


def run_experiment(profile: str | None = None, seed: int = 0, force: bool = False, device=None,
                   write: bool = True) -> ChapterRun:
    """Run the whole chapter: align the pairs, train (or load) every model, measure, judge, write the results."""
    run = prepare(profile, seed, device)
    train_all(run, force=force)
    run.metrics = measure.evaluate(run, baselines=run.baselines)
    measured = model_facts(run)
    run.metrics["model"] = measured
    run.metrics["training"] = run.training_summary()
    s = run.settings
    prov = run.provenance(data={
        "dataset": "ColorWorld", "task": "grey target + colour reference -> ab", "image_size": s["size"],
        "pool_scenes": s["n_pool"], "training_pairs": s["n_pairs"], "test_targets": s["n_test"],
        "reference_scenes": s["n_refs"], "width": s["width"], "updates": s["steps"], "batch": s["batch"],
        "lr": s["lr"], "features": "ImageNet VGG16 (offline weights), grey input, relu{1..5}_1; relu5_1 for Eq. 6"})
    return run.conclude(CHAPTER, claims(), facts(measured), prov, write=write)


def run(profile: str | None = None, seed: int = 0, force: bool = False, device=None, write: bool = True) -> dict:
    """CLI entry point: run the chapter and (``write``) write ``book/results/<profile>/exemplar.json``."""
    return run_experiment(profile=profile, seed=seed, force=force, device=device, write=write).results
