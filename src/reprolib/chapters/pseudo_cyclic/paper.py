"""Numbers reported by Ratajczak, Crispim-Junior, Fervers, Faure & Tougne, "Pseudo-Cyclic Network for Unsupervised
Colorization with Handcrafted Translation and Output Spatial Pyramids" (SpyncoGan), SUMAC '19 (ACM Multimedia
workshop), 2019.

The paper's text has no page numbers, so every number cites its section, equation or table and ``page`` is None.
Its Fig. 4 (the layer list of the generator and the discriminator) did not survive the text extraction; the
figures that did (Fig. 5-7) carry curves and chord diagrams, no printed numbers.

Table 1 (sec. 6.2.1, "output ablation") compares, on four data sets, SpyncoGan trained with the losses on the
final output only (``l1``, the paper's L^1: N = 1 in Eq. 4-9) and on all three outputs of the Output Spatial
Pyramid (``l123``, L^{1,2,3}); both use the same three-output architecture, and both are scored on G_1(I).
Each row of the text is one (data set, loss) pair with two numbers, stored per data set (``_TABLE1``):
``(l1 mse, l1 ssim, l123 mse, l123 ssim)``.

Table 2 (sec. 6.2.1, "loss ablation") repeats the comparison on Cezanne paintings with and without the contours
loss (Eq. 9). Its "Ablation" column names the removed term ("/" = nothing removed), so the rows with "/" are the
full losses, and they repeat Table 1's Cezanne rows exactly. Stored per loss (``_TABLE2``): ``(without-contours
mse, without-contours ssim, with-contours mse, with-contours ssim)``.

Table 3 (sec. 6.2.3) gives top-1 accuracies of classifiers trained on one "colour space" (G_1(I) at colorization
epoch 70 or 100, the real colour images, the real grey images) and averaged over the test sets of all colour
spaces, for UCMerced Land Use (column "(1)", VGG-16) and CIFAR-10 (column "(2)", AlexNet with batch
normalisation). Stored per training set (``_TABLE3``): ``(ucmerced, cifar10)``.

All tables are single runs as far as the paper says: no seeds, spreads or intervals are reported. The MSE's scale
is not stated (see ``MSE_SCALE_NOTE``). The paper's equations use i = 1 for the final, full-resolution output
G_1 and i = 3 for the innermost; every per-output tuple here is ordered (i = 1, i = 2, i = 3).
"""

from __future__ import annotations

from reprolib.claims import PaperNumber
from reprolib.models.spyncogan import ALPHA, BETA, GAMMA, LUMA_WEIGHTS, ZETA

# The network's constants have their home in reprolib.models.spyncogan (the losses read them there): H_t's weights
# (Eq. 1) and the loss weights of sec. 5.2, identity ALPHA (5, 3, 2, Eq. 4), pseudo-cycle BETA (10, 6, 4, Eq. 6-7,
# both directions), GAN GAMMA (1, 1, 1, Eq. 8), contours ZETA (1, 0, 0, Eq. 9: G_1 only).

CITATION = "ratajczak2019pseudo"

# ------------------------------------------------------------------ method (sec. 3-4)

HT_WEIGHTS = LUMA_WEIGHTS  # Eq. 1 (sec. 3.1): grey = weighted sum of R, G, B; a fixed 1x1 convolution
HT_PARAMETERS = 3  # sec. 4.1: H_t has 3 non-trainable parameters, shared by every output of the pyramid
N_OUTPUTS = 3  # sec. 4.1: N = 3 outputs in the Output Spatial Pyramid (Eq. 2-3), the same for every experiment
SCALE_FACTOR = 2  # sec. 3.2: successive decoder outputs differ in scale by 2; up() doubles the scale (Eq. 2)
WIDTH = 256  # sec. 4.1: n = 256 filters in the residual layers and in every decoder / up-sampling layer
RESIDUAL_BLOCKS = 6  # sec. 6.1: "the residual layers (6 convolutional blocks)"
# sec. 4.1: "≈" counts of trainable parameters, in millions; the total is the sum (H_t is not trainable).
PARAMS_G_M = 4.978
PARAMS_D_M = 2.085
PARAMS_TOTAL_M = 7.063
DISCRIMINATORS = 1  # sec. 3.2 and 4.1: one discriminator, scale-consistent, for all outputs (no D on domain A)
GENERATORS = 1  # sec. 4.1: the second generator of a cyclic network is replaced by H_t

# ------------------------------------------------------------------ losses (sec. 4.2, weights sec. 5.2)

LOSS_WEIGHTS = {"identity": ALPHA, "cycle": BETA, "gan": GAMMA, "contours": ZETA}
TOTAL_LOSS = ("identity", "cycle", "gan", "contours")  # sec. 4.2: the total is the plain sum of Eq. 4, 5, 8, 9

