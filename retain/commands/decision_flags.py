"""The settings behind a decision, as given on the command line, turned into a ScoringConfig.

Why one object: `retain score` (both engines), `retain churn-list`, `retain action-plan` and
`retain serve` take the same decision flags (catalogue, learned effects, budget, contact
history, segments, holdout) and must read them the same way; building the `ScoringConfig` in
one place is what keeps "the same economics on every path" true.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retain.commands.options import DECISION_OPTIONS, HOLDOUT_FLAGS, flag_group
from retain.console import console, guarded, refuse


@dataclass(frozen=True)
class DecisionFlags:
    """Decision flags as given (None: not given)."""

    catalogue: Path | None = None
    effects: Path | None = None
    budget: float | None = None
    contacts: Path | None = None
    segments: Path | None = None
    at_risk_threshold: float | None = None
    holdout_share: float | None = None
    holdout_seed: int | None = None

    def __post_init__(self) -> None:
        if self.holdout_share is None:
            refuse({"--holdout-seed": self.holdout_seed}, "without --holdout-share")

    def playbook(self) -> Any:
        """The catalogue, with learned effects in place of the priors when an effects file
        is given."""
        from serving import learned_catalogue, load_catalogue, load_effects

        playbook = guarded(lambda: load_catalogue(self.catalogue))
        if self.effects is None:
            return playbook
        learned, skipped = guarded(lambda: learned_catalogue(playbook, load_effects(self.effects)))
        if skipped:
            console.print(f"[yellow]effects for actions not in the catalogue ignored:[/] {skipped}")
        return learned

    def contact_history(self, playbook: Any) -> Any:
        """The contact history (None without --contacts); its read report is printed."""
        if self.contacts is None:
            return None
        from serving import load_contacts

        history = guarded(lambda: load_contacts(self.contacts, playbook))  # type: ignore[arg-type]
        console.print(history.report.summary())
        return history

    def segmentation(self) -> Any:
        from serving import load_segmentation

        return guarded(
            lambda: load_segmentation(self.segments, at_risk_threshold=self.at_risk_threshold)
        )

    def holdout(self) -> Any:
        from serving import HoldoutConfig

        if self.holdout_share is None:
            return None
        seed = self.holdout_seed or 0
        return guarded(lambda: HoldoutConfig(share=self.holdout_share, seed=seed))  # type: ignore[arg-type]

    def scoring_config(self, attribution: str | None) -> Any:
        """Everything a scoring run needs besides the data and the models (one builder for the
        DuckDB and the Spark path)."""
        from serving import ScoringConfig

        playbook = self.playbook()
        return ScoringConfig(
            catalogue=playbook,
            segmentation=self.segmentation(),
            budget=self.budget,
            contacts=self.contact_history(playbook),
            attribution=attribution or "treeshap",  # type: ignore[arg-type]
            holdout=self.holdout(),
        )

    def redeciding(self) -> bool:
        """Whether a score file must be decided again (a decision setting was given)."""
        return any(
            value is not None
            for value in (self.catalogue, self.effects, self.budget, self.contacts)
        )


with_decision_flags = flag_group("decisions", DecisionFlags, DECISION_OPTIONS)
# `retain serve`: the service draws no holdout, so it does not offer the holdout flags.
with_service_decision_flags = flag_group(
    "decisions",
    DecisionFlags,
    {name: option for name, option in DECISION_OPTIONS.items() if name not in HOLDOUT_FLAGS},
)
