"""Chapter 2 experiment: its helpers, the claim checks, the facts, and a tiny untrained evaluation."""

import math

import pytest
import torch

from reprolib.chapters import user_guided as ch
from reprolib.chapters.user_guided import demo
from reprolib.claims import evaluate_claims
from reprolib.models.eccv16 import ECCV16


def test_profile_settings_scale_up():
    s = {p: ch.settings(p) for p in ("smoke", "fast", "full")}
    assert s["smoke"]["steps"] < s["fast"]["steps"] < s["full"]["steps"]
    assert s["full"]["width"] == 1.0
    for v in s.values():
        assert v["size"] % 8 == 0 and v["counts"][0] == 0 and list(v["counts"]) == sorted(v["counts"])
        assert set(v["max_error_counts"]) <= set(v["counts"])


def test_nested_random_points_are_nested_and_reveal_means():
    gen = torch.Generator().manual_seed(0)
    corners = ch.nested_random_points(2, 5, 16, patch=7, generator=gen)
    assert corners.shape == (2, 5, 2) and int(corners.min()) >= 0 and int(corners.max()) <= 16 - 7
    ab = torch.randn(2, 2, 16, 16) * 30
    _, m2 = ch.reveal_first(ab, corners, 2)
    _, m4 = ch.reveal_first(ab, corners, 4)
    assert bool((m4 >= m2).all())  # the first 2 points are among the first 4
    hint, mask = ch.reveal_first(ab, corners, 1)
    t, l = corners[0, 0].tolist()
    assert torch.allclose(hint[0, :, t, l], ab[0, :, t:t + 7, l:l + 7].mean(dim=(1, 2)), atol=1e-5)
    assert int(mask[0].sum()) == 49
    h0, m0 = ch.reveal_first(ab, corners, 0)
    assert float(m0.sum()) == 0 and float(h0.abs().sum()) == 0


def test_psnr8_known_values():
    rgb = torch.rand(2, 3, 8, 8)
    L, ab = ch.rgb_to_l_ab(rgb)
    assert bool(torch.isinf(ch.psnr8(L, ab.clone(), ab)).all())  # an exact copy, like edit propagation with every colour
    L0, ab0 = torch.full((1, 1, 4, 4), 50.0), torch.zeros(1, 2, 4, 4)
    assert math.isfinite(float(ch.psnr8(L0, torch.full_like(ab0, 5.0), ab0)))
    assert float(ch.psnr8(L0, torch.full_like(ab0, 20.0), ab0)) < float(ch.psnr8(L0, torch.full_like(ab0, 5.0), ab0))


def test_point_hint_and_square():
    hint, mask = ch.point_hint((16, 16), [(0, 0, (10.0, -20.0)), (8, 8, (1.0, 2.0))], patch=5)
    assert int(mask.sum()) == 9 + 25  # the corner patch is clipped to 3x3
    assert hint[0, :, 8, 8].tolist() == [1.0, 2.0] and hint[0, :, 0, 0].tolist() == [10.0, -20.0]
    L = ch.square_image(32)
    assert float(L[0, 0, 16, 16]) == 50.0 and float(L[0, 0, 0, 0]) == 0.0 and int((L > 0).sum()) == 16 * 16


def test_histogram_distance():
    a = torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]])
    b = torch.tensor([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]])
    assert ch.histogram_distance(a, b).tolist() == [1.0, 0.0]


def test_released_parameter_count_matches_the_model():
    # The hand count from the layer table (reference-facts 2.1) against the module's parameters.
    measured = sum(p.numel() for p in ch.SIGGRAPH17(1.0, mask_cent=0.0, dist_head="released").parameters())
    assert ch.released_parameter_count() == measured


