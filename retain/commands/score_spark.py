"""`retain score --engine spark`: the body of the command when Spark does the work.

Why apart from retain/commands/score.py: the DuckDB path keeps its pandas frames; this one keeps
Spark DataFrames end to end (features → predictions → row-wise steps → written table) and only
brings narrow columns and per-stage totals to the driver (see serving/scoring/spark.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from retain.commands.window_options import WindowFlags, parse_as_of
from retain.console import console, fail, progress


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
    from dataclasses import asdict

    from features import check_output_path, connect, load_events, read_feature_table, spark_features
    from retain.commands.scoring_options import guarded
    from retain.commands.tables import summary_table
    from serving import (
        latest_cutoff,
        load_champions,
        refuse_window_flags,
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
        champions = guarded(lambda: load_champions(tracking_uri))
        windows = champions.windows()
        guarded(lambda: refuse_window_flags(asdict(window_flags), windows))
        bar.update(task, advance=1, description="starting Spark")
        backend = connect("spark")
        if features is not None:
            table = guarded(lambda: read_feature_table(features, cutoff, session=backend._session))
        else:
            loaded = guarded(lambda: load_events(events, "spark", backend=backend))
            console.print(loaded.report.summary())
            cutoff = cutoff or guarded(lambda: latest_cutoff(loaded))
            table = guarded(lambda: spark_features(loaded, cutoff, windows))
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
        from serving import SCORING_EXPERIMENT, log_decision_run

        console.print(scored.decisions.line())
        run_id = log_decision_run(
            scored.decisions,
            as_of=scored.as_of,
            versions=champions.versions,
            output=out,
            engine="spark",
        )
        console.print(
            f"decision summary logged to MLflow: experiment {SCORING_EXPERIMENT}, run {run_id}"
        )
    console.print(
        f"wrote {rows:,} users as of {scored.as_of:%Y-%m-%d %H:%M} UTC to {out} "
        f"(predictions by mlflow spark_udf; decisions on the {scored.decided_on})"
    )
