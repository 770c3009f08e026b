"""Chapter 8's claims, judged from the measured metrics alone.

Every margin below was fixed, with its reason, before any run of the chapter's networks was seen. Each comparison
is judged on its 95 % bootstrap interval over the test scenes (group ``scenes``), paired across models: every model
colours the same test scenes. MSE is on the 8-bit scale, SSIM in [0, 1] (the paper prints it in %).
"""

from __future__ import annotations

from reprolib.bootstrap import mean, ratio
from reprolib.claims import Margin, Test, fact, judged, not_testable

S = "scenes:"
BETTER = Margin(0.0, "any improvement above the interval's noise: Table 1's MSE gains are 0.4-2.4 (1.2 on average) "
                     "on the 8-bit scale, single runs; the direction is the claim")
SSIM_GAIN = Margin(0.0, "any SSIM gain above the interval's noise: Table 2's gains are 3 and 5 points of SSIM %")
NOT_WORSE_MSE = Margin(0.0, "at most 10 % above Col-Cycle's MSE (inside the statistic): Fig. 6 shows SpyncoGan at or "
                            "below Col-Cycle over the epochs; 10 % allows for one seed's noise")
NOT_WORSE_SSIM = Margin(-0.02, "SSIM at most 0.02 below Col-Cycle's: two points of the paper's SSIM %, about its "
                               "largest Table 1 difference")
SCALE_ORDER = Margin(0.0, "any SSIM gain from G_2 to G_1 and from G_3 to G_2 above the noise: Fig. 6's curves order "
                          "the outputs by scale; the direction is the claim")
CHECKER = Margin(0.0, "G_3's high-frequency energy at least 1.5 times G_1's (inside the statistic): Fig. 5 shows "
                      "checkerboards on G_3 that G_1 does not have, a visible, not a marginal, difference")
PLAUSIBLE = Margin(0.15, "0.15 more primaries on a mode of their class than a colorizer that paints another class's "
                         "colours: one object in seven, a difference every figure would show")
PAIRED_SLACK = Margin(0.0, "the unpaired model must not beat the paired reference by more than noise (the paired one "
                           "sees the answer)")
GREY_PSNR = Margin(0.0, "30 dB (inside the statistic): an RMS error of 3 % of the grey range (about 8 grey levels), "
                        "what the pseudo-cycle's weight of 10 should reach; set before any run")

METHOD_LABELS = {"spynco": "SpyncoGan (L^{1,2,3})", "no_osp": "SpyncoGan without OSP (L^1)",
                 "no_contours": "SpyncoGan without the contours loss", "colcycle": "Col-Cycle (full cycle)",
                 "paired": "paired reference (supervised)", "chance": "another class's colours",
                 "truth": "ground truth"}


def m(name: str, i: int, what: str):
    return mean(f"{S}{name}.G{i}.{what}")


def on_mode(name: str):
    return ratio(f"{S}{name}.on_mode", f"{S}visible")


