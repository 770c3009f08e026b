"""Numbers reported by Zhang, Isola & Efros, "Split-Brain Autoencoders: Unsupervised Learning by Cross-Channel
Prediction", CVPR 2017 (= chapter 5 of R. Zhang's PhD thesis).

Tables 5.4 (ImageNet) and 5.5 (Places) give the top-1 accuracy in % of linear classifiers on the frozen
features of each layer, conv1 to conv5. In the text of the thesis each table comes out as the column of
method names with their conv1 values, then one run of numbers per further layer, the methods in the same
order; we store them in that form (``_TABLE54``, ``_TABLE55``), so that every number can be checked against
the text run by run, and each run has one number per method. The comparison methods of other papers keep
their names; ours are the ablations of sec. 5.5.1.
"""

from __future__ import annotations

from reprolib.claims import PaperNumber
from reprolib.models.splitbrain import LAMBDA_EQ55  # noqa: F401  (sec. 5.5.1: lambda = 1/3)
from reprolib.models.splitbrain import LayerSpec
from reprolib.quantize import NUM_AB_BINS as AB_BINS  # noqa: F401  (sec. 5.5.1: the 313 in-gamut bins)
from reprolib.quantize import NUM_L_BINS as L_BINS  # noqa: F401  (sec. 5.5.1: 50 bins of size 2)

CITATION = "zhang2017split"
LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5")

# Table 5.4, 1000-way ImageNet: method keys, then one run per layer.
_METHODS54 = ("imagenet_labels", "gaussian", "kraehenbuehl", "noroozi", "doersch", "donahue", "pathak",
              "zhang_eccv16", "lab_lab", "lab_drop50_lab", "l_ab_cl", "l_ab_reg", "ab_l_cl", "ab_l_reg",
              "lab_ab_l", "lab_ab_l_lab", "ensembled_l_ab", "split_brain_reg", "split_brain_cl")
_TABLE54 = {
    "conv1": (19.3, 11.6, 17.5, 19.2, 16.2, 17.7, 14.1, 13.1, 12.9, 12.1, 12.5, 12.3, 11.6, 11.5, 15.1, 15.4, 11.7,
              17.4, 17.7),
    "conv2": (36.3, 17.1, 23.0, 30.1, 23.3, 24.5, 20.7, 24.8, 20.1, 20.4, 25.4, 23.5, 19.2, 19.4, 22.6, 22.9, 23.7,
              27.9, 29.3),
    "conv3": (44.2, 16.9, 24.5, 34.7, 30.2, 31.0, 21.0, 31.0, 18.5, 19.7, 32.4, 29.6, 22.6, 23.5, 24.4, 24.0, 30.9,
              33.6, 35.4),
    "conv4": (48.3, 16.3, 23.2, 33.9, 31.7, 29.9, 19.8, 32.6, 15.1, 16.1, 33.1, 31.1, 21.7, 23.9, 23.2, 22.0, 32.2,
              34.2, 35.2),
    "conv5": (50.5, 14.1, 20.6, 28.3, 29.6, 28.0, 15.5, 31.8, 11.5, 12.3, 32.0, 30.1, 19.2, 21.7, 21.1, 18.9, 31.3,
              32.3, 32.8),
}
# Table 5.5, 205-way Places.
_METHODS55 = ("places_labels", "imagenet_labels", "gaussian", "kraehenbuehl", "noroozi", "doersch", "wang_gupta",
              "owens", "donahue", "pathak", "zhang_eccv16", "l_ab_cl", "l_ab_reg", "ab_l_cl", "ab_l_reg",
              "split_brain_cl")
_TABLE55 = {
    "conv1": (22.1, 22.7, 15.7, 21.4, 23.0, 19.7, 20.1, 19.9, 22.0, 18.2, 16.0, 16.4, 16.2, 15.6, 15.9, 21.3),
    "conv2": (35.1, 34.8, 20.3, 26.2, 32.1, 26.7, 28.5, 29.3, 28.7, 23.2, 25.7, 27.5, 26.5, 22.5, 22.8, 30.7),
    "conv3": (40.2, 38.4, 19.8, 27.1, 35.5, 31.9, 29.9, 32.1, 31.8, 23.4, 29.6, 31.4, 30.0, 24.8, 25.6, 34.0),
    "conv4": (43.3, 39.4, 19.1, 26.1, 34.8, 32.7, 29.7, 28.8, 31.3, 21.9, 30.3, 32.1, 30.5, 25.1, 26.2, 34.1),
    "conv5": (44.6, 38.7, 17.5, 24.0, 31.3, 30.9, 27.9, 29.8, 29.7, 18.4, 29.7, 30.2, 29.4, 23.0, 24.9, 32.5),
}

