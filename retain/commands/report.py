"""`retain report`: the operator report for a scoring run, as one self-contained HTML file.

Why a command module of its own: the report itself (serving/reporting) is a library the service
and notebooks use too; parsing flags and printing belong to the CLI (docs/architecture.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from retain.commands.options import TrackingOption, given_flags
from retain.commands.window_options import WindowFlags, with_window_flags
from retain.console import console, fail, refuse
from serving import (
    build_report,
    effects_section_for,
    model_sections,
    monitoring_section,
    read_monitor_json,
)


@with_window_flags
def report(
    scores: Annotated[Path, typer.Option("--scores", help="A `retain score` output.")],
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write.")] = Path(
        "retain-report.html"
    ),
    events: Annotated[
        Path | None, typer.Option("--events", help="Event log, for cohort retention curves.")
    ] = None,
    budget: Annotated[
        float | None, typer.Option("--budget", help="Budget to report usage against.", min=0)
    ] = None,
    tracking_uri: TrackingOption = None,
    effects: Annotated[
        Path | None,
        typer.Option("--effects", help="Effects file: adds prior vs learned effects and gains."),
    ] = None,
    catalogue: Annotated[
        Path | None, typer.Option("--catalogue", help="Action catalogue holding the priors.")
    ] = None,
    monitor: Annotated[
        Path | None,
        typer.Option("--monitor", help="JSON from `retain monitor --json`: adds its verdict."),
    ] = None,
    windows: WindowFlags | None = None,
) -> None:
    """Write a self-contained HTML report (charts embedded) for a scoring run.

    The window flags shape the cohort retention curves, so they need --events; --catalogue
    holds the priors that learned effects are compared with, so it needs --effects.
    """
    from features import write_text
    from serving import read_scores

    if out.suffix.lower() not in (".html", ".htm"):
        fail(f"--out {out} should end in .html")
    if events is None:
        refuse(given_flags(windows or WindowFlags()), "without --events (they shape its curves)")
    if effects is None:
        refuse({"--catalogue": catalogue}, "without --effects (it holds the effects' priors)")
    try:
        table = read_scores(scores)
        retention = _retention(events, windows) if events else None
        learned = effects_section_for(table, effects, catalogue, budget) if effects else None
        watched = monitoring_section(read_monitor_json(monitor), str(monitor)) if monitor else None
    except (OSError, ValueError, LookupError) as error:
        fail(str(error))
    page = build_report(
        table, retention=retention, models=model_sections(tracking_uri), budget=budget,
        source=str(scores), effects=learned, monitoring=watched,
    )  # fmt: skip
    write_text(page, out)
    console.print(f"report for {len(table):,} users written to {out} ({len(page) / 1e6:.1f} MB)")


def _retention(events: Path, windows: WindowFlags | None) -> Any:
    from features import cohort_retention, load_events

    return cohort_retention(load_events(events), (windows or WindowFlags()).apply())
