"""Chapter 8: pseudo-cyclic unsupervised colorization (SpyncoGan; Ratajczak, Crispim-Junior, Fervers, Faure &
Tougne, SUMAC 2019), trained from scratch on unpaired ColorWorld scenes.

Domain A holds the grey images (H_t of the colour render) of one stream of scenes, domain B the colour images of
another stream, never the same scenes: the training is unpaired, as in the paper. The scenes are rendered with
ColorWorld's luma option (``grey="luma"``): a scene's grey image is exactly H_t of its colour image and carries no
information about the colour modes (with the default CIE L* rendering H_t's luma would leak the mode; the chapter
shows the leak). The test scenes have both, so MSE and SSIM against the real colours can be measured.

Models (``MODELS``): SpyncoGan with its output pyramid (L^{1,2,3}), without it (L^1, Table 1), without the contours
loss (Table 2), Col-Cycle (the full-cycle baseline of Fig. 6) and the paired supervised reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from reprolib.chapters.pseudo_cyclic import measure
from reprolib.chapters.pseudo_cyclic import training as tr
from reprolib.chapters.pseudo_cyclic.paper import LR, LR_DECAY_START
from reprolib.chapters.pseudo_cyclic.verdicts import claims, facts
from reprolib.color import handcrafted_grey
from reprolib.config import code_version, get_device, get_profile, seed_everything
from reprolib.data import ColorWorld
from reprolib.modelcache import load_or_train
from reprolib.modelinfo import count_parameters
from reprolib.models.spyncogan import (
    HandcraftedTranslation,
    SpyncoDiscriminator,
    SpyncoGenerator,
)
from reprolib.runs import ChapterRunBase
from reprolib.train import TrainConfig, train

CHAPTER = "pseudo_cyclic"
TITLE = "8. Pseudo-cyclic unsupervised colorization"
NOTEBOOK = "book/pseudo_cyclic.ipynb"
NEEDS_GPU = ("no; the smoke and fast profiles run on a CPU at 32 px, the full profile (the paper's width, 256 "
             "filters) is meant for a GPU")

# name -> (wrapper class, its update, keyword arguments of the update, keyword arguments of the wrapper)
MODELS: dict[str, tuple] = {
    "spynco": (tr.Pseudo, tr.pseudo_step, {}, {"pyramids": True}),
    "no_osp": (tr.Pseudo, tr.pseudo_step, {}, {"pyramids": False}),
    "no_contours": (tr.Pseudo, tr.pseudo_step, {"zeta": (0.0, 0.0, 0.0)}, {"pyramids": True}),
    "colcycle": (tr.FullCycle, tr.full_cycle_step, {}, {}),
    "paired": (tr.Paired, tr.paired_step, {}, {"pyramids": True}),
}

# A profile changes sizes, never the algorithm. The paper: n = 256 filters, 100 epochs at lr 2e-4 (linear decay
# after half), CIFAR-10 at 32 px; batch and optimiser unstated (Adam (0.5, 0.999), CycleGAN's, is our reading).
# Two pilots of the fast profile (AVX-512, 2 threads, about 220 s each): at the paper's 2e-4 and at 1e-3 every model,
# the paired one too, is still blurred after 250 updates (G_1's SSIM 0.49 and 0.52, paired 0.55): the generator has
# no skip connections and must rebuild the grey image's structure through its S/4 trunk. The short profiles use 1e-3,
# as the other chapters' fast profiles do; the fast profile is not final (the chapter is not registered yet).
SETTINGS: dict[str, dict] = {
    "smoke": dict(size=32, width=1 / 32, steps=20, batch=8, lr=1e-3, n_test=32, n_eval=16, checkpoints=2, demo=4),
    "fast": dict(size=32, width=1 / 8, steps=250, batch=16, lr=1e-3, n_test=256, n_eval=64, checkpoints=5, demo=6),
    "full": dict(size=32, width=1.0, steps=20_000, batch=16, lr=LR, n_test=2000, n_eval=256, checkpoints=10,
                 demo=6),
}


def settings(profile: str | None) -> dict:
    s = dict(SETTINGS[get_profile(profile)])
    s["lr_linear"] = (int(LR_DECAY_START * s["steps"]), s["steps"])  # constant, then linear to 0 (reading: to 0)
    return s


def worlds(s: dict, seed: int) -> dict[str, ColorWorld]:
    """The two unpaired training streams (A: grey, B: colour) and the test scenes, all luma-rendered."""
    n = s["steps"] * s["batch"]
    return {"A": ColorWorld(n=n, size=s["size"], seed=seed + 800, grey="luma"),
            "B": ColorWorld(n=n, size=s["size"], seed=seed + 801, grey="luma"),
            "test": ColorWorld(n=s["n_test"], size=s["size"], seed=seed + 10_800, grey="luma")}


@dataclass
class ChapterRun(ChapterRunBase):
    """Data streams, the test scenes (rendered once), and (after :func:`train_all`) the trained models."""

    worlds: dict
    test: dict
    nets: dict = field(default_factory=dict)

    def net(self, name: str):
        if name not in self.nets:
            raise KeyError(f"model {name!r} is not trained in this run; trained: {', '.join(self.nets) or 'none'}")
        return self.nets[name]


def prepare(profile: str | None = None, seed: int = 0, device=None) -> ChapterRun:
    profile = get_profile(profile)
    s = settings(profile)
    seed_everything(seed)
    w = worlds(s, seed)
    test = w["test"].batch(range(s["n_test"]))
    test["grey"] = handcrafted_grey(test["rgb"])
    return ChapterRun(profile, seed, s, get_device(device, quiet=True), worlds=w, test=test)


def batch_for(run: ChapterRun, step: int) -> dict:
    """Step ``step``'s batch: grey scenes of A, colour scenes of B (other scenes), and A's own colours for the paired
    reference (never seen by the unpaired models)."""
    B = run.settings["batch"]
    idx = range(step * B, (step + 1) * B)
    a = run.worlds["A"].batch(idx)["rgb"]
    return {"I": handcrafted_grey(a), "J": run.worlds["B"].batch(idx)["rgb"], "C": a}


def model_config(name: str, run: ChapterRun) -> dict:
    keys = ("size", "width", "steps", "batch", "lr", "lr_linear", "checkpoints", "demo", "n_eval")
    return {"model": name, **{k: run.settings[k] for k in keys}, "seed": run.seed, "code": code_version()}


def checkpoint_steps(s: dict) -> list[int]:
    """The steps after which the outputs and the curve are recorded: evenly spaced, the last one at the end."""
    return [round(s["steps"] * (k + 1) / s["checkpoints"]) for k in range(s["checkpoints"])]


def fit_model(run: ChapterRun, name: str):
    s = run.settings
    cls, update, kwargs, _ = MODELS[name]
    cfg = TrainConfig(steps=s["steps"], lr=s["lr"], betas=(0.5, 0.999), lr_linear=s["lr_linear"], seed=run.seed,
                      log_every=max(1, s["steps"] // 40), checkpoint_every=max(50, s["steps"] // 4))
    marks = {step: k for k, step in enumerate(checkpoint_steps(s))}
    demo = run.test["grey"][:s["demo"]]
    evaluate_set = (run.test["grey"][:s["n_eval"]], run.test["rgb"][:s["n_eval"]])

    def curve(net) -> torch.Tensor:
        outs = net.pyramid(evaluate_set[0].to(next(net.parameters()).device))
        return torch.tensor([[float(v.mean()) for v in measure.mse_ssim(o.cpu(), evaluate_set[1])] for o in outs])

    def step_fn(net, batch, opts):
        out = update(net, batch, opts, **kwargs)
        done = int(net.steps_done.item()) + 1
        net.steps_done.fill_(done)
        if done in marks:
            net.record(marks[done], done, demo, curve)
        return out

    def fit(net, checkpoint_path):
        return train(net, None, lambda step: batch_for(run, step), cfg, device=run.device,
                     checkpoint_path=checkpoint_path, optimizer=tr.make_optimizers(net, s["lr"], cfg.betas),
                     step_fn=step_fn, desc=name)

    return cls, fit


def build(name: str, s: dict):
    cls, _, _, kw = MODELS[name]
    return cls(s["width"], checkpoints=s["checkpoints"], demo=s["demo"], size=s["size"], **kw)


def train_model(run: ChapterRun, name: str, force: bool = False):
    _, fit = fit_model(run, name)
    net, info = load_or_train(CHAPTER, name, run.profile, model_config(name, run),
                              lambda: _buildable(name, run.settings),
                              fit, force=force, device=run.device)
    run.nets[name], run.histories[name] = net, info
    return net


def _buildable(name: str, s: dict):
    """The model as the cache stores it: with the step counter the training loop advances."""
    net = build(name, s)
    net.register_buffer("steps_done", torch.zeros((), dtype=torch.long))
    return net


def train_all(run: ChapterRun, force: bool = False) -> ChapterRun:
    for name in MODELS:
        train_model(run, name, force=force)
    return run


# ---------------------------------------------------------------------------------------------
# Entry points


def model_facts(run: ChapterRun) -> dict:
    """The parameter counts the facts check (full-width networks, built, not trained) and the trained ones'."""
    ht = HandcraftedTranslation()
    return {"G_params": count_parameters(SpyncoGenerator(1.0)),
            "D_params": count_parameters(SpyncoDiscriminator(3, 1.0)),
            "ht_params": sum(p.numel() for p in ht.parameters()),
            "ht_trainable": sum(p.numel() for p in ht.parameters() if p.requires_grad),
            "params": {name: count_parameters(net) for name, net in run.nets.items()}}


