"""The networks Chapter 8 trains, each as one module for the model cache, and one update of each.

* :class:`Pseudo` is SpyncoGan: the generator G (with or without the output pyramid) and its discriminator D; one
  update is G's step on the four terms of Sec. 4.2 (:func:`reprolib.models.spyncogan.generator_losses`), then D's
  least-squares step on the real colour batch and G's fakes.
* :class:`FullCycle` is the Col-Cycle baseline (the paper's ref. [32], a CycleGAN): G (grey -> colour), F (colour ->
  grey), D_B and D_A. Reading: CycleGAN's losses, least squares GAN both ways, cycle weight lambda = 10 both ways,
  identity 0.5 lambda (the paper describes Col-Cycle only as "the same layers and filters, without H_t and OSP").
* :class:`Paired` is the supervised upper reference: the same G with its pyramid, trained on (grey, colour) pairs of
  the same scenes with the identity weights alpha on an L1 loss to the true colours. An unpaired model cannot beat it.

Every wrapper keeps, as buffers, what the chapter's figures need from *during* training: the three pyramid outputs on
the demo scenes at a few checkpoints (``frames``) and the mean MSE and SSIM of each output on an evaluation set there
(``curve``); they are saved with the weights, so a cached model brings its training curve with it.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from reprolib.models.spyncogan import (
    ALPHA,
    ColCycle,
    SpyncoDiscriminator,
    SpyncoGenerator,
    colcycle_models,
    discriminator_loss,
    generator_losses,
    grey_to_input,
)
from reprolib.nn.gan import GANLoss, set_requires_grad

CYCLE_LAMBDA = 10.0  # Col-Cycle (CycleGAN): weight of each cycle-consistency term
IDENTITY_WEIGHT = 0.5  # Col-Cycle: the identity term's weight, times lambda
LSGAN = GANLoss("lsgan")


class _Recorder(nn.Module):
    """Buffers for the outputs and the curve at ``checkpoints`` (filled by :meth:`record`)."""

    def _init_records(self, checkpoints: int, demo: int, size: int) -> None:
        self.register_buffer("frames", torch.zeros(checkpoints, demo, 3, 3, size, size))
        self.register_buffer("curve", torch.full((checkpoints, 3, 2), float("nan")))
        self.register_buffer("steps", torch.zeros(checkpoints, dtype=torch.long))

    @torch.no_grad()
    def record(self, k: int, step: int, demo_grey: torch.Tensor, evaluate: Callable[[nn.Module], torch.Tensor]) -> None:
        """Checkpoint ``k`` at ``step``: the pyramid on the demo scenes and ``evaluate(G)``, (3, 2) MSE / SSIM."""
        was = self.training
        self.eval()
        self.frames[k] = torch.stack(self.pyramid(demo_grey.to(self.frames.device)), 1).float()
        self.curve[k] = evaluate(self).to(self.curve)
        self.steps[k] = step
        self.train(was)


class Pseudo(_Recorder):
    """SpyncoGan's G and D (``pyramids=False``: the L^1 ablation of Table 1)."""

    with_discriminator = True

    def __init__(self, width: float, pyramids: bool = True, checkpoints: int = 1, demo: int = 1, size: int = 32):
        super().__init__()
        self.G = SpyncoGenerator(width, pyramids=pyramids)
        if self.with_discriminator:
            self.D = SpyncoDiscriminator(3, width)
        self._init_records(checkpoints, demo, size)

    def pyramid(self, grey: torch.Tensor) -> list[torch.Tensor]:
        return self.G.pyramid(grey_to_input(grey))

    def colorize(self, grey: torch.Tensor) -> torch.Tensor:
        return self.G(grey_to_input(grey))[0]


class FullCycle(_Recorder):
    """Col-Cycle: two generators and two discriminators (decreasing decoder widths, no pyramid, no H_t)."""

    def __init__(self, width: float, checkpoints: int = 1, demo: int = 1, size: int = 32):
        super().__init__()
        nets: ColCycle = colcycle_models(width)
        self.G, self.F, self.D_B, self.D_A = nets.G, nets.F, nets.D_B, nets.D_A
        self._init_records(checkpoints, demo, size)

    def pyramid(self, grey: torch.Tensor) -> list[torch.Tensor]:
        out = self.colorize(grey)
        return [out, out, out]  # no pyramid: the one output in every slot

    def colorize(self, grey: torch.Tensor) -> torch.Tensor:
        return self.G(grey_to_input(grey))[0]


