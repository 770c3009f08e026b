"""The LPIPS chapter's experiment pieces: Eq. 6.1 as a dot product, lin calibration, sets, claims."""

import pytest
import torch

from reprolib.chapters import lpips as chapter
from reprolib.chapters.lpips import demo, experiment, vectors
from reprolib.chapters.lpips import judgments as J
from reprolib.metrics.lpips import LPIPS
from reprolib.models import ECCV16


def _images(n, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, 64, 64, generator=g)


def test_vectors_reproduce_lpips_exactly():
    ref, p0, p1 = _images(3, 0), _images(3, 1), _images(3, 2)
    m = LPIPS("alex")
    v0, v1 = vectors.triplet_vectors(vectors.lpips_trunk(m), ref, p0, p1, batch=2)
    assert v0.shape == (3, 1152)
    w = vectors.lin_vector(m)
    with torch.no_grad():
        assert torch.allclose(v0 @ w, m(ref * 2 - 1, p0 * 2 - 1).flatten().double(), atol=1e-6)
        assert torch.allclose(v1 @ w, m(ref * 2 - 1, p1 * 2 - 1).flatten().double(), atol=1e-6)
        base = LPIPS("alex", lpips=False)  # w = 1: the cosine baseline
        assert torch.allclose(v0.sum(1), base(ref * 2 - 1, p0 * 2 - 1).flatten().double(), atol=1e-5)
    # one pass over 6 images against passes of 6 and 3 (batch=2 triplets): the convolutions may split and
    # order their sums differently (thread count, kernel). float32 sums of up to 3456 terms per layer, five
    # layers: ~1e-5 relative at worst, v <= 0.07, so rtol 1e-5 with atol 1e-6 (as for v0 @ w above).
    torch.testing.assert_close(vectors.pair_vectors(vectors.lpips_trunk(m), ref, p0), v0, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        vectors.pair_vectors(vectors.lpips_trunk(m), ref * 2 - 1, p0)


def test_fit_lin_on_vectors_learns_the_informative_channel():
    # Only channel 2 decides. With the released recipe's random initialisation projected onto w >= 0, an
    # unlucky draw can zero the informative weight at the start and leave it stuck there (measured: 1 seed
    # in 12), so the property is checked over several seeds: most runs find channel 2.
    n, c = 400, 6
    found = 0
    for seed in range(8):
        g = torch.Generator().manual_seed(seed)
        v0, v1 = torch.rand(n, c, generator=g), torch.rand(n, c, generator=g)
        judge = (v1[:, 2] < v0[:, 2]).double()  # judge = 1 when p1 is closer
        model = vectors.Calibration([2, 4])
        hist = vectors.fit_lin_on_vectors(model, v0, v1, judge, epochs=20, decay_epochs=5, lr=1e-2, seed=seed,
                                          dropout=0.0)
        w = model.weights()
        assert (w >= 0).all()  # the projection after every step
        assert len(hist["loss"]) == 25
        found += int(w.argmax()) == 2 and hist["agreement"][-1] > 0.9
    assert found >= 6, f"only {found} of 8 seeds learned the informative channel"
    v0, v1 = torch.rand(n, c), torch.rand(n, c)
    judge = (v1[:, 2] < v0[:, 2]).double()
    with pytest.raises(ValueError, match="weights"):
        vectors.fit_lin_on_vectors(vectors.Calibration([3]), v0, v1, judge)
    with pytest.raises(ValueError, match="judge"):
        vectors.fit_lin_on_vectors(model, v0, v1, judge[:-1])


def test_colorization_trunk_taps():
    trunk = vectors.ColorizationTrunk(ECCV16(width=1 / 16))
    feats = trunk(_images(2, 3) * 2 - 1)
    assert len(feats) == vectors.COLOR_BLOCKS
    assert tuple(f.shape[1] for f in feats) == trunk.channels
    # it sees lightness only: two images with the same L give the same features
    x = _images(1, 4)
    assert torch.allclose(trunk(x * 2 - 1)[0], trunk(x * 2 - 1)[0])
    with pytest.raises(TypeError, match="model1"):
        vectors.ColorizationTrunk(torch.nn.Conv2d(1, 1, 1))


class _FakeDistorter:
    family = "fake"

    def __call__(self, x, rng=None):
        return (x + 0.3).clamp(0, 1)


def test_cnn_sentinel_answers_are_known():
    refs = _images(10, 5) * 0.5
    s = chapter.cnn_sentinel(refs, [_FakeDistorter()], torch.Generator().manual_seed(0))
    weak_mse = torch.where(s.judge.bool(), s.mse1, s.mse0)
    strong_mse = torch.where(s.judge.bool(), s.mse0, s.mse1)
    assert (weak_mse <= chapter.CNN_MAX_BLEND ** 2 * strong_mse + 1e-12).all()
    assert 0 < s.judge.sum() < 10  # both sides get the weak version sometimes


def _metrics(n=20, **scores):
    """Scores and per-judgment credits; every judgment of a set gets the metric's score as its credit, so each
    interval has zero width and the verdicts follow the numbers exactly."""
    sets = ("sentinel", "sentinel_cnn", "equal_mse", "heldout")
    base = {m: {s: 100.0 for s in sets} for m in chapter.METRICS}
    for key, value in scores.items():
        m, s = key.split("__")
        base[m][s] = value
    samples = {s: {m: [base[m][s]] * n for m in chapter.METRICS} for s in sets}
    return {"scores": base, "samples": samples,
            "official": {"zero_fraction": {"alex": [55.0, 29.0, 10.0, 7.0, 2.0]},
                         "example": {"alex": [0.722, 0.138], "vgg": [0.569, 0.422]}}}


def test_claim_verdicts_follow_the_numbers():
    by_id = {c.id: c for c in chapter.claims()}
    ok = _metrics(psnr__equal_mse=50.0, alex_random__equal_mse=80.0, color__equal_mse=95.0)
    assert by_id["random_network_worse"].check(ok)[0] == "reproduced"
    assert by_id["deep_features_see_structure"].check(ok)[0] == "reproduced"
    assert by_id["self_supervised_features_work"].check(ok)[0] == "reproduced"
    assert by_id["official_lin_sparse_early"].check(ok)[0] == "reproduced"
    assert by_id["official_example_distances"].check(ok)[0] == "reproduced"
    bad = _metrics(psnr__equal_mse=50.0, alex_random__equal_mse=98.0, color__equal_mse=10.0, ssim__sentinel=80.0)
    assert by_id["random_network_worse"].check(bad)[0] == "not_reproduced"
    assert by_id["self_supervised_features_work"].check(bad)[0] == "not_reproduced"
    assert by_id["sentinels_pass"].check(bad)[0] == "not_reproduced"
    gain = _metrics(alex_random__heldout=80.0, alex_random_lin__heldout=90.0)
    assert by_id["calibration_helps_heldout"].check(gain)[0] == "reproduced"
    assert by_id["calibration_helps_heldout"].check(_metrics())[0] == "not_reproduced"  # no gain at the ceiling
    off = _metrics()
    off["official"]["example"]["alex"] = [0.7, 0.138]
    assert by_id["official_example_distances"].check(off)[0] == "not_reproduced"
    assert by_id["bapps_human_agreement"].check(ok)[0] == "not_testable"
    # exactly at a bar the interval touches it: the evidence cannot tell
    edge = _metrics(psnr__equal_mse=50.0, alex_random__equal_mse=95.0, color__equal_mse=95.0)
    assert by_id["random_network_worse"].check(edge)[0] == "inconclusive"
    evidence = by_id["random_network_worse"].check(ok)[1]["tests"][0]
    assert (evidence["estimate"], evidence["low"], evidence["high"], evidence["margin"]) == (20.0, 20.0, 20.0, 5.0)


def test_profiles_change_sizes_only_and_module_contract():
    keys = {p: set(s) for p, s in chapter.SETTINGS.items()}
    assert keys["smoke"] == keys["fast"] == keys["full"]
    assert chapter.TITLE.startswith("5.") and chapter.NOTEBOOK == "book/lpips.ipynb"
    assert chapter.NEEDS_GPU[0].islower()
    tables = chapter.paper_tables({"this run": None})
    assert len(tables) == 2 and "68.9" in tables[0].to_markdown()
    train, held = J.split_families(list(chapter.HELD_OUT))
    assert not set(train) & set(held)
    assert set(chapter.TRAIN_BENIGN + chapter.TRAIN_DAMAGING) <= set(train)


def test_explorer_render():
    patches = _images(2, 6)
    render = demo.explorer_render(patches)
    panels, text = render(0, "gaussian_blur", 0.0)
    assert len(panels) == 3 and "LPIPS-alex 0.000" in text
    panels1, text1 = render(0, "gaussian_blur", 1.0)
    assert not torch.equal(panels1[1], panels[1]) and "LPIPS-alex 0.000" not in text1
    with pytest.raises(ValueError, match="patch"):
        render(5, "jpeg", 0.5)


def test_colorization_network_is_chapter_1s_cached_model(monkeypatch):
    """The LPIPS chapter must ask the model cache for exactly the model Chapter 1 trains (same chapter,
    name, profile and config), so a machine that ran Chapter 1 reuses it instead of retraining."""
    from reprolib.chapters.automatic import experiment as automatic

    calls = []
    monkeypatch.setattr(automatic, "load_or_train",
                        lambda chapter, name, profile, config, **kw: calls.append((chapter, name, profile, config)) or ("m", {}))
    chapter.colorization_network("smoke")
    run = automatic.prepare("smoke")
    automatic.train_all(run)
    ch1 = {c[1]: c for c in calls[1:]}
    assert calls[0] == ch1["full"]
    assert set(automatic.VARIANTS) <= set(ch1)


def test_fixture_path_is_recorded_relative_to_the_checkout(tmp_path):
    from reprolib.config import repo_root

    root = repo_root()
    assert root is not None
    assert experiment._display_path(root / "tests" / "fixtures" / "lpips") == "tests/fixtures/lpips"
    assert experiment._display_path(root.parent / "shared" / "fixtures" / "lpips") == "shared/fixtures/lpips"
    assert experiment._display_path(None) is None
    if not str(tmp_path.resolve()).startswith(str(root.parent.resolve())):
        assert experiment._display_path(tmp_path) == str(tmp_path)  # elsewhere: kept absolute


def test_run_remembers_when_it_was_prepared():
    import time

    before = time.perf_counter()
    run = chapter.ChapterRun("smoke", 0, chapter.settings("smoke"), torch.device("cpu"))
    assert before <= run.t0 <= time.perf_counter() and run.started.tzinfo is not None
