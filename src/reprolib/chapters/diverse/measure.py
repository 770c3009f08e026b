"""Chapter 6's measurements: Tables 1-3 as the paper measures them, and what only ColorWorld can measure.

Every method gives k = 5 colour fields per test scene (the bootstrap's units, group ``scenes``):

* ``ours_skip``, ``ours``, ``lse``: the decoded means of the 5 MDN components of largest weight (sec. 6.2);
* ``cvae``: 256 fields from codes of N(0, I), clustered into 5 (k-means, the centres; sec. 5);
* ``perpixel``: 5 draws of Chapter 1's rebalanced network, each pixel's colour drawn independently from its
  predicted distribution at T = 1 (the speckle of Fig. 2);
* ``cgan`` (when the run trained it, the full profile): 256 fields with the generator's dropout on, clustered into
  5 as the CVAE's (sec. 5);
* ``oracle``: the 5 likeliest joint (object, ground) modes of the scene, rendered at their mode centres with
  fresh pixel noise: what a perfect top-5 sampler gives, without knowing the scene's own colour jitter.

Per scene and method: Table 3's error-of-best and variance (ab / 128), the object's true modes covered by the
5 fields (of probability >= 0.1), the purity and roughness of the object's colour in each field. Per MDN, the
mixture mass that lands on each true mode (its 8 means decoded) against the true probabilities. Per VAE,
Table 1-2's reconstruction errors from the encoder's code (all pixels and the 8 x 8 grid; plain and weighted
by 1 / H_p) and the chroma of the reconstruction.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from reprolib import quantize
from reprolib.cluster import weighted_kmeans
from reprolib.color import rgb_to_l_ab, unnormalize_ab
from reprolib.data.oracle import redraw_colours
from reprolib.metrics.color import saturation, spatial_roughness
from reprolib.metrics.diversity import NO_REGION, error_of_best, output_variance, scene_region_modes
from reprolib.models.divcolor import (AB_SCALE, MDN, MDN_VARIANCE, TOP_K, colour_field, grey_input, mdn_nll_naive,
                                      top_means)

MODE_RADIUS = 15.0  # a region (or pixel) takes a mode within this ab distance (Chapters 1 and 3)
MIN_PROB = 0.1  # coverage counts the modes of at least this probability
GRID = 8  # Tables 1-2's "Grid" columns: 8 x 8 pixels at equal steps, around the middle of the image
METHODS = ("ours_skip", "ours", "lse", "cvae", "perpixel", "oracle")
MDN_METHODS = {"ours_skip": ("mdn_skip", "ours_skip"), "ours": ("mdn_ours", "ours"), "lse": ("mdn_lse", "ours_skip")}


def grid_mask(size: int) -> torch.Tensor:
    """(size, size) bool: 8 x 8 pixels spaced size / 16 apart, centred: the grid covers the middle half."""
    step = size // 16
    start = size // 2 - step * GRID // 2 + step // 2
    idx = torch.arange(GRID) * step + start
    m = torch.zeros(size, size, dtype=torch.bool)
    m[idx[:, None], idx[None, :]] = True
    return m


# ---------------------------------------------------------------------------------------------
# Outputs of every method: (N, k, 2, H, W) in ab units


@torch.no_grad()
def decode_all(net, z: torch.Tensor, grey: torch.Tensor, device) -> torch.Tensor:
    """Decode codes z (N, K, d) with the grey inputs (N, 1, H, W): (N, K, 2, H, W) in ab units."""
    out = [net.decode(z[:, k].to(device), grey.to(device)).cpu() for k in range(z.shape[1])]
    return torch.stack(out, 1) * AB_SCALE


@torch.no_grad()
def mdn_components(run, mdn_name: str, G: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The MDN's mixture weights and means for features G, all 8 components sorted by weight: (N, M), (N, M, d)."""
    logits, means = run.mdn(mdn_name)(G.to(run.device))
    means, weights = top_means(logits.cpu(), means.cpu(), k=logits.shape[1])
    return weights, means


