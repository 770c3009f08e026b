"""Dense correspondence between a grey target and a colour reference, and the similarity maps of
He, Chen, Liao, Sander & Yuan, "Deep Exemplar-based Colorization" (SIGGRAPH 2018), sec. 3.1, Eq. 1-2.

The paper's *Similarity sub-net* is a pre-processing step. It takes a grey target T_L, a reference R_Lab and
two pixel-to-pixel maps between them, phi_T->R (where in the reference each target pixel finds its match)
and phi_R->T (the other way), and produces what the colorization network reads:

* the reference colours brought onto the target, R'_ab(p) = R_ab(phi_T->R(p))            (sec. 3.2)
* for training only, the target's own colours sent to the reference and back,
  T'_ab(p) = T_ab(phi_R->T(phi_T->R(p)))                                                  (Eq. 3)
* ten similarity maps on the target's grid, two per VGG level i = 1..5 (relu{i}_1, upsampled to the image):
  sim^i_T->R(p) = d(F^i_T(p), F^i_R(phi_T->R(p)))
  sim^i_R->T(p) = d(F^i_T(phi_R->T(phi_T->R(p))), F^i_R(phi_T->R(p)))                      (Eq. 1)
  with d the cosine similarity x.y / (|x| |y|)                                             (Eq. 2)

The paper computes the maps phi with Deep Image Analogy (Liao et al. 2017), a coarse-to-fine PatchMatch over
VGG-19 with latent-image reconstruction, released only as a Windows executable. This module replaces it with
something a CPU runs in milliseconds and a reader can follow in a few lines (:func:`correspond`):

1. both images go through the same frozen ImageNet VGG16 as grey RGB (:func:`feature_pyramid`);
2. the relu3_1, relu4_1 and relu5_1 features are unit-normalised per level, brought to 1/4 of the image
   resolution, concatenated and averaged over 3 x 3 cells (the patch term of a patch match), then unit-
   normalised again (:func:`matching_features`);
3. every cell of one image takes the cell of the other with the highest cosine similarity, searched
   exhaustively in both directions (:func:`nearest_cells`); exact ties (within ``TIE_TOLERANCE``, e.g. in a
   flat sky) go to the spatially nearest cell, so an image matched to itself gives the identity;
4. the cell map is lifted to pixels by keeping each pixel's offset inside its cell (:func:`lift_to_pixels`);
5. Eq. 1 is evaluated on the same cells, every level's features brought to the cell grid (averaged over the
   cell from the finer levels, interpolated from the coarser ones), and each cell's similarity is given to its
   pixels (:func:`similarity_maps`). The paper upsamples every level to the image and compares pixels; with a
   field that is constant over each cell, that only adds the blur of the upsampling, at 16 times the cost.

What this loses against Deep Image Analogy: no coarse-to-fine propagation, so neighbouring cells may match
far-apart places (DIA's field is spatially coherent); no latent reconstruction that bridges appearance gaps
(both inputs are grey here, as in the paper's similarity sub-net, so the gap is smaller); a field that is
constant over 4 x 4 pixel blocks instead of pixel-accurate; and the features of a colour-trained VGG16 read on
grey input, where the paper fine-tuned VGG-19 on grey images (its Table 1: the colour network loses 7.6 top-5
points on grey input). Mappings are stored as flat indices into the other image's H * W pixels, (N, H, W) long.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch.nn import functional as F

from reprolib.color import l_ab_to_rgb
from reprolib.nn.backbones import FeatureTaps, imagenet_normalize

__all__ = [
    "MATCH_LEVELS",
    "MATCH_STRIDE",
    "MATCH_BOX",
    "TIE_TOLERANCE",
    "Alignment",
    "grey_features_input",
    "feature_pyramid",
    "to_cells",
    "cell_grid",
    "matching_features",
    "nearest_cells",
    "lift_to_pixels",
    "correspond",
    "warp",
    "compose",
    "warped_reference",
    "cycle_reference",
    "similarity_maps",
    "cross_check",
    "align",
]

MATCH_LEVELS = (2, 3, 4)  # relu3_1, relu4_1, relu5_1 of the five-level pyramid (0-based)
MATCH_STRIDE = 4  # cells of 4 x 4 pixels: relu3_1's stride
MATCH_BOX = 3  # the 3 x 3 cell patch whose mean feature is compared
# Cosine similarities of unit vectors of up to ~1300 float32 entries are exact to ~1e-6; two candidates within
# this tolerance are treated as a tie, so that ties break the same way on every CPU.
TIE_TOLERANCE = 1e-5


class Alignment(NamedTuple):
    """What the similarity sub-net hands to the colorization network, all on the target's grid."""

    phi_tr: torch.Tensor  # (N, H, W) long: flat index of each target pixel's match in the reference
    phi_rt: torch.Tensor  # (N, H, W) long: flat index of each reference pixel's match in the target
    warped_ab: torch.Tensor  # (N, 2, H, W): R'_ab
    sim_tr: torch.Tensor  # (N, 5, H, W): sim^i_T->R, i = 1..5 (Eq. 1, first line)
    sim_rt: torch.Tensor  # (N, 5, H, W): sim^i_R->T, i = 1..5 (Eq. 1, second line)


