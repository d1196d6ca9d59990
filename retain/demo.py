"""`retain demo`: the main job on embedded defaults (DuckDB, a local MLflow store).

Steps: simulate an event log → build features and labels at the latest fully labelled cutoff
→ train both models out of time against their baselines, log them to MLflow and register them
(the first models become champions). Scoring, the churn list and the report follow as the
serving stage lands. Every step reuses the stage's own function, never a demo-only copy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from retain.console import console, err_console, fail, progress

DEMO_CONFIG = Path(__file__).resolve().parents[1] / "experiments" / "demo.yaml"


def _demo_config():
    """experiments/demo.yaml in a source checkout, else the built-in defaults named `demo`."""
    from training.config import ExperimentConfig, load_config

    if DEMO_CONFIG.is_file():
        return load_config(DEMO_CONFIG)
    return ExperimentConfig(name="demo")


def _train(events_path: Path, tracking_uri: str | None) -> None:
    from training.cli import metrics_table
    from training.train import train_models

    with progress() as bar:
        task = bar.add_task("training", total=None)
        results = train_models(
            _demo_config(),
            events_path,
            tracking_uri=tracking_uri,
            on_step=lambda message: bar.update(task, description=message),
        )
        bar.update(task, description="trained")
    for result in results:
        console.print(metrics_table(result.kind, result.metrics, result.baseline_metrics))
        console.print(
            f"{result.kind}: run {result.run_id}, registered as version {result.version} "
            f"({', '.join(result.aliases)})"
        )
        if result.warning:
            err_console.print(f"[bold red]WARNING[/] {result.warning}")


def demo(
    out_dir: Annotated[
        Path, typer.Option("--out-dir", help="Where the demo writes its files.")
    ] = Path("retain-output"),
    users: Annotated[int, typer.Option("--users", help="Simulated users.", min=100)] = 20_000,
    days: Annotated[int, typer.Option("--days", help="Simulated days of history.", min=180)] = 365,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same data).")] = 7,
    tracking_uri: Annotated[
        str | None,
        typer.Option(
            "--tracking-uri",
            help="MLflow store (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db here).",
        ),
    ] = None,
) -> None:
    """Simulate events, build features, train and register both models (embedded defaults)."""
    from datetime import timedelta

    from features import WindowConfig, feature_frame, load_events
    from features.output import write_frame
    from features.simulation import SimulationConfig, write_simulation

    events_path = out_dir / "events.parquet"
    summary = write_simulation(SimulationConfig(users=users, days=days, seed=seed), events_path)
    console.print(f"simulated {summary.events:,} events of {users:,} users → {events_path}")
    loaded = load_events(events_path)
    console.print(loaded.report.summary())
    windows = WindowConfig()
    last = loaded.report.max_event_time
    if last is None:
        fail("the simulated log has no valid events")
    cutoff = (last - timedelta(days=windows.label_horizon_days)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    frame = feature_frame(loaded, cutoff, windows, labels=True)
    path = write_frame(frame, out_dir / "features.parquet")
    console.print(f"features for {len(frame):,} users as of {cutoff:%Y-%m-%d} written to {path}")
    try:
        _train(events_path, tracking_uri)
    except ValueError as error:
        fail(str(error))