@torch.no_grad()
def cvae_outputs(run, grey: torch.Tensor, k: int = TOP_K, n_samples: int | None = None, seed: int = 0) -> torch.Tensor:
    """Sec. 5: per scene, n_samples codes of N(0, I) decoded and clustered to k fields (k-means centres, sorted
    by cluster size): (N, k, 2, H, W) in ab units."""
    net, n_samples = run.vae("cvae"), n_samples or run.settings["samples"]
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i in range(grey.shape[0]):
        z = torch.randn(n_samples, net.d, generator=gen)
        fields = net.decode(z.to(run.device), grey[i:i + 1].expand(n_samples, -1, -1, -1).to(run.device)).cpu()
        centres, _, _ = weighted_kmeans(fields.flatten(1), torch.ones(n_samples), k, seed=seed + i)
        if len(centres) < k:  # fewer distinct fields than clusters: repeat the largest
            centres = torch.cat([centres, centres[:1].expand(k - len(centres), -1)])
        out.append(centres.float().reshape(k, *fields.shape[1:]))
    return torch.stack(out) * AB_SCALE


@torch.no_grad()
def cgan_outputs(run, grey: torch.Tensor, k: int = TOP_K, n_samples: int | None = None, seed: int = 0) -> torch.Tensor:
    """Sec. 5: per scene, n_samples colourings by the cGAN with its dropout left on at test time (its only noise),
    clustered to k fields as the CVAE's: (N, k, 2, H, W) in ab units."""
    net, n_samples = run.cgan.eval(), n_samples or run.settings["samples"]
    for module in net.G.modules():
        if isinstance(module, torch.nn.Dropout):
            module.train()
    torch.manual_seed(seed)
    out = []
    for i in range(grey.shape[0]):
        A = grey[i:i + 1].expand(n_samples, -1, -1, -1).to(run.device)
        fields = unnormalize_ab(net.colours(A, torch.zeros(n_samples, 0, device=run.device)).cpu()) / AB_SCALE
        centres, _, _ = weighted_kmeans(fields.flatten(1), torch.ones(n_samples), k, seed=seed + i)
        if len(centres) < k:
            centres = torch.cat([centres, centres[:1].expand(k - len(centres), -1)])
        out.append(centres.float().reshape(k, *fields.shape[1:]))
    net.eval()
    return torch.stack(out) * AB_SCALE


@torch.no_grad()
def ch1_probabilities(run, L: torch.Tensor) -> torch.Tensor:
    """Chapter 1's predicted colour distributions for L at our size: (N, 313, h, w)."""
    x = run.at_ch1_size(L)
    return torch.softmax(run.features_model(x).float(), 1).cpu()


def perpixel_samples(probs: torch.Tensor, size: int, k: int, seed: int) -> torch.Tensor:
    """k fields whose every pixel is drawn independently from its predicted distribution (T = 1, Fig. 2),
    drawn at the network's resolution and upsampled bilinearly as its outputs are: (N, k, 2, size, size)."""
    n, q, h, w = probs.shape
    gen = torch.Generator().manual_seed(seed)
    flat = probs.permute(0, 2, 3, 1).reshape(-1, q).double()
    bins = quantize.ab_bins()
    out = []
    for _ in range(k):
        idx = torch.multinomial(flat, 1, generator=gen).view(n, h, w)
        ab = bins[idx].permute(0, 3, 1, 2).float()
        out.append(F.interpolate(ab, size=(size, size), mode="bilinear", align_corners=False))
    return torch.stack(out, 1)


@torch.no_grad()
def ch1_colorize(run, L: torch.Tensor) -> torch.Tensor:
    """Chapter 1's one colorization (its annealed mean), at our size: (N, 2, H, W)."""
    x = run.at_ch1_size(L)
    ab = run.features_model.colorize(x).float().cpu()
    return F.interpolate(ab, size=L.shape[-2:], mode="bilinear", align_corners=False) if ab.shape[-1] != L.shape[-1] else ab


def joint_modes(world, cls: int, k: int) -> list[tuple[int, int, float]]:
    """The k likeliest (object mode, ground mode) pairs of a scene whose object is of class ``cls``, with their
    probabilities, most likely first (fewer than k pairs: the list is cycled)."""
    _, p_obj = world.true_ab_distribution(cls)
    _, p_ground = world.true_background_distribution("ground")
    pairs = sorted(((float(p_obj[j] * p_ground[g]), j, g) for j in range(len(p_obj)) for g in range(len(p_ground))),
                   key=lambda t: (-t[0], t[1], t[2]))
    pairs = (pairs * k)[:k] if len(pairs) < k else pairs[:k]
    return [(j, g, p) for p, j, g in pairs]


