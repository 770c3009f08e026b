"""Chapter 6: diverse colorization with a VAE and a mixture density network (Deshpande et al., CVPR 2017).

What the chapter's notebook and ``python -m reprolib reproduce diverse`` run:

1. ColorWorld scenes with one object (the object, the sky and the ground: at most 3 x 2 = 6 joint colour modes
   per scene, fewer than the MDN's 8 components), a fixed training set and held-out test scenes; the ab prior H
   of the training fields (for the colourfulness weights 1 / H_p; the paper takes Zhang et al.'s ImageNet
   histogram) and their top-20 principal components (for the Mahalanobis loss, from the training set as in the
   paper).
2. Five colour-field VAEs (``VAES``): *ours+skip* and *ours* with the decoder loss of Eq. 4, the L2-only and
   Mahalanobis-only decoders of Tables 1-2 (the "ours" layout) and the CVAE baseline (grey encoder in Q and in
   the decoder, L2 and the usual KL).
3. The MDNs (``MDNS``) on the frozen block-7 features of Chapter 1's rebalanced classification network
   (``automatic.train_variant(..., "full")``, the very model Chapter 1 trains): Eq. 6 on the codes of ours+skip
   and of ours, and the log-sum-exp form of Eq. 5 on ours+skip's codes beside it. Their targets are the
   encoder means of the training fields (the paper does not say whether a mean or a sample).
   With ``cgan`` (the full profile) also the cGAN baseline of sec. 5: pix2pix with dropout as its only noise
   (``reprolib.models.bicyclegan``'s pix2pix+noise without a code).
4. ``measure``: Table 1-3 protocols, what only ColorWorld can measure (modes covered, mixture weights against
   the true probabilities, coherence against Chapter 1's per-pixel samples, the oracle's top 5) with one value
   per test scene for the bootstrap; ``verdicts``: the claims and facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from reprolib import quantize
from reprolib.chapters import automatic
from reprolib.chapters.diverse import measure
from reprolib.chapters.diverse.verdicts import claims, facts
from reprolib.color import normalize_ab, rgb_to_l_ab
from reprolib.config import code_version, get_device, get_profile, seed_everything
from reprolib.data import ColorWorld
from reprolib.metrics.diversity import error_of_best, output_variance
from reprolib.modelcache import fit_with, load_or_train
from reprolib.modelinfo import count_parameters
from reprolib.models.divcolor import (
    AB_SCALE,
    COMPONENTS,
    KL_WEIGHT,
    TOP_K,
    MDN,
    DivColorVAE,
    decoder_loss,
    fit_pca,
    hist_loss,
    mahalanobis_loss,
    mdn_closest_loss,
    mdn_nll,
    vae_loss,
    colour_field,
    grey_input,
)
from reprolib.nn.latent import kl_standard_normal, reparameterize
from reprolib.runs import ChapterRunBase
from reprolib.models.bicyclegan import BicycleGAN, make_optimizers, train_step
from reprolib.train import TrainConfig, train

CHAPTER = "diverse"
TITLE = "6. Diverse colorization with a VAE and a mixture density network"
NOTEBOOK = "book/diverse.ipynb"
NEEDS_GPU = ("no; the smoke and fast profiles run on a CPU, the full profile (the paper's widths, 20,000 training "
             "scenes, about ten epochs, and the cGAN baseline) is meant for a GPU")

# name -> (VAE layout, decoder loss). "eq4" = Eq. 4 (L_hist + 0.1 L_mah + 1e-3 L_grad), "mah" = L_mah alone,
# "l2" = the summed squared error of a plain VAE.
VAES: dict[str, tuple[str, str]] = {
    "ours_skip": ("skip", "eq4"),
    "ours": ("ours", "eq4"),
    "mah": ("ours", "mah"),
    "l2": ("ours", "l2"),
    "cvae": ("cvae", "l2"),
}
# name -> (the VAE whose codes it models, its loss): "closest" = Eq. 6, "lse" = Eq. 5 as a log-sum-exp.
MDNS: dict[str, tuple[str, str]] = {
    "mdn_skip": ("ours_skip", "closest"),
    "mdn_ours": ("ours", "closest"),
    "mdn_lse": ("ours_skip", "lse"),
}
# The CVAE is Sohn et al.'s: the plain evidence bound, its KL weighted 1 (the paper's 1e-2 belongs to its own
# VAE, whose decoder loss is on the scale of the raw 1 / H weights).
CVAE_KL_WEIGHT = 1.0
CGAN_LR = 2e-4  # the released pix2pix code's Adam rate (beta1 0.5)
PRIOR_SIGMA = 5.0  # the prior H is smoothed as Chapter 1's (a Gaussian of 5 ab over the bins), so no bin is empty

# A profile changes sizes, never the algorithm. fast: 400 updates of 32 fields for each of the five VAEs and
# 600 for each MDN (benchmarks/bench_diverse.py: about 70-90 ms per VAE update at width 1/16 on the AMD EPYC,
# 15 ms per MDN update), about 3 minutes of training; with Chapter 1's models cached by the book's order.
SETTINGS: dict[str, dict] = {
    "smoke": dict(size=32, width=1 / 16, mdn_width=1 / 16, d=64, n_train=256, vae_steps=30, mdn_steps=40, batch=16,
                  lr=1e-3, mdn_lr=1e-3, n_test=24, samples=32, demo_scenes=2, kl_anneal=False, cgan=False,
                  cgan_width=8),
    "fast": dict(size=64, width=1 / 16, mdn_width=1 / 16, d=64, n_train=2048, vae_steps=400, mdn_steps=600,
                 batch=32, lr=1e-3, mdn_lr=1e-3, n_test=128, samples=256, demo_scenes=4, kl_anneal=False,
                 cgan=False, cgan_width=8),
    "full": dict(size=64, width=1.0, mdn_width=1.0, d=64, n_train=20000, vae_steps=6000, mdn_steps=6000, batch=32,
                 lr=2e-4, mdn_lr=2e-4, n_test=1000, samples=256, demo_scenes=6, kl_anneal=False, cgan=True,
                 cgan_width=64),
}


def settings(profile: str | None) -> dict:
    return dict(SETTINGS[get_profile(profile)])


# ---------------------------------------------------------------------------------------------
# The run


@dataclass
class ChapterRun(ChapterRunBase):
    """The chapter's data (rendered once: grey, colour fields, colourfulness weights), the PCA and the prior of
    the training fields, Chapter 1's run and feature network, and (after :func:`train_all`) the models."""

    train_set: ColorWorld | None
    test_set: ColorWorld | None
    L: torch.Tensor
    field: torch.Tensor
    weights: torch.Tensor
    prior: torch.Tensor
    P: torch.Tensor
    sigma: torch.Tensor
    ch1: object
    features_model: torch.nn.Module | None = None
    features_key: str = ""
    vaes: dict = field(default_factory=dict)
    mdns: dict = field(default_factory=dict)
    keys: dict = field(default_factory=dict)
    cgan: BicycleGAN | None = None
    _features: torch.Tensor | None = None
    _codes: dict = field(default_factory=dict)

    def vae(self, name: str) -> DivColorVAE:
        if name not in self.vaes:
            raise KeyError(f"VAE {name!r} is not trained in this run; trained: {', '.join(self.vaes) or 'none'}")
        return self.vaes[name]

    def mdn(self, name: str) -> MDN:
        if name not in self.mdns:
            raise KeyError(f"MDN {name!r} is not trained in this run; trained: {', '.join(self.mdns) or 'none'}")
        return self.mdns[name]

    @torch.no_grad()
    def features(self, L: torch.Tensor, batch: int = 256) -> torch.Tensor:
        """G: the frozen block-7 features of Chapter 1's network for grey images L (N, 1, H, W) in [0, 100],
        resized first to the size Chapter 1 trained at."""
        if self.features_model is None:
            raise RuntimeError("Chapter 1's network is not loaded yet: call train_all(run) first")
        return torch.cat([self.features_model.features(self.at_ch1_size(L[i:i + batch])).float().cpu()
                          for i in range(0, len(L), batch)])

    def at_ch1_size(self, L: torch.Tensor) -> torch.Tensor:
        """Grey images L on the run's device, resized (bilinear) to the size Chapter 1's network trained at."""
        side, x = self.ch1.settings["size"], L.to(self.device)
        return x if x.shape[-1] == side else F.interpolate(x, size=(side, side), mode="bilinear", align_corners=False)

    def train_features(self) -> torch.Tensor:
        if self._features is None:
            self._features = self.features(self.L)
        return self._features

    @torch.no_grad()
    def codes(self, vae_name: str, batch: int = 256) -> torch.Tensor:
        """The MDN's targets: the encoder means mu(C) of the training fields under VAE ``vae_name`` (N, d)."""
        if vae_name not in self._codes:
            net, grey = self.vae(vae_name), grey_input(self.L)
            out = [net.encode(self.field[i:i + batch].to(self.device), grey[i:i + batch].to(self.device))[0].cpu()
                   for i in range(0, len(self.L), batch)]
            self._codes[vae_name] = torch.cat(out)
        return self._codes[vae_name]


