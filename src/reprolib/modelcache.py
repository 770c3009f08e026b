"""A cache of finished models: :func:`load_or_train` trains a model once per configuration and serves it after."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
from torch import nn

from reprolib.config import cache_dir, get_device, get_profile, seed_everything
from reprolib.progress import report, task
from reprolib.files import atomic_torch_save
from reprolib.train import _MODEL_FORMAT, RETRAIN_ENV, TrainConfig, _is_int, train

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _canonical_json(config: Mapping[str, Any]) -> str:
    try:
        return json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"config must hold only JSON values (str, int, float, bool, None, lists, dicts with str "
            f"keys; finite floats): {e}"
        ) from e


def model_key(name: str, config: Mapping[str, Any]) -> str:
    """File stem of a cached model: ``name`` + the first 12 hex digits of the sha256 of the canonical
    JSON of ``config`` together with reprolib's major version (a new major version retrains)."""
    from reprolib import __version__

    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"name must be letters, digits, '_', '.', '-' (a file name), got {name!r}")
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a dict, got {type(config).__name__}")
    payload = _canonical_json({"config": config, "reprolib_major": __version__.split(".")[0]})
    return f"{name}-{hashlib.sha256(payload.encode()).hexdigest()[:12]}"


def fit_with(
    loss_fn: Callable[[nn.Module, Any], Any],
    get_batch: Callable[[int], Any],
    cfg: TrainConfig,
    device: str | torch.device | None = None,
    **options: Any,
) -> Callable[[nn.Module, Path], dict[str, Any]]:
    """The ``fit(model, checkpoint_path)`` that :func:`load_or_train` wants, for a plain :func:`train` run:
    it trains with ``loss_fn``, ``get_batch`` and ``cfg`` on ``device`` and checkpoints to the path it is
    given, so an interrupted training resumes. ``options`` go to :func:`train` (``desc``, ``progress``...)."""

    def fit(model: nn.Module, checkpoint_path: Path) -> dict[str, Any]:
        return train(model, loss_fn, get_batch, cfg, device=device, checkpoint_path=checkpoint_path, **options)

    return fit


def load_or_train(
    chapter: str,
    name: str,
    profile: str | None,
    config: Mapping[str, Any],
    build: Callable[[], nn.Module],
    fit: Callable[[nn.Module, Path], Mapping[str, Any]],
    force: bool = False,
    device: str | torch.device | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """Return a trained model, from the cache when it was trained before with the same configuration.

    The cache file is ``cache_dir("models", chapter, profile) / (model_key(name, config) + ".pt")``.

    * Cached: ``build()`` a fresh model and load the stored weights (``weights_only=True``).
    * Not cached, ``force=True``, or env ``REPROLIB_RETRAIN=1``: seed everything with
      ``config.get("seed", 0)``, ``build()``, move the model to ``device``, call
      ``fit(model, checkpoint_path)``, which trains it, normally with
      ``train(..., device=<same device>, checkpoint_path=checkpoint_path)`` (:func:`fit_with` makes such
      a ``fit``) so that an interrupted training resumes on the next call, and returns the history. Then the weights, history and
      config are saved atomically and the checkpoint is deleted.

    Returns:
        ``(model, info)``: the model in eval mode on ``device``; ``info`` has ``cached`` (bool),
        ``history``, ``path``, ``key``, ``config`` and ``seconds`` (time spent loading or training).
    """
    if not isinstance(chapter, str) or not _NAME_RE.match(chapter):
        raise ValueError(f"chapter must be a plain name (letters, digits, '_', '.', '-'), got {chapter!r}")
    if not callable(build) or not callable(fit):
        raise TypeError("build and fit must be callables")
    profile = get_profile(profile)
    key = model_key(name, config)
    config_plain = json.loads(_canonical_json(config))
    folder = cache_dir("models", chapter, profile)
    path = folder / f"{key}.pt"
    ckpt = folder / f"{key}.ckpt"
    device = get_device(device)
    retrain = force or os.environ.get(RETRAIN_ENV, "").strip() == "1"
    t0 = time.perf_counter()

    label = f"{chapter}/{name} ({profile})"
    if path.exists() and not retrain:
        report(f"{label}: loaded from the model cache")
        stored = torch.load(path, map_location="cpu", weights_only=True)
        if stored.get("format") != _MODEL_FORMAT or stored.get("config") != config_plain:
            raise ValueError(
                f"The cached model {path} was stored for a different configuration or format; delete it "
                "or call load_or_train(..., force=True)."
            )
        model = build()
        if not isinstance(model, nn.Module):
            raise TypeError(f"build() must return an nn.Module, got {type(model).__name__}")
        model.load_state_dict(stored["state_dict"])
        model.to(device).eval()
        history = stored["history"]
        cached = True
    else:
        if retrain and ckpt.exists():
            ckpt.unlink()  # a forced retrain starts from scratch, not from a stale checkpoint
        seed = config.get("seed", 0)
        seed_everything(int(seed) if _is_int(seed) else 0)
        model = build()
        if not isinstance(model, nn.Module):
            raise TypeError(f"build() must return an nn.Module, got {type(model).__name__}")
        model.to(device)
        report(f"{label}: training" + (" (resuming from its checkpoint)" if ckpt.exists() else ""))
        with task(label):
            history = fit(model, ckpt)
        if not isinstance(history, Mapping):
            raise TypeError(f"fit must return the training history (a dict), got {type(history).__name__}")
        history = dict(history)
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        atomic_torch_save(
            {
                "format": _MODEL_FORMAT,
                "chapter": chapter,
                "name": name,
                "profile": profile,
                "config": config_plain,
                "state_dict": state,
                "history": history,
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            },
            path,
        )
        if ckpt.exists():
            ckpt.unlink()
        model.to(device).eval()
        cached = False
        report(f"{label}: trained in {time.perf_counter() - t0:.0f} s")
    info = {
        "cached": cached,
        "history": history,
        "path": path,
        "key": key,
        "config": config_plain,
        "seconds": time.perf_counter() - t0,
    }
    return model, info
