"""The quantized ab colour space of Zhang et al. (ECCV 2016) and everything its loss needs.

Colorization as classification (paper section 2.1): the ab plane is cut into a grid of step 10 and
the Q = 313 grid points that are "in gamut" become the classes. This file holds

* the classes: :data:`AB_BINS_TABLE` / :func:`ab_bins` (the 313 bins of the released
  ``pts_in_hull.npy``), the full 23 x 23 grid of the SIGGRAPH17 code (:func:`grid_bins`,
  :func:`in_gamut_grid`) and :func:`naive_gamut_bins`, an honest attempt to recompute the 313;
* the targets: :func:`encode_nearest` (1-hot) and :func:`soft_encode` (paper footnote 1: Gaussian
  weights over the k nearest bins);
* class rebalancing (section 2.2, Eq. 4): :func:`empirical_prior`, :func:`rebalance_weights`,
  :func:`pixel_weights`;
* the point estimate (section 2.3, Eq. 5): :func:`annealed_mean`, :func:`distribution_mean`,
  :func:`distribution_mode`;
* the lightness classes of the split-brain autoencoder's grey prediction (thesis sec. 5.5.1: 50 bins of
  width 2): :func:`encode_l`, :func:`decode_l`.

Shapes: ``ab`` is ``(N, 2, H, W)`` (any leading dims before the channel axis, which is ``-3``) in
unnormalised Lab units (about [-110, 110]); class scores are ``(N, Q, H, W)``; bin centres are a
``(Q, 2)`` float tensor of (a, b) rows. Every function takes ``bins=None`` for the 313 ECCV16 bins
or any other ``(Q, 2)`` set, e.g. :func:`grid_bins` for the 529-class SIGGRAPH17 variant.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

import numpy as np
import torch

from reprolib.color import rgb_to_lab
from reprolib.nearest_bins import knn_flat
from reprolib.validation import checked_by

__all__ = [
    "AB_BINS_TABLE",
    "AB_GRID_STEP",
    "AB_GRID_MIN",
    "AB_GRID_SIZE",
    "NUM_AB_BINS",
    "L_BIN_WIDTH",
    "NUM_L_BINS",
    "PAPER_K",
    "CODE_K",
    "SIGMA",
    "PAPER_LAMBDA",
    "PAPER_T",
    "CAFFE_T",
    "ab_bins",
    "grid_bins",
    "in_gamut_grid",
    "naive_gamut_bins",
    "encode_nearest",
    "decode_index",
    "soft_encode_topk",
    "soft_encode",
    "empirical_prior",
    "smooth_prior",
    "rebalance_weights",
    "pixel_weights",
    "annealed_mean",
    "distribution_mean",
    "distribution_mode",
    "encode_l",
    "decode_l",
]

# --------------------------------------------------------------------------------------------------
# Constants (paper and released code; reference-facts.md sections 1.1-1.3)
# --------------------------------------------------------------------------------------------------

AB_GRID_STEP = 10.0  # the ab plane is divided into square bins 10 units wide (section 2.1)
AB_GRID_MIN = -110.0  # the SIGGRAPH17 grid: 23 x 23 points over [-110, 110]
AB_GRID_SIZE = 23
NUM_AB_BINS = 313  # Q in the paper

PAPER_K = 5  # footnote 1: "the 5-nearest neighbors"; the released NNEncLayer uses 10
CODE_K = 10
SIGMA = 5.0  # footnote 1 and section 2.2: Gaussian sigma = 5 for soft targets and prior smoothing
PAPER_LAMBDA = 0.5  # section 2.2: lambda = 1/2
PAPER_T = 0.38  # section 2.3 / Fig. 4
CAFFE_T = 1 / 2.606  # the released Caffe model scales the logits by 2.606 (layer conv8_313_rh)

# The 313 in-gamut bins of the released pts_in_hull.npy, a-major: each a-row holds a contiguous
# range of b (reference-facts.md section 1.2). Rows: (a, b_min, b_max), all in steps of 10.
AB_BINS_TABLE: tuple[tuple[int, int, int], ...] = (
    (-90, 50, 90),
    (-80, 20, 90),
    (-70, 0, 90),
    (-60, -20, 90),
    (-50, -30, 100),
    (-40, -40, 100),
    (-30, -50, 100),
    (-20, -50, 100),
    (-10, -60, 100),
    (0, -70, 100),
    (10, -80, 90),
    (20, -80, 90),
    (30, -90, 90),
    (40, -100, 90),
    (50, -100, 80),
    (60, -110, 80),
    (70, -110, 80),
    (80, -110, 70),
    (90, -110, 70),
    (100, -90, 0),
)


# --------------------------------------------------------------------------------------------------
# The bins
# --------------------------------------------------------------------------------------------------


def ab_bins(dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> torch.Tensor:
    """The Q = 313 ECCV16 bin centres, ``(313, 2)`` rows of (a, b), sorted by a then b.

    Identical to the released ``pts_in_hull.npy`` (built from :data:`AB_BINS_TABLE`).
    """
    step = int(AB_GRID_STEP)
    rows = [(a, b) for a, b_min, b_max in AB_BINS_TABLE for b in range(b_min, b_max + 1, step)]
    return torch.tensor(rows, dtype=dtype, device=device)


def grid_bins(dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> torch.Tensor:
    """The full 23 x 23 grid over [-110, 110] step 10, ``(529, 2)``; row ``a_idx * 23 + b_idx``.

    This is the class set of the SIGGRAPH17 PyTorch code (``idx = round((ab + 110) / 10)``).
    """
    axis = AB_GRID_MIN + AB_GRID_STEP * torch.arange(AB_GRID_SIZE, dtype=torch.float64)
    a, b = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([a.reshape(-1), b.reshape(-1)], dim=1).to(dtype=dtype, device=device)


def in_gamut_grid(device: torch.device | str | None = None) -> torch.Tensor:
    """Boolean ``(529,)`` mask of the 313 ECCV16 bins on :func:`grid_bins` (the released ``in_hull.npy``)."""
    idx = torch.round((ab_bins(torch.float64) - AB_GRID_MIN) / AB_GRID_STEP).long()
    mask = torch.zeros(AB_GRID_SIZE * AB_GRID_SIZE, dtype=torch.bool)
    mask[idx[:, 0] * AB_GRID_SIZE + idx[:, 1]] = True
    return mask.to(device)


def _rgb_cube_surface(levels: int) -> torch.Tensor:
    """All colours on the 6 faces of the RGB cube at ``levels`` levels per axis, ``(6 * levels^2, 3)``."""
    v = torch.linspace(0.0, 1.0, levels, dtype=torch.float64)
    s, t = (x.reshape(-1) for x in torch.meshgrid(v, v, indexing="ij"))
    faces = []
    for axis in range(3):
        for value in (0.0, 1.0):
            cols = [s, t]
            cols.insert(axis, torch.full_like(s, value))
            faces.append(torch.stack(cols, dim=1))
    return torch.cat(faces)


def naive_gamut_bins(
    levels: int = 256, rule: str = "corners", dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Recompute an in-gamut bin set from sRGB, to compare with the released 313 (and see it differ).

    Every sRGB colour is converted to Lab and marks grid points (step 10) by ``rule``:

    * ``"corners"``: the 4 grid points at the corners of the 10 x 10 grid square the colour falls in
      (floor and ceil of a/10 and b/10), i.e. every grid point closer than 10 in both a and b. With
      all 256^3 colours this gives **309** bins, all inside the 313, missing (40, 90), (100, -90),
      (100, -10) and (100, 0).
    * ``"round"``: the nearest grid point only (the 10 x 10 cell centred on a grid point that contains
      the colour): 261 bins.

    No simple rule reproduces the 313 (reference-facts.md section 1.2), which is why :func:`ab_bins`
    ships them as data. For speed only the surface of the RGB cube is sampled (``6 * levels^2``
    colours, about 0.2 s at 256 levels): in practice the ab footprint of the solid cube is that of
    its faces; at 256 levels they mark exactly the bins of the full 256^3 cube (checked once: 20 s).

    Returns:
        ``(M, 2)`` bin centres, sorted a-major like :func:`ab_bins`.
    """
    if rule not in ("corners", "round"):
        raise ValueError(f"rule must be 'corners' or 'round', got {rule!r}.")
    if not isinstance(levels, int) or levels < 2:
        raise ValueError(f"levels must be an integer >= 2, got {levels!r}.")
    ab = rgb_to_lab(_rgb_cube_surface(levels), dim=-1, check=False)[:, 1:]
    cells = ab / AB_GRID_STEP
    if rule == "round":
        marked = torch.round(cells)
    else:
        lo, hi = torch.floor(cells), torch.ceil(cells)
        marked = torch.cat(
            [lo, hi, torch.stack([lo[:, 0], hi[:, 1]], 1), torch.stack([hi[:, 0], lo[:, 1]], 1)]
        )
    # an occupancy grid of the marked points; nonzero() lists them a-major, like ab_bins
    marked = marked.long()
    lo = marked.min(0).values
    size = marked.max(0).values - lo + 1
    occupied = torch.zeros(int(size[0]), int(size[1]), dtype=torch.bool)
    occupied[marked[:, 0] - lo[0], marked[:, 1] - lo[1]] = True
    return ((occupied.nonzero() + lo) * int(AB_GRID_STEP)).to(dtype)


