"""`retain validate`: check an event export before anything is built from it.

Operators feed Retain messy exports. This command answers "what will Retain do with this
file?" in one place: rows rejected and why, rows kept with a missing amount, columns ignored,
where the problem rows are (line numbers and the values as written, all of them in a file with
`--rejects`), and a profile of what was accepted (time range, event types, exact duplicates,
refunds, the largest amount). With `--max-rejected-share` it is a gate a scheduled job can run
before `retain score`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from features import EventContractError
from retain.commands.import_options import ImportFlags, with_import_flags
from retain.commands.options import EngineOption, InputFormatOption, RequiredEventsOption
from retain.console import console, fail

if TYPE_CHECKING:
    from features import EventProfile, LoadReport, RowIssues

SAMPLES_PER_REASON = 3


@with_import_flags
def validate(
    events: RequiredEventsOption,
    input_format: InputFormatOption = "auto",
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
    rejects: Annotated[
        Path | None,
        typer.Option(
            "--rejects",
            help="Write every rejected row, and every row kept with a missing amount, to this "
            "file (.csv or .parquet): file, line, reason, outcome, then the row as written.",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object instead of tables.")
    ] = False,
    reading: ImportFlags = ImportFlags(),
) -> None:
    """Report what Retain accepts and rejects in an event log, and profile what it accepts."""
    from features import check_output_path, find_row_issues, load_events, profile_events

    import_profile = reading.resolve()
    try:
        if rejects is not None:
            check_output_path(rejects)
        loaded = load_events(events, engine, fmt=input_format, import_profile=import_profile)
        report = loaded.report
        issues = (
            find_row_issues(events, fmt=input_format, import_profile=import_profile)
            if rejects is not None or report.rejected or report.kept
            else None
        )
        accepted_profile = profile_events(loaded)
    except (EventContractError, ValueError) as error:
        fail(str(error))
    if rejects is not None and issues is not None:
        _write_rejects(issues, rejects)
    share = report.rows_rejected / report.rows_read if report.rows_read else 0.0
    if as_json:
        typer.echo(
            json.dumps(_document(report, share, issues, rejects, accepted_profile), indent=2)
        )
    else:
        console.print(report.summary())
        if issues is not None and (report.rejected or report.kept):
            console.print(_issues_table(report, issues))
        if rejects is not None and issues is not None:
            console.print(f"wrote {len(issues.rows):,} rows to {rejects}")
        console.print(_profile_table(accepted_profile))
    if not report.rows_accepted:
        fail(f"{report.source}: no row was accepted")
    if share > max_rejected_share:
        fail(
            f"{report.source}: {share:.2%} of rows rejected, more than "
            f"--max-rejected-share {max_rejected_share:.2%}",
            code=1,
        )


def _write_rejects(issues: RowIssues, path: Path) -> None:
    from features import write_frame

    try:
        write_frame(issues.rows, path)
    except OSError as error:
        fail(f"{path}: cannot write the rejected rows: {error}")


def _counted(report: LoadReport) -> list[tuple[str, str, int]]:
    """(reason, outcome, rows) for every reason the load report counted."""
    return [(reason, "rejected", n) for reason, n in report.rejected.items()] + [
        (reason, "kept", n) for reason, n in report.kept.items()
    ]


def _document(
    report: LoadReport,
    share: float,
    issues: RowIssues | None,
    rejects: Path | None,
    accepted_profile: EventProfile,
) -> dict[str, object]:
    """The JSON answer: counts, where the problem rows are, and the profile."""
    listed = {
        reason: {
            "outcome": outcome,
            "rows": n,
            "samples": [
                {"line": line, "value": value}
                for line, value in (issues.samples(reason, SAMPLES_PER_REASON) if issues else [])
            ],
        }
        for reason, outcome, n in _counted(report)
    }
    return {
        "source": report.source,
        "rows_read": report.rows_read,
        "rows_accepted": report.rows_accepted,
        "rejected": report.rejected,
        "rejected_share": share,
        "kept": report.kept,
        "ignored_columns": list(report.ignored_columns),
        "issues": listed,
        "unnumbered_files": list(issues.unnumbered) if issues else [],
        "rejects_file": str(rejects) if rejects is not None else None,
        "note": report.note,
        "profile": accepted_profile.as_dict(),
    }


def _issues_table(report: LoadReport, issues: RowIssues) -> Table:
    table = Table(title="rows with problems (in a CSV, line 1 is the header)")
    table.add_column("reason")
    table.add_column("outcome")
    table.add_column("rows", justify="right")
    table.add_column(f"first {SAMPLES_PER_REASON}: line: value as written")
    for reason, outcome, n in _counted(report):
        samples = issues.samples(reason, SAMPLES_PER_REASON)
        shown = "; ".join(
            f"{'?' if line is None else line}: {_clipped(value)!r}" for line, value in samples
        )
        if not samples and reason in issues.unlisted:
            shown = "excluded by the adapter before loading (not listed)"
        table.add_row(reason, outcome, f"{n:,}", shown)
    if issues.unnumbered:
        table.caption = (
            f"no line numbers for {', '.join(issues.unnumbered)}: its rows could not be paired "
            "with its lines (an adapter's rows, or a quoted line break the reader split)"
        )
    return table


def _clipped(value: str, width: int = 60) -> str:
    """A sample as the table shows it: a long line cut (`--json` and `--rejects` keep it)."""
    return value if len(value) <= width else value[: width - 1] + "…"


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
