"""`retain train`, and what the training stage's commands share (tune.py, backtest.py,
promote.py and evaluate.py use the config loader, the progress runner and the metric cells).

These are plain Typer command functions; `retain/cli.py` registers them on the root app. Heavy
imports (LightGBM, MLflow, Optuna) happen inside the commands so `retain --help` stays fast.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.panel import Panel
from rich.table import Table

from retain.commands.import_options import ImportFlags, with_import_flags
from retain.commands.options import (
    ConfigOption,
    ModelOption,
    TrackingOption,
    TrainingEventsOption,
)
from retain.commands.window_options import WindowFlags, with_window_flags
from retain.console import console, err_console, guarded, progress

if TYPE_CHECKING:
    from training import ExperimentConfig

T = TypeVar("T")
# Metrics that count something (rows, boosting rounds, with or without the `oot_` of their
# logged name): shown as whole numbers.
_COUNT_METRIC = re.compile(r"(^|_)rows$|(^|_)best_iteration$|^n_")


def experiment_config(
    path: Path | None, windows: WindowFlags | None = None, reading: ImportFlags | None = None
) -> ExperimentConfig:
    """The experiment config with the shared window and import flags layered on top."""
    from training import load_config

    config = guarded(lambda: load_config(path))
    config = guarded(lambda: config.with_windows((windows or WindowFlags()).apply(config.windows)))
    return guarded(lambda: config.with_import((reading or ImportFlags()).resolve()))


def metric_cell(metric: str, value: float | None) -> str:
    """A metric as printed: counts as whole numbers (4,560), scores to four decimals."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if _COUNT_METRIC.search(metric):
        return f"{round(value):,}"
    return f"{value:,.4f}"


def metrics_table(
    kind: str, metrics: dict[str, float], baselines: dict[str, dict[str, float]]
) -> Table:
    """Rows = metrics, columns = the model and each baseline, all on the OOT report half."""
    table = Table(title=f"{kind} model, out-of-time report half")
    table.add_column("metric")
    table.add_column("model", justify="right", style="bold")
    for name in baselines:
        table.add_column(name, justify="right")
    for metric, value in metrics.items():
        cells = (metric_cell(metric, b.get(metric)) for b in baselines.values())
        table.add_row(metric, metric_cell(metric, value), *cells)
    return table


def run_guarded(action: Callable[[], T]) -> T:
    """Run `action`; expected failures (RuntimeError too: no usable data) end in one line."""
    return guarded(action, RuntimeError)


def under_progress(
    description: str, total: int | None, work: Callable[[Callable[..., None]], T]
) -> T:
    """Run `work(move)` under one progress bar, `move(**fields)` updating it (`total=None`: a
    length not known in advance); expected failures end in one line."""
    with progress() as bar:
        task = bar.add_task(description, total=total)
        return run_guarded(lambda: work(functools.partial(bar.update, task)))


@with_window_flags
@with_import_flags
def train(
    events: TrainingEventsOption = None,
    config: ConfigOption = None,
    model: ModelOption = None,
    register: Annotated[
        bool, typer.Option("--register/--no-register", help="Register the models (challenger).")
    ] = True,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit with status 1 if a model loses to a baseline.")
    ] = False,
    figures: Annotated[
        bool,
        typer.Option(
            "--figures/--no-figures",
            help="Log the diagnostic charts (plots/*.png). Without them a run takes about a "
            "third less CPU, and its tag `figures` says they were skipped.",
        ),
    ] = True,
    tracking_uri: TrackingOption = None,
    windows: WindowFlags = WindowFlags(),
    reading: ImportFlags = ImportFlags(),
) -> None:
    """Train the churn, recall and value models out of time against baselines; log, register."""
    from training import train_models

    cfg = experiment_config(config, windows, reading)
    results = under_progress(
        "training",
        None,
        lambda move: train_models(
            cfg,
            events,
            tracking_uri=tracking_uri,
            register_model=register,
            # None: the config's models, or the purchase-log preset's when training chooses it
            models=(model,) if model is not None else None,
            on_step=lambda message: move(description=message),
            figures=figures,
        ),
    )
    said: set[str] = set()
    for note in (note for result in results for note in result.notes):
        if note not in said:  # a note about the log concerns every model: said once
            said.add(note)
            err_console.print(Panel(note, title="NOTE", style="yellow"))
    lost = False
    for result in results:
        if not result.trained:  # too short a log for an optional model: said, not fatal
            err_console.print(Panel(result.warning or "", title="NOT TRAINED", style="yellow"))
            continue
        console.print(metrics_table(result.kind, result.metrics, result.baseline_metrics))
        registered = (
            f"version {result.version} ({', '.join(result.aliases)})"
            if result.version
            else "not registered"
        )
        console.print(f"{result.kind}: run id [bold]{result.run_id}[/], {registered}")
        if result.warning:
            lost = True
            err_console.print(Panel(result.warning, title="WARNING", style="bold red"))
    if lost and strict:
        raise typer.Exit(1)
