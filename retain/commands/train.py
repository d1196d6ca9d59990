"""`retain train | tune | backtest | promote | rollback`: the training stage's commands.

These are plain Typer command functions; `retain/cli.py` registers them on the root app. Heavy
imports (LightGBM, MLflow, Optuna) happen inside the commands so `retain --help` stays fast.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.panel import Panel
from rich.table import Table

from retain.commands.window_options import WindowFlags, with_window_flags

if TYPE_CHECKING:
    from training import ExperimentConfig, ModelKind

from retain.console import console, err_console, fail, progress

EventsOption = Annotated[
    Path | None,
    typer.Option("--events", help="Event file or folder (default: data.events in the config)."),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", help="Experiment YAML (experiments/*.yaml); default: built-in defaults."
    ),
]
ModelOption = Annotated[
    str | None,
    typer.Option("--model", help="churn, recall or value (default: the config's models)."),
]
TrackingOption = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        help="MLflow store (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db here).",
    ),
]
KindOption = Annotated[str, typer.Option("--model", help="Registered model: churn, recall, value.")]


def _config(path: Path | None, windows: WindowFlags | None = None) -> ExperimentConfig:
    """The experiment config with the shared window flags layered on top."""
    from training import ConfigError, load_config

    try:
        config = load_config(path)
        return config.with_windows((windows or WindowFlags()).apply(config.windows))
    except (ConfigError, ValueError) as error:
        fail(str(error))


def _kinds(model: str | None, default: tuple[str, ...]) -> tuple[ModelKind, ...]:
    from training import MODEL_KINDS

    if model is None:
        return default  # type: ignore[return-value]
    if model not in MODEL_KINDS:
        fail(f"--model must be one of {', '.join(MODEL_KINDS)}, not {model!r}")
    return (model,)  # type: ignore[return-value]


def _fmt(value: float | None) -> str:
    return (
        "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"
    )


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
        table.add_row(metric, _fmt(value), *(_fmt(b.get(metric)) for b in baselines.values()))
    return table


def _run_guarded(action):
    """Run `action`, turning expected failures into one-line errors (no traceback)."""
    from features import EventContractError
    from training import ConfigError

    try:
        return action()
    except (ConfigError, EventContractError, ValueError, LookupError, RuntimeError) as error:
        fail(str(error))


@with_window_flags
def train(
    events: EventsOption = None,
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

    cfg = _config(config, windows)
    kinds = _kinds(model, cfg.models)
    with progress() as bar:
        task = bar.add_task("training", total=None)
        results = _run_guarded(
            lambda: train_models(
                cfg,
                str(events) if events else None,
                tracking_uri=tracking_uri,
                register_model=register,
                models=kinds,
                on_step=lambda message: bar.update(task, description=message),
            )
        )
        bar.update(task, description="done")
    lost = False
    for result in results:
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
    events: EventsOption = None,
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

    cfg = _config(config, windows)
    kind = _kinds(model, (cfg.tuning.model,))[0]
    n = trials or cfg.tuning.trials
    with progress() as bar:
        task = bar.add_task(f"tuning the {kind} model", total=n)
        result = _run_guarded(
            lambda: run_tune(
                cfg,
                str(events) if events else None,
                trials=n,
                kind=kind,
                storage=storage,
                study_name=study_name,
                out_path=out,
                tracking_uri=tracking_uri,
                on_trial=lambda number, note: bar.update(
                    task, advance=1, description=f"trial {number}: {note}"
                ),
            )
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
    events: EventsOption = None,
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

    cfg = _config(config, windows)
    kinds = _kinds(model, cfg.models)
    with progress() as bar:
        task = bar.add_task("backtest", total=None)
        results = _run_guarded(
            lambda: run_backtest(
                cfg,
                str(events) if events else None,
                origins=origins,
                models=kinds,
                tracking_uri=tracking_uri,
                on_origin=lambda t, done, total: bar.update(
                    task, description=f"origin {t:%Y-%m-%d} ({done}/{total})"
                ),
            )
        )
    for result in results:
        table = Table(
            title=f"{result.kind} model: metric stability over {len(result.per_origin)} origins"
        )
        for column in ("metric", "mean", "std", "min", "max", "cv"):
            table.add_column(column, justify="left" if column == "metric" else "right")
        for metric, row in result.summary.iterrows():
            table.add_row(
                str(metric), *(_fmt(float(row[c])) for c in ("mean", "std", "min", "max", "cv"))
            )
        console.print(table)
        console.print(f"{result.kind}: backtest run id [bold]{result.run_id}[/]")


def promote(
    model: KindOption,
    config: ConfigOption = None,
    margin: Annotated[
        float | None,
        typer.Option("--margin", help="Required improvement (default: the config's).", min=0),
    ] = None,
    events: Annotated[
        Path | None,
        typer.Option(
            "--events", help="Re-score champion and challenger on this data's OOT cutoff."
        ),
    ] = None,
    rollback_to: Annotated[
        str | None, typer.Option("--rollback-to", help="Instead: make this version champion again.")
    ] = None,
    tracking_uri: TrackingOption = None,
) -> None:
    """Make the challenger champion only if it beats the champion on the same OOT data."""
    from training import configure
    from training import promote as run_promote
    from training import rollback as run_rollback

    kind = _kinds(model, ())[0]
    cfg = _config(config)
    promotion = (
        cfg.promotion if margin is None else cfg.promotion.model_copy(update={"margin": margin})
    )
    configure(tracking_uri, cfg.experiment)
    if rollback_to is not None:
        decision = _run_guarded(lambda: run_rollback(kind, rollback_to))
    else:
        decision = _run_guarded(lambda: run_promote(kind, promotion, events=events))
    _report_decision(decision)


def rollback(
    model: KindOption,
    version: Annotated[str, typer.Option("--version", help="The version that becomes champion.")],
    tracking_uri: TrackingOption = None,
) -> None:
    """Point @champion back at an earlier version in one step."""
    from training import configure
    from training import rollback as run_rollback

    kind = _kinds(model, ())[0]
    configure(tracking_uri)
    _report_decision(_run_guarded(lambda: run_rollback(kind, version)))


def _report_decision(decision) -> None:
    if decision.promoted:
        console.print(f"[bold green]{decision.kind}: promoted[/] — {decision.reason}")
        return
    err_console.print(f"[bold red]{decision.kind}: refused[/] — {decision.reason}")
    raise typer.Exit(1)
