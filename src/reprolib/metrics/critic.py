"""A two-sample critic: a stand-in for a realism study that needs no humans, and is not one.

The BicycleGAN paper (thesis sec. 4.4.2, Fig. 4.6) measures realism as the rate at which people on Amazon
Mechanical Turk take a generated image for a real one. Offline, we ask a simple classifier instead: logistic
regression on frozen ImageNet AlexNet features (spatial means of relu2 to relu5), trained on half of the
inputs to tell each real image from the generated one, and judged on the other half. Its error rate, in
percent, is the *critic fooling rate*: 50 when real and generated images cannot be told apart by these
features, 0 when they always can, like the fooling rate's ceiling of 50 % in a real-vs-fake study.

Its resolution is that of a proportion: with n held-out inputs (2n judgments) the standard error is about
``100 * sqrt(p (1 - p) / 2n)`` points, 4.4 points at n = 64 and p = 0.5. It sees what AlexNet's features see
(colour statistics, textures), not what a person sees; it is reported as a critic, never as human realism.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["CRITIC_TAPS", "critic_features", "critic_judgments", "fooling_rate"]

CRITIC_TAPS = (1, 2, 3, 4)  # AlexNet relu2 .. relu5 (relu1 is mostly colour-opponent edges at stride 4)


def critic_features(rgb: torch.Tensor, size: int = 64, backbone=None) -> torch.Tensor:
    """(N, 1088) features of RGB images in [0, 1]: AlexNet relu2..relu5 (ImageNet weights, offline), each
    averaged over space, after resizing the images to ``size`` pixels (bilinear) and ImageNet normalisation."""
    from reprolib.nn.backbones import imagenet_normalize
    from reprolib.nn.pretrained import pretrained_backbone

    if not isinstance(rgb, torch.Tensor) or rgb.dim() != 4 or rgb.shape[1] != 3:
        raise ValueError(f"rgb must be (N, 3, H, W) in [0, 1], got "
                         f"{tuple(rgb.shape) if isinstance(rgb, torch.Tensor) else type(rgb).__name__}")
    net = backbone if backbone is not None else pretrained_backbone("alex")
    x = F.interpolate(rgb.float(), size=(size, size), mode="bilinear", align_corners=False)
    with torch.no_grad():
        taps = net(imagenet_normalize(x))
    return torch.cat([taps[i].mean(dim=(2, 3)) for i in CRITIC_TAPS], 1).double()


def critic_judgments(real: torch.Tensor, fake: torch.Tensor, seed: int = 0, l2: float = 1e-2,
                     iterations: int = 200) -> torch.Tensor:
    """Per held-out input, the share of its two images (real, generated) that the critic gets right: (n,).

    ``real`` and ``fake`` are (N, D) features of the real image and of one generated image of each of N
    inputs. A seeded permutation puts half of the inputs in the training half (their images standardised
    with the training half's mean and spread), where an L2-regularised logistic regression (weight ``l2``
    on the mean log loss) is fitted by L-BFGS; each held-out input then scores 1 (both judged right), 0.5 or
    0. The mean of the result is the critic's accuracy on the held-out judgments.
    """
    if real.dim() != 2 or real.shape != fake.shape or real.shape[0] < 4:
        raise ValueError(f"real and fake must be (N, D) features of the same N >= 4 inputs, got "
                         f"{tuple(real.shape)} and {tuple(fake.shape)}")
    n = real.shape[0]
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    train, held = order[: n // 2], order[n // 2:]
    x_train = torch.cat([real[train], fake[train]]).double()
    mean, std = x_train.mean(0), x_train.std(0).clamp_min(1e-6)
    z = lambda x: (x.double() - mean) / std  # noqa: E731
    y = torch.cat([torch.ones(len(train)), torch.zeros(len(train))]).double()
    w = torch.zeros(real.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=iterations, line_search_fn="strong_wolfe")
    xs = z(x_train)

    def closure():
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(xs @ w + b, y) + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        right_real = (z(real[held]) @ w + b > 0).double()
        right_fake = (z(fake[held]) @ w + b <= 0).double()
    return (right_real + right_fake) / 2


def fooling_rate(judgments: torch.Tensor) -> float:
    """The critic fooling rate in percent, ``100 * (1 - accuracy)``: 50 = indistinguishable."""
    return float(100.0 * (1.0 - judgments.double().mean()))
