"""`retain backtest`: train and evaluate at successive cutoffs, beside the baselines.

A plain Typer command registered by `retain/cli.py`. Heavy imports happen inside the command so
`retain --help` stays fast. Per model it prints, origin by origin, the headline metrics (the
ones the model must beat every baseline on) and the promotion metric for the model and each
baseline with the margin over the best of them, then the stability of the model's metrics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from retain.commands.import_options import ImportFlags, with_import_flags
from retain.commands.options import ConfigOption, ModelOption, TrackingOption, TrainingEventsOption
from retain.commands.train import experiment_config, metric_cell, under_progress
from retain.commands.window_options import WindowFlags, with_window_flags
from retain.console import console

if TYPE_CHECKING:
    from collections.abc import Sequence

    from training import BacktestResult


def origins_table(result: BacktestResult, metrics: Sequence[str]) -> Table:
    """One row per origin and metric: the model, each baseline, the margin over the best."""
    frame = result.versus_baselines(metrics)
    table = Table(title=f"{result.kind} model vs baselines at each origin (OOT report half)")
    for column in ("origin", "metric", "model", *result.baselines, "margin"):
        table.add_column(column, justify="left" if column in ("origin", "metric") else "right")
    for _, row in frame.iterrows():
        margin = float(row["margin"])
        style = "red" if margin <= 0 else None  # not better than the best baseline here
        cells = [metric_cell(row["metric"], float(row[c])) for c in ("model", *result.baselines)]
        table.add_row(
            f"{row['origin']:%Y-%m-%d}",
            str(row["metric"]),
            *cells,
            f"{margin:+.4f}" if margin == margin else "–",
            style=style,
        )
    return table


def stability_table(result: BacktestResult) -> Table:
    """Mean, spread and range of each of the model's metrics over the origins."""
    title = f"{result.kind} model: metric stability over {len(result.per_origin)} origins"
    table = Table(title=title)
    for column in ("metric", "mean", "std", "min", "max", "cv"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for metric, row in result.summary.iterrows():
        cells = (metric_cell(str(metric), float(row[c])) for c in ("mean", "std", "min", "max"))
        table.add_row(str(metric), *cells, metric_cell("cv", float(row["cv"])))
    return table


@with_window_flags
@with_import_flags
def backtest(
    events: TrainingEventsOption = None,
    config: ConfigOption = None,
    model: ModelOption = None,
    origins: Annotated[
        int, typer.Option("--origins", help="Successive OOT cutoffs to evaluate at.", min=2)
    ] = 3,
    tracking_uri: TrackingOption = None,
    windows: WindowFlags = WindowFlags(),
    reading: ImportFlags = ImportFlags(),
) -> None:
    """Rolling-origin backtest: train and evaluate at successive cutoffs, beside the baselines."""
    from training import HEADLINE
    from training import backtest as run_backtest

    cfg = experiment_config(config, windows, reading)
    results = under_progress(
        "building the features",
        None,
        lambda move: run_backtest(
            cfg,
            events,
            origins=origins,
            models=(model,) if model is not None else None,
            tracking_uri=tracking_uri,
            on_origin=lambda t, done, total: move(
                completed=done, total=total, description=f"origin {t:%Y-%m-%d}"
            ),
        ),
    )
    for result in results:
        shown = dict.fromkeys([*HEADLINE[result.kind], cfg.promotion.metric_for(result.kind)])
        console.print(origins_table(result, list(shown)))
        console.print(stability_table(result))
        console.print(
            f"{result.kind}: backtest run id [bold]{result.run_id}[/] (metrics per origin as "
            "steps, step 0 = the earliest origin; parameters origin.<step> give the dates)"
        )