# --------------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------------


def _check_ab(ab, name: str = "ab") -> None:
    if not isinstance(ab, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N, 2, H, W), got {type(ab).__name__}.")
    if not ab.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor of Lab ab values, got dtype {ab.dtype}.")
    if ab.ndim < 3 or ab.shape[-3] != 2:
        raise ValueError(
            f"{name} must have shape (N, 2, H, W) or (2, H, W) (unnormalised ab, channel axis -3), "
            f"got {tuple(ab.shape)}."
        )
    if ab.numel() and not all(map(math.isfinite, torch.stack(ab.aminmax()).tolist())):  # NaN propagates
        raise ValueError(f"{name} contains NaN or inf values.")


def _resolve_bins(bins, like: torch.Tensor | None = None) -> torch.Tensor:
    if bins is None:
        bins = ab_bins(torch.float32)
    if not isinstance(bins, torch.Tensor) or bins.ndim != 2 or bins.shape[1] != 2 or bins.shape[0] < 1:
        shape = tuple(bins.shape) if isinstance(bins, torch.Tensor) else type(bins).__name__
        raise ValueError(f"bins must be a (Q, 2) tensor of (a, b) bin centres, got {shape}.")
    if like is not None:
        bins = bins.to(device=like.device, dtype=_work_dtype(like))
    return bins


