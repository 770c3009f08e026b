"""The SpyncoGan paper's tables and constants as stored: complete, well keyed, adding up where the paper's text
says they do, and (where the paper's text is at hand) printed in it, row by row."""

import math
from pathlib import Path

import pytest

from reprolib.chapters.pseudo_cyclic import paper
from reprolib.claims import PaperNumber

PAPER_TEXT = Path("/work/shared/papers/004_8b5497f7f0b45b51.txt")  # the paper's text, where this machine has it

TABLES = {"table1": paper.table1, "table2": paper.table2, "table3": paper.table3, "text": paper.text_numbers}


def test_every_row_has_its_numbers_and_the_tables_their_counts():
    assert set(paper._TABLE1) == set(paper.DATASETS) and all(len(r) == 4 for r in paper._TABLE1.values())
    assert set(paper._TABLE2) == set(paper.LOSSES) and all(len(r) == 4 for r in paper._TABLE2.values())
    assert set(paper._TABLE3) == set(paper.TRAINING_SETS) and all(len(r) == 2 for r in paper._TABLE3.values())
    # 4 data sets x 2 losses x 2 metrics; 2 losses x 2 variants x 2 metrics; 4 training sets x 2 data sets
    assert (len(paper.table1()), len(paper.table2()), len(paper.table3()), len(paper.text_numbers())) == (16, 8, 8, 6)


def test_spot_values():
    t1, t2, t3, text = paper.table1(), paper.table2(), paper.table3(), paper.text_numbers()
    assert t1["cezanne.l1.mse"].value == 92.9 and t1["cezanne.l123.mse"].value == 91.5
    assert t1["ucmerced.l1.ssim"].value == 86 and t1["ucmerced.l123.ssim"].value == 85
    assert t1["cifar10.l123.mse"].value == 86.8 and t1["landscape.l1.mse"].value == 85.7
    assert t2["l1.without_contours.mse"].value == 92.6 and t2["l1.without_contours.ssim"].value == 79
    assert t2["l123.without_contours.mse"].value == 92.0 and t2["l123.without_contours.ssim"].value == 77
    assert t3["g1_epoch70.ucmerced"].value == 97.0 and t3["g1_epoch100.cifar10"].value == 81.0
    assert t3["real_color.cifar10"].value == 75.7 and t3["real_gray.cifar10"].value == 22.1
    assert t3["real_gray.ucmerced"].value == 92.5
    assert text["params.generator"].value == 4.978 and text["params.discriminator"].value == 2.085
    assert t1["cifar10.l1.ssim"].unit == "%" and t1["cifar10.l1.mse"].unit == ""
    assert t3["real_color.cifar10"].unit == "%"


def test_every_number_has_a_definition_a_where_and_a_parsable_key():
    for name, table in TABLES.items():
        for key, number in table().items():
            assert isinstance(number, PaperNumber) and number.key == f"{name}.{key}"
            assert number.definition.strip() and number.where and number.page is None
            assert number.where == (f"Table {name[-1]}" if name != "text" else number.where)
            assert number.where.startswith(("Table", "Sec."))
    for key in paper.table1():
        ds, loss, metric = key.split(".")
        assert ds in paper.DATASETS and loss in paper.LOSSES and metric in paper.METRICS
    for key in paper.table2():
        loss, variant, metric = key.split(".")
        assert loss in paper.LOSSES and variant in paper.CONTOURS and metric in paper.METRICS
    for key in paper.table3():
        row, ds = key.split(".")
        assert row in paper.TRAINING_SETS and ds in paper.CLS_DATASETS
    names = paper.DATASETS + paper.LOSSES + paper.METRICS + paper.CONTOURS + paper.TRAINING_SETS
    assert set(names) <= set(paper.LABELS)
    assert all(paper.MSE_SCALE_NOTE in n.note for t in (paper.table1(), paper.table2()) for k, n in t.items()
               if k.endswith(".mse"))
    assert paper.CITATION == "ratajczak2019pseudo"


