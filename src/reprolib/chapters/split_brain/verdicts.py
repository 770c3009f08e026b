"""Chapter 4's claims, judged from the probes' per-scene outcomes alone.

Every margin below was fixed, with its reason, before any fast or full run of the chapter (from the gaps of
Table 5.4 and the probes' resolution: an accuracy over the fast profile's 1000 test scenes has a standard
error of about 1.5 points, over its roughly 500 colour-task scenes about 2 points). Each comparison is judged
on its 95 % bootstrap interval over the test scenes, paired across models and layers (every probe is tested
on the same scenes): group ``object`` for the object's class, group ``colour`` for the main object's colour
mode. Table 5.4 compares layer by layer; where the paper's claim is about a method being better overall, we
compare the mean accuracy over the five layers (the paper's gaps of such claims are positive at every layer
or all but one).
"""

from __future__ import annotations

from reprolib.bootstrap import average, mean
from reprolib.claims import Margin, Test, judged, not_testable
from reprolib.models.splitbrain import LAYERS

O, COL = "object:", "colour:"
SELF_SUPERVISED = ("lab_lab", "lab_drop50_lab", "l_ab_cl", "l_ab_reg", "ab_l_cl", "ab_l_reg", "lab_ab_l",
                   "lab_ab_l_lab", "ensembled_l_ab", "split_brain_reg", "split_brain_cl")

BETTER = Margin(0.0, "better: the interval of the difference above 0. Table 5.4's smallest layer-mean gap that the "
                     "paper calls better (split-brain cl over reg) is 1.0 point, about one standard error of our "
                     "probe, so a larger bar would test our resolution rather than the claim")
CLEAR = Margin(0.01, "1 point of accuracy: Table 5.4's layer-mean gaps of these comparisons are 3.0 (split-brain "
                     "over L->ab) and 4.1 (over the ensembled pair) points; a third of that, above rounding")
JOINT = Margin(0.02, "2 points: Table 5.4's layer-mean gaps to the joint networks are 8.8 and 9.4 points, and at "
                     "least 2.3 at every layer")
AE_GAP = Margin(0.03, "3 points: Table 5.4's layer-mean gap of split-brain (reg,reg) over the autoencoder is 13.5 "
                      "points (+4.5 at conv1)")
DEGRADES = Margin(0.02, "2 points: the autoencoder's Table 5.4 accuracy falls from 20.1 (conv2) to 11.5 (conv5); 2 "
                        "points is about the standard error of a difference of two of our probes")
SMALL = Margin(0.0, "'about 1 %' (sec. 5.5.1) read as: the layer-mean difference within 3 points, a band of two "
                    "standard errors (inside the statistic)")
BLIND = Margin(0.0, "at most 4.5 points above the Bayes rate from the grey image (inside the statistic): about two "
                    "standard errors of a probe on 500 scenes; a cross-channel encoder from L cannot know the mode")
SEES = Margin(0.20, "20 points above the Bayes rate from the grey image: a representation that sees the colour "
                    "reads the mode of most objects (the brief's bar; the Bayes rate is about 56 %)")
ABOVE_RANDOM = Margin(0.02, "2 points above the random network: Table 5.4's ab->L (reg) is 2.3 to 7.6 points above "
                            "Gaussian at conv2-conv5")


def acc(model: str, layer: str, task: str = O):
    return mean(f"{task}{model}.{layer}")


def layer_mean(model: str, task: str = O):
    return average(*(acc(model, layer, task) for layer in LAYERS))


def bayes():
    """The colour task's Bayes rate from the grey image, as a mean over the colour scenes (resampled with them)."""
    return mean(f"{COL}bayes")


def _gap(a: str, b: str, margin: Margin) -> Test:
    return Test(f"layer mean: {a} - {b}", layer_mean(a) - layer_mean(b), margin)