def _work_dtype(x: torch.Tensor) -> torch.dtype:
    return x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32


def _check_scores(z, Q: int, name: str) -> None:
    if not isinstance(z, torch.Tensor) or not z.is_floating_point():
        raise TypeError(f"{name} must be a floating-point torch.Tensor of shape (N, Q, H, W).")
    if z.ndim < 3 or z.shape[-3] != Q:
        raise ValueError(
            f"{name} must have shape (N, Q, H, W) or (Q, H, W) with Q = {Q} classes on axis -3 "
            f"(the number of bins), got {tuple(z.shape)}."
        )




_DEFAULT_BINS: dict = {}  # (device, dtype) -> the 313 bins there


def _knn(ab: torch.Tensor, bins, k: int, sigma: float | None = None):
    """k nearest bins of every pixel of ``ab`` (..., 2, H, W): (values, idx), each (..., k, H, W), and
    Q. Values are squared distances, or with ``sigma`` the soft-encoding weights."""
    if bins is None:  # the 313 bins, cached per device and dtype (saves rebuilding them per call)
        key = (ab.device, _work_dtype(ab))
        if key not in _DEFAULT_BINS:
            _DEFAULT_BINS[key] = ab_bins(_work_dtype(ab), ab.device)
        bins = _DEFAULT_BINS[key]
    else:
        bins = _resolve_bins(bins, ab)
    Q = bins.shape[0]
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= Q:
        raise ValueError(f"k must be an integer in [1, Q={Q}], got {k!r}.")
    lead, (H, W) = ab.shape[:-3], ab.shape[-2:]
    B = math.prod(lead)
    pts = ab.detach().to(bins.dtype).reshape(B, 2, H * W).transpose(0, 1).reshape(2, -1)  # (2, P)
    values, idx = knn_flat(pts, bins.detach(), k, sigma)

    def back(v):  # (k, B*H*W) -> (..., k, H, W)
        return v.reshape(k, B, H, W).transpose(0, 1).reshape(*lead, k, H, W)

    return back(values), back(idx), Q


