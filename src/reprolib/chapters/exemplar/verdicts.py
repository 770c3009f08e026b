"""Chapter 7's claims, judged from the measured metrics alone.

Every margin below was fixed, with its reason, before any run of the chapter's networks was seen. Each comparison
is judged on its 95 % bootstrap interval over the test targets (group ``scenes``), paired across models and
reference kinds: every model colours the same targets with the same references. Shares of objects are ratios of
sums over the scenes (``on_mode`` / ``objects``), adherence is over the targets whose primary class has several
colour modes (``multimodal``).
"""

from __future__ import annotations

from reprolib.bootstrap import mean, ratio
from reprolib.claims import Margin, Test, fact, judged, not_testable

S = "scenes:"
FOLLOW = Margin(0.0, "0.70 of the related primaries in the reference's mode (inside the statistic): the paper's "
                     "outputs take the reference's colours where it matches (Fig. 1, 10); a network blind to the "
                     "reference gets 1/3-1/2 on ColorWorld's two- and three-mode classes")
FOLLOW_GAP = Margin(0.30, "0.30 above the reference-blind control of the same size: more than the 1/2 - 1/3 a "
                          "lucky guess of the likeliest mode can explain, one more in three objects following")
ON_MODE = Margin(0.0, "0.75 of the objects in a colour of their class (inside the statistic) with a reference "
                      "that has none of their classes: the fallback to plausible colours of sec. 5.3 and Fig. 8")
FALLBACK_GAP = Margin(0.20, "0.20 more plausible objects than the chrominance-only network, which the paper shows "
                            "copying wrong colours onto unmatched objects (Fig. 8, 4th column)")
COPY_GAP = Margin(0.20, "0.20 more of the objects whose warped colour is off-mode copied by the chrominance-only "
                        "network than by the two-branch one: one in five objects, visible in every figure")
SLACK = Margin(-0.05, "a single branch may beat both branches on its own strength by at most 0.05: the paper's "
                      "two-branch network keeps both strengths (Fig. 8, 5th-7th columns)")
BRANCH_GAP = Margin(0.30, "0.30 more related primaries in the reference's mode than the perceptual-only network, "
                          "which the paper shows ignoring the reference (Fig. 8, 8th column)")
PERC_STILL = Margin(0.0, "the perceptual-only network's primary moves at most 0.25 as far as the two-branch one's "
                         "between two related references of different modes (inside the statistic): 'the same "
                         "colours even for different references' (sec. 5.1), a quarter allowed for noise")
AUC = Margin(0.0, "an AUC of 0.75 (inside the statistic), halfway from chance (0.5) to a perfect ranking: the "
                  "similarity maps say where the warped colour can be trusted (Fig. 7), not perfectly")
PSNR_GAP = Margin(0.3, "0.3 dB below the reference-blind control: a tenth of the paper's gap to Larsson et al. "
                       "(25.50 vs 22.92 dB, Table 2), larger than a rounding difference")
PLAUSIBLE_GAP = Margin(0.10, "0.10 more objects in a colour of their class than the control, while its PSNR is "
                             "lower: the paper's point that PSNR punishes a faithful, plausible colour (sec. 6.3)")
MATCH_GAP = Margin(0.15, "0.15 more target pixels matched onto a region of their own kind with the recommended "
                         "reference than with a random one: the point of recommending (sec. 4)")
RETRIEVED_GAP = Margin(0.05, "0.05 more objects in a colour of their class with the recommended reference than "
                             "with a random one (Table 3: 38.08 % vs 21.92 % fooled, a large effect)")
SEQ_GAP = Margin(0.10, "0.10 more objects in a colour of their class than each sequential pipeline with the same "
                       "related references: Fig. 9 shows colour artifacts over most of the pipelines' images; one "
                       "object in ten is a difference every figure shows")
SEQ_FOLLOW = Margin(-0.05, "the sequential pipelines read the same warped colours, so the end-to-end network must "
                           "follow the reference at least as well as each of them, 0.05 allowed for noise")
RECOGNISED = Margin(0.0, "any gain in the classifier's top-1 above the interval's noise: Table 2's gaps are 3.6 "
                         "points over the grey images and 4.1 over Zhang et al. 2016 (VGG19-BN); the ordering is the "
                         "claim, not the size, which depends on the classifier")
GREY_COST = Margin(0.0, "any loss above the interval's noise: Table 1's colour-trained VGG-19 loses 7.6 top-5 points "
                        "on grey input; the direction is the claim")
