"""Chapter 1: automatic colorization as classification (Zhang, Isola & Efros, ECCV 2016).

What the chapter's notebook and ``python -m reprolib reproduce automatic`` run:

1. ColorWorld train/test sets at the profile's size, the empirical ab prior of the training set
   (smoothed, Sect. 2.2) and the rebalancing weights (Eq. 4, lambda = 1/2).
2. Three networks of the same architecture (``reprolib.models.ECCV16``), trained on the same data stream,
   one per loss of Table 1: ``full`` (Eq. 2 with rebalancing), ``class`` (Eq. 2, lambda = 1, i.e. no
   rebalancing) and ``l2`` (Eq. 1). Baselines: ``gray`` (ab = 0) and ``random`` (the ab of a random
   training image).
3. The Table 1 metrics (AuC, class-balanced AuC, classifier accuracy on colorized images) plus
   colourfulness, PSNR, the temperature sweep of Sect. 2.3, and, because ColorWorld's true colour
   distribution is known, how much predicted probability lands on each true colour mode.
4. Claims with verdicts computed from those measurements, exact facts, and the results file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch.nn import functional as F

from reprolib import quantize
from reprolib.chapters.automatic import paper as zhang2016
from reprolib.chapters.automatic.verdicts import MODE_RADIUS, ROWS, claims, facts
from reprolib.color import gray_rgb, l_ab_to_rgb, rgb_to_l_ab
from reprolib.config import code_version, get_device, get_profile, seed_everything
from reprolib.data import ColorWorld
from reprolib.metrics.color import (
    auc,
    auc_terms,
    class_balanced_auc,
    class_balanced_weights,
    colorfulness,
    mass_on_modes,
    mode_assignment,
    mode_mass_per_image,
    psnr,
    saturation,
    spatial_roughness,
)
from reprolib.modelcache import fit_with, load_or_train
from reprolib.modelinfo import count_parameters, feature_memory
from reprolib.models import ECCV16, SmallClassifier
from reprolib.runs import ChapterRunBase
from reprolib.train import TrainConfig

CHAPTER = "automatic"
TITLE = "1. Automatic colorization as classification"
NOTEBOOK = "book/automatic.ipynb"
NEEDS_GPU = "no; every profile runs on a CPU, but the full profile (the paper's network at full width) is meant for a GPU"
VARIANTS = ("l2", "class", "full")
TEMPERATURES = (0.0, 0.1, 0.2, 0.38, 0.6, 1.0)  # 0 means the mode
ANNEALING = {"mode": 0.0, "annealed": 0.38, "mean": 1.0}  # the three rows of the annealing claim

# A profile changes sizes, never the algorithm (DESIGN section 6).
SETTINGS: dict[str, dict] = {
    "smoke": dict(size=32, width=1 / 16, steps=80, batch=16, lr=1e-3, n_test=128, prior_images=256,
                  cls_width=8, cls_steps=80, eval_batch=64),
    "fast": dict(size=64, width=1 / 8, steps=500, batch=32, lr=1e-3, n_test=384, prior_images=1024,
                 cls_width=16, cls_steps=300, eval_batch=64),
    "full": dict(size=128, width=1.0, steps=4000, batch=40, lr=1e-4, n_test=1000, prior_images=4096,
                 cls_width=32, cls_steps=2000, eval_batch=50),
}
SOFT_K = 5        # nearest bins in the soft-encoding (paper footnote 1; the released code uses 10)
SOFT_SIGMA = 5.0  # Gaussian kernel width in ab units (Sect. 2.1)
LAMBDA = 0.5      # mixing weight of the uniform distribution in Eq. 4


def settings(profile: str) -> dict:
    s = dict(SETTINGS[get_profile(profile)])
    s["milestones"] = (int(0.44 * s["steps"]), int(0.83 * s["steps"]))  # 200k/450k and 375k/450k of the paper
    return s


# ---------------------------------------------------------------------------------------------
# Data


def make_datasets(profile: str, seed: int = 0) -> tuple[ColorWorld, ColorWorld]:
    s = settings(profile)
    train_set = ColorWorld(n=s["steps"] * s["batch"] + s["prior_images"], size=s["size"], seed=seed)
    test_set = ColorWorld(n=s["n_test"], size=s["size"], seed=seed + 10_000)
    return train_set, test_set


def lab_batch(ds: ColorWorld, indices) -> dict:
    """Render ``indices`` of ``ds`` and add L (N,1,H,W) and ab (N,2,H,W) in Lab units."""
    b = ds.batch(list(indices))
    b["L"], b["ab"] = rgb_to_l_ab(b["rgb"])
    return b


def compute_prior(train_set: ColorWorld, n_images: int, batch: int = 256) -> torch.Tensor:
    """Smoothed empirical distribution p~ of the training set's ab values over the 313 bins (Sect. 2.2).

    It is computed on images that no model is trained on (the last ``n_images`` of the stream).
    """
    start = len(train_set) - n_images
    chunks = (lab_batch(train_set, range(i, min(i + batch, len(train_set))))["ab"] for i in range(start, len(train_set), batch))
    return quantize.empirical_prior(chunks, sigma=SOFT_SIGMA)


# ---------------------------------------------------------------------------------------------
# Losses (Eq. 1 and Eq. 2)


def classification_loss(logits: torch.Tensor, ab: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """Eq. 2: multinomial cross-entropy against soft-encoded targets, optionally rebalanced (Eq. 3).

    ``logits`` (N,Q,h,w) at a quarter of the resolution of ``ab`` (N,2,H,W); as in the released training
    net, the target is every 4th pixel of ab. ``weights`` (Q,) are the rebalancing weights w; each pixel
    is weighted by w of its nearest bin (= the argmax of its soft target, Eq. 3). Averaged over pixels
    (the paper sums; E[w] = 1 keeps the scale comparable between variants).
    """
    step = ab.shape[-1] // logits.shape[-1]
    target_ab = ab[:, :, ::step, ::step]
    # Sparse soft targets: the k nearest bins and their weights; no dense (N, Q, h, w) target is built.
    idx, z = quantize.soft_encode_topk(target_ab, k=SOFT_K, sigma=SOFT_SIGMA)
    ce = -(z * F.log_softmax(logits.float(), dim=1).gather(1, idx)).sum(dim=1)
    if weights is not None:
        ce = ce * weights[quantize.encode_nearest(target_ab)]
    return ce.mean()


def l2_loss(pred: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Eq. 1 per pixel: half the squared Euclidean distance in (normalised) ab, averaged over pixels."""
    step = ab.shape[-1] // pred.shape[-1]
    target = ab[:, :, ::step, ::step] / 110.0
    return 0.5 * (pred.float() - target).pow(2).sum(dim=1).mean()