def _metrics(good=True, n=6):
    """Aggregates and per-image samples; every image has the same value, so each interval has zero width and the
    verdicts follow the numbers exactly."""
    same = lambda v: [float(v)] * n  # noqa: E731
    counts = [0, 1, 2, 5, 10, 50]
    net = [20.0, 21.0, 22.0, 23.0, 24.0, 26.0] if good else [20.0, 21.0, 20.5, 23.0, 24.0, 26.0]
    lev = [18.0, 19.0, 19.5, 20.0, 21.0, 25.5] if good else [18.0, 21.5, 22.0, 23.0, 24.0, 26.5]
    max_error = [20.0, 21.5, 22.5, 24.0] if good else [20.0, 20.5, 21.0, 22.0]
    table = {"gray": 18.0, "zhang2016": 17.0 if good else 21.0, "zhang2016_norebal": 20.1 if good else 21.0,
             "local_auto": 20.0, "global_auto": 19.0, "global_hist": 24.0 if good else 19.0, "global_sat": 21.0,
             "local_all": 33.0 if good else 22.0}
    transfer = {"tv_transfer": 0.3 if good else 0.6, "tv_auto": 0.6, "tv_own_vs_ref": 0.5}
    coverage = {"apple": 1.0 if good else 0.5, "car": 0.8 if good else 0.3}
    images = {f"curve.random.network.{k}": same(v) for k, v in zip(counts, net)}
    images.update({f"curve.random.levin.{k}": same(v) for k, v in zip(counts, lev)})
    images.update({f"curve.max_error.network.{k}": same(v) for k, v in zip(counts, max_error)})
    images.update({f"table.{row}.psnr": same(v) for row, v in table.items()})
    images.update({f"transfer.{k}": same(v) for k, v in transfer.items()})
    samples = {"images": images, **{f"palette.{c}": {"covered": [v] * 3} for c, v in coverage.items()}}
    return {
        "curves": {"counts": counts, "random": {"network": net, "levin": lev}, "max_error_counts": [0, 1, 2, 5],
                   "max_error": {"network": max_error}},
        "table": {**{row: {"psnr": v} for row, v in table.items()}, "levin_all": {"psnr": "∞"}},
        "transfer": transfer,
        "palette": {"per_class": coverage, "objects": 6, "mean_coverage": sum(coverage.values()) / 2},
        "samples": samples,
    }


def test_claims_follow_the_measurements():
    good = {c["id"]: c["verdict"] for c in evaluate_claims(ch.claims(), _metrics(True))}
    bad = {c["id"]: c["verdict"] for c in evaluate_claims(ch.claims(), _metrics(False))}
    testable = [k for k in good if k != "amt_fooling_rate"]
    assert len(testable) >= 4
    assert all(good[k] == "reproduced" for k in testable), good
    assert all(bad[k] == "not_reproduced" for k in testable), bad
    assert good["amt_fooling_rate"] == bad["amt_fooling_rate"] == "not_testable"


def test_claims_need_their_metrics():
    m = _metrics(True)
    del m["samples"]["images"]["transfer.tv_auto"]
    with pytest.raises(KeyError, match="transfer.tv_auto"):
        evaluate_claims(ch.claims(), m)


def test_tiny_untrained_evaluation_has_the_schema():
    """Every measurement runs end to end on untrained tiny networks (numbers meaningless, shapes checked)."""
    s = dict(ch.settings("smoke"), n_test=3, counts=(0, 1, 3), max_error_counts=(0, 1), probes=3)
    train_set, test_set = ch.ColorWorld(n=4, size=32, seed=0), ch.ColorWorld(n=3, size=32, seed=5)
    run = ch.ChapterRun("smoke", 0, s, torch.device("cpu"), train_set, test_set)
    torch.manual_seed(0)
    run.models = {"local": ch.build_local(1 / 16).eval(), "global": ch.build_global(1 / 16).eval()}
    run.models.update({f"chapter1_{v}": ECCV16(width=1 / 16, head="classification").eval() for _, v in ch.CHAPTER1_ROWS})
    run.chapter1_size = 64  # Chapter 1's fast size: its predictions are resized to this chapter's 32 px
    m = ch.evaluate(run)
    assert all(math.isfinite(m["table"][row]["psnr"]) for row, _ in ch.CHAPTER1_ROWS)
    # one value per test image for every compared quantity, and the table's number is their mean
    images = m["samples"]["images"]
    assert {len(v) for v in images.values()} == {3} and "curve.random.network.3" in images
    assert m["table"]["local_auto"]["psnr"] == pytest.approx(sum(images["table.local_auto.psnr"]) / 3, rel=1e-5)
    assert m["table"]["chapter1_resize_ceiling"]["psnr"] > 25  # 64 px colours averaged to 32 px stay close
    assert len(m["curves"]["random"]["network"]) == 3 and len(m["curves"]["max_error"]["levin"]) == 2
    assert m["table"]["levin_all"]["psnr"] == "∞"  # Levin with every colour copies them exactly
    assert math.isfinite(m["table"]["local_all"]["psnr"])
    assert m["curves"]["random"]["levin"][0] == pytest.approx(m["curves"]["gray"])  # no hints: Levin is grey
    assert 0 <= m["transfer"]["tv_auto"] <= 1
    sat = m["saturation"]
    assert 0 <= sat["min"] <= sat["mean"] <= sat["max"] <= 1 and sat["std"] > 0 and -1 <= sat["chroma_corr"] <= 1
    one = ch.lab_batch(test_set, [0])
    seq = demo.hint_sequence(run, one["L"],
                           one["ab"], steps=2)
    assert len(seq) == 3 and seq[0]["point"] is None and int(seq[2]["mask"].sum()) == 2 * 49
    assert len(seq[1]["palette"]) >= 1


