"""The split-brain paper's tables as stored: complete, and consistent with what the thesis text says of them."""

from reprolib.chapters.split_brain import paper
from reprolib.metrics.probe import probe_size
from reprolib.models.splitbrain import ALEXNET_WIDTHS


def test_every_layer_has_one_number_per_method():
    for methods, runs in ((paper._METHODS54, paper._TABLE54), (paper._METHODS55, paper._TABLE55)):
        assert len(set(methods)) == len(methods) and set(runs) == set(paper.LAYERS)
        assert all(len(runs[layer]) == len(methods) for layer in paper.LAYERS)
        assert set(methods) <= set(paper.LABELS)
    t54 = paper.table54()
    assert t54["split_brain_cl"]["conv3"].value == 35.4 and t54["split_brain_cl"]["conv3"].key == "table54.split_brain_cl.conv3"
    assert paper.table55()["places_labels"]["conv5"].value == 44.6


def test_the_captions_claim_holds_without_the_stride_2_method():
    # "best on all layers across unsupervised methods" (Table 5.4), with Noroozi & Favaro's footnoted
    # stride-2 network left out (it is higher at conv1 and conv2); Donahue et al. tie at conv1
    t54 = paper.table54()
    not_compared = {"imagenet_labels", "places_labels", "noroozi", "split_brain_cl"}  # supervised, footnoted, itself
    for layer in paper.LAYERS:
        best = t54["split_brain_cl"][layer].value
        assert all(best >= t54[m][layer].value for m in t54 if m not in not_compared), layer
    assert t54["noroozi"]["conv1"].value > t54["split_brain_cl"]["conv1"].value


def test_probe_sizes_follow_from_alexnets_channels():
    channels = ALEXNET_WIDTHS[:5]
    assert tuple(probe_size(c, paper.PROBE_FEATURES) for c in channels) == paper.PROBE_SIDES
    assert tuple(c * s * s for c, s in zip(channels, paper.PROBE_SIDES)) == paper.PROBE_SIZES


def test_table56_has_twenty_methods_in_every_column():
    assert len(paper._METHODS56) == 20 == len(set(paper._METHODS56)) and set(paper._METHODS56) <= set(paper.LABELS)
    assert all(len(v) == 20 for v in paper._TABLE56.values()) and set(paper._TABLE56) == set(paper.COLUMNS56)
    t56 = paper.table56()
    assert t56["split_brain_cl_rs"]["cls_all"].value == 67.1 and "rescaled" in t56["split_brain_cl_rs"]["cls_all"].note
    assert "cls_fc6_8" not in t56["gaussian"] and "seg_all" not in t56["misra"]
    # the chapter's remark: split-brain is the best fine-tuned classifier, but not the best detector or segmenter
    best = lambda c: max((row[c].value, m) for m, row in t56.items() if c in row and m != "imagenet_labels")[1]  # noqa: E731
    assert best("cls_all") == best("cls_fc6_8") == "split_brain_cl_rs"
    assert best("det_all") == "pathak_motion" and best("seg_all") == "larsson"


def test_layer_tables_are_self_consistent_except_the_printed_fc6_padding():
    def side(n, k, s, d, p, ceil=False):
        span = d * (k - 1) + 1
        q = (n + 2 * p - span) / s
        return int(-(-q // 1) if ceil else q // 1) + 1

    n = paper.PRETRAIN_SIDE
    for name, x, _c, k, s, d, p in paper.TABLE52:
        if name == "fc6":
            assert side(n, k, s, d, p) == 14 != x  # the printed P = 6
            assert side(n, k, s, d, paper.FC6_PADDING_DEPLOY) == x  # the deploy prototxt's pad 5
        else:
            assert side(n, k, s, d, p, ceil=name.startswith("pool")) == x, name
        n = x
    n = paper.EVAL_SIDE
    for name, x, xd, c, k, s, d, p in paper.TABLE53:
        assert side(n, k, s, d, p, ceil=name.startswith("pool")) == x, name
        n = x
    fd = {"conv1": 9600, "pool1": 9600, "conv2": 9216, "pool2": 9216, "conv3": 9600, "conv4": 9600, "conv5": 9216,
          "pool5": 9216}  # Table 5.3's Fd column
    assert {name: c * xd * xd for name, _x, xd, c, *_ in paper.TABLE53 if xd} == fd


def test_deploy_parameters_add_up_to_alexnets_count():
    params = paper.DEPLOY_PARAMETERS
    assert sum(v for k, v in params.items() if k != "data_lab") == 56_868_224
    assert sum(v for k, v in params.items() if k != "data_lab") + 4096 * 1000 + 1000 == 60_965_224
