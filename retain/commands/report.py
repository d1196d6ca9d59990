"""`retain report`: the operator report for a scoring run, as one self-contained HTML file.

Why a command module of its own: the report itself (serving/reporting) is a library the service
and notebooks use too; parsing flags and printing belong to the CLI (docs/architecture.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from retain.commands.options import TrackingOption, given_flags
from retain.commands.window_options import WindowFlags, parse_as_of, with_window_flags
from retain.console import console, fail, refuse


@with_window_flags
def report(
    scores: Annotated[Path, typer.Option("--scores", help="A `retain score` output.")],
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write.")] = Path(
        "retain-report.html"
    ),
    events: Annotated[
        Path | None,
        typer.Option(
            "--events", help="Event log: adds weekly KPIs, the funnel and cohort retention."
        ),
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
    currency: Annotated[
        str | None,
        typer.Option(
            "--currency", help="Name amounts with it (EUR, USD, €); shown, never converted."
        ),
    ] = None,
    funnel: Annotated[
        str | None,
        typer.Option(
            "--funnel",
            help="Funnel steps, event types in order (default: view,add_to_cart,purchase).",
        ),
    ] = None,
    weeks: Annotated[
        int | None, typer.Option("--weeks", help="Weeks of KPIs and funnel [default: 12].")
    ] = None,
    report_date: Annotated[
        str | None,
        typer.Option(
            "--report-date",
            help="Flag scores older than this date [default: the end of --events, else today].",
        ),
    ] = None,
    report_config: Annotated[
        Path | None,
        typer.Option("--report-config", help="YAML with currency, funnel, weeks; flags win."),
    ] = None,
    windows: WindowFlags | None = None,
) -> None:
    """Write a self-contained HTML report (charts embedded) for a scoring run.

    The window flags shape the cohort curves and the KPIs' activity, and --funnel and --weeks
    the event sections, so they need --events; --catalogue holds the priors that learned
    effects are compared with, so it needs --effects.
    """
    from features import load_events, write_text
    from serving import (
        build_report,
        effects_section_for,
        load_report_config,
        model_sections,
        monitoring_section,
        parse_report_config,
        playbook_names,
        read_monitor_json,
        read_scores,
    )

    if out.suffix.lower() not in (".html", ".htm"):
        fail(f"--out {out} should end in .html")
    if events is None:
        why = "without --events (they shape its KPIs, funnel and curves)"
        refuse({**given_flags(windows or WindowFlags()), "--funnel": funnel, "--weeks": weeks}, why)
    if effects is None:
        refuse({"--catalogue": catalogue}, "without --effects (it holds the effects' priors)")
    dated = parse_as_of(report_date) if report_date else None
    flags = {"currency": currency, "funnel": funnel, "weeks": weeks}
    try:
        base = load_report_config(report_config).model_dump() if report_config else {}
        config = parse_report_config(
            {**base, **{k: v for k, v in flags.items() if v is not None}}, "report settings"
        )
        table = read_scores(scores)
        loaded = load_events(events) if events else None
        learned = (
            effects_section_for(table, effects, catalogue, budget, config.currency)
            if effects
            else None
        )
        watched = monitoring_section(read_monitor_json(monitor), str(monitor)) if monitor else None
        page = build_report(
            table, events=loaded, config=config, windows=(windows or WindowFlags()).apply(),
            models=model_sections(tracking_uri), budget=budget, source=str(scores),
            effects=learned, monitoring=watched, report_date=dated,
            action_names=playbook_names(catalogue),
        )  # fmt: skip
    except (OSError, ValueError, LookupError) as error:
        fail(str(error))
    write_text(page, out)
    console.print(f"report for {len(table):,} users written to {out} ({len(page) / 1e6:.1f} MB)")