# --------------------------------------------------------------------------------------------------
# Encoding ground-truth ab (paper section 2.1)
# --------------------------------------------------------------------------------------------------


def encode_nearest(ab: torch.Tensor, bins: torch.Tensor | None = None) -> torch.Tensor:
    """Index of the nearest bin for every pixel: ``(N, 2, H, W)`` -> ``(N, H, W)`` int64 in [0, Q).

    The hard (1-hot) version of the target; also the bin that decides a pixel's rebalancing weight.
    """
    _check_ab(ab)
    _, idx, _ = _knn(ab, bins, 1)
    return idx.squeeze(-3)


def decode_index(idx: torch.Tensor, bins: torch.Tensor | None = None) -> torch.Tensor:
    """Bin centres of class indices: ``(N, H, W)`` int64 -> ``(N, 2, H, W)`` ab (float32 by default bins)."""
    if not isinstance(idx, torch.Tensor) or idx.is_floating_point() or idx.is_complex():
        raise TypeError("idx must be an integer tensor of bin indices, shape (N, H, W).")
    bins = _resolve_bins(bins).to(idx.device)
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= bins.shape[0]):
        raise ValueError(f"idx must be in [0, {bins.shape[0]}), got [{int(idx.min())}, {int(idx.max())}].")
    return bins[idx].movedim(-1, -3)


def soft_encode_topk(
    ab: torch.Tensor, k: int = PAPER_K, sigma: float = SIGMA, bins: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Soft-encoding in sparse form: the k nearest bins and their weights (paper footnote 1).

    Weights are ``exp(-d^2 / (2 sigma^2))`` over the k nearest bins, normalised to sum 1 per pixel
    (computed as a softmax, so a tiny ``sigma`` gives a clean 1-hot instead of 0/0).

    Args:
        ab: ``(N, 2, H, W)`` unnormalised ab.
        k: number of nearest bins; the paper says 5, the released code uses 10 (:data:`CODE_K`).
        sigma: Gaussian width in ab units (paper: 5).
        bins: ``(Q, 2)`` bin centres, default the 313 ECCV16 bins.

    Returns:
        ``(idx, weights)``, both ``(N, k, H, W)``: int64 bin indices (in no particular order) and
        their weights, in ab's dtype. ``-(weights * log_probs.gather(1, idx)).sum(1)`` is the soft
        cross-entropy (Eq. 2) without building the dense ``(N, Q, H, W)`` target.
    """
    _check_ab(ab)
    sigma = _check_positive(sigma, "sigma")
    weights, idx, _ = _knn(ab, bins, k, sigma)
    return idx, weights.to(ab.dtype)


def soft_encode(
    ab: torch.Tensor, k: int = PAPER_K, sigma: float = SIGMA, bins: torch.Tensor | None = None
) -> torch.Tensor:
    """Soft-encoded targets ``Z`` of Eq. 2: ``(N, 2, H, W)`` ab -> ``(N, Q, H, W)`` distributions.

    Each pixel's target has exactly k non-zero entries, Gaussian in the distance to the k nearest
    bins (sigma 5), summing to 1. See :func:`soft_encode_topk` for the arguments and a sparse form
    that avoids the dense tensor (40 x 313 x 56 x 56 float32 is 157 MB).
    """
    idx, weights = soft_encode_topk(ab, k=k, sigma=sigma, bins=bins)
    Q = NUM_AB_BINS if bins is None else bins.shape[0]
    out = _zeros((*ab.shape[:-3], Q, *ab.shape[-2:]), ab.dtype, ab.device)
    return out.scatter_(-3, idx, weights)


_NUMPY_DTYPES = {torch.float16: np.float16, torch.float32: np.float32, torch.float64: np.float64}


def _zeros(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``torch.zeros``, but on the CPU from ``numpy.zeros`` (calloc): for a large array the OS hands
    out pages that are already zero, so only the pages the scatter then writes are ever touched.
    ``torch.zeros`` first writes every byte (157 MB for a 40 x 313 x 56 x 56 float32 target), which
    costs more than the whole soft-encoding."""
    if device.type == "cpu" and dtype in _NUMPY_DTYPES:
        return torch.from_numpy(np.zeros(shape, dtype=_NUMPY_DTYPES[dtype]))
    return torch.zeros(shape, dtype=dtype, device=device)


# --------------------------------------------------------------------------------------------------
# Class rebalancing (paper section 2.2, Eq. 4)
# --------------------------------------------------------------------------------------------------


def _check_positive(value, name: str) -> float:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}.")
    return float(value)


