"""Tests of the command line (python -m reprolib) with fake chapters: no real training here."""

from __future__ import annotations

import subprocess
import sys
import types
from datetime import datetime, timezone

import pytest

import reprolib.chapters
from reprolib.__main__ import main
from reprolib.claims import evaluate_claims, greater, not_testable
from reprolib.results import provenance, write_results


@pytest.fixture
def fake_chapters(tmp_path, monkeypatch):
    """Register two fake chapters, 'alpha' (writes results) and 'broken' (raises)."""
    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    calls = []
    module = types.ModuleType("fake_chapter_module")

    def run(profile, seed, force, device):
        calls.append(dict(profile=profile, seed=seed, force=force, device=device))
        metrics = {"a": 2.0, "b": 1.0}
        claims = evaluate_claims([greater("a_beats_b", "a > b", "a", "b", 0.5),
                                  not_testable("amt", "humans are fooled", "needs raters")], metrics)
        prov = provenance(seed, profile, {}, datetime.now(timezone.utc), 0.1, "cpu")
        write_results("alpha", profile, metrics, claims, [], prov)
        return {"metrics": metrics, "claims": claims}

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
