"""The committed seed studies agree with the committed single-run files and with the verdict rule.

``book/results/<profile>-seeds/<chapter>.json`` records each seed's single-run verdict per claim; the
single-run file ``book/results/<profile>/<chapter>.json`` (the study's first seed) records its own verdict,
the study's verdicts and their combination. Both are files compared with themselves through the rule, so
this holds on every machine.
"""

from __future__ import annotations

import json

import pytest

from reprolib.chapters import CHAPTERS
from reprolib.claims import VERDICTS, final_verdict
from reprolib.config import repo_root

RESULTS = repo_root() / "book" / "results"
STUDIES = sorted((name, p) for name in CHAPTERS for p in ("fast", "full")
                 if (RESULTS / f"{p}-seeds" / f"{name}.json").exists())


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_chapters_1_2_and_5_have_a_fast_seed_study_of_three_seeds():
    for name in ("automatic", "user_guided", "lpips"):
        assert (name, "fast") in STUDIES
        assert _load(RESULTS / "fast-seeds" / f"{name}.json")["seeds"] == [0, 1, 2]


@pytest.mark.parametrize(("name", "profile"), STUDIES)
def test_the_single_run_file_carries_the_study_and_the_rule_combines_them(name, profile):
    study = _load(RESULTS / f"{profile}-seeds" / f"{name}.json")
    res = _load(RESULTS / profile / f"{name}.json")
    assert (study["chapter"], study["profile"]) == (name, profile)
    by_id = {c["id"]: c for c in study["claims"]}
    assert [c["id"] for c in res["claims"]] == [c["id"] for c in study["claims"]]
    first = study["seeds"][0]
    assert res["provenance"]["seed"] == first
    for c in res["claims"]:
        s = by_id[c["id"]]
        assert c["seeds"]["verdicts"] == s["verdicts"]
        assert c["seeds"]["counts"] == {v: s["verdicts"].count(v) for v in VERDICTS}
        # the single run is the study's first seed
        assert c["single_run"] == s["verdicts"][0]
        assert c["verdict"] == final_verdict(c["single_run"], s["verdicts"])
        # each seed's verdict is the conjunction of its comparisons' verdicts
        for k in range(len(study["seeds"])):
            parts = [t["verdicts"][k] for t in s["tests"]]
            if parts:
                expect = ("not_reproduced" if "not_reproduced" in parts else
                          "reproduced" if all(p == "reproduced" for p in parts) else "inconclusive")
                assert s["verdicts"][k] == expect, (c["id"], k)


@pytest.mark.parametrize(("name", "profile"), STUDIES)
def test_the_spread_follows_from_the_seeds_estimates(name, profile):
    study = _load(RESULTS / f"{profile}-seeds" / f"{name}.json")
    for c in study["claims"]:
        for t in c["tests"]:
            if "estimates" not in t:
                continue
            est = t["estimates"]
            assert len(est) == len(study["seeds"]) == len(t["low"]) == len(t["high"])
            # (a percentile interval need not contain the estimate, e.g. for a minimum; only its order is fixed)
            assert all(lo <= hi for lo, hi in zip(t["low"], t["high"])), (c["id"], t["label"])
            # the file rounds to 6 significant digits
            assert t["spread"]["min"] == pytest.approx(min(est), rel=1e-5, abs=1e-9)
            assert t["spread"]["max"] == pytest.approx(max(est), rel=1e-5, abs=1e-9)
