"""The one training loop of the book: Adam, step decay, progress, exact checkpoint/resume, AMP on CUDA.

Every chapter trains its models with :func:`train`. The contract that makes runs reproducible:

* ``get_batch(step)`` returns the batch for optimisation step ``step`` (0-based) and is a function of
  ``step`` alone, so the data stream restarts anywhere without replaying it;
* all other randomness (dropout, random hints drawn inside ``loss_fn``) comes from the global
  torch / NumPy / Python generators, which :func:`train` seeds with ``cfg.seed`` at step 0 and stores in
  every checkpoint.

Together these give *exact resume*: on the CPU, a run interrupted at any step and resumed from its last
checkpoint ends with bit-identical weights to an uninterrupted run (``tests/test_train.py`` checks it).
On CUDA, kernels may be non-deterministic, so resume is faithful but not bitwise.

:func:`load_or_train` wraps a training function with a cache of finished models keyed by chapter,
model name, profile and a hash of the configuration (DESIGN section 5), so rebuilding the book does not
retrain.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
from torch import nn

from reprolib.config import get_device, seed_everything
from reprolib.files import atomic_torch_save
from reprolib.progress import Steps

__all__ = [
    "TrainConfig",
    "train",
    "show_progress",
    "lr_factor",
    "QUIET_ENV",
    "RETRAIN_ENV",
]

QUIET_ENV = "REPROLIB_QUIET"
RETRAIN_ENV = "REPROLIB_RETRAIN"

# Fields of TrainConfig that do not change the weights reached at a given step. They may change
# between an interrupted run and its resumption (e.g. to train longer); all other fields may not.
_RESUMABLE_FIELDS = ("steps", "checkpoint_every", "log_every")
_RESERVED_KEYS = ("step", "loss", "lr", "wall_seconds", "steps_per_second")
_CHECKPOINT_FORMAT = 2  # 2: the states of several named optimisers
_MODEL_FORMAT = 1


# ----------------------------------------------------------------------------------------------
# configuration


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _is_real(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run.

    The defaults follow the paper's solver (Zhang et al. 2016, footnote 2 and the released
    ``solver.prototxt``): Adam with beta1 = 0.9, beta2 = 0.99, L2 weight decay as in Caffe, and a
    step-decay learning rate. The paper used lr 3e-5, weight decay 1e-3, and dropped the rate to 1e-5
    and 3e-6 at 200k and 375k iterations, i.e. ``lr_milestones=(200_000, 375_000)`` with
    ``lr_gamma=(1/3, 0.3)``.

    Attributes:
        steps: total number of optimisation steps (>= 1).
        lr: initial learning rate (> 0).
        betas: Adam's (beta1, beta2), each in [0, 1).
        weight_decay: L2 penalty (>= 0). With ``optimizer="adam"`` it is added to the gradient
            (Caffe's behaviour); with ``"adamw"`` it is decoupled (Loshchilov & Hutter).
        optimizer: ``"adam"`` or ``"adamw"``.
        lr_milestones: strictly increasing step indices; from step ``m`` on, the learning rate is
            multiplied by the corresponding gamma (like ``torch.optim.lr_scheduler.MultiStepLR``).
        lr_gamma: one factor for every milestone, or a sequence with one factor per milestone.
        lr_linear: ``(start, end)``: the rate stays constant before step ``start`` and then falls linearly,
            reaching zero after step ``end`` (the pix2pix / BicycleGAN "linear" policy); combines with the
            milestones by multiplication.
        grad_clip: if set, clip the global gradient L2 norm to this value before each step.
        checkpoint_every: write a checkpoint every this many steps (``None``: only at the end).
            Only used when :func:`train` gets a ``checkpoint_path``.
        log_every: record the mean loss (and logged values) over every this many steps.
        seed: seeds Python, NumPy and torch at step 0 (model initialisation is the caller's job).
        amp: mixed precision on CUDA (bfloat16 autocast on GPUs that support it natively, else
            float16 autocast with a gradient scaler). Ignored on the CPU.
        amp_dtype: ``"auto"``, ``"bfloat16"`` or ``"float16"``.
        channels_last: use the channels-last memory format for the model and 4-D batch tensors on
            CUDA (faster convolutions with tensor cores). Ignored on the CPU.
    """

    steps: int
    lr: float
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = 0.0
    optimizer: str = "adam"
    lr_milestones: tuple[int, ...] = ()
    lr_gamma: float | tuple[float, ...] = 0.1
    lr_linear: tuple[int, int] | None = None
    grad_clip: float | None = None
    checkpoint_every: int | None = 500
    log_every: int = 10
    seed: int = 0
    amp: bool = True
    amp_dtype: str = "auto"
    channels_last: bool = True

    def __post_init__(self) -> None:
        def bad(name: str, expected: str) -> ValueError:
            return ValueError(f"TrainConfig.{name} must be {expected}, got {getattr(self, name)!r}")

        if not _is_int(self.steps) or self.steps < 1:
            raise bad("steps", "an integer >= 1")
        if not _is_real(self.lr) or not math.isfinite(self.lr) or self.lr <= 0:
            raise bad("lr", "a finite number > 0")
        betas = self.betas
        if (
            not isinstance(betas, (tuple, list))
            or len(betas) != 2
            or not all(_is_real(b) and 0.0 <= b < 1.0 for b in betas)
        ):
            raise bad("betas", "a pair of numbers in [0, 1)")
        object.__setattr__(self, "betas", (float(betas[0]), float(betas[1])))
        if not _is_real(self.weight_decay) or not math.isfinite(self.weight_decay) or self.weight_decay < 0:
            raise bad("weight_decay", "a finite number >= 0")
        if self.optimizer not in ("adam", "adamw"):
            raise bad("optimizer", "'adam' or 'adamw'")
        ms = self.lr_milestones
        if not isinstance(ms, (tuple, list)) or not all(_is_int(m) and m >= 1 for m in ms):
            raise bad("lr_milestones", "a sequence of integers >= 1")
        if any(b <= a for a, b in zip(ms, ms[1:])):
            raise bad("lr_milestones", "strictly increasing")
        object.__setattr__(self, "lr_milestones", tuple(int(m) for m in ms))
        g = self.lr_gamma
        if isinstance(g, (tuple, list)):
            if len(g) != len(ms):
                raise ValueError(
                    f"TrainConfig.lr_gamma has {len(g)} factors but lr_milestones has {len(ms)} "
                    "milestones; give one factor per milestone, or a single number."
                )
            if not all(_is_real(x) and math.isfinite(x) and x > 0 for x in g):
                raise bad("lr_gamma", "positive finite factors")
            object.__setattr__(self, "lr_gamma", tuple(float(x) for x in g))
        elif not _is_real(g) or not math.isfinite(g) or g <= 0:
            raise bad("lr_gamma", "a positive finite number or one per milestone")
        lin = self.lr_linear
        if lin is not None:
            if not isinstance(lin, (tuple, list)) or len(lin) != 2 or not all(_is_int(x) and x >= 0 for x in lin) \
                    or lin[1] < lin[0]:
                raise bad("lr_linear", "None or a pair of step indices (start, end) with 0 <= start <= end")
            object.__setattr__(self, "lr_linear", (int(lin[0]), int(lin[1])))
        if self.grad_clip is not None and (
            not _is_real(self.grad_clip) or not math.isfinite(self.grad_clip) or self.grad_clip <= 0
        ):
            raise bad("grad_clip", "None or a finite number > 0")
        if self.checkpoint_every is not None and (not _is_int(self.checkpoint_every) or self.checkpoint_every < 1):
            raise bad("checkpoint_every", "None or an integer >= 1")
        if not _is_int(self.log_every) or self.log_every < 1:
            raise bad("log_every", "an integer >= 1")
        if not _is_int(self.seed) or self.seed < 0:
            raise bad("seed", "an integer >= 0")
        for name in ("amp", "channels_last"):
            if not isinstance(getattr(self, name), bool):
                raise bad(name, "True or False")
        if self.amp_dtype not in ("auto", "bfloat16", "float16"):
            raise bad("amp_dtype", "'auto', 'bfloat16' or 'float16'")

    def fingerprint(self) -> dict[str, Any]:
        """The fields that determine the weights reached at a given step, as plain JSON values."""
        d = dataclasses.asdict(self)
        for name in _RESUMABLE_FIELDS:
            d.pop(name)
        return json.loads(json.dumps(d))