def _bin_kernel(bins64: torch.Tensor, sigma: float) -> torch.Tensor:
    """(Q, Q) Gaussian kernel between bin centres, each row summing to 1."""
    d2 = torch.cdist(bins64, bins64).pow(2)
    kernel = torch.exp(-d2 / (2.0 * sigma**2))
    return kernel / kernel.sum(dim=1, keepdim=True)


def smooth_prior(prior: torch.Tensor, sigma: float = SIGMA, bins: torch.Tensor | None = None) -> torch.Tensor:
    """Smooth a ``(Q,)`` distribution over bins with a Gaussian of width ``sigma`` (ab units).

    Each bin spreads its mass over the bins with weights ``exp(-d^2 / (2 sigma^2))`` normalised per
    source bin, so no mass leaks past the edge of the gamut; the result sums to 1.
    """
    bins64 = _resolve_bins(bins).detach().to("cpu", torch.float64)
    p = _check_distribution(prior, bins64.shape[0], "prior")
    sigma = _check_positive(sigma, "sigma")
    smoothed = p @ _bin_kernel(bins64, sigma)
    return (smoothed / smoothed.sum()).to(prior.dtype if prior.is_floating_point() else torch.float64)


def _check_distribution(p, Q: int, name: str) -> torch.Tensor:
    """Validate a (Q,) non-negative vector and return it normalised, float64, on the CPU."""
    if not isinstance(p, torch.Tensor) or p.ndim != 1 or p.shape[0] != Q:
        shape = tuple(p.shape) if isinstance(p, torch.Tensor) else type(p).__name__
        raise ValueError(f"{name} must be a 1-D tensor of {Q} bin probabilities, got {shape}.")
    p = p.detach().to("cpu", torch.float64)
    if not torch.isfinite(p).all() or (p < 0).any() or p.sum() <= 0:
        raise ValueError(f"{name} must be finite, non-negative and not all zero.")
    return p / p.sum()


def empirical_prior(
    ab_batches: torch.Tensor | Iterable[torch.Tensor],
    sigma: float = SIGMA,
    bins: torch.Tensor | None = None,
    smooth: bool = True,
) -> torch.Tensor:
    """The empirical distribution ``p~`` of ab colours over the bins (section 2.2, Fig. 3b).

    Counts each pixel's nearest bin over one ab tensor ``(N, 2, H, W)`` or an iterable of them (a
    data loader: one pass, constant memory), normalises, and by default smooths with a Gaussian of
    width ``sigma`` over the distance between bin centres (:func:`smooth_prior`): the released
    ``prior_probs.npy`` was "smoothed with the same Gaussian used for the soft targets" (sigma 5).

    Returns:
        ``(Q,)`` float64 on the CPU, summing to 1. Bins no pixel came near have probability 0
        when ``smooth=False``.
    """
    bins_t = _resolve_bins(bins)
    Q = bins_t.shape[0]
    counts = torch.zeros(Q, dtype=torch.float64)
    batches = [ab_batches] if isinstance(ab_batches, torch.Tensor) else ab_batches
    for ab in batches:
        idx = encode_nearest(ab, bins)
        counts += torch.bincount(idx.reshape(-1).cpu(), minlength=Q).double()
    if counts.sum() == 0:
        raise ValueError("empirical_prior got no pixels: ab_batches is empty.")
    prior = counts / counts.sum()
    return smooth_prior(prior, sigma=sigma, bins=bins_t) if smooth else prior


