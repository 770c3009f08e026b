"""Perceptual judgment sets whose answers are known by construction (for the LPIPS chapter).

BAPPS (thesis sec. 6.2.2) holds human judgments of two kinds:

* **2AFC**: a reference patch x and two distortions x0, x1; an observer says which is closer to x. The
  dataset stores ``judge``, the fraction of observers who chose x1 (reference-facts section 5.3).
* **JND**: a reference and one distorted patch shown one after the other; observers say "same" or
  "different".

The real judgments must be downloaded (an opt-in loader elsewhere). Offline, the book builds triplets
and pairs whose correct answer follows from how they were made, so a metric can be *tested* without
observers:

=================  ======================================================================  ==========
set                how the answer is known                                                 ``judge``
=================  ======================================================================  ==========
sentinel_2afc      one distortion, one random draw, two severities: the weaker is closer   0 or 1
equal_mse_2afc     structure-preserving vs. structure-damaging change at equal MSE         0 or 1
                   (Wang & Bovik 2009; Wang et al. 2004)
mixed_2afc         random distortions and severities: *no* answer is known                 ``None``
sentinel_jnd       identical copies ("same") vs. heavy noise ("different"), plus
                   near-threshold pairs with no label                                      ``same``
=================  ======================================================================  ==========

The thesis uses sentinels the same way, to check that human raters pay attention (sec. 6.2): for 2AFC,
pairs whose difference is unmistakable, such as heavy against light Gaussian noise; for JND, 40 sentinel
pairs, 32 identical and 8 with strong Gaussian noise.

All patches are float ``(N, 3, H, W)`` in [0, 1]; :meth:`TwoAFC.lpips_inputs` gives [-1, 1]. Every
function takes the reference patches and an explicit ``torch.Generator``; the same generator state gives
the same set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import torch

from reprolib.chapters.lpips.distortions import (
    DISTORTIONS,
    GROUPS,
    check_generator,
    check_images,
    clone_generator,
    get_distortion,
    to_lpips_range,
)
from reprolib.chapters.lpips.distortions import families as registry_families
from reprolib.validation import checked_by

__all__ = [
    "TwoAFC",
    "JNDPairs",
    "split_families",
    "solve_severity",
    "sentinel_2afc",
    "equal_mse_2afc",
    "mixed_2afc",
    "sentinel_jnd",
    "BENIGN_FAMILIES",
    "DAMAGING_FAMILIES",
    "EQUAL_MSE_TOLERANCE",
]

# Changes of global luminance and contrast leave the image's structure intact; blur, noise and JPEG
# blocking damage it (Wang et al. 2004; Wang & Bovik 2009, Fig. 2; see equal_mse_2afc).
BENIGN_FAMILIES: tuple[str, ...] = ("lightness_shift", "contrast")
DAMAGING_FAMILIES: tuple[str, ...] = ("gaussian_blur", "gaussian_noise", "jpeg")
EQUAL_MSE_TOLERANCE = 0.02  # |MSE0 - MSE1| / max(MSE0, MSE1) of an equal-MSE triplet


# ---------------------------------------------------------------------------------------------------
# Containers
# ---------------------------------------------------------------------------------------------------


@dataclass
class TwoAFC:
    """A set of 2AFC triplets (ref, p0, p1) with their judgments and how they were made.

    Attributes:
        ref, p0, p1: (N, 3, H, W) in [0, 1].
        judge: (N,) float, the fraction of (virtual) observers preferring p1 (0 = all chose p0), the
            BAPPS convention; ``None`` when the answer is unknown (:func:`mixed_2afc`).
        family0, family1: the distortion of each side; a composition is written ``"a+b"``.
        sev0, sev1: the severities, one tuple per triplet with one value per step of the family.
        mse0, mse1: (N,) mean squared error of p0 and p1 to ref.
        index: (N,) which input reference each triplet was made from (a set may skip some).
        kind: ``"sentinel"``, ``"equal_mse"`` or ``"mixed"``.
        info: how the set was built (families, ranges) and, for the sets that skip references,
            ``dropped``: the references left out.
    """

    ref: torch.Tensor
    p0: torch.Tensor
    p1: torch.Tensor
    judge: torch.Tensor | None
    family0: list[str]
    family1: list[str]
    sev0: list[tuple[float, ...]]
    sev1: list[tuple[float, ...]]
    mse0: torch.Tensor
    mse1: torch.Tensor
    index: torch.Tensor
    kind: str
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return self.ref.shape[0]

    @property
    def has_answers(self) -> bool:
        """Whether ``judge`` is known (False for :func:`mixed_2afc`: metric-vs-metric agreement only)."""
        return self.judge is not None

    def lpips_inputs(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(ref, p0, p1) in [-1, 1], the range LPIPS expects."""
        return to_lpips_range(self.ref), to_lpips_range(self.p0), to_lpips_range(self.p1)

    def subset(self, which: torch.Tensor | Sequence[int]) -> "TwoAFC":
        """The triplets ``which`` (indices or a boolean mask), as a new set."""
        idx = _as_index(which, len(self))
        pick = idx.tolist()
        return TwoAFC(
            ref=self.ref[idx], p0=self.p0[idx], p1=self.p1[idx],
            judge=None if self.judge is None else self.judge[idx],
            family0=[self.family0[i] for i in pick], family1=[self.family1[i] for i in pick],
            sev0=[self.sev0[i] for i in pick], sev1=[self.sev1[i] for i in pick],
            mse0=self.mse0[idx], mse1=self.mse1[idx], index=self.index[idx], kind=self.kind, info=dict(self.info),
        )


