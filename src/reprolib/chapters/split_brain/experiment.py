"""Chapter 4: split-brain autoencoders on ColorWorld, the pre-training and the probes.

1. Every representation of ``reprolib.models.splitbrain.VARIANTS`` is pre-trained from scratch on the same
   stream of 64-pixel ColorWorld scenes (no labels, except for the supervised reference); the random
   initialisation is the untrained network.
2. Linear probes (``reprolib.metrics.probe``) read two labels from the frozen conv1..conv5 features of held-out
   scenes: **the object's class** (8 classes, the analogue of Table 5.4's ImageNet classes) and **the colour mode
   of the main object** (on the scenes whose main object has several modes; the grey image says nothing of it,
   so a probe on features computed from L alone can do no better than guessing each class's likeliest mode,
   :func:`colour_bayes_rate`).
3. Every test scene's 0/1 outcome is kept per probe (``metrics["samples"]``), for bootstrap intervals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from reprolib.chapters.split_brain import paper
from reprolib.chapters.split_brain.verdicts import claims
from reprolib.claims import fact
from reprolib.color import normalize_ab, normalize_l, rgb_to_l_ab
from reprolib.config import code_version, get_device, get_profile, seed_everything
from reprolib.data import ColorWorld
from reprolib.metrics.probe import LinearProbe, bayes_rate, extract_features, probe_size
from reprolib.modelcache import load_or_train
from reprolib.modelinfo import count_parameters
from reprolib.models.splitbrain import (ALEXNET_WIDTHS, LAYERS, VARIANTS, alexnet_from_specs, build, map_sides,
                                       pretrain_loss)
from reprolib.quantize import NUM_AB_BINS
from reprolib.runs import ChapterRunBase
from reprolib.train import TrainConfig, train

CHAPTER = "split_brain"
TITLE = "4. Split-brain autoencoders: colorization as self-supervision"
NOTEBOOK = "book/split_brain.ipynb"
NEEDS_GPU = ("no; the smoke and fast profiles run on a CPU, the full profile (wider networks, 4000 updates of 64 "
             "scenes for each of twelve representations, larger probes) is meant for a GPU")

# A profile changes sizes, never the algorithm. fast fits its 6 minutes on both kinds of 2-core machine the book
# was measured on (benchmarks/README.md): on the slower one (AMD EPYC, AVX-512) 300 updates of 24 scenes for each
# of the twelve trained representations take about 4 minutes, the 130 probe fits about one more.
SETTINGS: dict[str, dict] = {
    "smoke": dict(size=32, width=1 / 16, steps=20, batch=16, lr=1e-3, probe_train=256, probe_test=128, budget=256,
                  probe_iterations=50),
    "fast": dict(size=64, width=1 / 8, steps=300, batch=24, lr=1e-3, probe_train=1500, probe_test=1000, budget=1024,
                 probe_iterations=100),
    "full": dict(size=64, width=1 / 4, steps=4000, batch=64, lr=1e-3, probe_train=4000, probe_test=2000,
                 budget=2048, probe_iterations=200),
}
TASKS = ("object", "colour")  # the probes' labels: the main object's class, its colour mode


def settings(profile: str | None) -> dict:
    return dict(SETTINGS[get_profile(profile)])


def normalised_lab(rgb: torch.Tensor) -> torch.Tensor:
    """RGB (N, 3, H, W) in [0, 1] -> the networks' input: (L - 50)/100, a/110, b/110."""
    L, ab = rgb_to_l_ab(rgb)
    return torch.cat([normalize_l(L), normalize_ab(ab)], 1)


def lab_batch(world: ColorWorld, indices) -> dict:
    """Normalised Lab (N, 3, H, W) of scenes ``indices``, their main object's class (``label``) and colour mode."""
    out = world.batch(list(indices))
    return {"lab": normalised_lab(out["rgb"]), "label": out["label"], "mode": out["modes"][:, 0]}


# Every trained representation sees the same stream of pre-training scenes (step s: scenes s*batch ..
# (s+1)*batch - 1). Rendering and converting a batch costs more than the update of a small network
# (benchmarks/bench_split_brain.py), so a run keeps the batches it has made, up to this many bytes, and the
# later networks reuse them: the same tensors, so the same training.
BATCH_CACHE_BYTES = 2 * 1024**3


