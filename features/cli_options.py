"""Command-line options shared by the feature, training and scoring commands (DESIGN.md §5).

Declared once so every command spells and documents the window flags the same way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from features.config import WindowConfig

ChurnHorizonOption = Annotated[
    int | None,
    typer.Option(
        "--churn-horizon-days",
        help="Days after the cutoff in which no activity means churn [default: 30].",
        min=1,
    ),
]
ValueHorizonOption = Annotated[
    int | None,
    typer.Option(
        "--value-horizon-days",
        help="Days after the cutoff summed into future value [default: 90].",
        min=1,
    ),
]
ActiveWindowOption = Annotated[
    int | None,
    typer.Option(
        "--active-window-days",
        help="Days before the cutoff with activity that make a user active [default: 90].",
        min=1,
    ),
]
ActivityEventsOption = Annotated[
    str | None,
    typer.Option(
        "--activity-events",
        help="Comma-separated event types that count as activity [default: all].",
    ),
]


def window_config(
    base: WindowConfig | None = None,
    churn_horizon_days: int | None = None,
    value_horizon_days: int | None = None,
    active_window_days: int | None = None,
    activity_events: str | None = None,
) -> WindowConfig:
    """`base` (or the defaults) with any flag the user gave layered on top."""
    overrides = {
        key: value
        for key, value in {
            "churn_horizon_days": churn_horizon_days,
            "value_horizon_days": value_horizon_days,
            "active_window_days": active_window_days,
            "activity_events": activity_events,
        }.items()
        if value is not None
    }
    current = (base or WindowConfig()).model_dump()
    return WindowConfig.model_validate({**current, **overrides})


def parse_as_of(text: str) -> datetime:
    """A cutoff from 'YYYY-MM-DD' or an ISO timestamp; zoned values are converted to UTC later."""
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise typer.BadParameter(
            f"{text!r} is not a date; use YYYY-MM-DD or an ISO timestamp such as 2024-06-01T00:00"
        ) from error
