"""The diverse-colorization experiment end to end in the smoke profile: every method's five outputs per test
scene, the measures built from them, the facts and every claim; the oracle, the per-pixel sampler, the MDN
mass and the photo pipeline of the online section on their own."""

import math

import numpy as np
import pytest
import torch

from reprolib.chapters.diverse import demo, measure, verdicts
from reprolib.chapters.diverse import experiment as ex
from reprolib.color import rgb_to_l_ab
from reprolib.data import ColorWorld


@pytest.fixture(scope="module")
def smoke(module_cache):
    return ex.run_experiment("smoke", device="cpu", write=False)


def test_every_method_is_measured_on_every_test_scene(smoke):
    m, n = smoke.metrics, smoke.settings["n_test"]
    scenes = m["samples"]["scenes"]
    assert all(len(v) == n for v in scenes.values())
    for method in measure.METHODS:
        for key in ("eob", "var", "covered", "purity", "roughness"):
            assert f"{method}.{key}" in scenes
        assert m["methods"][method]["eob"] == pytest.approx(np.mean(scenes[f"{method}.eob"]), rel=1e-5)
    # coverage is a count of modes of p >= 0.1, never more than a scene's object has
    wanted = np.array(scenes["wanted"])
    for method in measure.METHODS:
        assert (np.array(scenes[f"{method}.covered"]) <= wanted).all()
    # the oracle paints the modes themselves: it covers every mode its five pairs hold, all its pixels on a mode
    assert m["methods"]["oracle"]["purity"] == pytest.approx(1.0)
    assert set(m["recon"]) == set(ex.VAES) and set(m["pi"]) == set(measure.MDN_METHODS)


def test_claims_are_judged_and_facts_hold(smoke):
    res = smoke.results
    assert all(f["ok"] for f in res["facts"]), [f for f in res["facts"] if not f["ok"]]
    by_id = {c["id"]: c for c in res["claims"]}
    assert set(by_id) == {c.id for c in verdicts.claims()}
    judged = [c for c in res["claims"] if c["verdict"] != "not_testable"]
    assert len(judged) >= 6 and all(c["evidence"]["tests"] for c in judged)
    assert by_id["more_diverse_than_cgan"]["verdict"] == "not_testable"  # the cGAN is trained in full only


def test_models_are_trained_once_and_the_mdns_know_their_vaes(smoke):
    assert set(smoke.vaes) == set(ex.VAES) and set(smoke.mdns) == set(ex.MDNS)
    cfg = ex.mdn_config("mdn_skip", smoke)
    assert cfg["vae"] == smoke.keys["ours_skip"] and cfg["features"] == smoke.features_key
    assert ex.mdn_config("mdn_ours", smoke)["vae"] != cfg["vae"]
    again = ex.prepare("smoke", device="cpu")
    ex.train_all(again)
    assert all(again.histories[name]["cached"] for name in (*ex.VAES, *ex.MDNS))


def test_the_batches_are_the_same_when_a_run_resumes():
    a, b = ex._indices(7, 16, 256, 0), ex._indices(7, 16, 256, 0)
    assert torch.equal(a, b) and not torch.equal(a, ex._indices(8, 16, 256, 0))


def test_the_oracle_paints_the_likeliest_pairs_at_their_centres():
    world = ColorWorld(n=8, size=32, seed=3, max_objects=1)
    out = measure.oracle_outputs(world, range(8), 5, seed=0)
    assert out.shape == (8, 5, 2, 32, 32)
    rendered = world.batch(range(8))
    obj, ground = measure.region_mode_table(world, rendered, out)
    for i in range(8):
        pairs = measure.joint_modes(world, int(rendered["classes"][i, 0]), 5)
        for r, (j, g, _) in enumerate(pairs):
            if obj[i, r] >= 0:
                assert int(obj[i, r]) == j
            if ground[i, r] >= 0:
                assert int(ground[i, r]) == g
    probs = [p for _, _, p in measure.joint_modes(world, "apple", 5)]
    assert probs == sorted(probs, reverse=True) and probs[0] == pytest.approx(0.5 * 0.6)


def test_per_pixel_samples_follow_the_predicted_distribution():
    probs = torch.zeros(1, 313, 2, 2)
    probs[:, 10] = 0.5
    probs[:, 200] = 0.5
    out = measure.perpixel_samples(probs, 2, 400, seed=0)  # no upsampling at the same size
    from reprolib.quantize import ab_bins

    bins = ab_bins()
    first = (out[0, :, :, 0, 0] - bins[10]).abs().sum(1) < 1e-4
    second = (out[0, :, :, 0, 0] - bins[200]).abs().sum(1) < 1e-4
    assert bool((first | second).all()) and 0.4 < float(first.double().mean()) < 0.6


