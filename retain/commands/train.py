"""`retain train | tune | backtest`: the training stage's commands (promote and rollback are in
promote.py).

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

from retain.commands.options import (
    ConfigOption,
    ModelKind,
    ModelOption,
    TrackingOption,
    TrainingEventsOption,
)
from retain.commands.window_options import WindowFlags, with_window_flags
from retain.console import console, err_console, guarded, progress

if TYPE_CHECKING:
    from training import ExperimentConfig

T = TypeVar("T")
# Metrics that count something (rows, boosting rounds): shown as whole numbers.
_COUNT_METRIC = re.compile(r"(^|_)rows$|^best_iteration$|^n_")


def experiment_config(path: Path | None, windows: WindowFlags | None = None) -> ExperimentConfig:
    """The experiment config with the shared window flags layered on top."""
    from training import load_config

    config = guarded(lambda: load_config(path))
    return guarded(lambda: config.with_windows((windows or WindowFlags()).apply(config.windows)))


def _kinds(model: ModelKind | None, default: tuple[str, ...]) -> tuple[ModelKind, ...]:
    """The one model asked for (the parser checked the name), else the config's models."""
    return (model,) if model is not None else default  # type: ignore[return-value]


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


def _under_progress(
    description: str, total: int | None, work: Callable[[Callable[..., None]], T]
) -> T:
    """Run `work(move)` under one progress bar, `move(**fields)` updating it (`total=None`: a
    length not known in advance); expected failures end in one line."""
    with progress() as bar:
        task = bar.add_task(description, total=total)
        return run_guarded(lambda: work(functools.partial(bar.update, task)))


@with_window_flags
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
    tracking_uri: TrackingOption = None,
    windows: WindowFlags = WindowFlags(),
) -> None:
    """Train the churn, recall and value models out of time against baselines; log, register."""
    from training import train_models

    cfg = experiment_config(config, windows)
    results = _under_progress(
        "training",
        None,
        lambda move: train_models(
            cfg,
            events,
            tracking_uri=tracking_uri,
            register_model=register,
            models=_kinds(model, cfg.models),
            on_step=lambda message: move(description=message),
        ),
    )
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


@with_window_flags
def tune(
    config: ConfigOption = None,
    trials: Annotated[
        int | None, typer.Option("--trials", help="Trials to add to the study.", min=1)
    ] = None,
    events: TrainingEventsOption = None,
    model: ModelOption = None,
    storage: Annotated[
        str, typer.Option("--storage", help="Optuna RDB storage; the study resumes from it.")
    ] = "sqlite:///optuna.db",
    study_name: Annotated[
        str | None, typer.Option("--study-name", help="Default: <config name>-<model>.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Where the tuned config goes (default: experiments/<name>-tuned.yaml)."
        ),
    ] = None,
    tracking_uri: TrackingOption = None,
    windows: WindowFlags = WindowFlags(),
) -> None:
    """Search LightGBM parameters with Optuna (nested MLflow runs); write the best as a config."""
    from training import tune as run_tune

    cfg = experiment_config(config, windows)
    kind = _kinds(model, (cfg.tuning.model,))[0]
    n = trials or cfg.tuning.trials
    result = _under_progress(
        f"tuning the {kind} model",
        n,
        lambda move: run_tune(
            cfg,
            events,
            trials=n,
            kind=kind,
            storage=storage,
            study_name=study_name,
            out_path=out,
            tracking_uri=tracking_uri,
            on_trial=lambda number, note: move(advance=1, description=f"trial {number}: {note}"),
        ),
    )
    table = Table(title=f"best of study {result.study_name}")
    table.add_column("parameter")
    table.add_column("value", justify="right")
    for key, value in result.best_params.items():
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    table.add_row(f"OOT-fit {result.metric}", f"{result.best_value:.4f}", style="bold")
    console.print(table)
    console.print(
        f"parent run id [bold]{result.parent_run_id}[/] ({len(result.trial_run_ids)} nested trial "
        f"runs; {result.n_complete} complete, {result.n_pruned} pruned in the study)"
    )
    console.print(
        f"tuned config written to [bold]{result.config_path}[/]; train it with "
        f"`retain train --config {result.config_path}`"
    )


@with_window_flags
def backtest(
    events: TrainingEventsOption = None,
    config: ConfigOption = None,
    model: ModelOption = None,
    origins: Annotated[
        int, typer.Option("--origins", help="Successive OOT cutoffs to evaluate at.", min=2)
    ] = 3,
    tracking_uri: TrackingOption = None,
    windows: WindowFlags = WindowFlags(),
) -> None:
    """Rolling-origin backtest: train and evaluate at successive cutoffs; report stability."""
    from training import backtest as run_backtest

    cfg = experiment_config(config, windows)
    results = _under_progress(
        "building the features",
        None,
        lambda move: run_backtest(
            cfg,
            events,
            origins=origins,
            models=_kinds(model, cfg.models),
            tracking_uri=tracking_uri,
            on_origin=lambda t, done, total: move(
                completed=done, total=total, description=f"origin {t:%Y-%m-%d}"
            ),
        ),
    )
    for result in results:
        table = Table(
            title=f"{result.kind} model: metric stability over {len(result.per_origin)} origins"
        )
        for column in ("metric", "mean", "std", "min", "max", "cv"):
            table.add_column(column, justify="left" if column == "metric" else "right")
        for metric, row in result.summary.iterrows():
            cells = (metric_cell(str(metric), float(row[c])) for c in ("mean", "std", "min", "max"))
            table.add_row(str(metric), *cells, metric_cell("cv", float(row["cv"])))
        console.print(table)
        console.print(f"{result.kind}: backtest run id [bold]{result.run_id}[/]")
