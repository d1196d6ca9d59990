"""`retain score`: every user scored and decided, written to a file (`churn-list` and
`action-plan` are in lists.py, `serve` in serve.py).

Plain Typer command functions that `retain/cli.py` registers. Heavy imports (MLflow, LightGBM,
BentoML) happen inside the commands so `retain --help` stays fast. Expected failures (a bad
file, no champion, a feature-set mismatch, a typo in a filter) end in one red line, exit 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from retain.commands.decision_flags import DecisionFlags, with_decision_flags
from retain.commands.import_options import ImportFlags, with_import_flags
from retain.commands.options import (
    AsOfOption,
    EngineOption,
    EventsOption,
    ReasonsOption,
    TrackingOption,
    given_flags,
)
from retain.commands.tables import print_arms, stage_totals, summary_table
from retain.commands.window_options import (
    WindowFlags,
    champions_for,
    parse_as_of,
    warn_if_far_past_the_data,
    with_window_flags,
)
from retain.console import console, fail, guarded, progress, refuse

if TYPE_CHECKING:
    from features import ImportProfile


def score_events_for_command(
    events: Path,
    as_of: str | None,
    tracking_uri: str | None,
    window_flags: WindowFlags,
    decisions: DecisionFlags,
    attribution: str | None,
    import_profile: ImportProfile | None = None,
) -> tuple[Any, Any]:
    """Load champions and events, build features, score: the shared body of `score`,
    `churn-list` and `action-plan`. Returns the scored run and the champions' windows (what
    the run's manifest records)."""

    from features import load_events
    from serving import score_events

    cutoff = parse_as_of(as_of) if as_of else None
    config = decisions.scoring_config(attribution)
    with progress() as bar:
        task = bar.add_task("loading the champion models", total=3)
        champions, windows = champions_for(tracking_uri, window_flags)
        bar.update(task, advance=1, description=f"loading events from {events}")
        loaded = guarded(lambda: load_events(events, import_profile=import_profile))
        warn_if_far_past_the_data(cutoff, loaded.report.max_event_time, windows.active_window_days)
        bar.update(task, advance=1, description="building features and scoring")
        scored = guarded(lambda: score_events(loaded, champions, cutoff, config, windows))
        bar.update(task, advance=1, description="scored")
    console.print(loaded.report.summary())
    if scored.decisions is not None:
        console.print(scored.decisions.line())
    return scored, windows


@with_window_flags
@with_decision_flags
@with_import_flags
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
    with_features: Annotated[
        bool,
        typer.Option("--with-features", help="Also write the features (lets `serve` explain)."),
    ] = False,
    reasons: ReasonsOption = None,
    tracking_uri: TrackingOption = None,
    engine: EngineOption = "duckdb",
    features: Annotated[
        Path | None,
        typer.Option(
            "--features",
            help="With --engine spark: a partitioned feature table from `retain features`.",
        ),
    ] = None,
    decisions: DecisionFlags | None = None,
    windows: WindowFlags | None = None,
    reading: ImportFlags | None = None,
) -> None:
    """Score every user with the champion models: stage, tier, next best action and reasons.

    On spark, predictions run as an MLflow spark_udf over a Spark feature table (built from
    --events, or read with --features).
    """
    from features import check_output_path, write_frame

    flags = windows or WindowFlags()
    decisions = decisions or DecisionFlags()
    reading = reading or ImportFlags()
    if engine == "spark":
        from retain.commands.score_spark import score_on_spark

        refuse(given_flags(reading), "with --engine spark (not wired there yet)")

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
    refuse({"--features": features}, "with --engine duckdb (it builds the features itself)")
    if events is None:
        fail("give --events (with --engine spark, --features reads a feature table instead)")
    guarded(lambda: check_output_path(out))
    scored, trained_windows = score_events_for_command(
        events, as_of, tracking_uri, flags, decisions, reasons, reading.resolve()
    )
    frame = scored.scores
    if with_features:
        extra = [c for c in scored.features.columns if c not in frame.columns]
        frame = frame.join(scored.features[extra])
        frame.attrs.update(scored.scores.attrs)  # a join drops attrs: keep the decision summary
    guarded(lambda: write_frame(frame, out))
    console.print(summary_table(stage_totals(scored.scores)))
    print_arms(scored.scores)
    _track(scored, events, out, trained_windows)
    console.print(f"wrote {len(frame):,} users as of {scored.as_of:%Y-%m-%d %H:%M} UTC to {out}")


def _track(scored: Any, events: Path, out: Path, windows: Any) -> None:
    """Record the run's manifest and decisions in MLflow (experiment retain-scoring); say where."""
    from serving import SCORING_EXPERIMENT, VERSION_COLUMNS, record_scoring_run

    first = scored.scores.iloc[0]  # scoring refuses an empty population
    run_id = record_scoring_run(
        scored.scores,
        as_of=scored.as_of,
        engine="duckdb",
        output=out,
        source=events,
        model_versions={c.removesuffix("_model_version"): str(first[c]) for c in VERSION_COLUMNS},
        windows=windows,
        decisions=scored.decisions,
    )
    console.print(f"manifest logged to MLflow: experiment {SCORING_EXPERIMENT}, run {run_id}")