def test_pi_mass_adds_the_weights_of_the_components_on_each_mode():
    mass = measure.pi_mass(torch.tensor([0, 2, -1, 0]), torch.tensor([0.4, 0.3, 0.2, 0.1]), 3)
    assert torch.allclose(mass, torch.tensor([0.5, 0.0, 0.3, 0.2], dtype=torch.float64))


def test_purity_counts_pixels_on_the_majority_mode():
    modes = torch.tensor([[0.0, 0.0], [50.0, 0.0]])
    ab = torch.zeros(2, 4, 4)
    ab[0, 0, :] = 50.0  # one row on the second mode
    ab[0, 1, 0] = 25.0  # one pixel near no mode
    mask = torch.ones(4, 4, dtype=torch.bool)
    assert measure.purity(ab, mask, modes) == pytest.approx(11 / 16)


def test_the_underflow_threshold_formula_matches_float32():
    for d in (2, 16, 64):
        assert measure.measured_underflow_threshold(d) == pytest.approx(measure.underflow_threshold(d), abs=1e-3)
    # just inside, the density is tiny but finite; just outside it is 0 and the naive loss infinite
    assert math.isfinite(float(measure.mdn_nll_naive(torch.zeros(1, 1), torch.zeros(1, 1, 64), torch.zeros(1, 64))))


def test_grid_mask_is_8_by_8_in_the_centre():
    for size in (32, 64):
        g = measure.grid_mask(size)
        rows, cols = g.nonzero(as_tuple=True)
        assert int(g.sum()) == 64 and rows.min() >= size // 4 - 1 and rows.max() <= 3 * size // 4
        assert torch.equal(g, g.T)


def test_the_demo_shows_eight_futures_with_their_weights(smoke):
    view = demo.Futures(smoke, demo.multimodal_scenes(smoke.test_set, 1)[0])
    panels, text = view.frame("ours_skip", 0)
    assert len(panels) == 4 and panels[3].shape[-2:] == (2 * demo.TILE, 4 * demo.TILE)
    assert "future 1 of 8, weight pi = " in text
    weights = view.method("ours_skip")[1]
    assert weights == sorted(weights, reverse=True) and sum(weights) == pytest.approx(1.0, abs=1e-5)
    html = demo.static_demo(smoke, scenes=1)._repr_html_()
    assert html.count("<option") == 1 + len(demo.METHODS)


def test_the_photo_pipeline_trains_on_images_and_measures_table3(smoke):
    world = ColorWorld(n=64, size=smoke.settings["size"], seed=99, max_objects=1)
    photos = ex.photo_run(smoke, world.batch(range(48))["rgb"], name="test_photos")
    assert photos.settings["data"] == "test_photos" and ex.vae_config("ours_skip", photos.settings, 0)["data"] == "test_photos"
    eob, var = ex.photo_table3(photos, world.batch(range(48, 64))["rgb"])
    assert 0 < eob < 1 and var >= 0
    with pytest.raises(ValueError, match="must be"):
        ex.photo_run(smoke, torch.zeros(4, 3, 16, 16))


def test_prepare_keeps_one_object_per_scene_and_a_valid_prior(smoke):
    assert smoke.train_set.max_objects == 1 and smoke.test_set.max_objects == 1
    assert smoke.prior.sum() == pytest.approx(1.0) and bool((smoke.weights > 0).all())
    L, ab = rgb_to_l_ab(smoke.train_set.batch([0])["rgb"])
    assert torch.allclose(smoke.field[0], ab[0] / 128, atol=1e-6)
    P, sigma = smoke.P, smoke.sigma
    assert torch.allclose(P.T @ P, torch.eye(P.shape[1], dtype=P.dtype), atol=1e-8)
    assert bool((sigma[:-1] >= sigma[1:]).all())


def test_the_cgan_baseline_trains_and_its_dropout_samples_are_clustered(smoke):
    import dataclasses

    run = dataclasses.replace(smoke, settings={**smoke.settings, "cgan": True, "vae_steps": 4})
    net = ex.train_cgan(run)
    assert run.cgan is net and net.variant.name == "pix2pix_noise" and net.nz == 0
    L, _ = rgb_to_l_ab(run.test_set.batch(range(2))["rgb"])
    out = measure.cgan_outputs(run, ex.grey_input(L), k=5, n_samples=8, seed=0)
    assert out.shape == (2, 5, 2, *L.shape[-2:]) and bool(out.abs().max() <= 110 + 1e-3)
    assert not any(m.training for m in net.modules())  # dropout is switched off again afterwards
