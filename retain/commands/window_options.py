"""The window flags shared by the feature, training and scoring commands (DESIGN.md §5), and
the cutoff they are measured from.

Why here: every stage reads `--churn-horizon-days`, `--value-horizon-days`,
`--active-window-days` and `--activity-events` the same way, and every command that takes
`--as-of` parses it (and warns about a cutoff far past the data) the same way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import typer

from features import WindowConfig
from retain.commands.options import WINDOW_OPTIONS, flag_group
from retain.console import warn


@dataclass(frozen=True)
class WindowFlags:
    """The four window flags as given on the command line (None: not given)."""

    churn_horizon_days: int | None = None
    value_horizon_days: int | None = None
    active_window_days: int | None = None
    activity_events: str | None = None

    def apply(self, base: WindowConfig | None = None) -> WindowConfig:
        """`base` (or the defaults) with the flags the user gave layered on top."""
        overrides = {key: value for key, value in asdict(self).items() if value is not None}
        current = (base or WindowConfig()).model_dump()
        return WindowConfig.model_validate({**current, **overrides})


with_window_flags = flag_group("windows", WindowFlags, WINDOW_OPTIONS)


def parse_as_of(text: str) -> datetime:
    """A cutoff from 'YYYY-MM-DD' or an ISO timestamp; zoned values are converted to UTC later."""
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError as error:
        raise typer.BadParameter(
            f"{text!r} is not a date; use YYYY-MM-DD or an ISO timestamp such as 2024-06-01T00:00"
        ) from error


def warn_if_far_past_the_data(
    cutoff: datetime | None, last_event: datetime | None, active_window_days: int
) -> bool:
    """Warn (one line) when the cutoff lies more than the active window after the last event.

    Why: at such a cutoff nobody is active, so every user is scored as lapsed or churned; that
    is right for the date asked, but it is almost always a typo (2030 for 2023) or the wrong
    file, and it used to pass without a word. Returns whether it warned.
    """
    from features import as_naive_utc  # here: the feature engine (Ibis) is not needed for --help

    if cutoff is None or last_event is None:
        return False
    gap = as_naive_utc(cutoff) - as_naive_utc(last_event)
    if gap.total_seconds() <= active_window_days * 86_400:
        return False
    warn(
        f"--as-of {cutoff:%Y-%m-%d} is {gap.days:,} days after the last event "
        f"({last_event:%Y-%m-%d}), more than the {active_window_days}-day active window: "
        "no user is active then, so everyone counts as lapsed or churned"
    )
    return True


def champions_for(tracking_uri: str | None, flags: WindowFlags) -> tuple[Any, WindowConfig]:
    """The champions and their windows, for a command that scores: their notes said (a missing
    recall champion), window flags that contradict them refused. One place for both engines."""
    from retain.console import guarded
    from serving import load_champions, refuse_window_flags

    champions = guarded(lambda: load_champions(tracking_uri))
    for note in champions.notes:  # e.g. no recall champion: lapsed users by the churn model
        warn(note)
    windows = champions.windows()
    guarded(lambda: refuse_window_flags(asdict(flags), windows))
    return champions, windows
