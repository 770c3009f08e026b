"""Tests of reprolib.results: claims and verdicts, facts, provenance, results files, tables."""

from __future__ import annotations

import json
from html import escape
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
import torch

from reprolib.claims import (PaperNumber, MissingMetricError, Margin, evaluate_claims, fact, greater, lookup,
                             not_testable)
from reprolib.results import (claims_summary, compact_number_lists, load_results, provenance, recheck,
                              recorded_claims_text, results_dir, verdict_counts, write_results)
from reprolib.book.tables import comparison_table, facts_table, seeds_text, verdict_table

# Four test images; the per-image differences are constant where a test needs an interval of zero width.
SAMPLES = {"images": {"full.auc_rebal": [65.0, 66.0, 67.0, 66.0], "class.auc_rebal": [59.0, 60.0, 61.0, 60.0],
                      "full.auc": [88.0, 89.0, 90.0, 89.0], "class.auc": [90.0, 91.0, 92.0, 91.0],
                      "noisy": [-3.0, 4.0, -2.0, 2.0]}}
METRICS = {
    "table": {
        "full": {"auc": 89.0, "auc_rebal": 66.0},
        "class": {"auc": 91.0, "auc_rebal": 60.0},
        "l2": {"auc": 91.5, "auc_rebal": 58.0},
    },
    "psnr": {"p0": 20.0, "p1": 22.0, "p2": 22.5, "p3": 25.0},
    "samples": SAMPLES,
}
POINT = Margin(1.0, "one AuC point: the resolution of the curve's 1-unit thresholds")
ZERO = Margin(0.0, "the paper states a direction only")


@pytest.fixture
def results_env(tmp_path, monkeypatch):
    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    return tmp_path


# ------------------------------------------------------------------------------------------
# claims (the comparisons and the verdict rule are tested in test_bootstrap.py)


def test_lookup_follows_dotted_paths_and_names_what_is_missing():
    assert lookup(METRICS, "table.full.auc_rebal") == 66.0
    with pytest.raises(MissingMetricError, match=r"no 'ful' under table \(found: full, class, l2\)"):
        lookup(METRICS, "table.ful.auc")
    with pytest.raises(MissingMetricError, match="no 'x' under table.full.auc"):
        lookup(METRICS, "table.full.auc.x")


def _three_claims():
    return [
        greater("a", "A", "images:full.auc_rebal", "images:class.auc_rebal", POINT),   # 6 [6, 6] > 1
        greater("b", "B", "images:full.auc", "images:class.auc", ZERO),                # -2 [-2, -2] < 0
        greater("n", "N", "images:noisy", "images:class.auc", Margin(-90.0, "r")),      # 0.25 - 91 + 90 straddles
        not_testable("c", "C", "offline"),
    ]


def test_evaluate_claims_gives_the_four_verdicts_and_the_summary_counts_them():
    ev = evaluate_claims(_three_claims(), METRICS)
    assert [c["verdict"] for c in ev] == ["reproduced", "not_reproduced", "inconclusive", "not_testable"]
    test = ev[0]["evidence"]["tests"][0]
    assert (test["estimate"], test["low"], test["high"], test["margin"]) == (6.0, 6.0, 6.0, 1.0)
    assert test["reason"] == POINT.reason and test["formula"] == "mean(full.auc_rebal) - mean(class.auc_rebal)"
    assert ev[0]["evidence"]["bootstrap"] == {"resamples": 1000, "level": 0.95, "seed": 0}
    assert verdict_counts(ev) == {"reproduced": 1, "not_reproduced": 1, "inconclusive": 1, "not_testable": 1}
    assert claims_summary(ev) == "1/4 claims reproduced (1 not reproduced, 1 inconclusive, 1 not testable)"
    assert claims_summary({"claims": ev[:1] + ev[3:]}) == "1/2 claims reproduced (1 not testable)"
    assert claims_summary(ev[:1]) == "1/1 claim reproduced"
    assert claims_summary([]) == "no claims"
    with pytest.raises(ValueError, match="share the id"):
        evaluate_claims([_three_claims()[0]] * 2, METRICS)


