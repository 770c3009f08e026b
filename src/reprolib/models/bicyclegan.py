"""BicycleGAN and the five models it is compared with (Zhu et al., NIPS 2017; thesis chapter 4, Fig. 4.2).

All six learn a generator ``G(A, z)`` that maps an input A (here a grey image) and a code ``z ~ N(0, I)``
to an output B (here the colours). They differ only in which of two training cycles they run and in
which losses they add (thesis sec. 4.3):

* the **encoded cycle** B -> z -> B^ (a conditional VAE-GAN, Fig. 4.2c): an encoder E reads the ground
  truth B, the generator must rebuild B from A and that code (image L1, Eq. 4.2; adversarial, Eq. 4.4)
  and the code is pulled toward the prior by a KL term (Eq. 4.5);
* the **random cycle** z -> B^ -> z^ (a conditional latent regressor, Fig. 4.2d): z is drawn from the
  prior, the output must look real to a discriminator (Eq. 4.1), and E must read z back from it
  (latent L1, Eq. 4.7).

:data:`VARIANTS` writes the six as data (which cycle, which losses); :func:`train_step` runs one update of
any of them in the order of the released code (reference-facts 3.5): every generator/encoder loss and its
backward pass, then the latent loss with E frozen (its gradients reach G alone, sec. 4.3.5), one step of E
and G, and last the discriminators on detached fakes. The discriminators are unconditional (they see B
only, sec. 4.3.5); because B contains the grey channel, they see the input anyway.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from reprolib.nn.gan import GANLoss, MultiScaleDiscriminator, discriminator_loss, generator_loss, set_requires_grad
from reprolib.nn.latent import ConvEncoder, ResNetEncoder, kl_standard_normal, reparameterize
from reprolib.nn.unet import UNetZ
from reprolib.validation import checked_by

__all__ = ["Variant", "VARIANTS", "LAMBDA_L1", "LAMBDA_LATENT", "LAMBDA_KL", "BicycleGAN", "train_step",
           "make_optimizers", "init_weights"]

# The loss weights of sec. 4.3.5 (also the released code's defaults).
LAMBDA_L1 = 10.0  # lambda: the image L1 of Eq. 4.2 (a mean over pixels and channels)
LAMBDA_LATENT = 0.5  # lambda_latent: the latent L1 of Eq. 4.7 (a mean over the code's dimensions)
LAMBDA_KL = 0.01  # lambda_KL: Eq. 4.5 (summed over the code's dimensions, averaged over the batch)


@dataclass(frozen=True)
class Variant:
    """One of the six models of Fig. 4.6, as the cycles it trains and the losses it adds."""

    name: str
    label: str
    encoded: bool  # the encoded cycle B -> z -> B^ (image L1 and GAN on G(A, E(B)))
    sample_code: bool  # the encoded cycle samples z ~ N(mu, sigma^2) with a KL term; False: z = mu (cAE-GAN)
    random: bool  # the random cycle z ~ N(0, I) -> G(A, z), judged by its own discriminator
    l1_random: bool  # pix2pix+noise: the image L1 also on G(A, z) with random z
    latent: bool  # latent regression |mu(E(G(A, z))) - z| (Eq. 4.7)
    train_e_on_latent: bool  # cLR-GAN alone: E learns from the latent loss (BicycleGAN freezes it there)

    @property
    def uses_encoder(self) -> bool:
        return self.encoded or self.latent

    @property
    def two_discriminators(self) -> bool:
        """A separate D2 for the random cycle when both cycles run (sec. 4.3.5: slightly better than one)."""
        return self.encoded and self.random


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("pix2pix_noise", "pix2pix+noise", encoded=False, sample_code=False, random=True, l1_random=True,
            latent=False, train_e_on_latent=False),  # sec. 4.3.1, Eq. 4.3
    Variant("cae_gan", "cAE-GAN", encoded=True, sample_code=False, random=False, l1_random=False,
            latent=False, train_e_on_latent=False),  # sec. 4.3.2, the deterministic version
    Variant("cvae_gan", "cVAE-GAN", encoded=True, sample_code=True, random=False, l1_random=False,
            latent=False, train_e_on_latent=False),  # sec. 4.3.2, Eq. 4.6
    Variant("cvae_gan_pp", "cVAE-GAN++", encoded=True, sample_code=True, random=True, l1_random=False,
            latent=False, train_e_on_latent=False),  # sec. 4.3.4, Eq. 4.9 without the latent L1
    Variant("clr_gan", "cLR-GAN", encoded=False, sample_code=False, random=True, l1_random=False,
            latent=True, train_e_on_latent=True),  # sec. 4.3.3, Eq. 4.8
    Variant("bicyclegan", "BicycleGAN", encoded=True, sample_code=True, random=True, l1_random=False,
            latent=True, train_e_on_latent=False),  # sec. 4.3.4, Eq. 4.9
)}


def init_weights(module: nn.Module, gain: float = 0.02) -> nn.Module:
    """The released code's initialisation: Xavier-normal weights with ``gain`` (0.02) for every convolution and
    linear layer, zero biases. With it the encoder's mean and log-variance start near 0 (sigma near 1)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.xavier_normal_(m.weight, gain=gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


