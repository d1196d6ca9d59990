"""The settings behind a decision, as given on the command line, turned into a ScoringConfig.

Why one object: `retain score` (both engines), `retain churn-list` and `retain action-plan`
take the same decision flags (catalogue, learned effects, budget, contact history, segments,
holdout) and must read them the same way; building the `ScoringConfig` in one place is what
keeps "the same economics on every path" true.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from retain.commands.scoring_options import guarded
from retain.console import console, fail


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
    holdout_seed: int = 0

    @classmethod
    def pick(cls, options: Mapping[str, Any]) -> DecisionFlags:
        """The decision flags among a command's options (its `locals()`), by name."""
        return cls(**{f.name: options[f.name] for f in fields(cls) if f.name in options})

    def playbook(self) -> Any:
        """The catalogue, with learned effects in place of the priors when an effects file
        is given."""
        from serving import EffectsFileError, learned_catalogue, load_catalogue, load_effects

        playbook = guarded(lambda: load_catalogue(self.catalogue))
        if self.effects is None:
            return playbook
        try:
            learned, skipped = learned_catalogue(playbook, load_effects(self.effects))
        except EffectsFileError as error:
            fail(str(error))
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
        return guarded(lambda: HoldoutConfig(share=self.holdout_share, seed=self.holdout_seed))  # type: ignore[arg-type]

    def scoring_config(self, attribution: str | None) -> Any:
        """Everything a scoring run needs besides the data and the models."""
        from serving import ScoringConfig

        reasons = attribution or "treeshap"
        if reasons not in ("treeshap", "path"):
            fail(f"--reasons must be treeshap or path, not {reasons!r}")
        playbook = self.playbook()
        return ScoringConfig(
            catalogue=playbook,
            segmentation=self.segmentation(),
            budget=self.budget,
            contacts=self.contact_history(playbook),
            attribution=reasons,  # type: ignore[arg-type]
            holdout=self.holdout(),
        )

    def redeciding(self) -> bool:
        """Whether a score file must be decided again (a decision setting was given)."""
        return any(
            value is not None
            for value in (self.catalogue, self.effects, self.budget, self.contacts)
        )