@dataclass
class ChapterRun(ChapterRunBase):
    """Data of a run and, once trained, its networks by variant name (``probes``: the fitted object-class
    probes by (variant, layer), once :func:`probe_all` has run)."""

    train_set: ColorWorld
    probe_train: ColorWorld
    probe_test: ColorWorld
    models: dict = field(default_factory=dict)
    probes: dict = field(default_factory=dict)
    batches: dict = field(default_factory=dict)

    def train_batch(self, step: int) -> dict:
        """The pre-training batch of ``step`` (rendered once, then kept while the cache's size allows)."""
        if step in self.batches:
            return self.batches[step]
        s = self.settings
        b = lab_batch(self.train_set, range(step * s["batch"], (step + 1) * s["batch"]))
        if s["steps"] * b["lab"].numel() * b["lab"].element_size() <= BATCH_CACHE_BYTES:
            self.batches[step] = b
        return b


def prepare(profile: str | None = None, seed: int = 0, device=None) -> ChapterRun:
    profile = get_profile(profile)
    seed_everything(seed)
    s = settings(profile)
    return ChapterRun(profile, seed, s, get_device(device),
                      train_set=ColorWorld(n=s["steps"] * s["batch"], size=s["size"], seed=seed),
                      probe_train=ColorWorld(n=s["probe_train"], size=s["size"], seed=seed + 10_000),
                      probe_test=ColorWorld(n=s["probe_test"], size=s["size"], seed=seed + 20_000))


def model_config(name: str, s: dict, seed: int) -> dict:
    keys = ("size", "width", "steps", "batch", "lr")
    return {"variant": name, **{k: s[k] for k in keys}, "seed": seed, "data_seed": seed, "code": code_version()}


