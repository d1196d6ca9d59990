"""`retain demo`: the main job on embedded defaults (DuckDB, a local MLflow store).

Steps: simulate an event log → train both models out of time against their baselines, log them
to MLflow and register them (the first models become champions) → load the champions by alias
and score every user at the end of the log (stage, tier, next best action, reasons) → write the
scores, the features they came from, the operator's churn list and the HTML report. Every
step calls the stage's own function, never a demo-only copy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from retain.commands.options import TrackingOption
from retain.console import console, err_console, fail, progress

DEMO_CONFIG = Path(__file__).resolve().parents[2] / "experiments" / "demo.yaml"


def _demo_config():
    """experiments/demo.yaml in a source checkout, else the built-in defaults named `demo`."""
    from training import ExperimentConfig, load_config

    if DEMO_CONFIG.is_file():
        return load_config(DEMO_CONFIG)
    return ExperimentConfig(name="demo")


def _train(events_path: Path, tracking_uri: str | None) -> None:
    from retain.commands.train import metrics_table
    from training import train_models

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


def _score(events_path: Path, out_dir: Path, tracking_uri: str | None) -> None:
    """Score every user with the champions; write scores, features and the churn list."""
    from features import load_events, write_frame
    from retain.commands.tables import stage_totals, summary_table
    from serving import ChurnListQuery, action_plan, churn_list, load_champions, score_events

    with progress() as bar:
        task = bar.add_task("loading the champion models", total=2)
        champions = load_champions(tracking_uri)
        bar.update(task, advance=1, description="building features and scoring every user")
        scored = score_events(load_events(events_path), champions)
        bar.update(task, advance=1, description="scored")
    console.print(summary_table(stage_totals(scored.scores)))
    if scored.decisions is not None:
        console.print(scored.decisions.line())
    write_frame(scored.features, out_dir / "features.parquet")
    write_frame(scored.scores, out_dir / "scores.parquet")
    listed = churn_list(scored.scores, ChurnListQuery(top=500))
    write_frame(listed, out_dir / "churn-list.csv")
    plan = action_plan(scored.scores, ChurnListQuery(top=None))
    write_frame(plan, out_dir / "action-plan.csv")
    console.print(
        f"scored {len(scored):,} users as of {scored.as_of:%Y-%m-%d}: {out_dir / 'scores.parquet'};"
        f" churn list (whom we are about to lose, top {len(listed):,} by value at risk): "
        f"{out_dir / 'churn-list.csv'}; action plan (whom we contact, {len(plan):,} users): "
        f"{out_dir / 'action-plan.csv'}"
    )
    _report(scored.scores, events_path, out_dir, tracking_uri)


def _report(scores: Any, events_path: Path, out_dir: Path, tracking_uri: str | None) -> None:
    """The self-contained HTML report of the scoring run."""
    from features import load_events, write_text
    from serving import build_report, model_sections

    page = build_report(
        scores,
        events=load_events(events_path),  # weekly KPIs, the funnel and cohort retention
        models=model_sections(tracking_uri),
        source=str(events_path),
    )
    path = write_text(page, out_dir / "report.html")
    console.print(f"report: {path} (open it in a browser; it works offline)")
    console.print(
        f"next: `retain serve --events {out_dir / 'events.parquet'}` (scores every user at "
        "start-up), then open http://localhost:3000/ui/ for the operator page"
    )


def demo(
    out_dir: Annotated[
        Path, typer.Option("--out-dir", help="Where the demo writes its files.")
    ] = Path("retain-output"),
    users: Annotated[int, typer.Option("--users", help="Simulated users.", min=100)] = 20_000,
    days: Annotated[int, typer.Option("--days", help="Simulated days of history.", min=180)] = 365,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same data).")] = 7,
    tracking_uri: TrackingOption = None,
) -> None:
    """Simulate events, train and register the models, score users, write the two lists."""
    from simulator import SimulationConfig, write_simulation

    events_path = out_dir / "events.parquet"
    summary = write_simulation(SimulationConfig(users=users, days=days, seed=seed), events_path)
    console.print(f"simulated {summary.events:,} events of {users:,} users → {events_path}")
    try:
        _train(events_path, tracking_uri)
        _score(events_path, out_dir, tracking_uri)
    except (ValueError, LookupError) as error:
        fail(str(error))
