"""Typed window configuration shared by features, labels, training and scoring.

Why one object: the same horizons and activity definition must drive feature building,
label building and decisions, or a model trained on one definition would be scored on another.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class WindowConfig(BaseModel):
    """Horizons and the activity definition of DESIGN.md §3 (all in whole days)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    churn_horizon_days: int = Field(30, gt=0, le=3650)
    value_horizon_days: int = Field(90, gt=0, le=3650)
    active_window_days: int = Field(90, gt=0, le=3650)
    activity_events: tuple[str, ...] | None = Field(
        None, description="Event types that count as activity; None means every type."
    )

    @field_validator("activity_events", mode="before")
    @classmethod
    def _split_comma_list(cls, value: object) -> object:
        """Accept `"login,purchase"` from the command line as well as a YAML list."""
        if isinstance(value, str):
            items = tuple(part.strip() for part in value.split(",") if part.strip())
            return items or None
        if isinstance(value, list | tuple) and len(value) == 0:
            return None
        return value

    @property
    def label_horizon_days(self) -> int:
        """How far past the cutoff labels look: the longer of the two horizons."""
        return max(self.churn_horizon_days, self.value_horizon_days)
