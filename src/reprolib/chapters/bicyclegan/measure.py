"""Chapter 3's measurements: what the paper measures (diversity), what only ColorWorld can (modes), and the
stand-ins for what needs people (a critic instead of AMT judges).

Every model ``m`` colours the same N test scenes with the same K codes z (K = 20 in the fast and full
profiles, as in the paper), and the oracle draws K colourings of the same scenes from the true p(colour |
grey). Per test scene (the bootstrap's units, group ``inputs``) this keeps:

* ``m.diversity``: the mean LPIPS v0.0 (AlexNet) between consecutive samples, 19 pairs with K = 20
  (thesis sec. 4.4.1), on images upsampled to 64 px (AlexNet's deeper taps are 1x1 at 32 px);
* the mode every region took in every sample (``metrics.diversity.scene_region_modes``): counts per true
  mode and off-mode for each multimodal class (pooled: the mode frequencies, against the true
  probabilities), on-mode regions, modes covered by the K samples of each region (against what a
  perfect sampler covers), the per-region total variation of the K samples' mode shares (against a perfect
  sampler's floor);
* ``m.latent_error``: ``|mu(E(G(A, z))) - z|`` averaged over the K codes, where the model has an encoder;
* ``m.recon``: Table 4.1's ``|B - G(A, mu(E(B)))|`` on the colours (ab/110), where it has one.

Group ``pairs`` holds the LPIPS of random pairs of different real images (the paper's .265 ceiling) and
group ``critic`` the held-out judgments of a two-sample critic per model (``metrics.critic``).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from reprolib.color import l_ab_to_rgb, normalize_ab, normalize_l, rgb_to_l_ab, unnormalize_ab
from reprolib.data.oracle import redraw_colours
from reprolib.metrics.critic import critic_features, critic_judgments, fooling_rate
from reprolib.metrics.diversity import (
    NO_REGION,
    OFF_MODE,
    expected_coverage,
    lpips_v0_alex,
    random_pairs_diversity,
    sample_diversity,
    scene_region_modes,
    tv_distance,
    tv_floor,
)

LPIPS_SIZE = 64  # images are upsampled to this side for LPIPS and the critic
MODE_RADIUS = 15.0  # a region takes a mode when its median colour lies within this ab distance (Ch. 1's radius)
ORACLE = "oracle"


def for_lpips(rgb: torch.Tensor) -> torch.Tensor:
    """RGB (..., 3, H, W) in [0, 1] resized (bilinear) to LPIPS_SIZE pixels, if smaller."""
    if rgb.shape[-1] >= LPIPS_SIZE:
        return rgb
    flat = rgb.reshape(-1, *rgb.shape[-3:])
    up = F.interpolate(flat, size=(LPIPS_SIZE, LPIPS_SIZE), mode="bilinear", align_corners=False).clamp(0, 1)
    return up.reshape(*rgb.shape[:-2], LPIPS_SIZE, LPIPS_SIZE)


def codes(n_samples: int, n: int, nz: int, seed: int) -> torch.Tensor:
    """(K, N, nz) standard normal codes from a generator seeded with ``seed``: the same for every model of
    one code length, so that models are compared on the same draws."""
    return torch.randn(n_samples, n, nz, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def colourings(net, A: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """(K, N, 2, H, W) colours in ab units of the inputs A (N, 1, H, W) under each of the K codes z (K, N, nz)."""
    device = next(net.parameters()).device
    return torch.stack([unnormalize_ab(net.colours(A.to(device), zk.to(device)).cpu()) for zk in z])


def oracle_colourings(world, indices, n_samples: int, seed: int) -> torch.Tensor:
    """(K, N, 2, H, W): K draws of the scenes' colours from the true p(colour | grey) (``redraw_colours``)."""
    params = world.sample_params(list(indices))
    out = [rgb_to_l_ab(world.render(redraw_colours(world, params, seed=seed * 1000 + k))["rgb"])[1]
           for k in range(n_samples)]
    return torch.stack(out)


def multimodal_regions(world) -> dict:
    """name -> (class index or "ground", true probabilities) of every region kind with two or more modes."""
    out = {}
    for c, name in enumerate(world.class_names):
        probs = world.true_ab_distribution(c)[1].double()
        if len(probs) >= 2:
            out[name] = (c, probs)
    out["ground"] = ("ground", world.true_background_distribution("ground")[1].double())
    return out