# Eq. 8 as it reads in the paper's text, and its footnote 1 as printed (the text extraction's spacing kept).
GAN_LOSS_PRINTED = "L_GAN(G, D) = sum_i gamma_i E_A[||1 - D(G_i(I))||_2^2] + E_B[||D(J)||_2^2]"
ERRATUM = "Errata: correct E_B to E_A ; add ² to better match concrete implementation."
ERRATUM_NOTE = (
    "footnote 1, attached to Eq. 8 (sec. 4.2). In the text as we have it, the generated-image term already averages "
    "over E_A (I is in domain A) and both norms are already squared, so the footnote reads as a record of "
    "corrections made to the printed equation rather than one still to apply: changing the one remaining E_B (the "
    "term of D(J), J in domain B) to E_A would make no sense. The corrected equation is still not a consistent "
    "adversarial objective as written: its real-image term has target 0 while the generated term pulls D(G_i(I)) "
    "to 1, and the text only says the loss 'penalizes the generator and rewards the discriminator'; the '2' and the "
    "'concrete implementation' point to a least-squares GAN, which the paper does not spell out")

# ------------------------------------------------------------------ data (sec. 5.1)

DATASETS = ("cezanne", "landscape", "ucmerced", "cifar10")  # Table 1's row order
IMAGE_SIZE = {"cezanne": 256, "landscape": 256, "ucmerced": 256, "cifar10": 32}  # pixels, square
SPLITS = {"cezanne": "provided train/test split", "landscape": "provided train/test split",
          "ucmerced": "random 80 % train / 20 % test (no default split)", "cifar10": "provided train/test split"}
UCMERCED_TRAIN_SHARE = 0.8
CIFAR10_IMAGES = 60_000  # sec. 5.1: "60 000 image instances of 10 objects"
CIFAR10_CLASSES = 10
UCMERCED_CLASSES_PRINTED = 24  # sec. 5.1 as printed; see UCMERCED_NOTE
UCMERCED_NOTE = ("sec. 5.1 says UCMerced Land Use shows '24 remotely sensed structures'; the data set (Yang & Newsam "
                 "2010, the paper's ref. [40]) has 21 land-use classes of 100 images each, so 24 is most likely a "
                 "misprint")
DOMAINS_NOTE = ("sec. 5.1: every data set is colour; its images are first turned into grey, and training and testing "
                "never pair a grey image with its colour original explicitly; colorization trains on the training "
                "split and is scored on the test split. No division of the training set between the grey and the "
                "colour domain is described (reprolib.data.cifar.unpaired_domains states our reading)")
CEZANNE_LANDSCAPE_SOURCE_NOTE = ("sec. 5.1 cites Isola et al. (ref. [14]) for the Cezanne paintings and Landscape "
                                 "photos; the cezanne2photo set is distributed with CycleGAN (ref. [45])")
GPUS = 2  # sec. 5: "2 GPUs GeForce 1080 Ti", PyTorch, Scikit, Caffe and OpenCV
GPU = "GeForce 1080 Ti"

# ------------------------------------------------------------------ training and evaluation (sec. 5.3, 6.2)

EPOCHS = 100  # sec. 6.2.2: SpyncoGan and Col-Cycle, "in the same conditions"
EPOCHS_BY_DATASET = {"cezanne": 100, "landscape": 50, "ucmerced": 100, "cifar10": 100}  # "but 50 for Landscape"
LR = 2e-4  # sec. 6.2.2
LR_DECAY = "linear"  # sec. 6.2.2: linear decay once half the epochs have passed
LR_DECAY_START = 0.5  # fraction of the epochs after which the decay starts; the final rate is not stated
BATCH_SIZE = None  # not stated anywhere in the paper
OPTIMIZER = None  # not stated anywhere in the paper
EVAL_EVERY = 10  # sec. 5.3: MSE and SSIM every 10 epochs, on the test split
ABLATION_EPOCHS = (10, 20, 30, 40, 50)  # sec. 6.2.1: Tables 1-2 average these five evaluations
MSE_SCALE_NOTE = ("sec. 5.3 defines MSE and SSIM between colorized and real colour images, 'averaged in the "
                  "(three) channels dimension', without the value range; MSE near 85-93 fits 8-bit values "
                  "(RMSE about 9.3 grey levels) and not [0, 1], but the paper does not say")

