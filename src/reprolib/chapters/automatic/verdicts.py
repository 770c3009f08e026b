"""Chapter 1's claims, exact facts and paper-versus-ours tables, judged from the measured metrics alone.

The margins and thresholds the claims are judged with are fixed here, each with its reason, before any
run is seen; the measurement that depends on one (the colour-mode radius) imports it from here.
"""

from __future__ import annotations

from reprolib import quantize
from reprolib.chapters.automatic import paper as zhang2016
from reprolib.claims import all_greater, custom, fact, greater, not_testable

ROWS = ("ground_truth", "gray", "random", "l2", "class", "full")
MODE_RADIUS = 15.0  # ab distance within which a bin counts as "on" a colour mode
MARGIN_PCT = 0.5    # margin (percentage points) for AuC-type comparisons
MARGIN_REL = 0.02   # relative margin for colourfulness/saturation/roughness comparisons


def claims() -> list:
    t = "table"
    return [
        all_greater(
            "rebalancing_raises_balanced_auc",
            "Class rebalancing raises the class-balanced AuC over classification without rebalancing and over L2 "
            "(Table 1: 67.3 vs 65.1 and 64.4).",
            [(f"{t}.full.auc_rebal", f"{t}.class.auc_rebal"), (f"{t}.full.auc_rebal", f"{t}.l2.auc_rebal")],
            margin=MARGIN_PCT,
        ),
        greater(
            "rebalancing_lowers_raw_auc",
            "Rebalancing costs raw accuracy: the un-rebalanced classifier has the higher raw AuC (Table 1: 91.6 vs 89.5).",
            f"{t}.class.auc", f"{t}.full.auc", margin=MARGIN_PCT,
        ),
        custom(
            "rebalancing_raises_colourfulness",
            "Rebalancing gives more colourful results than no rebalancing and than L2 (Sect. 3.1, Fig. 5).",
            lambda m: _rel_greater(m, [("full", "class"), ("full", "l2")], "colorfulness"),
        ),
        custom(
            "l2_most_desaturated",
            "The L2 regression is the most desaturated of the three losses (Sect. 2.1: the L2 optimum is the mean).",
            lambda m: _rel_greater(m, [("class", "l2"), ("full", "l2")], "saturation"),
        ),
        custom(
            "annealed_mean_tradeoff",
            "The annealed mean at T = 0.38 is more colourful than the mean (T = 1) and spatially smoother than "
            "the mode (Sect. 2.3, Fig. 4).",
            _annealing_check,
        ),
        greater(
            "colorized_recognised_better_than_gray",
            "A classifier trained on real colour recognises colorized images better than grey ones "
            "(Table 1: VGG top-1 52.7 % grey, 56.0 % full).",
            f"{t}.full.top1", f"{t}.gray.top1", margin=1.0,
        ),
        custom(
            "classification_covers_modes",
            "Trained with classification, the predicted distribution puts mass on every true colour mode of a "
            "multimodal class (each mode gets at least half of its true probability), while the L2 prediction "
            "lands nearer the mean of the modes than any mode (ColorWorld-only measurement).",
            _modes_check,
        ),
        not_testable(
            "amt_fooling_rate",
            "The full method fools human observers in a real-vs-fake test on 32 % of trials (Table 1).",
            "Needs human participants (Amazon Mechanical Turk); nothing offline can stand in for them.",
        ),
    ]


def _rel_greater(m: dict, pairs, metric: str):
    values, checks, ok = {}, [], True
    for a, b in pairs:
        va, vb = m["table"][a][metric], m["table"][b][metric]
        values[f"{a}.{metric}"], values[f"{b}.{metric}"] = va, vb
        passed = bool(va > vb * (1 + MARGIN_REL))
        ok &= passed
        checks.append(f"{a} > {b} x (1 + {MARGIN_REL}): {va:.3g} vs {vb * (1 + MARGIN_REL):.3g} -> {passed}")
    return ok, {"values": values, "comparison": "; ".join(checks), "relative_margin": MARGIN_REL,
                "summary": f"{metric}: " + ", ".join(f"{k} {v:.3g}" for k, v in values.items())}


