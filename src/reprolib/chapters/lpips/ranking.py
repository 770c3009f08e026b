"""Learning a metric from 2AFC judgments (thesis sec. 6.3): the ranking head G, its loss, and the three
ways of training (lin: linear layers only; tune: the whole network; scratch: from random weights)."""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from reprolib.chapters.lpips.agreement import (
    _check_fractions,
    _check_lpips_like,
    _check_positive_int,
    _credit,
    _Examples,
    _lin_parts,
    _module_device,
    _range_kwargs,
    _resolve_range,
    _trunk,
)
from reprolib.config import seed_everything
from reprolib.metrics.distances import _check_in_range, to_value_range
from reprolib.validation import checked_by

#: The three training variants of sec. 6.3: what is learned besides the linear weights w.
TRAIN_MODES = ("lin", "tune", "scratch")


# Dist2LogitLayer's epsilon in the ratio features d0/(d1+eps), d1/(d0+eps) (facts 5.3).
RANKING_EPS = 0.1


def weighted_distance(module: nn.Module, x0: torch.Tensor, x1: torch.Tensor, dropout: bool = False) -> torch.Tensor:
    """Eq. 6.1 with the module's linear layers: ``d = sum_l mean_hw( w_l . (y^l_hw - y0^l_hw)^2 )``.

    ``module.layer_distances`` gives the squared differences of the unit-normalised features per layer;
    the 1 x 1 convolution of ``module.lins[l]`` (holding w_l) weights and sums the channels. Returns
    (N, 1, 1, 1) and lets gradients reach the trunk when its parameters require them. With ``dropout``,
    the linear layer's Dropout (p = 0.5 in LPIPS) is applied to the layer distances first, as the released
    trainer does while fitting w (``reprolib.metrics.lpips.LPIPS`` keeps its Dropout off in every mode, so it is
    applied here explicitly). Inputs in [-1, 1].
    """
    _check_lpips_like(module)
    dists = module.layer_distances(x0, x1, **_range_kwargs(module, "layer_distances"))
    parts = _lin_parts(module)
    if len(dists) != len(parts):
        raise ValueError(
            f"{type(module).__name__}.layer_distances returned {len(dists)} layers but it has "
            f"{len(parts)} linear layers"
        )
    total = 0
    for (p, conv), d in zip(parts, dists):
        total = total + conv(F.dropout(d, p=p, training=dropout)).mean(dim=(2, 3), keepdim=True)
    return total


def _check_head_args(self, mid_channels, eps) -> None:
    _check_positive_int(mid_channels, "mid_channels")
    if not (isinstance(eps, (int, float)) and not isinstance(eps, bool) and eps > 0):
        raise ValueError(f"eps must be a positive number, got {eps!r}")


def _check_distance_pair(self, d0, d1) -> None:
    for name, d in (("d0", d0), ("d1", d1)):
        if not isinstance(d, torch.Tensor) or not d.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor of distances")
        if not (d.ndim == 1 or (d.ndim == 4 and d.shape[1:] == (1, 1, 1))):
            raise ValueError(f"{name} must have shape (N,) or (N, 1, 1, 1), got {tuple(d.shape)}")
    if d0.shape[0] != d1.shape[0]:
        raise ValueError(f"d0 and d1 must hold the same number of distances, got {tuple(d0.shape)} and {tuple(d1.shape)}")