@dataclass
class JNDPairs:
    """Just-noticeable-difference pairs (ref, p).

    Attributes:
        ref, p: (N, 3, H, W) in [0, 1].
        same: (N,) float, the fraction of (virtual) observers answering "same": 1.0 for identical
            copies, 0.0 for obvious distortions, NaN where the answer is unknown (near threshold).
        level: (N,) long, 0 identical, 1 near threshold, 2 obvious. Within a set a sound metric
            should order the levels 0 < 1 < 2 on average.
        family: the distortion (``"identity"`` for copies); severity: (N,) float.
        mse: (N,) mean squared error of p to ref.
        index: (N,) which input reference each pair was made from.
    """

    ref: torch.Tensor
    p: torch.Tensor
    same: torch.Tensor
    level: torch.Tensor
    family: list[str]
    severity: torch.Tensor
    mse: torch.Tensor
    index: torch.Tensor
    kind: str = "sentinel"

    LEVELS = ("identical", "near_threshold", "obvious")

    def __len__(self) -> int:
        return self.ref.shape[0]

    @property
    def known(self) -> torch.Tensor:
        """(N,) bool: pairs whose answer is known (identical or obvious)."""
        return ~torch.isnan(self.same)

    def lpips_inputs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(ref, p) in [-1, 1], the range LPIPS expects."""
        return to_lpips_range(self.ref), to_lpips_range(self.p)


def _as_index(which, n: int) -> torch.Tensor:
    idx = torch.as_tensor(which)
    if idx.dtype == torch.bool:
        if idx.shape != (n,):
            raise ValueError(f"a boolean mask must have shape ({n},), got {tuple(idx.shape)}")
        return idx.nonzero().flatten()
    if idx.dtype.is_floating_point or idx.ndim != 1:
        raise ValueError(f"which must be a 1-D sequence of integer indices or a boolean mask, got {which!r}")
    if idx.numel() and (int(idx.min()) < -n or int(idx.max()) >= n):
        raise IndexError(f"indices out of range for a set of {n}")
    return idx.long() % max(n, 1)


# ---------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------


def _mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image mean squared error, float64 on the CPU (where all bookkeeping tensors live)."""
    return ((a.double() - b.double()) ** 2).mean(dim=(1, 2, 3)).cpu()


def _spawn(rng: torch.Generator) -> torch.Generator:
    """A fresh generator seeded from ``rng`` (advances ``rng`` by one draw)."""
    return torch.Generator().manual_seed(int(torch.randint(0, 2 ** 62, (1,), generator=rng)))


def _uniform(rng: torch.Generator, n: int, lo: float = 0.0, hi: float = 1.0) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=rng, dtype=torch.float64)


def _choice(rng: torch.Generator, options: Sequence[str], n: int) -> list[str]:
    idx = torch.randint(0, len(options), (n,), generator=rng).tolist()
    return [options[i] for i in idx]


def _check_families(names, what: str = "families") -> list[str]:
    if names is None:
        return list(DISTORTIONS)
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise TypeError(f"{what} must be a sequence of distortion names, got {names!r}")
    names = list(dict.fromkeys(names))
    for name in names:
        get_distortion(name)  # raises, listing the known names
    if not names:
        raise ValueError(f"{what} must not be empty; known distortions are {sorted(DISTORTIONS)}")
    return names