def claims() -> list:
    return [
        judged("split_beats_all_variants",
               "Split-brain (cl,cl) gives the best representation of the self-supervised variants (Table 5.4)",
               [_gap("split_brain_cl", m, BETTER) for m in SELF_SUPERVISED if m != "split_brain_cl"]),
        judged("cl_beats_reg", "Classification losses beat regression for colorization and for the split-brain "
                               "autoencoder (sec. 5.5.1, Table 5.4)",
               [_gap("split_brain_cl", "split_brain_reg", BETTER), _gap("l_ab_cl", "l_ab_reg", BETTER)]),
        judged("split_beats_cross_channel", "Split-brain (cl,cl) beats a single cross-channel encoder, L->ab (cl) "
                                            "(Table 5.4)", [_gap("split_brain_cl", "l_ab_cl", CLEAR)]),
        judged("complementary_not_ensemble", "Two complementary halves beat two colorization halves: split-brain "
                                             "(cl,cl) over the ensembled L->ab (Fig. 5.4c)",
               [_gap("split_brain_cl", "ensembled_l_ab", CLEAR)]),
        judged("concat_beats_joint", "Splitting the network beats one network trained on both directions, with "
                                     "or without the autoencoder term (Eq. 5.4, 5.5; Fig. 5.4c)",
               [_gap("split_brain_cl", "lab_ab_l", JOINT), _gap("split_brain_cl", "lab_ab_l_lab", JOINT)]),
        judged("split_beats_autoencoder", "The split architecture beats the plain autoencoder with the same "
                                          "losses: split-brain (reg,reg) over Lab->Lab (sec. 5.5.1)",
               [_gap("split_brain_reg", "lab_lab", AE_GAP)]),
        judged("autoencoder_degrades", "The autoencoder's features get worse with depth (Fig. 5.4a): conv2 above "
                                       "conv5", [Test("lab_lab: conv2 - conv5", acc("lab_lab", "conv2")
                                                      - acc("lab_lab", "conv5"), DEGRADES)]),
        judged("denoising_small", "Dropping half the input changes the autoencoder's features little (sec. "
                                  "5.5.1: about 1 %)",
               [Test("0.03 - |layer mean: drop50 - lab_lab|",
                     0.03 - abs(layer_mean("lab_drop50_lab") - layer_mean("lab_lab")), SMALL)]),
        judged("ab_to_l_learns", "Grey prediction from colour learns features above a random network at conv2 "
                                 "to conv5 (Table 5.4, ab->L (reg))",
               [Test(f"ab_l_reg - gaussian at {layer}", acc("ab_l_reg", layer) - acc("gaussian", layer),
                     ABOVE_RANDOM) for layer in LAYERS[1:]]),
        judged("colorization_colour_blind", "A network that sees only L cannot know which colour an object was "
                                            "given: its features read the colour mode no better than the grey "
                                            "image allows, at every layer, while the split-brain features read it "
                                            "(sec. 5.3, Table 5.1)",
               [Test(f"bayes + 0.045 - l_ab_cl colour at {layer}", bayes() + 0.045 - acc("l_ab_cl", layer, COL),
                     BLIND) for layer in LAYERS]
               + [Test(f"split_brain_cl colour at {layer} - bayes", acc("split_brain_cl", layer, COL) - bayes(), SEES)
                  for layer in LAYERS[:3]]),
        not_testable("imagenet_places_numbers", "The absolute accuracies of Tables 5.4 and 5.5",
                     "they are 1000-way ImageNet and 205-way Places probes on 1.3 M and 2.4 M images; ours are "
                     "8 ColorWorld classes on a few thousand scenes (the online section runs Imagenette)"),
        not_testable("pascal_transfer", "Fine-tuned PASCAL classification, detection and segmentation (Table 5.6)",
                     "needs PASCAL VOC, the Krähenbühl rescaling and days of fine-tuning"),
        not_testable("rgbd", "The split-brain autoencoder on RGB-D (NYU-D, Table 5.7)",
                     "ColorWorld has no depth channel and NYU-D is not available offline"),
        not_testable("published_methods", "Split-brain beats the published self-supervised methods (Tables 5.4, "
                                          "5.5)", "their networks and data are not part of this book"),
    ]


# ---------------------------------------------------------------------------------------------
# Paper versus ours

OURS = (*SELF_SUPERVISED, "gaussian", "supervised", "imagenet")


def paper_tables(runs: dict) -> list:
    """Table 5.4 beside our object-class probes (top-1 %, per layer; the paper's ImageNet-labels row beside our
    supervised reference and beside the ImageNet AlexNet), and our colour-mode probes (no paper counterpart);
    ``runs``: label -> results or None."""
    from reprolib.book.tables import comparison_table
    from reprolib.chapters.split_brain import paper
    from reprolib.models.splitbrain import VARIANTS

    t54 = paper.table54()
    flat = {f"{m}.{layer}": n.value for m, row in t54.items() for layer, n in row.items()}
    flat.update({f"{ref}.{layer}": t54["imagenet_labels"][layer].value for layer in LAYERS
                 for ref in ("supervised", "imagenet")})
    rows = [(m, VARIANTS[m].label) for m in OURS]

    def percent(task: str) -> dict:
        return {label: None if res is None else {"metrics": {f"{m}.{layer}": 100 * a for m, v in
                                                             res["metrics"]["accuracy"][task].items()
                                                             for layer, a in v.items()}}
                for label, res in runs.items()}

    t1 = comparison_table(rows, [(layer, layer, ".1f") for layer in LAYERS], flat, percent("object"), key="{row}.{column}",
                          caption="Table 5.4 (1000-way ImageNet, top-1 %) beside our 8-way object-class probes "
                                  "(ColorWorld, top-1 %); the supervised and ImageNet rows: the paper's "
                                  "ImageNet-labels row")
    t2 = comparison_table(rows, [(layer, layer, ".1f") for layer in LAYERS], {}, percent("colour"), key="{row}.{column}",
                          measured_only=LAYERS,
                          caption="The main object's colour mode read from each layer (top-1 %); the grey image "
                                  "alone allows the Bayes rate (about 56 %)")
    return [t1, t2]


def transfer_tables() -> list:
    """The paper's other two tables, which this book cannot measure: Table 5.5 (the same probes on Places) and
    Table 5.6 (fine-tuned PASCAL VOC transfer); ``-``: not reported."""
    from reprolib.book.tables import comparison_table
    from reprolib.chapters.split_brain import paper

    t55, t56 = paper.table55(), paper.table56()
    flat55 = {f"{m}.{layer}": n.value for m, row in t55.items() for layer, n in row.items()}
    flat56 = {f"{m}.{c}": n.value for m, row in t56.items() for c, n in row.items()}
    one = comparison_table([(m, paper.LABELS[m]) for m in t55], [(layer, layer, ".1f") for layer in LAYERS], flat55, {},
                           caption="Table 5.5: the same linear probes on 205-way Places (top-1 %), as printed")
    two = comparison_table([(m, paper.LABELS[m]) for m in t56],
                           [(c, f"{task} ({metric})", ".1f") for c, (task, metric) in paper.COLUMNS56.items()], flat56, {},
                           caption="Table 5.6: transfer to PASCAL VOC by fine-tuning (%), as printed; † weights "
                                   "rescaled (Krähenbühl et al.) before fine-tuning")
    return [one, two]
