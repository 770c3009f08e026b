"""The diverse-colorization paper's tables as stored: complete, well keyed, and consistent with what its text
says of them; its constants have one home."""

from reprolib.chapters.diverse import paper
from reprolib.models import divcolor


def test_every_row_has_six_numbers_and_the_tables_their_counts():
    for rows, keys in ((paper._TABLE1, paper.DATASETS), (paper._TABLE2, paper.DATASETS),
                       (paper._TABLE3, paper.METHODS3)):
        assert set(rows) == set(keys) and all(len(row) == 6 for row in rows.values())
    assert (len(paper.table1()), len(paper.table2()), len(paper.table3())) == (18, 18, 24)


def test_spot_values_against_the_text():
    t1, t2, t3 = paper.table1(), paper.table2(), paper.table3()
    assert t1["lfw.l2.grid"].value == 0.035 and t1["imagenet_val.l2.all"].value == 0.031
    assert t1["church.eq4.grid"].value == 0.023
    assert t2["lfw.l2.grid"].value == 11.29 and t2["church.l2.all"].value == 4.9
    assert t2["imagenet_val.mah.all"].value == 12.99 and t2["lfw.eq4.all"].value == 2.65
    assert t3["cvae.lfw.eob"].value == 0.031 and t3["cgan.imagenet_val.var"].value == 8.88e-6
    assert t3["ours.lfw.var"].value == 1.1e-3 and t3["ours_skip.church.var"].value == 2.9e-4
    assert t3["ours_skip.imagenet_val.eob"].value == 0.041


def test_every_key_parses_into_the_declared_names():
    for name, table in (("table1", paper.table1()), ("table2", paper.table2())):
        for key, number in table.items():
            ds, loss, col = key.split(".")
            assert ds in paper.DATASETS and loss in paper.LOSSES and col in paper.COLUMNS
            assert number.key == f"{name}.{key}" and number.where == f"Table {name[-1]}" and number.page is None
    for key, number in paper.table3().items():
        method, ds, stat = key.split(".")
        assert method in paper.METHODS3 and ds in paper.DATASETS and stat in paper.STATS3
        assert number.key == f"table3.{key}" and number.where == "Table 3" and number.page is None
    assert set(paper.DATASETS + paper.LOSSES + paper.METHODS3) <= set(paper.LABELS)


def test_the_texts_readings_of_the_tables_hold():
    t1, t2, t3 = paper.table1(), paper.table2(), paper.table3()
    # sec. 7.2: with all loss terms the absolute error is below L2's on LFW and Church, not on ImageNet-Val
    for ds in ("lfw", "church"):
        assert all(t1[f"{ds}.eq4.{c}"].value < t1[f"{ds}.l2.{c}"].value for c in paper.COLUMNS)
    assert t1["imagenet_val.eq4.all"].value > t1["imagenet_val.l2.all"].value
    # ... and the weighted error below L2's on every dataset
    assert all(t2[f"{ds}.eq4.{c}"].value < t2[f"{ds}.l2.{c}"].value for ds in paper.DATASETS for c in paper.COLUMNS)
    # sec. 7.3: both of the authors' methods have a higher variance than either baseline everywhere, but not the
    # lowest error of the best everywhere (CVAE's is lower on Church and ImageNet-Val)
    for ds in paper.DATASETS:
        assert min(t3[f"{m}.{ds}.var"].value for m in ("ours", "ours_skip")) > max(
            t3[f"{m}.{ds}.var"].value for m in ("cvae", "cgan"))
    assert t3["cvae.church.eob"].value < t3["ours_skip.church.eob"].value


def test_constants_have_one_home_in_the_model():
    assert (paper.D, paper.COMPONENTS, paper.MDN_VARIANCE, paper.PCA_COMPONENTS) == (64, 8, 0.1, 20)
    assert (paper.LAMBDA_MAH, paper.LAMBDA_GRAD, paper.KL_WEIGHT, paper.TOP_K) == (0.1, 1e-3, 1e-2, 5)
    for name in ("D", "COMPONENTS", "MDN_VARIANCE", "PCA_COMPONENTS", "LAMBDA_MAH", "LAMBDA_GRAD", "KL_WEIGHT",
                 "TOP_K"):
        assert getattr(paper, name) is getattr(divcolor, name), name
    assert (paper.CVAE_SAMPLES, paper.CVAE_CLUSTERS, paper.N_TEST, paper.IMAGE_SIZE) == (256, 5, 1000, 64)
    assert paper.DATASET_SIZES == {"lfw": 13233, "church": 126227, "imagenet_val": 50000}
    assert paper.CVAE_CLUSTERS == paper.TOP_K  # five outputs per method in Table 3
    assert paper.CITATION == "deshpande2017learning"
