"""Bootstrap intervals over test units (images, judgments, objects), paired across everything compared.

A chapter keeps, beside its aggregate tables, one value per test unit for every quantity a claim compares:
``metrics["samples"][group][name]`` is a list with one number per unit of ``group`` (all lists of a group
have the same length, and entry ``i`` of every list belongs to the same unit, e.g. the same test image).
A table's aggregate is a mean (or a ratio of sums) of such a list.

A statistic (:class:`Stat`) is built from those lists with :func:`mean`, :func:`ratio` and arithmetic, so
that a claim's comparison reads like its formula, e.g. ``mean("images:full.auc") - mean("images:class.auc")``.
:class:`Draws` evaluates a statistic on the full sample and on every bootstrap replicate at once. The
replicates of one group resample the units with one fixed index matrix, the same for every list of the
group: a difference of two statistics on the same images is therefore a *paired* bootstrap (the images
that are hard for both methods stay together), which is what a comparison on a shared test set needs.
Different groups are resampled independently.

The choices, fixed once: :data:`RESAMPLES` = 1000 replicates, the percentile interval at
:data:`LEVEL` = 95 %, index matrices from NumPy's PCG64 generator seeded with (:data:`SEED`, the group's
name), so an interval is the same on every run and every machine up to floating-point rounding.
"""

from __future__ import annotations

import math
import zlib
from typing import Any, Callable, Mapping

import numpy as np

RESAMPLES = 1000  # bootstrap replicates
LEVEL = 0.95      # coverage of the percentile interval
SEED = 0          # seed of the index matrices (combined with the group's name)

__all__ = ["RESAMPLES", "LEVEL", "SEED", "Stat", "Draws", "mean", "ratio", "smallest", "largest", "average",
           "bootstrap_indices", "percentile_interval"]


def bootstrap_indices(n: int, resamples: int = RESAMPLES, seed: int = SEED, group: str = "") -> np.ndarray:
    """``(resamples, n)`` int64 matrix: row ``r`` draws ``n`` unit indices with replacement for replicate ``r``.

    Deterministic in ``(n, resamples, seed, group)``; the group's name enters the seed (CRC-32), so two groups
    are resampled independently and a group is resampled identically wherever its lists are used.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"a bootstrap needs at least one unit, got n={n!r}")
    if isinstance(resamples, bool) or not isinstance(resamples, (int, np.integer)) or resamples < 1:
        raise ValueError(f"resamples must be a positive integer, got {resamples!r}")
    rng = np.random.default_rng([int(seed), zlib.crc32(group.encode("utf-8"))])
    return rng.integers(0, int(n), size=(int(resamples), int(n)))


def percentile_interval(replicates: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The central ``level`` interval of the replicate values: their (1-level)/2 and (1+level)/2 quantiles."""
    reps = np.asarray(replicates, dtype=np.float64)
    if reps.ndim != 1 or reps.size < 2:
        raise ValueError(f"need a 1-D array of at least 2 replicates, got shape {reps.shape}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level!r}")
    if not np.isfinite(reps).all():
        raise ValueError("some bootstrap replicates are not finite (a ratio over an empty resample?)")
    lo, hi = np.quantile(reps, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


class Draws:
    """Every list of ``samples`` summed over the full sample (entry 0) and over each replicate (1..R).

    ``samples`` is ``metrics["samples"]``: ``{group: {name: [one value per unit]}}``.
    """

    def __init__(self, samples: Mapping[str, Mapping[str, Any]], resamples: int = RESAMPLES, seed: int = SEED):
        if not isinstance(samples, Mapping):
            raise TypeError(f"samples must be a dict {{group: {{name: list}}}}, got {type(samples).__name__}")
        self.samples, self.resamples, self.seed = samples, resamples, seed
        self._indices: dict[str, np.ndarray] = {}
        self._values: dict[str, np.ndarray] = {}

    def values(self, key: str) -> np.ndarray:
        """The per-unit list at ``"group:name"`` as a float64 array (checked: finite, one entry per unit)."""
        if key not in self._values:
            self._values[key] = self._read(key)
        return self._values[key]

    def _read(self, key: str) -> np.ndarray:
        group, name = _split(key)
        if group not in self.samples:
            have = ", ".join(sorted(self.samples)) or "none"
            raise KeyError(f"no per-unit samples for the group {group!r} (groups: {have}); the experiment must "
                           f"keep one value per test unit for {key!r}")
        lists = self.samples[group]
        if name not in lists:
            have = ", ".join(sorted(lists)[:30])
            raise KeyError(f"no per-unit list {name!r} in the group {group!r} (found: {have})")
        v = np.asarray(lists[name], dtype=np.float64)
        if v.ndim != 1 or v.size == 0:
            raise ValueError(f"samples {key!r} must be a non-empty list of numbers, got shape {v.shape}")
        if not np.isfinite(v).all():
            raise ValueError(f"samples {key!r} hold non-finite values; keep finite per-unit numbers only")
        sizes = {len(x) for x in lists.values()}
        if len(sizes) != 1:
            raise ValueError(f"the lists of group {group!r} have different lengths {sorted(sizes)}; each must "
                             "hold one value per unit of the group")
        return v

    def indices(self, group: str) -> np.ndarray:
        if group not in self._indices:
            n = len(next(iter(self.samples[group].values())))
            self._indices[group] = bootstrap_indices(n, self.resamples, self.seed, group)
        return self._indices[group]

    def sums(self, key: str) -> np.ndarray:
        """``(1 + resamples,)``: the list's sum over the full sample, then over each replicate."""
        v = self.values(key)
        idx = self.indices(_split(key)[0])
        return np.concatenate([[v.sum()], v[idx].sum(axis=1)])

    def count(self, key: str) -> int:
        return len(self.values(key))


def _split(key: str) -> tuple[str, str]:
    if not isinstance(key, str) or ":" not in key:
        raise ValueError(f"a per-unit sample key is 'group:name', e.g. 'images:table.full.auc', got {key!r}")
    group, name = key.split(":", 1)
    if not group or not name:
        raise ValueError(f"a per-unit sample key is 'group:name' with both parts non-empty, got {key!r}")
    return group, name


class Stat:
    """A statistic of per-unit samples, evaluated on the full sample and every replicate at once.

    Combine with ``+ - * /`` (with numbers or other statistics), ``abs()``, :func:`smallest`, :func:`largest` and
    :func:`average`; ``str(stat)`` is its formula, with the lists' names, qualified by their groups
    (``mean(val:auc) - mean(test:auc)``) when the formula spans more than one group (an unpaired comparison).
    """

    def __init__(self, fn: Callable[[Draws], np.ndarray], text: str, keys: tuple[str, ...] = (),
                 qualified: str | None = None):
        self.fn, self.keys = fn, keys
        self.qualified = text if qualified is None else qualified
        self.text = self.qualified if len(self.groups) > 1 else text

    @property
    def groups(self) -> set[str]:
        """The groups whose lists the statistic reads."""
        return {k.split(":", 1)[0] for k in self.keys}

    def __call__(self, draws: Draws) -> np.ndarray:
        return np.asarray(self.fn(draws), dtype=np.float64)

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__

    def _op(self, other: Any, op: Callable, sym: str, reverse: bool = False) -> "Stat":
        o = other if isinstance(other, Stat) else _const(other)
        a, b = (o, self) if reverse else (self, o)
        text = f"{_wrap(a.text, sym)} {sym} {_wrap(b.text, sym, right=True)}"
        qualified = f"{_wrap(a.qualified, sym)} {sym} {_wrap(b.qualified, sym, right=True)}"
        return Stat(lambda d: op(a(d), b(d)), text, a.keys + b.keys, qualified)

    def __add__(self, o): return self._op(o, np.add, "+")
    def __radd__(self, o): return self._op(o, np.add, "+", True)
    def __sub__(self, o): return self._op(o, np.subtract, "-")
    def __rsub__(self, o): return self._op(o, np.subtract, "-", True)
    def __mul__(self, o): return self._op(o, np.multiply, "*")
    def __rmul__(self, o): return self._op(o, np.multiply, "*", True)
    def __truediv__(self, o): return self._op(o, np.divide, "/")
    def __rtruediv__(self, o): return self._op(o, np.divide, "/", True)

    def __neg__(self):
        return Stat(lambda d: -self(d), f"-{_wrap(self.text, '*')}", self.keys, f"-{_wrap(self.qualified, '*')}")

    def __abs__(self):
        return Stat(lambda d: np.abs(self(d)), f"|{self.text}|", self.keys, f"|{self.qualified}|")


def _wrap(text: str, sym: str, right: bool = False) -> str:
    """Parenthesise a sub-formula where the operator ``sym`` would otherwise bind wrongly."""
    loose = any(f" {s} " in text for s in ("+", "-"))
    if loose and (sym in "*/" or (right and sym == "-")):
        return f"({text})"
    if right and sym == "/" and any(f" {s} " in text for s in ("*", "/")):
        return f"({text})"
    return text


def _const(x: Any) -> Stat:
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)) or not math.isfinite(x):
        raise TypeError(f"a statistic combines with finite numbers or other statistics, got {x!r}")
    return Stat(lambda d: np.float64(x), f"{float(x):g}")


