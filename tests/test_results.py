"""Tests of reprolib.results: claims and verdicts, facts, provenance, results files, tables."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
import torch

from reprolib.claims import PaperNumber, MissingMetricError, all_greater, custom, evaluate_claims, fact, greater, lookup, monotone, not_testable
from reprolib.results import claims_summary, load_results, provenance, results_dir, write_results
from reprolib.book.tables import comparison_table, facts_table, verdict_table

METRICS = {
    "table": {
        "full": {"auc": 89.0, "auc_rebal": 66.0},
        "class": {"auc": 91.0, "auc_rebal": 60.0},
        "l2": {"auc": 91.5, "auc_rebal": 58.0},
    },
    "psnr": {"p0": 20.0, "p1": 22.0, "p2": 22.5, "p3": 25.0},
}


@pytest.fixture
def results_env(tmp_path, monkeypatch):
    monkeypatch.setenv("REPROLIB_RESULTS", str(tmp_path))
    return tmp_path


# ------------------------------------------------------------------------------------------
# claims


def test_lookup_follows_dotted_paths_and_names_what_is_missing():
    assert lookup(METRICS, "table.full.auc_rebal") == 66.0
    with pytest.raises(MissingMetricError, match=r"no 'ful' under table \(found: full, class, l2\)"):
        lookup(METRICS, "table.ful.auc")
    with pytest.raises(MissingMetricError, match="no 'x' under table.full.auc"):
        lookup(METRICS, "table.full.auc.x")


def test_greater_uses_the_margin_strictly():
    up = greater("rebal", "rebalancing raises balanced AuC", "table.full.auc_rebal", "table.class.auc_rebal", 5.0)
    verdict, ev = up.check(METRICS)  # 66 > 60 + 5
    assert verdict == "reproduced"
    assert ev["values"] == {"table.full.auc_rebal": 66.0, "table.class.auc_rebal": 60.0}
    assert ev["margin"] == 5.0 and ev["difference"] == 6.0
    assert ev["comparison"] == "table.full.auc_rebal > table.class.auc_rebal + 5"
    tight = greater("rebal", "s", "table.full.auc_rebal", "table.class.auc_rebal", 6.0)
    assert tight.check(METRICS)[0] == "not_reproduced"  # 66 > 66 is false: equality is not enough


def test_all_greater_needs_every_pair_and_lists_failures():
    c = all_greater("raw", "rebalancing lowers raw AuC", [("table.class.auc", "table.full.auc"),
                                                          ("table.l2.auc", "table.full.auc")], margin=1.0)
    verdict, ev = c.check(METRICS)
    assert verdict == "reproduced" and [p["holds"] for p in ev["pairs"]] == [True, True]
    c2 = all_greater("raw", "s", [("table.class.auc", "table.full.auc"), ("table.l2.auc", "table.class.auc")], 1.0)
    verdict, ev = c2.check(METRICS)  # 91.5 - 91 = 0.5 is not more than 1
    assert verdict == "not_reproduced" and [p["holds"] for p in ev["pairs"]] == [True, False]
    assert "table.l2.auc - table.class.auc = 0.5 (fails)" in ev["summary"]


def test_monotone_increasing_and_decreasing_with_margin():
    keys = ["psnr.p0", "psnr.p1", "psnr.p2", "psnr.p3"]
    assert monotone("m", "s", keys).check(METRICS)[0] == "reproduced"
    verdict, ev = monotone("m", "s", keys, margin=1.0).check(METRICS)  # the step 22 -> 22.5 is too small
    assert verdict == "not_reproduced" and ev["steps"] == [2.0, 0.5, 2.5] and ev["margin"] == 1.0
    assert monotone("m", "s", keys[::-1], increasing=False).check(METRICS)[0] == "reproduced"
    assert monotone("m", "s", keys, increasing=False).check(METRICS)[0] == "not_reproduced"


def test_custom_and_not_testable():
    def fn(m):
        v = lookup(m, "psnr.p3")
        return v > 24, {"values": {"psnr.p3": v}, "comparison": "psnr.p3 > 24"}

    assert custom("c", "s", fn).check(METRICS) == ("reproduced", {"values": {"psnr.p3": 25.0},
                                                                  "comparison": "psnr.p3 > 24"})
    with pytest.raises(ValueError, match="comparison"):
        custom("c", "s", lambda m: (True, {"values": {}})).check(METRICS)
    with pytest.raises(TypeError, match="bool"):
        custom("c", "s", lambda m: (1, {"values": {}, "comparison": ""})).check(METRICS)
    verdict, ev = not_testable("amt", "fools humans 32% of the time", "needs human raters").check(METRICS)
    assert verdict == "not_testable" and ev["reason"] == "needs human raters"


def test_a_missing_or_non_finite_metric_is_an_error_never_a_pass():
    c = greater("x", "s", "table.full.auc", "table.nope.auc", margin=0.0)
    with pytest.raises(MissingMetricError, match="table.nope.auc"):
        evaluate_claims([c], METRICS)
    nan = {"a": float("nan"), "b": 0.0}
    with pytest.raises(ValueError, match="non-finite"):
        greater("x", "s", "a", "b", 0.0).check(nan)
    with pytest.raises(TypeError, match="number"):
        greater("x", "s", "a", "b", 0.0).check({"a": "high", "b": 0.0})
    with pytest.raises(ValueError, match="margin"):
        greater("x", "s", "a", "b", -1.0)


def test_evaluate_claims_and_summary():
    claims = [
        greater("a", "A", "table.full.auc_rebal", "table.class.auc_rebal", 1.0),
        greater("b", "B", "table.full.auc", "table.class.auc", 0.0),  # 89 > 91: not reproduced
        not_testable("c", "C", "offline"),
    ]
    ev = evaluate_claims(claims, METRICS)
    assert [c["verdict"] for c in ev] == ["reproduced", "not_reproduced", "not_testable"]
    assert claims_summary(ev) == "1/3 claims reproduced (1 not reproduced, 1 not testable)"
    assert claims_summary({"claims": ev[:1] + ev[2:]}) == "1/2 claims reproduced (1 not testable)"
    assert claims_summary([]) == "no claims"
    with pytest.raises(ValueError, match="share the id"):
        evaluate_claims([claims[0], claims[0]], METRICS)


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
               "flag": True}
    claims = evaluate_claims([greater("c1", "a beats b", "a", "b", 0.0)], {"a": 1 / 3, "b": 0.1})
    facts = [fact("seven", 7, 7)]
    prov = provenance(0, "smoke", {"n": 1}, datetime.now(timezone.utc), 0.5, "cpu")
    path = write_results("demo", "smoke", metrics, claims, facts, prov)
    assert path == results_env / "smoke" / "demo.json"
    loaded = load_results("demo", "smoke")
    assert loaded == json.loads(path.read_text())
    assert loaded["metrics"] == {"a": 0.333333, "n": 7, "t": 2.0, "nested": {"v": [0.1, None]}, "flag": True}
    assert loaded["claims"][0]["verdict"] == "reproduced" and loaded["facts"][0]["ok"] is True
    assert set(loaded) == {"chapter", "profile", "provenance", "metrics", "claims", "facts"}
    assert load_results("absent", "smoke") is None


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


def test_verdict_table_shows_badges_and_evidence():
    ev = evaluate_claims(
        [greater("a", "A & B", "table.full.auc_rebal", "table.class.auc_rebal", 1.0),
         not_testable("amt", "AMT", "needs people")], METRICS)
    t = verdict_table(ev)
    assert t.caption == "1/2 claims reproduced (1 not testable)"
    assert t.body[0][:3] == ["a", "A & B", "reproduced"] and "difference 6" in t.body[0][3]
    assert t.body[1][3] == "needs people"
    html = t._repr_html_()
    assert "#1a7f37" in html and "#6e7781" in html and "A &amp; B" in html
    ft = facts_table([fact("params", 10, 10, unit="M"), fact("weights", 1152, 1150)])
    assert [r[-1] for r in ft.body] == ["yes", "NO"] and ft.body[0][1] == "10 M"


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
