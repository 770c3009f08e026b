"""Eq. 6.1 as a dot product: per-pair feature vectors, trunks that produce them, and lin calibration on them.

Every deep metric of the chapter is ``d = sum_l w_l . mean_hw (y_hat0 - y_hat1)^2``. The spatial mean and
the 1 x 1 "lin" layer are both linear, so ``d = w . v`` with ``v`` the per-channel spatial means of the
squared differences of unit-normalised features: one vector of ``sum_l C_l`` numbers per pair. A trunk
then runs once per image; cosine (``w = 1``), official and learned weights are all scored from the same
vectors, and the lin calibration with a frozen trunk trains on them (:func:`fit_lin_on_vectors`).
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from reprolib.chapters.lpips.agreement import two_afc_credit
from reprolib.chapters.lpips.ranking import RankingHead, lr_schedule, ranking_loss
from reprolib.color import rgb_to_l_ab
from reprolib.metrics.lpips import LPIPS, normalize_channels
from reprolib.nn.lin import LinLayers
from reprolib.validation import checked_by

BATCH = 50  # triplets per step (sec. 6.3)
BETA1 = 0.5  # Adam's beta1 in the released trainer (facts 5.3)
LIN_DROPOUT = 0.5  # the Dropout before each 1x1 conv in the released lin layers
COLOR_BLOCKS = 5  # taps of the colorization trunk: after model1 .. model5 (conv1 .. conv5)


def lpips_trunk(module: LPIPS) -> Callable[[torch.Tensor], list[torch.Tensor]]:
    """The feature stack of an LPIPS module, scaling layer included (v0.1): [-1, 1] RGB -> feature maps."""
    if not isinstance(module, LPIPS):
        raise TypeError(f"module must be a reprolib.metrics.lpips.LPIPS, got {type(module).__name__}")

    def trunk(x: torch.Tensor) -> list[torch.Tensor]:
        if module.scaling_layer is not None:
            x = module.scaling_layer(x)
        return module.net(x)

    return trunk


class ColorizationTrunk(nn.Module):
    """The first ``blocks`` conv blocks of Chapter 1's ECCV16 network as an LPIPS trunk.

    A colorization network sees only lightness: the RGB input in [-1, 1] is mapped to [0, 1], converted to
    L (``reprolib.color.rgb_to_l_ab``), and fed through ``model1 .. model{blocks}``; the output of each
    block (after its BatchNorm, in eval mode) is one tap, like conv1 .. conv5 of AlexNet. This is the
    thesis's "cross-channel prediction" self-supervised representation (sec. 6.3), at our scale.
    """

    def __init__(self, colorizer: nn.Module, blocks: int = COLOR_BLOCKS):
        super().__init__()
        if not all(hasattr(colorizer, f"model{k}") for k in range(1, blocks + 1)):
            raise TypeError(f"colorizer must have blocks model1 .. model{blocks} (reprolib.models.ECCV16)")
        if not 1 <= blocks <= 7:
            raise ValueError(f"blocks must be in 1 .. 7, got {blocks}")
        self.blocks = nn.ModuleList(getattr(colorizer, f"model{k}") for k in range(1, blocks + 1))
        self.channels = tuple(int(b[-1].num_features) for b in self.blocks)
        self.eval()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        from reprolib.color import normalize_l

        L, _ = rgb_to_l_ab(((x + 1) / 2).clamp(0, 1))
        h = normalize_l(L)
        taps = []
        for block in self.blocks:
            h = block(h)
            taps.append(h)
        return taps


@torch.no_grad()
def pair_vectors(trunk: Callable, a: torch.Tensor, b: torch.Tensor, batch: int = 100,
                 device: torch.device | str = "cpu") -> torch.Tensor:
    """``v`` of Eq. 6.1 for pairs: (N, sum_l C_l), entry (l, c) = mean_hw (y_hat_a - y_hat_b)^2_{l,c}.

    ``a``, ``b``: RGB (N, 3, H, W) in [0, 1]. The distance with weights w (one per channel and layer) is
    ``v @ w``; w = 1 is the cosine distance of sec. 6.3.
    """
    return _vectors(trunk, [a, b], [(0, 1)], batch, device)[0]


@torch.no_grad()
def triplet_vectors(trunk: Callable, ref: torch.Tensor, p0: torch.Tensor, p1: torch.Tensor, batch: int = 50,
                    device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """``(v0, v1)`` for the pairs (ref, p0) and (ref, p1); the trunk runs once per image (3 per triplet)."""
    v0, v1 = _vectors(trunk, [ref, p0, p1], [(0, 1), (0, 2)], batch, device)
    return v0, v1


def _check_vectors_args(trunk, images, pairs, batch, device) -> None:
    for x in images:
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != 3 or x.shape != images[0].shape:
            raise ValueError("images must be RGB tensors (N, 3, H, W) of one shape, in [0, 1]")
        if x.numel() and (float(x.min()) < -1e-4 or float(x.max()) > 1 + 1e-4):
            raise ValueError("images must be in [0, 1] (they are mapped to [-1, 1] here)")


@checked_by(_check_vectors_args)
def _vectors(trunk, images: list[torch.Tensor], pairs, batch: int, device) -> list[torch.Tensor]:
    n = images[0].shape[0]
    out: list[list[torch.Tensor]] = [[] for _ in pairs]
    for i in range(0, n, batch):
        chunk = [x[i:i + batch].float() for x in images]
        m = chunk[0].shape[0]
        feats = trunk((torch.cat(chunk) * 2 - 1).to(device))
        per_pair: list[list[torch.Tensor]] = [[] for _ in pairs]
        for f in feats:
            f = normalize_channels(f.float())
            parts = f.split(m)
            for j, (s, t) in enumerate(pairs):
                per_pair[j].append((parts[s] - parts[t]).pow(2).mean(dim=(2, 3)))
        for j in range(len(pairs)):
            out[j].append(torch.cat(per_pair[j], dim=1).double().cpu())
    return [torch.cat(o) if o else torch.zeros(0, 0, dtype=torch.float64) for o in out]


def lin_vector(lins: nn.Module | Sequence[nn.Module]) -> torch.Tensor:
    """The weights w of all linear layers as one vector (layer by layer), float64."""
    layers = lins.lins if isinstance(lins, LPIPS) else (list(lins.children()) if isinstance(lins, nn.Module) else lins)
    return torch.cat([lin.weight.detach().flatten() for lin in layers]).double().cpu()


class Calibration(nn.Module):
    """What "lin" learns: the linear layers (official layout, :class:`reprolib.nn.lin.LinLayers`) and G."""

    def __init__(self, channels: Sequence[int]):
        super().__init__()
        self.lins = LinLayers(tuple(int(c) for c in channels))
        self.head = RankingHead()

    def weights(self) -> torch.Tensor:
        return lin_vector(self.lins)


def _check_fit_args(model, v0, v1, judge, epochs, decay_epochs, **_) -> None:
    if v0.shape != v1.shape or v0.dim() != 2 or judge.shape != (v0.shape[0],):
        raise ValueError(f"v0, v1 must be (N, C) and judge (N,), got {tuple(v0.shape)}, {tuple(v1.shape)}, "
                         f"{tuple(judge.shape)}")
    channels = [lin.weight.shape[1] for lin in model.lins.children()]
    if sum(channels) != v0.shape[1]:
        raise ValueError(f"the vectors have {v0.shape[1]} entries but the linear layers {sum(channels)} weights")
    if epochs + decay_epochs < 1:
        raise ValueError("epochs + decay_epochs must be at least 1")


@checked_by(_check_fit_args)
def fit_lin_on_vectors(model: Calibration, v0: torch.Tensor, v1: torch.Tensor, judge: torch.Tensor,
                       epochs: int = 5, decay_epochs: int = 5, lr: float = 1e-4, batch_size: int = BATCH,
                       beta1: float = BETA1, seed: int = 0, dropout: float = LIN_DROPOUT) -> dict:
    """Train w (>= 0) and G on precomputed vectors: the "lin" variant with a frozen trunk (sec. 6.3).

    The same recipe as :func:`reprolib.chapters.lpips.ranking.train_lin`: fresh initialisation of w, projected onto
    w >= 0 before the first step and after every step (each negative weight is set to 0), d = w . v
    (Eq. 6.1), G = :class:`~reprolib.chapters.lpips.ranking.RankingHead`, BCE of Eq. 6.2
    (:func:`~reprolib.chapters.lpips.ranking.ranking_loss`), Adam(beta1 = 0.5), ``epochs`` at ``lr`` then
    ``decay_epochs`` decaying linearly (:func:`~reprolib.chapters.lpips.ranking.lr_schedule`), reshuffled each epoch.
    The one difference: the released Dropout acts on each pixel of the squared-difference map; here the
    map is already averaged, so Dropout drops whole (channel, layer) entries of v.
    """
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    for lin in model.lins.children():
        lin.model[1].reset_parameters()
    for layer in model.head.modules():  # G too: the result must not depend on the RNG state before the call
        if layer is not model.head and hasattr(layer, "reset_parameters"):
            layer.reset_parameters()
    convs = [lin.model[1] for lin in model.lins.children()]
    params = [c.weight for c in convs] + list(model.head.parameters())
    opt = torch.optim.Adam(params, lr=lr, betas=(beta1, 0.999))
    v0, v1, judge = v0.float(), v1.float(), judge.float()
    n = v0.shape[0]
    history: dict[str, list] = {"loss": [], "agreement": [], "lr": []}
    t0 = time.perf_counter()
    model.train()

    def project() -> None:
        with torch.no_grad():
            for c in convs:
                c.weight.clamp_(min=0)

    project()
    for epoch_lr in lr_schedule(lr, epochs, decay_epochs):
        for group in opt.param_groups:
            group["lr"] = epoch_lr
        order = torch.randperm(n, generator=gen)
        losses, agree = [], []
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            w = torch.cat([c.weight.flatten() for c in convs])
            a = F.dropout(v0[idx], p=dropout, training=True) if dropout else v0[idx]
            b = F.dropout(v1[idx], p=dropout, training=True) if dropout else v1[idx]
            d0, d1 = a @ w, b @ w
            loss = ranking_loss(model.head, d0, d1, judge[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            project()  # the projection after every step
            losses.append(float(loss.detach()))
            agree.append(float(two_afc_credit(d0.detach(), d1.detach(), judge[idx]).mean()))
        history["loss"].append(float(np.mean(losses)))
        history["agreement"].append(float(np.mean(agree)))
        history["lr"].append(epoch_lr)
    model.eval()
    history["wall_seconds"] = time.perf_counter() - t0
    history["steps"] = len(history["loss"]) * ((n + batch_size - 1) // batch_size)
    return history
