"""The released colorization sub-net of He et al. (2018) and its demo input, for comparison only: the chapter
trains its own networks. Nothing here runs at import or in the book's default path; downloads happen only on
``download=True`` (needs internet, e.g. Colab).

**The weights.** The authors' README (github.com/msracver/Deep-Exemplar-based-Colorization, "Download
Models") links ``example_net.pth`` on Dropbox (:data:`EXAMPLE_NET_PAGE`, ``?dl=0``: a preview page; with
``?dl=1`` Dropbox serves the file itself, :data:`EXAMPLE_NET`). **The release publishes no checksum and no
file size**, neither in the README nor anywhere in the repository, so there is nothing to compare a download
with. What is checked instead, on every load: the file is at least as large as the float32 tensors of the
released layout (:func:`min_file_bytes`; a truncated download or an HTML page is far smaller), it unpickles
with ``weights_only=True`` to a state dict, and that state dict has exactly the keys and shapes of
:class:`reprolib.models.exemplar.ExampleColorNet` and its 34,065,666 parameters (strict load). The file's
sha256 is printed so that a reader can compare it with another copy; pass ``sha256=`` to pin a digest you
trust. ``EXAMPLE_NET.sha256_prefix`` is empty because no digit is known: do not hand :data:`EXAMPLE_NET` to
:func:`reprolib.weights.fetch` (an empty prefix accepts any file); use :func:`fetch_example_net`.

**The ``.combo`` file** (written by the release's similarity sub-net, ``similarity_combo.exe``,
``similarity_subnet/windows/similarity_combo/source/Combo.cu``; read by ``combo5_loader`` in
``colorization_subnet/lib/TestDataset.py``; :func:`read_combo` parses the four files of
``demo/example/combo_new/`` to their last byte). ``<target>_<reference>.combo`` holds, for the target T
and the reference R:

* int32 ``h``, int32 ``w`` (little-endian: written with ``fwrite`` on Windows x64), the target's size;
* twelve blocks, each an int32 byte count followed by that many bytes of an image encoded by OpenCV's
  ``imencode(".png")``: PNG, so the pixels come back as RGB in every decoder (OpenCV's BGR order is undone
  by the loader's ``cvtColor(BGR2RGB)``; Pillow decodes RGB directly), all of size ``w`` x ``h``:

  1. ``warp_ba``, 8-bit colour: the colour reference warped onto the target (3 x 3 patch-averaged votes);
  2. ``warp_aba``, 8-bit colour: the target sent to the reference and back (not read by the network);
  3. five pairs ``(err_ba, err_ab)`` of 8-bit grey maps, one pair per VGG level in the order
     :data:`RELEASE_LEVELS` (conv5_1 first, conv1_1 last): ``err_ba(p) = 1 - cos(F_T(p), F_R(phi_TR(p)))``
     and ``err_ab(p)`` the same error of the reference pixel q = phi_TR(p) with its own match phi_RT(q),
     i.e. 1 - sim_T->R and 1 - sim_R->T of the paper's Eq. 1. The features are the BatchNorm outputs
     ``conv{k}_1/bn`` of a VGG-19-BN fine-tuned on grey images (signed, so a cosine may be negative), and a
     byte is ``int(255 * clamp(1 - cos, 0, 1))`` (``convert_float2bgr``: truncated, errors above 1 clip).

  Nothing follows the last block. The maps are therefore **errors**, not similarities, and the **deepest
  level comes first**: the opposite of our pipeline's ``sim_forward`` / ``sim_backward`` (relu1_1 first).

**The release's test script** (``colorization_subnet/test.py`` with ``lib/TestTransform.py``): the target
is read as RGB; the target and every image of the combo are resized with Pillow's bilinear filter so that
the shorter side is ``--short_size`` (256 in the demo, whose combos already have that shorter side);
``skimage.color.rgb2lab`` gives the target's L and the warped reference's ab; the 13 channels are
``[L - 50, ab of warp_ba, (err_ba - 127) / 2 x 5, (err_ab - 127) / 2 x 5]`` with the maps as raw 0-255
values (so in [-63.5, 64]). When H or W is not a multiple of 8, every plane is *resized* (OpenCV bilinear, not
cropped) to the multiples of 8 below, and the predicted ab is resized back with bicubic interpolation; the
output image is the L before that resize with this ab, through ``lab2rgb``, clipped and saved as 8-bit PNG.
:func:`combo_input` and :func:`colorize_with_release` do the same with this package's Lab conversion (the
same formulas as skimage) and torch's interpolation.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import nn
from torch.nn import functional as F

from reprolib.chapters.exemplar.verdicts import RELEASED_PARAMETERS
from reprolib.color import rgb_to_l_ab
from reprolib.config import cache_dir
from reprolib.download import NETWORK_ERRORS, download_atomic, md5_of
from reprolib.models.exemplar import (
    EXEMPLAR_IN_CHANNELS,
    ExampleColorNet,
    assemble_input,
)
from reprolib.validation import checked_by
from reprolib.weights import WeightFile, WeightsError, load_state_dict_strict, sha256_of

__all__ = [
    "EXAMPLE_NET",
    "EXAMPLE_NET_PAGE",
    "IMAGENETTE_MD5",
    "fetch_imagenette",
    "IMAGENETTE_NOTE",
    "IMAGENETTE_URL",
    "MAP_CENTRE",
    "MAP_DIVISOR",
    "RELEASED_PARAMETERS",
    "RELEASE_LEVELS",
    "RELEASE_SHORT_SIDE",
    "ComboError",
    "colorize_with_release",
    "combo_input",
    "fetch_example_net",
    "imagenette_pairs",
    "load_example_net_official",
    "min_file_bytes",
    "read_combo",
    "release_errors",
    "release_forward",
    "release_input",
    "release_maps",
]

#: The link of the README's "Download Models" section (a Dropbox preview page).
EXAMPLE_NET_PAGE = "https://www.dropbox.com/s/rg6qi5iz3sj7cnc/example_net.pth?dl=0"

EXAMPLE_NET = WeightFile(
    name="example_net.pth",
    url=EXAMPLE_NET_PAGE.replace("?dl=0", "?dl=1"),  # the same link; dl=1 asks Dropbox for the file itself
    sha256_prefix="",  # the release publishes no checksum (module docstring): nothing to compare with
    size_mb=136.3,  # a lower bound: its float32 tensors (min_file_bytes); the file's size is not published
    note="colorization sub-net ExampleColorNet(ic=13) of He et al. 2018; no published checksum",
)

RELEASE_LEVELS = ("conv5_1", "conv4_1", "conv3_1", "conv2_1", "conv1_1")  # Combo.cu's params.layers
RELEASE_SHORT_SIDE = 256  # --short_size of the demo's run.bat (the test script's default)
MAP_CENTRE, MAP_DIVISOR = 127.0, 2.0  # TestTransform.Normalize: F.normalize(err, 127, 2) of 0-255 maps
_BYTE = 255.0
_FLOAT32_BYTES = 4
_SIZE_UNIT = 8  # test.py's size_unit: the network halves the resolution three times
_MAX_SIDE = 1 << 14  # a header beyond this is not a combo (the release itself stops at 1024)
_COLOUR_MODES = ("RGB", "RGBA", "P", "L", "LA")  # 8-bit modes OpenCV's IMREAD_COLOR would read
_GREY_MODES = ("L", "P", "LA", "RGB", "RGBA")  # 8-bit modes OpenCV's IMREAD_GRAYSCALE would read
_BLOCKS = ["warp_ba", "warp_aba"] + [f"{kind}[{level}]" for level in RELEASE_LEVELS for kind in ("err_ba", "err_ab")]


class ComboError(ValueError):
    """A ``.combo`` file is truncated, garbled or not in the release's layout."""


