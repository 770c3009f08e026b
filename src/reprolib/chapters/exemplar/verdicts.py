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
METHOD_LABELS = {"two": "both branches (Eq. 7)", "chrom": "chrominance branch only", "perc": "perceptual branch only",
                 "auto": "no reference (control)"}


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
