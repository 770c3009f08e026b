"""Chapter 5's claims, exact facts and paper-versus-ours tables, judged from the measured metrics alone.

Each check reads the ``metrics`` dict that :func:`reprolib.chapters.lpips.experiment.evaluate` and
:func:`~reprolib.chapters.lpips.experiment.official_facts` produce; nothing here trains or measures. The
margins are fixed here, with their reasons, before any run is seen.
"""

from __future__ import annotations

import numpy as np

from reprolib.chapters.lpips import paper as zhang2018
from reprolib.claims import custom, fact, not_testable

MARGIN = 2.0  # percentage points, for 2AFC comparisons
EXAMPLE_TOL = 0.001  # the released example distances are quoted to 3 decimals
LABELS = {
    "l2": "L2 (Lab)", "psnr": "PSNR", "ssim": "SSIM", "alex_random": "AlexNet, random init (cosine)",
    "alex_random_lin": "AlexNet, random init + our lin", "alex": "AlexNet, ImageNet (cosine)",
    "alex_lin_official": "AlexNet + official lin (LPIPS v0.1)", "alex_lin_ours": "AlexNet + our lin",
    "vgg": "VGG16, ImageNet (cosine)", "vgg_lin_official": "VGG16 + official lin (LPIPS v0.1)",
    "vgg_lin_ours": "VGG16 + our lin", "alex_tune": "AlexNet, tune (ours)", "alex_scratch": "AlexNet, scratch (ours)",
    "color": "Colorization net, Ch. 1 (cosine)", "color_lin_ours": "Colorization net + our lin",
}


def _s(m: dict, metric: str, set_name: str) -> float:
    return m["scores"][metric][set_name]


def _example_check(m: dict):
    ex = m["official"]["example"]
    if not ex:
        raise KeyError("the example triplet (ex_ref.png, ex_p0.png, ex_p1.png) was not found")
    values, checks, ok = {}, [], True
    for net, expected in zhang2018.EXAMPLE_DISTANCES.items():
        for which, got, exp in zip(("p0", "p1"), ex[net], expected):
            passed = abs(got - exp) <= EXAMPLE_TOL
            ok &= passed
            values[f"{net}.{which}"] = got
            checks.append(f"{net} d(ref,{which}) = {got:.4f} vs {exp} (+-{EXAMPLE_TOL}): {passed}")
    return ok, {"values": values, "comparison": "; ".join(checks),
                "summary": ", ".join(f"{k} {v:.3f}" for k, v in values.items())}


def _equal_mse_check(m: dict):
    deep = ("alex", "alex_lin_official")
    vals = {k: _s(m, k, "equal_mse") for k in (*deep, "psnr")}
    ok = all(vals[k] >= max(90.0, vals["psnr"] + 25) for k in deep)
    return bool(ok), {
        "values": vals,
        "comparison": (f"AlexNet (cosine and official lin) >= 90 % and >= PSNR + 25 points: {ok} (PSNR, i.e. RGB "
                       "L2, sees two equal MSEs: its score is chance by construction)"),
        "summary": ", ".join(f"{k} {v:.1f} %" for k, v in vals.items()),
    }


def _random_check(m: dict):
    vals = {k: _s(m, k, "equal_mse") for k in ("alex", "alex_random")}
    ok = vals["alex"] >= vals["alex_random"] + 5
    return bool(ok), {"values": vals, "comparison": f"alex >= alex_random + 5 points on equal_mse: {ok}",
                      "summary": f"ImageNet {vals['alex']:.1f} % vs random {vals['alex_random']:.1f} %"}


def _calibration_check(m: dict):
    pairs = (("alex", "alex_lin_ours"), ("alex_random", "alex_random_lin"), ("color", "color_lin_ours"))
    vals = {k: _s(m, k, "heldout") for p in pairs for k in p}
    gain = float(np.mean([vals[b] - vals[a] for a, b in pairs]))
    no_loss = all(vals[b] >= vals[a] - MARGIN for a, b in pairs)
    ok = gain >= 1.0 and no_loss
    return bool(ok), {"values": {**vals, "mean_gain": gain},
                      "comparison": (f"mean held-out gain of our lin over cosine across the three trunks >= 1 point "
                                     f"({gain:+.1f}) and no trunk loses more than {MARGIN} points: {ok}"),
                      "summary": f"mean gain {gain:+.1f} points; " + ", ".join(f"{k} {v:.1f}" for k, v in vals.items())}


def _sparsity_check(m: dict):
    z = m["official"]["zero_fraction"]["alex"]
    paper = [p.value for p in zhang2018.ALEX_ZERO_WEIGHTS]
    ok = z[0] >= z[-1] + 10 and z[0] >= 40
    return bool(ok), {"values": {f"conv{k + 1}": v for k, v in enumerate(z)},
                      "comparison": (f"official alex v0.1: zero share conv1 >= conv5 + 10 points and conv1 >= 40 %: "
                                     f"{ok} (paper: {'/'.join(f'{p:g}' for p in paper)} %)"),
                      "summary": "zero weights conv1..5: " + "/".join(f"{v:.1f}" for v in z) + " %"}


def _self_supervised_check(m: dict):
    vals = {k: _s(m, k, "equal_mse") for k in ("color", "alex", "alex_random")}
    ok = vals["color"] >= vals["alex"] - 10 and vals["color"] >= vals["alex_random"] + MARGIN
    return bool(ok), {"values": vals,
                      "comparison": (f"colorization features >= ImageNet AlexNet - 10 points and >= random AlexNet + "
                                     f"{MARGIN} points on equal_mse: {ok}"),
                      "summary": ", ".join(f"{k} {v:.1f} %" for k, v in vals.items())}


