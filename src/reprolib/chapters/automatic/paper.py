"""Numbers reported by Zhang, Isola & Efros, "Colorful Image Colorization", ECCV 2016.

Source: Table 1 of the ECCV paper (= Table 2.1 of R. Zhang's PhD thesis, which keeps the column layout
that the text extraction of the ECCV paper lost). Test set: 10k ImageNet validation images ("ctest10k").
The table's columns, as we read them from the thesis:

    Params (MB) | Feats (MB) | Runtime (ms) | AuC non-rebal (%) | AuC rebal (%) | VGG Top-1 (%) | AMT real (%)

Metric definitions (Sect. 3.1 of the paper):

* ``auc``: the fraction of pixels whose ab error (Euclidean distance in the ab plane) is within a
  threshold, swept over thresholds 0..150 and integrated, normalised to 100 % (after Deshpande et al. 2015).
* ``auc_rebal``: the same with each pixel weighted inversely to the prior probability of its true colour
  class (Eq. 4 with lambda = 0), so that every colour class counts equally.
* ``vgg_top1``: top-1 accuracy of an ImageNet VGG-16 classifier (trained on real colour photos) on the
  colorized images.
* ``amt``: the share of Amazon Mechanical Turk trials in which the colorization was picked as the real
  photo (50 % = indistinguishable).
"""

from __future__ import annotations

from reprolib.claims import PaperNumber

CITATION = "zhang2016colorful"
WHERE = "Table 1 (ECCV 2016); Table 2.1 (thesis)"

# (row, auc, auc_rebal, vgg_top1, amt) exactly as printed. None: the paper prints a dash.
_TABLE1 = [
    ("ground_truth", 100.0, 100.0, 68.3, 50.0),
    ("gray", 89.1, 58.0, 52.7, None),
    ("random", 84.2, 57.3, 41.0, 13.0),
    ("dahl", 90.4, 58.9, 48.7, 18.3),
    ("larsson", 91.7, 65.9, 59.4, 27.2),
    ("l2", 91.2, 64.4, 54.9, 21.2),
    ("l2_ft", 91.5, 66.2, 56.5, 23.9),
    ("class", 91.6, 65.1, 56.6, 25.2),
    ("full", 89.5, 67.3, 56.0, 32.3),
]

_DEFS = {
    "auc": "AuC of the cumulative ab-error curve, thresholds 0..150, in %",
    "auc_rebal": "class-balanced AuC (pixels weighted by 1/prior of their colour class, Eq. 4, lambda=0), in %",
    "vgg_top1": "top-1 accuracy of VGG-16 (trained on colour ImageNet) on the colorized images, in %",
    "amt": "AMT real-vs-fake: % of trials where the colorization was chosen as real",
}


def table1() -> dict[str, dict[str, PaperNumber]]:
    """Table 1 as ``{row: {metric: PaperNumber}}`` (rows: ground_truth, gray, random, ..., full)."""
    out: dict[str, dict[str, PaperNumber]] = {}
    for row, *values in _TABLE1:
        out[row] = {}
        for metric, value in zip(("auc", "auc_rebal", "vgg_top1", "amt"), values):
            if value is None:
                continue
            out[row][metric] = PaperNumber(
                key=f"table1.{row}.{metric}", value=value, unit="%", where=WHERE, page=None,
                definition=_DEFS[metric],
                note="AMT: mean of bootstrap estimates; standard errors 2.2-4.4" if metric == "amt" else "",
            )
    return out


# Model size (Table 1, "Params (MB)" and "Feats (MB)", measured in Caffe on a Titan X).
PARAMS_MB = PaperNumber(
    key="params_mb", value=129.0, unit="MB", where=WHERE, page=None,
    definition="memory of the network's parameters (float32) in megabytes",
)
FEATS_MB = {
    "classification": PaperNumber(
        key="feats_mb.classification", value=142.0, unit="MB", where=WHERE, page=None,
        definition="memory of the network's feature maps (Caffe blobs) for one image, classification head",
    ),
    "regression": PaperNumber(
        key="feats_mb.regression", value=127.0, unit="MB", where=WHERE, page=None,
        definition="memory of the network's feature maps (Caffe blobs) for one image, L2 head",
    ),
}
RUNTIME_MS = {"classification": 22.1, "regression": 17.8}

# Sect. 2.3: the temperature of the annealed mean.
TEMPERATURE = PaperNumber(
    key="T", value=0.38, unit="", where="Sect. 2.3, Eq. 5", page=None,
    definition="temperature of the annealed mean f_T used for the final colorizations",
)

# Training protocol (footnote 2 of the ECCV paper).
TRAINING = {
    "optimizer": "Adam", "beta1": 0.9, "beta2": 0.99, "weight_decay": 1e-3,
    "lr": 3e-5, "lr_drops": ((200_000, 1e-5), (375_000, 3e-6)), "iterations": 450_000,
    "batch_size": 40, "crop": 176, "soft_encoding_k": 5, "soft_encoding_sigma": 5.0, "lambda": 0.5,
}