LABELS = {
    "imagenet_labels": "ImageNet-labels (supervised)", "places_labels": "Places-labels (supervised)",
    "gaussian": "Gaussian (random init.)", "kraehenbuehl": "Krähenbühl et al. (k-means init.)",
    "noroozi": "Noroozi & Favaro", "doersch": "Doersch et al.", "donahue": "Donahue et al. (BiGAN)",
    "pathak": "Pathak et al. (context encoder)", "wang_gupta": "Wang & Gupta", "owens": "Owens et al.",
    "zhang_eccv16": "Zhang et al. (ECCV 2016 colorization)", "lab_lab": "Lab→Lab (autoencoder)",
    "lab_drop50_lab": "Lab(drop50)→Lab", "l_ab_cl": "L→ab (cl)", "l_ab_reg": "L→ab (reg)", "ab_l_cl": "ab→L (cl)",
    "ab_l_reg": "ab→L (reg)", "lab_ab_l": "(L,ab)→(ab,L)", "lab_ab_l_lab": "(L,ab,Lab)→(ab,L,Lab)",
    "ensembled_l_ab": "Ensembled L→ab", "split_brain_reg": "Split-Brain (reg,reg)",
    "split_brain_cl": "Split-Brain (cl,cl)",
}

_NOTE_NOROOZI = ("conv1 with stride 2 instead of 4 (the table's footnote: denser maps, more memory and run time); "
                 "the caption's 'best on all layers among unsupervised methods' leaves this method out")


def _table(name: str, where: str, task: str, methods: tuple[str, ...], runs: dict) -> dict[str, dict[str, PaperNumber]]:
    out: dict[str, dict[str, PaperNumber]] = {m: {} for m in methods}
    for layer in LAYERS:
        for method, value in zip(methods, runs[layer]):
            out[method][layer] = PaperNumber(
                key=f"{name}.{method}.{layer}", value=value, unit="%", where=where,
                definition=f"top-1 accuracy of a linear classifier (softmax) on the frozen {layer} features, "
                           f"bilinearly resized to about 9000 values, {task}",
                note=_NOTE_NOROOZI if method == "noroozi" else "")
    return out


def table54() -> dict[str, dict[str, PaperNumber]]:
    """Table 5.4 as ``{method: {layer: PaperNumber}}`` (1000-way ImageNet, top-1 %)."""
    return _table("table54", "Table 5.4", "1000-way ImageNet classification", _METHODS54, _TABLE54)


def table55() -> dict[str, dict[str, PaperNumber]]:
    """Table 5.5 as ``{method: {layer: PaperNumber}}`` (205-way Places, top-1 %)."""
    return _table("table55", "Table 5.5", "205-way Places classification", _METHODS55, _TABLE55)


PROBE_FEATURES = 9000  # Table 5.3 caption / sec. 5.5.1: feature maps resized to about 9000 values
PROBE_SIDES = (10, 6, 5, 5, 6)  # Table 5.3: Xd of conv1 .. conv5
PROBE_SIZES = (9600, 9216, 9600, 9600, 9216)  # sec. 5.5.1: 9600 for conv1, 3, 4 and 9216 for conv2, 5


# Table 5.6, PASCAL VOC (fine-tuned transfer). The text gives the 20 method names, then the column "Ref" of the
# frozen-conv5 classification interleaved with its values (40 tokens: a reference, or "." for "this chapter",
# or "-" when none, then the value or "-"; Jayaraman & Grauman and Misra et al. have "-" for both), then one
# run of 20 values per further column. None: "-" (not reported).
_METHODS56 = ("imagenet_labels", "gaussian", "autoencoder", "kraehenbuehl", "jayaraman", "agrawal", "agrawal_rs",
              "wang_gupta", "wang_gupta_rs", "doersch", "doersch_rs", "pathak", "donahue_rs", "misra", "owens",
              "owens_rs", "zhang_eccv16_rs", "larsson", "pathak_motion", "split_brain_cl_rs")
