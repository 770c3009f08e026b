"""The released BicycleGAN generators and encoders, for comparison only: the chapter trains its own models.

The authors publish the generator G and the encoder E of their final model for five datasets
(junyanz/BicycleGAN, ``pretrained_models/download_model.sh``), as ``<name>_net_G.pth`` and ``<name>_net_E.pth``
under :data:`MODELS_URL` (plain http; no discriminators). All ten files share one configuration, the defaults
of the reference code's ``options/base_options.py`` (reference-facts 3.1-3.3 and 11.3):

* G: ``unet_256`` with ``where_add="all"`` (8 levels, the code z with ``nz = 8`` concatenated to the input of
  every down conv), ``ngf = 64``, instance norm without affine parameters or running statistics, dropout,
  ``upsample="basic"`` (transposed convs), tanh output, 3 output channels; ``input_nc`` 1 for the edge
  datasets (grey edge maps), 3 for the others. Here: :class:`reprolib.nn.unet.UNetZ`.
* E: ``resnet_256`` (``nef = 64``), the VAE-like encoder returning (mu, logvar) through ``fc.0`` and
  ``fcVar.0``. It always reads the 3-channel output-domain image B. Here: :class:`reprolib.nn.latent.ResNetEncoder`.

Norms and dropout own no tensors, so the state dicts hold only conv and linear weights and biases: 32 keys
for G, 30 for E. Because z enters every down conv, ``nz`` and ``input_nc`` are baked into the weight shapes
(edges2shoes: ``model.down.0.weight`` is 64 x (1 + 8) x 4 x 4); a file trained with another ``nz`` cannot load
(junyanz/BicycleGAN issue #27), and :func:`conform_state_dict` says so by key.

The file names carry no hash and the full sha256 of the files is not known here: it is to be recorded on the
first download (:func:`fetch_official` writes it beside the file and warns with it; put it into
:data:`SHA256` to pin it). Until then a file is checked by its size (at least the bytes of its float32
tensors), a strict load against the layout, and, after the first download, the recorded hash.
Nothing downloads at import or in the tests; :func:`load_official` downloads only with ``download=True``.
"""

from __future__ import annotations

import math
import os
import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from reprolib.config import cache_dir
from reprolib.download import NETWORK_ERRORS, download_atomic
from reprolib.nn.latent import ResNetEncoder
from reprolib.nn.unet import UNetZ
from reprolib.weights import WeightsError, load_state_dict_strict, sha256_of

__all__ = [
    "MODELS_URL",
    "PARTS",
    "NZ",
    "NGF",
    "NEF",
    "NUM_DOWNS",
    "OUTPUT_NC",
    "ENCODER_SIZE",
    "ReleasedModel",
    "RELEASED_MODELS",
    "SHA256",
    "released_model",
    "file_name",
    "weight_url",
    "official_generator",
    "official_encoder",
    "official_network",
    "expected_layout",
    "parameter_count",
    "min_file_size",
    "check_file_size",
    "conform_state_dict",
    "load_state_file",
    "fetch_official",
    "load_official",
]

#: Where ``pretrained_models/download_model.sh`` fetches the files from (the double slash is the script's).
MODELS_URL = "http://efrosgans.eecs.berkeley.edu/BicycleGAN//models/"
PARTS = ("G", "E")

# The released configuration (options/base_options.py defaults; reference-facts 3.1).
NZ = 8             # --nz
NGF = 64           # --ngf
NEF = 64           # --nef
NUM_DOWNS = 8      # --netG unet_256: 256 -> 1 in eight halvings
OUTPUT_NC = 3      # --output_nc: G paints RGB, and E encodes that RGB image
ENCODER_SIZE = 256  # --netE resnet_256: four residual blocks before the 8 x 8 pool

_FLOAT32_BYTES = 4
# Buffers that InstanceNorm layers carried before PyTorch 0.4 (and with track_running_stats=True since).
_STALE_STATS = ("running_mean", "running_var", "num_batches_tracked")
_INSTANCE_NORMS = (nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d)


@dataclass(frozen=True)
class ReleasedModel:
    """One released model: its dataset and how the reference test script feeds it.

    ``input_nc``: channels of G's input (1: grey edge maps). ``direction``: ``"AtoB"`` (the left half of each
    dataset image is the input) or ``"BtoA"`` (the right half is). ``load_size`` / ``crop_size``: the test
    script's resize and crop (``scripts/test_<name>.sh``). ``encode``: whether the test script also encodes the
    ground truth with E (``maps`` runs with ``--no_encode``: its 512-pixel images do not fit E's 256).
    """

    name: str
    input_nc: int
    direction: str
    load_size: int
    crop_size: int
    encode: bool = True