def split_families(held_out: Sequence[str], families: Sequence[str] | None = None) -> tuple[list[str], list[str]]:
    """Split distortion families into (train, held_out) with no overlap.

    ``held_out`` may name families (``"jpeg"``) and whole groups (``"spatial"``, see
    :data:`reprolib.chapters.lpips.distortions.GROUPS`); ``families`` (default: all 20) is what is split. A trainer
    can fit a metric on the sentinels of the first list and test it on the second.
    """
    pool = _check_families(families)
    if isinstance(held_out, str) or not isinstance(held_out, Sequence):
        raise TypeError(f"held_out must be a sequence of family or group names, got {held_out!r}")
    out: list[str] = []
    for name in held_out:
        if name in GROUPS:
            out += [f for f in registry_families(name) if f in pool]
        elif name in DISTORTIONS:
            if name not in pool:
                raise ValueError(f"held-out family {name!r} is not among the families being split: {pool}")
            out.append(name)
        else:
            raise ValueError(f"unknown family or group {name!r}; families are {sorted(DISTORTIONS)}, "
                             f"groups are {list(GROUPS)}")
    out = [f for f in pool if f in set(out)]
    train = [f for f in pool if f not in set(out)]
    if not out or not train:
        raise ValueError(f"the split must leave families on both sides, got train={train}, held_out={out}")
    return train, out


def solve_severity(x: torch.Tensor, name: str, target_mse: torch.Tensor | float, rng: torch.Generator,
                   rel_tol: float = 0.005, max_iter: int = 60) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Find, per image, the severity at which distortion ``name`` has MSE ``target_mse`` to ``x``.

    Bisection on [0, 1], with every evaluation using the same random draw (a clone of ``rng``'s state;
    ``rng`` itself advances as one application would). The MSE is 0 at severity 0 and continuous in the
    severity, so a solution exists whenever the MSE at severity 1 reaches the target.

    Returns:
        ``(severity, distorted, ok)``: (N,) severities, the (N, 3, H, W) distorted images at them, and
        (N,) bool, True where the MSE is within ``rel_tol`` (relative) of the target.
    """
    check_images(x)
    check_generator(rng)
    n = x.shape[0]
    target = torch.as_tensor(target_mse, dtype=torch.float64).detach().cpu()
    if target.ndim > 1 or (target.ndim == 1 and target.shape[0] != n):
        raise ValueError(f"target_mse must be a number or one value per image ({n}), got shape {tuple(target.shape)}")
    target = target.expand(n).clone()
    if not torch.isfinite(target).all() or (target <= 0).any():
        raise ValueError(f"target_mse must be positive, got {target.tolist()}")
    if not 0 < rel_tol < 1:
        raise ValueError(f"rel_tol must be in (0, 1), got {rel_tol!r}")
    distortion = get_distortion(name)
    state = clone_generator(rng)

    def at(severity: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = distortion.apply(x, severity, clone_generator(state))
        return out, _mse(out, x)

    lo, hi = torch.zeros(n, dtype=torch.float64), torch.ones(n, dtype=torch.float64)
    best, best_mse = at(hi)
    best_sev = hi.clone()
    reachable = best_mse >= target * (1 - rel_tol)
    for _ in range(max_iter):
        done = (best_mse - target).abs() <= rel_tol * target
        if bool((done | ~reachable).all()):
            break
        mid = (lo + hi) / 2
        out, m = at(mid)
        below = m < target
        lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
        better = ((m - target).abs() < (best_mse - target).abs()) & reachable
        best = torch.where(better.to(out.device)[:, None, None, None], out, best)
        best_mse, best_sev = torch.where(better, m, best_mse), torch.where(better, mid, best_sev)
    distortion.apply(x, 0.0, rng)  # advance rng as one application does
    ok = (best_mse - target).abs() <= rel_tol * target
    return best_sev, best, ok


def _correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per image, the Pearson correlation of all pixel values of a and b (1 for a flat image pair)."""
    a = a.flatten(1).double()
    b = b.flatten(1).double()
    a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    den = a.norm(dim=1) * b.norm(dim=1)
    return torch.where(den > 0, (a * b).sum(1) / den.clamp(min=1e-300), torch.ones_like(den)).cpu()


