"""Numbers reported by Zhu, Zhang, Pathak, Darrell, Efros, Wang & Shechtman, "Toward Multimodal
Image-to-Image Translation", NIPS 2017 (= chapter 4 of R. Zhang's PhD thesis).

Only what the thesis text states is stored. Fig. 4.6 plots each method's realism (AMT fooling rate) and
diversity (LPIPS) on maps -> satellites; its per-method values did not survive the text of the thesis and
are not stored (no number from memory enters the book). What the text gives: Table 4.1, the diversity of
random pairs of real images (.265), the protocol (1900 pairs from 100 inputs), cLR-GAN's collapse share
(about 15 %) and the loss weights of sec. 4.3.5.
"""

from __future__ import annotations

from reprolib.claims import PaperNumber
from reprolib.models.bicyclegan import LAMBDA_KL, LAMBDA_L1, LAMBDA_LATENT

CITATION = "zhu2017toward"
RECON_DEF = ("||B - G(A, E(B))||_1 on the validation set, images in [-1, 1] (the thesis does not say whether "
             "the +- is a standard deviation over images or a standard error; its size suggests the former)")

# (task, encoder, injection, value, +-) of Table 4.1, in the thesis's column order.
_TABLE41 = [
    ("facades", "resnet", "all", 0.292, 0.058), ("facades", "resnet", "input", 0.292, 0.054),
    ("facades", "cnn", "all", 0.326, 0.066), ("facades", "cnn", "input", 0.339, 0.069),
    ("maps", "resnet", "all", 0.268, 0.070), ("maps", "resnet", "input", 0.266, 0.068),
    ("maps", "cnn", "all", 0.287, 0.067), ("maps", "cnn", "input", 0.272, 0.069),
]
TASKS = {"facades": "label -> photo (facades)", "maps": "map -> satellite"}


def table41() -> dict[str, PaperNumber]:
    """Table 4.1 as ``{"<task>.<encoder>_<injection>": PaperNumber}`` (lower is better)."""
    return {f"{t}.{e}_{i}": PaperNumber(key=f"table41.{t}.{e}_{i}", value=v, unit="", where="Table 4.1",
                                        definition=RECON_DEF, note=f"{TASKS[t]}; E_{e.upper() if e == 'cnn' else 'ResNet'}, "
                                                                   f"add_to_{i}; +- {pm}")
            for t, e, i, v, pm in _TABLE41}


RANDOM_REAL_PAIRS = PaperNumber(
    key="random_real_pairs", value=0.265, unit="", where="Sec. 4.4.2",
    definition="mean LPIPS distance between random pairs of real images of the output domain",
    note="maps -> satellites; the ceiling that samples faithful to one input should not exceed")
N_PAIRS = PaperNumber(key="n_pairs", value=1900, unit="pairs", where="Sec. 4.4.2",
                      definition="pairs of generated samples per method in the diversity score")
N_INPUTS = PaperNumber(key="n_inputs", value=100, unit="inputs", where="Sec. 4.4.2",
                       definition="input images the diversity pairs are drawn from")
N_SAMPLES = 20  # samples per input: 1900 / 100 = 19 consecutive pairs of 20 samples (the released script)
CLR_COLLAPSE = PaperNumber(key="clr_collapse_share", value=15, unit="%", where="Fig. 4.6 caption, sec. 4.4.2",
                           definition="share of cLR-GAN's outputs that were the same whatever the input",
                           note="approximate (the text says about 15 %); excluded from its diversity score")
LAMBDAS = {"l1": LAMBDA_L1, "latent": LAMBDA_LATENT, "kl": LAMBDA_KL}  # sec. 4.3.5: lambda 10, 0.5, 0.01
NZ = 8  # |z| of the final model (sec. 4.3.5)