def prepare(profile: str | None = None, seed: int = 0, device=None) -> ChapterRun:
    """Settings, data, prior and PCA of a run, and Chapter 1's prepared run (nothing trained yet)."""
    profile = get_profile(profile)
    s = settings(profile)
    ch1 = automatic.prepare(profile, seed, device)  # reseeds the global generators; ours follow
    seed_everything(seed)
    train_set = ColorWorld(n=s["n_train"], size=s["size"], seed=seed + 600, max_objects=1)
    test_set = ColorWorld(n=s["n_test"], size=s["size"], seed=seed + 10_600, max_objects=1)
    return ChapterRun(profile, seed, s, get_device(device, quiet=True), train_set=train_set, test_set=test_set, ch1=ch1,
                      **training_fields(train_set.batch(range(s["n_train"]))["rgb"]))


def training_fields(rgb: torch.Tensor) -> dict:
    """What the VAEs train on, from training images (N, 3, H, W): grey L, colour fields C = ab / 128, each pixel's
    colourfulness weight 1 / H_p, the prior H of the training fields and their top-20 principal components."""
    L, ab = rgb_to_l_ab(rgb)
    prior = quantize.empirical_prior(ab, sigma=PRIOR_SIGMA)
    inverse = torch.where(prior > 0, 1.0 / prior.clamp_min(1e-300), torch.zeros_like(prior))
    c = colour_field(ab)
    P, sigma = fit_pca(c)
    return {"L": L, "field": c, "weights": quantize.pixel_weights(ab, inverse).float(), "prior": prior, "P": P,
            "sigma": sigma}


