"""Numbers reported by Deshpande, Lu, Yeh, Chong & Forsyth, "Learning Diverse Image Colorization", CVPR 2017.

All of the paper's numbers sit in Tables 1-3 of sec. 7 (the figures carry none); the text of the paper has no
page numbers, so every number cites its table and ``page`` is None.

Tables 1 and 2 (sec. 7.2) compare three decoder losses of the VAE on reconstructions (the decoder is fed the
colour encoder's code of the ground truth itself, so they measure the decoder given the best code, not a
colorization). Their header has two levels: first the loss (L2; the specificity loss L_mah alone; Eq. 4, i.e.
L_mah plus colourfulness plus gradient), then, under each loss, "All" (every pixel) and "Grid" (an 8 x 8 grid of
evenly spaced pixels in the centre of the image). Each row of the text is one dataset with six numbers in that
order, and is stored so (``_TABLE1``, ``_TABLE2``): ``(l2 all, l2 grid, mah all, mah grid, eq4 all, eq4 grid)``.

Table 3 (sec. 7.3) compares the four methods on diverse colorizations, five outputs per test image. Its header
also has two levels: first the dataset, then "Eob." (error of the best of the five) and "Var." (variance of the
five) under each. Each row of the text is one method with six numbers, stored so (``_TABLE3``): ``(lfw eob, lfw
var, church eob, church var, imagenet_val eob, imagenet_val var)``.

Errors are on the ab / 128 scale of the released code (8-bit OpenCV Lab; ``models.divcolor.AB_SCALE``): .030 is
about 3.8 ab units. Constants that the model module already holds are imported from it (one home).
"""

from __future__ import annotations

from reprolib.claims import PaperNumber
from reprolib.models.divcolor import COMPONENTS  # noqa: F401  (sec. 6.2: 8 Gaussian components in the MDN)
from reprolib.models.divcolor import D  # noqa: F401  (sec. 6.1: code length d = 64 on all three datasets)
from reprolib.models.divcolor import KL_WEIGHT  # noqa: F401  (sec. 3.1: KL term weighted 1e-2 against L_dec)
from reprolib.models.divcolor import LAMBDA_GRAD, LAMBDA_MAH  # noqa: F401  (sec. 3.1, Eq. 4: .1 and 1e-3)
from reprolib.models.divcolor import MDN_VARIANCE  # noqa: F401  (sec. 6.2: fixed spherical variance .1)
from reprolib.models.divcolor import PCA_COMPONENTS  # noqa: F401  (sec. 3.1: k = 20 principal components)
from reprolib.models.divcolor import TOP_K  # noqa: F401  (sec. 6.2: the 5 means of largest weight are decoded)

CITATION = "deshpande2017learning"
DATASETS = ("lfw", "church", "imagenet_val")
LOSSES = ("l2", "mah", "eq4")
COLUMNS = ("all", "grid")  # Tables 1-2: the second header level
METHODS3 = ("cvae", "cgan", "ours", "ours_skip")
STATS3 = ("eob", "var")  # Table 3: the second header level

LABELS = {
    "lfw": "LFW", "church": "LSUN-Church", "imagenet_val": "ImageNet-Val",
    "l2": "L2 loss", "mah": "Mah loss", "eq4": "Mah + colourfulness + gradient (Eq. 4)",
    "cvae": "CVAE", "cgan": "cGAN", "ours": "Ours", "ours_skip": "Ours+skip",
}

# Sec. 7.1 and 6: data and protocol.
DATASET_SIZES = {"lfw": 13233, "church": 126227, "imagenet_val": 50000}  # sec. 7.1: images per dataset
N_TEST = 1000  # sec. 7.1: a random subset of 1000 images of each dataset is the test set, the rest trains
IMAGE_SIZE = 64  # sec. 6.1: the colour encoder reads, and the decoder writes, 64 x 64 x 2 colour fields
GRID = 8  # sec. 7.2: the "Grid" columns of Tables 1-2 use an 8 x 8 grid of pixels in the image centre
CVAE_SAMPLES = 256  # sec. 6.3: 256 random codes per grey image (the cGAN's 256 dropout samples, sec. 5, too)
CVAE_CLUSTERS = 5  # sec. 6.3 and 5: those 256 outputs clustered into 5 colorizations (CVAE and cGAN alike)
EPOCHS = 10  # sec. 7.3: every method trained for 10 epochs on the same split