#: The five released models (``download_model.sh``, ``scripts/train.sh`` and ``scripts/test_*.sh``).
RELEASED_MODELS: dict[str, ReleasedModel] = {m.name: m for m in (
    ReleasedModel("edges2shoes", 1, "AtoB", 256, 256),
    ReleasedModel("edges2handbags", 1, "AtoB", 256, 256),
    ReleasedModel("facades", 3, "BtoA", 286, 256),
    ReleasedModel("maps", 3, "BtoA", 512, 512, encode=False),
    ReleasedModel("night2day", 3, "AtoB", 286, 256),
)}

#: Full sha256 of the released files by file name, recorded from a first download. Empty until someone with
#: internet records them; while a name is missing, the size check, the strict load and the hash written
#: beside the first download are what guard the file.
SHA256: dict[str, str] = {}


def released_model(name: str) -> ReleasedModel:
    """The entry of :data:`RELEASED_MODELS` for ``name``, or a ``ValueError`` listing the released names."""
    if not isinstance(name, str) or name not in RELEASED_MODELS:
        raise ValueError(f"no released BicycleGAN model is called {name!r}; the released ones are "
                         f"{', '.join(RELEASED_MODELS)}")
    return RELEASED_MODELS[name]


def _check_part(part: str) -> str:
    if part not in PARTS:
        raise ValueError(f"part must be 'G' (the generator) or 'E' (the encoder), got {part!r}")
    return part


def file_name(name: str, part: str = "G") -> str:
    """The released file's name, ``<name>_net_<part>.pth``."""
    released_model(name)
    return f"{name}_net_{_check_part(part)}.pth"


def weight_url(name: str, part: str = "G") -> str:
    """The address the reference download script fetches ``<name>_net_<part>.pth`` from."""
    return MODELS_URL + file_name(name, part)


def _device(device: str | torch.device | None) -> torch.device:
    return torch.device("cpu") if device is None else torch.device(device)


def official_generator(name: str, device: str | torch.device | None = None) -> UNetZ:
    """A freshly initialised generator in the released configuration of ``name`` (``G_Unet_add_all``).

    ``device``: where the parameters are created (default CPU); ``torch.device("meta")`` builds shapes only,
    with no memory and no arithmetic, which is how :func:`expected_layout` reads the layout.
    """
    m = released_model(name)
    with _device(device):
        return UNetZ(m.input_nc, OUTPUT_NC, NZ, NUM_DOWNS, ngf=NGF, where_add="all", norm="instance", dropout=True)


def official_encoder(name: str, device: str | torch.device | None = None) -> ResNetEncoder:
    """A freshly initialised encoder in the released configuration (``E_ResNet``, ``resnet_256``, VAE-like).

    The same architecture for every released model: E reads the 3-channel output image whatever G's input
    is (``define_E(opt.output_nc, ...)`` in the reference code's ``bicycle_gan_model.py``). ``name`` is checked
    all the same, so a misspelt model fails here. ``device`` as in :func:`official_generator`.
    """
    released_model(name)
    with _device(device):
        return ResNetEncoder(OUTPUT_NC, NZ, ENCODER_SIZE, nef=NEF, norm="instance")


def official_network(name: str, part: str = "G", device: str | torch.device | None = None) -> nn.Module:
    """:func:`official_generator` for ``part="G"``, :func:`official_encoder` for ``part="E"``."""
    builder = official_generator if _check_part(part) == "G" else official_encoder
    return builder(name, device)


def expected_layout(name: str, part: str = "G") -> dict[str, tuple[int, ...]]:
    """``{key: shape}`` of the released ``<name>_net_<part>.pth``, read from the network built on the meta device.

    No download and no memory: this is the manifest a file is checked against before it is loaded.
    """
    net = official_network(name, part, torch.device("meta"))
    return {key: tuple(t.shape) for key, t in net.state_dict().items()}


def parameter_count(name: str, part: str = "G") -> int:
    """Number of learned parameters of the released network (built on the meta device)."""
    return sum(p.numel() for p in official_network(name, part, torch.device("meta")).parameters())


