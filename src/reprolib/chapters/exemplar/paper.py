"""Numbers reported by He, Chen, Liao, Sander & Yuan, "Deep Exemplar-based Colorization", SIGGRAPH 2018.

The paper's text has no page numbers, so every number cites its section, equation or table and ``page`` is None.

Table 1 (sec. 3.1) shows why the similarity sub-net uses a VGG-19 trained on luminance only. It has three rows
(the original colour-trained VGG-19 on colour images, the same net on grey images, the grey-trained net on grey
images) and two columns, top-5 then top-1 classification accuracy in % on ImageNet validation. It is stored so
(``_TABLE1``): ``(top5, top1)`` per row.

Table 2 (sec. 6.3) compares the automatic colorizations (for the authors' method, each with the top-1 recommended
reference of sec. 4) on 10,000 ImageNet validation images. Its classification columns hold two numbers per cell,
"VGG19-BN / VGG16" (the colorized image fed to a classifier trained on colour images), for top-5 and for top-1;
its last column is the PSNR to the ground truth. Each row is stored as five numbers (``_TABLE2``): ``(vgg19bn
top5, vgg16 top5, vgg19bn top1, vgg16 top1, psnr)``; the colour ground truth has no PSNR (printed "NA", stored
None, and not returned). The text and the table disagree on one PSNR: see ``PSNR_TEXT_DISAGREEMENT``.

Table 3 (sec. 6.3) gives the fooling rate in % of a real-versus-fake study on Amazon Mechanical Turk, one row per
method, each printed as ``rate +- x``; stored as ``(rate, x)`` (``_TABLE3``). The paper never says what the +- is
(a standard deviation across sessions or participants, a standard error, an interval): see ``TABLE3_PM_NOTE``.

The network's own constants (its 13 input channels, the tanh scale) belong to ``reprolib.models.exemplar``; the
paper's other constants (losses, data, training, recommendation, protocols) have their home here.
"""

from __future__ import annotations

from reprolib.claims import PaperNumber

CITATION = "he2018deep"

# Sec. 3.1: the similarity sub-net.
SIMILARITY_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")  # sec. 3.1: five levels, Eq. 1

# Sec. 3.2.1: the losses.
ALPHA = 0.005  # Eq. 7 (and sec. 5.1: chosen on ImageNet validation): weight of the perceptual loss
SMOOTH_L1_DELTA = 1.0  # Eq. 4: quadratic below |x - y| = 1 (ab units), linear above
PERCEPTUAL_LAYER = "relu5_1"  # Eq. 6: of the original (colour) VGG-19; L2 beat cosine there (sec. 3.2.1)

# Sec. 3.2.2: the colorization sub-net.
UNET_BLOCKS = 10  # ten convolutional blocks; blocks 5 and 6 dilated by DILATION
DILATION = 2
SKIPS = ((1, 10), (2, 9), (3, 8))  # symmetric skip connections between block outputs

# Sec. 3.2.3: the training data.
N_PAIRS = 700_000  # approximately; sampled from ImageNet
N_CLASSES = 700  # of ImageNet's 1000
CATEGORY_SHARES = {"animals": 15, "plants": 15, "people": 20, "scenery": 25, "food": 5, "transportation": 15,
                   "artifacts": 5}  # % of the pairs; seven categories
PAIR_MIX = {"top5_same_class": 45, "random_same_class": 45, "random_other_class_same_category": 10}  # % of pairs
SHORT_EDGE = 256  # every training image rescaled to a shortest edge of 256 pixels; roles swapped at random

# Sec. 3.2.4: training.
BATCH = 256
BATCH_SPLIT = {"chrominance": 128, "perceptual": 128}  # first half of each batch, then second half
LR = 1e-4  # Adam
LR_DECAY = 0.1  # multiplied every LR_STEP_EPOCHS epochs
LR_STEP_EPOCHS = 3
EPOCHS = 10
TRAIN_GPUS = 8  # Titan XP; about TRAIN_DAYS days
TRAIN_DAYS = 2

# Sec. 4: reference recommendation (Eq. 8).
CLASS_POOL = 1000  # approximately: the images of the query's top-1 class searched by the global ranking
GLOBAL_TOP_N = 200  # the global ranking (cosine of fc6, Eq. 2) keeps N candidates for the local ranking
BETA = 0.25  # Eq. 8: weight of the luminance-histogram term against the semantic (cosine) term
LOCAL_LAYER = "relu5_4"  # Eq. 8's F^5 (the global ranking uses fc6)
LOCAL_CELL = 16  # Eq. 8's C(p): 16 x 16-pixel grid cells, one per relu5_4 position (four 2x down-samplings)
PCA_DIMS = {"fc6": (4096, 128), "relu5_4": (512, 64)}  # channels before and after PCA compression