# --------------------------------------------------------------------------------------------------
# The weights
# --------------------------------------------------------------------------------------------------


def min_file_bytes() -> int:
    """The fewest bytes a genuine ``example_net.pth`` can have: the float32 tensors of the released layout
    (parameters and BatchNorm statistics; the int64 counters are left out, a 2018 file may lack them)."""
    with torch.device("meta"):
        layout = ExampleColorNet().state_dict()
    return _FLOAT32_BYTES * sum(t.numel() for k, t in layout.items() if not k.endswith("num_batches_tracked"))


def _check_digest_arg(sha256) -> str | None:
    if sha256 is None:
        return None
    text = str(sha256).strip().lower() if isinstance(sha256, str) else ""
    if not 8 <= len(text) <= 64 or any(c not in "0123456789abcdef" for c in text):
        raise ValueError(f"sha256 must be a hex digest (at least its first 8 digits), got {sha256!r}")
    return text


def _check_file(path: Path, sha256: str | None) -> str:
    """Size check (and the pinned digest, if any) of a weight file; returns its sha256."""
    size, need = path.stat().st_size, min_file_bytes()
    if size < need:
        raise WeightsError(f"{path}: {size:,} bytes, but the tensors of the released {EXAMPLE_NET.name} alone take "
                           f"{need:,} bytes in float32; the file is truncated or not the released one (a Dropbox "
                           "page instead of the file?). Delete it and download it again.")
    digest = sha256_of(path)
    if sha256 is not None and not digest.startswith(sha256):
        raise WeightsError(f"{path}: sha256 {digest} does not start with the {sha256} you passed; the file is not "
                           "the copy you pinned. Delete it and download it again.")
    return digest


