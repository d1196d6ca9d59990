"""`retain features`: one row per user with point-in-time features (and labels) at a cutoff."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from retain.commands.import_options import ImportFlags, with_import_flags
from retain.commands.options import EngineOption, InputFormatOption, RequiredEventsOption
from retain.commands.window_options import (
    WindowFlags,
    parse_as_of,
    warn_if_far_past_the_data,
    with_window_flags,
)
from retain.console import console, fail, guarded, progress

if TYPE_CHECKING:
    import pandas as pd

    from features import LoadedEvents


@with_window_flags
@with_import_flags
def features(
    events: RequiredEventsOption,
    as_of: Annotated[
        str,
        typer.Option("--as-of", help="Cutoff: only events before it are used (YYYY-MM-DD, UTC)."),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Output file, .parquet or .csv (written atomically); with --engine spark, a "
            "folder (no suffix) gets a partitioned Parquet table written by Spark.",
        ),
    ],
    labels: Annotated[
        bool,
        typer.Option(
            "--labels", help="Also compute `churned` and `future_value` from after the cutoff."
        ),
    ] = False,
    engine: EngineOption = "duckdb",
    input_format: InputFormatOption = "auto",
    partitioned: Annotated[
        bool,
        typer.Option(
            "--partitioned",
            help="Write --out as a partitioned Parquet folder (`cutoff=<date>/`) with Spark.",
        ),
    ] = False,
    feature_set_id: Annotated[
        str,
        typer.Option(
            "--feature-set",
            help="Which registered set to build: behavioural_v1 (default, what models train on "
            "unless their config says otherwise) or behavioural_v2.",
        ),
    ] = "behavioural_v1",
    event_types: Annotated[
        str | None,
        typer.Option(
            "--event-types",
            help="behavioural_v2 only: the event types that get per-type columns, comma "
            "separated (default: the log's most frequent types before the cutoff).",
        ),
    ] = None,
    windows: WindowFlags = WindowFlags(),
    reading: ImportFlags = ImportFlags(),
) -> None:
    """Build point-in-time behavioural features for every user seen before the cutoff."""
    from features import (
        check_output_path,
        feature_frame,
        feature_set,
        labels_unseen,
        load_events,
        resolve_feature_set,
        write_feature_table,
        write_frame,
    )

    cutoff = parse_as_of(as_of)
    types = tuple(t.strip() for t in (event_types or "").split(",") if t.strip())
    if event_types is not None and not types:
        fail("--event-types: name at least one event type, or leave the flag out")
    chosen = guarded(lambda: feature_set(feature_set_id, types))
    window = windows.apply()
    to_table = partitioned or not out.suffix
    if to_table and engine != "spark":
        flag = "--partitioned" if partitioned else f"--out {out} (a folder)"
        fail(f"{flag}: a partitioned feature table is written by Spark; add --engine spark")
    if not to_table:
        guarded(lambda: check_output_path(out))
    import_profile = reading.resolve()
    started = time.perf_counter()
    with progress() as bar:
        task = bar.add_task(f"loading events ({engine})", total=3)
        loaded = guarded(
            lambda: load_events(events, engine, fmt=input_format, import_profile=import_profile)
        )
        warn_if_far_past_the_data(cutoff, loaded.report.max_event_time, window.active_window_days)
        last_event = loaded.report.max_event_time
        if labels and last_event and (unseen := labels_unseen(cutoff, last_event, window)):
            fail(f"--labels: {unseen}; pick an earlier --as-of, or drop --labels")
        # Fixed once (v2's default event types are counted now), so the output says what it holds.
        chosen = guarded(lambda: resolve_feature_set(chosen, loaded, cutoff))
        if to_table:  # Spark reads, builds and writes; nothing is collected
            bar.update(task, advance=1, description="building and writing features (spark)")
            written = guarded(
                lambda: write_feature_table(
                    loaded, cutoff, window, out, labels=labels, feature_set=chosen
                )
            )
            rows, columns, where = written.rows, written.columns, f"{out}/cutoff={written.cutoff}/"
            label_totals = written.labels
        else:
            bar.update(task, advance=1, description="building features")
            frame = guarded(
                lambda: feature_frame(loaded, cutoff, window, labels=labels, feature_set=chosen)
            )
            bar.update(task, advance=1, description="writing")
            guarded(lambda: write_frame(frame, out))
            rows, columns, where = len(frame), frame.shape[1], str(out)
            label_totals = _label_totals(frame) if labels else None
        bar.update(task, completed=3, description="done")
    _print_written(loaded, rows, columns, cutoff, where, time.perf_counter() - started)
    if chosen.event_types:
        console.print(f"{chosen.id}: per-type columns for {', '.join(chosen.event_types)}")
    if label_totals:
        console.print(
            f"labels: {int(label_totals['labelled']):,} users active at the cutoff, churn rate "
            f"{label_totals['churn_rate']:.1%}; future value total "
            f"{label_totals['future_value']:,.2f}"
        )


def _label_totals(frame: pd.DataFrame) -> dict[str, float] | None:
    """Users with a churn label, their churn rate and the future value total (what Spark's
    feature table reports too)."""
    if "churned" not in frame:
        return None
    labelled = frame["churned"].notna()
    return {
        "labelled": float(labelled.sum()),
        "churn_rate": float(frame.loc[labelled, "churned"].mean()),
        "future_value": float(frame["future_value"].sum()),
    }


def _print_written(
    loaded: LoadedEvents, rows: int, columns: int, cutoff: datetime, where: str, seconds: float
) -> None:
    """What was read (rows accepted, rejected by reason) and what was written, where."""
    console.print(loaded.report.summary())
    console.print(
        f"wrote {rows:,} users × {columns} columns as of {cutoff:%Y-%m-%d %H:%M} UTC to {where} "
        f"in {seconds:.1f}s"
    )