# Sec. 5.3 and 6.2.3: the cross-domain classifiers of Table 3.
CLS_NETS = {"ucmerced": "VGG-16", "cifar10": "AlexNet with batch normalisation"}
CLS_EPOCHS = {"ucmerced": 40, "cifar10": 20}  # "a total of 20 and 40 epochs respectively" (AlexNet, then VGG-16)
CLS_LR = 1e-4
CLS_LR_STEP = 0.1  # multiplied at CLS_LR_STEPS_AT of the training
CLS_LR_STEPS_AT = (0.33, 0.66)
CLS_INPUT_SIZE = 256  # every input rescaled to 256 x 256, CIFAR-10's thumbnails too
COLORIZATION_EPOCHS_TABLE3 = (70, 100)  # Table 3's "Col. Epoch": the epochs of the G_1(I) training sets
CHORD_TOP_SHARE = 25  # Fig. 7: only the highest 25 % of the accuracies are drawn as colour chords

# ------------------------------------------------------------------ the tables

LOSSES = ("l1", "l123")
METRICS = ("mse", "ssim")
CONTOURS = ("without_contours", "with_contours")
TRAINING_SETS = ("g1_epoch70", "g1_epoch100", "real_color", "real_gray")
CLS_DATASETS = ("ucmerced", "cifar10")  # Table 3's columns (1) and (2)

LABELS = {
    "cezanne": "Cezanne paintings", "landscape": "Landscape photos", "ucmerced": "UCMerced Land Use",
    "cifar10": "Cifar-10", "l1": "L^1 (losses on G_1 only)", "l123": "L^{1,2,3} (losses on G_1, G_2, G_3)",
    "mse": "Avg. MSE", "ssim": "Avg. SSIM (%)", "without_contours": "contours loss removed",
    "with_contours": "full loss", "g1_epoch70": "SpyncoGan G_1(I), colorization epoch 70",
    "g1_epoch100": "SpyncoGan G_1(I), colorization epoch 100", "real_color": "Real Color", "real_gray": "Real Gray",
}

# Table 1, one row per data set: (l1 mse, l1 ssim %, l123 mse, l123 ssim %).
_TABLE1 = {
    "cezanne": (92.9, 82, 91.5, 82),
    "landscape": (85.7, 83, 85.1, 83),
    "ucmerced": (85.5, 86, 83.1, 85),
    "cifar10": (87.2, 89, 86.8, 89),
}
# Table 2 (Cezanne paintings), one row per loss: (without-contours mse, ssim %, with-contours mse, ssim %).
_TABLE2 = {
    "l1": (92.6, 79, 92.9, 82),
    "l123": (92.0, 77, 91.5, 82),
}
# Table 3, one row per training set: (ucmerced %, cifar10 %).
_TABLE3 = {
    "g1_epoch70": (97.0, 78.7),
    "g1_epoch100": (95.1, 81.0),
    "real_color": (92.4, 75.7),
    "real_gray": (92.5, 22.1),
}

# Sec. 6.2.1's reading of Table 1, as printed: the mean over the four data sets of (l1 - l123) MSE, and of the
# SSIM's decrease from l1 to l123 (in SSIM % points; the text writes "0.25%").
OSP_MSE_GAIN = 1.2
OSP_SSIM_COST = 0.25

_ABLATION_NOTE = ("mean of the evaluations at epochs 10, 20, 30, 40, 50 (sec. 6.2.1; the caption says 'averaged over "
                  "50 epochs'); {ds}, {size} x {size} px, {split}; the runs of Fig. 6 train {epochs} epochs, how long "
                  "the ablation runs trained is not stated; one run")
_MSE_DEF = ("mean squared error between the colorized test image G_1(I) and its real colour image, averaged over "
            "the three channels (sec. 5.3); trained with {loss}; value range not stated; lower is better")
_SSIM_DEF = ("structural similarity (SSIM) in % between the colorized test image G_1(I) and its real colour image, "
             "averaged over the three channels (sec. 5.3; window and constants not stated); trained with {loss}; "
             "higher is better")
_TABLE3_DEF = ("top-1 classification accuracy (%) of {net} trained for {epochs} epochs on the {ds} training set "
               "in one colour space (this row: {row}), averaged over its accuracies on the test sets of all the "
               "real and colorized colour spaces (Table 3's caption; the text says 'all the other datasets', so "
               "whether the training space's own test set counts is unclear); inputs rescaled to 256 x 256, "
               "lr 1e-4 times 0.1 at 33 % and 66 % of training; higher means the training set generalises better")
_TABLE3_NOTE = ("the colorized colour spaces are G_1(I) every 10 epochs (sec. 5.3, Fig. 7); how many test sets enter "
                "the average is not stated; one run")


def _number(key: str, value: float, unit: str, where: str, definition: str, note: str = "") -> PaperNumber:
    return PaperNumber(key=key, value=value, unit=unit, where=where, page=None, definition=definition, note=note)


