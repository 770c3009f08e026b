"""The released SIGGRAPH17 weights, for comparison only: every model of the chapter is trained from scratch."""

from __future__ import annotations

import os

import torch
from torch import nn

from reprolib.weights import WeightFile, _official_state, load_state_dict_strict

# The released PyTorch port of the SIGGRAPH 2017 Local Hints Network (richzhang/colorization), converted
# from the Caffe model: load it with mask_cent = 0 (reference-facts section 2.1).
SIGGRAPH17_OFFICIAL = WeightFile(
    name="siggraph17-df00044c.pth",
    url="https://colorizers.s3.us-east-2.amazonaws.com/siggraph17-df00044c.pth",
    sha256_prefix="df00044c",
    size_mb=136.8,  # 34,187,027 float32 parameters + BatchNorm statistics
    note="SIGGRAPH17 Local Hints Network, converted from Caffe by the authors; use mask_cent=0",
)


def load_siggraph17_official(path: str | os.PathLike | None = None, download: bool = False) -> nn.Module:
    """The released SIGGRAPH17 Local Hints Network in ``reprolib.models.SIGGRAPH17``.

    Built with ``width=1.0, mask_cent=0.0, dist_head="released"``: the weights were converted from Caffe,
    whose mask is not centred (reference-facts section 2.1; with 0.5 the model runs and colorizes badly).
    ``path``: a local copy of ``siggraph17-df00044c.pth``; else the cached copy, downloaded first when
    ``download=True``. BatchNorm ``num_batches_tracked`` counters absent from the file are set to 0
    (they do not affect evaluation); every other key must match exactly.
    """
    from reprolib.models.siggraph17 import SIGGRAPH17

    path, state = _official_state(SIGGRAPH17_OFFICIAL, path, download, "load_siggraph17_official")
    model = SIGGRAPH17(width=1.0, mask_cent=0.0, dist_head="released")
    state = dict(state)
    for key, value in model.state_dict().items():
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = torch.zeros_like(value)
    load_state_dict_strict(model, state, source=str(path))
    return model.eval()