def test_helpers_reject_bad_input():
    with pytest.raises(ValueError, match="inside"):
        ch.point_hint((8, 8), [(9, 0, (1.0, 1.0))])
    with pytest.raises(ValueError, match="multiple of 8"):
        ch.square_image(30)
    with pytest.raises(ValueError, match="n_max"):
        ch.nested_random_points(2, 3, 5, patch=7)


class _Oracle:
    """Stands in for a Chapter 1 model: returns the true ab of the images it was built from."""

    def __init__(self, ab):
        self.ab, self.sizes = ab, []

    def colorize(self, L):
        self.sizes.append(L.shape[-1])
        return self.ab


@pytest.mark.parametrize("size, size1", [(32, 64), (64, 32), (32, 32)])
def test_chapter1_predictions_are_for_the_same_scenes(size, size1):
    """Chapter 1's models see the test scenes rendered at their own size; the ab come back at this chapter's
    size. An oracle built from the right scenes scores far above one given other scenes' colours."""
    s = dict(ch.settings("smoke"), n_test=4)
    s["size"] = size
    test_set = ch.ColorWorld(n=4, size=size, seed=11)
    run = ch.ChapterRun("smoke", 0, s, torch.device("cpu"), ch.ColorWorld(n=1, size=size, seed=0), test_set)
    with pytest.raises(RuntimeError, match="load_chapter1"):
        run.colorize_chapter1("full", range(4))
    hi = ch.lab_batch(ch.ColorWorld(n=4, size=size1, seed=11), range(4))["ab"]
    right, wrong = _Oracle(hi), _Oracle(hi.roll(1, dims=0))
    run.chapter1_size = size1
    b = ch.lab_batch(test_set, range(4))
    scores = {}
    for name, oracle in (("right", right), ("wrong", wrong)):
        run.models["chapter1_full"] = oracle
        ab = run.colorize_chapter1("full", range(4))
        assert ab.shape == b["ab"].shape and oracle.sizes == [size1]
        scores[name] = float(ch.psnr8(b["L"], ab, b["ab"]).mean())
    assert scores["right"] > scores["wrong"] + 5, scores
    # the resize ceiling is exactly the right oracle's score: the true colours resized the same way
    assert float(run.chapter1_resize_ceiling(range(4)).mean()) == pytest.approx(scores["right"])
    if size1 == size:
        assert scores["right"] == math.inf  # same size: the very same pixels


def test_saturation_spread_measures_the_hint():
    grey = torch.full((3, 3, 8, 8), 0.5)
    vivid = torch.zeros(3, 3, 8, 8)
    vivid[:, 0] = torch.tensor([1.0, 0.8, 0.6])[:, None, None]  # pure reds of decreasing brightness: S = 1
    for rgb, mean in ((grey, 0.0), (vivid, 1.0)):
        b = {"rgb": rgb}
        b["L"], b["ab"] = ch.rgb_to_l_ab(rgb)
        out = ch.saturation_spread(b)
        assert out["mean"] == pytest.approx(mean, abs=1e-6) and out["std"] == pytest.approx(0.0, abs=1e-6)
    mixed = torch.stack([grey[0], vivid[0], 0.5 * grey[0] + 0.5 * vivid[0]])
    b = {"rgb": mixed}
    b["L"], b["ab"] = ch.rgb_to_l_ab(mixed)
    out = ch.saturation_spread(b)
    assert out["std"] > 0.3 and out["chroma_corr"] > 0.9  # saturation and chroma rise together
