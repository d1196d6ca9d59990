"""`retain score --engine spark`: the body of the command when Spark does the work.

Why apart from retain/commands/score.py: the DuckDB path keeps its pandas frames; this one keeps
Spark DataFrames end to end (features → predictions → row-wise steps → written table) and only
brings narrow columns and per-stage totals to the driver (see serving/scoring/spark.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from retain.commands.window_options import (
    WindowFlags,
    champions_for,
    parse_as_of,
    warn_if_far_past_the_data,
)
from retain.console import console, fail, guarded, progress


def score_on_spark(
    *,
    events: Path | None,
    features: Path | None,
    out: Path,
    as_of: str | None,
    decisions: Any,
    tracking_uri: str | None,
    window_flags: WindowFlags,
    attribution: str | None,
    with_features: bool,
) -> None:
    """Score on Spark and write `out` (a folder: Spark part files; a file: collected)."""

    from features import check_output_path, connect, load_events, read_feature_table, spark_features
    from retain.commands.tables import summary_table
    from serving import (
        SCORING_DAEMON,
        SCORING_EXPERIMENT,
        latest_cutoff,
        read_scores,
        record_scoring_run,
        score_spark,
        score_summary,
        write_scores,
    )

    if (events is None) == (features is None):
        fail("give --events (features built on Spark) or --features (a `retain features` table)")
    if out.suffix:
        guarded(lambda: check_output_path(out))
    config = decisions.scoring_config(attribution)
    cutoff = parse_as_of(as_of) if as_of else None
    with progress() as bar:
        task = bar.add_task("loading the champion models", total=3)
        champions, windows = champions_for(tracking_uri, window_flags)
        bar.update(task, advance=1, description="starting Spark")
        backend = connect("spark", python_daemon=SCORING_DAEMON)
        if features is not None:
            table = guarded(lambda: read_feature_table(features, cutoff, session=backend._session))
        else:
            loaded = guarded(lambda: load_events(events, "spark", backend=backend))
            console.print(loaded.report.summary())
            warn_if_far_past_the_data(
                cutoff, loaded.report.max_event_time, windows.active_window_days
            )
            cutoff = cutoff or guarded(lambda: latest_cutoff(loaded))
            chosen = champions.feature_set  # the champions' set and recorded event types
            table = guarded(lambda: spark_features(loaded, cutoff, windows, feature_set=chosen))
            if with_features:  # read twice (scored, then joined back): build it once
                table = table.persist()
        bar.update(task, advance=1, description="scoring on Spark")
        scored = guarded(lambda: score_spark(table, champions, config))
        if with_features:
            from dataclasses import replace

            extra = [c for c in table.columns if c not in scored.scores.columns]
            joined = scored.scores.join(table.select("user_id", *extra), "user_id")
            scored = replace(scored, scores=joined)
        rows = guarded(lambda: write_scores(scored, out))
        bar.update(task, advance=1, description="scored")
    console.print(summary_table(score_summary(scored)))
    if scored.decisions is not None:
        console.print(scored.decisions.line())
    # The manifest describes what was written, read back (not the lazy plan, scored again).
    written = read_scores(out) if out.suffix else backend._session.read.parquet(str(out))
    run_id = record_scoring_run(
        written,
        as_of=scored.as_of,
        engine="spark",
        output=out,
        source=events or features,  # type: ignore[arg-type]
        model_versions=champions.versions,
        windows=windows,
        decisions=scored.decisions,
    )
    console.print(f"manifest logged to MLflow: experiment {SCORING_EXPERIMENT}, run {run_id}")
    console.print(
        f"wrote {rows:,} users as of {scored.as_of:%Y-%m-%d %H:%M} UTC to {out} "
        f"(predictions by mlflow spark_udf; decisions on the {scored.decided_on})"
    )
