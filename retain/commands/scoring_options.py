"""Options and error handling shared by the serving commands (`score`, `churn-list`, `serve`).

Why one place: the same flag reads the same way on every command, and every command turns an
expected failure (a bad file, no champion, a typo in a filter) into one red line, exit 2.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from retain.console import fail

T = TypeVar("T")
EventsOption = Annotated[
    Path | None, typer.Option("--events", help="Event file or folder (.parquet, .csv, .jsonl).")
]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of", help="Cutoff (YYYY-MM-DD, UTC) (default: midnight after the last event)."
    ),
]
CatalogueOption = Annotated[
    Path | None,
    typer.Option("--catalogue", help="Action catalogue YAML (default: the packaged playbook)."),
]
BudgetOption = Annotated[
    float | None, typer.Option("--budget", help="Total spend allowed on actions.", min=0)
]
ReasonsOption = Annotated[
    str | None,
    typer.Option(
        "--reasons",
        help="Reason-code attribution: treeshap (exact, slower; the default) or path (fast, for "
        "big batches).",
    ),
]
ContactsOption = Annotated[
    Path | None,
    typer.Option(
        "--contacts",
        help="Contact history (campaign-log contract: user_id, action_id, assigned_at, group): "
        "enforces cooldowns and the catalogue's frequency cap.",
    ),
]
SegmentsOption = Annotated[
    Path | None,
    typer.Option(
        "--segments",
        help="Segmentation YAML: stage thresholds and value-tier rules (default: built in).",
    ),
]
AtRiskOption = Annotated[
    float | None,
    typer.Option(
        "--at-risk-threshold",
        help="Churn probability from which an active user is at_risk (default: 0.5).",
        min=0,
        max=1,
    ),
]
TrackingOption = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        help="MLflow registry (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db here).",
    ),
]
EffectsOption = Annotated[
    Path | None,
    typer.Option(
        "--effects",
        help="Effects file from `retain effects`: learned effects replace the catalogue's priors.",
    ),
]
HoldoutShareOption = Annotated[
    float | None,
    typer.Option(
        "--holdout-share",
        help="Share of each action's targets held out as a control group (adds `assignment`).",
        min=0,
        max=0.99,
    ),
]
HoldoutSeedOption = Annotated[
    int, typer.Option("--holdout-seed", help="Seed of the holdout draw (with the cutoff).", min=0)
]


def guarded(step: Callable[[], T]) -> T:
    """Run `step`; expected failures become a one-line error instead of a traceback."""
    from features import EventContractError
    from serving import CatalogueError

    try:
        return step()
    except (EventContractError, CatalogueError, ValueError, LookupError, OSError) as error:
        fail(str(error))


def refuse(flags: dict[str, object], why: str) -> None:
    """Fail naming every given flag that cannot apply here: a flag is never silently ignored."""
    given = [name for name, value in flags.items() if value is not None and value is not False]
    if given:
        fail(f"{', '.join(given)} cannot apply {why}")