def claims() -> list:
    return [
        judged("osp_improves_mse",
               "Training every pyramid output improves the final output (Table 1): G_1's MSE against the real colours "
               "is lower with the output pyramid (L^{1,2,3}) than without it (L^1).",
               [Test("MSE(L^1) - MSE(L^{1,2,3}), G_1", m("no_osp", 1, "mse") - m("spynco", 1, "mse"), BETTER)]),
        judged("contours_preserve_structure",
               "The contours loss keeps structure (Table 2): G_1's SSIM is higher with it than without it.",
               [Test("SSIM(with contours) - SSIM(without), G_1", m("spynco", 1, "ssim") - m("no_contours", 1, "ssim"),
                     SSIM_GAIN)]),
        judged("pseudo_cycle_matches_full_cycle",
               "One generator and H_t do as well as a full cycle of two generators and two discriminators (Fig. 6, "
               "sec. 6.2.2): G_1's MSE is at most 10 % above Col-Cycle's and its SSIM at most 0.02 below.",
               [Test("1.1 MSE(Col-Cycle) - MSE(SpyncoGan)", 1.1 * m("colcycle", 1, "mse") - m("spynco", 1, "mse"),
                     NOT_WORSE_MSE),
                Test("SSIM(SpyncoGan) - SSIM(Col-Cycle)", m("spynco", 1, "ssim") - m("colcycle", 1, "ssim"),
                     NOT_WORSE_SSIM)]),
        judged("quality_grows_with_scale",
               "The larger the output, the better (Fig. 6): SSIM of G_1 above G_2 above G_3.",
               [Test("SSIM(G_1) - SSIM(G_2)", m("spynco", 1, "ssim") - m("spynco", 2, "ssim"), SCALE_ORDER),
                Test("SSIM(G_2) - SSIM(G_3)", m("spynco", 2, "ssim") - m("spynco", 3, "ssim"), SCALE_ORDER)]),
        judged("checkerboard_on_smallest_output",
               "The smallest output shows checkerboard artefacts the final one does not (Fig. 5): G_3's energy at "
               "periods up to 4 pixels is at least 1.5 times G_1's.",
               [Test("energy(G_3) - 1.5 energy(G_1)", m("spynco", 3, "checker") - 1.5 * m("spynco", 1, "checker"),
                     CHECKER)]),
        judged("colour_without_pairs",
               "SpyncoGan learns plausible colours without pairs (sec. 6.1): 0.15 more primary objects take a colour "
               "mode of their class than with another class's colours, and no more than the paired reference.",
               [Test("on-mode(SpyncoGan) - on-mode(another class)", on_mode("spynco") - on_mode("chance"), PLAUSIBLE),
                Test("on-mode(paired) - on-mode(SpyncoGan)", on_mode("paired") - on_mode("spynco"), PAIRED_SLACK)]),
        judged("pseudo_cycle_keeps_the_grey",
               "H_t of the colorization gives the grey input back (the pseudo-cycle, sec. 3): the PSNR of H_t(G_1(I)) "
               "against I is at least 30 dB.",
               [Test("PSNR(H_t(G_1(I)), I) - 30 dB", mean(f"{S}spynco.grey_psnr") - 30.0, GREY_PSNR)]),
        not_testable("cross_domain_classification",
                     "Classifiers trained on colorized images match or beat those trained on real colour ones "
                     "(Table 3).",
                     "needs CIFAR-10 or UCMerced and 256 px AlexNet / VGG-16 classifiers; the online section runs the "
                     "CIFAR-10 split"),
        not_testable("dataset_numbers",
                     "Tables 1-2's values on Cezanne, Landscape, UCMerced and CIFAR-10.",
                     "those data sets at 256 px for 100 epochs; the chapter measures the same protocols on ColorWorld"),
    ]


def facts(measured: dict) -> list:
    return [
        fact("H_t has three fixed weights, none trainable (sec. 4.1)", 3, measured["ht_params"], tol=0,
             unit="parameters"),
        fact("H_t's trainable parameters", 0, measured["ht_trainable"], tol=0, unit="parameters"),
        fact("D at the paper's width (sec. 4.1: about 2.085 M; reading: separable PatchGAN, 1 x 1 output; within "
             "0.5 %, the rounding of '2.085 M' and the readings' spread)", 2_085_000, measured["D_params"],
             tol=0.005 * 2_085_000, unit="parameters"),
        fact("G at the paper's width (sec. 4.1: about 4.978 M; Fig. 4 is lost, the closest natural reading is within "
             "5 %: the count pins no single layer list)", 4_978_000, measured["G_params"], tol=0.05 * 4_978_000,
             unit="parameters"),
    ]


# ---------------------------------------------------------------------------------------------
# Tables

TABLE1_ROWS = (("l1", "L^1: G_1 alone in the losses (ours: no_osp)"), ("l123", "L^{1,2,3}: the pyramid (ours: spynco)"))
TABLE1_MEASURED = {"l1": "no_osp", "l123": "spynco"}
TABLE2_ROWS = (("without_contours", "without the contours loss (ours: no_contours)"),
               ("with_contours", "with it (ours: spynco)"))
TABLE2_MEASURED = {"without_contours": "no_contours", "with_contours": "spynco"}
MAIN_ROWS = tuple((k, METHOD_LABELS[k]) for k in ("spynco", "no_osp", "no_contours", "colcycle", "paired"))