def _indices(step: int, batch: int, n: int, seed: int) -> torch.Tensor:
    """The training fields of one update: a seeded draw per step, so that a resumed run sees the same batches."""
    return torch.randint(0, n, (batch,), generator=torch.Generator().manual_seed(seed * 1_000_003 + step))


def decoder_term(loss: str, c: torch.Tensor, f: torch.Tensor, weights: torch.Tensor, P: torch.Tensor,
                 sigma: torch.Tensor) -> torch.Tensor:
    """The decoder loss of a VAE: "eq4" (Eq. 4), "mah" (L_mah alone) or "l2" (summed squared error)."""
    if loss == "eq4":
        return decoder_loss(c, f, weights, P, sigma)
    if loss == "mah":
        return mahalanobis_loss(c, f, P, sigma)
    if loss == "l2":
        return hist_loss(c, f, torch.ones_like(weights))
    raise ValueError(f"unknown decoder loss {loss!r}; expected 'eq4', 'mah' or 'l2'")


def vae_config(name: str, s: dict, seed: int) -> dict:
    kind, loss = VAES[name]
    keys = ("size", "width", "d", "n_train", "vae_steps", "batch", "lr", "kl_anneal")
    return {"model": "vae", "kind": kind, "loss": loss, **{k: s[k] for k in keys}, "data": s.get("data", "colorworld"),
            "seed": seed, "code": code_version()}


