"""The exemplar-colorization paper's tables and constants as stored: complete, well keyed, adding up where the paper's
numbers must, and (where the paper's text is at hand) printed in it."""

import math
import re
from pathlib import Path

import pytest

from reprolib.chapters.exemplar import paper

PAPER_TEXT = Path("/work/shared/papers/003_22c317fc72f9186f.txt")  # the paper's text, where this machine has it


def test_every_row_has_its_numbers_and_the_tables_their_counts():
    assert set(paper._TABLE1) == set(paper.TABLE1_ROWS) and all(len(r) == 2 for r in paper._TABLE1.values())
    assert set(paper._TABLE2) == set(paper.METHODS2) and all(len(r) == 5 for r in paper._TABLE2.values())
    assert set(paper._TABLE3) == set(paper.METHODS3) and all(len(r) == 2 for r in paper._TABLE3.values())
    # Table 2: 6 rows x 4 accuracies, and a PSNR for every row but the colour ground truth ("NA")
    assert [m for m, row in paper._TABLE2.items() if row[-1] is None] == ["gt_color"]
    assert (len(paper.table1()), len(paper.table2()), len(paper.table3())) == (6, 29, 5)
    assert "gt_color.psnr" not in paper.table2()


def test_spot_values():
    t1, t2, t3 = paper.table1(), paper.table2(), paper.table3()
    assert t1["vgg19_color.top5"].value == 91.24 and t1["vgg19_gray.top1"].value == 61.14
    assert t1["gray_vgg19_gray.top5"].value == 89.39 and t1["gray_vgg19_gray.top1"].value == 70.05
    assert t2["gt_color.vgg16.top5"].value == 89.99 and t2["gt_color.vgg19bn.top1"].value == 71.12
    assert t2["gt_gray.vgg19bn.top5"].value == 84.2 and t2["gt_gray.vgg16.top1"].value == 57.39
    assert t2["zhang16.vgg19bn.top1"].value == 60.97 and t2["larsson.psnr"].value == 25.50
    assert t2["ours.vgg19bn.top1"].value == 65.1 and t2["ours.vgg16.top5"].value == 84.79
    assert t2["ours.psnr"].value == 22.92 and t2["gt_gray.psnr"].value == 23.28 and t2["iizuka.psnr"].value == 24.92
    assert t3["ours_top1"].value == 38.08 and t3["zhang16"].value == 35.36 and t3["ours_random"].value == 21.92
    assert "+- 1.72" in t3["ours_top1"].note and "+- 1.76" in t3["iizuka"].note


def test_every_key_parses_into_the_declared_names():
    for key, number in paper.table1().items():
        row, top = key.split(".")
        assert row in paper.TABLE1_ROWS and top in paper.TOPS
        assert number.key == f"table1.{key}" and number.where == "Table 1" and number.unit == "%"
    for key, number in paper.table2().items():
        method, *rest = key.split(".")
        assert method in paper.METHODS2 and number.key == f"table2.{key}" and number.where == "Table 2"
        if rest == ["psnr"]:
            assert number.unit == "dB"
        else:
            net, top = rest
            assert net in paper.NETS2 and top in paper.TOPS and number.unit == "%"
    for key, number in paper.table3().items():
        assert key in paper.METHODS3 and number.key == f"table3.{key}" and number.where == "Table 3"
    for table in (paper.table1(), paper.table2(), paper.table3()):
        assert all(n.page is None and n.definition for n in table.values())
    assert set(paper.TABLE1_ROWS + paper.METHODS2 + paper.NETS2 + paper.TOPS + paper.METHODS3) <= set(paper.LABELS)
    assert paper.CITATION == "he2018deep"


def test_the_psnr_disagreement_and_the_undefined_pm_are_recorded():
    t2, t3 = paper.table2(), paper.table3()
    assert paper.PSNR_TEXT == {"ours": 22.9178, "gt_gray": 24.9214}
    assert round(paper.PSNR_TEXT["ours"], 2) == t2["ours.psnr"].value  # the text and the table agree on ours
    assert round(paper.PSNR_TEXT["gt_gray"], 2) == t2["iizuka.psnr"].value != t2["gt_gray.psnr"].value
    for name in ("23.28", "24.9214", "24.92", "22.9178"):
        assert name in paper.PSNR_TEXT_DISAGREEMENT
    assert all(paper.PSNR_TEXT_DISAGREEMENT in t2[f"{m}.psnr"].note for m in ("gt_gray", "iizuka"))
    assert not any(paper.PSNR_TEXT_DISAGREEMENT in t2[f"{m}.psnr"].note for m in ("zhang16", "larsson", "ours"))
    assert all(paper.TABLE3_PM_NOTE in n.note for n in t3.values())
    # the text's point holds with either grey value: ours is below the all-grey PSNR, and below Iizuka's and Larsson's
    assert t2["ours.psnr"].value < min(t2["gt_gray.psnr"].value, paper.PSNR_TEXT["gt_gray"])
    assert t2["ours.psnr"].value < min(t2["iizuka.psnr"].value, t2["larsson.psnr"].value)