METHOD_LABELS = {"two": "both branches (Eq. 7)", "chrom": "chrominance branch only", "perc": "perceptual branch only",
                 "auto": "no reference (control)", "welsh": "global transfer (Welsh et al. 2002)",
                 "seq_threshold": "sequential: top 10 % similarity -> Ch. 2 hints",
                 "seq_crosscheck": "sequential: cross-checked points -> Ch. 2 hints",
                 "ch1": "Ch. 1 automatic (class-rebalanced)", "truth": "ground truth (colour)",
                 "grey": "ground truth (grey)"}


def share(model: str, kind: str, what: str = "on_mode"):
    key = f"{model}.{kind}" if kind else model
    return ratio(f"{S}{key}.{what}", f"{S}{key}.objects")


def adherence(model: str):
    key = model if model == "auto" else f"{model}.related"
    return ratio(f"{S}{key}.adherent", f"{S}multimodal")


def copy_off(model: str):
    return ratio(f"{S}{model}.unrelated.copied_off", f"{S}{model}.unrelated.warped_off")


def per_multimodal(key: str):
    return ratio(f"{S}{key}", f"{S}multimodal")


def claims() -> list:
    return [
        judged("follows_reference",
               "The output can be customised by the reference (Fig. 1, 10; sec. 5.3): with a related reference whose "
               "object wears a chosen colour mode, at least 70 % of the target's multimodal primaries take that mode "
               "under the two-branch network, 0.30 more than under the reference-blind control.",
               [Test("adherence(two) - 0.70", adherence("two") - 0.70, FOLLOW),
                Test("adherence(two) - adherence(control)", adherence("two") - adherence("auto"), FOLLOW_GAP)]),
        judged("unrelated_fallback",
               "With an unrelated reference the network falls back to plausible colours instead of copying (sec. 5.3, "
               "Fig. 8): at least 75 % of the objects take a colour of their class under the two-branch network, 0.20 "
               "more than under the chrominance-only network, which copies off-mode warped colours 0.20 more often.",
               [Test("on-mode(two, unrelated) - 0.75", share("two", "unrelated") - 0.75, ON_MODE),
                Test("on-mode(two) - on-mode(chrom), unrelated", share("two", "unrelated") - share("chrom", "unrelated"),
                     FALLBACK_GAP),
                Test("copy(chrom) - copy(two), off-mode warped colours", copy_off("chrom") - copy_off("two"), COPY_GAP)]),
        judged("two_branches_best",
               "The two branches together get the strengths of both (sec. 5.1, Fig. 8): the two-branch network follows "
               "related references 0.30 more often than the perceptual-only one, falls back at least as well as the "
               "perceptual-only one and follows at least as well as the chrominance-only one (each within 0.05).",
               [Test("adherence(two) - adherence(perc)", adherence("two") - adherence("perc"), BRANCH_GAP),
                Test("on-mode(two) - on-mode(perc), unrelated", share("two", "unrelated") - share("perc", "unrelated"),
                     SLACK),
                Test("adherence(two) - adherence(chrom)", adherence("two") - adherence("chrom"), SLACK)]),
        judged("perc_ignores_reference",
               "The perceptual branch alone predicts the dominant colours whatever the reference (sec. 5.1, Fig. 8): "
               "between two related references whose object wears different modes, its primary's colour moves at most "
               "a quarter as far as the two-branch network's.",
               [Test("0.25 change(two) - change(perc)",
                     0.25 * per_multimodal("two.mode_change") - per_multimodal("perc.mode_change"), PERC_STILL)]),
        judged("similarity_predicts_match",
               "The similarity maps tell good matches from bad (sec. 3.1, Fig. 7): on related pairs, the mean of the "
               "ten maps ranks the target pixels whose match lands on a region of their own kind above the others "
               "with an AUC of at least 0.75 (mean over targets).",
               [Test("AUC(mean similarity, correct match) - 0.75",
                     ratio(f"{S}related.auc", f"{S}related.auc_defined") - 0.75, AUC)]),
        judged("psnr_penalises_faithfulness",
               "PSNR punishes a faithful, plausible colorization (Table 2, sec. 6.3): with related references the "
               "two-branch network's PSNR is at least 0.3 dB below the reference-blind control's while 0.10 more of "
               "its objects wear a colour of their class.",
               [Test("PSNR(control) - PSNR(two)",
                     mean(f"{S}auto.psnr") - mean(f"{S}two.related.psnr"),
                     PSNR_GAP),
                Test("on-mode(two) - on-mode(control), related", share("two", "related") - share("auto", ""),
                     PLAUSIBLE_GAP)]),
        judged("retrieved_beats_random",
               "A recommended reference beats a random one (sec. 4, Table 3): with the top-1 recommendation, 0.15 more "
               "target pixels match onto a region of their own kind and 0.05 more objects take a colour of their "
               "class (two-branch network) than with a random reference.",
               [Test("correct matches(recommended) - (random)",
                     mean(f"{S}recommended.correct") - mean(f"{S}random.correct"), MATCH_GAP),
                Test("on-mode(two): recommended - random",
                     share("two", "recommended") - share("two", "random"), RETRIEVED_GAP)]),
        judged("end_to_end_beats_sequential",
               "Learning where to trust the warped colours beats fixed point-selection rules followed by a hint "
               "network (sec. 5.2, Fig. 9): with related references, 0.10 more of the target's objects take a colour "
               "of their class under the two-branch network than under either sequential pipeline (top 10 % "
               "similarity, cross-check; Ch. 2's hint network), and it follows the reference at least as well "
               "(within 0.05).",
               [Test(f"on-mode(two) - on-mode({rule}), related", share("two", "related") - share(rule, "related"),
                     SEQ_GAP) for rule in ("seq_threshold", "seq_crosscheck")]
               + [Test(f"adherence(two) - adherence({rule})", adherence("two") - adherence(rule), SEQ_FOLLOW)
                  for rule in ("seq_threshold", "seq_crosscheck")]),
        judged("recognised_after_colorization",
               "Colorized with its top-1 recommended reference, an image is recognised more often by a classifier "
               "trained on colour images than its grey version and than Zhang et al. 2016's automatic colorization "
               "(Table 2; here Ch. 1's classifier and Ch. 1's class-rebalanced network).",
               [Test("top-1(two, recommended) - top-1(grey)",
                     mean(f"{S}two.recommended.recognised") - mean(f"{S}grey.recognised"), RECOGNISED),
                Test("top-1(two, recommended) - top-1(Ch. 1)",
                     mean(f"{S}two.recommended.recognised") - mean(f"{S}ch1.recognised"), RECOGNISED)]),
        judged("grey_input_costs_features",
               "A colour-trained network's features are worse on grey input (Table 1, the reason the paper "
               "fine-tunes its VGG-19 on grey images): the frozen ImageNet VGG16 matches more target pixels of "
               "related pairs onto a region of their own kind when both images are in colour than when both are "
               "grey.",
               [Test("correct matches(colour input) - (grey input), related",
                     mean(f"{S}related_colour.correct") - mean(f"{S}related.correct"), GREY_COST)]),
        not_testable("amt_fooling_rate",
                     "Table 3: 38.08 % of AMT participants took the top-1 colorization for the real photo.",
                     "needs human judges; the retrieved-versus-random claim measures the same ordering on ColorWorld"),
    ]



