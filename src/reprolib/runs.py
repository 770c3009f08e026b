"""What every chapter's run holds: its settings, training histories, metrics and results (DESIGN section 7)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping

import torch

from reprolib.claims import evaluate_claims
from reprolib.results import _clean, provenance, write_results
from reprolib.seeds import attach_seed_study, load_seed_study


@dataclass
class ChapterRunBase:
    """The profile, seed, settings and device a chapter ran with, and (filled as it runs) the training
    histories, the measured metrics and the results dict that is written to ``book/results``.

    The last three are keyword-only, so a chapter's subclass can add required fields after the first four.
    """

    profile: str
    seed: int
    settings: dict
    device: torch.device
    histories: dict = field(default_factory=dict, kw_only=True)
    metrics: dict = field(default_factory=dict, kw_only=True)
    results: dict = field(default_factory=dict, kw_only=True)
    # when the run was made (by the chapter's prepare): the provenance's wall time covers the whole run,
    # also when a notebook calls prepare, train_all and the evaluation one by one
    started: datetime = field(default_factory=lambda: datetime.now(timezone.utc), kw_only=True)
    t0: float = field(default_factory=time.perf_counter, kw_only=True)

    def training_summary(self) -> dict:
        """Per trained (or cached) model: whether it came from the cache, its training time, speed and last loss."""
        return {
            name: {"cached": info["cached"], "train_seconds": info["history"].get("wall_seconds"),
                   "steps_per_second": info["history"].get("steps_per_second"),
                   "final_loss": info["history"]["loss"][-1] if info["history"].get("loss") else None}
            for name, info in self.histories.items()
        }

    def provenance(self, data: Mapping[str, Any], started: datetime | None = None, t0: float | None = None) -> dict:
        """:func:`provenance` of this run; start and wall time from ``started``/``t0``, by default from when
        the run was made."""
        return provenance(seed=self.seed, profile=self.profile, device=self.device, data=data,
                          started=started or self.started,
                          wall_seconds=time.perf_counter() - (self.t0 if t0 is None else t0))

    def conclude(self, chapter: str, claims: list, facts: list, provenance: dict, write: bool = True,
                 seed_study: Mapping[str, Any] | None | str = "recorded"):
        """Check ``claims`` against ``self.metrics``, assemble ``self.results`` and (``write``) write the
        results file ``book/results/<profile>/<chapter>.json``. Returns ``self``.

        The claims are judged on the metrics as the results file stores them (rounded to 6 significant
        digits), so that the file judges the same when read back. ``seed_study`` is the seed study to combine
        the single-run verdicts with: by default the recorded one of this chapter and profile, if any.
        """
        self.metrics = _clean(self.metrics, "metrics")
        study = load_seed_study(chapter, self.profile) if seed_study == "recorded" else seed_study
        evaluated = attach_seed_study(evaluate_claims(claims, self.metrics), study)
        self.results = {"chapter": chapter, "profile": self.profile, "provenance": provenance, "metrics": self.metrics,
                        "claims": evaluated, "facts": facts}
        if write:
            write_results(chapter, self.profile, self.metrics, self.results["claims"], facts, provenance)
        return self