def region_outcomes(world, rendered: dict, ab: torch.Tensor) -> dict:
    """The mode each region took in each of K colourings ab (K, N, 2, H, W): {"objects": (K, N, M), "ground": (K, N)}."""
    got = [scene_region_modes(world, rendered, ab[k], radius=MODE_RADIUS) for k in range(ab.shape[0])]
    return {"objects": torch.stack([g["objects"] for g in got]), "ground": torch.stack([g["ground"] for g in got])}


def _regions_of(kind, outcomes: dict, classes: torch.Tensor):
    """[(input index, (K,) outcomes)] of every judged region of one kind (a class index or "ground")."""
    if kind == "ground":
        per = [(i, outcomes["ground"][:, i]) for i in range(classes.shape[0])]
    else:
        per = [(i, outcomes["objects"][:, i, slot]) for i, slot in (classes == kind).nonzero().tolist()]
    return [(i, o) for i, o in per if bool((o != NO_REGION).all())]


def mode_tallies(world, rendered: dict, outcomes: dict, prefix: str, samples: dict) -> dict:
    """Per input, the counts and per-region statistics above (kept in ``samples`` under ``prefix``); returns
    the pooled mode shares per multimodal region kind, for the tables and figures."""
    n, K = rendered["classes"].shape[0], outcomes["ground"].shape[0]
    zeros = lambda: np.zeros(n)  # noqa: E731
    covered, wanted, expected, tv, floor, regions = (zeros() for _ in range(6))
    pooled = {}
    for name, (kind, probs) in multimodal_regions(world).items():
        counts, off, total = np.zeros((len(probs), n)), zeros(), zeros()
        f = tv_floor(probs, K)
        for i, o in _regions_of(kind, outcomes, rendered["classes"]):
            hits = torch.bincount(o[o >= 0], minlength=len(probs)).double().numpy()
            counts[:, i] += hits
            off[i] += float((o == OFF_MODE).sum())
            total[i] += K
            covered[i] += float((hits > 0).sum())
            wanted[i] += len(probs)
            expected[i] += expected_coverage(probs, K) * len(probs)
            tv[i] += tv_distance(torch.cat([torch.from_numpy(hits), (o == OFF_MODE).sum().double().view(1)]) / K,
                                 torch.cat([probs, torch.zeros(1, dtype=torch.float64)]))
            floor[i] += f
            regions[i] += 1
        for j in range(len(probs)):
            samples[f"{prefix}.{name}.mode{j}"] = counts[j].tolist()
        samples[f"{prefix}.{name}.off"], samples[f"{prefix}.{name}.n"] = off.tolist(), total.tolist()
        n_all = total.sum()
        pooled[name] = {"shares": (counts.sum(1) / max(n_all, 1)).tolist(), "off": float(off.sum() / max(n_all, 1)),
                        "probs": probs.tolist(), "regions": int(n_all), "inputs": int((total > 0).sum()),
                        "floor": tv_floor(probs, int(n_all)) if n_all else None}
    on = ((outcomes["objects"] >= 0).sum((0, 2)) + (outcomes["ground"] >= 0).sum(0)).double()
    seen = ((outcomes["objects"] != NO_REGION).sum((0, 2)) + (outcomes["ground"] != NO_REGION).sum(0)).double()
    samples.update({f"{prefix}.on_mode": on.tolist(), f"{prefix}.judged": seen.tolist(),
                    f"{prefix}.covered": covered.tolist(), f"{prefix}.tv": tv.tolist()})
    # the same for every model (they depend on the scenes and K only), so they carry no model's prefix
    samples.update({"wanted": wanted.tolist(), "expected_covered": expected.tolist(), "tv_floor": floor.tolist(),
                    "multimodal_regions": regions.tolist()})
    return pooled


