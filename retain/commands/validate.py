"""`retain validate`: check an event export before anything is built from it.

Operators feed Retain messy exports. This command answers "what will Retain do with this
file?" in one place: rows rejected and why, and a profile of what was accepted (time range,
event types, exact duplicates, refunds, the largest amount). With `--max-rejected-share` it is
a gate a scheduled job can run before `retain score`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from features import EventContractError
from retain.commands.features import EngineOption, EventsOption, FormatOption, require_engine
from retain.console import console, fail

if TYPE_CHECKING:
    from features import EventProfile


def validate(
    events: EventsOption,
    input_format: FormatOption = "auto",
    engine: EngineOption = "duckdb",
    max_rejected_share: Annotated[
        float,
        typer.Option(
            "--max-rejected-share",
            min=0.0,
            max=1.0,
            help="Exit with status 1 when more than this share of rows is rejected (a gate for "
            "scheduled jobs).",
        ),
    ] = 1.0,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of tables.")
    ] = False,
) -> None:
    """Report what Retain accepts and rejects in an event log, and profile what it accepts."""
    from features import load_events, profile_events

    require_engine(engine)
    try:
        loaded = load_events(events, engine, fmt=input_format)
        profile = profile_events(loaded)
    except EventContractError as error:
        fail(str(error))
    report = loaded.report
    share = report.rows_rejected / report.rows_read if report.rows_read else 0.0
    if as_json:
        document = {
            "source": report.source,
            "rows_read": report.rows_read,
            "rows_accepted": report.rows_accepted,
            "rejected": report.rejected,
            "rejected_share": share,
            "note": report.note,
            "profile": profile.as_dict(),
        }
        typer.echo(json.dumps(document, indent=2))
    else:
        console.print(report.summary())
        console.print(_profile_table(profile))
    if not report.rows_accepted:
        fail(f"{report.source}: no row was accepted")
    if share > max_rejected_share:
        fail(
            f"{report.source}: {share:.2%} of rows rejected, more than "
            f"--max-rejected-share {max_rejected_share:.2%}",
            code=1,
        )


def _profile_table(profile: EventProfile) -> Table:
    table = Table(title="accepted events", show_header=False)
    table.add_row("events", f"{profile.events:,}")
    table.add_row("users", f"{profile.users:,}")
    table.add_row("first event (UTC)", f"{profile.first_event}")
    table.add_row("last event (UTC)", f"{profile.last_event}")
    types = ", ".join(f"{name} {n:,}" for name, n in profile.event_types.items())
    if profile.other_event_types:
        types += f" (+{profile.other_event_types} more types)"
    table.add_row("event types", types)
    table.add_row(
        "exact duplicate rows",
        f"{profile.duplicate_rows:,} (kept: each row is an event; see docs/bad-input.md)",
    )
    table.add_row("stamped at midnight", f"{profile.date_only_share:.1%}")
    table.add_row("negative amounts", f"{profile.negative_amounts:,}")
    table.add_row("largest |amount|", f"{profile.max_abs_amount:,.2f}")
    return table
