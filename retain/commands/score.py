"""`retain score | churn-list`: the serving stage's batch commands (`serve` is in serve_cli.py).

Plain Typer command functions that `retain/cli.py` registers. Heavy imports (MLflow, LightGBM,
BentoML) happen inside the commands so `retain --help` stays fast. Expected failures (a bad
file, no champion, a feature-set mismatch, a typo in a filter) end in one red line, exit 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from retain.commands.decision_flags import DecisionFlags
from retain.commands.scoring_options import (
    AsOfOption,
    AtRiskOption,
    BudgetOption,
    CatalogueOption,
    ContactsOption,
    EffectsOption,
    EventsOption,
    HoldoutSeedOption,
    HoldoutShareOption,
    ReasonsOption,
    SegmentsOption,
    TrackingOption,
    guarded,
)
from retain.commands.tables import print_arms, stage_totals, summary_table
from retain.commands.window_options import WindowFlags, parse_as_of, with_window_flags
from retain.console import console, fail, progress


def _score(
    events: Path,
    as_of: str | None,
    tracking_uri: str | None,
    window_flags: WindowFlags,
    decisions: DecisionFlags,
    attribution: str | None,
) -> Any:
    """Load champions and events, build features, score: the shared body of the commands."""
    from dataclasses import asdict

    from features import load_events
    from serving import load_champions, refuse_window_flags, score_events

    cutoff = parse_as_of(as_of) if as_of else None
    config = decisions.scoring_config(attribution)
    with progress() as bar:
        task = bar.add_task("loading the champion models", total=3)
        champions = guarded(lambda: load_champions(tracking_uri))
        windows = champions.windows()
        guarded(lambda: refuse_window_flags(asdict(window_flags), windows))
        bar.update(task, advance=1, description=f"loading events from {events}")
        loaded = guarded(lambda: load_events(events))
        bar.update(task, advance=1, description="building features and scoring")
        scored = guarded(lambda: score_events(loaded, champions, cutoff, config, windows))
        bar.update(task, advance=1, description="scored")
    console.print(loaded.report.summary())
    if scored.decisions is not None:
        console.print(scored.decisions.line())
    return scored


@with_window_flags
def score(
    events: EventsOption = None,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Output file, .parquet or .csv (written atomically); with --engine spark, a "
            "folder (no suffix) gets Parquet part files written by Spark.",
        ),
    ] = ...,
    as_of: AsOfOption = None,
    catalogue: CatalogueOption = None,
    budget: BudgetOption = None,
    contacts: ContactsOption = None,
    segments: SegmentsOption = None,
    at_risk_threshold: AtRiskOption = None,
    with_features: Annotated[
        bool,
        typer.Option("--with-features", help="Also write the features (lets `serve` explain)."),
    ] = False,
    reasons: ReasonsOption = None,
    tracking_uri: TrackingOption = None,
    effects: EffectsOption = None,
    holdout_share: HoldoutShareOption = None,
    holdout_seed: HoldoutSeedOption = 0,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="duckdb (embedded) or spark (mlflow spark_udf over a Spark feature table).",
        ),
    ] = "duckdb",
    features: Annotated[
        Path | None,
        typer.Option(
            "--features",
            help="With --engine spark: a partitioned feature table from `retain features`.",
        ),
    ] = None,
    windows: WindowFlags | None = None,
) -> None:
    """Score every user with the champion models: stage, tier, next best action and reasons."""
    from features import check_output_path, write_frame

    flags = windows or WindowFlags()
    decisions = DecisionFlags.pick(locals())
    if engine == "spark":
        from retain.commands.score_spark import score_on_spark

        score_on_spark(
            events=events,
            features=features,
            out=out,
            as_of=as_of,
            decisions=decisions,
            tracking_uri=tracking_uri,
            window_flags=flags,
            attribution=reasons,
            with_features=with_features,
        )
        return
    if engine != "duckdb":
        fail(f"unknown engine {engine!r}; choose duckdb or spark")
    if events is None or features is not None:
        fail("give --events (the DuckDB path builds the features itself; --features is for spark)")
    guarded(lambda: check_output_path(out))
    scored = _score(events, as_of, tracking_uri, flags, decisions, reasons)
    frame = scored.scores
    if with_features:
        extra = [c for c in scored.features.columns if c not in frame.columns]
        frame = frame.join(scored.features[extra])
        frame.attrs.update(scored.scores.attrs)  # a join drops attrs: keep the decision summary
    guarded(lambda: write_frame(frame, out))
    console.print(summary_table(stage_totals(scored.scores)))
    print_arms(scored.scores)
    _track(scored.decisions, scored.as_of, scored.scores, out, "duckdb")
    console.print(f"wrote {len(frame):,} users as of {scored.as_of:%Y-%m-%d %H:%M} UTC to {out}")


def _track(summary: Any, as_of: Any, scores: Any, out: Path, engine: str) -> None:
    """Record the run's decisions in MLflow (experiment retain-scoring) and say where."""
    from serving import SCORING_EXPERIMENT, log_decision_run

    if summary is None:
        return
    versions = {
        kind: str(scores[f"{kind}_model_version"].iloc[0]) if len(scores) else ""
        for kind in ("churn", "recall", "value")
    }
    run_id = log_decision_run(summary, as_of=as_of, versions=versions, output=out, engine=engine)
    console.print(
        f"decision summary logged to MLflow: experiment {SCORING_EXPERIMENT}, run {run_id}"
    )
