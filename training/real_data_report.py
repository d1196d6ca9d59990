"""A `retain evaluate` result as Markdown (for docs/real-data.md) and as one MLflow run.

Why separate from the protocol: the comparison itself (`training.real_data`) stays free of
MLflow and formatting so tests can check numbers directly, and the same Markdown the command
writes is what goes into the results section, so the docs cannot drift from the command.
"""

from __future__ import annotations

import math

import pandas as pd

from training.config import ExperimentConfig
from training.metric_names import report_metric, report_metrics
from training.real_data import RETAIN, ModelComparison, RealDataEvaluation
from training.tracking import configure, finite, flatten, provenance_tags

CHURN_ROWS: tuple[str, ...] = ("roc_auc", "pr_auc", "lift_at_10", "recall_at_10", "brier", "ece")
VALUE_ROWS: tuple[str, ...] = ("spearman", "gini", "decile_mape", "top10_share", "mae")
CONTEXT_ROWS: tuple[str, ...] = ("churn_rate", "mean_actual", "mean_predicted", "rows")


def format_cell(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4f}"


def comparison_rows(comparison: ModelComparison) -> pd.DataFrame:
    """The table in display order: headline metrics first, then context rows."""
    wanted = CHURN_ROWS if comparison.kind == "churn" else VALUE_ROWS
    order = [m for m in (*wanted, *CONTEXT_ROWS) if m in comparison.table.index]
    return comparison.table.loc[order]


def markdown_table(comparison: ModelComparison) -> str:
    """A GitHub Markdown table: one row per metric, one column per model."""
    table = comparison_rows(comparison)
    header = "| metric | " + " | ".join(table.columns) + " |"
    rule = "|---|" + "---:|" * len(table.columns)
    lines = [header, rule]
    for metric, row in table.iterrows():
        lines.append(f"| {metric} | " + " | ".join(format_cell(v) for v in row.to_numpy()) + " |")
    return "\n".join(lines)


def _split_line(comparison: ModelComparison) -> str:
    cutoffs = ", ".join(f"{t:%Y-%m-%d}" for t in comparison.train_cutoffs)
    rows = comparison.rows
    return (
        f"trained on {rows['train']:,} rows at {cutoffs}; early stopping and calibration on "
        f"{rows['validation']:,} rows at {comparison.validation_cutoff:%Y-%m-%d}; scored on "
        f"{rows['as_of']:,} users"
    )


def calibration_line(comparison: ModelComparison) -> str | None:
    """The calibration check's line (churn: ECE; value: mean scale) naming the validation
    cutoff; None when not measured."""
    if comparison.calibration is None:
        return None
    return comparison.calibration.line(f"{comparison.validation_cutoff:%Y-%m-%d}")


def _calibration_lines(comparison: ModelComparison) -> list[str]:
    line = calibration_line(comparison)
    return [] if line is None else [line, ""]


def to_markdown(result: RealDataEvaluation) -> str:
    """The whole result: settings, both tables, the BG/NBD fit and the headline."""
    w = result.windows
    params = ", ".join(f"{k} {v:.4g}" for k, v in result.bgnbd_params.items())
    spend = (
        ", ".join(f"{k} {v:.4g}" for k, v in result.spend_params.items())
        if result.spend_params
        else "not fitted (too few repeat buyers)"
    )
    return "\n".join(
        [
            f"**{result.source}**, as of **{result.as_of:%Y-%m-%d}**; churn horizon "
            f"{w.churn_horizon_days} d, value horizon {w.value_horizon_days} d, active window "
            f"{w.active_window_days} d. {result.load_summary}.",
            "",
            f"Churn ({_split_line(result.churn)}):",
            "",
            markdown_table(result.churn),
            "",
            *_calibration_lines(result.churn),
            f"Value ({_split_line(result.value)}):",
            "",
            markdown_table(result.value),
            "",
            *_calibration_lines(result.value),
            f"BG/NBD on {result.customers:,} customers (weeks): {params}; log-likelihood "
            f"{result.bgnbd_log_likelihood:,.1f}. Gamma-Gamma: {spend}.",
            "",
            f"**{result.headline()}**.",
        ]
    )


def log_evaluation(
    result: RealDataEvaluation, config: ExperimentConfig, tracking_uri: str | None = None
) -> str:
    """One MLflow run: settings as params, metrics named as a training run names them with the
    model kind in front (`churn.oot_roc_auc`, `churn.rfm_logreg_oot_roc_auc`: Retain and each
    baseline on the users scored at --as-of, `training.metric_names`), tables as files."""
    import mlflow

    configure(tracking_uri, config.experiment)
    tags = provenance_tags(config.feature_set, result.fingerprint, config.name)
    tags["run_type"] = "evaluate"
    with mlflow.start_run(run_name=f"evaluate-{result.as_of:%Y-%m-%d}", tags=tags) as run:
        mlflow.log_params(
            {
                "events": result.source,
                "as_of": f"{result.as_of:%Y-%m-%d}",
                **flatten("windows", result.windows.model_dump(mode="json")),
                "churn.train_cutoffs": ",".join(
                    f"{t:%Y-%m-%d}" for t in result.churn.train_cutoffs
                ),
                "value.train_cutoffs": ",".join(
                    f"{t:%Y-%m-%d}" for t in result.value.train_cutoffs
                ),
            }
        )
        for comparison in (result.churn, result.value):
            table = comparison.table.astype(float)
            named = report_metrics(table[RETAIN], {b: table[b] for b in table if b != RETAIN})
            if comparison.calibration is not None:  # as `calibration.<figure>`
                named |= {
                    f"calibration.{k}": v for k, v in comparison.calibration.metrics().items()
                }
            mlflow.log_metrics(finite({f"{comparison.kind}.{k}": v for k, v in named.items()}))
            mlflow.log_text(comparison.table.to_csv(), f"evaluate/{comparison.kind}.csv")
        interval = result.churn.roc_auc_margin_interval or (float("nan"), float("nan"))
        margin = f"churn.{report_metric('roc_auc')}_margin"
        mlflow.log_metrics(
            finite(
                {
                    **{f"bgnbd.{k}": v for k, v in result.bgnbd_params.items()},
                    "bgnbd.log_likelihood": result.bgnbd_log_likelihood,
                    f"{margin}_over_best_baseline": result.churn.margin("roc_auc"),
                    f"{margin}_ci_low": interval[0],
                    f"{margin}_ci_high": interval[1],
                }
            )
        )
        mlflow.log_text(config.to_yaml(), "config/resolved_config.yaml")
        mlflow.log_text(to_markdown(result), "evaluate/report.md")
    return run.info.run_id