# ---------------------------------------------------------------------------------------------------
# 2AFC sets
# ---------------------------------------------------------------------------------------------------


def sentinel_2afc(refs: torch.Tensor, rng: torch.Generator, families: Sequence[str] | None = None,
                  exclude: Sequence[str] = (), strong: tuple[float, float] = (0.6, 1.0),
                  max_ratio: float = 0.3, max_tries: int = 5) -> TwoAFC:
    """Sentinel triplets: the same distortion and random draw at two severities; the weaker is closer.

    What it tests: that a metric is *monotone within a distortion family*: x distorted by the same
    noise field / warp / shift direction, once strongly (severity uniform in ``strong``) and once at
    most ``max_ratio`` times as strongly, must be judged closer in its weaker version. Every observer
    would agree (like the thesis's sentinels, heavy against light Gaussian noise, sec. 6.2), so ``judge``
    is 0 or 1. L2, SSIM and any sane metric should score ~100 %; a metric that fails here is broken.
    Which side holds the weaker version is random.

    Degenerate draws are redrawn (up to ``max_tries`` times, then dropped; see ``index``): the strong
    version must differ from the reference (MSE >= 1e-4) and the weak one must have at most half its
    MSE. These only fail on flat or saturated patches where a change is invisible (a brightening of a
    white patch). The strong version is obvious for most families; the smoothing ones (bilateral,
    ghosting) can stay subtle on smooth patches, but the order of the two versions is never in doubt.

    Args:
        refs: reference patches (N, 3, H, W) in [0, 1].
        rng: the generator.
        families: distortion names to draw from (default all 20); ``exclude`` removes some (e.g. the
            held-out side of :func:`split_families`).
    """
    check_images(refs, "refs")
    check_generator(rng)
    if isinstance(exclude, str) or not isinstance(exclude, Sequence):
        raise TypeError(f"exclude must be a sequence of distortion names, got {exclude!r}")
    excluded = set(_check_families(exclude, "exclude")) if len(exclude) else set()
    pool = [f for f in _check_families(families) if f not in excluded]
    if not pool:
        raise ValueError(f"no family is left once {sorted(excluded)} are excluded")
    lo_s, hi_s = strong
    if not 0 < lo_s <= hi_s <= 1:
        raise ValueError(f"strong must be a range (lo, hi) with 0 < lo <= hi <= 1, got {strong!r}")
    if not 0 < max_ratio < 1:
        raise ValueError(f"max_ratio must be in (0, 1), got {max_ratio!r}")
    n = refs.shape[0]
    weak = torch.empty_like(refs)
    strong_img = torch.empty_like(refs)
    fam: list[str] = [""] * n
    s_weak = torch.zeros(n, dtype=torch.float64)
    s_strong = torch.zeros(n, dtype=torch.float64)
    todo = torch.arange(n)
    for _ in range(max_tries):
        if todo.numel() == 0:
            break
        m = todo.numel()
        choice = _choice(rng, pool, m)
        s_hi = _uniform(rng, m, lo_s, hi_s)
        s_lo = s_hi * _uniform(rng, m, 0.0, max_ratio)
        good = torch.zeros(m, dtype=torch.bool)
        for name in pool:  # one batched call per family, in a fixed order
            sel = torch.tensor([c == name for c in choice])
            if not sel.any():
                continue
            x = refs[todo[sel]]
            draw = _spawn(rng)
            hi_img = DISTORTIONS[name].apply(x, s_hi[sel], clone_generator(draw))
            lo_img = DISTORTIONS[name].apply(x, s_lo[sel], draw)
            mse_hi, mse_lo = _mse(hi_img, x), _mse(lo_img, x)
            ok = (mse_hi >= 1e-4) & (mse_lo <= 0.5 * mse_hi)
            rows = todo[sel]
            strong_img[rows], weak[rows] = hi_img, lo_img
            s_strong[rows], s_weak[rows] = s_hi[sel], s_lo[sel]
            for r in rows.tolist():
                fam[r] = name
            good[sel.nonzero().flatten()] = ok
        todo = todo[~good]
    keep = torch.ones(n, dtype=torch.bool)
    keep[todo] = False
    idx = keep.nonzero().flatten()
    weak_is_p1 = _uniform(rng, n) < 0.5
    flip = weak_is_p1.to(refs.device)[:, None, None, None]
    p0 = torch.where(flip, strong_img, weak)[idx]
    p1 = torch.where(flip, weak, strong_img)[idx]
    sev_p0 = torch.where(weak_is_p1, s_strong, s_weak)[idx]
    sev_p1 = torch.where(weak_is_p1, s_weak, s_strong)[idx]
    ref = refs[idx]
    return TwoAFC(
        ref=ref, p0=p0, p1=p1, judge=weak_is_p1[idx].double(),
        family0=[fam[i] for i in idx.tolist()], family1=[fam[i] for i in idx.tolist()],
        sev0=[(float(s),) for s in sev_p0], sev1=[(float(s),) for s in sev_p1],
        mse0=_mse(p0, ref), mse1=_mse(p1, ref), index=idx, kind="sentinel",
        info={"families": pool, "dropped": todo.tolist()},
    )


