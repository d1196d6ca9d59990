"""`retain retrain`: check the data, train challengers, promote the better ones, once.

Exit codes, for a scheduler (docs/operations.md):

- 0: done: retrained (whatever was or was not promoted) or already up to date;
- 2: bad input (`error:` on stderr), or critical data health refused the run;
- 3: another `retain retrain` holds the lock (nothing was done).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from retain.commands.import_options import ImportFlags, with_import_flags
from retain.commands.options import ConfigOption, TrackingOption
from retain.console import console, err_console, fail, guarded, progress

REFUSED, BUSY = 2, 3


@with_import_flags
def retrain(
    events: Annotated[Path, typer.Option("--events", help="The event log to retrain on.")],
    config: ConfigOption = None,
    tracking_uri: TrackingOption = None,
    thresholds: Annotated[
        Path | None,
        typer.Option("--thresholds", help="Monitoring thresholds YAML (data health)."),
    ] = None,
    lock: Annotated[
        Path | None,
        typer.Option("--lock", help="Lock file (default: beside the SQLite store)."),
    ] = None,
    reading: ImportFlags = ImportFlags(),
) -> None:
    """Retrain on a schedule: refuse on critical data health, train challengers, promote only
    those better than their champion on the same newest out-of-time data; idempotent."""
    from monitoring import RetrainBusyError, load_thresholds
    from monitoring import retrain as run_retrain
    from training import ConfigError, load_config, resolve_tracking_uri

    try:
        cfg = load_config(config).with_import(reading.resolve())
        limits = load_thresholds(thresholds) if thresholds else None
    except (ConfigError, ValueError, OSError) as error:
        fail(str(error))
    uri = resolve_tracking_uri(tracking_uri)
    with progress() as bar:
        task = bar.add_task("retraining", total=None)
        try:
            report = guarded(
                lambda: run_retrain(
                    events,
                    cfg,
                    tracking_uri=uri,
                    thresholds=limits,
                    lock=lock,
                    on_step=lambda message: bar.update(task, description=message),
                )
            )
        except RetrainBusyError as error:
            err_console.print(f"[yellow]busy:[/] {error}")
            raise typer.Exit(BUSY) from None
    table = Table(title=f"retrain: {report.outcome}")
    for column in ("model", "promoted", "reason"):
        table.add_column(column)
    for decision in report.decisions:
        promoted = "yes" if decision["promoted"] else "no"
        table.add_row(str(decision["kind"]), promoted, str(decision["reason"]))
    if report.decisions:
        console.print(table)
    console.print(f"{report.outcome}: {report.reason} (MLflow run {report.run_id})")
    if report.outcome == "refused":
        raise typer.Exit(REFUSED)
