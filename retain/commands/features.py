"""`retain features`: one row per user with point-in-time features (and labels) at a cutoff."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from features import (
    ENGINES,
    EventContractError,
    WindowConfig,
    check_engine,
    check_output_path,
    write_frame,
)
from retain.commands.window_options import WindowFlags, parse_as_of, with_window_flags
from retain.console import console, fail, progress

EventsOption = Annotated[
    Path,
    typer.Option(
        "--events",
        help="Event file or folder (.parquet, .csv, .jsonl), or a CDNOW / Online Retail file.",
    ),
]
FormatOption = Annotated[
    str,
    typer.Option("--format", help="Input format: auto, events, cdnow or online_retail."),
]
EngineOption = Annotated[
    str, typer.Option("--engine", help=f"Where the features run: {' or '.join(ENGINES)}.")
]


def require_engine(engine: str) -> None:
    """End the command with one line naming the choices unless `engine` is known."""
    try:
        check_engine(engine)
    except ValueError as error:
        fail(str(error))


@with_window_flags
def features(
    events: EventsOption,
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
    input_format: FormatOption = "auto",
    partitioned: Annotated[
        bool,
        typer.Option(
            "--partitioned",
            help="Write --out as a partitioned Parquet folder (`cutoff=<date>/`) with Spark.",
        ),
    ] = False,
    windows: WindowFlags = WindowFlags(),
) -> None:
    """Build point-in-time behavioural features for every user seen before the cutoff."""
    from features import feature_frame, load_events

    cutoff = parse_as_of(as_of)
    window = windows.apply()
    require_engine(engine)
    if partitioned or not out.suffix:
        if engine != "spark":
            fail(f"{out}: a partitioned feature table is written by Spark; add --engine spark")
        _features_to_table(events, cutoff, window, out, labels, input_format)
        return
    try:
        check_output_path(out)
    except ValueError as error:
        fail(str(error))
    started = time.perf_counter()
    try:
        with progress() as bar:
            task = bar.add_task(f"loading events ({engine})", total=3)
            loaded = load_events(events, engine, fmt=input_format)
            bar.update(task, advance=1, description="building features")
            frame = feature_frame(loaded, cutoff, window, labels=labels)
            bar.update(task, advance=1, description="writing")
            write_frame(frame, out)
            bar.update(task, advance=1, description="done")
    except EventContractError as error:
        fail(str(error))
    console.print(loaded.report.summary())
    console.print(
        f"wrote {len(frame):,} users × {frame.shape[1]} columns as of {cutoff:%Y-%m-%d %H:%M} UTC "
        f"to {out} in {time.perf_counter() - started:.1f}s"
    )
    if labels and "churned" in frame:
        labelled = frame["churned"].notna()
        console.print(
            f"labels: {int(labelled.sum()):,} users active at the cutoff, churn rate "
            f"{frame.loc[labelled, 'churned'].mean():.1%}; future value total "
            f"{frame['future_value'].sum():,.2f}"
        )


def _features_to_table(
    events: Path,
    cutoff: datetime,
    window: WindowConfig,
    out: Path,
    labels: bool,
    input_format: str,
) -> None:
    """`--engine spark` into a folder: Spark reads, builds and writes; nothing is collected."""
    from features import load_events, write_feature_table

    started = time.perf_counter()
    try:
        with progress() as bar:
            task = bar.add_task("loading events (spark)", total=2)
            loaded = load_events(events, "spark", fmt=input_format)
            bar.update(task, advance=1, description="building and writing features (spark)")
            written = write_feature_table(loaded, cutoff, window, out, labels=labels)
            bar.update(task, advance=1, description="done")
    except EventContractError as error:
        fail(str(error))
    console.print(loaded.report.summary())
    console.print(
        f"wrote {written.rows:,} users × {written.columns} columns as of "
        f"{cutoff:%Y-%m-%d %H:%M} UTC to {out}/cutoff={written.cutoff}/ "
        f"in {time.perf_counter() - started:.1f}s"
    )
    if written.labels:
        console.print(
            f"labels: {int(written.labels['labelled']):,} users active at the cutoff, churn rate "
            f"{written.labels['churn_rate']:.1%}; future value total "
            f"{written.labels['future_value']:,.2f}"
        )