def test_a_missing_or_non_finite_sample_is_an_error_never_a_pass():
    c = greater("x", "s", "images:full.auc", "images:nope.auc", ZERO)
    with pytest.raises(KeyError, match="nope.auc"):
        evaluate_claims([c], METRICS)
    with pytest.raises(KeyError, match="no per-unit samples for the group 'images'"):
        evaluate_claims([c], {"table": {}})
    nan = {"samples": {"u": {"a": [1.0, float("nan")], "b": [0.0, 0.0]}}}
    with pytest.raises(ValueError, match="non-finite"):
        greater("x", "s", "u:a", "u:b", ZERO).check(nan)
    with pytest.raises(TypeError, match="Margin"):
        greater("x", "s", "u:a", "u:b", 0.0)
    with pytest.raises(TypeError, match="dict"):
        greater("x", "s", "u:a", "u:b", ZERO).check([1, 2])
    verdict, ev = not_testable("amt", "fools humans 32% of the time", "needs human raters").check(METRICS)
    assert verdict == "not_testable" and ev["reason"] == "needs human raters"


# ------------------------------------------------------------------------------------------
# facts and provenance


def test_fact_checks_within_tolerance_and_exact_equality():
    params = fact("ECCV16 parameters", 32.2e6, 32_238_000, tol=0.05e6, unit="")
    assert params["ok"] and params["difference"] == pytest.approx(38_000)
    assert not fact("LPIPS alex weights", 1152, 1153)["ok"]
    assert fact("shape", [1, 313, 64, 64], (1, 313, 64, 64))["ok"]
    assert not fact("name", "conv8", "conv7")["ok"]
    with pytest.raises(ValueError, match="tolerance needs numbers"):
        fact("shape", [1], [1], tol=1)