class RankingHead(nn.Module):
    """The small network G of Fig. 6.2 (right): from the distance pair (d0, d1) to the predicted judgment.

    Input features (the released ``Dist2LogitLayer``, facts 5.3)::

        [d0, d1, d0 - d1, d0 / (d1 + eps), d1 / (d0 + eps)]    eps = 0.1

    then 1 x 1 convolutions 5 -> 32 -> 32 -> 1 with LeakyReLU(0.2) between them and a Sigmoid. The paper
    describes two hidden fully connected layers of 32 units with ReLU and a one-unit output with a sigmoid;
    the released code uses leaky ReLUs, and so do we. The output ``h_hat`` in (0, 1) estimates the fraction of
    observers who prefer x1, the ``h`` of Eq. 6.2. State-dict keys (``model.0.weight`` ...) match the
    released rank network, so its checkpoints load.
    """

    @checked_by(_check_head_args)
    def __init__(self, mid_channels: int = 32, eps: float = RANKING_EPS):
        super().__init__()
        self.eps = float(eps)
        self.model = nn.Sequential(
            nn.Conv2d(5, mid_channels, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(mid_channels, mid_channels, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(mid_channels, 1, 1),
            nn.Sigmoid(),
        )

    @checked_by(_check_distance_pair)
    def features(self, d0: torch.Tensor, d1: torch.Tensor) -> torch.Tensor:
        """The five input features, (N, 5, 1, 1), from distances of shape (N,) or (N, 1, 1, 1)."""
        d0, d1 = d0.view(-1, 1, 1, 1), d1.view(-1, 1, 1, 1)
        return torch.cat((d0, d1, d0 - d1, d0 / (d1 + self.eps), d1 / (d0 + self.eps)), dim=1)

    def forward(self, d0: torch.Tensor, d1: torch.Tensor) -> torch.Tensor:
        """``h_hat = G(d0, d1)``, (N, 1, 1, 1) in (0, 1): the predicted fraction preferring x1."""
        return self.model(self.features(d0, d1))


def ranking_loss(head: RankingHead, d0: torch.Tensor, d1: torch.Tensor, judge: torch.Tensor) -> torch.Tensor:
    """Eq. 6.2: ``-h log G(d0, d1) - (1 - h) log(1 - G(d0, d1))``, averaged over the batch.

    The target ``h`` is ``judge`` itself, the fraction of observers who preferred x1 (0.5 when two judges
    split, sec. 6.3). The released trainer passes ``2 judge - 1`` to its loss, which maps it back with
    ``(judge + 1) / 2`` (the formula quoted in facts 5.3): the two steps cancel, so the BCE target is
    ``judge`` in [0, 1]. Computed in float32 with autocast off (BCE is unsafe in half precision).
    """
    judge = judge.reshape(-1)
    with torch.autocast(device_type=judge.device.type, enabled=False):
        h_hat = head(d0.float(), d1.float()).reshape(-1)
        if h_hat.shape != judge.shape:
            raise ValueError(f"judge must have one entry per pair ({h_hat.numel()}), got {judge.numel()}")
        return F.binary_cross_entropy(h_hat, judge.float())


def lr_schedule(lr: float, epochs: int, decay_epochs: int) -> list[float]:
    """Learning rate of each epoch: ``epochs`` at ``lr``, then ``decay_epochs`` decaying linearly to 0.

    Decay epoch j = 0 .. D-1 runs at ``lr (1 - j / D)``, so the rate would reach 0 after the last one.
    This is the released trainer's schedule (``update_learning_rate`` after each epoch past ``nepoch``):
    for the paper's 5 + 5 epochs, 1, 1, 1, 1, 1, 1, 0.8, 0.6, 0.4, 0.2 times ``lr``.
    """
    return [lr] * epochs + [lr * (1.0 - j / decay_epochs) for j in range(decay_epochs)]


class _JudgmentModel(nn.Module):
    """The training graph of Fig. 6.2: the metric computes (d0, d1), the head predicts the judgment."""

    def __init__(self, metric: nn.Module, head: RankingHead, freeze_trunk: bool):
        super().__init__()
        self.metric, self.head, self.freeze_trunk = metric, head, freeze_trunk

    def train(self, mode: bool = True) -> _JudgmentModel:
        super().train(mode)
        if self.freeze_trunk:  # "lin": the trunk is a fixed feature extractor (batch norm stays put)
            _trunk(self.metric).eval()
        return self

    def forward(self, ref: torch.Tensor, p0: torch.Tensor, p1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # the lins' Dropout is active while training (self.training), as in the released trainer
        return (weighted_distance(self.metric, ref, p0, dropout=self.training),
                weighted_distance(self.metric, ref, p1, dropout=self.training))


def _check_mode(mode: Any) -> str:
    if mode not in TRAIN_MODES:
        raise ValueError(f"mode must be one of {', '.join(TRAIN_MODES)}, got {mode!r}")
    return mode


def train_lin(
    module: nn.Module,
    triplets: Any,
    mode: str = "lin",
    epochs: int = 5,
    decay_epochs: int = 5,
    batch_size: int = 50,
    lr: float = 1e-4,
    beta1: float = 0.5,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool | None = None,
    value_range: tuple[float, float] | None = None,
    reset_lins: bool = True,
    checkpoint_path: Any = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """Learn an LPIPS metric from 2AFC judgments: the ``lin``, ``tune`` and ``scratch`` variants of sec. 6.3.

    Each step takes a batch of triplets, computes d0 = d(x, x0) and d1 = d(x, x1) with Eq. 6.1
    (:func:`weighted_distance`), predicts the judgment with :class:`RankingHead` and minimises the BCE of
    Eq. 6.2 (:func:`ranking_loss`) with Adam. After every step the linear weights are projected onto
    w >= 0 (``module.project_nonnegative_()``): a bigger difference in one feature must never bring two
    patches closer (sec. 6.3). Defaults are the paper's: batch 50, Adam lr 1e-4 with
    beta1 = 0.5, 5 epochs plus 5 with linear decay (:func:`lr_schedule`; facts 5.3).

    Modes (what is trained besides w and G):

    * ``"lin"``: nothing; the trunk is frozen (and kept in eval mode) - "perceptual calibration".
    * ``"tune"``: the whole trunk, starting from its current (e.g. ImageNet) weights. The trunk's
      train/eval mode is left to the module (``reprolib.metrics.lpips.LPIPS`` keeps it in eval mode; the AlexNet,
      VGG and SqueezeNet feature stacks have no batch norm or dropout, so the mode changes nothing).
    * ``"scratch"``: the whole trunk, re-initialised first with each layer's ``reset_parameters()``
      (PyTorch's default initialisation, which the reference gets from torchvision's constructors; the
      paper says "random Gaussian weights").

    Details shared with the released trainer: the linear layers start from a fresh random initialisation
    (``reset_lins=True``; the reference does not load pretrained w when training), the lins' Dropout
    (p = 0.5) is applied to the layer distances during training (:func:`weighted_distance`), partial last
    batches are kept, the data are reshuffled every epoch. One
    difference: we also project the *initial* weights, so every forward pass uses w >= 0 (the
    reference's first batch sees the raw initialisation).

    The loop is :func:`reprolib.train.train` (progress bar, optional checkpoint and exact resume). On the
    CPU the result is a deterministic function of ``seed``.

    Args:
        module: an LPIPS-like module (see the module docstring). It is not modified: a deep copy is
            trained and returned.
        triplets: ``(ref, p0, p1, judge)`` tensors, an object with those attributes, or a Dataset of such
            tuples (e.g. ``BAPPS2AFC``); ``judge`` = fraction of observers preferring p1, in [0, 1].
        mode: ``"lin"``, ``"tune"`` or ``"scratch"``.
        epochs: epochs at the initial learning rate (>= 0).
        decay_epochs: further epochs with linearly decaying learning rate (>= 0; at least one epoch in all).
        batch_size: triplets per step.
        lr: initial learning rate.
        beta1: Adam's beta1 (beta2 is 0.999).
        seed: seeds the initialisations, the shuffling and the dropout.
        device: default :func:`reprolib.config.get_device`.
        progress: tqdm bar (``None``: automatic).
        value_range: range of the images, ``(0, 1)`` or ``(-1, 1)``; default the data's ``value_range``
            attribute (BAPPS datasets have one); otherwise it must be given.
        reset_lins: re-initialise the linear layers before training (as the reference does); ``False``
            continues from the module's current w (projected to w >= 0 first).
        checkpoint_path: optional checkpoint file (see :func:`reprolib.train.train`).

    Returns:
        ``(trained_module, history)``: the module in eval mode, with the ``requires_grad`` flags it came
        with; ``history`` holds per-epoch lists ``epoch``, ``step``, ``loss`` (mean BCE), ``agreement``
        (mean 2AFC credit on the training batches), ``lr``; ``mode``, ``steps_per_epoch``,
        ``wall_seconds``, and ``head``, the trained :class:`RankingHead`.
    """
    from reprolib.train import TrainConfig, train

    _check_lpips_like(module)
    mode = _check_mode(mode)
    for name, value in (("epochs", epochs), ("decay_epochs", decay_epochs)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    if epochs + decay_epochs < 1:
        raise ValueError("epochs + decay_epochs must be at least 1")
    batch_size = _check_positive_int(batch_size, "batch_size")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if isinstance(beta1, bool) or not isinstance(beta1, (int, float)) or not 0 <= beta1 < 1:
        raise ValueError(f"beta1 must be in [0, 1), got {beta1!r}")
    src = _Examples(triplets, ("ref", "p0", "p1", "judge"), "2AFC triplets")
    vr = _resolve_range(triplets, value_range)

    requires_grad = {name: p.requires_grad for name, p in module.named_parameters()}
    metric = copy.deepcopy(module)
    seed_everything(seed)
    trunk = _trunk(metric)
    if mode == "scratch":
        resettable = [m for m in trunk.modules() if hasattr(m, "reset_parameters")]
        if not resettable:
            raise ValueError(
                f"mode='scratch' needs trunk layers with reset_parameters(); {type(trunk).__name__} has none"
            )
        for m in resettable:
            m.reset_parameters()
    if reset_lins:
        for _, conv in _lin_parts(metric):
            conv.reset_parameters()
    with torch.no_grad():
        metric.project_nonnegative_()
    head = RankingHead()

    for p in metric.parameters():
        p.requires_grad_(False)
    for _, conv in _lin_parts(metric):
        conv.weight.requires_grad_(True)
    if mode != "lin":
        trunk.requires_grad_(True)
    model = _JudgmentModel(metric, head, freeze_trunk=(mode == "lin"))
    if mode != "lin":  # the trunk must receive gradients through layer_distances
        ref, p0, *_ = src.get([0])
        dev = _module_device(metric)
        probe = metric.layer_distances(*(to_value_range(x.float(), vr, (-1.0, 1.0)).to(dev) for x in (ref, p0)),
                                       **_range_kwargs(metric, "layer_distances"))
        if not all(d.requires_grad for d in probe):
            raise ValueError(
                f"mode={mode!r} trains the trunk, but {type(module).__name__}.layer_distances returns tensors "
                "without gradient (does it run under torch.no_grad() or detach its features?)"
            )

    n = len(src)
    steps_per_epoch = math.ceil(n / batch_size)
    n_epochs = epochs + decay_epochs
    rates = lr_schedule(float(lr), epochs, decay_epochs)
    milestones = [e * steps_per_epoch for e in range(1, n_epochs) if rates[e] != rates[e - 1]]
    gammas = [rates[m // steps_per_epoch] / rates[m // steps_per_epoch - 1] for m in milestones]

    orders: dict[int, torch.Tensor] = {}

    def get_batch(step: int) -> tuple[torch.Tensor, ...]:
        epoch, i = divmod(step, steps_per_epoch)
        if epoch not in orders:  # a fresh shuffle each epoch, a function of (seed, epoch) only
            orders.clear()
            orders[epoch] = torch.from_numpy(np.random.default_rng([seed, epoch]).permutation(n))
        ref, p0, p1, judge = src.get(orders[epoch][i * batch_size: (i + 1) * batch_size])
        ref, p0, p1 = (to_value_range(x.float(), vr, (-1.0, 1.0)) for x in (ref, p0, p1))
        return ref, p0, p1, judge

    checked: list[bool] = []

    def loss_fn(model: _JudgmentModel, batch: tuple[torch.Tensor, ...]):
        ref, p0, p1, judge = batch
        if not checked:  # once: the data and the module behave as training needs
            _check_fractions(judge.detach().cpu().double(), "judge", "the fraction of observers who preferred p1")
            for name, x in (("ref", ref), ("p0", p0), ("p1", p1)):
                _check_in_range(x, (-1.0, 1.0), name)
        with torch.no_grad():  # the projection step of the previous update (and of the initial weights)
            model.metric.project_nonnegative_()
        d0, d1 = model(ref, p0, p1)
        checked.append(True)
        loss = ranking_loss(model.head, d0, d1, judge)
        agreement = _credit(d0.detach().reshape(-1), d1.detach().reshape(-1), judge).mean()
        return loss, {"agreement": agreement}

    cfg = TrainConfig(
        steps=n_epochs * steps_per_epoch,
        lr=float(lr),
        betas=(float(beta1), 0.999),
        lr_milestones=tuple(milestones),
        lr_gamma=tuple(gammas),
        checkpoint_every=None,
        log_every=steps_per_epoch,
        seed=int(seed),
        amp=False,  # distances between unit-normalised features are small differences: keep float32
    )
    history = train(model, loss_fn, get_batch, cfg, device=device, checkpoint_path=checkpoint_path,
                    progress=progress, desc=f"LPIPS-{mode}")
    with torch.no_grad():  # the projection after the last step
        metric.project_nonnegative_()
    for name, p in metric.named_parameters():
        p.requires_grad_(requires_grad.get(name, False))
    head.requires_grad_(False)
    metric.eval()
    head.eval()
    history = dict(history)
    history["epoch"] = [s // steps_per_epoch for s in history["step"]]
    history.update(mode=mode, steps_per_epoch=steps_per_epoch, head=head)
    return metric, history