def _check_l(L: torch.Tensor, name: str) -> None:
    if not isinstance(L, torch.Tensor) or not L.is_floating_point():
        raise TypeError(f"{name} must be a floating-point torch.Tensor of lightness in [0, 100]")
    if L.dim() != 4 or L.shape[1] != 1:
        raise ValueError(f"{name} must have shape (N, 1, H, W), got {tuple(L.shape)}")


def _check_field(phi: torch.Tensor, name: str, pixels: int | None = None) -> None:
    if not isinstance(phi, torch.Tensor) or phi.dtype != torch.long or phi.dim() != 3:
        raise TypeError(f"{name} must be an (N, H, W) torch.long tensor of flat pixel indices")
    if phi.numel() and (int(phi.min()) < 0 or int(phi.max()) >= (pixels or phi.shape[1] * phi.shape[2])):
        raise ValueError(f"{name} holds indices outside 0..{(pixels or phi.shape[1] * phi.shape[2]) - 1}")


def grey_features_input(L: torch.Tensor) -> torch.Tensor:
    """Lightness (N, 1, H, W) in [0, 100] as the ImageNet-normalised grey RGB a VGG reads."""
    _check_l(L, "L")
    return imagenet_normalize(l_ab_to_rgb(L, torch.zeros_like(L).expand(-1, 2, -1, -1)))


def feature_pyramid(taps: FeatureTaps, L: torch.Tensor) -> list[torch.Tensor]:
    """The five feature maps F^1..F^5 of grey images (relu{i}_1 for :func:`~reprolib.nn.vgg16_relu_x_1`)."""
    return taps(grey_features_input(L))


def colour_feature_pyramid(taps: FeatureTaps, rgb: torch.Tensor) -> list[torch.Tensor]:
    """The same five maps of colour images (N, 3, H, W) in [0, 1]: what a colour-trained VGG reads natively (the
    chapter compares matching on colour and on grey input; a grey target has no colour at test time)."""
    if rgb.dim() != 4 or rgb.shape[1] != 3:
        raise ValueError(f"rgb must be (N, 3, H, W) in [0, 1], got {tuple(rgb.shape)}")
    return taps(imagenet_normalize(rgb))


def to_cells(f: torch.Tensor, cells: tuple[int, int]) -> torch.Tensor:
    """A feature map (N, C, h', w') brought to the cell grid ``cells``: averaged over each cell where it is finer,
    interpolated bilinearly where it is coarser."""
    if f.shape[-2] >= cells[0] and f.shape[-1] >= cells[1]:
        return F.adaptive_avg_pool2d(f, cells)
    return F.interpolate(f, size=cells, mode="bilinear", align_corners=False)


def cell_grid(size: tuple[int, int], stride: int = MATCH_STRIDE) -> tuple[int, int]:
    """The (rows, columns) of the cell grid of an image of ``size`` pixels; the size must be a multiple of ``stride``."""
    H, W = size
    if H % stride or W % stride:
        raise ValueError(f"image size {H} x {W} must be a multiple of the cell size {stride}")
    return H // stride, W // stride