_ = None
_TABLE56 = {
    "cls_fc6_8": (78.9, _, 16.0, 39.2, _, _, 31.0, _, _, _, 55.1, _, 52.3, _, 54.6, 52.3, 61.5, _, _, 63.0),
    "cls_all": (79.9, 53.3, 53.8, 56.6, _, 52.9, 54.2, 62.8, 63.1, 55.3, 65.3, 56.5, 60.1, _, 54.4, 61.3, 65.9,
                65.9, 61.0, 67.1),
    "det_all": (56.8, 43.4, 41.9, 45.6, 41.7, 41.8, 43.9, 47.4, 47.2, 46.6, 51.1, 44.5, 46.9, 42.4, 44.0, _, 46.9,
                _, 52.2, 46.7),
    "seg_all": (48.0, 19.8, 25.2, 32.6, _, _, _, _, _, _, _, 29.7, 35.2, _, _, _, 35.6, 38.4, _, 36.0),
}
del _
COLUMNS56 = {
    "cls_fc6_8": ("VOC07 classification, conv5 and below frozen, fc6-fc8 fine-tuned", "mAP"),
    "cls_all": ("VOC07 classification, all layers fine-tuned", "mAP"),
    "det_all": ("VOC07 detection (Fast R-CNN), all layers fine-tuned", "mAP"),
    "seg_all": ("VOC12 segmentation (FCN), all layers fine-tuned", "mIU"),
}
LABELS.update({
    "autoencoder": "Autoencoder", "jayaraman": "Jayaraman & Grauman", "agrawal": "Agrawal et al.",
    "agrawal_rs": "Agrawal et al. †", "wang_gupta_rs": "Wang & Gupta †", "doersch_rs": "Doersch et al. †",
    "donahue_rs": "Donahue et al. (BiGAN) †", "misra": "Misra et al.", "owens_rs": "Owens et al. †",
    "zhang_eccv16_rs": "Zhang et al. (ECCV 2016 colorization) †", "larsson": "Larsson et al.",
    "pathak_motion": "Pathak et al. (motion masks)", "split_brain_cl_rs": "Split-Brain (cl,cl) †",
})
_RESCALED = "† : the weights rescaled with Krähenbühl et al.'s method before fine-tuning"


def table56() -> dict[str, dict[str, PaperNumber]]:
    """Table 5.6 as ``{method: {column: PaperNumber}}`` (PASCAL VOC, %; a method's unreported columns absent)."""
    out: dict[str, dict[str, PaperNumber]] = {m: {} for m in _METHODS56}
    for column, (task, metric) in COLUMNS56.items():
        for method, value in zip(_METHODS56, _TABLE56[column]):
            if value is not None:
                out[method][column] = PaperNumber(
                    key=f"table56.{method}.{column}", value=value, unit="%", where="Table 5.6",
                    definition=f"{metric} of {task}", note=_RESCALED if method.endswith("_rs") else "")
    return out


# The full-size networks (never trained here; the chapter checks its builders against these tables).
# Table 5.2, pre-training on 180 x 180 crops, fully convolutional: (layer, X, C, K, S, D, P) as printed, C None
# where it depends on the pre-text task. fc6's P prints as 6, which would make its map 14 x 14 (12 + 2*6 - 11 + 1)
# against the printed X of 12; the released deploy prototxt pads fc6 by 5, which gives 12.
TABLE52 = (("conv1", 45, 96, 11, 4, 1, 5), ("pool1", 23, 96, 3, 2, 1, 1), ("conv2", 23, 256, 5, 1, 1, 2),
           ("pool2", 12, 256, 3, 2, 1, 1), ("conv3", 12, 384, 3, 1, 1, 1), ("conv4", 12, 384, 3, 1, 1, 1),
           ("conv5", 12, 256, 3, 1, 1, 1), ("pool5", 12, 256, 3, 1, 1, 1), ("fc6", 12, 4096, 6, 1, 2, 6),
           ("fc7", 12, 4096, 1, 1, 1, 0), ("fc8", 12, None, 1, 1, 1, 0))
