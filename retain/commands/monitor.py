"""`retain monitor`: did past scores come true, has the population moved, is the data healthy?

Why a command a scheduler can run: it prints a table (or, with `--json`, exactly one JSON
object on stdout), logs an MLflow run (experiment `retain-monitoring`) and exits with the
verdict: 0 ok, 1 warning, 2 critical. Bad input (a missing file, an invalid thresholds file,
no MLflow store) also exits 2, as every Retain command and Click's own usage errors do, but it
prints `error: …` on stderr and nothing on stdout; a scheduler that passes `--json` tells the
two apart by whether stdout holds the JSON object (see docs/operations.md, "Monitoring").
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from retain.commands.options import EVENTS_HELP, AsOfOption, TrackingOption
from retain.commands.window_options import parse_as_of
from retain.console import console, err_console, fail, guarded, progress

_STYLE = {"ok": "green", "warning": "yellow", "critical": "bold red", "pending": "cyan"}


def monitor(
    events: Annotated[
        Path,
        typer.Option("--events", help=f"{EVENTS_HELP}: labels and today's features come from it."),
    ],
    as_of: AsOfOption = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout instead of tables.")
    ] = False,
    thresholds: Annotated[
        Path | None,
        typer.Option("--thresholds", help="Monitor thresholds YAML (keys left out: defaults)."),
    ] = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """Realised quality of past scoring runs, drift against the champions, data health.

    Exit code: 0 ok, 1 warning, 2 critical (2 without JSON on stdout: bad input).
    """
    from monitoring import MonitorConfigError, MonitorThresholds, load_thresholds

    try:
        limits = load_thresholds(thresholds) if thresholds else MonitorThresholds()
    except MonitorConfigError as error:
        fail(str(error))
    cutoff = parse_as_of(as_of) if as_of else None
    report, params = _gather(events, cutoff, limits, tracking_uri)
    from monitoring import MONITORING_EXPERIMENT, log_monitor_run

    run_id = log_monitor_run(report, limits, params)
    if json_output:
        typer.echo(report.to_json())
    else:
        _print(report)
    err_console.print(f"logged to MLflow: experiment {MONITORING_EXPERIMENT}, run {run_id}")
    raise typer.Exit(report.exit_code)


def _gather(
    events: Path, cutoff: datetime | None, limits: Any, tracking_uri: str | None
) -> tuple[Any, dict[str, str]]:
    """Load, score at as-of, judge: the report and the facts the MLflow run records."""
    from mlflow.exceptions import MlflowException as StoreError

    from features import as_naive_utc, load_events
    from monitoring import MonitorReport, event_health
    from retain.commands.monitor_checks import cutoff_text, drift_rows, realised_runs
    from serving import latest_cutoff, load_champions

    with progress() as bar:
        task = bar.add_task("loading the champion models", total=4)
        champions = guarded(lambda: load_champions(tracking_uri))
        bar.update(task, advance=1, description=f"loading events from {events}")
        loaded = guarded(lambda: load_events(events))
        err_console.print(loaded.report.summary())
        at = as_naive_utc(cutoff) if cutoff else guarded(lambda: latest_cutoff(loaded))
        bar.update(task, advance=1, description="judging recorded scoring runs")

        def step(message: str) -> None:
            bar.update(task, description=message)

        realised, pending, notes = guarded(
            lambda: realised_runs(loaded, at, limits, step), StoreError
        )
        bar.update(task, advance=1, description=f"features and scores at {at:%Y-%m-%d}")
        drift, problems = guarded(lambda: drift_rows(loaded, at, champions, limits), StoreError)
        health = guarded(lambda: event_health(loaded, at, limits))
        bar.update(task, advance=1, description="judged")
    report = MonitorReport(
        as_of=cutoff_text(at),
        realised=tuple(realised),
        pending=tuple(pending),
        drift=tuple(drift),
        health=(*health, *problems),
        notes=tuple(notes),
    )
    params = {
        "events": str(events.resolve()),
        **{f"model_version.{kind}": v for kind, v in champions.versions.items()},
    }
    return report, params


def _status(status: str) -> str:
    return f"[{_STYLE.get(status, 'white')}]{status}[/]"


def _number(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _figure(value: float | None, check: dict[str, Any] | None) -> str:
    """`0.812 (0.840)`: the realised figure and, when judged against one, training's."""
    reference = check.get("reference") if check else None
    text = _number(value)
    return text if reference is None else f"{text} ({reference:.3f})"


def _print(report: Any) -> None:
    """The report as Rich tables: realised quality, drift (worst first), data health."""
    from rich.table import Table

    from monitoring import HEADLINE_FIGURES

    data = report.as_dict()
    console.print(f"monitor as of {report.as_of}: {_status(report.status)}")
    realised = Table(title="Realised quality of past scoring runs (at training in brackets)")
    for column in ("scored as of", "status", *HEADLINE_FIGURES.values(), "detail"):
        realised.add_column(column)
    for run in data["realised"]:
        checks = {c["name"]: c for c in run.get("checks", [])}
        figures = [_figure(run.get(name), checks.get(name)) for name in HEADLINE_FIGURES]
        notes = [c["detail"] for c in checks.values() if c["status"] != "ok" or c["value"] is None]
        if run["status"] == "pending":
            notes = [f"labels complete on {run['labels_complete_on']}"]
        realised.add_row(run["scored_as_of"], _status(run["status"]), *figures, "; ".join(notes))
    console.print(realised)
    drift = Table(title="Drift against the champions' reference profiles (PSI)")
    for column in ("column", "kind", "psi", "status", "detail"):
        drift.add_column(column)
    order = {"critical": 0, "warning": 1, "ok": 2}
    for row in sorted(data["drift"], key=lambda r: (order[r["status"]], -(r["psi"] or 0))):
        drift.add_row(row["feature"], row["kind"], _number(row["psi"]), _status(row["status"]),
                      row["detail"])  # fmt: skip
    console.print(drift)
    health = Table(title="Data health")
    for column in ("check", "value", "reference", "status", "detail"):
        health.add_column(column)
    for check in data["data_health"]:
        health.add_row(check["name"], _number(check["value"]), _number(check["reference"]),
                       _status(check["status"]), check["detail"])  # fmt: skip
    console.print(health)
    for note in report.notes:
        console.print(f"note: {note}")
