"""Model size facts: parameter counts, parameter memory and feature memory.

The paper reports both as "MB" (Zhang et al. 2016, Table 1: ECCV16 has 129 MB of parameters, i.e.
about 32.2 M float32 values at 4 bytes, with MB = 10**6 bytes). These helpers return plain integers
(counts and bytes) so chapters can check such facts exactly.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["count_parameters", "parameter_memory", "feature_memory"]


def _check_model(model: Any) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters (buffers such as BatchNorm running statistics are not counted).

    Parameters shared between modules are counted once. ``trainable_only`` counts only those with
    ``requires_grad=True``.
    """
    _check_model(model)
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def parameter_memory(model: nn.Module) -> int:
    """Bytes taken by the parameters (``numel * element_size`` summed; buffers excluded)."""
    _check_model(model)
    return sum(p.numel() * p.element_size() for p in model.parameters())


def _tensors(x: Any) -> list[torch.Tensor]:
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, dict):
        return [t for v in x.values() for t in _tensors(v)]
    if isinstance(x, (list, tuple)):
        return [t for v in x for t in _tensors(v)]
    return []


@torch.no_grad()
def feature_memory(model: nn.Module, input: Any, shared_once: bool = True) -> int:
    """Bytes of the feature maps produced during one forward pass of ``model(input)``.

    What is counted, exactly: the output tensors of every *leaf* module (a module with no child
    modules, e.g. Conv2d, ReLU, BatchNorm2d, Softmax), each distinct tensor storage once, at the
    storage's size in bytes (``numel * element_size`` for an ordinary output). Hence

    * an in-place module (``nn.ReLU(inplace=True)``) or a view (``nn.Flatten``, ``nn.Identity``)
      returns its input's storage and adds nothing, like Caffe's in-place layers, while
      ``nn.ReLU()`` adds a new map;
    * the input itself (unless a leaf module returns it, e.g. an in-place first layer), and
      intermediate results computed outside leaf modules (e.g. ``x + y`` or ``torch.cat`` in a
      ``forward``), are not counted;
    * gradients and optimiser state are not counted: this is inference memory of the activations.

    ``shared_once=False`` instead counts every leaf output at ``numel * element_size``, even when it
    shares storage with another (as if no layer ran in place).

    The pass runs with ``torch.no_grad()`` and the model temporarily in eval mode (so BatchNorm's
    running statistics are unchanged); its mode is restored. ``input`` is a tensor, or a tuple of
    positional arguments.
    """
    _check_model(model)
    leaves = [m for m in model.modules() if next(m.children(), None) is None]
    if not leaves:
        raise ValueError("The model has no modules to hook.")
    outputs: list[torch.Tensor] = []  # kept alive until the end so storages cannot be reused

    def hook(_module: nn.Module, _inp: Any, out: Any) -> None:
        outputs.extend(_tensors(out))

    handles = [m.register_forward_hook(hook) for m in leaves]
    was_training = model.training
    try:
        model.eval()
        if isinstance(input, tuple):
            model(*input)
        else:
            model(input)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    seen: set[tuple[str, int]] = set()
    total = 0
    if not shared_once:
        return sum(t.numel() * t.element_size() for t in outputs)
    for t in outputs:
        storage = t.untyped_storage()
        ident = (str(t.device), storage.data_ptr())
        if ident in seen:
            continue
        seen.add(ident)
        total += storage.nbytes()
    return total
