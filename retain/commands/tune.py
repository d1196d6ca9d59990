"""`retain tune`: search LightGBM parameters with Optuna for the metric `retain promote` judges.

A plain Typer command registered by `retain/cli.py`. Heavy imports (LightGBM, MLflow, Optuna)
happen inside the command so `retain --help` stays fast. The tuned config goes where `--out`
says; without it, it is only an artifact of the tuning run, and the command prints how to
fetch it: a search never writes into the repository's `experiments/` on its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.panel import Panel
from rich.table import Table

from retain.commands.import_options import ImportFlags, with_import_flags
from retain.commands.options import ConfigOption, ModelKind, TrackingOption, TrainingEventsOption
from retain.commands.train import experiment_config, under_progress
from retain.commands.window_options import WindowFlags, with_window_flags
from retain.console import console, err_console

if TYPE_CHECKING:
    from training import TuneResult


def best_table(result: TuneResult) -> Table:
    """The best trial's parameters and its score, named as the parent run logs it."""
    table = Table(title=f"best of study {result.study_name}")
    table.add_column("parameter")
    table.add_column("value", justify="right")
    for key, value in result.best_params.items():
        table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    table.add_row(result.logged_metric, f"{result.best_value:.4f}", style="bold")
    return table


def where_the_config_is(result: TuneResult, tracking_uri: str) -> str:
    """Where the tuned config was written, or how to download it from the parent run."""
    if result.config_path is not None:
        return (
            f"tuned config written to [bold]{result.config_path}[/] (and logged with the run); "
            f"train it with `retain train --config {result.config_path}`"
        )
    return (
        f"tuned config logged as [bold]runs:/{result.parent_run_id}/{result.config_artifact}[/] "
        "(no file written; --out PATH writes one); download it (to ./tuned_config.yaml) with\n"
        f"  MLFLOW_TRACKING_URI={tracking_uri} mlflow artifacts download "
        f"-r {result.parent_run_id} -a {result.config_artifact} -d ."
    )


@with_window_flags
@with_import_flags
def tune(
    config: ConfigOption = None,
    trials: Annotated[
        int | None, typer.Option("--trials", help="Trials to add to the study.", min=1)
    ] = None,
    events: TrainingEventsOption = None,
    model: Annotated[
        ModelKind | None,
        typer.Option("--model", help="The model to tune (default: tuning.model in the config)."),
    ] = None,
    storage: Annotated[
        str, typer.Option("--storage", help="Optuna RDB storage; the study resumes from it.")
    ] = "sqlite:///optuna.db",
    study_name: Annotated[
        str | None, typer.Option("--study-name", help="Default: <config name>-<model>.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Also write the tuned config here (default: only logged with the tuning run).",
        ),
    ] = None,
    tracking_uri: TrackingOption = None,
    windows: WindowFlags = WindowFlags(),
    reading: ImportFlags = ImportFlags(),
) -> None:
    """Search LightGBM parameters with Optuna for the promotion metric, on the OOT fit half."""
    from training import resolve_tracking_uri
    from training import tune as run_tune

    cfg = experiment_config(config, windows, reading)
    kind = model or cfg.tuning.model
    n = trials or cfg.tuning.trials
    metric = cfg.promotion.metric_for(kind)
    console.print(
        f"optimising {kind} {metric} (what `retain promote` judges: promotion.{kind}_metric) "
        "on the out-of-time fit half; the report half is left for `retain train`"
    )
    result = under_progress(
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
    console.print(best_table(result))
    console.print(
        f"parent run id [bold]{result.parent_run_id}[/] ({len(result.trial_run_ids)} nested trial "
        f"runs; {result.n_complete} complete, {result.n_pruned} pruned in the study); history "
        f"as {result.trial_metric} and {result.logged_metric} (step = trial number), "
        "importances as param_importance.*"
    )
    for note in result.notes:
        err_console.print(Panel(note, title="NOTE", style="yellow"))
    # Not wrapped: the download command must survive a copy and paste.
    console.print(where_the_config_is(result, resolve_tracking_uri(tracking_uri)), soft_wrap=True)