def _sentinel_check(m: dict):
    metrics = [k for k in ("l2", "ssim", "alex", "alex_lin_official", "vgg_lin_official", "color") if k in m["scores"]]
    vals = {f"{k}.{sn}": _s(m, k, sn) for k in metrics for sn in ("sentinel", "sentinel_cnn")}
    ok = all(v >= 95 for v in vals.values())
    return bool(ok), {"values": vals, "comparison": f"every listed metric >= 95 % on both sentinel sets: {ok}",
                      "summary": f"lowest {min(vals.values()):.1f} %"}


def claims() -> list:
    return [
        custom("official_example_distances",
               "The official v0.1 weights give the released example distances: alex (0.722, 0.138), vgg (0.569, "
               "0.422) on ex_ref vs ex_p0, ex_p1 (reference-facts 5.4).", _example_check),
        custom("sentinels_pass",
               "Like the attentive observers of sec. 6.2.2, every sound metric passes the sentinels: the weaker "
               "version of one distortion is closer (traditional held-out families and CNN-based distortions).",
               _sentinel_check),
        custom("deep_features_see_structure",
               "Deep ImageNet features rank equal-MSE pairs the way human perception does (a luminance or contrast "
               "change looks closer than blur, noise or JPEG at the same MSE; Wang & Bovik 2009), where RGB L2/PSNR "
               "cannot by construction (sec. 6.4.1: deep features beat L2 by a large margin).", _equal_mse_check),
        custom("random_network_worse",
               "A randomly initialised network does markedly worse than a trained one (sec. 6.4.1: 'Random "
               "networks ... do not yield much improvement').", _random_check),
        custom("calibration_helps_heldout",
               "Linear calibration on judgments improves agreement over cosine on held-out distortion families "
               "(sec. 6.4.2: lin improved 11 of 12 real-algorithm scores).", _calibration_check),
        custom("official_lin_sparse_early",
               "The learned Alex-lin weights are sparse in early layers and dense in late ones (sec. 6.4.2, "
               "Fig. 6.6: 79.7 % of conv1 weights and 27.7 % of conv5 weights are zero).", _sparsity_check),
        custom("self_supervised_features_work",
               "Self-supervised features (cross-channel prediction: our Chapter 1 colorization network) approach "
               "supervised ones and beat a random network (sec. 6.4.1).", _self_supervised_check),
        not_testable("bapps_human_agreement",
                     "On BAPPS, ImageNet AlexNet/VGG/SqueezeNet reach 68.9/67.0/68.6 % 2AFC against humans' 73.9 %, "
                     "L2 and SSIM 63.2/63.1 % (sec. 6.4.1).",
                     "Needs the BAPPS human judgments (a 1.3 GB download): run the chapter's online section in Colab."),
    ]


def facts(measured: dict) -> list:
    off = measured["official"]
    out = [
        fact("Alex-lin weights (sec. 6.4.2: 64+192+384+256+256)", 1152, off["lin_weights"]["alex"], unit="weights"),
        fact("VGG-lin weights (sec. 6.3)", 1472, off["lin_weights"]["vgg"], unit="weights"),
    ]
    for net in ("alex", "vgg"):
        for k, which in enumerate(("p0", "p1")):
            if net in off["example"]:
                out.append(fact(f"LPIPS-{net} v0.1 d(ex_ref, ex_{which})", zhang2018.EXAMPLE_DISTANCES[net][k],
                                round(off["example"][net][k], 4), tol=EXAMPLE_TOL))
    return out


TABLE_ROWS = ("l2", "ssim", "alex", "vgg", "alex_lin_official", "vgg_lin_official")


def paper_tables(runs: dict) -> list:
    """The paper's 2AFC averages over BAPPS (sec. 6.4.1) beside our constructed-judgment scores.

    The columns measure different things: the paper's is agreement with humans on BAPPS, ours agreement
    with the known answers of :mod:`reprolib.chapters.lpips.judgments` (sentinels; equal-MSE cross-family pairs). The
    table sets them side by side so the reader sees the ranking, not a like-for-like number.
    """
    from reprolib.book.tables import comparison_table

    paper_rows = {"l2": "l2", "ssim": "ssim", "alex": "alex", "vgg": "vgg"}
    paper = {f"scores.{r}.bapps": zhang2018.TWO_AFC_ALL_SETS[p].value for r, p in paper_rows.items()}
    rows = [(r, LABELS[r]) for r in (*TABLE_ROWS, "alex_lin_ours", "alex_random", "color")]
    tables = [
        comparison_table(rows=rows, columns=[("bapps", "BAPPS 2AFC, 6 sets (%)", ".1f")], paper=paper, runs=runs,
                         key="scores.{row}.{column}",
                         caption="Paper: 2AFC agreement with humans on BAPPS (sec. 6.4.1). Ours: not measurable "
                                 "offline (dash); see the online section."),
        comparison_table(rows=rows, columns=[("equal_mse", "equal-MSE 2AFC (%)", ".1f"),
                                             ("heldout", "held-out 2AFC (%)", ".1f")],
                         paper={}, runs=runs, key="scores.{row}.{column}",
                         caption="Constructed judgments (answers known by construction); the paper has no such "
                                 "column (dash)."),
    ]
    return tables