def _annealing_check(m: dict):
    a = m["annealing"]
    more_colourful = bool(a["annealed"]["colorfulness"] > a["mean"]["colorfulness"] * (1 + MARGIN_REL))
    smoother = bool(a["annealed"]["roughness"] < a["mode"]["roughness"] * (1 - MARGIN_REL))
    values = {f"{k}.{q}": a[k][q] for k in ("mode", "annealed", "mean") for q in ("colorfulness", "roughness")}
    return more_colourful and smoother, {
        "values": values,
        "comparison": (f"colourfulness(T=0.38) > colourfulness(T=1) x (1 + {MARGIN_REL}): {more_colourful}; "
                       f"roughness(T=0.38) < roughness(mode) x (1 - {MARGIN_REL}): {smoother}"),
        "relative_margin": MARGIN_REL,
        "summary": (f"colourfulness mode/annealed/mean {a['mode']['colorfulness']:.3g}/{a['annealed']['colorfulness']:.3g}/"
                    f"{a['mean']['colorfulness']:.3g}; roughness {a['mode']['roughness']:.3g}/"
                    f"{a['annealed']['roughness']:.3g}/{a['mean']['roughness']:.3g}"),
    }


def _modes_check(m: dict):
    s = m["modes_summary"]
    if not s["multimodal_classes"]:
        raise KeyError("no multimodal class had pixels in the test set")
    covered = bool(s["full_min_mode_ratio"] >= 0.5)
    l2_mean = s["l2_nearer_mean_classes"] == s["multimodal_classes"]
    return covered and l2_mean, {
        "values": {"full_min_mode_ratio": s["full_min_mode_ratio"], "l2_nearer_mean_classes": s["l2_nearer_mean_classes"],
                   "multimodal_classes": s["multimodal_classes"]},
        "comparison": (f"min over modes of predicted/true mass >= 0.5 (radius {MODE_RADIUS} ab): {covered}; "
                       f"L2 nearer the mixture mean than any mode in every multimodal class: {l2_mean}"),
        "summary": (f"worst mode gets {s['full_min_mode_ratio']:.2f} of its true mass; L2 nearer the mean in "
                    f"{s['l2_nearer_mean_classes']}/{s['multimodal_classes']} classes"),
    }


def paper_tables(runs: dict) -> list:
    """Table 1 of the paper beside measured runs: ``runs`` maps a column label to a results dict (or None,
    shown as a dash). Two tables: the AuC columns, then the classifier and colourfulness columns."""
    from reprolib.book.tables import comparison_table
    from reprolib.chapters.automatic import paper as zhang2016

    paper = zhang2016.table1()
    pairs = (("auc", "auc"), ("auc_rebal", "auc_rebal"), ("top1", "vgg_top1"))
    numbers = {f"table.{r}.{m}": paper[r][p].value for r in ROWS for m, p in pairs if r in paper and p in paper[r]}
    groups = ([("auc", "AuC (%)", ".1f"), ("auc_rebal", "AuC rebal (%)", ".1f")],
              [("top1", "Top-1 (%)", ".1f"), ("colorfulness", "colourfulness", ".1f")])
    return [comparison_table(rows=list(ROWS), columns=columns, paper=numbers, runs=runs, key="table.{row}.{column}")
            for columns in groups]


def facts(measured: dict) -> list:
    cls = measured["classification"]
    return [
        fact("ECCV16 parameters (Table 1: 129 MB of float32)", zhang2016.PARAMS_MB.value, round(cls["params_mb"], 1),
             tol=0.5, unit="MB"),
        fact("ECCV16 parameter count (released PyTorch port)", 32_236_011, cls["params"], tol=0, unit="parameters"),
        fact("in-gamut ab bins Q", 313, int(quantize.ab_bins().shape[0]), tol=0),
    ]
