"""The committed results files agree with the code that judges them.

Each claim of a chapter is judged again on the metrics recorded in ``book/results/<profile>/<chapter>.json``
and must give the recorded verdict; a hand-edited number, a verdict typed in, a claim added or dropped
since the file was written, or a fact whose ``ok`` does not follow from its numbers all fail here. This
needs no training, so it holds on every machine: it compares the file with itself, through the checks.
"""

from __future__ import annotations

import copy
import json

import pytest

from reprolib.config import repo_root
from reprolib.chapters import CHAPTERS, chapter_module
from reprolib.results import recheck

RESULTS = repo_root() / "book" / "results"
RECORDED = sorted((name, p) for name in CHAPTERS for p in ("fast", "full") if (RESULTS / p / f"{name}.json").exists())


def _load(name: str, profile: str) -> dict:
    return json.loads((RESULTS / profile / f"{name}.json").read_text(encoding="utf-8"))


def test_every_chapter_has_a_recorded_fast_run():
    assert {n for n, p in RECORDED if p == "fast"} == set(CHAPTERS)


@pytest.mark.parametrize(("name", "profile"), RECORDED)
def test_recorded_verdicts_follow_from_the_recorded_metrics(name, profile):
    res = _load(name, profile)
    assert res["chapter"] == name and res["profile"] == profile
    assert recheck(res, chapter_module(name).claims()) == []


@pytest.mark.parametrize(("name", "profile"), RECORDED[:1])
def test_recheck_catches_an_edited_verdict_a_dropped_claim_and_a_wrong_fact(name, profile):
    res = _load(name, profile)
    claims = chapter_module(name).claims()
    judged = [c for c in res["claims"] if c["verdict"] != "not_testable"]
    edited = copy.deepcopy(res)
    target = next(c for c in edited["claims"] if c["id"] == judged[0]["id"])
    target["verdict"] = "not_reproduced" if target["verdict"] == "reproduced" else "reproduced"
    assert any(judged[0]["id"] in p and "recorded" in p for p in recheck(edited, claims))
    dropped = copy.deepcopy(res)
    dropped["claims"] = dropped["claims"][1:]
    assert any("not in the results file" in p for p in recheck(dropped, claims))
    if res["facts"]:
        wrong = copy.deepcopy(res)
        wrong["facts"][0]["ok"] = not wrong["facts"][0]["ok"]
        assert any("fact" in p for p in recheck(wrong, claims))