def test_provenance_records_versions_device_and_utc_time():
    started = datetime(2024, 5, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    p = provenance(3, "fast", {"dataset": "colorworld", "n_train": 100}, started, 12.5, "cpu")
    assert p["started"] == "2024-05-01T12:30:00+00:00"
    assert p["torch_version"] == torch.__version__ and p["seed"] == 3 and p["profile"] == "fast"
    assert p["device"]["type"] == "cpu" and p["device"]["cpu_count"] >= 1
    for k in ("git_commit", "reprolib_version", "python_version", "wall_seconds", "data"):
        assert k in p
    with pytest.raises(ValueError, match="profile"):
        provenance(0, "slow", {}, started, 1.0, "cpu")


def test_provenance_records_the_cpu_capability_that_ran_it(monkeypatch):
    started = datetime(2024, 5, 1, tzinfo=timezone.utc)
    p = provenance(0, "fast", {}, started, 1.0, "cpu")
    assert p["device"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert isinstance(p["device"]["cpu_model"], str) and p["device"]["cpu_model"]
    # what ATEN_CPU_CAPABILITY selects is what is recorded (read at each call, not at import)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "DEFAULT")
    assert provenance(0, "fast", {}, started, 1.0, "cpu")["device"]["cpu_capability"] == "DEFAULT"


# ------------------------------------------------------------------------------------------
# results files


def test_results_dir_follows_the_environment(results_env):
    assert results_dir("smoke") == results_env / "smoke"
    with pytest.raises(ValueError, match="profile"):
        results_dir("huge")


def test_write_and_load_round_trip_with_rounding(results_env):
    metrics = {"a": 1 / 3, "n": np.int64(7), "t": torch.tensor(2.0), "nested": {"v": [np.float32(0.1), None]},
               "flag": True, "samples": {"u": {"a": [1 / 3, 0.5], "b": [0.1, 0.2]}}}
    claims = evaluate_claims([greater("c1", "a beats b", "u:a", "u:b", ZERO)], metrics)
    claims[0].update(single_run="reproduced", seeds={"seeds": [0, 1], "verdicts": ["reproduced"] * 2,
                                                     "counts": {"reproduced": 2}})
    facts = [fact("seven", 7, 7)]
    prov = provenance(0, "smoke", {"n": 1}, datetime.now(timezone.utc), 0.5, "cpu")
    path = write_results("demo", "smoke", metrics, claims, facts, prov)
    assert path == results_env / "smoke" / "demo.json"
    loaded = load_results("demo", "smoke")
    assert loaded == json.loads(path.read_text())
    assert loaded["metrics"] == {"a": 0.333333, "n": 7, "t": 2.0, "nested": {"v": [0.1, None]}, "flag": True,
                                 "samples": {"u": {"a": [0.333333, 0.5], "b": [0.1, 0.2]}}}
    c = loaded["claims"][0]
    assert c["verdict"] == c["single_run"] == "reproduced" and c["seeds"]["verdicts"] == ["reproduced"] * 2
    assert c["evidence"]["tests"][0]["margin"] == 0.0 and loaded["facts"][0]["ok"] is True
    assert set(loaded) == {"chapter", "profile", "provenance", "metrics", "claims", "facts"}
    assert '"a": [0.333333, 0.5]' in path.read_text()  # number lists stay on one line
    assert load_results("absent", "smoke") is None


def test_compact_number_lists_only_joins_lists_of_plain_numbers():
    text = json.dumps({"x": [1, -2.5, 3e-07], "s": ["a", "b"], "m": [1, {"k": 2}], "e": []}, indent=2)
    out = compact_number_lists(text)
    assert '"x": [1, -2.5, 3e-07]' in out
    assert json.loads(out) == json.loads(text)
    assert '"s": [\n' in out and '"m": [\n' in out


def test_recheck_finds_a_changed_verdict_and_a_broken_combination():
    claims = _three_claims()
    res = {"metrics": METRICS, "claims": evaluate_claims(claims, METRICS), "facts": [fact("seven", 7, 7)]}
    assert recheck(res, claims) == []
    res["claims"][0].update(single_run="reproduced", verdict="reproduced",
                            seeds={"verdicts": ["reproduced", "inconclusive", "reproduced"]})
    assert recheck(res, claims) == []
    res["claims"][0]["seeds"]["verdicts"] = ["inconclusive", "inconclusive", "reproduced"]  # 1 of 3: no majority
    assert recheck(res, claims) == ["claim 'a': recorded reproduced, the rule gives inconclusive from the single "
                                    "run and the recorded seeds"]
    res["claims"][0].pop("seeds")
    res["claims"][1]["verdict"] = "reproduced"
    res["facts"][0]["ok"] = False
    problems = recheck(res, claims[:1] + claims[2:] + [not_testable("d", "D", "r")])
    assert problems == [
        "claim 'd' is not in the results file",
        "claim 'b' is in the results file but no longer a claim of the chapter",
        "fact 'seven': recorded ok=False, its recorded numbers give ok=True"]


def test_a_book_build_writes_its_runs_beside_the_recorded_results(results_env, tmp_path, monkeypatch):
    # scripts/build_book.sh sets REPROLIB_RUN_RESULTS: the run's file goes there, the recorded one is untouched
    metrics = {"a": 1.0, "samples": {"u": {"a": [1.0, 2.0], "b": [0.0, 0.5]}}}
    claims = evaluate_claims([greater("c1", "a beats b", "u:a", "u:b", ZERO)], metrics)
    prov = provenance(0, "smoke", {"n": 1}, datetime.now(timezone.utc), 0.5, "cpu")
    recorded = write_results("demo", "smoke", metrics, claims, [], prov)
    before = recorded.read_text()
    build = tmp_path / "build-results"
    monkeypatch.setenv("REPROLIB_RUN_RESULTS", str(build))
    path = write_results("demo", "smoke", {**metrics, "a": 2.0}, claims, [], prov)
    assert path == build / "smoke" / "demo.json" and json.loads(path.read_text())["metrics"]["a"] == 2.0
    assert recorded.read_text() == before and load_results("demo", "smoke")["metrics"]["a"] == 1.0


def test_write_results_rejects_non_finite_values_and_writes_nothing(results_env):
    prov = provenance(0, "smoke", {}, datetime.now(timezone.utc), 0.5, "cpu")
    with pytest.raises(ValueError, match=r"results.metrics.table.auc is inf"):
        write_results("demo", "smoke", {"table": {"auc": float("inf")}}, [], [], prov)
    with pytest.raises(ValueError, match="verdict"):
        write_results("demo", "smoke", {}, [{"id": "x", "statement": "s", "verdict": "yes", "evidence": {}}], [], prov)
    assert not (results_env / "smoke" / "demo.json").exists()


# ------------------------------------------------------------------------------------------
# tables


def _run(auc_full: float) -> dict:
    return {"metrics": {"table": {"full": {"auc": auc_full}, "class": {"auc": 91.0}}}}


def test_comparison_table_cells_and_missing_values():
    paper = {"full.auc": PaperNumber(key="full.auc", value=89.5, unit="%", where="Table 1", page="9",
                                     definition="area under the cumulative ab-error curve, 0-150"),
             "class.auc": 91.6}
    t = comparison_table(
        rows=[("full", "Ours (full)"), ("class", "Ours (class)"), ("l2", "Ours (L2)")],
        columns=[("auc", "AuC (%)", ".1f")],
        paper=paper,
        runs={"full (recorded)": None, "fast (recorded)": _run(88.04), "this run": _run(88.96)},
        key="{row}.{column}",
        row_header="Method",
    )
    # the paper dict is flat; runs are looked up under metrics with the key template
    assert t.values[("full", "auc", "Paper")] == 89.5
    t2 = comparison_table(["full"], ["auc"], paper, {"this run": _run(88.96)}, key="table.{row}.{column}")
    assert t2.values[("full", "auc", "this run")] == 88.96
    md = t2.to_markdown().splitlines()
    assert md[0] == "|  | Paper | this run |"
    assert md[2] == "| full | \u2013 | 88.96 |"  # the paper has no "table.full.auc": en dash
    assert ("Paper", "table.full.auc") in t2.missing
    # the first table: row "l2" is missing everywhere, the "full (recorded)" run is absent
    md1 = t.to_markdown()
    assert "| Ours (L2) | \u2013 | \u2013 | \u2013 | \u2013 |" in md1
    html = t._repr_html_()
    assert 'colspan="4"' in html and "AuC (%)" in html and "<th>fast (recorded)</th>" in html


def test_comparison_table_multi_column_headers_and_escaping():
    t = comparison_table(["r"], ["a", ("b", "<b>")], {"r.a": 1, "r.b": 2.5}, {"x|y": {"metrics": {"r": {"a": 3}}}})
    assert t.header == ["", "a: Paper", "a: x|y", "<b>: Paper", "<b>: x|y"]
    assert "a: x\\|y" in t.to_markdown()  # pipes escaped in markdown
    html = t._repr_html_()
    assert "&lt;b&gt;" in html and "<b>" not in html  # labels are escaped in HTML


def test_comparison_table_paper_only_and_measured_only_columns():
    runs = {"fast": {"metrics": {"r": {"ours": 0.5}}}, "this run": {"metrics": {"r": {"ours": 0.4}}}}
    t = comparison_table(["r"], ["facades", "ours"], {"r.facades": 0.29}, runs, paper_only=("facades",),
                         measured_only=("ours",))
    assert t.header == ["", "facades: Paper", "ours: fast", "ours: this run"]
    assert t.body == [["r", "0.29", "0.5", "0.4"]]
    html = t._repr_html_()
    assert 'colspan="1"' in html and 'colspan="2"' in html and html.count("<th>Paper</th>") == 1
    with pytest.raises(ValueError, match="distinct columns"):
        comparison_table(["r"], ["facades"], {}, runs, paper_only=("maps",))
    with pytest.raises(ValueError, match="distinct columns"):
        comparison_table(["r"], ["facades"], {}, runs, paper_only=("facades",), measured_only=("facades",))


def test_verdict_table_shows_badges_intervals_and_seed_counts():
    ev = evaluate_claims([greater("a", "A & B", "images:full.auc_rebal", "images:class.auc_rebal", POINT),
                          not_testable("amt", "AMT", "needs people")], METRICS)
    ev[0].update(single_run="reproduced", seeds={"seeds": [0, 1, 2], "verdicts": ["reproduced", "inconclusive", "reproduced"],
                                               "counts": {"reproduced": 2, "inconclusive": 1}})
    t = verdict_table(ev)
    assert t.header == ["Claim", "Statement", "Verdict", "Single run", "Seeds", "Evidence"]
    assert t.caption == "1/2 claims reproduced (1 not testable)"
    assert t.body[0][:5] == ["a", "A & B", "reproduced", "reproduced", "3 seeds: 2 reproduced, 1 inconclusive"]
    assert t.body[0][5] == "full.auc_rebal - class.auc_rebal = 6 [6, 6] > 1"
    assert t.body[1][3:] == ["not testable", "no seed study", "needs people"]
    html = t._repr_html_()
    assert "#1a7f37" in html and "#6e7781" in html and "A &amp; B" in html
    assert f'title="{escape(POINT.reason)}"' in html and "single run: reproduced" in html
    assert seeds_text(ev[1]) == "no seed study"
    with pytest.raises(ValueError, match="no valid verdict"):
        verdict_table([{"id": "x", "statement": "s", "verdict": "maybe", "evidence": {}}])
    ft = facts_table([fact("params", 10, 10, unit="M"), fact("weights", 1152, 1150)])
    assert [r[-1] for r in ft.body] == ["yes", "NO"] and ft.body[0][1] == "10 M"


def test_recorded_claims_text_names_the_single_run_and_the_seeds():
    ev = evaluate_claims(_three_claims()[:1], METRICS)
    assert recorded_claims_text({"claims": ev}) == "- a: reproduced. full.auc_rebal - class.auc_rebal = 6 [6, 6] > 1"
    ev[0].update(verdict="inconclusive", seeds={"verdicts": ["inconclusive"] * 2 + ["reproduced"],
                                                "counts": {"reproduced": 1, "inconclusive": 2}})
    ev[0]["single_run"] = "reproduced"
    assert recorded_claims_text({"claims": ev}).startswith(
        "- a: inconclusive (single run reproduced; 3 seeds: 1 reproduced, 2 inconclusive).")
    assert recorded_claims_text(None) == "no recorded run yet"


def test_recorded_results_ignore_the_env_override(tmp_path, monkeypatch):
    from reprolib import results as R

    checkout = tmp_path / "repo"
    (checkout / "book" / "results" / "fast").mkdir(parents=True)
    (checkout / "book" / "results" / "fast" / "demo.json").write_text('{"chapter": "demo", "metrics": {}}')
    monkeypatch.setattr(R, "repo_root", lambda: checkout)
    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path / "elsewhere"))
    assert R.load_results("demo", "fast") is None          # the override folder is empty
    assert R.recorded_results("demo", "fast")["chapter"] == "demo"
    assert R.recorded_results("other", "fast") is None
    monkeypatch.setattr(R, "repo_root", lambda: None)
    assert R.recorded_results("demo", "fast") is None


def test_a_damaged_results_or_seed_study_file_names_the_command_that_rewrites_it(results_env):
    from reprolib.seeds import load_seed_study, seed_study_path

    (results_env / "smoke").mkdir()
    (results_env / "smoke" / "demo.json").write_text('{"chapter": "demo", "metr')
    with pytest.raises(ValueError, match=r"demo.json is not valid JSON .*rerun `python -m reprolib reproduce demo`"):
        load_results("demo", "smoke")
    path = seed_study_path("demo", "smoke")
    assert path == results_env / "smoke-seeds" / "demo.json" and load_seed_study("demo", "smoke") is None
    path.parent.mkdir()
    path.write_text("[1, 2")
    with pytest.raises(ValueError, match=r"reproduce demo --profile smoke --seeds 0,1,2"):
        load_seed_study("demo", "smoke")
