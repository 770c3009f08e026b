"""Chapter 1 experiment: its losses, its claim checks, and the results file's schema (tiny run)."""

import json

import pytest
import torch
from torch.nn import functional as F

from reprolib import quantize
from reprolib.chapters import automatic as ch


def test_classification_loss_is_soft_cross_entropy():
    torch.manual_seed(0)
    ab = torch.randn(2, 2, 8, 8) * 40
    logits = torch.randn(2, 313, 2, 2)
    target = ab[:, :, ::4, ::4]
    z = quantize.soft_encode(target, k=ch.SOFT_K, sigma=ch.SOFT_SIGMA)
    manual = -(z * F.log_softmax(logits, 1)).sum(1)
    assert torch.allclose(ch.classification_loss(logits, ab, None), manual.mean())
    w = torch.rand(313) + 0.5
    weighted = manual * w[quantize.encode_nearest(target)]
    assert torch.allclose(ch.classification_loss(logits, ab, w), weighted.mean())


def test_l2_loss_value():
    ab = torch.zeros(1, 2, 8, 8)
    ab[:, 0] = 110.0  # a = 110 everywhere: normalised target (1, 0)
    pred = torch.zeros(1, 2, 2, 2)
    assert ch.l2_loss(pred, ab).item() == pytest.approx(0.5)


def test_profile_settings_scale_up():
    s = {p: ch.settings(p) for p in ("smoke", "fast", "full")}
    assert s["smoke"]["steps"] < s["fast"]["steps"] < s["full"]["steps"]
    assert s["full"]["width"] == 1.0
    for v in s.values():
        assert 0 < v["milestones"][0] < v["milestones"][1] < v["steps"]
        assert v["size"] % 8 == 0


def _metrics(full_rebal=70.0, class_rebal=65.0, l2_sat=5.0, n=8):
    """Metrics with per-image samples: every image has the same value, so each interval has zero width and the
    verdicts follow the numbers exactly."""
    same = lambda v: [float(v)] * n  # noqa: E731
    images = {}
    rows = {"full": (88, full_rebal, 30, 40, 80), "class": (91, class_rebal, 20, 30, 78), "l2": (90, 60, l2_sat, 20, 70),
            "gray": (85, 50, 0, 0, 60)}
    for r, (auc, rebal, sat, col, top1) in rows.items():
        for name, v in (("auc", auc), ("auc_rebal", rebal)):
            images[f"{r}.{name}.num"], images[f"{r}.{name}.den"] = same(v * 100), same(100)
        images.update({f"{r}.saturation": same(sat), f"{r}.colorfulness": same(col), f"{r}.top1": same(top1)})
    for mode, (col, rough) in {"mode": (45, 9), "annealed": (40, 5), "mean": (30, 3)}.items():
        images.update({f"annealing.{mode}.colorfulness": same(col), f"annealing.{mode}.roughness": same(rough)})
    # one two-mode class: the full model gives each mode 0.8 of its true mass; 9 of 10 L2 pixels lie nearer the mean
    images.update({"modes.c.pixels": same(10), "modes.c.full_mass.0": same(0.8 * 0.6 * 10),
                   "modes.c.full_mass.1": same(0.8 * 0.4 * 10), "modes.c.l2_nearer_mean": same(9)})
    return {"modes": {"c": {"true": [0.6, 0.4]}}, "samples": {"images": images}}


def test_claims_follow_the_measurements():
    from reprolib.claims import evaluate_claims

    good = {c["id"]: c["verdict"] for c in evaluate_claims(ch.claims(), _metrics())}
    assert good["rebalancing_raises_balanced_auc"] == "reproduced"
    assert good["l2_most_desaturated"] == "reproduced"
    assert good["amt_fooling_rate"] == "not_testable"
    assert set(good.values()) == {"reproduced", "not_testable"}
    bad = {c["id"]: c["verdict"] for c in evaluate_claims(ch.claims(), _metrics(full_rebal=65.2, l2_sat=25.0))}
    assert bad["rebalancing_raises_balanced_auc"] == "not_reproduced"  # 0.2 points: below the 0.5-point margin
    assert bad["l2_most_desaturated"] == "not_reproduced"
    edge = {c["id"]: c["verdict"] for c in evaluate_claims(ch.claims(), _metrics(full_rebal=65.5))}
    assert edge["rebalancing_raises_balanced_auc"] == "inconclusive"  # the interval [0.5, 0.5] touches the margin


def test_tiny_run_writes_a_complete_results_file(tmp_path, monkeypatch):
    monkeypatch.setenv("REPROLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setitem(ch.SETTINGS, "smoke", dict(ch.SETTINGS["smoke"], steps=4, cls_steps=4, n_test=32, prior_images=32))
    run = ch.run_experiment("smoke", seed=1, device="cpu")
    path = tmp_path / "results" / "smoke" / "automatic.json"
    if not path.exists():  # results_dir may place the profile folder itself
        path = next((tmp_path / "results").rglob("automatic.json"))
    data = json.loads(path.read_text())
    assert data["chapter"] == "automatic" and data["profile"] == "smoke"
    for key in ("git_commit", "reprolib_version", "torch_version", "device", "seed", "started", "wall_seconds", "data"):
        assert key in data["provenance"], key
    assert {c["verdict"] for c in data["claims"]} <= {"reproduced", "not_reproduced", "inconclusive", "not_testable"}
    assert all({"id", "statement", "verdict", "evidence"} <= set(c) for c in data["claims"])
    assert all(f["ok"] for f in data["facts"]), data["facts"]
    assert set(data["metrics"]["table"]) == set(ch.ROWS)
    # one value per test image for every compared quantity; the table's pooled AuC is the ratio of their sums
    images, table = data["metrics"]["samples"]["images"], data["metrics"]["table"]
    assert {len(v) for v in images.values()} == {32}
    for row in ("full", "l2"):
        pooled = sum(images[f"{row}.auc.num"]) / sum(images[f"{row}.auc.den"])
        assert pooled == pytest.approx(table[row]["auc"], abs=1e-3)  # both rounded to 6 digits when written
        assert sum(images[f"{row}.top1"]) / 32 == pytest.approx(table[row]["top1"], abs=1e-3)
    gt = data["metrics"]["table"]["ground_truth"]
    assert gt["auc"] == pytest.approx(100.0) and gt["auc_rebal"] == pytest.approx(100.0)
    # A second run loads every model from the cache instead of training again.
    again = ch.run_experiment("smoke", seed=1, device="cpu", write=False)
    assert all(h.get("cached") for h in again.histories.values())
    for v in ch.VARIANTS:
        for a, b in zip(run.models[v].state_dict().values(), again.models[v].state_dict().values()):
            assert torch.equal(a, b)
