"""The split-brain experiment end to end in the smoke profile: every probe's outcomes, the references, the facts
and every claim judged from them."""

import pytest
import torch

from reprolib.chapters.split_brain import experiment as ex
from reprolib.chapters.split_brain import verdicts
from reprolib.models.splitbrain import LAYERS, VARIANTS


@pytest.fixture(scope="module")
def smoke(module_cache):
    return ex.run_experiment("smoke", device="cpu", write=False)


def test_every_model_is_probed_at_every_layer_on_the_same_scenes(smoke):
    m, s = smoke.metrics, smoke.settings
    obj, col = m["samples"]["object"], m["samples"]["colour"]
    assert set(obj) == {f"{v}.{layer}" for v in VARIANTS for layer in LAYERS}
    assert all(len(v) == s["probe_test"] for v in obj.values())
    assert len({len(v) for v in col.values()}) == 1 and len(col["bayes"]) == m["n_colour"] > 0
    assert all(set(v) <= {0.0, 1.0} for k, v in obj.items())
    # the Bayes list is the rate the shared bayes_rate gives for these scenes
    assert sum(col["bayes"]) / len(col["bayes"]) == pytest.approx(m["bayes_colour"])
    assert 0.5 < m["bayes_colour"] < 0.75 and m["chance_object"] == 1 / 8
    acc = m["accuracy"]
    assert acc["object"]["split_brain_cl"]["conv3"] == pytest.approx(sum(obj["split_brain_cl.conv3"]) / s["probe_test"])


def test_claims_are_judged_and_facts_hold(smoke):
    res = smoke.results
    assert all(f["ok"] for f in res["facts"])
    by_id = {c["id"]: c for c in res["claims"]}
    assert set(by_id) == {c.id for c in verdicts.claims()}
    judged = [c for c in res["claims"] if c["verdict"] != "not_testable"]
    assert len(judged) >= 6 and all(c["evidence"]["tests"] for c in judged)


def test_the_untrained_network_is_not_trained_and_the_others_are(smoke):
    assert "gaussian" not in smoke.histories and "imagenet" not in smoke.histories
    assert set(smoke.histories) == {n for n, v in VARIANTS.items() if v.trained}


def test_the_pretraining_batches_are_made_once_and_are_the_same_for_every_network(smoke):
    s = smoke.settings
    assert sorted(smoke.batches) == list(range(s["steps"]))
    fresh = ex.lab_batch(smoke.train_set, range(3 * s["batch"], 4 * s["batch"]))
    kept = smoke.train_batch(3)
    assert kept is smoke.batches[3] and all(torch.equal(fresh[k], kept[k]) for k in fresh)


def test_a_run_too_large_for_the_batch_cache_renders_every_time(monkeypatch):
    monkeypatch.setattr(ex, "BATCH_CACHE_BYTES", 0)
    run = ex.prepare("smoke", device="cpu")
    first, again = run.train_batch(0), run.train_batch(0)
    assert not run.batches and first is not again and torch.equal(first["lab"], again["lab"])


def test_the_demo_reuses_the_experiments_object_probes(smoke, monkeypatch):
    from reprolib.chapters.split_brain import demo

    view = demo.LayerView(smoke)
    monkeypatch.setattr(demo.LinearProbe, "fit", lambda *a, **k: pytest.fail("the demo refitted a probe"))
    v = view.view("split_brain_cl", "conv2")
    assert v["accuracy"] == pytest.approx(smoke.metrics["accuracy"]["object"]["split_brain_cl"]["conv2"])


def test_probe_folder_reads_classes_from_folder_names(tmp_path):
    """The online section's loader on a tiny folder tree in Imagenette's layout (root/<class>/<image>)."""
    import numpy as np
    import torch
    from PIL import Image

    from reprolib.models.splitbrain import build

    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for name, colour in (("n01_red", (200, 30, 30)), ("n02_blue", (30, 30, 200))):
            folder = tmp_path / split / name
            folder.mkdir(parents=True)
            for i in range(4):
                pixels = np.clip(np.array(colour) + rng.integers(-20, 20, (40, 40, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.png")
    torch.manual_seed(0)
    acc = ex.probe_folder(build("gaussian", 0.0625), tmp_path / "train", tmp_path / "val", size=32, budget=64,
                          device="cpu")
    assert set(acc) == set(LAYERS) and acc["conv1"] == 1.0  # red and blue photos: any colour-seeing layer
    (tmp_path / "val" / "n03_green").mkdir()
    Image.fromarray(np.full((40, 40, 3), (30, 200, 30), np.uint8)).save(tmp_path / "val" / "n03_green" / "0.png")
    with pytest.raises(ValueError, match="different classes"):
        ex.probe_folder(build("gaussian", 0.0625), tmp_path / "train", tmp_path / "val", size=32, budget=64,
                        device="cpu")
