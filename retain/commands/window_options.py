"""Command-line options shared by the feature, training and scoring commands (DESIGN.md §5).

Declared once so every command spells and documents the window flags the same way.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

import typer

from features import WindowConfig

ChurnHorizonOption = Annotated[
    int | None,
    typer.Option(
        "--churn-horizon-days",
        help="Days after the cutoff in which no activity means churn (default: 30).",
        min=1,
    ),
]
ValueHorizonOption = Annotated[
    int | None,
    typer.Option(
        "--value-horizon-days",
        help="Days after the cutoff summed into future value (default: 90).",
        min=1,
    ),
]
ActiveWindowOption = Annotated[
    int | None,
    typer.Option(
        "--active-window-days",
        help="Days before the cutoff with activity that make a user active (default: 90).",
        min=1,
    ),
]
ActivityEventsOption = Annotated[
    str | None,
    typer.Option(
        "--activity-events",
        help="Comma-separated event types that count as activity (default: all).",
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


@dataclass(frozen=True)
class WindowFlags:
    """The four window flags as given on the command line (None: not given)."""

    churn_horizon_days: int | None = None
    value_horizon_days: int | None = None
    active_window_days: int | None = None
    activity_events: str | None = None

    def apply(self, base: WindowConfig | None = None) -> WindowConfig:
        """`base` (or the defaults) with the flags the user gave layered on top."""
        return window_config(base, **asdict(self))


_FLAG_OPTIONS: dict[str, Any] = {
    "churn_horizon_days": ChurnHorizonOption,
    "value_horizon_days": ValueHorizonOption,
    "active_window_days": ActiveWindowOption,
    "activity_events": ActivityEventsOption,
}
Command = TypeVar("Command", bound=Callable[..., Any])


def with_window_flags(command: Command) -> Command:
    """Give a Typer command the four shared window flags, delivered as `windows: WindowFlags`.

    Why a decorator: every stage's command takes the same four flags; declaring them once here
    (instead of four parameters repeated in every signature) keeps their names, help and
    defaults identical across `features`, `train`, `tune`, `backtest` and `score`.
    """
    signature = inspect.signature(command, eval_str=True)
    kept = [p for p in signature.parameters.values() if p.name != "windows"]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=option)
        for name, option in _FLAG_OPTIONS.items()
    ]

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        flags = WindowFlags(**{name: kwargs.pop(name, None) for name in _FLAG_OPTIONS})
        return command(*args, windows=flags, **kwargs)

    parameters = [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        else p
        for p in kept
    ]
    wrapper.__signature__ = signature.replace(parameters=[*parameters, *added])  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in [*parameters, *added]}
    return wrapper  # type: ignore[return-value]


def parse_as_of(text: str) -> datetime:
    """A cutoff from 'YYYY-MM-DD' or an ISO timestamp; zoned values are converted to UTC later."""
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise typer.BadParameter(
            f"{text!r} is not a date; use YYYY-MM-DD or an ISO timestamp such as 2024-06-01T00:00"
        ) from error
