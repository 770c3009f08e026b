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


def _metrics(full_rebal=70.0, class_rebal=65.0, l2_sat=5.0):
    row = lambda auc, rebal, sat, col, top1: {"auc": auc, "auc_rebal": rebal, "saturation": sat,
                                             "colorfulness": col, "top1": top1, "psnr": 20.0}
    return {
        "table": {"full": row(88, full_rebal, 30, 40, 80), "class": row(91, class_rebal, 20, 30, 78),
                  "l2": row(90, 60, l2_sat, 20, 70), "gray": row(85, 50, 0, 0, 60)},
        "annealing": {"mode": {"colorfulness": 45, "roughness": 9}, "annealed": {"colorfulness": 40, "roughness": 5},
                      "mean": {"colorfulness": 30, "roughness": 3}},
        "modes_summary": {"full_min_mode_ratio": 0.8, "l2_nearer_mean_classes": 2, "multimodal_classes": 2},
    }


def test_claims_follow_the_measurements():
    from reprolib.claims import evaluate_claims

    good = {c["id"]: c["verdict"] for c in evaluate_claims(ch.claims(), _metrics())}
    assert good["rebalancing_raises_balanced_auc"] == "reproduced"
    assert good["l2_most_desaturated"] == "reproduced"
    assert good["amt_fooling_rate"] == "not_testable"
    assert set(good.values()) <= {"reproduced", "not_testable"}
    bad = {c["id"]: c["verdict"] for c in evaluate_claims(ch.claims(), _metrics(full_rebal=65.2, l2_sat=25.0))}
    assert bad["rebalancing_raises_balanced_auc"] == "not_reproduced"  # within the 0.5-point margin
    assert bad["l2_most_desaturated"] == "not_reproduced"


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
    assert {c["verdict"] for c in data["claims"]} <= {"reproduced", "not_reproduced", "not_testable"}
    assert all({"id", "statement", "verdict", "evidence"} <= set(c) for c in data["claims"])
    assert all(f["ok"] for f in data["facts"]), data["facts"]
    assert set(data["metrics"]["table"]) == set(ch.ROWS)
    gt = data["metrics"]["table"]["ground_truth"]
    assert gt["auc"] == pytest.approx(100.0) and gt["auc_rebal"] == pytest.approx(100.0)
    # A second run loads every model from the cache instead of training again.
    again = ch.run_experiment("smoke", seed=1, device="cpu", write=False)
    assert all(h.get("cached") for h in again.histories.values())
    for v in ch.VARIANTS:
        for a, b in zip(run.models[v].state_dict().values(), again.models[v].state_dict().values()):
            assert torch.equal(a, b)