RELEASED_PARAMETERS = 34_065_666  # ExampleColorNet(ic=13) of the release, counted from its layout (models.exemplar)


def facts(measured: dict) -> list:
    return [
        fact("The colorization sub-net at full width has the released network's parameters (example_net.pth layout)",
             RELEASED_PARAMETERS, measured["paper_net_params"], tol=0, unit="parameters"),
        fact("Input 2 has 13 channels: L, the warped ab, 5 + 5 similarity maps (sec. 3.2)", 13,
             measured["input_channels"], tol=0, unit="channels"),
        fact("An image matched with itself: every pixel maps to itself both ways (share of pixels)", 1.0,
             measured["self_match_identity"], tol=0, unit=""),
    ]


# ---------------------------------------------------------------------------------------------
# Tables

TABLE2_ROWS = (("gt_color", "ground truth (colour)"), ("gt_gray", "ground truth (grey)"),
               ("zhang16", "Zhang et al. 2016 / Ch. 1 (class-rebalanced)"),
               ("ours", "ours, top-1 recommended reference / two branches"),
               ("auto", "same network, no reference (ours only)"), ("welsh", "global transfer, top-1 (ours only)"))
# Table 2's rows -> (the measured method, the kind of reference) in metrics["summary"]
TABLE2_MEASURED = {"gt_color": ("truth", "none"), "gt_gray": ("grey", "none"), "zhang16": ("ch1", "none"),
                   "ours": ("two", "recommended"), "auto": ("auto", "none"), "welsh": ("welsh", "recommended")}
TABLE3_ROWS = (("zhang16", "Zhang et al. 2016 / Ch. 1"), ("ours_random", "ours, random reference"),
               ("ours_top1", "ours, top-1 recommended reference"))
TABLE3_MEASURED = {"zhang16": ("ch1", "none"), "ours_random": ("two", "random"),
                   "ours_top1": ("two", "recommended")}
