"""An end-to-end run of Chapter 7's experiment at a toy size (reprolib.chapters.exemplar.experiment)."""

from __future__ import annotations

import pytest
import torch

from reprolib.chapters.exemplar import experiment as ex
from reprolib.chapters.exemplar import verdicts
from reprolib.claims import evaluate_claims


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("REPROLIB_CACHE", str(tmp_path_factory.mktemp("cache")))
    mp.setitem(ex.SETTINGS, "smoke", dict(size=32, width=1 / 16, n_pool=48, n_pairs=32, top_n=5, steps=3, batch=2,
                                          lr=1e-3, n_test=10, n_refs=40))
    # Chapters 1 and 2's models (the baselines) at a toy size too
    from reprolib.chapters.automatic import experiment as automatic
    from reprolib.chapters.user_guided import experiment as user_guided

    mp.setitem(automatic.SETTINGS, "smoke", {**automatic.SETTINGS["smoke"], "steps": 3, "prior_images": 16,
                                             "cls_steps": 3, "n_test": 8})
    mp.setitem(user_guided.SETTINGS, "smoke", {**user_guided.SETTINGS["smoke"], "steps": 3, "global_steps": 3})
    r = ex.prepare("smoke", seed=0)
    ex.train_all(r)
    yield r
    mp.undo()


def test_pairs_and_alignment(run):
    assert len(run.aligned) == 32 and run.targets.shape == run.references.shape == (32,)
    assert bool((run.targets != run.references).all())


def test_batches_per_branch(run):
    b = ex.batch_for(run, "two", 0)
    assert b["x"].shape == (4, 13, 32, 32) and b["n_chrom"] == 2
    assert ex.batch_for(run, "perc", 0)["n_chrom"] == 0 and ex.batch_for(run, "chrom", 0)["x"].shape[0] == 2
    blank = ex.batch_for(run, "auto", 0)["x"]
    assert bool((blank[:, 1:3] == 0).all()) and bool((blank[:, 3:] == -1).all())  # no reference, 2 * 0 - 1
    # the chrominance half's reference is the target's own colours through the round trip (Eq. 3)
    rows = ex._rows(0, 4, len(run.aligned), run.seed + 702)
    t = run.targets[rows[:2]]
    cyc = run.aligned.inputs(rows[:2], run.pool.L[t], run.pool.ab[t], cycle=True)
    torch.testing.assert_close(b["x"][:2], cyc)


def test_every_model_trained_and_the_claims_are_judged(run):
    assert set(run.nets) == set(ex.MODELS)
    metrics = ex.measure.evaluate(run, baselines=run.baselines)
    scenes = metrics["samples"]["scenes"]
    assert all(len(v) == 10 for v in scenes.values())
    assert {"two.related.adherent", "auto.adherent", "perc.mode_change", "related.auc", "welsh.related.on_mode",
            "seq_threshold.related.adherent", "seq_crosscheck.unrelated.on_mode", "ch1.adherent",
            "two.recommended.recognised", "grey.recognised", "truth.recognised",
            "related_colour.correct"} <= set(scenes)
    # Table 2's measure is a per-scene hit (1) or miss (0) of Chapter 1's classifier
    assert all(v in (0.0, 1.0) for k, vals in scenes.items() if k.endswith("recognised") for v in vals)
    run.metrics = metrics
    run.metrics["model"] = ex.model_facts(run)
    assert run.metrics["model"]["self_match_identity"] == 1.0
    judged = {c["id"]: c["verdict"] for c in evaluate_claims(ex.claims(), run.metrics)}
    assert set(judged) == {c.id for c in verdicts.claims()}
    assert judged["amt_fooling_rate"] == "not_testable"
    facts = verdicts.facts(run.metrics["model"])
    assert all(f["ok"] for f in facts), facts


def test_reference_rows_show_every_mode_and_an_unrelated_reference(run):
    from reprolib.chapters.exemplar import demo
    from reprolib.data import ColorWorld

    s = run.settings
    tw, rw = ColorWorld(n=s["n_test"], size=s["size"], seed=10_700), ColorWorld(n=s["n_refs"], size=s["size"], seed=10_701)
    T, R = tw.batch(range(s["n_test"])), rw.batch(range(s["n_refs"]))
    picks = ex.measure.test_references(T, R, rw, 10_702)
    i = demo.multimodal_targets(tw, T, 1)[0]
    rows = demo.reference_rows(run, tw, T, rw, R, picks, i)
    n_modes = tw.classes[int(T["classes"][i, 0])].num_modes
    assert len(rows) == n_modes + 1 and all(len(r) == len(demo.COLUMNS) + 4 for r in rows)
    assert all(img.shape == (3, 32, 32) and float(img.min()) >= 0 and float(img.max()) <= 1 for r in rows for img in r)
    # the related references differ only in their primary's colour: the same grey reference in every row
    grey = [rgb_to_l(r[1]) for r in rows[:n_modes]]
    assert all(torch.allclose(g, grey[0], atol=0.6) for g in grey)


def rgb_to_l(rgb):
    from reprolib.color import rgb_to_l_ab

    return rgb_to_l_ab(rgb[None])[0]


def test_the_pipeline_figure_and_the_demo_run_on_the_trained_networks(run):
    import matplotlib

    matplotlib.use("Agg")
    from reprolib.chapters.exemplar import demo

    view = demo.ReferenceDemo(run, 2)
    assert view.targets and all(run.settings["n_test"] > i for i in view.targets)
    i = view.targets[0]
    maps = demo.pipeline_maps(run, view.T["rgb"][i], view.reference(i, "mode1")["rgb"][0])
    assert maps["sim_tr"].shape == (5, 32, 32) and maps["warped"].shape == (3, 32, 32)
    assert set(demo.BRANCH_MODELS) <= set(maps) and 0 < int(maps["threshold"].sum()) < 32 * 32
    demo.pipeline_figure(maps, "x")
    for _, choice in demo.REFERENCE_CHOICES:
        panels, text = view.frame(i, choice)
        assert len(panels) == len(demo.DEMO_PANELS) and all(p.shape == (3, demo.PANEL, demo.PANEL) for p in panels)
        assert "two:" in text and "perc:" in text
    # the related references differ only in the primary's colour mode: the reference panel changes, the grey not
    a, b = view.frame(i, "mode0")[0], view.frame(i, "mode1")[0]
    assert torch.equal(a[0], b[0]) and not torch.equal(a[1], b[1])