def _ablation_cells(name: str, key: str, values: tuple, variants: tuple, label_of, note: str) -> dict[str, PaperNumber]:
    """The (variant, metric) cells of one row of Table 1 or 2, keyed ``<key>.<variant>.<metric>``."""
    out = {}
    cells = [(variant, metric) for variant in variants for metric in METRICS]
    for (variant, metric), value in zip(cells, values, strict=True):
        template, unit, extra = (_MSE_DEF, "", f"; {MSE_SCALE_NOTE}") if metric == "mse" else (_SSIM_DEF, "%", "")
        cell = f"{key}.{variant}.{metric}"
        out[cell] = _number(f"{name}.{cell}", value, unit, f"Table {name[-1]}",
                            template.format(loss=label_of(variant)), note + extra)
    return out


def _ablation_note(ds: str) -> str:
    return _ABLATION_NOTE.format(ds=LABELS[ds], size=IMAGE_SIZE[ds], split=SPLITS[ds], epochs=EPOCHS_BY_DATASET[ds])


def table1() -> dict[str, PaperNumber]:
    """Table 1 as ``{"<dataset>.<l1|l123>.<mse|ssim>": PaperNumber}`` (output ablation, G_1(I))."""
    out = {}
    for ds in DATASETS:
        out.update(_ablation_cells("table1", ds, _TABLE1[ds], LOSSES, LABELS.get, _ablation_note(ds)))
    return out


def table2() -> dict[str, PaperNumber]:
    """Table 2 as ``{"<l1|l123>.<without_contours|with_contours>.<mse|ssim>": PaperNumber}`` (Cezanne paintings).

    The ``with_contours`` cells are Table 1's Cezanne cells (the same runs, printed again).
    """
    out = {}
    note = _ablation_note("cezanne") + "; the contours loss (Eq. 9) weighs zeta = (1, 0, 0)"
    for loss in LOSSES:
        out.update(_ablation_cells("table2", loss, _TABLE2[loss], CONTOURS,
                                   lambda variant, loss=loss: f"{LABELS[loss]}, {LABELS[variant]}", note))
    return out


def table3() -> dict[str, PaperNumber]:
    """Table 3 as ``{"<training set>.<ucmerced|cifar10>": PaperNumber}`` (cross-domain top-1 accuracy, %)."""
    out = {}
    for row in TRAINING_SETS:
        for ds, value in zip(CLS_DATASETS, _TABLE3[row], strict=True):
            definition = _TABLE3_DEF.format(net=CLS_NETS[ds], epochs=CLS_EPOCHS[ds], ds=LABELS[ds], row=LABELS[row])
            out[f"{row}.{ds}"] = _number(f"table3.{row}.{ds}", value, "%", "Table 3", definition, _TABLE3_NOTE)
    return out


def text_numbers() -> dict[str, PaperNumber]:
    """The numbers the text states outside the tables: parameter counts (sec. 4.1) and Table 1's averages
    (sec. 6.2.1), as ``{"params.<part>" | "osp.<mse_gain|ssim_cost>": PaperNumber}``."""
    params = ("trainable parameters of {part}, in millions, printed with '≈' (sec. 4.1); Fig. 4's layer list, "
              "which would let one recount them, is lost in the text")
    return {
        "params.generator": _number("text.params.generator", PARAMS_G_M, "M", "Sec. 4.1",
                                    params.format(part="the generator G")),
        "params.discriminator": _number("text.params.discriminator", PARAMS_D_M, "M", "Sec. 4.1",
                                        params.format(part="the discriminator D")),
        "params.total": _number("text.params.total", PARAMS_TOTAL_M, "M", "Sec. 4.1",
                                params.format(part="SpyncoGan, G and D together")),
        "params.handcrafted": _number("text.params.handcrafted", HT_PARAMETERS, "", "Sec. 4.1, Eq. 1",
                                      "parameters of the handcrafted translation H_t (its three weights), not "
                                      "trainable, shared by every output", f"weights {HT_WEIGHTS}"),
        "osp.mse_gain": _number("text.osp.mse_gain", OSP_MSE_GAIN, "", "Sec. 6.2.1",
                                "mean over Table 1's four data sets of MSE(L^1) - MSE(L^{1,2,3}); positive means the "
                                "three-output losses lower the MSE", "the text: 'improves MSE by 1.2 points in "
                                "average'"),
        "osp.ssim_cost": _number("text.osp.ssim_cost", OSP_SSIM_COST, "% points", "Sec. 6.2.1",
                                 "mean over Table 1's four data sets of SSIM(L^1) - SSIM(L^{1,2,3}) in SSIM %; "
                                 "positive means the three-output losses lower the SSIM",
                                 "the text writes 'a small SSIM decrease of 0.25% in average'"),
    }