def rebalance_weights(prior: torch.Tensor, lam: float = PAPER_LAMBDA) -> torch.Tensor:
    """Class-rebalancing weights of Eq. 4: ``w ∝ ((1 - lam) p + lam / Q)^-1`` with ``sum_q p_q w_q = 1``.

    Args:
        prior: ``(Q,)`` (smoothed) empirical distribution of the bins; normalised here if needed.
        lam: mixing weight with the uniform distribution, in [0, 1]. The paper trains with 1/2;
            ``lam = 1`` gives all-ones (no rebalancing, "Ours (class)"); ``lam = 0`` is the pure
            inverse prior of the class-balanced AuC (section 3.1).

    Returns:
        ``(Q,)`` weights, same dtype as ``prior`` (float64 for integer counts), on the CPU.

    With ``lam = 0`` a bin of zero probability would get an infinite weight; it gets **weight 0**
    instead (no pixel falls in it, so the expectation is unchanged). The released ``PriorBoostLayer``
    mixes with a uniform over the *non-zero* bins rather than over all Q; we follow the paper's
    ``lam / Q``.
    """
    if isinstance(lam, torch.Tensor) and lam.numel() == 1:
        lam = lam.item()
    if isinstance(lam, bool) or not isinstance(lam, numbers.Real) or not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must be a number in [0, 1], got {lam!r}.")
    if not isinstance(prior, torch.Tensor) or prior.ndim != 1:
        shape = tuple(prior.shape) if isinstance(prior, torch.Tensor) else type(prior).__name__
        raise ValueError(f"prior must be a 1-D (Q,) tensor of bin probabilities, got {shape}.")
    Q = prior.shape[0]
    p = _check_distribution(prior, Q, "prior")
    mix = (1.0 - lam) * p + lam / Q
    w = torch.where(mix > 0, 1.0 / mix.clamp(min=torch.finfo(mix.dtype).tiny), torch.zeros_like(mix))
    w = w / (p * w).sum()
    return w.to(prior.dtype if prior.is_floating_point() else torch.float64)


def pixel_weights(ab: torch.Tensor, weights: torch.Tensor, bins: torch.Tensor | None = None) -> torch.Tensor:
    """Per-pixel rebalancing factor ``v(Z_hw) = w_q*`` with ``q*`` the nearest bin (Eq. 2):
    ``(N, 2, H, W)`` ab -> ``(N, H, W)`` weights on ab's device."""
    idx = encode_nearest(ab, bins)
    Q = NUM_AB_BINS if bins is None else bins.shape[0]
    if not isinstance(weights, torch.Tensor) or weights.shape != (Q,):
        raise ValueError(f"weights must be a ({Q},) tensor from rebalance_weights.")
    return weights.to(idx.device)[idx]


# --------------------------------------------------------------------------------------------------
# From a predicted distribution to a colour (paper section 2.3, Eq. 5)
# --------------------------------------------------------------------------------------------------


def _log_probs(z: torch.Tensor, from_logits: bool) -> torch.Tensor:
    if from_logits:
        return torch.log_softmax(z, dim=-3)
    if z.numel() and (z < 0).any():
        raise ValueError("probabilities must be non-negative; pass from_logits=True for raw scores.")
    return torch.log(z.clamp(min=torch.finfo(z.dtype).tiny))


def _check_annealed_mean_args(logits_or_probs, T, bins, from_logits) -> None:
    _check_scores(logits_or_probs, _resolve_bins(bins).shape[0], "logits_or_probs")
    _check_positive(T, "T")