def fetch_example_net(directory: str | os.PathLike | None = None, sha256: str | None = None,
                      timeout: float = 60.0, progress: bool | None = None) -> Path:
    """The local path of ``example_net.pth``, downloaded from :data:`EXAMPLE_NET` first if it is not there
    (needs internet; never called by the book or the tests).

    The download goes to a temporary file renamed into place only after the size check (and ``sha256``, if
    given) passes. ``directory`` defaults to ``cache_dir("weights", "exemplar")``.
    """
    sha256 = _check_digest_arg(sha256)
    folder = Path(directory) if directory is not None else cache_dir("weights", "exemplar")
    dest = folder / EXAMPLE_NET.name
    if not dest.exists():
        from reprolib.train import show_progress

        try:
            download_atomic(EXAMPLE_NET.url, dest, timeout=timeout, progress=show_progress(progress),
                            check=lambda tmp: _check_file(tmp, sha256))
        except NETWORK_ERRORS as err:
            raise WeightsError(f"could not download {EXAMPLE_NET.url} ({err}). This needs internet access (e.g. "
                               f"Google Colab); the book never needs it. If you have the file, put it at {dest}, "
                               f"or open {EXAMPLE_NET_PAGE} in a browser.") from err
    _check_file(dest, sha256)
    return dest


def _read_state(path: Path) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, ValueError, AttributeError, pickle.UnpicklingError) as err:
        raise WeightsError(f"cannot read {path} as a weights-only state dict ({type(err).__name__}: {err})") from err
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in state.items()):
        raise WeightsError(f"{path} holds a {type(state).__name__} that is not a state dict (names -> tensors); "
                           "the release's test.py loads example_net.pth with load_state_dict directly")
    return dict(state)