def min_file_size(name: str, part: str = "G") -> int:
    """The fewest bytes a genuine ``<name>_net_<part>.pth`` can have: its tensors alone, in float32."""
    return _FLOAT32_BYTES * sum(math.prod(shape) for shape in expected_layout(name, part).values())


def check_file_size(path: str | os.PathLike, name: str, part: str = "G") -> None:
    """Raise :class:`WeightsError` when ``path`` is too small to hold the released ``<name>_net_<part>.pth``.

    The full hash is not known yet (module docstring), so the size is the check a download can get before it
    is unpickled: a truncated or wrong file (an HTML error page, say) is far smaller than the tensors.
    """
    need = min_file_size(name, part)
    size = os.path.getsize(path)
    if size < need:
        raise WeightsError(f"{path}: {size:,} bytes, but the tensors of the released {file_name(name, part)} take "
                           f"{need:,} bytes in float32; the file is truncated or not the released one. Delete it "
                           "and download it again.")


def _stale_instance_norm_keys(state: Mapping[str, torch.Tensor], model: nn.Module) -> list[str]:
    """Keys of running statistics that belong to an InstanceNorm layer of ``model`` that keeps none."""
    norms = {n for n, mod in model.named_modules() if isinstance(mod, _INSTANCE_NORMS) and not mod.track_running_stats}
    stale = []
    for key in state:
        owner, _, leaf = key.rpartition(".")
        if leaf in _STALE_STATS and owner in norms:
            stale.append(key)
    return stale


def _list(what: str, keys: list[str], n: int = 8) -> str:
    return f"{what} ({len(keys)}): {', '.join(keys[:n])}{' ...' if len(keys) > n else ''}"