# Sec. 5.2: the sequential baseline (select points, then Zhang et al. 2017's hint network).
SEQUENTIAL_TOP_SHARE = 10  # % of points kept by the "threshold" rule (highest mean bidirectional similarity)

# Sec. 6.1: runtime at 256 x 256 on one Titan XP (Intel E5 2.6 GHz CPU).
RUNTIME_SIZE = 256
RUNTIME_S = {"recommendation": 0.016, "similarity": 0.1, "colorization": 0.05}
RUNTIME_TOTAL_S = 0.166  # approximately; the sum of RUNTIME_S

# Sec. 6.2-6.3: evaluation protocols.
EXEMPLAR_PAIRS = 35  # sec. 6.2: pairs taken from earlier exemplar-based papers
N_EVAL = 10_000  # Table 2: ImageNet validation images, the subset of Larsson et al. 2016
AMT_PRACTICE = 5  # per session, with feedback, left out of the analysis
AMT_TEST_PAIRS = 50  # per session, without feedback
AMT_PAIRS_PER_METHOD = 10  # of the 50 test pairs: 5 methods x 10
AMT_SESSIONS = 5  # so that every method covers every image pair; one session per participant at most
AMT_PARTICIPANTS = (25, 2)  # "25 +- 2" participants per session
AMT_VIEW_S = 5  # at most 5 seconds per pair
AMT_SHORT_EDGE = 256  # pixels on the short edge
FIG16_OVER_GT = (0, 11, 22, 32, 76, 87)  # Fig. 16 / sec. 6.3: % choosing ours over the ground truth, 6 images

TABLE1_ROWS = ("vgg19_color", "vgg19_gray", "gray_vgg19_gray")
METHODS2 = ("gt_color", "gt_gray", "iizuka", "zhang16", "larsson", "ours")
NETS2 = ("vgg19bn", "vgg16")
TOPS = ("top5", "top1")
METHODS3 = ("iizuka", "larsson", "zhang16", "ours_random", "ours_top1")

LABELS = {
    "vgg19_color": "Original VGG-19 on colour images", "vgg19_gray": "Original VGG-19 on grey images",
    "gray_vgg19_gray": "Grey-trained VGG-19 on grey images",
    "gt_color": "Ground truth (colour)", "gt_gray": "Ground truth (grey)", "iizuka": "Iizuka et al. 2016",
    "zhang16": "Zhang et al. 2016", "larsson": "Larsson et al. 2016", "ours": "Ours (top-1 reference)",
    "ours_random": "Ours, random reference of the same class", "ours_top1": "Ours, top-1 recommended reference",
    "vgg19bn": "VGG19-BN", "vgg16": "VGG16", "top5": "top-5", "top1": "top-1",
}

# Table 1, one row per network and input: (top5, top1), %.
_TABLE1 = {
    "vgg19_color": (91.24, 73.10),
    "vgg19_gray": (83.63, 61.14),
    "gray_vgg19_gray": (89.39, 70.05),
}
# Table 2, one row per method: (vgg19bn top5, vgg16 top5, vgg19bn top1, vgg16 top1, psnr dB). Two numbers are
# printed with one decimal (84.2, 61.5 of the grey row; 65.1 of ours), the rest with two.
_TABLE2 = {
    "gt_color": (90.35, 89.99, 71.12, 71.25, None),
    "gt_gray": (84.2, 81.35, 61.5, 57.39, 23.28),
    "iizuka": (85.53, 84.12, 63.42, 61.61, 24.92),
    "zhang16": (84.28, 83.12, 60.97, 60.25, 22.43),
    "larsson": (85.42, 83.93, 63.56, 61.36, 25.50),
    "ours": (85.94, 84.79, 65.1, 63.73, 22.92),
}
# Table 3, one row per method: (fooling rate %, the printed +-).
_TABLE3 = {
    "iizuka": (24.56, 1.76),
    "larsson": (24.64, 1.71),
    "zhang16": (35.36, 1.52),
    "ours_random": (21.92, 1.56),
    "ours_top1": (38.08, 1.72),
}

# Sec. 6.3's text gives two PSNRs with four decimals.
PSNR_TEXT = {"ours": 22.9178, "gt_gray": 24.9214}
PSNR_TEXT_DISAGREEMENT = (
    "sec. 6.3's text gives ours 22.9178 dB (Table 2: 22.92, consistent) and the all-grey prediction 24.9214 dB, "
    "but Table 2's 'Ground truth (gray)' row prints 23.28 dB, and 24.92 is Iizuka et al.'s value in the table: "
    "one of the two is a misprint, and the paper does not say which. We store the table's values (grey 23.28, "
    "Iizuka 24.92); the text's claim (ours below the all-grey PSNR) holds with either grey value")
