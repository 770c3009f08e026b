"""Numbers reported by Zhang, Zhu, Isola, Geng, Lin, Yu & Efros, "Real-Time User-Guided Image
Colorization with Learned Deep Priors", SIGGRAPH 2017 (= chapter 3 of R. Zhang's PhD thesis).

Sources: Table 3.1 of the thesis (PSNR with added information), the text of section 3.4.1, and the
per-point mean PSNRs of the released model that ship with colorization-pytorch
(``resources/psnrs_siggraph.npy``; reference-facts section 2.5), which is the data behind Fig. 3.6's
"Ours" curve for random points.

Metric (section 3.4.1, Table 3.1): peak signal-to-noise ratio in dB between the colorization and the
ground truth, in RGB, averaged over 1000 held-out ImageNet validation images (256 x 256 centre crops;
the released sweep computes it on uint8 images). Points: "The average color on a 7 x 7 patch is
revealed" (the released sweep uses 6 x 6 patches).
"""

from __future__ import annotations

from reprolib.claims import PaperNumber

CITATION = "zhang2017real"
WHERE = "Table 3.1 (thesis); Table 1 (SIGGRAPH 2017)"
PSNR_DEF = ("mean over images of 10 log10(255^2 / MSE) between the RGB colorization and the ground truth "
            "(uint8), 1000 ImageNet validation images")

# (row, added inputs, PSNR dB, standard error) exactly as printed. None: the paper prints infinity.
_TABLE31 = [
    ("gray", "predict gray", 22.82, 0.18),
    ("zhang2016", "Zhang et al. (Ch. 2), automatic", 22.04, 0.11),
    ("zhang2016_norebal", "Zhang et al. (Ch. 2, no rebalancing), automatic", 24.51, 0.15),
    ("larsson", "Larsson et al., automatic", 24.93, 0.14),
    ("iizuka", "Iizuka et al., automatic", 23.69, 0.13),
    ("local_auto", "Ours (Local), automatic", 24.43, 0.14),
    ("global_hist", "Ours (Global), + global histogram", 27.85, 0.13),
    ("global_sat", "Ours (Global), + global saturation", 25.78, 0.15),
    ("local_all", "Ours (Local), + all ground-truth colours", 37.70, 0.14),
]


def table31() -> dict[str, PaperNumber]:
    """Table 3.1 as ``{row: PaperNumber}`` (PSNR in dB). Edit propagation with every colour given is
    infinite (an exact copy) and is not a finite number: see :data:`LEVIN_ALL`."""
    return {
        row: PaperNumber(key=f"table31.{row}.psnr", value=v, unit="dB", where=WHERE, page=None,
                         definition=PSNR_DEF, note=f"{label}; standard error {se}")
        for row, label, v, se in _TABLE31
    }


LEVIN_ALL = "∞"  # Table 3.1, "Edit propagation + gt colors": an exact copy of the input colours.

# Note: the text of section 3.4.4 says 25.6 dB for "+ global sat"; the table prints 25.78.
GLOBAL_SAT_TEXT = 25.6

# Released SIGGRAPH17 model, random points (reference-facts section 2.5): points -> mean PSNR (dB).
RELEASED_CURVE: dict[int, float] = {
    0: 24.43, 1: 25.37, 2: 26.20, 3: 26.69, 4: 27.08, 5: 27.39, 6: 27.65, 8: 28.10, 10: 28.42, 13: 28.79,
    16: 29.04, 20: 29.34, 25: 29.60, 32: 29.91, 40: 30.17, 50: 30.42, 63: 30.68, 79: 30.90, 100: 31.13,
    126: 31.34, 158: 31.52, 200: 31.70, 251: 31.85, 316: 31.97, 398: 32.07, 501: 32.14,
}
RELEASED_CURVE_NOTE = ("colorization-pytorch resources/psnrs_siggraph.npy: released model, first 1000 ctest "
                       "images, 256 x 256, 6 x 6 patches, standard error about 0.14 dB per point")

# Architecture and interface constants stated in the text.
PALETTE_K = PaperNumber(key="palette_k", value=9, unit="", where="Sec. 3.3.2", page=None,
                        definition="number of clusters of the weighted k-means that gives the suggested colours")
FULL_REVEAL = PaperNumber(key="full_reveal", value=0.01, unit="", where="Sec. 3.3.2", page=None,
                          definition="share of training images that get their full ground-truth colour as hints")