# ---------------------------------------------------------------------------------------------
# Training


def _fit_colorizer(variant: str, train_set: ColorWorld, weights: torch.Tensor, s: dict, seed: int, device):
    cfg = TrainConfig(
        steps=s["steps"], lr=s["lr"], betas=(0.9, 0.99), weight_decay=1e-3,
        lr_milestones=s["milestones"], lr_gamma=1 / 3, seed=seed, checkpoint_every=max(50, s["steps"] // 5),
        log_every=max(1, s["steps"] // 50),
    )
    B = s["batch"]

    def get_batch(step: int) -> dict:
        b = lab_batch(train_set, range(step * B, (step + 1) * B))
        return {"L": b["L"], "ab": b["ab"]}

    w = weights.to(device)

    def loss_fn(model, batch):
        L, ab = batch["L"].to(device), batch["ab"].to(device)
        out = model(L)
        if variant == "l2":
            return l2_loss(out, ab)
        return classification_loss(out, ab, w if variant == "full" else None)

    return fit_with(loss_fn, get_batch, cfg, device=device)


def _fit_classifier(train_set: ColorWorld, s: dict, seed: int, device):
    cfg = TrainConfig(steps=s["cls_steps"], lr=2e-3, betas=(0.9, 0.99), weight_decay=1e-4, seed=seed,
                      checkpoint_every=max(50, s["cls_steps"] // 4), log_every=max(1, s["cls_steps"] // 50))
    B = s["batch"]

    def get_batch(step: int) -> dict:
        b = train_set.batch(list(range(step * B, (step + 1) * B)))
        return {"rgb": b["rgb"], "label": b["label"]}

    def loss_fn(model, batch):
        logits = model(batch["rgb"].to(device))
        return F.cross_entropy(logits, batch["label"].to(device))

    return fit_with(loss_fn, get_batch, cfg, device=device)


@dataclass
class ChapterRun(ChapterRunBase):
    """Everything the notebook needs after a run: data, models, prior, metrics and the results dict."""

    train_set: ColorWorld
    test_set: ColorWorld
    prior: torch.Tensor
    weights: torch.Tensor
    models: dict = field(default_factory=dict)
    classifier: torch.nn.Module | None = None

    def colorize(self, variant: str, L: torch.Tensor, T: float = zhang2016.TEMPERATURE.value) -> torch.Tensor:
        """ab prediction (N,2,H,W) of a trained variant for L (N,1,H,W) in [0, 100]."""
        model = self.models[variant]
        return model.colorize(L.to(self.device), T=T).cpu()

    @torch.no_grad()
    def probabilities(self, variant: str, L: torch.Tensor) -> torch.Tensor:
        """Predicted colour distribution (N,313,H/4,W/4) of a classification variant."""
        return torch.softmax(self.models[variant](L.to(self.device)).float(), dim=1).cpu()


def prepare(profile: str | None = None, seed: int = 0, device=None) -> ChapterRun:
    profile = get_profile(profile)
    s = settings(profile)
    seed_everything(seed)
    device = get_device(device, quiet=True)
    train_set, test_set = make_datasets(profile, seed)
    prior = compute_prior(train_set, s["prior_images"])
    weights = quantize.rebalance_weights(prior, lam=LAMBDA).float()
    return ChapterRun(profile, seed, s, device, train_set, test_set, prior, weights)


def train_variant(run: ChapterRun, variant: str, force: bool = False):
    """Train (or load from the model cache) one colorizer variant; returns ``(model, info)``.

    The one place that defines a variant's cache key, so other chapters that reuse this chapter's
    network (e.g. the LPIPS chapter's self-supervised features) get the very model this chapter trained."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}")
    s, seed = run.settings, run.seed
    head = "regression" if variant == "l2" else "classification"
    config = {"variant": variant, "seed": seed, "code": code_version(), "k": SOFT_K, "sigma": SOFT_SIGMA, "lambda": LAMBDA,
              **{k: v for k, v in s.items() if k not in ("n_test", "cls_width", "cls_steps", "eval_batch")}}
    return load_or_train(
        CHAPTER, variant, run.profile, config,
        build=lambda: ECCV16(width=s["width"], head=head),
        fit=_fit_colorizer(variant, run.train_set, run.weights, s, seed, run.device),
        force=force, device=run.device,
    )


def train_all(run: ChapterRun, force: bool = False) -> ChapterRun:
    s, seed = run.settings, run.seed
    for variant in VARIANTS:
        run.models[variant], run.histories[variant] = train_variant(run, variant, force=force)
    config = {"model": "classifier", "seed": seed, "code": code_version(), "size": s["size"], "width": s["cls_width"],
              "steps": s["cls_steps"], "batch": s["batch"]}
    run.classifier, run.histories["classifier"] = load_or_train(
        CHAPTER, "classifier", run.profile, config,
        build=lambda: SmallClassifier(run.train_set.num_classes, width=s["cls_width"]),
        fit=_fit_classifier(run.train_set, s, seed, run.device), force=force, device=run.device,
    )
    return run


# ---------------------------------------------------------------------------------------------
# Evaluation


@torch.no_grad()
def evaluate(run: ChapterRun) -> dict:
    """Measure every number of the chapter on the test set."""
    s, test = run.settings, run.test_set
    bins = quantize.ab_bins()
    rng = np.random.default_rng(run.seed + 1)
    random_src = rng.integers(0, len(run.train_set) - s["prior_images"], size=len(test))

    preds: dict[str, list] = {r: [] for r in ROWS}
    temps: dict[str, dict[float, list]] = {v: {t: [] for t in TEMPERATURES} for v in ("class", "full")}
    truth, L_all, labels, masks_q, classes_all = [], [], [], [], []
    probs_q: dict[str, list] = {"class": [], "full": []}
    for i in range(0, len(test), s["eval_batch"]):
        idx = list(range(i, min(i + s["eval_batch"], len(test))))
        b = lab_batch(test, idx)
        L, ab = b["L"], b["ab"]
        truth.append(ab), L_all.append(L), labels.append(b["label"]), classes_all.append(b["classes"])
        masks_q.append(b["masks"][:, :, ::4, ::4])
        preds["ground_truth"].append(ab)
        preds["gray"].append(torch.zeros_like(ab))
        preds["random"].append(lab_batch(run.train_set, random_src[idx].tolist())["ab"])
        preds["l2"].append(run.colorize("l2", L))
        for v in ("class", "full"):
            logits = run.models[v](L.to(run.device)).float().cpu()
            probs_q[v].append(torch.softmax(logits, dim=1))
            for t in TEMPERATURES:
                ab_t = quantize.annealed_mean(logits, T=t) if t > 0 else quantize.distribution_mode(logits)
                ab_t = F.interpolate(ab_t, size=L.shape[-2:], mode="bilinear", align_corners=False)
                temps[v][t].append(ab_t)
            preds[v].append(temps[v][zhang2016.TEMPERATURE.value][-1])
    truth_ab, L = torch.cat(truth), torch.cat(L_all)
    labels = torch.cat(labels)
    true_rgb = l_ab_to_rgb(L, truth_ab)

    def correct(rgb: torch.Tensor) -> torch.Tensor:
        """Per image: 100 where the classifier names its class, else 0."""
        out = [(run.classifier(rgb[j:j + 256].to(run.device)).cpu().argmax(1) == labels[j:j + 256])
               for j in range(0, len(rgb), 256)]
        return 100.0 * torch.cat(out).double()

    # One value per test image for every compared quantity (the bootstrap resamples images); the table
    # holds their aggregates: means, and for the AuCs the pooled ratio of the per-image sums.
    samples: dict[str, list] = {}
    rebal_w = class_balanced_weights(truth_ab, run.prior)
    table = {}
    for row in ROWS:
        ab = torch.cat(preds[row])
        rgb = l_ab_to_rgb(L, ab)
        per = {"top1": correct(rgb), "colorfulness": colorfulness(rgb).double(), "saturation": saturation(ab).double()}
        num, den = auc_terms(ab, truth_ab)
        rnum, rden = auc_terms(ab, truth_ab, weights=rebal_w)
        per.update({"auc.num": 100.0 * num, "auc.den": den, "auc_rebal.num": 100.0 * rnum, "auc_rebal.den": rden})
        samples.update({f"{row}.{k}": v.tolist() for k, v in per.items()})
        table[row] = {
            "auc": 100.0 * auc(ab, truth_ab),
            "auc_rebal": 100.0 * class_balanced_auc(ab, truth_ab, run.prior),
            "top1": float(per["top1"].mean()),
            "colorfulness": float(per["colorfulness"].mean()),
            "saturation": float(per["saturation"].mean()),
            "psnr": float(psnr(rgb, true_rgb).mean()) if row != "ground_truth" else None,
        }
    table["ground_truth"]["psnr"] = None
    # The classifier's accuracy on the grey input rendered as RGB (ab = 0) is the "gray" row by construction.
    assert abs(table["gray"]["top1"] - float(correct(gray_rgb(true_rgb)).mean())) < 1e-9

    temperature = {}
    for v in ("class", "full"):
        rows = {"T": list(TEMPERATURES), "colorfulness": [], "roughness": [], "auc": [], "auc_rebal": []}
        for t in TEMPERATURES:
            ab = torch.cat(temps[v][t])
            cf, rough = colorfulness(l_ab_to_rgb(L, ab)).double(), spatial_roughness(ab).double()
            if v == "full" and t in ANNEALING.values():
                name = next(k for k, x in ANNEALING.items() if x == t)
                samples[f"annealing.{name}.colorfulness"], samples[f"annealing.{name}.roughness"] = cf.tolist(), rough.tolist()
            rows["colorfulness"].append(float(cf.mean()))
            rows["roughness"].append(float(rough.mean()))
            rows["auc"].append(100.0 * auc(ab, truth_ab))
            rows["auc_rebal"].append(100.0 * class_balanced_auc(ab, truth_ab, run.prior))
        temperature[v] = rows
    full_t = temperature["full"]
    annealing = {
        name: {"colorfulness": full_t["colorfulness"][k], "roughness": full_t["roughness"][k]}
        for name, k in ((name, TEMPERATURES.index(t)) for name, t in ANNEALING.items())
    }

    # Mode coverage on ColorWorld: predicted mass near each true mode, for multimodal classes.
    modes = {}
    classes_q = torch.cat(classes_all)
    masks_q = torch.cat(masks_q)
    l2_q = torch.cat(preds["l2"])[:, :, ::4, ::4]
    for c, cls in enumerate(test.classes):
        mode_ab, mode_p = test.true_ab_distribution(c)
        if len(mode_p) < 2:
            continue
        mask = ((classes_q == c)[:, :, None, None] & masks_q).any(dim=1)
        if int(mask.sum()) == 0:
            continue
        entry = {"true": [float(p) for p in mode_p], "pixels": int(mask.sum())}
        assign = mode_assignment(bins, mode_ab, MODE_RADIUS)
        for v in ("class", "full"):
            mass, count = mode_mass_per_image(torch.cat(probs_q[v]), assign, mask)
            samples[f"modes.{cls.name}.pixels"] = count.tolist()
            samples.update({f"modes.{cls.name}.{v}_mass.{k}": mass[:, k].tolist() for k in range(mass.shape[1])})
            mm = mass_on_modes(torch.cat(probs_q[v]), bins, mode_ab, mode_p, mask, radius=MODE_RADIUS)
            entry[v] = [float(x) for x in mm["mode_mass"]]
            entry[f"{v}_tv"] = float(mm["tv_distance"])
            entry[f"{v}_on_modes"] = float(mm["total_mass"])
        # Where the L2 model puts these pixels: distance to the mixture mean vs. the nearest mode.
        pix = l2_q.permute(0, 2, 3, 1)[mask]
        mean_ab = (mode_p[:, None] * mode_ab).sum(0)
        entry["l2_dist_to_mean"] = float((pix - mean_ab).norm(dim=1).median())
        entry["l2_dist_to_nearest_mode"] = float(torch.cdist(pix, mode_ab).min(dim=1).values.median())
        # per image: how many of these pixels the L2 model puts nearer the mixture mean than every mode
        d_mean = (l2_q.permute(0, 2, 3, 1) - mean_ab).norm(dim=-1)  # (N, h, w)
        d_mode = torch.cdist(l2_q.permute(0, 2, 3, 1).reshape(-1, 2), mode_ab).min(dim=1).values.view_as(d_mean)
        samples[f"modes.{cls.name}.l2_nearer_mean"] = ((d_mean < d_mode) & mask).double().sum(dim=(1, 2)).tolist()
        entry["l2_share_nearer_mean"] = float(((d_mean < d_mode) & mask).sum() / mask.sum())
        modes[cls.name] = entry

    summary_modes = {
        "full_tv": float(np.mean([m["full_tv"] for m in modes.values()])) if modes else None,
        "class_tv": float(np.mean([m["class_tv"] for m in modes.values()])) if modes else None,
        "full_min_mode_ratio": float(min(min(f / t for f, t in zip(m["full"], m["true"])) for m in modes.values()))
        if modes else None,
        "l2_nearer_mean_classes": int(sum(m["l2_dist_to_mean"] < m["l2_dist_to_nearest_mode"] for m in modes.values())),
        "multimodal_classes": len(modes),
    }
    return {"table": table, "temperature": temperature, "annealing": annealing, "modes": modes,
            "modes_summary": summary_modes, "samples": {"images": samples}}


def model_facts(width: float = 1.0, size: int = 224) -> dict:
    """Parameter count and feature memory of the full-size network (Table 1's model columns)."""
    out = {}
    for head in ("classification", "regression"):
        m = ECCV16(width=width, head=head).eval()
        n = count_parameters(m, trainable_only=False)
        x = torch.zeros(1, 1, size, size)
        out[head] = {"params": n, "params_mb": n * 4 / 1e6,
                     # in-place ReLU outputs share their input's memory / every layer output counted
                     "feats_mb": feature_memory(m, x) / 1e6,
                     "feats_mb_every_layer": feature_memory(m, x, shared_once=False) / 1e6}
    return out


def run_experiment(profile: str | None = None, seed: int = 0, force: bool = False, device=None,
                   write: bool = True) -> ChapterRun:
    """Run the whole chapter: train (or load) every variant, evaluate, check the claims, write the results."""
    run = prepare(profile, seed, device)
    train_all(run, force=force)
    run.metrics = evaluate(run)
    model = model_facts()
    run.metrics["model"] = model
    run.metrics["training"] = run.training_summary()
    s = run.settings
    prov = run.provenance(
        data={"dataset": "ColorWorld", "image_size": s["size"], "train_images": s["steps"] * s["batch"],
              "prior_images": s["prior_images"], "test_images": s["n_test"], "width": s["width"],
              "steps": s["steps"], "batch": s["batch"]},
    )
    return run.conclude(CHAPTER, claims(), facts(model), prov, write=write)


def run(profile: str | None = None, seed: int = 0, force: bool = False, device=None, write: bool = True) -> dict:
    """CLI entry point: run the chapter and (``write``) write ``book/results/<profile>/automatic.json``."""
    return run_experiment(profile=profile, seed=seed, force=force, device=device, write=write).results