def test_the_arithmetic_the_text_states():
    t1, text = paper.table1(), paper.text_numbers()
    # sec. 4.1: G + D = the total; H_t's three weights are Eq. 1's and sum to one
    assert math.isclose(paper.PARAMS_G_M + paper.PARAMS_D_M, paper.PARAMS_TOTAL_M, abs_tol=1e-9)
    assert text["params.total"].value == paper.PARAMS_TOTAL_M
    assert len(paper.HT_WEIGHTS) == paper.HT_PARAMETERS == 3 and math.isclose(sum(paper.HT_WEIGHTS), 1.0)
    # sec. 6.2.1: L^{1,2,3} lowers the MSE by 1.2 on average and the SSIM by 0.25 % points on average
    gains = [t1[f"{ds}.l1.mse"].value - t1[f"{ds}.l123.mse"].value for ds in paper.DATASETS]
    costs = [t1[f"{ds}.l1.ssim"].value - t1[f"{ds}.l123.ssim"].value for ds in paper.DATASETS]
    assert math.isclose(sum(gains) / len(gains), paper.OSP_MSE_GAIN, abs_tol=1e-9)
    assert math.isclose(sum(costs) / len(costs), paper.OSP_SSIM_COST, abs_tol=1e-9)
    assert all(g > 0 for g in gains)  # every data set's MSE improves
    # sec. 6.2.1: the ablation averages the five evaluations 10, 20, ..., 50, one every EVAL_EVERY epochs
    assert paper.ABLATION_EPOCHS == tuple(range(paper.EVAL_EVERY, 51, paper.EVAL_EVERY))
    assert paper.ABLATION_EPOCHS[-1] <= min(paper.EPOCHS_BY_DATASET.values())
    assert math.isclose(paper.UCMERCED_TRAIN_SHARE + 0.2, 1.0)


def test_table2_repeats_table1s_cezanne_rows_and_the_contours_loss_keeps_structure():
    t1, t2 = paper.table1(), paper.table2()
    for loss in paper.LOSSES:
        for metric in paper.METRICS:
            assert t2[f"{loss}.with_contours.{metric}"].value == t1[f"cezanne.{loss}.{metric}"].value
        # sec. 6.2.1: removing the contours loss lowers the SSIM markedly (by 3 and 5 % points)
        assert t2[f"{loss}.with_contours.ssim"].value - t2[f"{loss}.without_contours.ssim"].value >= 3
    assert [t2[f"{loss}.with_contours.ssim"].value - t2[f"{loss}.without_contours.ssim"].value
            for loss in paper.LOSSES] == [3, 5]


def test_table3_reads_as_the_text_says():
    t3 = paper.table3()
    best = {ds: max(paper.TRAINING_SETS, key=lambda r: t3[f"{r}.{ds}"].value) for ds in paper.CLS_DATASETS}
    assert best == {"ucmerced": "g1_epoch70", "cifar10": "g1_epoch100"}  # sec. 6.2.3
    for ds in paper.CLS_DATASETS:  # both colorized training sets beat the real colour one
        assert min(t3[f"g1_epoch{e}.{ds}"].value for e in paper.COLORIZATION_EPOCHS_TABLE3) > t3[
            f"real_color.{ds}"].value
    assert (paper.CLS_NETS["cifar10"], paper.CLS_EPOCHS) == ("AlexNet with batch normalisation",
                                                             {"ucmerced": 40, "cifar10": 20})


def test_constants():
    assert (paper.ALPHA, paper.BETA, paper.GAMMA, paper.ZETA) == ((5, 3, 2), (10, 6, 4), (1, 1, 1), (1, 0, 0))
    assert all(len(w) == paper.N_OUTPUTS == 3 for w in paper.LOSS_WEIGHTS.values())
    assert set(paper.LOSS_WEIGHTS) == set(paper.TOTAL_LOSS)
    # sec. 5.2: the weights favour the final output (i = 1, first) over the inner ones
    assert all(list(w) == sorted(w, reverse=True) for w in paper.LOSS_WEIGHTS.values())
    assert (paper.LR, paper.LR_DECAY, paper.LR_DECAY_START, paper.EPOCHS) == (2e-4, "linear", 0.5, 100)
    assert paper.EPOCHS_BY_DATASET == {"cezanne": 100, "landscape": 50, "ucmerced": 100, "cifar10": 100}
    assert paper.BATCH_SIZE is None and paper.OPTIMIZER is None  # not stated
    assert paper.IMAGE_SIZE == {"cezanne": 256, "landscape": 256, "ucmerced": 256, "cifar10": 32}
    assert (paper.WIDTH, paper.RESIDUAL_BLOCKS, paper.SCALE_FACTOR, paper.GENERATORS, paper.DISCRIMINATORS) == (
        256, 6, 2, 1, 1)
    assert (paper.CLS_LR, paper.CLS_LR_STEP, paper.CLS_LR_STEPS_AT, paper.CLS_INPUT_SIZE) == (1e-4, 0.1, (0.33, 0.66),
                                                                                            256)
    assert (paper.CIFAR10_IMAGES, paper.CIFAR10_CLASSES, paper.UCMERCED_CLASSES_PRINTED) == (60_000, 10, 24)
    assert "21" in paper.UCMERCED_NOTE and (paper.GPUS, paper.CHORD_TOP_SHARE) == (2, 25)


