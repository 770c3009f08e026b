"""What every chapter's run holds; each chapter's ``ChapterRun`` adds its own data and models."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..results import evaluate_claims, write_results


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

    def training_summary(self) -> dict:
        """Per trained (or cached) model: whether it came from the cache, its training time, speed and last loss."""
        return {
            name: {"cached": info["cached"], "train_seconds": info["history"].get("wall_seconds"),
                   "steps_per_second": info["history"].get("steps_per_second"),
                   "final_loss": info["history"]["loss"][-1] if info["history"].get("loss") else None}
            for name, info in self.histories.items()
        }

    def conclude(self, chapter: str, claims: list, facts: list, provenance: dict, write: bool = True):
        """Check ``claims`` against ``self.metrics``, assemble ``self.results`` and (``write``) write the
        results file ``book/results/<profile>/<chapter>.json``. Returns ``self``."""
        self.results = {"chapter": chapter, "profile": self.profile, "provenance": provenance, "metrics": self.metrics,
                        "claims": evaluate_claims(claims, self.metrics), "facts": facts}
        if write:
            write_results(chapter, self.profile, self.metrics, self.results["claims"], facts, provenance)
        return self