def conform_state_dict(state: Mapping[str, torch.Tensor], model: nn.Module,
                       source: str = "") -> dict[str, torch.Tensor]:
    """A copy of ``state`` that loads strictly into ``model``, or a :class:`WeightsError` that says why not.

    Files written before PyTorch 0.4 hold ``running_mean`` / ``running_var`` buffers for every InstanceNorm
    layer; the released networks keep no statistics, so those keys (and a ``num_batches_tracked`` beside them)
    are dropped, as the reference code's ``BaseModel.__patch_instance_norm_state_dict`` does. Only keys that
    name an InstanceNorm layer of ``model`` are dropped. Every other difference (a missing, an unexpected or
    a mis-shaped key) raises, naming the keys. ``model`` may live on the meta device.
    """
    where = f" {source}" if source else ""
    if not isinstance(state, Mapping):
        raise WeightsError(f"the weights{where} are a {type(state).__name__}, expected a state dict (a mapping "
                           "from parameter names to tensors)")
    bad = [str(k) for k, v in state.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise WeightsError(_list(f"the state dict{where} has entries that are not (name, tensor) pairs", bad))
    stale = set(_stale_instance_norm_keys(state, model))
    kept = {k: v for k, v in state.items() if k not in stale}
    own = {k: tuple(t.shape) for k, t in model.state_dict().items()}
    missing = sorted(set(own) - set(kept))
    unexpected = sorted(set(kept) - set(own))
    shapes = [k for k in sorted(set(own) & set(kept)) if tuple(kept[k].shape) != own[k]]
    if missing or unexpected or shapes:
        parts = [_list("missing keys", missing)] if missing else []
        parts += [_list("unexpected keys", unexpected)] if unexpected else []
        if shapes:
            parts.append(f"shape mismatches ({len(shapes)}): " + "; ".join(
                f"{k}: file {tuple(kept[k].shape)} vs model {own[k]}" for k in shapes[:5]))
            if any(len(own[k]) == 4 and kept[k].dim() == 4 and kept[k].shape[1] != own[k][1] for k in shapes):
                parts.append("input channels differ: the file was trained with another input_nc or nz (z is "
                             "concatenated into every down conv, cf. junyanz/BicycleGAN issue #27)")
        raise WeightsError(f"the state dict{where} does not fit {type(model).__name__}: " + " | ".join(parts))
    return kept


def load_state_file(model: nn.Module, path: str | os.PathLike) -> nn.Module:
    """Load the weight file ``path`` into ``model`` strictly (after :func:`conform_state_dict`); return ``model``.

    The file is read with ``torch.load(weights_only=True)``: tensors and containers only, no code.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, ValueError, pickle.UnpicklingError) as err:
        raise WeightsError(f"cannot read {path} as a weights-only state dict ({err})") from err
    load_state_dict_strict(model, conform_state_dict(state, model, source=str(path)), source=str(path))
    return model


def _check_hash(path: Path, record: bool) -> None:
    """Compare ``path`` with :data:`SHA256` and with the hash written beside it; write that one if asked."""
    digest = sha256_of(path)
    known = SHA256.get(path.name)
    if known is not None and digest != known:
        raise WeightsError(f"{path}: sha256 {digest[:16]}... differs from the recorded {known[:16]}...; the file is "
                           "corrupt or not the released one. Delete it and download it again.")
    side = path.with_name(path.name + ".sha256")
    if side.exists():
        first = side.read_text(encoding="utf-8").strip()
        if digest != first:
            raise WeightsError(f"{path}: sha256 {digest[:16]}... differs from {first[:16]}... recorded at its first "
                               f"download ({side}); the file has changed. Delete both and download again.")
    elif record:
        side.write_text(digest + "\n", encoding="utf-8")
        if known is None:
            warnings.warn(f"{path.name}: no sha256 is recorded for this file yet; its first download has sha256 "
                          f"{digest} (written to {side}). Record it in reprolib.chapters.bicyclegan.official.SHA256.",
                          stacklevel=3)


def fetch_official(name: str, part: str = "G", directory: str | os.PathLike | None = None, timeout: float = 60.0,
                   progress: bool | None = None) -> Path:
    """The local path of the released ``<name>_net_<part>.pth``, downloaded first if it is not there yet (needs
    internet; never called by the book or the tests).

    The download goes through :func:`reprolib.download.download_atomic`: into a temporary file that is renamed
    only after :func:`check_file_size` passes, so an interrupted download leaves nothing under the final name.
    On the first download the file's sha256 is written to ``<file>.sha256`` and reported in a warning (the hash
    is to be recorded in :data:`SHA256`); later calls compare the file with it.

    Args:
        name: a key of :data:`RELEASED_MODELS`. part: ``"G"`` or ``"E"``.
        directory: where the file lives (default ``cache_dir("weights", "bicyclegan")``).
        timeout: network timeout in seconds. progress: a progress bar (``None``: when interactive).
    """
    folder = Path(directory) if directory is not None else cache_dir("weights", "bicyclegan")
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / file_name(name, part)
    if not dest.exists():
        from reprolib.train import show_progress

        url = weight_url(name, part)
        try:
            download_atomic(url, dest, timeout=timeout, progress=show_progress(progress),
                            check=lambda tmp: check_file_size(tmp, name, part))
        except NETWORK_ERRORS as err:
            raise WeightsError(f"could not download {url} ({err}). This needs internet access (e.g. Google Colab); "
                               f"the book itself never needs it. If you have the file, put it at {dest}.") from err
    check_file_size(dest, name, part)
    _check_hash(dest, record=True)
    return dest


def load_official(name: str, part: str = "G", path: str | os.PathLike | None = None,
                  download: bool = False) -> nn.Module:
    """The released generator (``part="G"``) or encoder (``"E"``) of ``name``, on the CPU, in eval mode.

    ``path``: a local copy of ``<name>_net_<part>.pth``; else the cached copy, downloaded first (with
    :func:`fetch_official`) when ``download=True``, as for the chapters' other released weights. The file must
    pass :func:`check_file_size` and load strictly (:func:`conform_state_dict`). Eval mode turns dropout off, as
    the reference ``test.py`` does (``model.eval()``). The generator is called as ``G(A, z)`` with A in
    [-1, 1] and z of shape (N, 8); the encoder as ``mu, logvar = E(B)`` on 256 x 256 images in [-1, 1].
    """
    released_model(name)
    _check_part(part)
    if path is None:
        cached = cache_dir("weights", "bicyclegan", create=False) / file_name(name, part)
        if not cached.exists() and not download:
            raise WeightsError(f"{cached.name} is not in {cached.parent}. Call load_official({name!r}, {part!r}, "
                               "download=True) with internet access, or pass path= to a local copy.")
        path = fetch_official(name, part)
    else:
        path = Path(path)
        if not path.is_file():
            raise WeightsError(f"{path} is not a file; pass the path of a local {file_name(name, part)}")
        check_file_size(path, name, part)
        _check_hash(path, record=False)
    model = official_network(name, part)
    return load_state_file(model, path).eval()