def _check_equal_mse_args(refs, rng, benign, damaging, psnr, min_correlation, max_tries) -> None:
    check_images(refs, "refs")
    check_generator(rng)
    benign, damaging = _check_families(benign, "benign"), _check_families(damaging, "damaging")
    if set(benign) & set(damaging):
        both = sorted(set(benign) & set(damaging))
        raise ValueError(f"benign and damaging families must differ, both contain {both}")
    lo_db, hi_db = psnr
    if not 10 <= lo_db <= hi_db <= 60:
        raise ValueError(f"psnr must be a range (lo, hi) of dB values within [10, 60], got {psnr!r}")
    if not -1 <= min_correlation <= 1:
        raise ValueError(f"min_correlation must be in [-1, 1], got {min_correlation!r}")


@checked_by(_check_equal_mse_args)
def equal_mse_2afc(refs: torch.Tensor, rng: torch.Generator, benign: Sequence[str] = BENIGN_FAMILIES,
                   damaging: Sequence[str] = DAMAGING_FAMILIES, psnr: tuple[float, float] = (24.0, 30.0),
                   min_correlation: float = 0.995, max_tries: int = 4) -> TwoAFC:
    """Cross-family triplets at equal MSE: a structure-preserving change vs. a structure-damaging one.

    What it tests: whether a metric sees what the mean squared error cannot. Each triplet pairs a
    *benign* distortion (a mean-lightness shift or a contrast stretch, :data:`BENIGN_FAMILIES`) with a
    *damaging* one (Gaussian blur, Gaussian noise or JPEG, :data:`DAMAGING_FAMILIES`), both solved by
    bisection (:func:`solve_severity`) to the same MSE to the reference, at a PSNR drawn uniformly in
    ``psnr`` dB; the two MSEs agree within :data:`EQUAL_MSE_TOLERANCE` (2 %). The benign one is the
    closer: ``judge`` = 1 where it is p1, 0 where it is p0.

    The answer is the classic observation that motivated structural metrics: Wang & Bovik, "Mean
    squared error: Love it or leave it? A new look at signal fidelity measures", IEEE Signal
    Processing Magazine 26(1), 2009 (Fig. 2: a photograph distorted in several ways at the same MSE,
    where the mean-shifted and contrast-stretched versions look nearly perfect and the blurred, noisy
    and JPEG-compressed ones clearly degraded), and Wang, Bovik, Sheikh & Simoncelli, "Image quality
    assessment: from error visibility to structural similarity", IEEE Trans. Image Processing 13(4),
    2004 (luminance and contrast changes matter far less than changes of structure).

    By construction L2 is at chance on these triplets (its two distances differ by < 2 %, in either
    direction); a metric that scores well here has learned more than pixel error.

    A reference is retried with new draws (up to ``max_tries``) and then dropped (see ``index``) when a
    distortion cannot reach the target MSE within 0.5 % (blur on a flat patch), or when the benign
    version does not keep the reference's structure: its Pearson correlation with the reference (over
    all pixel values) must be at least ``min_correlation``. A pure shift or stretch has correlation 1;
    only clipping at 0 or 1, which flattens highlights or shadows, lowers it.
    """
    benign, damaging = _check_families(benign, "benign"), _check_families(damaging, "damaging")
    lo_db, hi_db = psnr
    n = refs.shape[0]
    out = {side: torch.empty_like(refs) for side in ("benign", "damaging")}
    fam = {"benign": [""] * n, "damaging": [""] * n}
    sev = {side: torch.zeros(n, dtype=torch.float64) for side in ("benign", "damaging")}
    todo = torch.arange(n)
    for _ in range(max_tries):
        if todo.numel() == 0:
            break
        m = todo.numel()
        target = 10 ** (-_uniform(rng, m, lo_db, hi_db) / 10)  # MSE of a PSNR for data range 1
        choice = {"benign": _choice(rng, benign, m), "damaging": _choice(rng, damaging, m)}
        good = torch.ones(m, dtype=torch.bool)
        for side, names in (("benign", benign), ("damaging", damaging)):
            for name in names:
                sel = torch.tensor([c == name for c in choice[side]])
                if not sel.any():
                    continue
                rows = todo[sel]
                s, img, ok = solve_severity(refs[rows], name, target[sel], _spawn(rng))
                if side == "benign":
                    ok &= _correlation(img, refs[rows]) >= min_correlation
                out[side][rows], sev[side][rows] = img, s
                for r in rows.tolist():
                    fam[side][r] = name
                good[sel.nonzero().flatten()] &= ok
        todo = todo[~good]
    keep = torch.ones(n, dtype=torch.bool)
    keep[todo] = False
    idx = keep.nonzero().flatten()
    benign_is_p1 = _uniform(rng, n) < 0.5
    flip = benign_is_p1.to(refs.device)[:, None, None, None]
    p0 = torch.where(flip, out["damaging"], out["benign"])[idx]
    p1 = torch.where(flip, out["benign"], out["damaging"])[idx]
    name0 = [fam["damaging"][i] if benign_is_p1[i] else fam["benign"][i] for i in range(n)]
    name1 = [fam["benign"][i] if benign_is_p1[i] else fam["damaging"][i] for i in range(n)]
    s0 = torch.where(benign_is_p1, sev["damaging"], sev["benign"])
    s1 = torch.where(benign_is_p1, sev["benign"], sev["damaging"])
    ref = refs[idx]
    keep_list = idx.tolist()
    return TwoAFC(
        ref=ref, p0=p0, p1=p1, judge=benign_is_p1[idx].double(),
        family0=[name0[i] for i in keep_list], family1=[name1[i] for i in keep_list],
        sev0=[(float(s0[i]),) for i in keep_list], sev1=[(float(s1[i]),) for i in keep_list],
        mse0=_mse(p0, ref), mse1=_mse(p1, ref), index=idx, kind="equal_mse",
        info={"benign": benign, "damaging": damaging, "psnr": tuple(psnr), "dropped": todo.tolist()},
    )


