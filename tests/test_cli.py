"""Tests of the command line (python -m reprolib) with fake chapters: no real training here."""

from __future__ import annotations

import subprocess
import sys
import types
from datetime import datetime, timezone

import pytest

import reprolib.chapters
from reprolib.__main__ import main
from reprolib.claims import Margin, evaluate_claims, greater, not_testable
from reprolib.results import load_results, provenance, write_results
from reprolib.seeds import load_seed_study


@pytest.fixture
def fake_chapters(tmp_path, monkeypatch):
    """Register two fake chapters, 'alpha' (writes results) and 'broken' (raises)."""
    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    calls = []
    module = types.ModuleType("fake_chapter_module")

    def run(profile, seed, force, device, write=True):
        calls.append(dict(profile=profile, seed=seed, force=force, device=device))
        a = 2.0 - 0.4 * (seed % 3)  # a - b exceeds the margin 0.5 for seeds 0 and 1, not for seed 2
        metrics = {"a": a, "b": 1.0, "samples": {"u": {"a": [a] * 4, "b": [1.0] * 4}}}
        claims = evaluate_claims([greater("a_beats_b", "a > b", "u:a", "u:b", Margin(0.5, "test margin")),
                                  not_testable("amt", "humans are fooled", "needs raters")], metrics)
        prov = provenance(seed, profile, {}, datetime.now(timezone.utc), 0.1, "cpu")
        if write:
            write_results("alpha", profile, metrics, claims, [], prov)
        return {"chapter": "alpha", "profile": profile, "metrics": metrics, "claims": claims, "facts": [],
                "provenance": prov}

    def broken(profile, seed, force, device):
        raise RuntimeError("chapter exploded")

    module.run, module.broken = run, broken
    monkeypatch.setitem(sys.modules, "fake_chapter_module", module)
    monkeypatch.setattr(reprolib.chapters, "CHAPTERS",
                        {"alpha": "fake_chapter_module:run", "broken": "fake_chapter_module:broken"})
    return calls, tmp_path


def test_list_prints_the_registry(fake_chapters, capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == ["alpha", "broken"]
    assert "fake_chapter_module:run" in out[0]


def test_reproduce_calls_run_and_prints_path_and_summary(fake_chapters, capsys):
    calls, root = fake_chapters
    assert main(["reproduce", "alpha", "--profile", "smoke", "--seed", "3", "--force", "--device", "cpu"]) == 0
    assert calls == [dict(profile="smoke", seed=3, force=True, device="cpu")]
    out = capsys.readouterr().out
    assert str(root / "smoke" / "alpha.json") in out
    assert "alpha (smoke): 1/2 claims reproduced (1 not testable)" in out
    assert (root / "smoke" / "alpha.json").exists()


def test_reproduce_all_continues_past_a_failure_and_exits_1(fake_chapters, capsys):
    calls, _ = fake_chapters
    assert main(["reproduce", "all", "--profile", "fast"]) == 1
    captured = capsys.readouterr()
    assert len(calls) == 1 and calls[0]["profile"] == "fast" and calls[0]["seed"] == 0
    assert "chapter exploded" in captured.err and "failed: broken" in captured.err


def test_unknown_chapter_or_profile_exit_2(fake_chapters, capsys):
    with pytest.raises(SystemExit) as e:
        main(["reproduce", "nonesuch", "--profile", "smoke"])
    assert e.value.code == 2
    assert "unknown chapter 'nonesuch'; choose one of: alpha, broken, all" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["reproduce", "alpha", "--profile", "huge"])
    assert e.value.code == 2 and "invalid choice: 'huge'" in capsys.readouterr().err
    assert fake_chapters[0] == []  # nothing ran


