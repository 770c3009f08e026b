"""LPIPS's linear layers: per tapped layer, a non-negative 1x1 convolution without bias (keys
``lin{k}.model.1.weight``). Their own home, so that the metric (``reprolib.metrics.lpips``) and the weight
converter (``reprolib.nn.pretrained``) both import them and not each other."""

from __future__ import annotations

import torch
from torch import nn


class NetLinLayer(nn.Module):
    """``lin_k``: Dropout, then a 1x1 conv C -> 1 without bias (keys ``model.1.weight``)."""

    def __init__(self, channels: int, dropout: float = 0.5):
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(p=dropout), nn.Conv2d(channels, 1, kernel_size=1, bias=False))

    @property
    def weight(self) -> nn.Parameter:
        return self.model[1].weight

    def forward(self, d: torch.Tensor) -> torch.Tensor:
        return self.model(d)


class LinLayers(nn.Module):
    """The linear layers alone, ``lin0 .. lin{L-1}``: its state dict is exactly an official weight file's."""

    def __init__(self, channels: tuple[int, ...] | list[int]):
        super().__init__()
        if not channels or not all(isinstance(c, int) and c > 0 for c in channels):
            raise ValueError(f"channels must be a non-empty list of positive ints, got {channels!r}")
        for k, c in enumerate(channels):
            self.add_module(f"lin{k}", NetLinLayer(c))
