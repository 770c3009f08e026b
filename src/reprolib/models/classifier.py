"""A small image classifier: the stand-in for the paper's VGG-16 "semantic interpretability" judge.

Zhang et al. (2016, Sect. 3.1, item 2) feed colorized images to a VGG-16 trained on *real colour*
ImageNet photos and report its top-1 accuracy: if colorization brings grey images back into the
distribution the classifier knows, accuracy rises from the grey level towards the real-colour level.
On ColorWorld we train this compact network on real-colour images and use it the same way.
"""

from __future__ import annotations

import torch
from torch import nn


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class SmallClassifier(nn.Module):
    """Four conv blocks (each halves the resolution), global average pooling, a linear layer.

    Input: RGB in [0, 1], shape (N, 3, H, W) with H, W >= 16. Output: class logits (N, num_classes).
    """

    def __init__(self, num_classes: int, width: int = 32):
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        w = width
        self.features = nn.Sequential(_block(3, w), _block(w, 2 * w), _block(2 * w, 4 * w), _block(4 * w, 4 * w))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4 * w, num_classes)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        if rgb.dim() != 4 or rgb.shape[1] != 3:
            raise ValueError(f"expected RGB images (N, 3, H, W), got {tuple(rgb.shape)}")
        x = self.features(rgb * 2.0 - 1.0)
        return self.fc(self.pool(x).flatten(1))