def test_the_texts_readings_of_the_tables_hold():
    t1, t2, t3 = paper.table1(), paper.table2(), paper.table3()
    # sec. 3.1: the grey-trained net recovers most of the colour net's top-5 accuracy on grey images
    assert t1["vgg19_gray.top5"].value < t1["gray_vgg19_gray.top5"].value < t1["vgg19_color.top5"].value
    # sec. 6.3: ours has the best classification accuracy of the colorizations, under both nets, top-5 and top-1
    for net in paper.NETS2:
        for top in paper.TOPS:
            others = [t2[f"{m}.{net}.{top}"].value for m in ("gt_gray", "iizuka", "zhang16", "larsson")]
            assert t2[f"ours.{net}.{top}"].value > max(others)
            assert t2[f"ours.{net}.{top}"].value < t2[f"gt_color.{net}.{top}"].value
    # sec. 6.3 / Table 3: top-1 first, Zhang et al. second; the random reference last
    ranked = sorted(t3, key=lambda m: -t3[m].value)
    assert ranked[:2] == ["ours_top1", "zhang16"] and ranked[-1] == "ours_random"
    assert all(n.value < 50 for n in t3.values())  # below the 50 % of indistinguishable images


def test_the_sums_that_must_hold():
    assert sum(paper.CATEGORY_SHARES.values()) == 100 and len(paper.CATEGORY_SHARES) == 7
    assert sum(paper.PAIR_MIX.values()) == 100
    assert math.isclose(sum(paper.RUNTIME_S.values()), paper.RUNTIME_TOTAL_S, abs_tol=1e-12)
    assert sum(paper.BATCH_SPLIT.values()) == paper.BATCH
    assert paper.AMT_PAIRS_PER_METHOD * len(paper.METHODS3) == paper.AMT_TEST_PAIRS
    assert 1 + 2 + 2 * len(paper.SIMILARITY_LAYERS) == 13  # sec. 3.2: the thirteen channels of Input 2
    assert paper.LOCAL_CELL == 2 ** 4  # relu5_4 lies after four 2x poolings


def test_constants():
    assert (paper.ALPHA, paper.SMOOTH_L1_DELTA, paper.BETA, paper.GLOBAL_TOP_N) == (0.005, 1.0, 0.25, 200)
    assert paper.PCA_DIMS == {"fc6": (4096, 128), "relu5_4": (512, 64)}
    assert (paper.LR, paper.LR_DECAY, paper.LR_STEP_EPOCHS, paper.EPOCHS) == (1e-4, 0.1, 3, 10)
    assert (paper.N_PAIRS, paper.N_CLASSES, paper.N_EVAL, paper.SEQUENTIAL_TOP_SHARE) == (700_000, 700, 10_000, 10)
    assert paper.CATEGORY_SHARES == {"animals": 15, "plants": 15, "people": 20, "scenery": 25, "food": 5,
                                     "transportation": 15, "artifacts": 5}
    assert (paper.AMT_PRACTICE, paper.AMT_TEST_PAIRS, paper.AMT_SESSIONS, paper.AMT_PARTICIPANTS) == (5, 50, 5, (25, 2))


def _paper_text() -> str:
    if not PAPER_TEXT.exists():
        pytest.skip(f"the paper's text is not at {PAPER_TEXT}")
    return PAPER_TEXT.read_text(encoding="utf-8")


def _printed(text: str, value: float) -> bool:
    """``value`` occurs in ``text`` as a whole number, allowing trailing zeros (73.1 matches "73.10")."""
    return re.search(rf"(?<![\d.]){re.escape(repr(value))}0*(?![\d])", text) is not None


def test_every_table_number_is_printed_in_the_paper():
    text = _paper_text()
    numbers = [n.value for t in (paper.table1(), paper.table2(), paper.table3()) for n in t.values()]
    numbers += [pm for _, pm in paper._TABLE3.values()] + list(paper.PSNR_TEXT.values())
    missing = [v for v in numbers if not _printed(text, v)]
    assert not missing, missing
    # row by row where the layout survives in the text
    for m, (a, b, c, d, _) in paper._TABLE2.items():
        assert re.search(rf"{a}0*/{b}0*\s+{c}0*\s*/{d}0*", text), m
    for m, (rate, pm) in paper._TABLE3.items():
        assert f"{rate:.2f} ± {pm:.2f}" in text or m == "ours_top1", m  # the bold row is LaTeX
    assert "38.08} \\pm \\textbf{1.72}" in text


def test_constants_are_printed_in_the_paper():
    text = _paper_text()
    for s in ("0.005", "N = 200", "0.25", "4, 096 to 128", "512 to 64", "0.166s", "0.016s", "0.1s", "0.05s",
              "700,000", "700 classes", "top 10%", "5 practice trials", "50 randomly selected test pairs",
              "10 pairs", "5 different sessions", "25 ± 2", "10,000 images", "35 pairs", "every 3 epochs",
              "10 epochs", "batch size of 256", "0.0001", "16×16"):
        assert s in text, s
    for name, share in paper.CATEGORY_SHARES.items():
        assert f"{name} ({share}%)" in text, name
    for share in paper.FIG16_OVER_GT:
        assert f"{share}%" in text, share