class Paired(Pseudo):
    """The supervised reference: SpyncoGan's G with its pyramid, L1 to the true colours (no discriminator)."""

    with_discriminator = False


def make_optimizers(net: nn.Module, lr: float, betas: tuple[float, float] = (0.5, 0.999)) -> dict:
    """One Adam per trained network (reading: CycleGAN's optimiser; the paper names none)."""
    if isinstance(net, FullCycle):
        parts = {"G": [net.G, net.F], "D": [net.D_B, net.D_A]}
    elif isinstance(net, Paired):
        parts = {"G": [net.G]}
    else:
        parts = {"G": [net.G], "D": [net.D]}
    return {k: torch.optim.Adam([p for m in ms for p in m.parameters()], lr=lr, betas=betas) for k, ms in parts.items()}


def pseudo_step(net: Pseudo, batch: dict, opts: dict, zeta=None) -> tuple[torch.Tensor, dict]:
    """One SpyncoGan update on ``batch`` = {"I": grey (N, 1, H, W) of domain A, "J": colour (N, 3, H, W) of B}."""
    kwargs = {} if zeta is None else {"zeta": zeta}
    set_requires_grad(net.D, False)
    opts["G"].zero_grad(set_to_none=True)
    terms, G_of_I = generator_losses(net.G, net.D, batch["I"], batch["J"], **kwargs)
    terms["total"].backward()
    opts["G"].step()
    set_requires_grad(net.D, True)
    opts["D"].zero_grad(set_to_none=True)
    d_loss = discriminator_loss(net.D, batch["J"], G_of_I)
    d_loss.backward()
    opts["D"].step()
    logs = {k: float(v.detach()) for k, v in terms.items() if k != "total"}
    return terms["total"].detach(), {**logs, "D": float(d_loss.detach())}


def full_cycle_step(net: FullCycle, batch: dict, opts: dict) -> tuple[torch.Tensor, dict]:
    """One Col-Cycle update (CycleGAN's losses; grey images enter G replicated, F's grey output is one channel)."""
    I_grey, J = batch["I"], batch["J"]
    set_requires_grad([net.D_A, net.D_B], False)
    opts["G"].zero_grad(set_to_none=True)
    fake_B = net.G(grey_to_input(I_grey))[0]  # grey -> colour
    fake_A = net.F(J)[0]  # colour -> grey
    gan = LSGAN(net.D_B(fake_B), True) + LSGAN(net.D_A(fake_A), True)
    cycle = (net.F(fake_B)[0] - I_grey).abs().mean() + (net.G(grey_to_input(fake_A))[0] - J).abs().mean()
    identity = (net.G(J)[0] - J).abs().mean() + (net.F(grey_to_input(I_grey))[0] - I_grey).abs().mean()
    total = gan + CYCLE_LAMBDA * cycle + IDENTITY_WEIGHT * CYCLE_LAMBDA * identity
    total.backward()
    opts["G"].step()
    set_requires_grad([net.D_A, net.D_B], True)
    opts["D"].zero_grad(set_to_none=True)
    d = (LSGAN(net.D_B(J), True) + LSGAN(net.D_B(fake_B.detach()), False)
         + LSGAN(net.D_A(I_grey), True) + LSGAN(net.D_A(fake_A.detach()), False))
    d.backward()
    opts["D"].step()
    return total.detach(), {"gan": float(gan.detach()), "cycle": float(cycle.detach()),
                            "identity": float(identity.detach()), "D": float(d.detach())}


def paired_step(net: Paired, batch: dict, opts: dict) -> tuple[torch.Tensor, dict]:
    """One supervised update: sum_i alpha_i mean |G_i(I) - C| with C the true colours of I's own scenes."""
    opts["G"].zero_grad(set_to_none=True)
    outs = net.G(grey_to_input(batch["I"]))
    loss = sum(a * (o - batch["C"]).abs().mean() for o, a in zip(outs, ALPHA, strict=False))
    loss.backward()
    opts["G"].step()
    return loss.detach(), {"l1": float(loss.detach())}