MAIN_ROWS = (("two", METHOD_LABELS["two"]), ("chrom", METHOD_LABELS["chrom"]), ("perc", METHOD_LABELS["perc"]),
             ("seq_threshold", METHOD_LABELS["seq_threshold"]), ("seq_crosscheck", METHOD_LABELS["seq_crosscheck"]),
             ("welsh", METHOD_LABELS["welsh"]), ("auto", METHOD_LABELS["auto"]), ("ch1", METHOD_LABELS["ch1"]))


def _tree(runs: dict, values) -> dict:
    return {label: None if res is None else {"metrics": values(res["metrics"]["summary"])}
            for label, res in runs.items()}


def _cell(summary: dict, method: str, kind: str, what: str):
    return summary.get(method, {}).get(kind, {}).get(what)


def paper_tables(runs: dict) -> list:
    """Table 2 (recognition after colorization, PSNR) and Table 3 (AMT fooling rate, beside ColorWorld's share of
    plausible objects: a stand-in measure, never a human judgement) beside ours, and the chapter's own table of
    every method and reference kind (the paper has no numbers for it)."""
    from reprolib.book.tables import comparison_table
    from reprolib.chapters.exemplar import paper as he2018

    t2 = he2018.table2()
    paper2 = {}
    for row, _ in TABLE2_ROWS:
        for col, key in (("vgg19bn_top1", f"{row}.vgg19bn.top1"), ("vgg16_top1", f"{row}.vgg16.top1"),
                         ("psnr", f"{row}.psnr")):
            if key in t2:
                paper2[f"t2.{row}.{col}"] = t2[key].value

    def values2(summary):
        out = {}
        for row, (method, kind) in TABLE2_MEASURED.items():
            top1, db = _cell(summary, method, kind, "recognised"), _cell(summary, method, kind, "psnr")
            if top1 is not None:
                out[f"t2.{row}.cw_top1"] = 100.0 * top1
            if db is not None:
                out[f"t2.{row}.psnr"] = db
        return out

    cols2 = [("vgg19bn_top1", "VGG19-BN top-1 (%)", ".2f"), ("vgg16_top1", "VGG16 top-1 (%)", ".2f"),
             ("cw_top1", "Ch. 1 classifier top-1 (%)", ".1f"), ("psnr", "PSNR (dB)", ".2f")]
    tables = [comparison_table(
        TABLE2_ROWS, cols2, paper2, _tree(runs, values2), key="t2.{row}.{column}",
        paper_only=("vgg19bn_top1", "vgg16_top1"), measured_only=("cw_top1",),
        caption="Table 2: recognition after colorization (ImageNet classifiers in the paper, Chapter 1's ColorWorld "
                "classifier here, every image resized to its size) and PSNR to the ground truth (sRGB, peak 1 here; "
                "the paper does not say)")]

    paper3 = {f"t3.{row}.fooled": v.value for row, v in he2018.table3().items()}

    def values3(summary):
        return {f"t3.{row}.on_mode": 100.0 * v for row, (method, kind) in TABLE3_MEASURED.items()
                if (v := _cell(summary, method, kind, "on_mode")) is not None}

    tables.append(comparison_table(
        TABLE3_ROWS, [("fooled", "AMT fooling rate (%)", ".2f"), ("on_mode", "objects in a colour of their class (%)",
                                                                  ".1f")],
        paper3, _tree(runs, values3), key="t3.{row}.{column}", paper_only=("fooled",), measured_only=("on_mode",),
        caption="Table 3: the paper's human study (fooling rate) beside ColorWorld's share of plausibly coloured "
                "objects; the second column is a stand-in for the ordering, not a human judgement"))

    kinds = (("related", "related"), ("unrelated", "unrelated"), ("recommended", "recommended"), ("random", "random"))

    def values_main(summary):
        out = {}
        for method, _ in MAIN_ROWS:
            blind = method in ("auto", "ch1")
            for kind, _label in kinds:
                got = summary.get(method, {}).get("none" if blind else kind, {})
                if "on_mode" in got:
                    out[f"m.{method}.{kind}_on_mode"] = 100.0 * got["on_mode"]
            rel = summary.get(method, {}).get("none" if blind else "related", {})
            if "adherence" in rel:
                out[f"m.{method}.adherence"] = 100.0 * rel["adherence"]
        return out

    cols = [("adherence", "related: primary in the reference's mode (%)", ".1f")]
    cols += [(f"{k}_on_mode", f"{label}: objects on a mode (%)", ".1f") for k, label in kinds]
    tables.append(comparison_table(
        MAIN_ROWS, cols, {}, _tree(runs, values_main), key="m.{row}.{column}", measured_only=tuple(c[0] for c in cols),
        caption="Every method with every kind of reference (no paper numbers: ColorWorld's measures); the methods "
                "without a reference show the same numbers in every column"))
    return tables