def mixed_2afc(refs: torch.Tensor, rng: torch.Generator, families: Sequence[str] | None = None,
               compose_prob: float = 0.3, severity: tuple[float, float] = (0.1, 1.0)) -> TwoAFC:
    """Random triplets with NO known answer: ``judge`` is ``None``.

    Each side is one distortion, or (with probability ``compose_prob``) a composition of two (thesis
    sec. 6.2.1: "we also compose pairs of distortions sequentially"), families uniform among
    ``families`` and severities uniform in ``severity``, independently for p0 and p1. Nothing says which
    side a human would prefer, so these triplets can only measure how often two metrics *agree* with each
    other (metric-vs-metric agreement), never whether either is right. Use :func:`sentinel_2afc` and
    :func:`equal_mse_2afc` (or real BAPPS judgments) for accuracy.
    """
    check_images(refs, "refs")
    check_generator(rng)
    pool = _check_families(families)
    if not 0 <= compose_prob <= 1:
        raise ValueError(f"compose_prob must be in [0, 1], got {compose_prob!r}")
    lo_s, hi_s = severity
    if not 0 <= lo_s <= hi_s <= 1:
        raise ValueError(f"severity must be a range (lo, hi) with 0 <= lo <= hi <= 1, got {severity!r}")
    n = refs.shape[0]
    sides = []
    for _ in range(2):
        imgs, names, sevs = [], [], []
        for i in range(n):
            steps = 2 if float(_uniform(rng, 1)) < compose_prob else 1
            chosen = _choice(rng, pool, steps)
            values = _uniform(rng, steps, lo_s, hi_s).tolist()
            draw = _spawn(rng)
            img = refs[i: i + 1]
            for name, s in zip(chosen, values):
                img = DISTORTIONS[name].apply(img, s, draw)
            imgs.append(img)
            names.append("+".join(chosen))
            sevs.append(tuple(values))
        sides.append((torch.cat(imgs) if imgs else refs.clone(), names, sevs))
    (p0, f0, v0), (p1, f1, v1) = sides
    return TwoAFC(
        ref=refs.clone(), p0=p0, p1=p1, judge=None, family0=f0, family1=f1, sev0=v0, sev1=v1,
        mse0=_mse(p0, refs), mse1=_mse(p1, refs), index=torch.arange(n), kind="mixed",
        info={"families": pool, "compose_prob": compose_prob, "severity": tuple(severity),
              "note": "no known answer: for metric-vs-metric agreement only"},
    )