def test_summary_reads_the_results_files(fake_chapters, capsys):
    main(["reproduce", "alpha", "--profile", "smoke"])
    capsys.readouterr()
    assert main(["summary", "--profile", "smoke"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "alpha (smoke): 1/2 claims reproduced (1 not testable)"
    assert lines[1].startswith("broken (smoke): no results")
    assert main(["summary"]) == 0  # all profiles: only those with results are listed
    assert capsys.readouterr().out.splitlines() == ["alpha (smoke): 1/2 claims reproduced (1 not testable)"]


def test_seeds_runs_each_seed_and_writes_the_study_and_the_first_seeds_file(fake_chapters, capsys):
    calls, root = fake_chapters
    assert main(["reproduce", "alpha", "--profile", "smoke", "--seeds", "0,1,2"]) == 0
    assert [c["seed"] for c in calls] == [0, 1, 2]
    out = capsys.readouterr().out
    assert "alpha seed 2: single run 0/2 claims reproduced (1 not reproduced, 1 not testable)" in out
    study = load_seed_study("alpha", "smoke")
    assert (root / "smoke-seeds" / "alpha.json").exists() and study["seeds"] == [0, 1, 2]
    a = study["claims"][0]
    assert a["verdicts"] == ["reproduced", "reproduced", "not_reproduced"]
    assert a["tests"][0]["estimates"] == pytest.approx([1.0, 0.6, 0.2])
    single = load_results("alpha", "smoke")  # seed 0, with the study: 2 of 3 seeds agree with it
    c = single["claims"][0]
    assert (c["single_run"], c["verdict"], c["seeds"]["counts"]["reproduced"]) == ("reproduced", "reproduced", 2)
    assert single["provenance"]["seed"] == 0
    assert "alpha (smoke): 1/2 claims reproduced (1 not testable)" in out


def test_seeds_without_a_majority_make_the_verdict_inconclusive(fake_chapters, capsys):
    assert main(["reproduce", "alpha", "--profile", "smoke", "--seeds", "0,2"]) == 0
    c = load_results("alpha", "smoke")["claims"][0]
    assert (c["single_run"], c["verdict"]) == ("reproduced", "inconclusive")  # seed 2 disagrees: 1 of 2
    assert "alpha (smoke): 0/2 claims reproduced (1 inconclusive, 1 not testable)" in capsys.readouterr().out


@pytest.mark.parametrize("seeds, message", [("1", "at least two different seeds"), ("0,0", "at least two different"),
                                            ("0,-1", "seeds >= 0"), ("a,b", "comma-separated integers")])
def test_bad_seeds_exit_2_and_nothing_runs(fake_chapters, capsys, seeds, message):
    with pytest.raises(SystemExit) as e:
        main(["reproduce", "alpha", "--profile", "smoke", f"--seeds={seeds}"])
    assert e.value.code == 2 and message in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["reproduce", "alpha", "--profile", "fast", "--seeds", "0,1", "--check"])
    assert e.value.code == 2 and "leave out --seeds" in capsys.readouterr().err
    assert fake_chapters[0] == []


def test_module_entry_point_help():
    r = subprocess.run([sys.executable, "-m", "reprolib", "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0
    for command in ("reproduce", "list", "summary"):
        assert command in r.stdout


def _recorded(a: float, verdict: str) -> dict:
    return {"metrics": {"a": a, "b": 1.0},
            "provenance": {"device": {"cpu_model": "Some CPU", "cpu_capability": "AVX2", "torch_threads": 2}},
            "claims": [{"id": "a_beats_b", "verdict": verdict}, {"id": "amt", "verdict": "not_testable"}]}


def test_check_reruns_in_a_temporary_folder_and_compares_with_the_committed_file(fake_chapters, capsys, monkeypatch):
    calls, root = fake_chapters
    monkeypatch.setattr("reprolib.results.recorded_results", lambda name, profile: _recorded(2.5, "reproduced"))
    assert main(["reproduce", "alpha", "--profile", "fast", "--check"]) == 0
    out = capsys.readouterr().out
    assert "recorded on Some CPU, capability AVX2, 2 threads" in out
    assert "a_beats_b" in out and "DIFFERS" not in out and "every verdict is the one recorded" in out
    assert "1 of 2 numbers identical" in out and "-0.5 (20.0%)" in out  # a: 2.5 recorded, 2.0 now
    assert not [ln for ln in out.splitlines() if ln.strip().startswith("b ")]  # b is the same: not listed
    assert not (root / "fast").exists()  # written to a temporary folder, not to REPROLIB_RESULTS
    assert str(root) == __import__("os").environ["REPROLIB_RESULTS"]  # the environment is restored


def test_check_exits_1_when_a_verdict_differs_or_nothing_is_recorded(fake_chapters, capsys, monkeypatch):
    monkeypatch.setattr("reprolib.results.recorded_results", lambda name, profile: _recorded(1.2, "not_reproduced"))
    assert main(["reproduce", "alpha", "--profile", "fast", "--check"]) == 1
    captured = capsys.readouterr()
    assert "DIFFERS" in captured.out and "verdicts differ" in captured.err
    monkeypatch.setattr("reprolib.results.recorded_results", lambda name, profile: None)
    assert main(["reproduce", "alpha", "--profile", "fast", "--check"]) == 1
    assert "no committed book/results/fast/alpha.json" in capsys.readouterr().err
