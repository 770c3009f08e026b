"""Chapter 3: BicycleGAN, multimodal image-to-image translation (Zhu et al., NIPS 2017; thesis chapter 4).

What the chapter's notebook and ``python -m reprolib reproduce bicyclegan`` run:

1. The six models of Fig. 4.6 (``reprolib.models.bicyclegan.VARIANTS``: pix2pix+noise, cAE-GAN, cVAE-GAN,
   cVAE-GAN++, cLR-GAN, BicycleGAN), trained from scratch on the same stream of ColorWorld scenes, grey
   L in, colours ab out. The full profile adds Table 4.1's ablations (E_CNN, z at the input only) and the
   code lengths |z| = 2 and 256 of Fig. 4.7.
2. ColorWorld's oracle (``reprolib.data.oracle``): the same grey scenes with their colours drawn again from
   the known p(colour | grey), the reference every diverse model is measured against.
3. ``measure``: diversity as the paper measures it (LPIPS v0.0, 20 samples, 19 consecutive pairs) beside
   random real pairs and the oracle; the mode each region took, mode frequencies against the truth (with a
   perfect sampler's floor), per-input coverage, latent recovery, a critic's fooling rate as the realism
   stand-in, and Table 4.1's reconstruction error.
4. Claims with computed verdicts (``verdicts``), exact facts and the results file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from reprolib.chapters.bicyclegan import measure
from reprolib.chapters.bicyclegan.official import parameter_count
from reprolib.chapters.bicyclegan.verdicts import claims, facts
from reprolib.color import normalize_ab, normalize_l, rgb_to_l_ab
from reprolib.config import code_version, get_device, get_profile, seed_everything
from reprolib.data import ColorWorld
from reprolib.modelcache import load_or_train
from reprolib.modelinfo import count_parameters
from reprolib.models.bicyclegan import VARIANTS, BicycleGAN, make_optimizers, train_step
from reprolib.runs import ChapterRunBase
from reprolib.train import TrainConfig, train

CHAPTER = "bicyclegan"
TITLE = "3. BicycleGAN: multimodal image-to-image translation"
NOTEBOOK = "book/bicyclegan.ipynb"
NEEDS_GPU = ("no; the smoke and fast profiles run on a CPU, the full profile (64x64 images, wider networks, "
             "the Table 4.1 ablations and the |z| study) is meant for a GPU")

# The six models of Fig. 4.6, in the paper's order.
MAIN = tuple(VARIANTS)
# Table 4.1's ablations and Fig. 4.7's code lengths: name -> (variant, BicycleGAN keyword arguments).
ABLATIONS: dict[str, tuple[str, dict]] = {
    "bicyclegan_cnn": ("bicyclegan", {"encoder": "conv"}),
    "bicyclegan_input": ("bicyclegan", {"where_add": "input"}),
    "bicyclegan_cnn_input": ("bicyclegan", {"encoder": "conv", "where_add": "input"}),
    "bicyclegan_nz2": ("bicyclegan", {"nz": 2}),
    "bicyclegan_nz256": ("bicyclegan", {"nz": 256}),
}

# A profile changes sizes, never the algorithm (DESIGN section 6). lr: the paper's 2e-4 in full; the CPU
# profiles train for a few hundred updates and take 1e-3 (the pilot of benchmarks/bench_bicyclegan_train.py).
# fast's 1000 updates: the most the 6-minute budget of the whole notebook holds on 2 cores with about 15 %
# to spare (measured per update: 30-45 ms for five models, 73 ms for BicycleGAN; about 250 s of training).
SETTINGS: dict[str, dict] = {
    "smoke": dict(size=32, width=8, d_layers=2, nz=8, steps=30, batch=8, lr=1e-3, n_test=16, n_samples=4,
                  n_critic=16, n_pairs=32, demo_scenes=2, path_points=3, ablations=()),
    "fast": dict(size=32, width=16, d_layers=2, nz=8, steps=1000, batch=16, lr=1e-3, n_test=64, n_samples=20,
                 n_critic=256, n_pairs=1216, demo_scenes=3, path_points=9, ablations=()),
    "full": dict(size=64, width=32, d_layers=3, nz=8, steps=6000, batch=16, lr=2e-4, n_test=100, n_samples=20,
                 n_critic=512, n_pairs=1900, demo_scenes=3, path_points=9, ablations=tuple(ABLATIONS)),
}


def settings(profile: str | None) -> dict:
    """The profile's sizes; the learning rate is constant for the first half, then falls linearly to zero
    (the released code's ``niter`` + ``niter_decay``, here half and half)."""
    s = dict(SETTINGS[get_profile(profile)])
    s["lr_linear"] = (s["steps"] // 2, s["steps"] - 1)
    return s


# ---------------------------------------------------------------------------------------------
# Data


def make_datasets(profile: str | None, seed: int = 0) -> tuple[ColorWorld, ColorWorld]:
    """The training stream (a fresh scene for every training image, the same stream for every model) and
    the test scenes (enough for the critic, which needs the most)."""
    s = settings(profile)
    n_test = max(s["n_test"], s["n_critic"])
    return (ColorWorld(n=s["steps"] * s["batch"], size=s["size"], seed=seed),
            ColorWorld(n=n_test, size=s["size"], seed=seed + 10_000))


def pair_batch(ds: ColorWorld, indices) -> dict:
    """The networks' view of scenes ``indices``: A = normalised L (N, 1, H, W) and B = (A, a/110, b/110)."""
    L, ab = rgb_to_l_ab(ds.batch(list(indices))["rgb"])
    A = normalize_l(L)
    return {"A": A, "B": torch.cat([A, normalize_ab(ab)], 1)}


# ---------------------------------------------------------------------------------------------
# Models and training


def build(name: str, s: dict) -> BicycleGAN:
    """One of the six models (``MAIN``) or an ablation (``ABLATIONS``) at the profile's size and width."""
    variant, extra = (name, {}) if name in VARIANTS else ABLATIONS[name]
    kw = dict(nz=s["nz"], ngf=s["width"], nef=s["width"], ndf=s["width"], d_layers=s["d_layers"])
    kw.update(extra)
    return BicycleGAN(variant, s["size"], **kw)


def model_config(name: str, s: dict, seed: int) -> dict:
    """Everything that defines a trained model (the model cache's key; with the source's hash, so that a change
    of the code retrains)."""
    variant, extra = (name, {}) if name in VARIANTS else ABLATIONS[name]
    keys = ("size", "width", "d_layers", "nz", "steps", "batch", "lr", "lr_linear")
    return {"variant": variant, **{k: s[k] for k in keys}, **extra, "seed": seed, "data_seed": seed,
            "code": code_version()}


@dataclass
class ChapterRun(ChapterRunBase):
    """The chapter's run: its data, and (after :func:`train_all`) the trained models by name."""

    train_set: ColorWorld
    test_set: ColorWorld
    models: dict = field(default_factory=dict)

    def model(self, name: str) -> BicycleGAN:
        if name not in self.models:
            raise KeyError(f"model {name!r} is not trained in this run; trained: {', '.join(self.models) or 'none'}")
        return self.models[name]


def prepare(profile: str | None = None, seed: int = 0, device=None) -> ChapterRun:
    """Settings, data and device of a run (nothing trained yet)."""
    profile = get_profile(profile)
    seed_everything(seed)
    train_set, test_set = make_datasets(profile, seed)
    return ChapterRun(profile, seed, settings(profile), get_device(device), train_set=train_set, test_set=test_set)


def fit_bicyclegan(name: str, run: ChapterRun):
    """The ``fit(model, checkpoint_path)`` of the model cache: :func:`train_step` for ``settings["steps"]``
    updates on the shared stream, one Adam per network, the schedule on all of them, resumable."""
    s = run.settings
    cfg = TrainConfig(steps=s["steps"], lr=s["lr"], betas=(0.5, 0.999), lr_linear=s["lr_linear"],
                      log_every=max(1, s["steps"] // 40), seed=run.seed)

    def get_batch(step: int) -> dict:
        return pair_batch(run.train_set, range(step * s["batch"], (step + 1) * s["batch"]))

    def fit(model: BicycleGAN, checkpoint_path):
        opts = make_optimizers(model, lr=s["lr"], betas=cfg.betas)
        return train(model, None, get_batch, cfg, device=run.device, checkpoint_path=checkpoint_path,
                     optimizer=opts, step_fn=train_step, desc=name)

    return fit


def train_model(run: ChapterRun, name: str, force: bool = False) -> BicycleGAN:
    """Train (or load from the model cache) one model of the run."""
    s = run.settings
    model, info = load_or_train(CHAPTER, name, run.profile, model_config(name, s, run.seed), lambda: build(name, s),
                                fit_bicyclegan(name, run), force=force, device=run.device)
    run.models[name], run.histories[name] = model, info
    return model


def train_all(run: ChapterRun, force: bool = False) -> ChapterRun:
    """The six models, then the profile's ablations."""
    for name in (*MAIN, *run.settings["ablations"]):
        train_model(run, name, force=force)
    return run


# ---------------------------------------------------------------------------------------------
# Facts


def model_facts(s: dict) -> dict:
    """Parameter counts of this profile's networks and of the released layout (nz 8, widths 64, 256 px)."""
    net = build("bicyclegan", s)
    return {"nz": s["nz"], "width": s["width"], "num_downs": int(math.log2(s["size"])),
            "G_params": count_parameters(net.G), "E_params": count_parameters(net.E),
            "D_params": count_parameters(net.D),
            "released_G_params": parameter_count("edges2shoes", "G"),
            "released_E_params": parameter_count("edges2shoes", "E")}


# ---------------------------------------------------------------------------------------------
# Entry points


def run_experiment(profile: str | None = None, seed: int = 0, force: bool = False, device=None,
                   write: bool = True) -> ChapterRun:
    """Run the whole chapter: train (or load) every model, measure, check the claims, write the results."""
    run = prepare(profile, seed, device)
    train_all(run, force=force)
    run.metrics = measure.evaluate(run)
    measured = model_facts(run.settings)
    run.metrics["model"] = measured
    run.metrics["training"] = run.training_summary()
    s = run.settings
    prov = run.provenance(data={
        "dataset": "ColorWorld", "task": "grey L -> colours ab", "image_size": s["size"],
        "train_images": s["steps"] * s["batch"], "test_images": s["n_test"], "critic_images": s["n_critic"],
        "samples_per_input": s["n_samples"], "width": s["width"], "steps": s["steps"], "batch": s["batch"],
        "lr": s["lr"]})
    return run.conclude(CHAPTER, claims(), facts(measured), prov, write=write)


def run(profile: str | None = None, seed: int = 0, force: bool = False, device=None, write: bool = True) -> dict:
    """CLI entry point: run the chapter and (``write``) write ``book/results/<profile>/bicyclegan.json``."""
    return run_experiment(profile=profile, seed=seed, force=force, device=device, write=write).results