def load_example_net_official(path: str | os.PathLike | None = None, download: bool = False,
                              sha256: str | None = None, report: bool = True) -> ExampleColorNet:
    """The released colorization sub-net in :class:`~reprolib.models.exemplar.ExampleColorNet`, on the CPU, in
    eval mode.

    ``path``: a local copy of ``example_net.pth``; else the cached copy, downloaded first (with
    :func:`fetch_example_net`) when ``download=True``. Checks: the size (:func:`min_file_bytes`), ``sha256``
    if you pass one (the release publishes none), a weights-only unpickling to a state dict, then a strict
    load (every key and shape) and the parameter count. BatchNorm ``num_batches_tracked`` counters absent from
    the file are set to 0 (they do not affect evaluation). ``report``: print the file's sha256.
    """
    sha256 = _check_digest_arg(sha256)
    if path is None:
        cached = cache_dir("weights", "exemplar", create=False) / EXAMPLE_NET.name
        if not cached.exists() and not download:
            raise WeightsError(f"{EXAMPLE_NET.name} is not in {cached.parent}. Call "
                               "load_example_net_official(download=True) with internet access, or pass path= to a "
                               f"local copy (the README links {EXAMPLE_NET_PAGE}).")
        path = fetch_example_net(sha256=sha256)
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path} is not a file; pass the path of a local {EXAMPLE_NET.name}")
    digest = _check_file(path, sha256)
    if report:
        print(f"{path.name}: sha256 {digest} (the release publishes no checksum to compare it with)")
    state = _read_state(path)
    model = ExampleColorNet()
    for key, value in model.state_dict().items():
        if key.endswith("num_batches_tracked"):
            state.setdefault(key, torch.zeros_like(value))
    load_state_dict_strict(model, state, source=str(path))
    learned = {name for name, _ in model.named_parameters()}
    count = sum(t.numel() for k, t in state.items() if k in learned)
    if count != RELEASED_PARAMETERS:  # cannot differ after a strict load; kept as the documented fact
        raise WeightsError(f"{path}: {count:,} parameters, expected {RELEASED_PARAMETERS:,}")
    return model.eval()


# --------------------------------------------------------------------------------------------------
# The .combo file
# --------------------------------------------------------------------------------------------------


def _combo_bytes(source) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), "the combo bytes"
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"no combo file at {path}")
        return path.read_bytes(), str(path)
    raise TypeError(f"read_combo takes a path or the file's bytes, got {type(source).__name__}")


def _int32(data: bytes, offset: int, what: str, where: str) -> int:
    if offset + 4 > len(data):
        raise ComboError(f"{where} is truncated: it ends at byte {len(data):,}, inside the {what} at byte {offset:,}")
    return struct.unpack_from("<i", data, offset)[0]


