"""Tests of reprolib.bootstrap (paired bootstrap intervals over test units) and of the verdict rule and
comparisons of reprolib.claims that are judged on those intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reprolib.bootstrap import (LEVEL, RESAMPLES, SEED, Draws, Stat, average, bootstrap_indices, largest, mean,
                                percentile_interval, ratio, smallest)
# ``Test`` is imported under another name so that pytest does not try to collect it as a test class.
from reprolib.claims import (VERDICTS, Exact, Margin, all_greater, conjunction, final_verdict, greater,
                             interval_verdict, judged, monotone)
from reprolib.claims import Test as Comparison


def _interval(stat, samples, **kw):
    """``(estimate, low, high)`` of ``stat`` on ``samples``."""
    values = stat(Draws(samples, **kw))
    low, high = percentile_interval(values[1:], LEVEL)
    return float(values[0]), low, high


def test_the_fixed_choices():
    assert (RESAMPLES, LEVEL, SEED) == (1000, 0.95, 0)
    assert VERDICTS == ("reproduced", "not_reproduced", "inconclusive", "not_testable")


# ------------------------------------------------------------------------------------------
# intervals against known sampling distributions


def test_interval_of_a_mean_has_the_normal_width_and_contains_the_sample_mean():
    n, sigma = 400, 2.0
    x = np.random.default_rng(12345).normal(5.0, sigma, n)
    est, low, high = _interval(mean("u:x"), {"u": {"x": x.tolist()}})
    assert est == pytest.approx(x.mean(), rel=1e-12)
    assert low < x.mean() < high
    # The width of the 95 % interval is 2 * 1.96 * SE, SE = sigma / sqrt(n) = 0.1 here. Its relative error
    # comes from (i) the sample sd against sigma, ~1 / sqrt(2n) = 3.5 %; (ii) the bootstrap's own noise:
    # the SE it implies has ~1 / sqrt(2 R) = 2.2 %, and the two tail quantiles at 2.5 % / 97.5 % add more:
    # each has an sd of sqrt(p (1 - p) / R) / phi(1.96) = 0.085 SE, i.e. ~3 % of the width for both ends.
    # Together about 5 %; 15 % is three of those sds, and a wrong scale (sd instead of SE, a one-sided
    # quantile, a 90 % or 99 % interval: widths off by 19 % to 31 %, or a factor 20) is far outside it.
    expected = 2 * 1.96 * sigma / math.sqrt(n)
    assert high - low == pytest.approx(expected, rel=0.15)
    # Against the sample's own sd only the bootstrap noise (~4 %) remains.
    assert high - low == pytest.approx(2 * 1.96 * x.std() / math.sqrt(n), rel=0.12)


def test_interval_of_a_mean_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(2024)
    true_mean, trials, n = 3.0, 200, 50
    covered = 0
    for t in range(trials):
        x = rng.normal(true_mean, 1.5, n)
        # A seed per data set, so that the trials do not share one index matrix.
        _, low, high = _interval(mean("u:x"), {"u": {"x": x.tolist()}}, seed=t)
        covered += low <= true_mean <= high
    # The percentile interval of a mean of n = 50 normal values covers about 94-95 % (a little under the
    # nominal 95 %, as it ignores the t correction). Over 200 trials the fraction's binomial sd is
    # sqrt(0.945 * 0.055 / 200) = 1.6 %: 88 % lies 4 sds below, 99 % nearly 3 sds above. This guards
    # against gross errors (a 1-SE interval covers ~68 %, one scaled by the sd instead of the SE 100 %);
    # the width test above catches the finer ones.
    assert 0.88 <= covered / trials <= 0.99


def test_paired_difference_keeps_the_units_together_and_unpaired_would_not():
    rng = np.random.default_rng(7)
    n = 200
    x = rng.normal(0.0, 1.0, n)               # a large per-unit component (how hard each image is)
    a = x + 0.1 + rng.normal(0.0, 0.01, n)    # method a: 0.1 better on every unit, with little noise
    paired = {"images": {"a": a.tolist(), "b": x.tolist()}}
    est, low, high = _interval(mean("images:a") - mean("images:b"), paired)
    assert est == pytest.approx(a.mean() - x.mean(), rel=1e-9)
    assert 0 < low < est < high and high - low < 0.05  # SE of the paired difference: 0.01 / sqrt(200)

    # The same numbers in two groups are resampled independently: the per-unit component no longer
    # cancels, SE ~ sqrt(2 / 200) = 0.1, and the interval of a 0.1 difference contains 0.
    unpaired = {"ga": {"a": a.tolist()}, "gb": {"b": x.tolist()}}
    est_u, low_u, high_u = _interval(mean("ga:a") - mean("gb:b"), unpaired)
    assert est_u == pytest.approx(est, rel=1e-9)
    assert low_u < 0 < high_u
    assert high_u - low_u > 5 * (high - low)


def test_mean_and_ratio_replicates_resample_with_the_groups_index_matrix():
    rng = np.random.default_rng(3)
    num, den = rng.uniform(0, 5, 30), rng.uniform(1, 2, 30)
    samples = {"g": {"num": num.tolist(), "den": den.tolist()}}
    d = Draws(samples, resamples=50)
    idx = bootstrap_indices(30, 50, SEED, "g")
    np.testing.assert_array_equal(d.indices("g"), idx)
    m = mean("g:num")(d)
    assert m.shape == (51,)
    np.testing.assert_allclose(m, np.concatenate([[num.mean()], num[idx].mean(axis=1)]), rtol=1e-12)
    r = ratio("g:num", "g:den")(d)
    assert r[0] == pytest.approx(num.sum() / den.sum(), rel=1e-12)
    np.testing.assert_allclose(r[1:], num[idx].sum(axis=1) / den[idx].sum(axis=1), rtol=1e-12)
    # a pooled mean is not the mean of per-unit ratios
    assert r[0] != pytest.approx((num / den).mean(), rel=1e-3)
    assert str(ratio("g:num", "g:den")) == "sum(num) / sum(den)"


def test_ratio_needs_two_lists_of_one_group():
    with pytest.raises(ValueError, match="ratio needs two lists of the same group"):
        ratio("g:num", "h:den")


# ------------------------------------------------------------------------------------------
# determinism


def test_same_samples_give_bit_identical_intervals():
    rng = np.random.default_rng(11)
    samples = {"g": {"a": rng.normal(size=80).tolist(), "b": rng.normal(size=80).tolist()},
               "h": {"c": rng.uniform(size=25).tolist()}}
    stat = (mean("g:a") - mean("g:b")) / 2 + mean("h:c")
    first, second = stat(Draws(samples)), stat(Draws(samples))
    assert first.tobytes() == second.tobytes()
    assert _interval(stat, samples) == _interval(stat, samples)


def test_bootstrap_indices_are_deterministic_per_seed_and_group():
    idx = bootstrap_indices(37, 120, 5, "images")
    assert idx.shape == (120, 37) and np.issubdtype(idx.dtype, np.integer)
    assert idx.min() >= 0 and idx.max() < 37
    assert len(np.unique(idx)) == 37  # 4440 draws from 37 units reach all of them
    np.testing.assert_array_equal(idx, bootstrap_indices(37, 120, 5, "images"))
    assert not np.array_equal(idx, bootstrap_indices(37, 120, 6, "images"))
    assert not np.array_equal(idx, bootstrap_indices(37, 120, 5, "judgments"))
    # the defaults are the module's choices
    np.testing.assert_array_equal(bootstrap_indices(10, group="x"), bootstrap_indices(10, RESAMPLES, SEED, "x"))
    assert bootstrap_indices(10).shape == (RESAMPLES, 10)


def test_draws_seed_changes_the_interval_but_not_the_estimate():
    samples = {"g": {"a": np.random.default_rng(0).normal(size=60).tolist()}}
    v0, v1 = mean("g:a")(Draws(samples, seed=0)), mean("g:a")(Draws(samples, seed=1))
    assert v0[0] == v1[0]
    assert not np.array_equal(v0[1:], v1[1:])


# ------------------------------------------------------------------------------------------
# statistics: combinators, arithmetic, formula text


SMALL = {"g": {"a": [1.0, 2.0, 6.0, 3.0], "b": [4.0, 1.0, 1.0, 2.0], "c": [0.5, 0.5, 1.5, 1.5]}}


def _all(stat, samples=SMALL):
    return stat(Draws(samples, resamples=40))


def test_smallest_largest_and_average_work_replicate_by_replicate():
    a, b, c = _all(mean("g:a")), _all(mean("g:b")), _all(mean("g:c"))
    assert (a[0], b[0], c[0]) == (3.0, 2.0, 1.0)
    np.testing.assert_array_equal(_all(smallest(mean("g:a"), mean("g:b"), mean("g:c"))),
                                  np.minimum(np.minimum(a, b), c))
    np.testing.assert_array_equal(_all(largest(mean("g:a"), mean("g:b"))), np.maximum(a, b))
    np.testing.assert_allclose(_all(average(mean("g:a"), mean("g:b"))), (a + b) / 2, rtol=1e-15)
    # replicate by replicate, not the min of the estimates: some replicates have b's mean above a's
    assert (b[1:] > a[1:]).any() and (b[1:] < a[1:]).any()
    with pytest.raises(TypeError, match="smallest needs one or more statistics"):
        smallest()
    with pytest.raises(TypeError, match="average needs one or more statistics"):
        average(mean("g:a"), 2.0)


def test_arithmetic_with_numbers_and_statistics():
    a, b = _all(mean("g:a")), _all(mean("g:b"))
    ma, mb = mean("g:a"), mean("g:b")
    np.testing.assert_allclose(_all(ma * 2 + 1), a * 2 + 1, rtol=1e-15)
    np.testing.assert_allclose(_all(1 - ma), 1 - a, rtol=1e-15)
    np.testing.assert_allclose(_all(3 / ma), 3 / a, rtol=1e-15)
    np.testing.assert_allclose(_all(ma / mb), a / b, rtol=1e-15)
    np.testing.assert_allclose(_all((ma - mb) / 2), (a - b) / 2, rtol=1e-15)
    np.testing.assert_allclose(_all(2 * ma - mb), 2 * a - b, rtol=1e-15)
    np.testing.assert_allclose(_all(-ma), -a, rtol=1e-15)
    np.testing.assert_allclose(_all(np.float64(0.5) * ma), 0.5 * a, rtol=1e-15)
    assert _all(ma - (mb - ma))[0] == 4.0  # 3 - (2 - 3)
    assert _all((ma - mb) / 2)[0] == 0.5
    for bad in ("1", True, float("nan"), float("inf"), None):
        with pytest.raises(TypeError, match="combines with finite numbers or other statistics"):
            ma + bad


@pytest.mark.parametrize(("stat", "text"), [
    (lambda a, b, c: a - b, "mean(a) - mean(b)"),
    (lambda a, b, c: (a - b) / 2, "(mean(a) - mean(b)) / 2"),
    (lambda a, b, c: 2 * (a + b), "2 * (mean(a) + mean(b))"),
    (lambda a, b, c: (a - b) * (a + c), "(mean(a) - mean(b)) * (mean(a) + mean(c))"),
    (lambda a, b, c: a - (b - c), "mean(a) - (mean(b) - mean(c))"),
    (lambda a, b, c: 1 - (a + b), "1 - (mean(a) + mean(b))"),
    (lambda a, b, c: a - b - c, "mean(a) - mean(b) - mean(c)"),
    (lambda a, b, c: a + b * c, "mean(a) + mean(b) * mean(c)"),
    (lambda a, b, c: a / (b * c), "mean(a) / (mean(b) * mean(c))"),
    (lambda a, b, c: a / b / c, "mean(a) / mean(b) / mean(c)"),
    (lambda a, b, c: -(a - b), "-(mean(a) - mean(b))"),
    (lambda a, b, c: a * 0.5 + 1, "mean(a) * 0.5 + 1"),
    (lambda a, b, c: smallest(a - c, b - c), "min(mean(a) - mean(c), mean(b) - mean(c))"),
    (lambda a, b, c: average(a, b) - c, "average(mean(a), mean(b)) - mean(c)"),
])
def test_formula_text_reads_like_the_formula(stat, text):
    s = stat(mean("g:a"), mean("g:b"), mean("g:c"))
    assert isinstance(s, Stat) and str(s) == text


@pytest.mark.parametrize("make", [
    lambda a, b, c: (a - b) / 2,
    lambda a, b, c: a - (b - c),
    lambda a, b, c: a / (b * c),
    lambda a, b, c: 2 * (a + b) - c / (a - b + 10),
    lambda a, b, c: -(a - b) * c,
    lambda a, b, c: 1 - (a - b) / (c + 1),
])
def test_formula_text_evaluates_to_the_statistic(make):
    """Reading the formula back as Python (with mean(x) for the full-sample mean) gives the estimate, so no
    parentheses that change the value are missing."""
    means = {k: float(np.mean(v)) for k, v in SMALL["g"].items()}
    s = make(mean("g:a"), mean("g:b"), mean("g:c"))
    read_back = eval(str(s), {"mean": lambda k: means[k]}, {"a": "a", "b": "b", "c": "c"})
    assert _all(s)[0] == pytest.approx(read_back, rel=1e-12)


def test_formula_text_tells_apart_lists_of_one_name_in_two_groups():
    # one group: the names alone; two groups (an unpaired comparison): every list with its group
    assert str(mean("g:a") - mean("g:b")) == "mean(a) - mean(b)"
    assert str(mean("val:auc") - mean("test:auc")) == "mean(val:auc) - mean(test:auc)"
    assert str(smallest(mean("val:a"), mean("test:a")) / 2) == "min(mean(val:a), mean(test:a)) / 2"


# ------------------------------------------------------------------------------------------
# errors


def test_samples_errors_say_what_is_wrong():
    d = Draws({"g": {"a": [1.0, 2.0], "b": [1.0, 2.0, 3.0]}, "h": {"x": [1.0, float("nan")]},
               "e": {"z": []}, "ok": {"y": [1.0, 2.0]}})
    with pytest.raises(KeyError, match=r"no per-unit samples for the group 'nope' \(groups: e, g, h, ok\)"):
        mean("nope:a")(d)
    with pytest.raises(KeyError, match=r"no per-unit list 'q' in the group 'ok' \(found: y\)"):
        mean("ok:q")(d)
    with pytest.raises(ValueError, match=r"lists of group 'g' have different lengths \[2, 3\]"):
        mean("g:a")(d)
    with pytest.raises(ValueError, match="'h:x' hold non-finite values"):
        mean("h:x")(d)
    with pytest.raises(ValueError, match="'e:z' must be a non-empty list"):
        mean("e:z")(d)
    with pytest.raises(ValueError, match="a per-unit sample key is 'group:name'"):
        mean("oky")(d)
    with pytest.raises(ValueError, match="both parts non-empty"):
        mean(":y")(d)
    with pytest.raises(ValueError, match="a per-unit sample key is 'group:name'"):
        ratio("oky", "ok:y")
    with pytest.raises(TypeError, match="samples must be a dict"):
        Draws([[1.0, 2.0]])
    assert mean("ok:y")(d)[0] == 1.5  # the bad groups do not spoil a good one


def test_bootstrap_and_interval_argument_errors():
    for n in (0, -3, 2.0, True):
        with pytest.raises(ValueError, match="a bootstrap needs at least one unit"):
            bootstrap_indices(n)
    for r in (0, 1.5, False):
        with pytest.raises(ValueError, match="resamples must be a positive integer"):
            bootstrap_indices(5, r)
    reps = np.linspace(0, 1, 101)
    for level in (0, 1, 1.5, -0.1, float("nan")):
        with pytest.raises(ValueError, match="level must lie strictly between 0 and 1"):
            percentile_interval(reps, level)
    with pytest.raises(ValueError, match="at least 2 replicates"):
        percentile_interval(np.array([1.0]))
    with pytest.raises(ValueError, match="at least 2 replicates"):
        percentile_interval(np.ones((3, 3)))
    with pytest.raises(ValueError, match="not finite"):
        percentile_interval(np.array([1.0, np.inf, 2.0]))
    assert percentile_interval(reps, 0.9) == pytest.approx((0.05, 0.95))
    # a ratio whose denominator sums to zero on some replicate has no interval
    d = Draws({"g": {"n": [1.0, 1.0, 1.0], "d": [0.0, 0.0, 3.0]}}, resamples=50)
    with np.errstate(divide="ignore"), pytest.raises(ValueError, match="not finite"):
        percentile_interval(ratio("g:n", "g:d")(d)[1:])


# ------------------------------------------------------------------------------------------
# the verdict rule


def test_interval_verdict_at_its_edges():
    t = 0.5
    assert interval_verdict(t, 0.9, t) == "inconclusive"                        # low exactly at the bar
    assert interval_verdict(math.nextafter(t, math.inf), 0.9, t) == "reproduced"  # just above it
    assert interval_verdict(0.1, t, t) == "inconclusive"                        # high exactly at the bar
    assert interval_verdict(0.1, math.nextafter(t, -math.inf), t) == "not_reproduced"
    assert interval_verdict(0.1, 0.9, t) == "inconclusive"                      # straddles
    assert interval_verdict(t, t, t) == "inconclusive"                          # a point at the bar
    # negative thresholds (a claim that something falls by at least ...)
    assert interval_verdict(-0.9, -0.2, -1.0) == "reproduced"
    assert interval_verdict(-1.0, -0.2, -1.0) == "inconclusive"
    assert interval_verdict(-3.0, -1.5, -1.0) == "not_reproduced"
    assert interval_verdict(-3.0, -1.0, -1.0) == "inconclusive"
    assert interval_verdict(-1.5, 0.5, -1.0) == "inconclusive"
    assert interval_verdict(np.float64(0.7), np.float64(0.8), 0) == "reproduced"


def test_interval_verdict_rejects_bad_intervals():
    with pytest.raises(ValueError, match="low end 0.9 lies above its high end 0.1"):
        interval_verdict(0.9, 0.1, 0.5)
    for bad in (float("nan"), float("inf"), "0.5", None, True):
        with pytest.raises(ValueError, match="threshold must be a finite number"):
            interval_verdict(0.1, 0.9, bad)
    with pytest.raises(ValueError, match="low must be a finite number"):
        interval_verdict(float("-inf"), 0.9, 0.5)


def test_conjunction():
    assert conjunction(["reproduced"]) == "reproduced"
    assert conjunction(["reproduced"] * 3) == "reproduced"
    assert conjunction(["reproduced", "inconclusive", "not_reproduced"]) == "not_reproduced"
    assert conjunction(["inconclusive", "not_reproduced", "inconclusive"]) == "not_reproduced"
    assert conjunction(["reproduced", "inconclusive", "reproduced"]) == "inconclusive"
    assert conjunction(["inconclusive"]) == "inconclusive"
    with pytest.raises(ValueError, match="at least one comparison"):
        conjunction([])
    with pytest.raises(ValueError, match="reproduced, not_reproduced or inconclusive"):
        conjunction(["reproduced", "not_testable"])


def test_final_verdict():
    R, N, I, T = "reproduced", "not_reproduced", "inconclusive", "not_testable"
    for v in VERDICTS:
        assert final_verdict(v, None) == v                  # no seed study: the single run decides
    assert final_verdict(T, [R, R, R]) == T
    assert final_verdict(R, [R, R, N]) == R                 # 2 of 3 is more than half
    assert final_verdict(R, [R, I, N]) == I                 # 1 of 3
    assert final_verdict(R, [R, R, I, N]) == I              # 2 of 4 is not more than half
    assert final_verdict(R, [R, R, R, I]) == R
    assert final_verdict(N, [N, N, R]) == N
    assert final_verdict(N, [N, I, R]) == I
    assert final_verdict(N, [R, R, R]) == I                 # the seeds disagree with the single run
    assert final_verdict(R, [N, N, N]) == I
    assert final_verdict(I, [R, R, R]) == I                 # the single run must agree too
    assert final_verdict(R, [R]) == R and final_verdict(R, [I]) == I
    with pytest.raises(ValueError, match="at least one seed"):
        final_verdict(R, [])
    with pytest.raises(ValueError, match="must be one of"):
        final_verdict("yes", [R])


# ------------------------------------------------------------------------------------------
# claims judged on intervals


def _units(n=120, gain=0.3, noise=0.05, seed=5):
    rng = np.random.default_rng(seed)
    x = rng.normal(0.7, 0.2, n)
    return {"samples": {"images": {"full": (x + gain + rng.normal(0, noise, n)).tolist(), "class": x.tolist()}}}


MARGIN = Margin(0.1, "the smallest gain the paper's table rounds to as a difference")


def test_judged_claim_end_to_end():
    metrics = _units()
    stat = mean("images:full") - mean("images:class")
    claim = judged("gain", "full beats class by 0.1", [Comparison("full - class", stat, MARGIN, "AuC"),
                                                       Exact("same weights", True, 3)])
    verdict, ev = claim.check(metrics)
    assert verdict == "reproduced"
    assert ev["bootstrap"] == {"resamples": 1000, "level": 0.95, "seed": 0}
    t, e = ev["tests"]
    full, cls = (np.array(metrics["samples"]["images"][k]) for k in ("full", "class"))
    assert t["estimate"] == pytest.approx(full.mean() - cls.mean(), rel=1e-12)
    assert (t["low"], t["high"]) == percentile_interval(stat(Draws(metrics["samples"]))[1:])
    assert MARGIN.value < t["low"] < t["estimate"] < t["high"]
    assert (t["margin"], t["reason"], t["verdict"], t["unit"]) == (0.1, MARGIN.reason, "reproduced", "AuC")
    assert t["formula"] == "mean(full) - mean(class)" and t["label"] == "full - class"
    assert t["summary"].startswith("full - class = ") and " AuC [" in t["summary"] and t["summary"].endswith("] > 0.1")
    assert e == {"label": "same weights", "value": 3, "verdict": "reproduced", "summary": "same weights: yes (3)"}
    assert ev["summary"] == t["summary"] + "; " + e["summary"]


def test_an_exact_part_that_fails_makes_the_claim_not_reproduced():
    stat = mean("images:full") - mean("images:class")
    claim = judged("gain", "s", [Comparison("d", stat, MARGIN), Exact("same weights", False)])
    verdict, ev = claim.check(_units())
    assert verdict == "not_reproduced"
    assert [p["verdict"] for p in ev["tests"]] == ["reproduced", "not_reproduced"]
    assert ev["tests"][1]["summary"] == "same weights: no"
    # a claim of Exact parts alone needs no samples
    assert judged("w", "s", [Exact("x", True)]).check({})[0] == "reproduced"


def test_a_straddling_test_makes_the_claim_inconclusive():
    metrics = _units(gain=0.1, noise=0.2)
    stat = mean("images:full") - mean("images:class")
    est = float(stat(Draws(metrics["samples"]))[0])
    at_estimate = Margin(est, "a bar inside the interval")
    verdict, ev = judged("gain", "s", [Comparison("d", stat, at_estimate), Exact("x", True)]).check(metrics)
    assert verdict == "inconclusive"
    t = ev["tests"][0]
    assert t["low"] < est < t["high"] and t["verdict"] == "inconclusive" and "~" in t["summary"]
    # far below the interval: not reproduced, whatever the other part says
    high_bar = Margin(t["high"] + 1, "a bar above the interval")
    assert judged("g", "s", [Comparison("d", stat, high_bar)]).check(metrics)[0] == "not_reproduced"


def test_judged_parts_may_depend_on_the_metrics_and_must_be_tests():
    metrics = _units()
    stat = mean("images:full") - mean("images:class")
    claim = judged("gain", "s", lambda m: [Comparison("d", stat, MARGIN)] if "samples" in m else [])
    assert claim.check(metrics)[0] == "reproduced"
    with pytest.raises(TypeError, match="parts must be a non-empty list of Test and Exact"):
        claim.check({})
    with pytest.raises(KeyError, match="no per-unit samples for the group 'images'"):
        judged("gain", "s", [Comparison("d", stat, MARGIN)]).check({"table": {}})


def test_greater_all_greater_and_monotone_on_intervals():
    metrics = _units()
    verdict, ev = greater("g", "s", "images:full", "images:class", MARGIN).check(metrics)
    assert verdict == "reproduced" and ev["tests"][0]["label"] == "full - class"
    assert greater("g", "s", "images:class", "images:full", MARGIN).check(metrics)[0] == "not_reproduced"
    # a negated margin: class trails full by less than 0.5, i.e. class - full lies above -0.5
    assert greater("g", "s", "images:class", "images:full", -Margin(0.5, "r")).check(metrics)[0] == "reproduced"
    pairs = [("images:full", "images:class"), ("images:class", "images:full")]
    assert all_greater("g", "s", pairs, MARGIN).check(metrics)[0] == "not_reproduced"
    assert monotone("m", "s", ["images:class", "images:full"], MARGIN).check(metrics)[0] == "reproduced"
    assert monotone("m", "s", ["images:full", "images:class"], MARGIN, increasing=False).check(metrics)[0] == \
        "reproduced"


def test_margins_need_a_reason_and_claims_need_margins():
    with pytest.raises(ValueError, match="give the reason for its size"):
        Margin(0.1, "")
    with pytest.raises(ValueError, match="give the reason for its size"):
        Margin(0.1, "   ")
    with pytest.raises(ValueError, match="a margin must be a finite number"):
        Margin(float("nan"), "r")
    assert -Margin(0.2, "r") == Margin(-0.2, "r")
    with pytest.raises(TypeError, match=r"give the margin as Margin\(value, reason\)"):
        greater("g", "s", "images:full", "images:class", 0.1)
    with pytest.raises(TypeError, match=r"Margin\(value, reason\)"):
        all_greater("g", "s", [("images:full", "images:class")], 0.1)
    with pytest.raises(TypeError, match=r"Margin\(value, reason\)"):
        monotone("m", "s", ["images:class", "images:full"], 0.1)


def test_abs_of_a_statistic_is_taken_replicate_by_replicate():
    d = Draws({"g": {"x": [-3.0, 1.0, -1.0, 2.0]}})
    s = abs(mean("g:x") - 1.0)
    assert str(s) == "|mean(x) - 1|"
    want = np.abs(mean("g:x")(d) - 1.0)
    np.testing.assert_array_equal(s(d), want)
    assert float(s(d)[0]) == pytest.approx(1.25)