@checked_by(_check_annealed_mean_args)
def annealed_mean(
    logits_or_probs: torch.Tensor,
    T: float = PAPER_T,
    bins: torch.Tensor | None = None,
    from_logits: bool = True,
) -> torch.Tensor:
    """The annealed mean H(Z) of Eq. 5: ``E[f_T(z)]`` with ``f_T(z) = softmax(log z / T)``.

    ``T = 1`` is the mean of the distribution (desaturated, "sepia"), ``T -> 0`` its mode (vivid but
    patchy); the paper uses ``T = 0.38`` (:data:`PAPER_T`). The released Caffe model multiplies
    the logits by 2.606, i.e. ``T = 1/2.606 ≈ 0.3838`` (:data:`CAFFE_T`). From logits, ``log z`` is
    ``log_softmax(logits)``, so ``f_T`` is simply ``softmax(logits / T)``.

    Args:
        logits_or_probs: ``(N, Q, H, W)`` class scores (logits, or probabilities with
            ``from_logits=False``).
        T: temperature > 0.
        bins: ``(Q, 2)`` bin centres, default the 313 ECCV16 bins.

    Returns:
        ``(N, 2, H, W)`` ab in Lab units, in the scores' dtype.
    """
    bins = _resolve_bins(bins)
    z = logits_or_probs
    probs = torch.softmax(_log_probs(z, from_logits) / float(T), dim=-3)  # f_T(z) = softmax(log z / T)
    return torch.einsum("...qhw,qc->...chw", probs, bins.to(z.device, z.dtype))  # E[f_T(z)] over the bins


def distribution_mean(
    logits_or_probs: torch.Tensor, bins: torch.Tensor | None = None, from_logits: bool = True
) -> torch.Tensor:
    """Mean of the predicted distribution over bin centres (Eq. 5 with T = 1).

    ``(N, Q, H, W)`` -> ``(N, 2, H, W)``; desaturated where the distribution is multimodal.
    """
    return annealed_mean(logits_or_probs, T=1.0, bins=bins, from_logits=from_logits)


def distribution_mode(logits_or_probs: torch.Tensor, bins: torch.Tensor | None = None) -> torch.Tensor:
    """Centre of the most probable bin (the T -> 0 limit of Eq. 5): ``(N, Q, H, W)`` -> ``(N, 2, H, W)``.

    Works the same on logits or probabilities (argmax is unchanged by softmax).
    """
    bins = _resolve_bins(bins)
    _check_scores(logits_or_probs, bins.shape[0], "logits_or_probs")
    z = logits_or_probs
    return bins.to(z.device, z.dtype)[z.argmax(dim=-3)].movedim(-1, -3)


# --------------------------------------------------------------------------------------------------
# Lightness classes (the split-brain autoencoder's grey prediction; thesis sec. 5.5.1)
# --------------------------------------------------------------------------------------------------

L_BIN_WIDTH = 2.0  # thesis sec. 5.5.1: L, between 0 and 100, is quantized into 50 bins of size 2
NUM_L_BINS = 50


def _check_l(L) -> None:
    if not isinstance(L, torch.Tensor) or not L.is_floating_point():
        raise TypeError(f"L must be a floating-point tensor of Lab lightness in [0, 100], got "
                        f"{L.dtype if isinstance(L, torch.Tensor) else type(L).__name__}")
    if L.numel() and (float(L.min()) < -1e-2 or float(L.max()) > 100 + 1e-2):
        raise ValueError(f"L must be Lab lightness in [0, 100] (not the network's normalised (L - 50)/100), got "
                         f"values in [{float(L.min()):.3g}, {float(L.max()):.3g}]")


@checked_by(_check_l)
def encode_l(L: torch.Tensor) -> torch.Tensor:
    """The lightness class of every value, ``floor(L / 2)`` in [0, 50) (int64, same shape); L = 100 falls in
    the last class, with 98 <= L < 100."""
    return torch.floor(L / L_BIN_WIDTH).clamp(0, NUM_L_BINS - 1).long()


def decode_l(idx: torch.Tensor) -> torch.Tensor:
    """The centres of lightness classes, ``2 idx + 1`` (1, 3, ..., 99), float32."""
    if not isinstance(idx, torch.Tensor) or idx.is_floating_point() or idx.is_complex():
        raise TypeError("idx must be an integer tensor of lightness classes")
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= NUM_L_BINS):
        raise ValueError(f"lightness classes lie in [0, {NUM_L_BINS}), got [{int(idx.min())}, {int(idx.max())}]")
    return (idx.float() + 0.5) * L_BIN_WIDTH
