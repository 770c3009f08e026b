"""The part of a chapter run that every chapter shares: its training summary and how results are recorded."""

import json
from datetime import datetime, timezone

import pytest
import torch

from reprolib.runs import ChapterRunBase
from reprolib.claims import Margin, greater
from reprolib.seeds import seed_study, write_seed_study
from reprolib.results import provenance


def _run():
    run = ChapterRunBase("smoke", 3, {"size": 32}, torch.device("cpu"))
    run.histories = {
        "net": {"cached": False, "history": {"wall_seconds": 2.5, "steps_per_second": 8.0, "loss": [3.0, 1.5]}},
        "old": {"cached": True, "history": {}},
    }
    run.metrics = {"a": 2.0, "b": 1.0, "samples": {"u": {"a": [2.0, 2.0], "b": [1.0, 1.0]}}}
    return run


def test_training_summary_per_model():
    s = _run().training_summary()
    assert s["net"] == {"cached": False, "train_seconds": 2.5, "steps_per_second": 8.0, "final_loss": 1.5}
    assert s["old"] == {"cached": True, "train_seconds": None, "steps_per_second": None, "final_loss": None}


HALF = Margin(0.5, "test margin")


def test_conclude_checks_claims_and_writes_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    claims = [greater("a_beats_b", "a is larger than b", "u:a", "u:b", margin=HALF),
              greater("b_beats_a", "b is larger than a", "u:b", "u:a", margin=HALF)]
    prov = provenance(seed=3, profile="smoke", device="cpu", started=datetime.now(timezone.utc), wall_seconds=1.0, data={})
    run = _run()
    assert run.conclude("demo", claims, [], prov, write=False) is run
    assert [c["verdict"] for c in run.results["claims"]] == ["reproduced", "not_reproduced"]
    assert [c["seeds"] for c in run.results["claims"]] == [None, None]  # no seed study recorded
    assert not (tmp_path / "smoke" / "demo.json").exists()  # write=False writes nothing
    run.conclude("demo", claims, [], prov)
    saved = json.loads((tmp_path / "smoke" / "demo.json").read_text())
    assert saved["chapter"] == "demo" and saved["profile"] == "smoke"
    assert {k: saved["metrics"][k] for k in ("a", "b")} == {"a": 2.0, "b": 1.0}
    assert [c["verdict"] for c in saved["claims"]] == ["reproduced", "not_reproduced"]


def test_conclude_combines_the_single_run_with_the_recorded_seed_study(tmp_path, monkeypatch):
    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    claims = [greater("a_beats_b", "a is larger than b", "u:a", "u:b", margin=HALF)]
    prov = provenance(seed=0, profile="smoke", device="cpu", started=datetime.now(timezone.utc), wall_seconds=1.0, data={})
    seeds = {}
    for seed, a in enumerate((2.0, 1.2, 1.0)):  # a - b: 1.0, 0.2, 0.0 against the margin 0.5
        run = _run()
        run.metrics["samples"]["u"]["a"] = [a, a]
        seeds[seed] = run.conclude("demo", claims, [], {**prov, "seed": seed}, write=False).results
    study = seed_study(seeds)
    assert study["claims"][0]["verdicts"] == ["reproduced", "not_reproduced", "not_reproduced"]
    write_seed_study(study)
    run = _run().conclude("demo", claims, [], prov, write=False)  # reads the recorded study
    c = run.results["claims"][0]
    assert (c["single_run"], c["verdict"], c["seeds"]["seeds"]) == ("reproduced", "inconclusive", [0, 1, 2])
    alone = _run().conclude("demo", claims, [], prov, write=False, seed_study=None)
    assert alone.results["claims"][0]["verdict"] == "reproduced"


def test_run_fields_after_the_first_four_are_keywords():
    with pytest.raises(TypeError):
        ChapterRunBase("smoke", 0, {}, torch.device("cpu"), {})  # histories must be named


def test_run_provenance_times_the_run_from_when_it_was_made():
    import time

    run = _run()
    assert run.started.tzinfo is not None and run.t0 <= time.perf_counter()
    run.t0 -= 10.0  # as if the run had been made ten seconds ago
    prov = run.provenance(data={"images": 4})
    assert prov["seed"] == 3 and prov["profile"] == "smoke" and prov["data"] == {"images": 4}
    assert 10.0 <= prov["wall_seconds"] < 60.0
    assert prov["started"] == run.started.isoformat(timespec="seconds")
    # an explicit start (a notebook that timed a longer span) wins over the run's own
    earlier = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    prov = run.provenance(data={}, started=earlier, t0=time.perf_counter() - 100.0)
    assert prov["started"] == "2026-01-02T03:04:05+00:00" and prov["wall_seconds"] >= 100.0
