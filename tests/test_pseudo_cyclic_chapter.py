"""An end-to-end run of Chapter 8's experiment at a toy size (reprolib.chapters.pseudo_cyclic.experiment)."""

from __future__ import annotations

import pytest
import torch

from reprolib.chapters.pseudo_cyclic import experiment as ex
from reprolib.chapters.pseudo_cyclic import measure, verdicts
from reprolib.claims import evaluate_claims
from reprolib.color import handcrafted_grey


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("REPROLIB_CACHE", str(tmp_path_factory.mktemp("cache")))
    mp.setitem(ex.SETTINGS, "smoke", dict(size=32, width=1 / 32, steps=4, batch=2, lr=2e-4, n_test=8, n_eval=4,
                                          checkpoints=2, demo=2))
    r = ex.prepare("smoke", seed=0)
    ex.train_all(r)
    yield r
    mp.undo()


def test_the_domains_are_unpaired_and_the_grey_is_h_t_of_the_colour(run):
    b = ex.batch_for(run, 0)
    assert b["I"].shape == (2, 1, 32, 32) and b["J"].shape == (2, 3, 32, 32)
    assert not torch.allclose(handcrafted_grey(b["J"]), b["I"])  # other scenes
    torch.testing.assert_close(handcrafted_grey(b["C"]), b["I"])  # the paired reference's colours are I's own


def test_every_model_records_its_curve_and_the_claims_are_judged(run):
    assert set(run.nets) == set(ex.MODELS)
    for net in run.nets.values():
        assert net.steps.tolist() == ex.checkpoint_steps(run.settings) == [2, 4]
        assert bool(torch.isfinite(net.curve).all()) and net.frames.shape == (2, 2, 3, 3, 32, 32)
    metrics = measure.evaluate(run)
    scenes = metrics["samples"]["scenes"]
    assert all(len(v) == 8 for v in scenes.values())
    run.metrics = metrics
    run.metrics["model"] = ex.model_facts(run)
    judged = {c["id"]: c["verdict"] for c in evaluate_claims(verdicts.claims(), run.metrics)}
    assert set(judged) == {c.id for c in verdicts.claims()}
    assert all(f["ok"] for f in verdicts.facts(run.metrics["model"]))


def test_measures():
    x = torch.rand(3, 3, 16, 16)
    mse, ssim = measure.mse_ssim(x, x)
    assert torch.allclose(mse, torch.zeros(3, dtype=torch.float64))
    assert torch.allclose(ssim, torch.ones(3, dtype=torch.float64))
    mse, _ = measure.mse_ssim(torch.zeros(1, 3, 8, 8), torch.full((1, 3, 8, 8), 0.1))
    assert abs(float(mse) - 25.5 ** 2) < 1e-6  # 8-bit scale
    flat, board = torch.full((1, 3, 16, 16), 0.5), torch.zeros(1, 3, 16, 16)
    board[..., ::2, ::2] = board[..., 1::2, 1::2] = 1.0
    assert float(measure.checkerboard_energy(flat)) < 1e-12 < float(measure.checkerboard_energy(board))
