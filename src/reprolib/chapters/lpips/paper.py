"""Numbers reported by Zhang, Isola, Efros, Shechtman & Wang, "The Unreasonable Effectiveness of Deep
Features as a Perceptual Metric", CVPR 2018 (= chapter 6 of R. Zhang's PhD thesis, the text we read).

Metric definitions (thesis sec. 6.4.1):

* ``2AFC score``: a triplet (x, x0, x1) was judged by several observers; a metric that calls x0 closer
  earns the fraction of observers who chose x0 (and vice versa), averaged over the triplets, in %. The
  human score is ``p^2 + (1 - p)^2`` averaged over triplets (two random observers agreeing).
* ``JND mAP``: pairs ordered by the metric's distance, average precision of retrieving the pairs that
  observers called "same".
* ``zero weights``: share of the learned linear weights w of a layer that are exactly 0 (sec. 6.4.2).

The thesis's Table 6.5 (2AFC on every validation set) lost its row and column labels in the text
extraction we have: only nine rows of numbers survive, without a method name. We therefore quote only
the numbers that the prose of sec. 6.4 states with their meaning; every entry below names its place.
"""

from __future__ import annotations

from reprolib.claims import PaperNumber

CITATION = "zhang2018unreasonable"

_2AFC = "2AFC score: mean fraction of human judgments the metric agrees with, in %"


def _n(key: str, value: float, where: str, definition: str = _2AFC, unit: str = "%", note: str = "") -> PaperNumber:
    return PaperNumber(key=key, value=value, unit=unit, where=where, page=None, definition=definition, note=note)


# Sec. 6.4.1 / Fig. 6.3: 2AFC averaged over all six validation sets (2 distortion + 4 real-algorithm sets).
TWO_AFC_ALL_SETS = {
    "human": _n("all_sets.human", 73.9, "sec. 6.4.1, Fig. 6.3"),
    "squeeze": _n("all_sets.squeeze", 68.6, "sec. 6.4.1, Fig. 6.3", note="ImageNet SqueezeNet, cosine (unlearned)"),
    "alex": _n("all_sets.alex", 68.9, "sec. 6.4.1, Fig. 6.3", note="ImageNet AlexNet, cosine (unlearned)"),
    "vgg": _n("all_sets.vgg", 67.0, "sec. 6.4.1, Fig. 6.3", note="ImageNet VGG16, cosine (unlearned)"),
    "l2": _n("all_sets.l2", 63.2, "sec. 6.4.1, Fig. 6.3"),
    "ssim": _n("all_sets.ssim", 63.1, "sec. 6.4.1, Fig. 6.3"),
    "fsim": _n("all_sets.fsim", 63.8, "sec. 6.4.1, Fig. 6.3"),
}

# Sec. 6.4.2: the unlearned networks on the four real-algorithm sets, and the gain of "lin" there.
REAL_ALGORITHMS_START = {
    "squeeze": _n("real_alg.squeeze", 64.0, "sec. 6.4.2, Fig. 6.3(b)"),
    "alex": _n("real_alg.alex", 65.0, "sec. 6.4.2, Fig. 6.3(b)"),
    "vgg": _n("real_alg.vgg", 62.6, "sec. 6.4.2, Fig. 6.3(b)"),
}
LIN_GAIN_REAL_ALGORITHMS = {
    "squeeze": _n("lin_gain.squeeze", 1.1, "sec. 6.4.2", definition="2AFC gain of lin over cosine, points"),
    "alex": _n("lin_gain.alex", 0.3, "sec. 6.4.2", definition="2AFC gain of lin over cosine, points"),
    "vgg": _n("lin_gain.vgg", 1.5, "sec. 6.4.2", definition="2AFC gain of lin over cosine, points"),
}

# Sec. 6.5: tuned networks on the distortion validation sets vs the human score there.
DISTORTIONS_VAL = {
    "alex_tune": _n("distortions.alex_tune", 80.6, "sec. 6.5"),
    "vgg_tune": _n("distortions.vgg_tune", 81.4, "sec. 6.5"),
    "human": _n("distortions.human", 82.6, "sec. 6.5"),
}

# Sec. 6.4.1, Table 6.4: correlation of 2AFC and JND scores across methods.
TWO_AFC_JND_CORRELATION = _n("corr_2afc_jnd", 0.928, "sec. 6.4.1, Table 6.4",
                             definition="Pearson correlation of 2AFC and JND scores across methods", unit="")

# Sec. 6.4.2 and Fig. 6.6(b): share of zero weights per layer of the Alex-lin model, conv1 .. conv5.
ALEX_ZERO_WEIGHTS = [
    _n(f"alex_zero.conv{k + 1}", v, "sec. 6.4.2, Fig. 6.6(b)",
       definition="share of the learned linear weights of the layer that are exactly 0, in %")
    for k, v in enumerate((79.7, 71.4, 56.8, 46.5, 27.7))
]

# Sec. 6.3 / 6.4.2: number of learned linear weights.
LIN_WEIGHTS = {
    "alex": _n("lin_weights.alex", 1152, "sec. 6.4.2 (64+192+384+256+256)", definition="learned weights w", unit=""),
    "vgg": _n("lin_weights.vgg", 1472, "sec. 6.3", definition="learned weights w", unit=""),
}

# The released code's example (reference-facts sec. 5.4): LPIPS v0.1 on imgs/ex_ref.png vs ex_p0, ex_p1.
EXAMPLE_DISTANCES = {
    "alex": (0.722, 0.138),
    "vgg": (0.569, 0.422),
}

# Sec. 6.3: the training recipe of the linear layers.
TRAINING = {
    "epochs": 5, "decay_epochs": 5, "lr": 1e-4, "beta1": 0.5, "batch_size": 50, "patch": 64,
    "train_triplets": 151_400, "judgments_per_train_triplet": 2,
}


def paper_table() -> dict[str, float]:
    """The numbers the chapter's comparison tables show, by the dotted keys of :mod:`experiments.lpips`."""
    out = {f"paper.all_sets.{k}": v.value for k, v in TWO_AFC_ALL_SETS.items()}
    out.update({f"paper.real_alg.{k}": v.value for k, v in REAL_ALGORITHMS_START.items()})
    return out