def _tree(runs: dict, values) -> dict:
    return {label: None if res is None else {"metrics": values(res["metrics"]["summary"])}
            for label, res in runs.items()}


def paper_tables(runs: dict) -> list:
    """Table 1 (the output pyramid) and Table 2 (the contours loss) beside ColorWorld's G_1, and every model's
    three outputs (the paper's Fig. 6 at the last epoch; it prints no numbers for it)."""
    from reprolib.book.tables import comparison_table
    from reprolib.chapters.pseudo_cyclic import paper as ratajczak2019

    t1, t2 = ratajczak2019.table1(), ratajczak2019.table2()
    paper1 = {f"t1.{row}.{ds}_{k}": t1[f"{ds}.{row}.{k}"].value for row, _ in TABLE1_ROWS
              for ds in ratajczak2019.DATASETS for k in ("mse", "ssim")}

    def values1(summary):
        return {f"t1.{row}.cw_{k}": (100 * v if k == "ssim" else v) for row, name in TABLE1_MEASURED.items()
                if name in summary for k, v in summary[name]["G1"].items()}

    cols1 = [(f"{ds}_{k}", f"{ds} {k.upper()}{' %' if k == 'ssim' else ''}", ".1f" if k == "mse" else ".0f")
             for ds in ratajczak2019.DATASETS for k in ("mse", "ssim")]
    cols1 += [("cw_mse", "ColorWorld MSE", ".1f"), ("cw_ssim", "ColorWorld SSIM %", ".1f")]
    tables = [comparison_table(TABLE1_ROWS, cols1, paper1, _tree(runs, values1), key="t1.{row}.{column}",
                               paper_only=tuple(c[0] for c in cols1[:-2]), measured_only=("cw_mse", "cw_ssim"),
                               caption="Table 1: G_1's MSE (8-bit scale, lower is better) and SSIM % (higher is "
                                       "better) with the losses on G_1 alone or on the three outputs")]
    paper2 = {f"t2.{v}.{k}": t2[f"l123.{v}.{k}"].value for v, _ in TABLE2_ROWS for k in ("mse", "ssim")}

    def values2(summary):
        return {f"t2.{row}.cw_{k}": (100 * v if k == "ssim" else v) for row, name in TABLE2_MEASURED.items()
                if name in summary for k, v in summary[name]["G1"].items()}

    cols2 = [("mse", "Cezanne MSE", ".1f"), ("ssim", "Cezanne SSIM %", ".0f"), ("cw_mse", "ColorWorld MSE", ".1f"),
             ("cw_ssim", "ColorWorld SSIM %", ".1f")]
    tables.append(comparison_table(TABLE2_ROWS, cols2, paper2, _tree(runs, values2), key="t2.{row}.{column}",
                                   paper_only=("mse", "ssim"), measured_only=("cw_mse", "cw_ssim"),
                                   caption="Table 2: the contours loss (L^{1,2,3}, Cezanne in the paper)"))

    def values_main(summary):
        out = {}
        for name, _ in MAIN_ROWS:
            for i in (1, 2, 3):
                got = summary.get(name, {}).get(f"G{i}")
                if got:
                    out[f"m.{name}.g{i}_mse"], out[f"m.{name}.g{i}_ssim"] = got["mse"], 100 * got["ssim"]
            if name in summary:
                out[f"m.{name}.on_mode"] = 100 * summary[name]["on_mode"]
                out[f"m.{name}.grey_psnr"] = summary[name]["grey_psnr"]
        return out

    cols = [(f"g{i}_{k}", f"G_{i} {k.upper()}", ".1f") for i in (1, 2, 3) for k in ("mse", "ssim")]
    cols += [("on_mode", "primaries on a mode (%)", ".1f"), ("grey_psnr", "PSNR of H_t(G_1) to I (dB)", ".1f")]
    tables.append(comparison_table(MAIN_ROWS, cols, {}, _tree(runs, values_main), key="m.{row}.{column}",
                                   measured_only=tuple(c[0] for c in cols),
                                   caption="Every model's three outputs on the test scenes (ColorWorld only; Col-Cycle "
                                           "has one output, repeated; the L^1 model's inner outputs are read through "
                                           "its shared map but never trained)"))
    return tables
