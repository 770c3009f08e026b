"""The released ECCV16 weights, for comparison only: every model of the chapter is trained from scratch."""

from __future__ import annotations

import os

from torch import nn

from reprolib.weights import WeightFile, _official_state, load_state_dict_strict

# The released PyTorch port of the ECCV 2016 model (richzhang/colorization, master branch).
# As with torch.hub's ``check_hash``, the hash prefix in the file name is what we can verify.
ECCV16_OFFICIAL = WeightFile(
    name="colorization_release_v2-9b330a0b.pth",
    url="https://colorizers.s3.us-east-2.amazonaws.com/colorization_release_v2-9b330a0b.pth",
    sha256_prefix="9b330a0b",
    size_mb=129.0,
    note="ECCV16 'full' model (classification with rebalancing), converted from Caffe by the authors",
)


def load_eccv16_official(path: str | os.PathLike | None = None, download: bool = False) -> nn.Module:
    """The released ECCV16 model in ``reprolib.models.ECCV16`` (width 1, classification head).

    ``path``: a local copy of ``colorization_release_v2-9b330a0b.pth``; else the cached copy, downloaded
    first when ``download=True``.
    """
    from reprolib.models.eccv16 import ECCV16

    path, state = _official_state(ECCV16_OFFICIAL, path, download, "load_eccv16_official")
    model = ECCV16(width=1.0, head="classification")
    load_state_dict_strict(model, state, source=str(path))
    return model.eval()
