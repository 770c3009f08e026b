"""Scoring perceptual metrics against human judgments, and learning LPIPS's linear weights from them.

Zhang, Isola, Efros, Shechtman, Wang, "The Unreasonable Effectiveness of Deep Features as a Perceptual
Metric", CVPR 2018 = chapter 6 of R. Zhang's thesis (``papers/000_...txt``). Section references below are
to the thesis chapter; "facts" means ``reference-facts.md`` section 5.3 (the released ``lpips`` code).

What is here, in the order of the chapter:

* **2AFC scoring** (sec. 6.4.1). Each triplet (x, x0, x1) comes with ``judge`` = the fraction of observers
  who said x1 is closer to x. A metric that calls x0 closer earns the fraction of observers who agreed,
  ``1 - judge``; ties earn half (:func:`two_afc_credit`, :func:`two_afc_score`). The *human* score is how
  often two random observers agree, ``p^2 + (1 - p)^2`` (:func:`human_agreement_ceiling`); an oracle that
  always picks the majority earns ``max(p, 1 - p)`` (:func:`oracle_2afc_score`).
* **JND scoring** (sec. 6.4.1, "Do metrics correlate across different perceptual tests?"): order the
  pairs by distance and compute the average precision of finding the pairs people judged "same"
  (:func:`jnd_map`).
* **Low-level baselines** as distance functions on image batches in [0, 1]: :func:`l2_distance`,
  :func:`psnr_distance`, :func:`ssim_distance`; any LPIPS-like module becomes one through
  :func:`distance_fn_from_module`. :func:`evaluate_2afc` and :func:`evaluate_jnd` score any of them on a
  set of judgments.
* **Training on judgments** (sec. 6.3, "Training on our data"; Eq. 6.1, 6.2, Fig. 6.2 right): the small
  network G (:class:`RankingHead`) maps the two distances (d0, d1) to the predicted judgment and is
  trained with binary cross-entropy together with the linear weights w (``lin``), or w and the whole
  trunk (``tune``), or w and a randomly re-initialised trunk (``scratch``): :func:`train_lin`.

Value ranges. Distance functions take RGB batches (N, 3, H, W) in **[0, 1]**. LPIPS modules take
**[-1, 1]**, and so do the BAPPS patches (:mod:`reprolib.chapters.lpips.bapps`). Every function that moves data
between the two asks for the data's ``value_range``, ``(0, 1)`` or ``(-1, 1)``, and converts.

An LPIPS-like module (``reprolib.metrics.lpips.LPIPS``, or any module with the same interface) has ``lins`` (a
sequence of modules, one per layer, each holding a Dropout and a ``Conv2d(C_k, 1, 1, bias=False)``), a
trunk (the feature network, attribute ``trunk`` or ``net``), ``layer_distances(x0, x1)`` (the per-layer
squared differences of unit-normalised features, N x C_k x h_k x w_k), ``forward(x0, x1)``
(N x 1 x 1 x 1) and ``project_nonnegative_()``. Where ``layer_distances`` and ``forward`` accept a
``normalize`` argument (as ``reprolib.metrics.lpips.LPIPS`` does), it is passed ``normalize=False``: the data
were already checked to be in [-1, 1].
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from reprolib.metrics.distances import _check_images, _check_in_range, _check_value_range, to_value_range

__all__ = [
    "DistanceFn",
    "two_afc_credit",
    "two_afc_score",
    "human_agreement_ceiling",
    "oracle_2afc_score",
    "voc_average_precision",
    "jnd_map",
    "distance_fn_from_module",
    "TwoAFCResult",
    "JNDResult",
    "evaluate_2afc",
    "evaluate_jnd",
]


#: A distance function: ``fn(x0, x1)`` with x0, x1 (N, 3, H, W) RGB in [0, 1], returns N distances
#: (smaller = more similar) as a tensor of N elements.
DistanceFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


# ----------------------------------------------------------------------------------------------
# input checks and value ranges


def _as_vector(x: Any, name: str) -> torch.Tensor:
    """A float64 CPU vector from a tensor, array or sequence of numbers (any shape is flattened)."""
    if isinstance(x, torch.Tensor):
        t = x.detach().to("cpu", torch.float64)
    else:
        try:
            t = torch.as_tensor(np.asarray(x, dtype=np.float64))
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a tensor, array or sequence of numbers, got {type(x).__name__}") from None
    t = t.flatten()
    if t.numel() == 0:
        raise ValueError(f"{name} is empty")
    return t


def _check_fractions(x: torch.Tensor, name: str, meaning: str) -> None:
    if not bool(torch.isfinite(x).all()) or bool((x < 0).any()) or bool((x > 1).any()):
        lo, hi = float(x.min()), float(x.max())
        raise ValueError(f"{name} must hold fractions in [0, 1] ({meaning}); got values in [{lo:.4g}, {hi:.4g}]")


def _check_same_length(*pairs: tuple[str, torch.Tensor]) -> None:
    n = {name: t.numel() for name, t in pairs}
    if len(set(n.values())) != 1:
        raise ValueError(f"inputs must have one entry per example, got lengths {n}")


# ----------------------------------------------------------------------------------------------
# 2AFC (sec. 6.4.1)


def _credit(d0: torch.Tensor, d1: torch.Tensor, judge: torch.Tensor) -> torch.Tensor:
    """The 2AFC credit, on any device and dtype (no checks)."""
    return (d0 < d1) * (1.0 - judge) + (d1 < d0) * judge + (d0 == d1) * 0.5


def two_afc_credit(d0: Any, d1: Any, judge: Any) -> torch.Tensor:
    """Per-triplet 2AFC credit: the fraction of observers who agree with the metric.

    ``judge`` is the fraction of observers who judged x1 closer to the reference. A metric that finds x0
    closer (``d0 < d1``) agrees with the ``1 - judge`` who chose x0; one that finds x1 closer agrees with
    ``judge``; a tie earns 0.5 (sec. 6.4.1: with 4 votes for x0 and 1 for x1, a metric that picks the
    majority's x0 gets 80 % credit; facts 5.3)::

        credit = [d0 < d1] (1 - judge) + [d1 < d0] judge + 0.5 [d0 = d1]

    Args:
        d0, d1: distances d(x, x0) and d(x, x1), N entries each (tensors of any shape, arrays or lists).
        judge: N fractions in [0, 1].

    Returns:
        (N,) float64 tensor of credits in [0, 1].
    """
    d0, d1, judge = _as_vector(d0, "d0"), _as_vector(d1, "d1"), _as_vector(judge, "judge")
    _check_same_length(("d0", d0), ("d1", d1), ("judge", judge))
    # +-inf is ordered (psnr_distance gives -inf for identical images); only NaN has no order.
    if bool(torch.isnan(d0).any() | torch.isnan(d1).any()):
        raise ValueError("d0 and d1 must not be NaN (a NaN distance has no order; they need not be finite)")
    _check_fractions(judge, "judge", "the fraction of observers who preferred x1")
    return _credit(d0, d1, judge)


def two_afc_score(d0: Any, d1: Any, judge: Any) -> float:
    """The 2AFC score: mean of :func:`two_afc_credit` over the triplets, in [0, 1] (the paper reports %)."""
    return float(two_afc_credit(d0, d1, judge).mean())


def human_agreement_ceiling(judge: Any) -> float:
    """Expected 2AFC score of a human: mean of ``p^2 + (1 - p)^2`` with ``p = judge``.

    Sec. 6.4.1: an agent that picks x1 and x0 with probabilities {q, 1 - q} agrees, on average, with a
    fraction qp + (1 - q)(1 - p) of the observers; a human agent has q = p, which gives p^2 + (1 - p)^2.
    This is the "human" bar of Fig. 6.3 (73.9 % averaged over the six validation sets).
    It is not an upper bound: :func:`oracle_2afc_score` is.
    """
    p = _as_vector(judge, "judge")
    _check_fractions(p, "judge", "the fraction of observers who preferred x1")
    return float((p**2 + (1 - p) ** 2).mean())


def oracle_2afc_score(judge: Any) -> float:
    """The best possible 2AFC score, ``mean(max(p, 1 - p))``: a metric that always sides with the majority
    (sec. 6.4.1: no oracle can do better than max(p, 1 - p))."""
    p = _as_vector(judge, "judge")
    _check_fractions(p, "judge", "the fraction of observers who preferred x1")
    return float(torch.maximum(p, 1 - p).mean())


# ----------------------------------------------------------------------------------------------
# JND (sec. 6.4.1)


def voc_average_precision(recall: Any, precision: Any) -> float:
    """Area under the interpolated precision-recall curve (PASCAL VOC 2010+ "all points" AP).

    The curve gets the end points (recall 0, precision 0) and (recall 1, precision 0); each precision is
    replaced by the highest precision at any recall to its right (the interpolated "envelope"); the AP is
    ``sum (r_{i+1} - r_i) p_interp(r_{i+1})`` over the points where recall changes. This is the
    ``voc_ap`` the released ``lpips`` code uses for JND (facts 5.3).

    Args:
        recall: non-decreasing recalls in [0, 1], one per operating point.
        precision: the matching precisions in [0, 1].
    """
    rec, prec = _as_vector(recall, "recall").numpy(), _as_vector(precision, "precision").numpy()
    if rec.shape != prec.shape:
        raise ValueError(f"recall and precision must have the same length, got {rec.size} and {prec.size}")
    if np.any(np.diff(rec) < 0):
        raise ValueError("recall must be non-decreasing (operating points in order of increasing threshold)")
    for name, v in (("recall", rec), ("precision", prec)):
        if not np.all(np.isfinite(v)) or v.min() < 0 or v.max() > 1:
            raise ValueError(f"{name} must lie in [0, 1]")
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]  # precision envelope: max over recalls to the right
    i = np.nonzero(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def _jnd_curve(distances: torch.Tensor, same: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    order = torch.sort(distances, stable=True).indices
    d, s = distances[order], same[order]
    tp = torch.cumsum(s, 0)  # "same" mass among the k closest pairs
    k = torch.arange(1, d.numel() + 1, dtype=torch.float64)
    # Tied distances are one threshold: keep only the last pair of each run of equal distances, so the
    # score does not depend on the order of tied pairs (the reference's argsort leaves it unspecified).
    last = torch.ones_like(d, dtype=torch.bool)
    last[:-1] = d[1:] != d[:-1]
    # Recall against the cumulative total (not s.sum(), which may differ in the last bit) ends at exactly 1.
    return (tp[last] / tp[-1]).clamp(0, 1), (tp[last] / k[last]).clamp(0, 1)


def jnd_map(distances: Any, same: Any) -> float:
    """JND score: average precision of retrieving the pairs judged "same", closest pairs first.

    Sec. 6.4.1: the pairs are sorted by the metric's distance, smallest first, and a precision-recall curve
    is traced along that order; under a good metric the pairs that people mistake for "same" are the close
    ones. The score is the area under the curve (mAP). As in the released code (facts 5.3), each
    pair counts as ``same`` positives and ``1 - same`` negatives (``same`` = fraction of observers who
    said "same"): among the k closest pairs, ``TP_k = sum same``, precision ``TP_k / k``, recall
    ``TP_k / sum(same)``; the score is :func:`voc_average_precision` of that curve.

    A perfect ranking (every "same" pair closer than every "different" pair) scores 1; the reversed
    ranking scores the base rate ``mean(same)`` when the labels are 0/1. Pairs at exactly equal distance
    form one operating point (the result does not depend on their order).

    Args:
        distances: N distances between the two patches of each pair.
        same: N fractions in [0, 1]; at least one must be positive.

    Returns:
        The score in [0, 1].
    """
    d, s = _as_vector(distances, "distances"), _as_vector(same, "same")
    _check_same_length(("distances", d), ("same", s))
    if bool(torch.isnan(d).any()):  # +-inf is ordered (psnr_distance of identical images is -inf)
        raise ValueError("distances must not be NaN (they need not be finite)")
    _check_fractions(s, "same", "the fraction of observers who said the two patches look the same")
    if float(s.sum()) <= 0:
        raise ValueError("no pair was judged 'same' (all same == 0): precision-recall is undefined")
    recall, precision = _jnd_curve(d, s)
    return voc_average_precision(recall, precision)


# ----------------------------------------------------------------------------------------------
# low-level baselines: distance functions on RGB in [0, 1]


def _check_lpips_like(module: Any) -> None:
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be an LPIPS-like torch.nn.Module, got {type(module).__name__}")
    missing = [name for name in ("lins", "layer_distances", "project_nonnegative_") if not hasattr(module, name)]
    if not isinstance(getattr(module, "trunk", None), nn.Module) and not isinstance(
        getattr(module, "net", None), nn.Module
    ):
        missing.append("trunk (or net)")
    if missing:
        raise TypeError(
            f"{type(module).__name__} lacks {', '.join(missing)}; an LPIPS-like module needs lins, trunk, "
            "layer_distances(x0, x1), forward(x0, x1) and project_nonnegative_() (see reprolib.metrics.lpips.LPIPS)"
        )
    if len(list(module.lins)) == 0:
        raise ValueError(f"{type(module).__name__} has no linear layers (an unweighted baseline?): nothing to train")
    _lin_parts(module)


def _trunk(module: nn.Module) -> nn.Module:
    """The feature network: ``module.trunk``, or ``module.net`` (the name in ``reprolib.metrics.lpips.LPIPS``)."""
    trunk = getattr(module, "trunk", None)
    return trunk if isinstance(trunk, nn.Module) else module.net


def _lin_parts(module: nn.Module) -> list[tuple[float, nn.Conv2d]]:
    """(dropout probability, 1 x 1 convolution) of each linear layer."""
    parts = []
    for k, lin in enumerate(module.lins):
        convs = [m for m in lin.modules() if isinstance(m, nn.Conv2d)]
        drops = [m for m in lin.modules() if isinstance(m, nn.Dropout)]
        if len(convs) != 1 or convs[0].kernel_size != (1, 1) or convs[0].out_channels != 1:
            raise TypeError(f"linear layer {k} of {type(module).__name__} must hold one Conv2d(C, 1, 1), got {lin}")
        parts.append((float(drops[0].p) if drops else 0.0, convs[0]))
    return parts


@functools.lru_cache(maxsize=64)
def _takes_normalize(cls: type, method: str) -> bool:
    try:
        return "normalize" in inspect.signature(getattr(cls, method)).parameters
    except (TypeError, ValueError):
        return False


def _range_kwargs(module: nn.Module, method: str) -> dict[str, bool]:
    """``{"normalize": False}`` when ``module.<method>`` has that argument (inputs are known to be [-1, 1])."""
    return {"normalize": False} if _takes_normalize(type(module), method) else {}


def _module_device(module: nn.Module) -> torch.device:
    p = next(iter(module.parameters()), None)
    if p is None:
        b = next(iter(module.buffers()), None)
        return b.device if b is not None else torch.device("cpu")
    return p.device


def distance_fn_from_module(module: nn.Module) -> DistanceFn:
    """Turn a distance module taking [-1, 1] images (an LPIPS) into a :data:`DistanceFn` on [0, 1].

    The function maps its inputs with ``2x - 1``, moves them to the module's device, calls
    ``module(x0, x1)`` in eval mode without gradients (the module's train/eval mode is restored after)
    and returns the N distances as a float64 CPU tensor.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module taking (x0, x1) in [-1, 1], got {type(module).__name__}")

    def distance(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        _check_images(x0, x1)
        device = _module_device(module)
        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                d = module(x0.to(device) * 2 - 1, x1.to(device) * 2 - 1, **_range_kwargs(module, "forward"))
        finally:
            module.train(was_training)
        if not isinstance(d, torch.Tensor) or d.numel() != x0.shape[0]:
            got = tuple(d.shape) if isinstance(d, torch.Tensor) else type(d).__name__
            raise ValueError(f"{type(module).__name__}(x0, x1) must return one distance per image, got {got}")
        return d.detach().flatten().to("cpu", torch.float64)

    distance.__name__ = f"distance_{type(module).__name__}"
    return distance


# ----------------------------------------------------------------------------------------------
# data sources: tensors, a dataclass with tensors, or a Dataset of tuples


class _Examples:
    """Uniform batched access to judgment data given as tensors or as a map-style Dataset.

    ``fields`` names the entries, e.g. ("ref", "p0", "p1", "judge"); images are the leading fields and the
    last field is the per-example label. Accepted inputs: a tuple/list of tensors in that order; an
    object with those attributes (e.g. the judgment sets of ``reprolib.chapters.lpips.judgments``); a Dataset whose items
    are tuples in that order or dicts with those keys.
    """

    def __init__(self, data: Any, fields: tuple[str, ...], what: str):
        self.fields, self.what = fields, what
        label = fields[-1]
        self.tensors: tuple[torch.Tensor, ...] | None = None
        self.dataset: Any = None
        if isinstance(data, (tuple, list)) and all(isinstance(t, torch.Tensor) for t in data):
            if len(data) != len(fields):
                raise ValueError(f"{what} as tensors must be ({', '.join(fields)}), got {len(data)} tensors")
            self.tensors = tuple(data)
        elif all(hasattr(data, f) for f in fields):
            values = tuple(getattr(data, f) for f in fields)
            if values[-1] is None:
                raise ValueError(
                    f"these {what} have no known {label} ({label} is None): they can only be used to compare "
                    "metrics with each other, not to score or train against human judgments"
                )
            self.tensors = tuple(torch.as_tensor(v) for v in values)
        elif hasattr(data, "__getitem__") and hasattr(data, "__len__"):
            self.dataset = data
        else:
            raise TypeError(
                f"{what} must be a tuple of tensors ({', '.join(fields)}), an object with those attributes, "
                f"or a Dataset of such tuples; got {type(data).__name__}"
            )
        if self.tensors is not None:
            *images, labels = self.tensors
            n = images[0].shape[0] if images[0].ndim else 0
            for name, x in zip(fields, images):
                if x.ndim != 4 or x.shape[1] != 3:
                    raise ValueError(f"{name} must have shape (N, 3, H, W), got {tuple(x.shape)}")
                if x.shape != images[0].shape:
                    raise ValueError(
                        f"all images must have the same shape; {fields[0]} is {tuple(images[0].shape)}, "
                        f"{name} is {tuple(x.shape)}"
                    )
            if labels.numel() != n:
                raise ValueError(f"{label} must have one entry per example ({n}), got {labels.numel()}")
            self.n = n
        else:
            self.n = len(self.dataset)
        if self.n == 0:
            raise ValueError(f"the {what} are empty")

    def __len__(self) -> int:
        return self.n

    def get(self, index: torch.Tensor | Sequence[int]) -> tuple[torch.Tensor, ...]:
        """The examples at ``index``: the image batches and a float (B,) label vector."""
        if self.tensors is not None:
            idx = torch.as_tensor(index, dtype=torch.long)
            *images, labels = self.tensors
            return (*(x[idx] for x in images), labels.reshape(-1)[idx].float())
        items = [self.dataset[int(i)] for i in index]
        columns = []
        for j, name in enumerate(self.fields):
            try:
                values = [it[name] if isinstance(it, Mapping) else it[j] for it in items]
            except (KeyError, IndexError, TypeError):
                raise ValueError(
                    f"the items of the {self.what} dataset must be tuples or dicts of ({', '.join(self.fields)})"
                ) from None
            columns.append(torch.stack([torch.as_tensor(v) for v in values]))
        return (*columns[:-1], columns[-1].reshape(len(items)).float())


def _batches(n: int, batch_size: int):
    for start in range(0, n, batch_size):
        yield torch.arange(start, min(start + batch_size, n))


def _check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _resolve_range(data: Any, value_range: Any) -> tuple[float, float]:
    if value_range is None:
        value_range = getattr(data, "value_range", None)
    if value_range is None:
        raise ValueError(
            "value_range is needed: say whether the images are in (0, 1) or (-1, 1) "
            "(BAPPS datasets carry it as .value_range)"
        )
    return _check_value_range(value_range)


def _distances(fn: DistanceFn, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    d = fn(x0, x1)
    if not isinstance(d, torch.Tensor):
        d = torch.as_tensor(np.asarray(d, dtype=np.float64))
    if d.numel() != x0.shape[0]:
        raise ValueError(
            f"the distance function returned {d.numel()} values for a batch of {x0.shape[0]} pairs; it must "
            "return one distance per pair"
        )
    return d.detach().flatten().to("cpu", torch.float64)


def _progress_bar(total: int, desc: str, progress: bool | None):
    from tqdm.auto import tqdm

    from reprolib.train import show_progress

    return tqdm(total=total, desc=desc, disable=not show_progress(progress), dynamic_ncols=True)


# ----------------------------------------------------------------------------------------------
# scoring a metric on a set of judgments


@dataclass
class TwoAFCResult:
    """A metric's 2AFC evaluation.

    Attributes:
        score: mean credit (:func:`two_afc_score`).
        human: :func:`human_agreement_ceiling` of the same judgments.
        oracle: :func:`oracle_2afc_score` of the same judgments.
        d0, d1, judge, credit: per-triplet values, (N,) float64.
    """

    score: float
    human: float
    oracle: float
    d0: torch.Tensor = field(repr=False)
    d1: torch.Tensor = field(repr=False)
    judge: torch.Tensor = field(repr=False)
    credit: torch.Tensor = field(repr=False)

    @property
    def n(self) -> int:
        return int(self.d0.numel())


@dataclass
class JNDResult:
    """A metric's JND evaluation: ``score`` = :func:`jnd_map`; per-pair ``distances`` and ``same``."""

    score: float
    distances: torch.Tensor = field(repr=False)
    same: torch.Tensor = field(repr=False)

    @property
    def n(self) -> int:
        return int(self.distances.numel())


def evaluate_2afc(
    distance_fn: DistanceFn,
    triplets: Any,
    value_range: tuple[float, float] | None = None,
    batch_size: int = 50,
    progress: bool | None = None,
    desc: str = "2AFC",
) -> TwoAFCResult:
    """Score ``distance_fn`` on 2AFC judgments.

    Args:
        distance_fn: a :data:`DistanceFn` (RGB in [0, 1]), e.g. :func:`l2_distance` or
            ``distance_fn_from_module(lpips)``.
        triplets: ``(ref, p0, p1, judge)`` tensors, an object with those attributes, or a Dataset of
            such tuples (e.g. ``reprolib.chapters.lpips.bapps.BAPPS2AFC``).
        value_range: the range the images are in, ``(0, 1)`` or ``(-1, 1)``; default: the data's
            ``value_range`` attribute (BAPPS datasets have one).
        batch_size: triplets per call of ``distance_fn``.
        progress: tqdm bar (``None``: automatic).
    """
    if not callable(distance_fn):
        raise TypeError(f"distance_fn must be callable, got {type(distance_fn).__name__}")
    src = _Examples(triplets, ("ref", "p0", "p1", "judge"), "2AFC triplets")
    vr = _resolve_range(triplets, value_range)
    batch_size = _check_positive_int(batch_size, "batch_size")
    d0s, d1s, judges = [], [], []
    with _progress_bar(len(src), desc, progress) as bar, torch.no_grad():
        for idx in _batches(len(src), batch_size):
            ref, p0, p1, judge = src.get(idx)
            for name, x in (("ref", ref), ("p0", p0), ("p1", p1)):
                _check_in_range(x, vr, name)
            ref, p0, p1 = (to_value_range(x.float(), vr, (0.0, 1.0)).clamp(0, 1) for x in (ref, p0, p1))
            d0s.append(_distances(distance_fn, ref, p0))
            d1s.append(_distances(distance_fn, ref, p1))
            judges.append(judge.double().cpu())
            bar.update(len(idx))
    d0, d1, judge = torch.cat(d0s), torch.cat(d1s), torch.cat(judges)
    credit = two_afc_credit(d0, d1, judge)
    return TwoAFCResult(
        score=float(credit.mean()),
        human=human_agreement_ceiling(judge),
        oracle=oracle_2afc_score(judge),
        d0=d0, d1=d1, judge=judge, credit=credit,
    )


def evaluate_jnd(
    distance_fn: DistanceFn,
    pairs: Any,
    value_range: tuple[float, float] | None = None,
    batch_size: int = 50,
    progress: bool | None = None,
    desc: str = "JND",
) -> JNDResult:
    """Score ``distance_fn`` on JND judgments: ``pairs`` = ``(p0, p1, same)`` tensors, an object with
    those attributes, or a Dataset of such tuples (e.g. ``reprolib.chapters.lpips.bapps.BAPPSJND``). See
    :func:`evaluate_2afc` for the other arguments."""
    if not callable(distance_fn):
        raise TypeError(f"distance_fn must be callable, got {type(distance_fn).__name__}")
    src = _Examples(pairs, ("p0", "p1", "same"), "JND pairs")
    vr = _resolve_range(pairs, value_range)
    batch_size = _check_positive_int(batch_size, "batch_size")
    ds, sames = [], []
    with _progress_bar(len(src), desc, progress) as bar, torch.no_grad():
        for idx in _batches(len(src), batch_size):
            p0, p1, same = src.get(idx)
            for name, x in (("p0", p0), ("p1", p1)):
                _check_in_range(x, vr, name)
            p0, p1 = (to_value_range(x.float(), vr, (0.0, 1.0)).clamp(0, 1) for x in (p0, p1))
            ds.append(_distances(distance_fn, p0, p1))
            sames.append(same.double().cpu())
            bar.update(len(idx))
    d, same = torch.cat(ds), torch.cat(sames)
    return JNDResult(score=jnd_map(d, same), distances=d, same=same)