def matching_features(pyramid: list[torch.Tensor], size: tuple[int, int], levels: tuple[int, ...] = MATCH_LEVELS,
                      stride: int = MATCH_STRIDE, box: int = MATCH_BOX) -> torch.Tensor:
    """Unit descriptors (N, D, H/stride, W/stride) of the cells the matching compares (step 2 above)."""
    cells = cell_grid(size, stride)
    g = torch.cat([to_cells(F.normalize(pyramid[i], dim=1), cells) for i in levels], dim=1)
    if box > 1:
        g = F.avg_pool2d(g, box, stride=1, padding=box // 2, count_include_pad=False)
    return F.normalize(g, dim=1)


def _cell_distances(h: int, w: int, device: torch.device) -> torch.Tensor:
    y, x = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
    y, x = y.reshape(-1), x.reshape(-1)
    return ((y[:, None] - y[None, :]) ** 2 + (x[:, None] - x[None, :]) ** 2).to(torch.float32)


def nearest_cells(a: torch.Tensor, b: torch.Tensor, tolerance: float = TIE_TOLERANCE) -> tuple[torch.Tensor, torch.Tensor]:
    """For every cell of ``a`` (N, D, h, w), the flat index of the most similar cell of ``b`` and that similarity.

    Exhaustive search over all h * w cells of ``b``; candidates within ``tolerance`` of the best similarity are
    ties, won by the cell nearest in position (then the lowest index). Returns ((N, h*w) long, (N, h*w)).
    """
    if a.shape != b.shape or a.dim() != 4:
        raise ValueError(f"a and b must be (N, D, h, w) descriptors of the same shape, got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    n, _, h, w = a.shape
    sim = torch.einsum("ndp,ndq->npq", a.reshape(n, -1, h * w), b.reshape(n, -1, h * w))
    best = sim.max(dim=-1, keepdim=True).values
    cost = _cell_distances(h, w, a.device).expand(n, -1, -1).masked_fill(sim < best - tolerance, float("inf"))
    idx = cost.argmin(dim=-1)
    return idx, sim.gather(-1, idx[..., None])[..., 0]


def lift_to_pixels(cells: torch.Tensor, size: tuple[int, int], stride: int = MATCH_STRIDE) -> torch.Tensor:
    """A cell map (N, h*w) as a pixel map (N, H, W): pixel (s*u + i, s*v + j) goes to (s*u' + i, s*v' + j)."""
    H, W = size
    h, w = cell_grid(size, stride)
    y, x = torch.meshgrid(torch.arange(H, device=cells.device), torch.arange(W, device=cells.device), indexing="ij")
    own = (y // stride) * w + (x // stride)  # the cell of each pixel
    target = cells[:, own]  # (N, H, W): the matched cell
    ty = (target // w) * stride + y % stride
    tx = (target % w) * stride + x % stride
    return ty * W + tx


def correspond(pyr_t: list[torch.Tensor], pyr_r: list[torch.Tensor], size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The cell maps T->R and R->T, (N, h*w) long each, from the two images' feature pyramids (steps 2-3 above).
    :func:`lift_to_pixels` turns them into phi_T->R and phi_R->T."""
    g_t, g_r = matching_features(pyr_t, size), matching_features(pyr_r, size)
    return nearest_cells(g_t, g_r)[0], nearest_cells(g_r, g_t)[0]


def warp(x: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
    """``x`` (N, C, H', W') read through the map ``phi`` (N, H, W): out[:, :, p] = x[:, :, phi(p)]."""
    if x.dim() != 4 or x.shape[0] != phi.shape[0]:
        raise ValueError(f"x must be (N, C, H, W) with the N of phi {tuple(phi.shape)}, got {tuple(x.shape)}")
    _check_field(phi, "phi", x.shape[2] * x.shape[3])
    n, c = x.shape[:2]
    flat = x.reshape(n, c, -1)
    index = phi.reshape(n, 1, -1).expand(-1, c, -1)
    return flat.gather(2, index).reshape(n, c, *phi.shape[1:])


def compose(phi_ab: torch.Tensor, phi_ba: torch.Tensor) -> torch.Tensor:
    """The round trip p -> phi_ba(phi_ab(p)), a map from the first image to itself."""
    _check_field(phi_ab, "phi_ab", phi_ba.shape[1] * phi_ba.shape[2])
    return phi_ba.reshape(phi_ba.shape[0], -1).gather(1, phi_ab.reshape(phi_ab.shape[0], -1)).reshape(phi_ab.shape)


def warped_reference(R_ab: torch.Tensor, phi_tr: torch.Tensor) -> torch.Tensor:
    """R'_ab(p) = R_ab(phi_T->R(p)): the reference's colours on the target's grid (sec. 3.2)."""
    return warp(R_ab, phi_tr)


def cycle_reference(T_ab: torch.Tensor, phi_tr: torch.Tensor, phi_rt: torch.Tensor) -> torch.Tensor:
    """T'_ab(p) = T_ab(phi_R->T(phi_T->R(p))): the target's colours through the round trip (Eq. 3)."""
    return warp(T_ab, compose(phi_tr, phi_rt))


def similarity_maps(pyr_t: list[torch.Tensor], pyr_r: list[torch.Tensor], cells_tr: torch.Tensor,
                    cells_rt: torch.Tensor, size: tuple[int, int], stride: int = MATCH_STRIDE) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 1 at every level on the cells (step 5 above): (sim_T->R, sim_R->T), each (N, levels, H, W)."""
    h, w = cell_grid(size, stride)
    n = cells_tr.shape[0]
    tr, rt = cells_tr.reshape(n, h, w), cells_rt.reshape(n, h, w)  # maps on the cell grid
    cycle = compose(tr, rt)  # the round trip T -> R -> T
    forward, backward = [], []
    for f_t, f_r in zip(pyr_t, pyr_r):
        f_t = F.normalize(to_cells(f_t, (h, w)), dim=1, eps=1e-8)  # unit vectors: a dot product is Eq. 2
        f_r = F.normalize(to_cells(f_r, (h, w)), dim=1, eps=1e-8)
        matched = warp(f_r, tr)  # F_R(phi_T->R(p))
        forward.append((f_t * matched).sum(1))
        backward.append((warp(f_t, cycle) * matched).sum(1))  # F_T(phi_R->T(phi_T->R(p))) . F_R(phi_T->R(p))

    def to_pixels(maps):  # each cell's value to its stride x stride pixels
        return torch.stack(maps, 1).repeat_interleave(stride, 2).repeat_interleave(stride, 3)

    return to_pixels(forward), to_pixels(backward)


def cross_check(phi_tr: torch.Tensor, phi_rt: torch.Tensor, tolerance: int = 0) -> torch.Tensor:
    """Where the round trip comes back: |phi_R->T(phi_T->R(p)) - p| <= ``tolerance`` pixels in x and y.

    With ``tolerance=0`` this is the cross-check of the paper's sequential baseline (sec. 5.2). (N, H, W) bool.
    """
    H, W = phi_tr.shape[1:]
    back = compose(phi_tr, phi_rt)
    own = torch.arange(H * W, device=phi_tr.device).reshape(1, H, W)
    return ((back // W - own // W).abs() <= tolerance) & ((back % W - own % W).abs() <= tolerance)


def align(taps: FeatureTaps, L_t: torch.Tensor, L_r: torch.Tensor, R_ab: torch.Tensor) -> Alignment:
    """The whole similarity sub-net for a batch of (target, reference) pairs of the same size."""
    _check_l(L_t, "L_t")
    _check_l(L_r, "L_r")
    if L_t.shape != L_r.shape or R_ab.shape != (L_r.shape[0], 2, *L_r.shape[2:]):
        raise ValueError(f"L_t {tuple(L_t.shape)}, L_r {tuple(L_r.shape)} and R_ab {tuple(R_ab.shape)} must "
                         "describe N pairs of images of one size: (N, 1, H, W), (N, 1, H, W), (N, 2, H, W)")
    size = tuple(L_t.shape[2:])
    pyr_t, pyr_r = feature_pyramid(taps, L_t), feature_pyramid(taps, L_r)
    cells_tr, cells_rt = correspond(pyr_t, pyr_r, size)
    sim_tr, sim_rt = similarity_maps(pyr_t, pyr_r, cells_tr, cells_rt, size)
    phi_tr, phi_rt = lift_to_pixels(cells_tr, size), lift_to_pixels(cells_rt, size)
    return Alignment(phi_tr, phi_rt, warped_reference(R_ab, phi_tr), sim_tr, sim_rt)