def oracle_outputs(world, indices, k: int, seed: int) -> torch.Tensor:
    """The oracle's top k (see the module docstring): (N, k, 2, H, W) in ab units."""
    params = world.sample_params(list(indices))
    fresh = redraw_colours(world, params, seed=seed)
    fresh.jitter.zero_()
    fresh.background_jitter.zero_()
    classes = params.classes[:, 0]
    out = []
    for r in range(k):
        obj = torch.tensor([[joint_modes(world, int(c), k)[r][0]] for c in classes])
        ground = torch.tensor([joint_modes(world, int(c), k)[r][1] for c in classes])
        bg = torch.stack([params.background_modes[:, 0], ground], 1)
        out.append(rgb_to_l_ab(world.render(fresh, mode_override=obj, background_mode_override=bg)["rgb"])[1])
    return torch.stack(out, 1)


# ---------------------------------------------------------------------------------------------
# Per-scene measures


def region_mode_table(world, rendered: dict, outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The mode the object and the ground took in each of the k fields: (N, k) each (OFF_MODE, NO_REGION)."""
    got = [scene_region_modes(world, rendered, outputs[:, r], radius=MODE_RADIUS) for r in range(outputs.shape[1])]
    return torch.stack([g["objects"][:, 0] for g in got], 1), torch.stack([g["ground"] for g in got], 1)


def purity(ab: torch.Tensor, mask: torch.Tensor, modes: torch.Tensor) -> float:
    """Share of a region's pixels whose colour lies within MODE_RADIUS of the region's majority mode (pixels
    near no mode count against it); ab (2, H, W), mask (H, W), modes (M, 2)."""
    px = ab[:, mask].T.double()  # (P, 2)
    if px.shape[0] == 0:
        return float("nan")
    d = torch.cdist(px, modes.double())
    nearest = torch.where(d.min(1).values <= MODE_RADIUS, d.argmin(1), torch.full_like(d.argmin(1), -1))
    on = nearest[nearest >= 0]
    if on.numel() == 0:
        return 0.0
    return float(torch.bincount(on).max()) / px.shape[0]


def coherence(world, rendered: dict, outputs: torch.Tensor, multimodal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per scene, the mean over the k fields of the object's purity and in-object roughness (ab units); 0 where
    the object has a single mode (those scenes do not enter the ratios)."""
    n, k = outputs.shape[:2]
    pur, rough = np.zeros(n), np.zeros(n)
    masks = rendered["masks"][:, 0]
    for i in np.flatnonzero(multimodal):
        modes, _ = world.true_ab_distribution(int(rendered["classes"][i, 0]))
        pur[i] = np.mean([purity(outputs[i, r], masks[i], modes) for r in range(k)])
        rough[i] = float(spatial_roughness(outputs[i], masks[i][None].expand(k, -1, -1)).double().mean())
    return pur, rough


def covered_modes(obj_modes: torch.Tensor, probs_of: list[torch.Tensor]) -> np.ndarray:
    """Per scene, how many of its object's modes of probability >= MIN_PROB some field took."""
    out = np.zeros(len(probs_of))
    for i, probs in enumerate(probs_of):
        wanted = set(torch.nonzero(probs >= MIN_PROB).flatten().tolist())
        out[i] = len(wanted & set(obj_modes[i].tolist()))
    return out


def pi_mass(obj_modes: torch.Tensor, weights: torch.Tensor, n_modes: int) -> torch.Tensor:
    """The mixture weight landing on each true mode, and off-mode last: (n_modes + 1,) for one scene, from the
    modes its M decoded means took (obj_modes (M,)) and their weights (M,)."""
    mass = torch.zeros(n_modes + 1, dtype=torch.float64)
    for m, w in zip(obj_modes.tolist(), weights.double().tolist()):
        mass[m if m >= 0 else n_modes] += w
    return mass


# ---------------------------------------------------------------------------------------------
# Evaluation


@torch.no_grad()
def evaluate(run) -> dict:
    """Every number of the chapter, measured on the run's test scenes (see the module docstring)."""
    s, world, seed = run.settings, run.test_set, run.seed
    N, size = s["n_test"], s["size"]
    rendered = world.batch(range(N))
    L, ab = rgb_to_l_ab(rendered["rgb"])
    grey, G = grey_input(L), run.features(L)
    classes = rendered["classes"][:, 0]
    probs_of = [world.true_ab_distribution(int(c))[1] for c in classes]
    multimodal = np.array([len(p) >= 2 for p in probs_of], dtype=float)
    wanted = np.array([float((p >= MIN_PROB).sum()) if len(p) >= 2 else 0.0 for p in probs_of])
    scenes = {"multimodal": multimodal.tolist(), "wanted": wanted.tolist()}
    truth = colour_field(ab)

    outputs, extra = {}, {}
    for method, (mdn_name, vae_name) in MDN_METHODS.items():
        weights, means = mdn_components(run, mdn_name, G)
        decoded = decode_all(run.vae(vae_name), means, grey, run.device)  # all 8, sorted by weight
        outputs[method] = decoded[:, :TOP_K]
        extra[method] = (weights, decoded)
    outputs["cvae"] = cvae_outputs(run, grey, seed=seed + 1)
    outputs["perpixel"] = torch.cat([perpixel_samples(ch1_probabilities(run, L[i:i + 64]), size, TOP_K, seed + 2 + i)
                                     for i in range(0, N, 64)])
    if run.cgan is not None:
        outputs["cgan"] = cgan_outputs(run, grey, seed=seed + 4)
    outputs["oracle"] = oracle_outputs(world, range(N), TOP_K, seed + 3)

    per_method = {}
    for method, out in outputs.items():
        eob = error_of_best(out / AB_SCALE, truth)
        var = output_variance(out / AB_SCALE)
        obj, ground = region_mode_table(world, rendered, out)
        cov = covered_modes(obj, probs_of) * (multimodal > 0)
        pur, rough = coherence(world, rendered, out, multimodal)
        on = ((obj >= 0).double().mean(1) * ((obj != NO_REGION).all(1))).numpy()
        scenes.update({f"{method}.eob": eob.tolist(), f"{method}.var": var.tolist(), f"{method}.covered": cov.tolist(),
                       f"{method}.purity": (pur * multimodal).tolist(), f"{method}.roughness": (rough * multimodal).tolist(),
                       f"{method}.object_on_mode": on.tolist()})
        scenes[f"{method}.ground_covered"] = [float(len({g for g in row.tolist() if g >= 0})) for row in ground]
        per_method[method] = {"eob": float(eob.mean()), "var": float(var.mean()), "eob_ab": float(eob.mean()) * AB_SCALE,
                              "std_ab": math.sqrt(float(var.mean())) * AB_SCALE,
                              "coverage": float(cov.sum() / max(wanted.sum(), 1)),
                              "purity": float((pur * multimodal).sum() / max(multimodal.sum(), 1)),
                              "roughness": float((rough * multimodal).sum() / max(multimodal.sum(), 1))}

    # The MDNs' mixture weights against the true probabilities (their 8 means decoded)
    pi_tables = {}
    uniform_tv = np.zeros(N)
    for i, p in enumerate(probs_of):
        if len(p) >= 2:
            uniform_tv[i] = 0.5 * float((p.double() - 1.0 / len(p)).abs().sum())
    scenes["uniform_tv"] = uniform_tv.tolist()
    for method, (weights, decoded) in extra.items():
        obj, _ = region_mode_table(world, rendered, decoded)
        tv, distinct, cov8 = np.zeros(N), np.zeros(N), covered_modes(obj, probs_of) * (multimodal > 0)
        by_class: dict[str, list] = {}
        for i, p in enumerate(probs_of):
            mass = pi_mass(obj[i], weights[i], len(p))
            distinct[i] = len({m for m in obj[i].tolist() if m >= 0})
            if len(p) >= 2:
                tv[i] = 0.5 * float((mass - torch.cat([p.double(), torch.zeros(1, dtype=torch.float64)])).abs().sum())
                by_class.setdefault(world.class_names[int(classes[i])], []).append(mass)
        scenes.update({f"{method}.pi_tv": tv.tolist(), f"{method}.distinct8": (distinct * multimodal).tolist(),
                       f"{method}.covered8": cov8.tolist()})
        pi_tables[method] = {name: {"mass": torch.stack(v).mean(0).tolist(), "scenes": len(v),
                                    "probs": world.true_ab_distribution(name)[1].tolist()}
                             for name, v in sorted(by_class.items())}
        per_method[method].update({"pi_tv": float(tv.sum() / max(multimodal.sum(), 1)),
                                   "coverage8": float(cov8.sum() / max(wanted.sum(), 1)),
                                   "dead_components": float((weights < 0.01).double().sum(1).mean()),
                                   "top_weight": float(weights[:, 0].mean())})

    # Chapter 1's single colorization (k = 1)
    ch1 = torch.cat([ch1_colorize(run, L[i:i + 64]) for i in range(0, N, 64)])
    scenes["ch1.mae"] = error_of_best(colour_field(ch1)[:, None], truth).tolist()
    per_method["ch1"] = {"eob": float(np.mean(scenes["ch1.mae"]))}

    # Tables 1-2: reconstructions from the encoder's code
    inverse = torch.where(run.prior > 0, 1.0 / run.prior.clamp_min(1e-300), torch.zeros_like(run.prior))
    w = quantize.pixel_weights(ab, inverse).double()  # (N, H, W)
    grid = grid_mask(size)
    scenes["gt.chroma"] = saturation(ab).double().tolist()
    recon = {}
    for name, net in run.vaes.items():
        f = torch.cat([net.decode(net.encode(truth[i:i + 64].to(run.device), grey[i:i + 64].to(run.device))[0],
                                  grey[i:i + 64].to(run.device)).cpu() for i in range(0, N, 64)])
        err = (f - truth).abs().double().mean(1)  # (N, H, W), ab / 128 per pixel
        vals = {"all": err.flatten(1).mean(1), "grid": err[:, grid].mean(1),
                "wall": (w * err).flatten(1).mean(1), "wgrid": (w * err)[:, grid].mean(1),
                "chroma": saturation(f * AB_SCALE).double()}
        for key, v in vals.items():
            scenes[f"recon.{name}.{key}"] = v.tolist()
        recon[name] = {key: float(v.mean()) for key, v in vals.items()}
        recon[name]["chroma_ratio"] = recon[name]["chroma"] / float(np.mean(scenes["gt.chroma"]))

    return {"methods": per_method, "pi": pi_tables, "recon": recon,
            "classes": {name: world.true_ab_distribution(name)[1].tolist() for name in world.class_names},
            "samples": {"scenes": scenes}}


# ---------------------------------------------------------------------------------------------
# Facts: the underflow of Eq. 5 and the networks' sizes


def underflow_threshold(d: int, variance: float = MDN_VARIANCE) -> float:
    """The squared distance ||z - mu||^2 beyond which one component's density exp(log N) is 0 in float32:
    exp(x) rounds to 0 below x = -150 ln 2, and log N = -||z - mu||^2 / (2 var) - (d / 2) ln(2 pi var)."""
    return 2 * variance * (150 * math.log(2) - 0.5 * d * math.log(2 * math.pi * variance))


def measured_underflow_threshold(d: int, variance: float = MDN_VARIANCE) -> float:
    """The same threshold found by bisection on :func:`mdn_nll_naive` (one component, z at distance r from it)."""
    lo, hi = 0.0, 1000.0
    for _ in range(60):
        r2 = 0.5 * (lo + hi)
        z = torch.zeros(1, d)
        means = torch.zeros(1, 1, d)
        means[0, 0, 0] = math.sqrt(r2)
        if math.isinf(float(mdn_nll_naive(torch.zeros(1, 1), means, z, variance))):
            hi = r2
        else:
            lo = r2
    return hi


@torch.no_grad()
def underflow_at_init(net: MDN, G: torch.Tensor, z: torch.Tensor, device) -> dict:
    """A freshly initialised MDN ``net`` on the training features G and codes z: the share of training codes whose
    naive Eq. 5 is infinite, and the median squared distance to the nearest initial mean. In eval mode: batch
    normalisation at its initial statistics (the identity), dropout off."""
    logits, means = net.eval()(G.to(device))
    nll = mdn_nll_naive(logits.cpu(), means.cpu(), z)
    near = (z[:, None, :] - means.cpu()).pow(2).sum(2).min(1).values
    return {"underflow_share": float(torch.isinf(nll).double().mean()), "median_nearest_dist2": float(near.median()),
            "codes": len(z)}