PRETRAIN_SIDE = 180  # Table 5.2: the data layer
FC6_PADDING_DEPLOY = 5  # deploy_lab.prototxt (reference-facts sec. 4): fc6 kernel 6, dilation 2, pad 5
# Table 5.3, feature evaluation on 227 x 227 images: (layer, X, Xd, C, K, S, D, P); Xd None where not probed.
TABLE53 = (("conv1", 55, 10, 96, 11, 4, 1, 0), ("pool1", 27, 10, 96, 3, 2, 1, 0), ("conv2", 27, 6, 256, 5, 1, 1, 2),
           ("pool2", 13, 6, 256, 3, 2, 1, 0), ("conv3", 13, 5, 384, 3, 1, 1, 1), ("conv4", 13, 5, 384, 3, 1, 1, 1),
           ("conv5", 13, 6, 256, 3, 1, 1, 1), ("pool5", 6, 6, 256, 3, 2, 1, 0), ("fc6", 1, None, 4096, 6, 1, 1, 0),
           ("fc7", 1, None, 4096, 1, 1, 1, 0))
EVAL_SIDE = 227  # Table 5.3: the data layer
# The released deploy_lab.prototxt (reference-facts sec. 4), input 3 x 227 x 227 Lab: (layer, kind, C, K, S,
# D, P, groups). data_lab is a 1 x 1 convolution with 3 groups that holds the L centring and scaling.
DEPLOY = (("data_lab", "conv", 3, 1, 1, 1, 0, 3), ("conv1", "conv", 96, 11, 4, 1, 0, 1),
          ("pool1", "pool", None, 3, 2, 1, 0, 1), ("conv2", "conv", 256, 5, 1, 1, 2, 2),
          ("pool2", "pool", None, 3, 2, 1, 0, 1), ("conv3", "conv", 384, 3, 1, 1, 1, 1),
          ("conv4", "conv", 384, 3, 1, 1, 1, 2), ("conv5", "conv", 256, 3, 1, 1, 1, 2),
          ("pool5", "pool", None, 3, 2, 1, 0, 1), ("fc6", "conv", 4096, 6, 1, 2, 5, 1),
          ("fc7", "conv", 4096, 1, 1, 1, 0, 1))
# The deploy layers' weights and biases, from the prototxt's fields: C_out * (C_in / groups) * K^2 + C_out.
# Without data_lab they total 56,868,224; with AlexNet's 1000-way fc8 (4096 * 1000 + 1000) that is 60,965,224,
# the "60 million parameters" of Krizhevsky et al. (2012).
DEPLOY_PARAMETERS = {"data_lab": 3 * 1 * 1 + 3, "conv1": 96 * 3 * 11 * 11 + 96, "conv2": 256 * 48 * 5 * 5 + 256,
                     "conv3": 384 * 256 * 3 * 3 + 384, "conv4": 384 * 192 * 3 * 3 + 384,
                     "conv5": 256 * 192 * 3 * 3 + 256, "fc6": 4096 * 256 * 6 * 6 + 4096, "fc7": 4096 * 4096 + 4096}


def pretrain_specs(fc6_padding: int = FC6_PADDING_DEPLOY) -> list[LayerSpec]:
    """Table 5.2 as layer specs (fc6 padded as the deploy prototxt does, unless told otherwise)."""
    return [LayerSpec(n, "pool" if n.startswith("pool") else "conv", c, k, s, d,
                      fc6_padding if n == "fc6" else p) for n, _x, c, k, s, d, p in TABLE52]


def eval_specs() -> list[LayerSpec]:
    """Table 5.3 as layer specs."""
    return [LayerSpec(n, "pool" if n.startswith("pool") else "conv", c, k, s, d, p)
            for n, _x, _xd, c, k, s, d, p in TABLE53]


def deploy_specs() -> list[LayerSpec]:
    """The deploy prototxt's layers as specs."""
    return [LayerSpec(n, kind, c, k, s, d, p, g) for n, kind, c, k, s, d, p, g in DEPLOY]
