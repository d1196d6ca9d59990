"""`retain score`: every user scored and decided, written to a file (`churn-list` and
`action-plan` are in lists.py, `serve` in serve.py).

Plain Typer command functions that `retain/cli.py` registers. Heavy imports (MLflow, LightGBM,
BentoML) happen inside the commands so `retain --help` stays fast. Expected failures (a bad
file, no champion, a feature-set mismatch, a typo in a filter) end in one red line, exit 2.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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


BatchUsersOption = Annotated[
    int | None,
    typer.Option(
        "--batch-users",
        min=1,
        help="Stream: score in batches of at most this many users (memory follows the batch; "
        "budget and capacities still hold over everyone). Default: runs above "
        "1,000,000 users stream by themselves, batches sized for --memory-gb.",
    ),
]
MemoryOption = Annotated[
    float | None,
    typer.Option(
        "--memory-gb",
        min=1.0,
        help="Memory target of a streamed run (default 4): sets the batch size; users that fit "
        "one batch are scored at once.",
    ),
]


@dataclass(frozen=True)
class Streaming:
    """How a command asked to stream (flags as given) and what a streamed run does with its
    batches: `out` gets the score file, `each_batch` sees every part of the table as it is
    written (a batch, or a chunk of one)."""

    batch_users: int | None = None
    memory_gb: float | None = None
    out: Path | None = None
    with_features: bool = False
    each_batch: Callable[[Any], None] | None = None

    def flags(self) -> dict[str, object]:
        return {"--batch-users": self.batch_users, "--memory-gb": self.memory_gb}


def _stream_plan(loaded: Any, cutoff: Any, champions: Any, config: Any, streaming: Streaming):
    """The batches to stream in, or None to score everyone at once (serving.choose_plan).

    A run that would stream only because it is large, but cannot (a holdout, a feature set
    fitted on the population), is scored at once with a note; asked for by flag, it is refused
    by the streamed run itself.
    """
    from serving import check_streamable, choose_plan, count_users, latest_cutoff

    users = count_users(loaded, cutoff or latest_cutoff(loaded))
    plan = choose_plan(users, streaming.batch_users, streaming.memory_gb)
    if plan is None or any(v is not None for v in streaming.flags().values()):
        return plan
    try:
        check_streamable(champions, config)
    except ValueError as why:
        console.print(f"[yellow]{users:,} users scored at once, not streamed:[/] {why}")
        return None
    return plan


def _streamed(
    loaded: Any,
    champions: Any,
    plan: Any,
    cutoff: Any,
    config: Any,
    windows: Any,
    streaming: Streaming,
) -> Any:
    from serving import score_streamed

    return score_streamed(
        loaded,
        champions,
        streaming.out,
        plan,
        as_of=cutoff,
        config=config,
        windows=windows,
        with_features=streaming.with_features,
        each_batch=streaming.each_batch,
    )


def score_events_for_command(
    events: Path,
    as_of: str | None,
    tracking_uri: str | None,
    window_flags: WindowFlags,
    decisions: DecisionFlags,
    attribution: str | None,
    import_profile: ImportProfile | None = None,
    streaming: Streaming | None = None,
) -> tuple[Any, Any]:
    """Load champions and events, build features, score: the shared body of `score`,
    `churn-list` and `action-plan`. Returns the scored run (a `ScoredUsers`, or a `StreamedRun`
    whose batches went to `streaming`) and the champions' windows (what the run's manifest
    records)."""

    from features import load_events
    from serving import score_events

    cutoff = parse_as_of(as_of) if as_of else None
    config = decisions.scoring_config(attribution)
    streaming = streaming or Streaming()
    with progress() as bar:
        task = bar.add_task("loading the champion models", total=3)
        champions, windows = champions_for(tracking_uri, window_flags)
        bar.update(task, advance=1, description=f"loading events from {events}")
        loaded = guarded(lambda: load_events(events, import_profile=import_profile))
        warn_if_far_past_the_data(cutoff, loaded.report.max_event_time, windows.active_window_days)
        bar.update(task, advance=1, description="counting users")
        plan = guarded(lambda: _stream_plan(loaded, cutoff, champions, config, streaming))
        if plan is None:
            bar.update(task, description="building features and scoring")
            scored = guarded(lambda: score_events(loaded, champions, cutoff, config, windows))
        else:
            bar.update(task, description=f"streaming {plan.users:,} users in {plan.batches} "
                       "batches")  # fmt: skip
            scored = guarded(lambda: _streamed(loaded, champions, plan, cutoff, config, windows,
                                               streaming))  # fmt: skip
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
    batch_users: BatchUsersOption = None,
    memory_gb: MemoryOption = None,
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
        refuse(Streaming(batch_users, memory_gb).flags(), "with --engine spark (it partitions)")

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
    totals: list[Any] = []
    streaming = Streaming(
        batch_users, memory_gb, out, with_features, lambda table: totals.append(stage_totals(table))
    )
    scored, trained_windows = score_events_for_command(
        events, as_of, tracking_uri, flags, decisions, reasons, reading.resolve(), streaming
    )
    if getattr(scored, "plan", None) is not None:  # a StreamedRun: the file is written
        _report_streamed(scored, totals, events, trained_windows)
        return
    frame = scored.scores
    if with_features:
        extra = [c for c in scored.features.columns if c not in frame.columns]
        frame = frame.join(scored.features[extra])
        frame.attrs.update(scored.scores.attrs)  # a join drops attrs: keep the decision summary
    guarded(lambda: write_frame(frame, out))
    console.print(summary_table(stage_totals(scored.scores)))
    print_arms(scored.scores)
    _track(scored.scores, scored.as_of, scored.decisions, events, out, trained_windows)
    console.print(f"wrote {len(frame):,} users as of {scored.as_of:%Y-%m-%d %H:%M} UTC to {out}")


def _report_streamed(run: Any, totals: list[Any], events: Path, windows: Any) -> None:
    """A streamed run wrote its file batch by batch: sum the batches' totals, record it."""
    import pandas as pd

    from serving import narrow_scores

    by_stage = pd.concat(totals).groupby("lifecycle_stage", sort=True).sum().reset_index()
    console.print(summary_table(by_stage))
    table = guarded(lambda: narrow_scores(run.output))
    _track(table, run.as_of, run.decisions, events, run.output, windows)
    console.print(
        f"wrote {run.users:,} users as of {run.as_of:%Y-%m-%d %H:%M} UTC to {run.output} "
        f"(streamed in {run.plan.batches} batches, the largest {run.largest_batch:,} users)"
    )


def _track(scores: Any, as_of: Any, decisions: Any, events: Path, out: Path, windows: Any) -> None:
    """Record the run's manifest and decisions in MLflow (experiment retain-scoring); say where."""
    from serving import SCORING_EXPERIMENT, VERSION_COLUMNS, record_scoring_run

    first = scores.iloc[0]  # scoring refuses an empty population
    run_id = record_scoring_run(
        scores,
        as_of=as_of,
        engine="duckdb",
        output=out,
        source=events,
        model_versions={c.removesuffix("_model_version"): str(first[c]) for c in VERSION_COLUMNS},
        windows=windows,
        decisions=decisions,
    )
    console.print(f"manifest logged to MLflow: experiment {SCORING_EXPERIMENT}, run {run_id}")