def _decode(blob: bytes, colour: bool, block: str, where: str, size: tuple[int, int]) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(blob)) as im:
            im.load()
            modes = _COLOUR_MODES if colour else _GREY_MODES
            if im.mode not in modes:
                raise ComboError(f"{where}: block {block} is a {im.mode} image, expected 8-bit "
                                 f"{'colour' if colour else 'grey'}")
            if im.size != size:
                raise ComboError(f"{where}: block {block} is {im.size[0]} x {im.size[1]} (w x h), but the header "
                                 f"says {size[0]} x {size[1]}")
            array = np.asarray(im.convert("RGB" if colour else "L"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        if isinstance(err, ComboError):
            raise
        raise ComboError(f"{where}: cannot decode block {block} as an image ({err}); the file is garbled or not "
                         "a combo file") from err
    return array


def read_combo(source) -> dict:
    """Parse a ``.combo`` file of the release (module docstring) with Pillow and numpy.

    ``source``: a path or the file's bytes. Returns a dict with ``size`` ``(h, w)``; ``warp_ba`` and
    ``warp_aba`` (3, h, w) RGB; ``err_ba`` and ``err_ab`` (5, h, w), level by level in the file's order
    :data:`RELEASE_LEVELS` (``levels``), each the stored byte / 255 (an error 1 - cos, clipped to [0, 1]). All
    float32 in [0, 1]. Raises :class:`ComboError` for a truncated, garbled or mis-sized file.
    """
    data, where = _combo_bytes(source)
    h, w = _int32(data, 0, "header (int32 h)", where), _int32(data, 4, "header (int32 w)", where)
    if not (0 < h <= _MAX_SIDE and 0 < w <= _MAX_SIDE):
        raise ComboError(f"{where}: the header gives h = {h}, w = {w}, not an image size; not a combo file")
    offset, images = 8, []
    for i, block in enumerate(_BLOCKS):
        n = _int32(data, offset, f"byte count of block {block}", where)
        if n <= 0:
            raise ComboError(f"{where}: block {block} has byte count {n} at byte {offset:,}; the file is garbled")
        start = offset + 4
        if start + n > len(data):
            raise ComboError(f"{where} is truncated: block {block} needs {n:,} bytes from byte {start:,}, but the "
                             f"file ends at byte {len(data):,}")
        images.append(_decode(data[start:start + n], i < 2, block, where, (w, h)))
        offset = start + n
    if offset != len(data):
        raise ComboError(f"{where}: {len(data) - offset:,} trailing bytes after the last block; not a combo file "
                         "of the release's layout (2 colour images and 5 x 2 grey maps)")

    def planes(arrays: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.stack(arrays)).float().div_(_BYTE)

    return {
        "size": (h, w),
        "warp_ba": planes([images[0]])[0].permute(2, 0, 1).contiguous(),
        "warp_aba": planes([images[1]])[0].permute(2, 0, 1).contiguous(),
        "err_ba": planes(images[2::2]),
        "err_ab": planes(images[3::2]),
        "levels": RELEASE_LEVELS,
    }


# --------------------------------------------------------------------------------------------------
# The network input, the release's way
# --------------------------------------------------------------------------------------------------


def release_maps(channels: torch.Tensor) -> torch.Tensor:
    """:func:`assemble_input`'s map channels ``2 e - 1`` (e = byte / 255) turned into the release's
    ``(byte - 127) / 2``: with byte = 255 e, that is ``63.75 (2 e - 1) + 0.25``."""
    gain = _BYTE / (2 * MAP_DIVISOR)
    shift = (_BYTE / 2 - MAP_CENTRE) / MAP_DIVISOR
    return gain * channels + shift


def release_input(L: torch.Tensor, warped_ab: torch.Tensor, err_ba: torch.Tensor, err_ab: torch.Tensor) -> torch.Tensor:
    """The 13 channels the released weights were trained on: ``[L - 50, warped ab, (byte - 127) / 2 x 10]``.

    ``err_ba``, ``err_ab``: (N, 5, H, W) error maps in [0, 1] (byte / 255) in the release's level order
    (conv5_1 first). :func:`assemble_input` stacks them (L - 50, ab, 2 e - 1); :func:`release_maps` rescales.
    """
    x = assemble_input(L, warped_ab, err_ba, err_ab)
    return torch.cat([x[:, :3], release_maps(x[:, 3:])], dim=1)


def _check_combo(combo, where: str = "combo") -> None:
    if not isinstance(combo, dict) or not {"size", "warp_ba", "err_ba", "err_ab"} <= set(combo):
        raise TypeError(f"{where} must be the dict read_combo returns (size, warp_ba, err_ba, err_ab, ...)")


def _check_combo_input(L_target, combo) -> None:
    _check_combo(combo)
    h, w = combo["size"]
    if not isinstance(L_target, torch.Tensor) or not L_target.is_floating_point():
        raise TypeError("L_target must be a float tensor (1, 1, H, W), the target's lightness in [0, 100]")
    if L_target.dim() != 4 or tuple(L_target.shape[:2]) != (1, 1):
        raise ValueError(f"L_target must have shape (1, 1, H, W), got {tuple(L_target.shape)}")
    if tuple(L_target.shape[2:]) != (h, w):
        raise ValueError(f"L_target is {L_target.shape[2]} x {L_target.shape[3]} (H x W), but the combo holds "
                         f"{h} x {w}: resize the target to the combo's size (the release's test script resizes "
                         f"both to shorter side {RELEASE_SHORT_SIDE}), or use the combo made for this target")


@checked_by(_check_combo_input)
def combo_input(L_target: torch.Tensor, combo: dict) -> torch.Tensor:
    """The released network's input (1, 13, H, W) for a target's L (1, 1, H, W) and its :func:`read_combo`."""
    _, warped_ab = rgb_to_l_ab(combo["warp_ba"][None].to(L_target))
    err_ba, err_ab = combo["err_ba"][None].to(L_target), combo["err_ab"][None].to(L_target)
    return release_input(L_target, warped_ab, err_ba, err_ab)


def release_errors(sim: torch.Tensor, quantize: bool = True) -> torch.Tensor:
    """Our similarity maps (N, 5, H, W), relu1_1 first, as the release's error maps: ``1 - sim`` clipped to
    [0, 1], truncated to bytes as ``convert_float2bgr`` does (``quantize``), divided by 255, deepest level
    first. Feeding the release's weights from :mod:`reprolib.nn.correspondence` is a substitution all the
    same: its features are an ImageNet VGG16's ReLU outputs, the release's a grey VGG-19-BN's BN outputs."""
    err = (1.0 - sim).clamp(0.0, 1.0)
    if quantize:
        err = torch.floor(err * _BYTE) / _BYTE
    return err.flip(1)


def _check_forward(net, x) -> None:
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be the ExampleColorNet of load_example_net_official, got {type(net).__name__}")
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != EXEMPLAR_IN_CHANNELS:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be the 13-channel input (N, 13, H, W) of combo_input or release_input, got {shape}")
    if min(x.shape[-2:]) < _SIZE_UNIT:
        raise ValueError(f"the image must be at least {_SIZE_UNIT} x {_SIZE_UNIT} pixels, got {tuple(x.shape[-2:])}")


@checked_by(_check_forward)
def release_forward(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """ab (N, 2, H, W) from the 13-channel input, as the release's test.py runs it: resized (bilinear) to the
    multiples of 8 below H and W when needed, the network, the ab resized back (bicubic)."""
    h, w = x.shape[-2:]
    size = (h // _SIZE_UNIT * _SIZE_UNIT, w // _SIZE_UNIT * _SIZE_UNIT)
    weight = next(net.parameters())
    inp = x.to(weight.device, weight.dtype)
    if size != (h, w):
        inp = F.interpolate(inp, size=size, mode="bilinear", align_corners=False)
    with torch.no_grad():
        ab = net(inp)
    if size != (h, w):
        ab = F.interpolate(ab, size=(h, w), mode="bicubic", align_corners=False)
    return ab.to(x.device, x.dtype)


def _check_colorize(net, L, combo) -> None:
    _check_combo_input(L, combo)
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be the ExampleColorNet of load_example_net_official, got {type(net).__name__}")


@checked_by(_check_colorize)
def colorize_with_release(net: nn.Module, L: torch.Tensor, combo: dict) -> torch.Tensor:
    """The target's ab (1, 2, H, W) predicted by ``net`` (the released weights) from its L and its combo;
    ``reprolib.color.l_ab_to_rgb(L, ab)`` is the picture the release's test.py saves."""
    return release_forward(net, combo_input(L, combo))


# --------------------------------------------------------------------------------------------------
# Imagenette pairs for the online section
# --------------------------------------------------------------------------------------------------

IMAGENETTE_URL = "https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-160.tgz"  # fastai/imagenette README
IMAGENETTE_MD5 = "e793b78cc4c9e9a4ccc0c1155377a412"  # as torchvision records it (datasets/imagenette.py)

IMAGENETTE_NOTE = f"""\
Imagenette (fast.ai): ten easily told ImageNet classes, the 160 px version {IMAGENETTE_URL} (from the
fastai/imagenette README: shorter side resized to 160 px, aspect ratio kept). fast.ai publishes no checksum;
torchvision's Imagenette dataset checks the archive against MD5 {IMAGENETTE_MD5}. Unpacked (e.g. with
reprolib.download.download_atomic and safe_extract into /content, where the split-brain chapter's online
section expects /content/imagenette2-160) it is imagenette2-160/train/<wnid>/*.JPEG and
imagenette2-160/val/<wnid>/*.JPEG, one folder per class (n01440764 tench, n02102040 English springer,
n02979186 cassette player, n03000684 chain saw, n03028079 church, n03394916 French horn, n03417042 garbage
truck, n03425413 gas pump, n03445777 golf ball, n03888257 parachute). reprolib.data.ImageFolderColor reads
such a folder (recursively, sorted, greyscale files skipped); imagenette_pairs(root + "/val", n, size, seed)
draws n same-class (target, reference) pairs of centre crops. The release ran at shorter side 256 and needs
sizes that are multiples of 8: size=160 keeps Imagenette's own resolution."""


def _md5_is(expected: str):
    def check(path: Path) -> None:
        got = md5_of(path)
        if got != expected:
            raise WeightsError(f"{path.name}: MD5 {got}, expected {expected} (a changed or damaged "
                               "download; nothing was kept)")
    return check


def fetch_imagenette(directory: str | os.PathLike = "/content") -> Path:
    """Download Imagenette-160 (MD5-checked before it is renamed into place) and unpack it into ``directory``
    once; returns the ``imagenette2-160`` folder. Needs internet (e.g. Colab)."""
    from reprolib.download import safe_extract

    directory = Path(directory)
    root = directory / "imagenette2-160"
    if not (root / "val").is_dir():
        archive = directory / "imagenette2-160.tgz"
        if not archive.is_file():
            download_atomic(IMAGENETTE_URL, archive, progress=True, check=_md5_is(IMAGENETTE_MD5))
        _md5_is(IMAGENETTE_MD5)(archive)
        safe_extract(archive, directory)
    return root


def _check_pairs(root, n, size, seed) -> None:
    for name, value, least in (("n", n, 1), ("size", size, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")


@checked_by(_check_pairs)
def imagenette_pairs(root: str | os.PathLike, n: int, size: int = 160, seed: int = 0) -> dict:
    """``n`` random (target, reference) pairs of different photos of the same class from a folder of class
    folders (``root/<class>/<image>``, e.g. ``imagenette2-160/val``), drawn with ``seed``.

    Photos go through :class:`reprolib.data.ImageFolderColor` (shorter side resized to ``size``, centre crop,
    greyscale files skipped). A target is drawn uniformly, without repetition, among the photos whose class
    has at least two; its reference uniformly among the other photos of its class. Returns ``target`` and
    ``reference`` (n, 3, size, size) RGB in [0, 1], ``label`` (the class folders' names) and the two lists of
    paths ``target_path``, ``reference_path``.
    """
    from reprolib.data import ImageFolderColor

    ds = ImageFolderColor(root, size=size, train=False, load_size=size, skip_grayscale=True)
    top = Path(root)
    by_class: dict[str, list[int]] = {}
    for i, f in enumerate(ds.files):
        parts = Path(f).relative_to(top).parts
        if len(parts) < 2:
            raise ValueError(f"{f} lies directly in {top}; expected one folder per class (root/<class>/<image>)")
        by_class.setdefault(parts[0], []).append(i)
    usable = [i for members in by_class.values() if len(members) >= 2 for i in members]
    if n > len(usable):
        raise ValueError(f"asked for {n} pairs, but only {len(usable)} photos under {top} have another photo of "
                         "their class to pair with")
    label_of = {i: cls for cls, members in by_class.items() for i in members}
    g = torch.Generator().manual_seed(int(seed))
    targets = [usable[j] for j in torch.randperm(len(usable), generator=g)[:n].tolist()]
    refs = []
    for t in targets:
        others = [i for i in by_class[label_of[t]] if i != t]
        refs.append(others[int(torch.randint(len(others), (1,), generator=g))])
    return {
        "target": torch.stack([ds[i]["rgb"] for i in targets]),
        "reference": torch.stack([ds[i]["rgb"] for i in refs]),
        "label": [label_of[t] for t in targets],
        "target_path": [str(ds.files[i]) for i in targets],
        "reference_path": [str(ds.files[i]) for i in refs],
    }