# Table 1, one row per dataset: (l2 all, l2 grid, mah all, mah grid, eq4 all, eq4 grid).
_TABLE1 = {
    "lfw": (.034, .035, .034, .032, .029, .029),
    "church": (.024, .025, .026, .026, .023, .023),
    "imagenet_val": (.031, .031, .039, .039, .039, .039),
}
# Table 2, same layout. Church's L2 "All" is printed with one decimal (4.9), the others with two.
_TABLE2 = {
    "lfw": (7.20, 11.29, 6.69, 7.33, 2.65, 2.83),
    "church": (4.9, 4.68, 6.54, 6.42, 1.74, 1.71),
    "imagenet_val": (10.02, 9.21, 12.99, 12.19, 4.82, 4.66),
}
# Table 3, one row per method: (lfw eob, lfw var, church eob, church var, imagenet_val eob, imagenet_val var).
# cGAN's ImageNet-Val variance is printed with three significant digits (8.88e-6), the others with two.
_TABLE3 = {
    "cvae": (.031, 1.0e-4, .029, 2.2e-4, .037, 2.5e-4),
    "cgan": (.047, 8.4e-6, .048, 6.2e-6, .048, 8.88e-6),
    "ours": (.030, 1.1e-3, .036, 3.1e-4, .043, 6.8e-4),
    "ours_skip": (.031, 4.4e-4, .036, 2.9e-4, .041, 6.0e-4),
}

_RECON = ("reconstruction, not colorization: the decoder is given the colour encoder's code of the ground-truth "
          "colour field; {n} test images of {ds}; which VAE (with or without the grey encoder and skips) the "
          "paper does not say")
_COLUMN = {"all": "over every pixel of the 64 x 64 field",
           "grid": "over an 8 x 8 grid of evenly spaced pixels in the centre of the image (so that adjacent "
                   "pixels, which nearly always agree, do not dominate)"}
_TABLE1_DEF = ("mean absolute error per pixel between the decoded ab field and the ground truth, ab / 128, {col}; "
               "VAE trained with the {loss}; lower is better")
_TABLE2_DEF = ("mean absolute error per pixel weighted by 1 / H_p, H the empirical probability of the pixel's "
               "quantised ab bin (the colourfulness weights of sec. 3.1, from Zhang et al. 2016; not normalised to "
               "mean 1, judging by the numbers' size), ab / 128, {col}; VAE trained with the {loss}; lower is better")
_TABLE3_DEF = {
    "eob": ("error of the best: of the 5 colorizations of a test image, the one closest to the ground truth; its "
            "per-pixel error (read as Table 1's mean absolute error, ab / 128); lower is better"),
    "var": ("variance of the 5 colorizations of a test image, a proxy for diversity (the paper does not say over "
            "which axes; read as the variance across the 5 outputs per pixel and channel, averaged, on the ab / 128 "
            "scale); higher means more diverse"),
}
_OUTPUTS = {
    "cvae": "256 codes drawn from N(0, I), the decoded outputs clustered into 5",
    "cgan": "256 outputs with dropout at test time, clustered into 5",
    "ours": "the 5 MDN means of largest weight, decoded by the VAE without grey input",
    "ours_skip": "the 5 MDN means of largest weight, decoded by the VAE with the grey encoder and skips",
}


def _loss_table(name: str, where: str, template: str, rows: dict) -> dict[str, PaperNumber]:
    out = {}
    for ds in DATASETS:
        cells = [(loss, col) for loss in LOSSES for col in COLUMNS]
        for (loss, col), value in zip(cells, rows[ds], strict=True):
            out[f"{ds}.{loss}.{col}"] = PaperNumber(
                key=f"{name}.{ds}.{loss}.{col}", value=value, unit="", where=where, page=None,
                definition=template.format(col=_COLUMN[col], loss=LABELS[loss]),
                note=_RECON.format(n=N_TEST, ds=LABELS[ds]))
    return out


def table1() -> dict[str, PaperNumber]:
    """Table 1 as ``{"<dataset>.<loss>.<all|grid>": PaperNumber}`` (mean absolute error, ab / 128)."""
    return _loss_table("table1", "Table 1", _TABLE1_DEF, _TABLE1)


def table2() -> dict[str, PaperNumber]:
    """Table 2 as ``{"<dataset>.<loss>.<all|grid>": PaperNumber}`` (weighted mean absolute error)."""
    return _loss_table("table2", "Table 2", _TABLE2_DEF, _TABLE2)


def table3() -> dict[str, PaperNumber]:
    """Table 3 as ``{"<method>.<dataset>.<eob|var>": PaperNumber}`` (5 outputs per test image)."""
    out = {}
    for method in METHODS3:
        cells = [(ds, stat) for ds in DATASETS for stat in STATS3]
        for (ds, stat), value in zip(cells, _TABLE3[method], strict=True):
            out[f"{method}.{ds}.{stat}"] = PaperNumber(
                key=f"table3.{method}.{ds}.{stat}", value=value, unit="", where="Table 3", page=None,
                definition=_TABLE3_DEF[stat],
                note=f"{LABELS[method]}: {_OUTPUTS[method]}; {N_TEST} test images of {LABELS[ds]}")
    return out