@torch.no_grad()
def latent_error(net, A: torch.Tensor, ab: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Per input, ``mean_k |mu(E(G(A, z_k))) - z_k|`` (mean over the code's dimensions): (N,) float64."""
    device = next(net.parameters()).device
    errs = []
    for k in range(z.shape[0]):
        B = torch.cat([A, normalize_ab(ab[k])], 1).to(device)
        errs.append((net.encode(B).cpu().double() - z[k].double()).abs().mean(1))
    return torch.stack(errs).mean(0)


@torch.no_grad()
def reconstruction(net, A: torch.Tensor, ab_true: torch.Tensor) -> torch.Tensor:
    """Table 4.1 per input: ``mean |B - G(A, mu(E(B)))|`` over the colour channels, in ab/110 units: (N,)."""
    device = next(net.parameters()).device
    B = torch.cat([A, normalize_ab(ab_true)], 1).to(device)
    out = net.colours(A.to(device), net.encode(B)).cpu()
    return (out - B[:, 1:].cpu()).abs().double().mean((1, 2, 3))


def _critic(real_feats: torch.Tensor, L: torch.Tensor, ab: torch.Tensor, seed: int) -> torch.Tensor:
    fake = critic_features(l_ab_to_rgb(L, ab), size=LPIPS_SIZE)
    return critic_judgments(real_feats, fake, seed=seed).double()


@torch.no_grad()
def evaluate(run) -> dict:
    """Every number of the chapter, measured on the run's test scenes (see the module docstring)."""
    s, world = run.settings, run.test_set
    N, K, seed = s["n_test"], s["n_samples"], run.seed
    rendered = world.batch(range(N))
    L, ab_true = rgb_to_l_ab(rendered["rgb"])
    A = normalize_l(L)
    inputs, critic, modes, per_model = {}, {}, {}, {}

    crit = world.batch(range(s["n_critic"]))
    L_c, ab_c = rgb_to_l_ab(crit["rgb"])
    real_feats = critic_features(l_ab_to_rgb(L_c, ab_c), size=LPIPS_SIZE)

    def measure_samples(name: str, ab: torch.Tensor) -> None:
        rgb = l_ab_to_rgb(L.expand(K, *L.shape).reshape(-1, *L.shape[1:]), ab.reshape(-1, *ab.shape[2:]))
        inputs[f"{name}.diversity"] = sample_diversity(for_lpips(rgb.reshape(K, N, *rgb.shape[1:]))).tolist()
        modes[name] = mode_tallies(world, rendered, region_outcomes(world, rendered, ab), name, inputs)

    for name, net in run.models.items():
        z = codes(K, N, net.nz, seed + 1)
        ab = colourings(net, A, z)
        measure_samples(name, ab)
        info = {"nz": net.nz, "variant": net.variant.name}
        if net.E is not None:
            inputs[f"{name}.latent_error"] = latent_error(net, A, ab, z).tolist()
        if net.variant.encoded:
            inputs[f"{name}.recon"] = reconstruction(net, A, ab_true).tolist()
        zc = codes(1, s["n_critic"], net.nz, seed + 2)[0]
        ab_crit = colourings(net, normalize_l(L_c), zc[None])[0]
        critic[f"{name}.right"] = _critic(real_feats, L_c, ab_crit, seed).tolist()
        info["fooling_rate"] = fooling_rate(torch.tensor(critic[f"{name}.right"]))
        per_model[name] = info

    measure_samples(ORACLE, oracle_colourings(world, range(N), K, seed + 1))
    ab_oracle_crit = oracle_colourings(world, range(s["n_critic"]), 1, seed + 2)[0]
    critic[f"{ORACLE}.right"] = _critic(real_feats, L_c, ab_oracle_crit, seed).tolist()
    per_model[ORACLE] = {"fooling_rate": fooling_rate(torch.tensor(critic[f"{ORACLE}.right"]))}

    truth = region_outcomes(world, rendered, ab_true[None])
    truth_on = float(((truth["objects"] >= 0).sum() + (truth["ground"] >= 0).sum())
                     / ((truth["objects"] != NO_REGION).sum() + (truth["ground"] != NO_REGION).sum()))
    gen = torch.Generator().manual_seed(seed + 3)
    pairs = random_pairs_diversity(for_lpips(l_ab_to_rgb(L_c, ab_c)),
                                   s["n_pairs"], gen, distance=lpips_v0_alex)
    for name in per_model:
        per_model[name]["diversity"] = float(np.mean(inputs[f"{name}.diversity"]))
    return {"models": per_model, "modes": modes, "real_on_mode": truth_on,
            "real_pairs_diversity": float(pairs.mean()),
            "presence": {k: v["inputs"] for k, v in modes[ORACLE].items()},
            "samples": {"inputs": inputs, "pairs": {"real_pairs": pairs.tolist()}, "critic": critic}}