# ---------------------------------------------------------------------------------------------------
# JND pairs
# ---------------------------------------------------------------------------------------------------


def sentinel_jnd(refs: torch.Tensor, rng: torch.Generator, fractions: tuple[float, float, float] = (0.4, 0.3, 0.3),
                 obvious_families: Sequence[str] = ("gaussian_noise",), near_families: Sequence[str] | None = None,
                 near_psnr: tuple[float, float] = (36.0, 44.0)) -> JNDPairs:
    """JND pairs: identical copies, obvious distortions and near-threshold ones.

    What it tests: the ordering a same/different judgment implies. The three levels, in proportions
    ``fractions`` (rounded; references are assigned at random):

    * **identical** (``same`` = 1): p is an exact copy of ref. Every observer says "same".
    * **obvious** (``same`` = 0): heavy noise, as in the thesis's JND sentinels ("8 with large Gaussian
      noise distortion applied"): a family of ``obvious_families`` at severity uniform in [0.8, 1]
      (Gaussian noise of std >= 0.16). Every attentive observer says "different".
    * **near threshold** (``same`` = NaN, unknown): any family of ``near_families`` (default all),
      solved to a PSNR uniform in ``near_psnr`` dB, the range where changes become just visible
      depending on content and distortion. No answer is claimed; a sound metric should still place
      these between the two other levels (``level`` 0 < 1 < 2).

    For the JND mAP (thesis sec. 6.4.1: pairs ordered by the metric, precision of "different"), use the
    pairs where ``known`` is True.
    """
    check_images(refs, "refs")
    check_generator(rng)
    if len(fractions) != 3 or min(fractions) < 0 or not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions!r}")
    obvious = _check_families(obvious_families, "obvious_families")
    near = _check_families(near_families, "near_families")
    lo_db, hi_db = near_psnr
    if not 10 <= lo_db <= hi_db <= 60:
        raise ValueError(f"near_psnr must be a range (lo, hi) of dB values within [10, 60], got {near_psnr!r}")
    n = refs.shape[0]
    counts = [round(f * n) for f in fractions[:2]]
    counts.append(n - sum(counts))
    if counts[2] < 0:
        counts[1] += counts[2]
        counts[2] = 0
    level = torch.cat([torch.full((c,), lv, dtype=torch.long) for lv, c in enumerate(counts)])
    level = level[torch.randperm(n, generator=rng)]
    p = refs.clone()
    family = ["identity"] * n
    severity = torch.zeros(n, dtype=torch.float64)
    same = torch.ones(n, dtype=torch.float64)
    # obvious
    rows = (level == 2).nonzero().flatten()
    if rows.numel():
        names = _choice(rng, obvious, rows.numel())
        s = _uniform(rng, rows.numel(), 0.8, 1.0)
        for name in obvious:
            sel = torch.tensor([c == name for c in names])
            if sel.any():
                p[rows[sel]] = DISTORTIONS[name].apply(refs[rows[sel]], s[sel], _spawn(rng))
                for r in rows[sel].tolist():
                    family[r] = name
        severity[rows], same[rows] = s, 0.0
    # near threshold
    rows = (level == 1).nonzero().flatten()
    if rows.numel():
        names = _choice(rng, near, rows.numel())
        target = 10 ** (-_uniform(rng, rows.numel(), lo_db, hi_db) / 10)
        for name in near:
            sel = torch.tensor([c == name for c in names])
            if sel.any():
                s, img, _ = solve_severity(refs[rows[sel]], name, target[sel], _spawn(rng))
                p[rows[sel]], severity[rows[sel]] = img, s
                for r in rows[sel].tolist():
                    family[r] = name
        same[rows] = float("nan")
    return JNDPairs(ref=refs.clone(), p=p, same=same, level=level, family=family, severity=severity,
                    mse=_mse(p, refs), index=torch.arange(n))