def _check_bicyclegan(self, variant, size, nz, ngf, nef, ndf, where_add, encoder, d_layers, num_D):
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 32 or size & (size - 1):
        raise ValueError(f"size must be a power of two >= 32 (the U-Net goes down to 1 x 1), got {size!r}")
    if encoder not in ("resnet", "conv"):
        raise ValueError(f"encoder must be 'resnet' (E_ResNet) or 'conv' (E_CNN), got {encoder!r}")


class BicycleGAN(nn.Module):
    """The networks of one variant: ``G`` (a U-Net with z injected), ``E`` (or None), ``D`` and ``D2`` (or
    None), each a two-scale PatchGAN. A = normalised L (N, 1, H, W); B = (L, a/110, b/110) (N, 3, H, W);
    G outputs the two colour channels in [-1, 1]."""

    @checked_by(_check_bicyclegan)
    def __init__(self, variant: str, size: int, nz: int = 8, ngf: int = 64, nef: int = 64, ndf: int = 64,
                 where_add: str = "all", encoder: str = "resnet", d_layers: int = 3, num_D: int = 2):
        super().__init__()
        self.variant, self.nz = VARIANTS[variant], nz
        self.G = UNetZ(1, 2, nz, num_downs=int(math.log2(size)), ngf=ngf, where_add=where_add)
        E = ResNetEncoder if encoder == "resnet" else ConvEncoder
        self.E = E(3, nz, size, nef) if self.variant.uses_encoder else None
        self.D = MultiScaleDiscriminator(3, ndf, d_layers, num_D)
        self.D2 = MultiScaleDiscriminator(3, ndf, d_layers, num_D) if self.variant.two_discriminators else None
        init_weights(self)

    def colours(self, A: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``G(A, z)``: the colour channels (N, 2, H, W), a/110 and b/110."""
        return self.G(A, z)

    def encode(self, B: torch.Tensor) -> torch.Tensor:
        """``mu(E(B))``: the code of an image (the test-time "encoded" sample uses it, sec. 4.4.2)."""
        if self.E is None:
            raise RuntimeError(f"{self.variant.label} has no encoder")
        return self.E(B)[0]


def make_optimizers(net: BicycleGAN, lr: float = 2e-4, betas: tuple[float, float] = (0.5, 0.999)) -> dict:
    """One Adam per network, as in the released code (lr 2e-4, betas (0.5, 0.999))."""
    parts = {"G": net.G, "E": net.E, "D": net.D, "D2": net.D2}
    return {k: torch.optim.Adam(m.parameters(), lr=lr, betas=betas) for k, m in parts.items() if m is not None}


def _fake(A: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    return torch.cat([A, ab], 1)  # the grey channel is the input's: only the colours are generated


def _check_step(net, batch, opts):
    if not isinstance(batch, dict) or "A" not in batch or "B" not in batch:
        raise ValueError(f"the batch must be a dict with 'A' (N, 1, H, W) and 'B' (N, 3, H, W), got "
                         f"{sorted(batch) if isinstance(batch, dict) else type(batch).__name__}")
    n = batch["A"].shape[0]
    if n < 2 or n % 2:
        raise ValueError(f"the batch must hold an even number (>= 2) of images, got {n}")


@checked_by(_check_step)
def train_step(net: BicycleGAN, batch: dict, opts: dict) -> tuple[torch.Tensor, dict]:
    """One update of ``net``'s variant on ``batch`` = {"A": (2h, 1, H, W), "B": (2h, 3, H, W)}.

    As in the released code, the batch is split in halves: the encoded cycle rebuilds B1 from A1; the random
    cycle colours A1 with a random code and its discriminator compares that with the other half's B2 (a
    variant with one cycle runs it on the first half, against B1). Returns the generator-side loss and the
    separate terms for the history.
    """
    v, gan = net.variant, GANLoss("lsgan")
    A, B = batch["A"], batch["B"]
    h = A.shape[0] // 2
    A1, B1, B2 = A[:h], B[:h], B[h:]
    D_random = net.D2 if v.two_discriminators else net.D
    real_random = B2 if v.two_discriminators else B1

    # forward: the codes of the two cycles, one generator call for both
    codes = []
    if v.encoded:
        mu, logvar = net.E(B1)
        codes.append(reparameterize(mu, logvar) if v.sample_code else mu)
    if v.random:
        z_random = torch.randn(h, net.nz, device=A.device)
        codes.append(z_random)
    ab = net.colours(torch.cat([A1] * len(codes)), torch.cat(codes))
    fake_encoded = _fake(A1, ab[:h]) if v.encoded else None
    fake_random = _fake(A1, ab[-h:]) if v.random else None

    # 1. G and E: every loss of the variant (Eq. 4.9 for BicycleGAN), one backward pass
    set_requires_grad([net.D, net.D2], False)
    for k in ("G", "E"):
        if k in opts:
            opts[k].zero_grad(set_to_none=True)
    logs, loss = {}, torch.zeros((), device=A.device)
    if v.encoded:
        logs["gan_encoded"] = generator_loss(net.D, fake_encoded, gan)  # Eq. 4.4
        logs["l1_image"] = F.l1_loss(fake_encoded[:, 1:], B1[:, 1:])  # Eq. 4.2 on the encoded cycle
        loss = loss + logs["gan_encoded"] + LAMBDA_L1 * logs["l1_image"]
        if v.sample_code:
            logs["kl"] = kl_standard_normal(mu, logvar, reduction="batchmean")  # Eq. 4.5
            loss = loss + LAMBDA_KL * logs["kl"]
    if v.random:
        logs["gan_random"] = generator_loss(D_random, fake_random, gan)  # Eq. 4.1
        loss = loss + logs["gan_random"]
        if v.l1_random:
            logs["l1_random"] = F.l1_loss(fake_random[:, 1:], B1[:, 1:])  # Eq. 4.3
            loss = loss + LAMBDA_L1 * logs["l1_random"]
    loss.backward(retain_graph=v.latent)

    # 2. the latent regression (Eq. 4.7) on E's mean; E frozen, so its gradients reach G alone (sec. 4.3.5)
    if v.latent:
        if not v.train_e_on_latent:
            set_requires_grad(net.E, False)
        logs["l1_latent"] = (net.E(fake_random)[0] - z_random).abs().mean()
        (LAMBDA_LATENT * logs["l1_latent"]).backward()
        set_requires_grad(net.E, True)
        loss = loss + LAMBDA_LATENT * logs["l1_latent"]
    for k in ("E", "G"):
        if k in opts:
            opts[k].step()

    # 3. the discriminators, on the fakes detached from G
    set_requires_grad([net.D, net.D2], True)
    pairs = [(net.D, "D", B1, fake_encoded if v.encoded else fake_random)]
    if v.two_discriminators:
        pairs.append((net.D2, "D2", real_random, fake_random))
    for D, k, real, fake in pairs:
        opts[k].zero_grad(set_to_none=True)
        logs[f"loss_{k}"] = discriminator_loss(D, real, fake, gan)
        logs[f"loss_{k}"].backward()
        opts[k].step()
    return loss.detach(), {k: t.detach() for k, t in logs.items()}
