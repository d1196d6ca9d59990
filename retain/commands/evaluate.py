"""`retain evaluate`: Retain against classical baselines on a real log, as of one date.

A plain Typer command registered by `retain/cli.py`. Heavy imports (LightGBM, PyMC, MLflow)
happen inside the command so `retain --help` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from retain.commands.import_options import ImportFlags, with_import_flags
from retain.commands.options import ConfigOption, InputFormatOption, TrackingOption
from retain.commands.train import metric_cell
from retain.commands.window_options import WindowFlags, parse_as_of, with_window_flags
from retain.console import console, fail, progress, refuse

if TYPE_CHECKING:
    import pandas as pd

# Cutoffs stepping back from --as-of: the value model needs its validation cutoff a value
# horizon back and training cutoffs a further horizon back, so the default is more than
# `retain train`'s six.
DEFAULT_EVALUATION_CUTOFFS = 12


def _rich_table(title: str, table: pd.DataFrame) -> Table:
    out = Table(title=title)
    out.add_column("metric")
    for i, name in enumerate(table.columns):
        out.add_column(name, justify="right", style="bold" if i == 0 else None)
    for metric, row in table.iterrows():
        out.add_row(str(metric), *(metric_cell(str(metric), v) for v in row.to_numpy()))
    return out


@with_window_flags
@with_import_flags
def evaluate(
    events: Annotated[Path, typer.Option("--events", help="Event file or folder.")],
    as_of: Annotated[
        str, typer.Option("--as-of", help="Score at this date; compare with what came after.")
    ],
    fmt: InputFormatOption = "auto",
    config: ConfigOption = None,
    cutoffs: Annotated[
        int | None,
        typer.Option(
            "--cutoffs",
            min=2,
            help=f"Labelled cutoffs before --as-of (default {DEFAULT_EVALUATION_CUTOFFS}, "
            "or cutoffs.count where --config sets it).",
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the result as Markdown here.")
    ] = None,
    log: Annotated[
        bool, typer.Option("--log/--no-log", help="Log the comparison to MLflow.")
    ] = True,
    tracking_uri: TrackingOption = None,
    windows: WindowFlags = WindowFlags(),
    reading: ImportFlags = ImportFlags(),
) -> None:
    """Real-data check: train before --as-of, score at it, compare with classical baselines.

    The baselines are the recency rule, RFM logistic regression and BG/NBD + Gamma-Gamma; all are
    judged on what actually happened after --as-of.
    """
    from features import EventContractError
    from training import (
        ConfigError,
        calibration_line,
        comparison_rows,
        load_config,
        log_evaluation,
        run_evaluation,
        to_markdown,
    )

    if not log:
        refuse({"--tracking-uri": tracking_uri}, "with --no-log (nothing is logged to MLflow)")
    moment = parse_as_of(as_of)
    try:
        cfg = load_config(config)
        # The YAML's count only where it names one: `retain train`'s default six is too few here.
        named = "count" in cfg.cutoffs.model_fields_set
        count = cutoffs or (cfg.cutoffs.count if named else DEFAULT_EVALUATION_CUTOFFS)
        cfg = cfg.with_windows(windows.apply(cfg.windows)).model_copy(
            update={
                "data": cfg.data.model_copy(update={"format": fmt}).with_import(reading.resolve()),
                "cutoffs": cfg.cutoffs.model_copy(update={"count": count}),
            }
        )
        with progress() as bar:
            task = bar.add_task("evaluating", total=None)
            result = run_evaluation(
                events, moment, cfg, on_step=lambda m: bar.update(task, description=m)
            )
            if log:
                bar.update(task, description="logging to MLflow")
                run_id = log_evaluation(result, cfg, tracking_uri)
            bar.update(task, description="done")
    except (ConfigError, EventContractError, ValueError) as error:
        fail(str(error))
    console.print(result.load_summary)
    for comparison in (result.churn, result.value):
        title = f"{comparison.kind} at {result.as_of:%Y-%m-%d}, {comparison.rows['as_of']:,} users"
        console.print(_rich_table(title, comparison_rows(comparison)))
        if (line := calibration_line(comparison)) is not None:
            console.print(line)
    params = ", ".join(f"{k}={v:.4g}" for k, v in result.bgnbd_params.items())
    console.print(f"BG/NBD (weeks): {params}; log-likelihood {result.bgnbd_log_likelihood:,.1f}")
    console.print(f"[bold]{result.headline()}[/]")
    if log:
        console.print(f"MLflow run id [bold]{run_id}[/]")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(to_markdown(result) + "\n")
        console.print(f"Markdown written to {out}")