def lr_factor(step: int, milestones: tuple[int, ...], gamma: float | tuple[float, ...],
              linear: tuple[int, int] | None = None) -> float:
    """Multiplier of the initial learning rate at 0-based ``step`` under step decay (and linear decay).

    The rate is multiplied by ``gamma[i]`` from step ``milestones[i]`` on (all milestones reached so
    far apply). With ``linear = (start, end)`` it is also multiplied by ``1 - (step + 1 - start) / (end -
    start + 1)`` from ``start`` on (zero from ``end`` on). Being a pure function of ``step``, the schedule
    resumes exactly.
    """
    gammas = gamma if isinstance(gamma, tuple) else (gamma,) * len(milestones)
    f = 1.0
    for m, g in zip(milestones, gammas):
        if step >= m:
            f *= g
    if linear is not None and step >= linear[0]:
        f *= max(0.0, 1.0 - (step + 1 - linear[0]) / (linear[1] - linear[0] + 1))
    return f


# ----------------------------------------------------------------------------------------------
# progress display


def show_progress(progress: bool | None = None) -> bool:
    """Decide whether to draw a progress bar.

    ``True``/``False`` force it. ``None`` (automatic) shows it when the run is interactive and the
    environment variable ``REPROLIB_QUIET`` is not ``1``: interactive means stderr is a terminal or the
    code runs inside an IPython kernel (Jupyter, Colab). Notebook *builds* run in a kernel too, so the
    book's build sets ``REPROLIB_QUIET=1``.
    """
    if progress is not None:
        return bool(progress)
    if os.environ.get(QUIET_ENV, "").strip() == "1":
        return False
    if "IPython" in sys.modules:
        try:
            from IPython import get_ipython

            shell = get_ipython()
            if shell is not None and getattr(shell, "kernel", None) is not None:
                return True
        except Exception:  # pragma: no cover - a broken IPython install must not stop training
            pass
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _rng_state(device: torch.device) -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "name": str(name),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {"version": int(version), "internal": list(internal), "gauss_next": gauss_next},
    }
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Mapping[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(
        (n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss_next"]))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])


# ----------------------------------------------------------------------------------------------
# the loop


def _to_device(batch: Any, device: torch.device, channels_last: bool) -> Any:
    """Move every tensor in a (nested) batch to ``device``; 4-D floating tensors go channels-last."""
    if isinstance(batch, torch.Tensor):
        t = batch.to(device, non_blocking=True)
        if channels_last and t.dim() == 4 and t.is_floating_point():
            t = t.contiguous(memory_format=torch.channels_last)
        return t
    if isinstance(batch, Mapping):
        return type(batch)({k: _to_device(v, device, channels_last) for k, v in batch.items()})  # type: ignore[call-arg]
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return type(batch)(*(_to_device(v, device, channels_last) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device, channels_last) for v in batch)
    return batch


def _split_loss(out: Any, step: int) -> tuple[torch.Tensor, dict[str, Any]]:
    logs: Mapping[str, Any] = {}
    if isinstance(out, tuple):
        if len(out) != 2 or not isinstance(out[1], Mapping):
            raise TypeError(
                f"loss_fn must return a loss tensor or a pair (loss, dict of values to log); at step "
                f"{step} it returned a tuple of length {len(out)}"
            )
        out, logs = out
    if not isinstance(out, torch.Tensor) or out.numel() != 1 or not out.is_floating_point():
        got = f"a tensor of shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else type(out).__name__
        raise TypeError(f"loss_fn must return a scalar floating-point tensor; at step {step} it returned {got}")
    for k, v in logs.items():
        if not isinstance(k, str) or k in _RESERVED_KEYS:
            raise ValueError(
                f"loss_fn logged a value under the key {k!r}; use a string other than {', '.join(_RESERVED_KEYS)}"
            )
        if isinstance(v, torch.Tensor):
            if v.numel() != 1:
                raise TypeError(f"loss_fn logged {k!r} as a tensor of shape {tuple(v.shape)}; expected a scalar")
        elif not _is_real(v):
            raise TypeError(f"loss_fn logged {k!r} = {v!r}; expected a number or a scalar tensor")
    return out.reshape(()), dict(logs)


def _amp_setup(cfg: TrainConfig, device: torch.device) -> tuple[bool, torch.dtype | None]:
    if device.type != "cuda" or not cfg.amp:
        return False, None
    if cfg.amp_dtype == "bfloat16":
        return True, torch.bfloat16
    if cfg.amp_dtype == "float16":
        return True, torch.float16
    # bfloat16 runs natively from compute capability 8 (Ampere); older GPUs (T4, V100) use float16.
    major, _ = torch.cuda.get_device_capability(device)
    return True, (torch.bfloat16 if major >= 8 else torch.float16)


def _build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("The model has no trainable parameters (all have requires_grad=False).")
    cls = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)


def _fingerprint_diff(saved: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    return [
        f"{k}: checkpoint has {saved.get(k, '<absent>')!r}, now {now.get(k, '<absent>')!r}"
        for k in sorted(set(saved) | set(now))
        if saved.get(k, "<absent>") != now.get(k, "<absent>")
    ]


def _empty_history() -> dict[str, Any]:
    return {"step": [], "loss": [], "lr": [], "wall_seconds": 0.0, "steps_per_second": 0.0}


def _check_step_mode(loss_fn, step_fn, optimizer, cfg):
    """The optimisers of a run: ``{"": optimizer}`` for the usual mode, the given mapping with ``step_fn``."""
    if step_fn is None:
        if not callable(loss_fn):
            raise TypeError("loss_fn must be a callable (or pass step_fn= with a mapping of optimizers)")
        if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError("optimizer must be a torch.optim.Optimizer; a mapping of several needs step_fn=")
        return None
    if loss_fn is not None or not callable(step_fn):
        raise TypeError("give either loss_fn or step_fn (a callable), not both")
    if not isinstance(optimizer, Mapping) or not optimizer or not all(
            isinstance(k, str) and k and isinstance(o, torch.optim.Optimizer) for k, o in optimizer.items()):
        raise TypeError("step_fn needs optimizer= a non-empty mapping {name: torch.optim.Optimizer}")
    if cfg.grad_clip is not None:
        raise ValueError("cfg.grad_clip is not applied with step_fn: clip inside step_fn, before its optimiser steps")
    return dict(optimizer)


def train(
    model: nn.Module,
    loss_fn: Callable[[nn.Module, Any], Any] | None,
    get_batch: Callable[[int], Any],
    cfg: TrainConfig,
    device: str | torch.device | None = None,
    checkpoint_path: str | os.PathLike | None = None,
    progress: bool | None = None,
    optimizer: torch.optim.Optimizer | Mapping[str, torch.optim.Optimizer] | None = None,
    *,
    step_fn: Callable[[nn.Module, Any, Mapping[str, torch.optim.Optimizer]], Any] | None = None,
    stop_after: int | None = None,
    desc: str = "train",
) -> dict[str, Any]:
    """Train ``model`` for ``cfg.steps`` optimisation steps and return its history.

    Each step ``s = 0 .. cfg.steps-1``: ``batch = get_batch(s)`` (moved to ``device``), ``loss_fn(model,
    batch)`` under autocast on CUDA, backward, optional gradient clipping, an optimiser step with the
    learning rate ``cfg.lr * lr_factor(s, ...)``.

    **Several optimisers** (adversarial training): pass ``loss_fn=None``, ``optimizer={name: optimiser}``
    and ``step_fn(model, batch, optimizers)``, which does the step's backward passes and optimiser steps
    itself and returns what ``loss_fn`` would (its loss is only recorded). The loop sets every optimiser's
    rate by the schedule, and checkpoints and restores all of their states with the RNG, so resume stays
    exact. Autocast and ``cfg.grad_clip`` are not applied in this mode.

    Args:
        model: the network; moved to ``device`` and put in train mode. Left in eval mode at the end.
        loss_fn: ``loss_fn(model, batch)`` returns a scalar loss tensor, or ``(loss, logs)`` where
            ``logs`` maps names to numbers or scalar tensors to record in the history.
        get_batch: ``get_batch(step)`` returns the batch for that step: a tensor or a (nested)
            dict/list/tuple of tensors. Must be a function of ``step`` only (see the module docstring).
        cfg: the :class:`TrainConfig`.
        device: default :func:`reprolib.config.get_device` (CUDA when present).
        checkpoint_path: if given, a checkpoint is written there every ``cfg.checkpoint_every`` steps
            and at the end; if the file exists, training resumes from it (its configuration must
            match ``cfg`` except for steps/checkpoint_every/log_every, else ValueError).
        progress: show a tqdm bar (``None``: automatic, see :func:`show_progress`).
        optimizer: use this optimiser instead of building Adam/AdamW from ``cfg`` (``cfg.lr``,
            ``betas``, ``weight_decay`` and ``optimizer`` are then not used; the step decay of each
            parameter group's initial rate and gradient clipping still apply); with ``step_fn``, a mapping
            of named optimisers.
        step_fn: see above.
        stop_after: stop once this many steps are done in total (writing a checkpoint), as if
            interrupted; a later call with the same ``checkpoint_path`` continues.
        desc: label of the progress bar.

    Returns:
        history: ``{"step": [...], "loss": [...], "lr": [...], <logged names>: [...],
        "wall_seconds": float, "steps_per_second": float}``. Every ``cfg.log_every`` steps (and at
        the last step) it records the number of steps done, the mean loss and logged values over the
        steps since the previous record, and the learning rate of the last step. ``wall_seconds``
        adds up the time of all sessions of a resumed run.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig, got {type(cfg).__name__}")
    if not callable(get_batch):
        raise TypeError("get_batch must be a callable")
    optimizers = _check_step_mode(loss_fn, step_fn, optimizer, cfg)
    if stop_after is not None and (not _is_int(stop_after) or stop_after < 1):
        raise ValueError(f"stop_after must be None or an integer >= 1, got {stop_after!r}")
    device = get_device(device)
    use_amp, amp_dtype = _amp_setup(cfg, device)
    use_amp = use_amp and step_fn is None
    channels_last = cfg.channels_last and device.type == "cuda"
    model.to(device=device, memory_format=torch.channels_last if channels_last else torch.preserve_format)
    if optimizers is None:
        optimizers = {"": optimizer if optimizer is not None else _build_optimizer(model, cfg)}
    base_lrs = {k: [float(g["lr"]) for g in o.param_groups] for k, o in optimizers.items()}
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    fingerprint = cfg.fingerprint()
    ckpt = Path(checkpoint_path) if checkpoint_path is not None else None

    history = _empty_history()
    sums: dict[str, Any] = {}  # running sums of loss and logged values since the last record
    counts: dict[str, int] = {}
    start = 0
    if ckpt is not None and ckpt.exists():
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        if state.get("format") != _CHECKPOINT_FORMAT:
            raise ValueError(f"{ckpt} is not a reprolib training checkpoint of this version (format "
                             f"{state.get('format')!r}, expected {_CHECKPOINT_FORMAT}); delete it to start afresh")
        diff = _fingerprint_diff(state["cfg"], fingerprint)
        if diff:
            raise ValueError(
                f"The checkpoint {ckpt} was written with a different training configuration:\n  "
                + "\n  ".join(diff)
                + "\nDelete the checkpoint to start afresh, or resume with the original configuration."
            )
        start = int(state["step"])
        if start > cfg.steps:
            raise ValueError(f"The checkpoint {ckpt} is at step {start}, beyond cfg.steps={cfg.steps}.")
        if sorted(state["optimizers"]) != sorted(optimizers):
            raise ValueError(f"The checkpoint {ckpt} holds the optimisers {sorted(state['optimizers'])}, this run "
                             f"has {sorted(optimizers)}.")
        try:
            model.load_state_dict(state["model"])
        except RuntimeError as e:
            raise RuntimeError(f"The checkpoint {ckpt} does not fit this model: {e}") from e
        for k, o in optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        base_lrs = {k: [float(x) for x in v] for k, v in state["scheduler"]["base_lrs"].items()}
        if state["scaler"]:
            scaler.load_state_dict(state["scaler"])
        history = state["history"]
        sums = {k: v for k, v in state["window"]["sums"].items()}
        counts = dict(state["window"]["counts"])
        _set_rng_state(state["rng"], device)
    else:
        seed_everything(cfg.seed)
    if any(len(base_lrs[k]) != len(o.param_groups) for k, o in optimizers.items()):
        raise ValueError("The optimizer's parameter groups do not match the checkpoint's.")

    def save_checkpoint(step: int) -> None:
        if ckpt is None:
            return
        history["wall_seconds"] = prev_wall + (time.perf_counter() - t0)
        atomic_torch_save(
            {
                "format": _CHECKPOINT_FORMAT,
                "step": step,
                "cfg": fingerprint,
                "cfg_sha256": hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest(),
                "model": model.state_dict(),
                "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
                "scheduler": {"base_lrs": base_lrs, "milestones": list(cfg.lr_milestones)},
                "scaler": scaler.state_dict() if scaler.is_enabled() else {},
                "history": history,
                "window": {"sums": {k: float(v) for k, v in sums.items()}, "counts": dict(counts)},
                "rng": _rng_state(device),
            },
            ckpt,
        )

    def record(done: int, lr: float) -> None:
        n = len(history["step"])
        history["step"].append(done)
        history["lr"].append(lr)
        for k in sums:
            if k not in history:
                history[k] = [None] * n  # a value first logged now: pad the earlier records
        for k in list(history):
            if isinstance(history[k], list) and k not in ("step", "lr"):
                value = float(sums[k]) / counts[k] if counts.get(k) else None
                if k == "loss" and value is not None and not math.isfinite(value):
                    raise FloatingPointError(
                        f"The training loss became {value} in the steps up to step {done}; lower cfg.lr, "
                        "set cfg.grad_clip, or check the data."
                    )
                history[k].append(value)
        sums.clear()
        counts.clear()

    from tqdm.auto import tqdm

    prev_wall = float(history["wall_seconds"])
    end = cfg.steps if stop_after is None else min(cfg.steps, stop_after)
    t0 = time.perf_counter()
    model.train()
    bar = tqdm(total=cfg.steps, initial=start, desc=desc, disable=not show_progress(progress), dynamic_ncols=True)
    steps_line = Steps(cfg.steps, start=start)  # the build's progress lines (reprolib.progress); off elsewhere
    try:
        for step in range(start, end):
            factor = lr_factor(step, cfg.lr_milestones, cfg.lr_gamma, cfg.lr_linear)
            for k, o in optimizers.items():
                for group, base in zip(o.param_groups, base_lrs[k]):
                    group["lr"] = base * factor
            batch = _to_device(get_batch(step), device, channels_last)
            if step_fn is not None:
                loss, logs = _split_loss(step_fn(model, batch, optimizers), step)
            else:
                optimizer = optimizers[""]
                optimizer.zero_grad(set_to_none=True)
                with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=use_amp):
                    loss, logs = _split_loss(loss_fn(model, batch), step)
                scaler.scale(loss).backward()
                if cfg.grad_clip is not None:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                scaler.step(optimizer)
                scaler.update()

            # accumulate on the device; .item() (a GPU sync) happens only when recording
            sums["loss"] = sums.get("loss", 0.0) + loss.detach().float()
            counts["loss"] = counts.get("loss", 0) + 1
            for k, v in logs.items():
                sums[k] = sums.get(k, 0.0) + (v.detach().float() if isinstance(v, torch.Tensor) else float(v))
                counts[k] = counts.get(k, 0) + 1
            done = step + 1
            if done % cfg.log_every == 0 or done == cfg.steps:
                record(done, next(iter(optimizers.values())).param_groups[0]["lr"])
                bar.set_postfix(loss=f"{history['loss'][-1]:.4g}", refresh=False)
            bar.update(1)
            steps_line.update(done, history["loss"][-1] if history["loss"] else None)
            if ckpt is not None and (
                done == end or (cfg.checkpoint_every is not None and done % cfg.checkpoint_every == 0)
            ):
                session = time.perf_counter() - t0
                history["steps_per_second"] = done / max(prev_wall + session, 1e-9)
                save_checkpoint(done)
    finally:
        bar.close()
    session = time.perf_counter() - t0
    if end > start:
        history["wall_seconds"] = prev_wall + session
        history["steps_per_second"] = end / max(history["wall_seconds"], 1e-9)
    model.eval()
    return history


# ----------------------------------------------------------------------------------------------
# cache of trained models


