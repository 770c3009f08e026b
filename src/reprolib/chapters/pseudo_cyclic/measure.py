"""What Chapter 8 measures on the test scenes (one value per scene, for the bootstrap of the claims).

* The paper's two measures, **MSE and SSIM** between a colorization and the real colour image (Sec. 6.2.2), read on
  the 8-bit scale (reading: an MSE of 87, as in Table 1, is an RMS error of 9.3 grey levels; SSIM is scikit-image's
  ``structural_similarity`` with ``data_range=255`` over the three channels), for each of the three pyramid outputs.
* **Structure kept**: the PSNR of H_t(G_1(I)) against the grey input I (the pseudo-cycle asks for it; Sec. 3).
* **Checkerboards** (Fig. 5): the share of an output's energy at the highest spatial frequencies (periods 2 and 4),
  after removing its blurred copy, for G_3 against G_1.
* What only ColorWorld can tell: whether the primary object's median colour lies on a true colour mode of its class
  (within 15 ab, Chapter 1's radius), beside the share a network that ignores the class would get.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from reprolib.color import handcrafted_grey, rgb_to_l_ab
from reprolib.metrics.diversity import scene_region_modes

MODE_RADIUS = 15.0


def mse_ssim(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image (N,): MSE on the 8-bit scale (mean over pixels and the three channels) and SSIM (data range 255)."""
    from skimage.metrics import structural_similarity

    a = (x.clamp(0, 1) * 255).double()
    b = (y.clamp(0, 1) * 255).double()
    mse = (a - b).pow(2).mean(dim=(1, 2, 3))
    an, bn = a.permute(0, 2, 3, 1).numpy(), b.permute(0, 2, 3, 1).numpy()
    ssim = torch.tensor([structural_similarity(u, v, channel_axis=-1, data_range=255.0) for u, v in zip(an, bn)])
    return mse, ssim


def grey_psnr(colour: torch.Tensor, grey: torch.Tensor) -> torch.Tensor:
    """PSNR (dB, peak 1) of H_t(colour) against ``grey``, per image."""
    mse = (handcrafted_grey(colour.clamp(0, 1)) - grey).pow(2).mean(dim=(1, 2, 3)).clamp_min(1e-12)
    return -10 * torch.log10(mse)


def checkerboard_energy(x: torch.Tensor) -> torch.Tensor:
    """Per image: the mean squared difference between the image and its 4 x 4 box-blurred copy, per pixel (the
    energy of periods up to 4 pixels, where a nearest-neighbour up-sampling's checkerboards live)."""
    blurred = F.avg_pool2d(F.pad(x, (1, 2, 1, 2), mode="replicate"), 4, stride=1)
    return (x - blurred).pow(2).mean(dim=(1, 2, 3))


def primary_on_mode(world, rendered: dict, rgb: torch.Tensor) -> torch.Tensor:
    """Per scene: 1.0 where the visible primary object's median colour is within 15 ab of a mode of its class,
    0.0 where it is off-mode, NaN where the primary is hidden."""
    _, ab = rgb_to_l_ab(rgb.clamp(0, 1))
    taken = scene_region_modes(world, rendered, ab, radius=MODE_RADIUS)["objects"][:, 0]
    out = (taken >= 0).double()
    out[taken == -2] = float("nan")
    return out


def chance_on_mode(world, classes: torch.Tensor) -> torch.Tensor:
    """Per scene: the probability that a colour drawn for another class (a class uniformly among the others, a mode
    by that class's probabilities) lies within 15 ab of a mode of the scene's primary class: what a colorizer that
    paints plausible colours but ignores which object it paints scores."""
    modes = [world.true_ab_distribution(c) for c in range(world.num_classes)]

    def hit(c: int, k: int) -> float:
        centres, probs = modes[k]
        near = torch.cdist(centres.double(), modes[c][0].double()).min(dim=1).values <= MODE_RADIUS
        return float((probs.double() * near).sum() / probs.double().sum())

    table = torch.tensor([[hit(c, k) for k in range(world.num_classes)] for c in range(world.num_classes)])
    others = (table.sum(1) - table.diagonal()) / (world.num_classes - 1)
    return others[classes.clamp_min(0)].double()


@torch.no_grad()
def evaluate(run) -> dict:
    """Every model's outputs on the test scenes, measured (see the module docstring)."""
    test, world = run.test, run.worlds["test"]
    grey, truth = test["grey"], test["rgb"]
    samples: dict[str, list] = {}
    summary: dict[str, dict] = {}
    visible = ~torch.isnan(primary_on_mode(world, test, truth))
    samples["visible"] = visible.double().tolist()
    for name, net in run.nets.items():
        outs = [o.float().cpu() for o in net.pyramid(grey.to(run.device))]
        row = {}
        for i, out in enumerate(outs, 1):
            mse, ssim = mse_ssim(out, truth)
            samples[f"{name}.G{i}.mse"], samples[f"{name}.G{i}.ssim"] = mse.tolist(), ssim.tolist()
            samples[f"{name}.G{i}.checker"] = checkerboard_energy(out).double().tolist()
            row[f"G{i}"] = {"mse": float(mse.mean()), "ssim": float(ssim.mean())}
        on = torch.nan_to_num(primary_on_mode(world, test, outs[0]), nan=0.0)
        samples[f"{name}.on_mode"] = on.tolist()
        samples[f"{name}.grey_psnr"] = grey_psnr(outs[0], grey).double().tolist()
        row["on_mode"] = float(on.sum() / visible.sum())
        row["grey_psnr"] = float(np.mean(samples[f"{name}.grey_psnr"]))
        curve = net.curve.cpu()
        row["curve"] = {"steps": net.steps.cpu().tolist(), "mse": curve[:, :, 0].tolist(),
                        "ssim": curve[:, :, 1].tolist()}
        summary[name] = row
    chance = chance_on_mode(world, test["classes"][:, 0]) * visible
    samples["chance.on_mode"] = chance.tolist()
    summary["chance"] = {"on_mode": float(chance.sum() / visible.sum())}
    summary["truth"] = {"on_mode": float(torch.nan_to_num(primary_on_mode(world, test, truth), nan=0.0).sum()
                                         / visible.sum())}
    return {"samples": {"scenes": samples}, "summary": summary, "data": {"test_scenes": len(grey)}}