def train_model(run: ChapterRun, name: str, force: bool = False):
    """Pre-train (or load) one representation; the random initialisation is only built, with the run's seed."""
    s = run.settings

    def make():
        return build(name, s["width"], num_classes=run.train_set.num_classes)

    if not VARIANTS[name].trained:  # the random initialisation (seeded), or the ImageNet network (loaded)
        torch.manual_seed(run.seed)
        run.models[name] = make().to(run.device).eval()
        return run.models[name]
    cfg = TrainConfig(steps=s["steps"], lr=s["lr"], log_every=max(1, s["steps"] // 20), seed=run.seed)

    def fit(model, checkpoint_path):
        return train(model, lambda m, b: pretrain_loss(name, m, b["lab"], b["label"]),
                     run.train_batch,
                     cfg, device=run.device, checkpoint_path=checkpoint_path, desc=name)

    model, info = load_or_train(CHAPTER, name, run.profile, model_config(name, s, run.seed), make, fit, force=force,
                                device=run.device)
    run.models[name], run.histories[name] = model, info
    return model


def train_all(run: ChapterRun, force: bool = False) -> ChapterRun:
    for name in VARIANTS:
        train_model(run, name, force=force)
    return run


def colour_bayes_rate(world: ColorWorld, labels: torch.Tensor) -> float:
    """The best colour-mode accuracy from the grey image alone on these scenes: each class's likeliest mode
    (``labels``: the main objects' classes of the colour task's scenes)."""
    counts = {int(c): int((labels == c).sum()) for c in labels.unique()}
    return bayes_rate({c: world.classes[c].probs for c in counts}, counts)


def probe_all(run: ChapterRun) -> dict:
    """Probe every model at every layer for both tasks: per-scene 0/1 outcomes and the reference rates."""
    s = run.settings
    train_b = lab_batch(run.probe_train, range(len(run.probe_train)))
    test_b = lab_batch(run.probe_test, range(len(run.probe_test)))
    multimodal = lambda b: torch.tensor([run.probe_train.classes[int(c)].num_modes > 1 for c in b["label"]])  # noqa: E731
    sel_train, sel_test = multimodal(train_b), multimodal(test_b)
    max_modes = max(c.num_modes for c in run.probe_train.classes)
    samples: dict = {"object": {}, "colour": {}}
    for name, net in run.models.items():
        feats = {split: extract_features(net.features, [b["lab"][i:i + 256].to(run.device)
                                                        for i in range(0, len(b["lab"]), 256)], LAYERS, s["budget"])
                 for split, b in (("train", train_b), ("test", test_b))}
        for layer in LAYERS:
            xtr, xte = feats["train"][layer].cpu(), feats["test"][layer].cpu()
            obj = LinearProbe(run.probe_train.num_classes, iterations=s["probe_iterations"]).fit(xtr, train_b["label"])
            run.probes[(name, layer)] = obj
            samples["object"][f"{name}.{layer}"] = obj.correct(xte, test_b["label"]).tolist()
            col = LinearProbe(max_modes, iterations=s["probe_iterations"]).fit(xtr[sel_train], train_b["mode"][sel_train])
            samples["colour"][f"{name}.{layer}"] = col.correct(xte[sel_test], test_b["mode"][sel_test]).tolist()
    # the colour task's Bayes rate from the grey image, one value per colour scene (so that it is resampled with them)
    samples["colour"]["bayes"] = [max(run.probe_test.classes[int(c)].probs) for c in test_b["label"][sel_test]]
    return {"samples": samples,
            "chance_object": 1.0 / run.probe_test.num_classes,
            "bayes_colour": colour_bayes_rate(run.probe_test, test_b["label"][sel_test]),
            "n_object": len(run.probe_test), "n_colour": int(sel_test.sum())}


def accuracy_table(metrics: dict) -> dict:
    """``{task: {model: {layer: accuracy}}}`` from the per-scene outcomes."""
    out: dict = {}
    for task, lists in metrics["samples"].items():
        for key, values in lists.items():
            if "." not in key:  # a reference list (the colour task's Bayes rate), not a probe
                continue
            model, layer = key.rsplit(".", 1)
            out.setdefault(task, {}).setdefault(model, {})[layer] = sum(values) / len(values)
    return out


def folder_lab(ds, indices) -> dict:
    """Normalised Lab of photos ``indices`` of an :class:`ImageFolderColor` and their classes (the names of the
    folders that hold them, numbered in sorted order)."""
    names = sorted({Path(f).parent.name for f in ds.files})
    items = [ds[i] for i in indices]
    labels = torch.tensor([names.index(Path(it["path"]).parent.name) for it in items])
    return {"lab": normalised_lab(torch.stack([it["rgb"] for it in items])), "label": labels, "classes": names}


def probe_folder(net, train_root, test_root, size: int, budget: int, per_class: int | None = None,
                 iterations: int = 100, device=None) -> dict:
    """The linear-probe protocol on labelled photo folders (``root/<class>/<image>``, e.g. Imagenette's
    ``train`` and ``val``): centre crops resized to ``size``, probe features of conv1..conv5, a
    :class:`LinearProbe` per layer on the training folder (at most ``per_class`` photos of each class), its
    accuracy on the test folder. Returns ``{layer: accuracy}``."""
    from reprolib.data import ImageFolderColor

    sets = [ImageFolderColor(root, size=size, train=False, load_size=size, skip_grayscale=True) for root in (train_root, test_root)]
    picked = []
    for ds in sets:
        by_class: dict = {}
        for i, f in enumerate(ds.files):
            by_class.setdefault(Path(f).parent.name, []).append(i)
        picked.append([i for idx in by_class.values() for i in idx[:per_class]])
    train_b, test_b = (folder_lab(ds, idx) for ds, idx in zip(sets, picked))
    if train_b["classes"] != test_b["classes"]:
        raise ValueError(f"the training and test folders have different classes: {train_b['classes']} and "
                         f"{test_b['classes']}")
    device = get_device(device)
    net = net.to(device)
    feats = [extract_features(net.features, [b["lab"][i:i + 64].to(device) for i in range(0, len(b["lab"]), 64)],
                              LAYERS, budget) for b in (train_b, test_b)]
    k = len(train_b["classes"])
    return {layer: LinearProbe(k, iterations=iterations).fit(feats[0][layer].cpu(), train_b["label"])
            .score(feats[1][layer].cpu(), test_b["label"]) for layer in LAYERS}


def _conv_weights(net) -> list[int]:
    """Weights of the convolutions conv1 .. conv5 (all halves together), layer by layer."""
    trunks = [h.trunk for h in net.halves] if hasattr(net, "halves") else [net.trunk]
    return [sum(next(m for m in getattr(t, layer) if isinstance(m, torch.nn.Conv2d)).weight.numel() for t in trunks)
            for layer in LAYERS]


def chapter_facts() -> list:
    """Exact facts: the full-size networks built from Tables 5.2 and 5.3 and from the released deploy prototxt
    have the tables' map sizes and the prototxt's parameter counts; Table 5.3's probe sizes follow from AlexNet's
    channels; and, at AlexNet's widths, a split network's
    convolutions have exactly half the weights of one full network on the whole Lab image (sec. 5.3.2; built on
    the meta device, nothing allocated)."""
    with torch.device("meta"):
        full, split = build("lab_lab", 1.0), build("split_brain_cl", 1.0)
        pretrain = alexnet_from_specs(paper.pretrain_specs(), in_channels=1, out_channels=NUM_AB_BINS)
        evaluate = alexnet_from_specs(paper.eval_specs(), in_channels=3)
        deploy = alexnet_from_specs(paper.deploy_specs(), in_channels=3)
    sides = [probe_size(c, paper.PROBE_FEATURES) for c in ALEXNET_WIDTHS[:5]]
    params = {name: count_parameters(m) for name, m in deploy.named_children()}
    return [fact("map sides of the full-size pre-training network on 180-pixel crops, conv1-fc8 (Table 5.2; fc6 "
                 "padded by 5 as in the deploy prototxt)", [row[1] for row in paper.TABLE52],
                 list(map_sides(pretrain, paper.PRETRAIN_SIDE).values())),
            fact("map sides of the full-size evaluation network on 227-pixel images, conv1-fc7 (Table 5.3)",
                 [row[1] for row in paper.TABLE53], list(map_sides(evaluate, paper.EVAL_SIDE).values())),
            fact("parameters of the released deploy network's layers data_lab, conv1-conv5, fc6, fc7 (deploy_lab."
                 "prototxt: conv2, conv4, conv5 in 2 groups, fc6 a dilated 6 x 6 convolution)",
                 list(paper.DEPLOY_PARAMETERS.values()), [params[name] for name in paper.DEPLOY_PARAMETERS]),
            fact("probe sides of AlexNet conv1-conv5 at about 9000 features (Table 5.3)", list(paper.PROBE_SIDES), sides),
            fact("probe features of AlexNet conv1-conv5 (sec. 5.5.1)", list(paper.PROBE_SIZES),
                 [c * x * x for c, x in zip(ALEXNET_WIDTHS, sides)]),
            fact("conv1-conv5 weights of the split network at AlexNet's widths, as a share of the full network's",
                 [0.5] * 5, [a / b for a, b in zip(_conv_weights(split), _conv_weights(full))])]


def run_experiment(profile: str | None = None, seed: int = 0, force: bool = False, device=None,
                   write: bool = True) -> ChapterRun:
    """Pre-train (or load) every representation, probe them, judge the claims (``write``: the results file)."""
    run = prepare(profile, seed, device)
    train_all(run, force=force)
    run.metrics = probe_all(run)
    run.metrics["accuracy"] = accuracy_table(run.metrics)
    run.metrics["training"] = run.training_summary()
    s = run.settings
    prov = run.provenance(data={"dataset": "ColorWorld", "image_size": s["size"], "width": s["width"],
                                "pretrain_images": s["steps"] * s["batch"], "probe_train": s["probe_train"],
                                "probe_test": s["probe_test"], "probe_features": s["budget"]})
    return run.conclude(CHAPTER, claims(), chapter_facts(), prov, write=write)


def run(profile: str | None = None, seed: int = 0, force: bool = False, device=None, write: bool = True) -> dict:
    """CLI entry point: run the chapter and (``write``) write ``book/results/<profile>/split_brain.json``."""
    return run_experiment(profile=profile, seed=seed, force=force, device=device, write=write).results