def test_the_erratum_is_recorded_as_printed():
    assert paper.ERRATUM == "Errata: correct E_B to E_A ; add ² to better match concrete implementation."
    assert "E_A[||1 - D(G_i(I))||_2^2]" in paper.GAN_LOSS_PRINTED and "E_B[||D(J)||_2^2]" in paper.GAN_LOSS_PRINTED
    assert "footnote 1" in paper.ERRATUM_NOTE and "Eq. 8" in paper.ERRATUM_NOTE


def test_the_cifar_loader_grey_is_the_papers_h_t():
    from reprolib.data import cifar

    assert cifar.GREY_WEIGHTS == paper.HT_WEIGHTS
    assert cifar.N_TRAIN + cifar.N_TEST == paper.CIFAR10_IMAGES and len(cifar.CLASSES) == paper.CIFAR10_CLASSES
    assert cifar.SIZE == paper.IMAGE_SIZE["cifar10"]


# ------------------------------------------------------------------ against the paper's text


def _paper_text() -> str:
    if not PAPER_TEXT.exists():
        pytest.skip(f"the paper's text is not at {PAPER_TEXT}")
    return PAPER_TEXT.read_text(encoding="utf-8")


def _rows(text: str, header: str) -> list[list[str]]:
    """The tab-separated rows that follow the line starting with ``header``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 1:]:
        if "\t" not in line:
            break
        rows.append(line.split("\t"))
    return rows


def _same(printed: str, value: float) -> bool:
    return float(printed) == value


def test_the_tables_are_printed_row_by_row():
    text = _paper_text()
    rows1 = _rows(text, "Dataset\tLoss function")
    assert len(rows1) == 8
    for j, row in enumerate(rows1):
        ds, loss = paper.DATASETS[j // 2], paper.LOSSES[j % 2]
        assert row[0] == paper.LABELS[ds] and ("{1,2,3}" in row[1]) == (loss == "l123")
        mse, ssim = paper._TABLE1[ds][2 * (j % 2): 2 * (j % 2) + 2]
        assert _same(row[2], mse) and _same(row[3], ssim), row
    rows2 = _rows(text, "Loss function\tAblation")
    assert len(rows2) == 4
    for j, row in enumerate(rows2):
        loss, variant = paper.LOSSES[j // 2], paper.CONTOURS[j % 2]
        assert ("{1,2,3}" in row[0]) == (loss == "l123") and (row[1] == "/") == (variant == "with_contours")
        mse, ssim = paper._TABLE2[loss][2 * (j % 2): 2 * (j % 2) + 2]
        assert _same(row[2], mse) and _same(row[3], ssim), row
    rows3 = _rows(text, "Training Set\tCol. Epoch")
    assert len(rows3) == 4
    for row, name in zip(rows3, paper.TRAINING_SETS, strict=True):
        epoch = {"g1_epoch70": "70", "g1_epoch100": "100"}.get(name, "/")
        assert row[1] == epoch and _same(row[2], paper._TABLE3[name][0]) and _same(row[3], paper._TABLE3[name][1])


def test_the_constants_are_printed_in_the_paper():
    text = _paper_text()
    assert paper.ERRATUM in text  # verbatim, footnote 1
    for s in ("0.299", "0.587", "0.114", "≈ 7.063 million", "≈ 4.978 million", "≈ 2.085 million",
              "3 non-trainable parameters", "$N = 3$", "$n = 256$", "6 convolutional blocks",
              r"\{5, 3, 2\}", r"\{10, 6, 4\}", r"\{1, 1, 1\}", r"\{1, 0, 0\}",
              "100 epochs (but 50 for Landscape photos)", "learning rate of 0.0002", "after half the epochs",
              "every 10 epochs", "epochs 10 to 50 with a step of 10",
              "1.2 points", "0.25%", "80% of the images for training and 20%", "60 000 image instances of 10 objects",
              "24 remotely sensed", "0.0001", "0.1 step decay applied at 33% and 66%", "20 and 40 epochs",
              "256×256 pixels", "(32×32 pixels)", "25% highest", "2 GPUs GeForce 1080 Ti",
              "scale factor equals to 2"):
        assert s in text, s
    assert r"\mathbb{E}_A[\|1 - D(G_i(I))\|_2^2] + \mathbb{E}_B[\|D(J)\|_2^2]" in text  # GAN_LOSS_PRINTED