def run_experiment(profile: str | None = None, seed: int = 0, force: bool = False, device=None,
                   write: bool = True) -> ChapterRun:
    """Train (or load) every model, measure, judge, write ``book/results/<profile>/pseudo_cyclic.json``."""
    run = prepare(profile, seed, device)
    train_all(run, force=force)
    run.metrics = measure.evaluate(run)
    measured = model_facts(run)
    run.metrics["model"] = measured
    run.metrics["training"] = run.training_summary()
    s = run.settings
    prov = run.provenance(data={
        "dataset": "ColorWorld (luma rendering)", "task": "unpaired grey -> colour", "image_size": s["size"],
        "training_scenes_per_domain": s["steps"] * s["batch"], "test_scenes": s["n_test"], "width": s["width"],
        "updates": s["steps"], "batch": s["batch"], "lr": s["lr"], "lr_linear": list(s["lr_linear"])})
    return run.conclude(CHAPTER, claims(), facts(measured), prov, write=write)


def run(profile: str | None = None, seed: int = 0, force: bool = False, device=None, write: bool = True) -> dict:
    """CLI entry point: run the chapter and (``write``) write ``book/results/<profile>/pseudo_cyclic.json``."""
    return run_experiment(profile=profile, seed=seed, force=force, device=device, write=write).results