def mean(key: str) -> Stat:
    """Mean over the units of the list ``"group:name"``."""
    _, name = _split(key)
    return Stat(lambda d: d.sums(key) / d.count(key), f"mean({name})", (key,), f"mean({key})")


def ratio(numerator: str, denominator: str) -> Stat:
    """Sum of one list over the sum of another (same group): a pooled mean, e.g. a weighted one."""
    (g1, n1), (g2, n2) = _split(numerator), _split(denominator)
    if g1 != g2:
        raise ValueError(f"ratio needs two lists of the same group, got {numerator!r} and {denominator!r}")
    return Stat(lambda d: d.sums(numerator) / d.sums(denominator), f"sum({n1}) / sum({n2})",
                (numerator, denominator), f"sum({numerator}) / sum({denominator})")


def _reduce(name: str, reduce: Callable, stats: tuple[Stat, ...], caller: str) -> Stat:
    if not stats or not all(isinstance(s, Stat) for s in stats):
        raise TypeError(f"{caller} needs one or more statistics")
    return Stat(lambda d: reduce([s(d) for s in stats]), f"{name}(" + ", ".join(s.text for s in stats) + ")",
                sum((s.keys for s in stats), ()), f"{name}(" + ", ".join(s.qualified for s in stats) + ")")


def smallest(*stats: Stat) -> Stat:
    """The smallest of several statistics, replicate by replicate."""
    return _reduce("min", np.minimum.reduce, stats, "smallest")


def largest(*stats: Stat) -> Stat:
    """The largest of several statistics, replicate by replicate."""
    return _reduce("max", np.maximum.reduce, stats, "largest")


def average(*stats: Stat) -> Stat:
    """The mean of several statistics, replicate by replicate."""
    return _reduce("average", lambda values: np.mean(values, axis=0), stats, "average")