def fit_vae(name: str, run: ChapterRun):
    """The ``fit`` of a VAE: the reparameterised bound with the named decoder loss, Adam, resumable."""
    kind, loss = VAES[name]
    s = run.settings
    kl_base = CVAE_KL_WEIGHT if kind == "cvae" else KL_WEIGHT
    steps = s["vae_steps"]
    P, sigma = run.P.to(run.device), run.sigma.to(run.device)
    grey = grey_input(run.L)
    cfg = TrainConfig(steps=steps, lr=s["lr"], betas=(0.9, 0.999), seed=run.seed, log_every=max(1, steps // 40),
                      checkpoint_every=max(50, steps // 4))

    def get_batch(step: int) -> dict:
        idx = _indices(step, s["batch"], len(run.L), run.seed)
        return {"grey": grey[idx], "c": run.field[idx], "w": run.weights[idx], "step": torch.tensor(step)}

    def loss_fn(model: DivColorVAE, b: dict):
        mu, logvar = model.encode(b["c"], b["grey"])
        f = model.decode(reparameterize(mu, logvar), b["grey"])
        dec = decoder_term(loss, b["c"], f, b["w"], P, sigma)
        # sec. 3.1: a fixed weight; the released code ramps it up linearly over training (kl_anneal)
        kl_w = kl_base * (float(b["step"]) / steps if s["kl_anneal"] else 1.0)
        return vae_loss(dec, mu, logvar, kl_w), {"decoder": dec.detach(), "kl": kl_standard_normal(mu, logvar).detach()}

    return fit_with(loss_fn, get_batch, cfg, device=run.device, desc=name)


def mdn_config(name: str, run: ChapterRun) -> dict:
    s = run.settings
    vae_name, loss = MDNS[name]
    keys = ("mdn_width", "d", "n_train", "mdn_steps", "batch", "mdn_lr")
    return {"model": "mdn", "loss": loss, "vae": run.keys[vae_name], "features": run.features_key,
            "data": s.get("data", "colorworld"),
            "components": COMPONENTS, **{k: s[k] for k in keys}, "seed": run.seed, "code": code_version()}


def fit_mdn(name: str, run: ChapterRun):
    """The ``fit`` of an MDN: the VAE's codes of the training fields from the frozen features, Eq. 6 or Eq. 5."""
    vae_name, loss = MDNS[name]
    s = run.settings
    G, z = run.train_features(), run.codes(vae_name)
    objective = mdn_closest_loss if loss == "closest" else mdn_nll
    cfg = TrainConfig(steps=s["mdn_steps"], lr=s["mdn_lr"], betas=(0.9, 0.999), seed=run.seed,
                      log_every=max(1, s["mdn_steps"] // 40), checkpoint_every=max(50, s["mdn_steps"] // 4))

    def get_batch(step: int) -> dict:
        idx = _indices(step, s["batch"], len(z), run.seed + 1)
        return {"G": G[idx], "z": z[idx]}

    def loss_fn(model: MDN, b: dict):
        logits, means = model(b["G"])
        return objective(logits, means, b["z"])

    return fit_with(loss_fn, get_batch, cfg, device=run.device, desc=name)


def build_mdn(run: ChapterRun) -> MDN:
    G = run.train_features()
    return MDN(G.shape[1], G.shape[-1], d=run.settings["d"], components=COMPONENTS, width=run.settings["mdn_width"])


def train_vae(run: ChapterRun, name: str, force: bool = False) -> DivColorVAE:
    s = run.settings
    kind, _ = VAES[name]
    cfg = vae_config(name, s, run.seed)
    model, info = load_or_train(CHAPTER, name, run.profile, cfg, lambda: DivColorVAE(kind, s["size"], s["width"], s["d"]),
                                fit_vae(name, run), force=force, device=run.device)
    run.vaes[name], run.histories[name], run.keys[name] = model, info, info["key"]
    run._codes.pop(name, None)
    return model


def train_mdn(run: ChapterRun, name: str, force: bool = False) -> MDN:
    model, info = load_or_train(CHAPTER, name, run.profile, mdn_config(name, run), lambda: build_mdn(run),
                                fit_mdn(name, run), force=force, device=run.device)
    run.mdns[name], run.histories[name], run.keys[name] = model, info, info["key"]
    return model


def cgan_config(s: dict, seed: int) -> dict:
    keys = ("size", "cgan_width", "n_train", "vae_steps", "batch")
    return {"model": "cgan", **{k: s[k] for k in keys}, "lr": CGAN_LR, "data": s.get("data", "colorworld"),
            "seed": seed, "code": code_version()}


def train_cgan(run: ChapterRun, force: bool = False) -> BicycleGAN:
    """The cGAN baseline (sec. 5): pix2pix (U-Net, PatchGAN and L1) whose noise is its dropout, on the same
    training fields and for as many updates as a VAE, with the released pix2pix code's Adam (2e-4, beta1 0.5);
    discriminators of 3 layers (2 below 64 pixels, where a third would reduce the coarser scale to 1 x 1)."""
    s = run.settings
    steps, w = s["vae_steps"], s["cgan_width"]
    grey = grey_input(run.L)
    cfg = TrainConfig(steps=steps, lr=CGAN_LR, betas=(0.5, 0.999), seed=run.seed, log_every=max(1, steps // 40),
                      checkpoint_every=max(50, steps // 4))

    def get_batch(step: int) -> dict:
        idx = _indices(step, s["batch"], len(run.L), run.seed + 2)
        return {"A": grey[idx], "B": torch.cat([grey[idx], normalize_ab(run.field[idx] * AB_SCALE)], 1)}

    def fit(model: BicycleGAN, checkpoint_path):
        opts = make_optimizers(model, lr=CGAN_LR, betas=cfg.betas)
        return train(model, None, get_batch, cfg, device=run.device, checkpoint_path=checkpoint_path,
                     optimizer=opts, step_fn=train_step, desc="cgan")

    model, info = load_or_train(CHAPTER, "cgan", run.profile, cgan_config(s, run.seed),
                                lambda: BicycleGAN("pix2pix_noise", s["size"], nz=0, ngf=w, nef=w, ndf=w,
                                                   d_layers=3 if s["size"] >= 64 else 2), fit,
                                force=force, device=run.device)
    run.cgan, run.histories["cgan"] = model, info
    return model


def load_features_model(run: ChapterRun, force: bool = False) -> torch.nn.Module:
    """Chapter 1's rebalanced classification network (its ``full`` variant), frozen: G and the per-pixel baseline."""
    model, info = automatic.train_variant(run.ch1, "full", force=force)
    model.eval().requires_grad_(False)
    run.features_model, run.features_key = model, info["key"]
    run.histories["ch1_full"] = info
    return model


def train_all(run: ChapterRun, force: bool = False) -> ChapterRun:
    """Chapter 1's network (from its cache when Chapter 1 ran), the five VAEs, then the three MDNs."""
    load_features_model(run)
    for name in VAES:
        train_vae(run, name, force=force)
    for name in MDNS:
        train_mdn(run, name, force=force)
    if run.settings["cgan"]:
        train_cgan(run, force=force)
    return run


# ---------------------------------------------------------------------------------------------
# Photographs (the online section: LFW)


def photo_run(run: ChapterRun, rgb_train: torch.Tensor, name: str = "photos", force: bool = False) -> ChapterRun:
    """ours+skip and its MDN (Eq. 6) trained on photographs ``rgb_train`` (N, 3, H, W) at the run's size, with the
    run's settings and Chapter 1's feature network; cached under the data set's ``name``."""
    if rgb_train.shape[-1] != run.settings["size"] or rgb_train.shape[-2] != run.settings["size"]:
        raise ValueError(f"the photographs must be {run.settings['size']} x {run.settings['size']} (this profile's "
                         f"size), got {tuple(rgb_train.shape[-2:])}")
    s = {**run.settings, "n_train": len(rgb_train), "data": name}
    photos = ChapterRun(run.profile, run.seed, s, run.device, train_set=None, test_set=None, ch1=run.ch1,
                        features_model=run.features_model, features_key=run.features_key,
                        **training_fields(rgb_train))
    train_vae(photos, "ours_skip", force=force)
    train_mdn(photos, "mdn_skip", force=force)
    return photos


@torch.no_grad()
def photo_table3(photos: ChapterRun, rgb_test: torch.Tensor, batch: int = 64) -> tuple[float, float]:
    """Table 3 on test photographs: the mean error-of-best and variance of ours+skip's top-5 means (ab / 128)."""
    eob, var = [], []
    for i in range(0, len(rgb_test), batch):
        L, ab = rgb_to_l_ab(rgb_test[i:i + batch])
        _, means = measure.mdn_components(photos, "mdn_skip", photos.features(L))
        out = measure.decode_all(photos.vae("ours_skip"), means[:, :TOP_K], grey_input(L), photos.device)
        eob.append(error_of_best(out / AB_SCALE, colour_field(ab)))
        var.append(output_variance(out / AB_SCALE))
    return float(torch.cat(eob).mean()), float(torch.cat(var).mean())


# ---------------------------------------------------------------------------------------------
# Entry points


def model_facts(run: ChapterRun) -> dict:
    """What the facts check: the MDN's output size (ours and the paper's), the float32 underflow of Eq. 5 (its
    threshold, and how many training codes a freshly initialised MDN already puts beyond it)."""
    s = run.settings
    G = run.train_features()
    paper_mdn = MDN(512, 28, d=s["d"], components=COMPONENTS, width=1.0)
    torch.manual_seed(run.seed)  # the initialisation the trained MDN started from
    fresh = build_mdn(run).to(run.device)
    return {"d": s["d"], "mdn_outputs": run.mdn("mdn_skip").fc[-1].out_features,
            "paper_mdn_outputs": paper_mdn.fc[-1].out_features, "paper_mdn_params": count_parameters(paper_mdn),
            "feature_shape": list(G.shape[1:]),
            "underflow_threshold": measure.measured_underflow_threshold(s["d"]),
            "underflow_threshold_formula": measure.underflow_threshold(s["d"]),
            **measure.underflow_at_init(fresh, G, run.codes("ours_skip"), run.device),
            "params": {name: count_parameters(net) for name, net in {**run.vaes, **run.mdns}.items()}}


def run_experiment(profile: str | None = None, seed: int = 0, force: bool = False, device=None,
                   write: bool = True) -> ChapterRun:
    """Run the whole chapter: train (or load) every model, measure, check the claims, write the results."""
    run = prepare(profile, seed, device)
    train_all(run, force=force)
    run.metrics = measure.evaluate(run)
    measured = model_facts(run)
    run.metrics["model"] = measured
    run.metrics["training"] = run.training_summary()
    s = run.settings
    prov = run.provenance(data={
        "dataset": "ColorWorld, one object per scene", "task": "grey L -> diverse colour fields ab",
        "image_size": s["size"], "train_scenes": s["n_train"], "test_scenes": s["n_test"], "width": s["width"],
        "vae_updates": s["vae_steps"], "mdn_updates": s["mdn_steps"], "batch": s["batch"], "lr": s["lr"],
        "features": f"Chapter 1 'full' network, block 7, at {run.ch1.settings['size']} px"})
    return run.conclude(CHAPTER, claims(), facts(measured), prov, write=write)


def run(profile: str | None = None, seed: int = 0, force: bool = False, device=None, write: bool = True) -> dict:
    """CLI entry point: run the chapter and (``write``) write ``book/results/<profile>/diverse.json``."""
    return run_experiment(profile=profile, seed=seed, force=force, device=device, write=write).results