TABLE3_PM_NOTE = ("the paper prints 'rate +- x' without saying what x is (standard deviation, standard error or "
                  "an interval, and across sessions, participants or pairs)")

_TABLE1_DEF = ("{top} classification accuracy (%) on the ImageNet validation set: {row} (the grey-trained "
               "network saw the luminance channel only); higher is better")
_TABLE2_CLS_DEF = ("{top} classification accuracy (%) of an ImageNet-trained {net} (trained on colour images) on "
                   "the colorized images; higher means the colorizations are more recognisable")
_TABLE2_PSNR_DEF = ("PSNR (dB) between the colorized image and the colour ground truth (colour space and peak "
                    "value not stated); higher is closer, which the paper argues penalises plausible but different "
                    "colours")
_TABLE2_NOTE = "{n} ImageNet validation images (the subset of Larsson et al. 2016); {who}"
_TABLE2_WHO = {
    "gt_color": "the colour images themselves (no PSNR: 'NA')",
    "gt_gray": "the grey images (every pixel's ab = 0)",
    "iizuka": "the authors' released model, trained on ImageNet",
    "zhang16": "the authors' released model, trained on ImageNet",
    "larsson": "the authors' released model, trained on ImageNet",
    "ours": "each image colorized with its top-1 recommended reference (sec. 4)",
}
_TABLE3_DEF = ("fooling rate (%): share of trials in which the participant picked the colorization rather than "
               "the real photo as the more realistic of the two, shown side by side in random order for at most "
               "5 s each, 256 px short edge; 50 % is the ceiling of indistinguishable images")
_TABLE3_REF = {
    "iizuka": "released model", "larsson": "released model", "zhang16": "released model",
    "ours_random": "reference drawn at random from the target's class",
    "ours_top1": "the top-1 recommended reference (sec. 4)",
}


def _number(key: str, value: float, unit: str, where: str, definition: str, note: str = "") -> PaperNumber:
    return PaperNumber(key=key, value=value, unit=unit, where=where, page=None, definition=definition, note=note)


def table1() -> dict[str, PaperNumber]:
    """Table 1 as ``{"<row>.<top5|top1>": PaperNumber}`` (classification accuracy, %)."""
    out = {}
    for row in TABLE1_ROWS:
        for top, value in zip(TOPS, _TABLE1[row], strict=True):
            out[f"{row}.{top}"] = _number(f"table1.{row}.{top}", value, "%", "Table 1",
                                          _TABLE1_DEF.format(top=LABELS[top], row=LABELS[row]))
    return out


def table2() -> dict[str, PaperNumber]:
    """Table 2 as ``{"<method>.<vgg19bn|vgg16>.<top5|top1>": PaperNumber, "<method>.psnr": PaperNumber}``.

    The colour ground truth has no PSNR key (the table prints "NA"). The grey row's and Iizuka et al.'s PSNR notes
    repeat ``PSNR_TEXT_DISAGREEMENT``.
    """
    out = {}
    for method in METHODS2:
        *accuracies, psnr = _TABLE2[method]
        note = _TABLE2_NOTE.format(n=f"{N_EVAL:,}", who=_TABLE2_WHO[method])
        cells = [(net, top) for top in TOPS for net in NETS2]
        for (net, top), value in zip(cells, accuracies, strict=True):
            out[f"{method}.{net}.{top}"] = _number(f"table2.{method}.{net}.{top}", value, "%", "Table 2",
                                                   _TABLE2_CLS_DEF.format(top=LABELS[top], net=LABELS[net]), note)
        if psnr is not None:
            extra = f"; {PSNR_TEXT_DISAGREEMENT}" if method in ("gt_gray", "iizuka") else ""
            out[f"{method}.psnr"] = _number(f"table2.{method}.psnr", psnr, "dB", "Table 2", _TABLE2_PSNR_DEF,
                                            note + extra)
    return out


def table3() -> dict[str, PaperNumber]:
    """Table 3 as ``{"<method>": PaperNumber}`` (AMT fooling rate, %; the printed +- is in the note)."""
    protocol = (f"{AMT_SESSIONS} sessions of {AMT_PRACTICE} practice and {AMT_TEST_PAIRS} test pairs "
                f"({AMT_PAIRS_PER_METHOD} per method), {AMT_PARTICIPANTS[0]} +- {AMT_PARTICIPANTS[1]} participants "
                "per session")
    return {method: _number(f"table3.{method}", rate, "%", "Table 3", _TABLE3_DEF,
                            f"{LABELS[method]}: {_TABLE3_REF[method]}; printed +- {pm} ({TABLE3_PM_NOTE}); {protocol}")
            for method, (rate, pm) in _TABLE3.items()}
