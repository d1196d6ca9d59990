"""The report's "Model quality" section: each champion's out-of-time metrics against its baselines.

Why read from MLflow: the figures and plots must be the ones the run that produced the champion
logged, not recomputed; when the store or a champion is missing the section says so instead of
failing the whole report. Metric names are shown in words (`roc_auc` → "ROC-AUC"), row counts
as integers, the plots two to a row across the page.
"""

from __future__ import annotations

import base64
import html
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from serving.reporting.labels import humanise, metric_label
from serving.reporting.tables import html_table

MODEL_PLOTS = {
    "churn": ("calibration", "gain_lift"),
    "recall": ("calibration", "gain_lift"),
    "value": ("value_deciles", "gain_lift"),
}


@dataclass(frozen=True)
class ModelSection:
    """One champion's facts for the report (or why they are missing)."""

    kind: str
    version: str | None
    metrics: pd.DataFrame | None
    images: dict[str, str]
    note: str = ""
    charts_note: str = ""  # why there are no plots, when the run logged none


def metric_table(metrics: dict[str, float]) -> pd.DataFrame:
    """Rows = metrics, columns = model and each baseline, from a run's logged metric names."""
    columns: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        if key.startswith("oot_"):
            columns.setdefault("model", {})[key[4:]] = value
        elif "_oot_" in key:
            name, metric = key.split("_oot_", 1)
            columns.setdefault(name, {})[metric] = value
    table = pd.DataFrame(columns)
    return table.drop(index=[r for r in ("rows", "best_iteration") if r in table.index])


def model_sections(tracking_uri: str | None) -> list[ModelSection]:
    """The champions' OOT metrics and plots from MLflow; a note instead when unavailable."""
    import mlflow

    from serving.scoring import point_mlflow_at
    from training import model_info, skipped_figures

    sections = []
    try:
        point_mlflow_at(tracking_uri)
    except (LookupError, ValueError) as error:
        return [ModelSection(k, None, None, {}, str(error)) for k in MODEL_PLOTS]
    for kind, plots in MODEL_PLOTS.items():
        try:
            info = model_info(kind)  # type: ignore[arg-type]
            run = mlflow.MlflowClient().get_run(info.run_id)
        except Exception as error:
            sections.append(ModelSection(kind, None, None, {}, f"no champion: {error}"))
            continue
        images: dict[str, str] = {}
        skipped = skipped_figures(run.data.tags)  # `retain train --no-figures`
        with tempfile.TemporaryDirectory() as folder:
            for plot in plots if not skipped else ():
                try:
                    path = mlflow.artifacts.download_artifacts(
                        run_id=info.run_id, artifact_path=f"plots/{plot}.png", dst_path=folder
                    )
                except Exception:
                    continue
                data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
                images[plot] = f"data:image/png;base64,{data}"
        note = run.data.tags.get("baseline_warning", "")
        charts = f"No charts: this champion was {skipped}." if skipped else ""
        sections.append(
            ModelSection(kind, info.version, metric_table(run.data.metrics), images, note, charts)
        )
    return sections


def _shown(metric: str, value: float) -> str:
    if value != value:
        return "—"
    return f"{value:,.0f}" if metric.endswith("rows") else f"{value:.4f}"


def _labelled(metrics: pd.DataFrame) -> str:
    """The metric table with metrics and baselines in words, row counts as integers."""
    shown = pd.DataFrame(
        {
            "metric": [metric_label(str(name)) for name in metrics.index],
            **{
                str(column): [_shown(str(n), float(v)) for n, v in metrics[column].items()]
                for column in metrics.columns
            },
        }
    )
    headers = {"metric": "Metric", "model": "Model"}
    headers.update({str(c): humanise(c) for c in metrics.columns if c != "model"})
    return html_table(shown, headers=headers, text_columns=("metric",))


def model_quality_html(sections: list[ModelSection]) -> str:
    """The section: per champion its version, any warning, its metric table and its plots."""
    parts = ["<h2>Model quality (out of time, against baselines)</h2>"]
    if not sections:
        parts.append("<p class='muted'>No model store was read.</p>")
    for section in sections:
        version = f" v{section.version}" if section.version else ""
        parts.append(f"<h3>{humanise(section.kind)} model{version}</h3>")
        if section.note:
            parts.append(f"<p class='warn'>{html.escape(section.note)}</p>")
        if section.metrics is not None:
            parts.append(_labelled(section.metrics))
        images = [
            f"<img src='{uri}' alt='{html.escape(f'{section.kind} {humanise(name)}')}'>"
            for name, uri in section.images.items()
        ]
        if images:
            parts.append(f"<div class='plots'>{''.join(images)}</div>")
        elif section.charts_note:
            parts.append(f"<p class='muted'>{html.escape(section.charts_note)}</p>")
    return "\n".join(parts)
