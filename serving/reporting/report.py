"""The operator report: one self-contained HTML file that explains a scoring run to operators.

Why a single file with embedded PNGs and inline CSS: operators forward it, open it offline and
archive it with the campaign; nothing beside it can go missing. Sections: headline numbers,
the segment summary (stage × tier grid, risk distribution, revenue at risk, action plan),
the decisions (gain achieved against the LP upper bound, when `retain score` stored the run's
summary in the Parquet metadata), the monitoring verdict (when `retain monitor --json` wrote
one), the action plan's first users, cohort retention curves (when the events are given) and
the champion models' out-of-time quality against their baselines, read from the MLflow run that
produced each champion.

The report does not decide again: it shows the decisions the score file carries, so it needs no
catalogue, budget or contact history to be right (`--budget` only states the usage against it).
Revenue at risk is churn probability × value at stake, as on the churn list.
"""

from __future__ import annotations

import base64
import html
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from serving.decisions import DecisionSummary

MODEL_PLOTS = {
    "churn": ("calibration", "gain_lift"),
    "recall": ("calibration", "gain_lift"),
    "value": ("value_deciles", "gain_lift"),
}
PLAN_ROWS = 50  # users of the action plan shown in the report (the CLI writes the whole plan)
_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#222;padding:0 1rem}
h1{margin-bottom:.2rem} h2{border-bottom:1px solid #ddd;padding-bottom:.3rem;margin-top:2.2rem}
.muted{color:#666} .cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}
.card{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;min-width:9rem}
.card b{display:block;font-size:1.35rem} .charts{display:flex;flex-wrap:wrap;gap:1rem}
.charts img{max-width:100%;border:1px solid #eee} table{border-collapse:collapse;margin:.6rem 0}
th,td{border:1px solid #ddd;padding:.25rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}
.warn{color:#a40000;font-weight:600}
"""


@dataclass(frozen=True)
class ModelSection:
    """One champion's facts for the report (or why they are missing)."""

    kind: str
    version: str | None
    metrics: pd.DataFrame | None
    images: dict[str, str]
    note: str = ""


def _card(label: str, value: str) -> str:
    return f'<div class="card">{html.escape(label)}<b>{html.escape(value)}</b></div>'


def _img(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{html.escape(alt)}">'


def _table(frame: pd.DataFrame, floats: str = "{:,.2f}") -> str:
    return frame.to_html(float_format=floats.format, border=0, escape=True)


def _metric_table(metrics: dict[str, float]) -> pd.DataFrame:
    """Rows = metrics, columns = model and each baseline, from a run's logged metric names."""
    import pandas as pd

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
    from training import model_info

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
        images = {}
        with tempfile.TemporaryDirectory() as folder:
            for plot in plots:
                try:
                    path = mlflow.artifacts.download_artifacts(
                        run_id=info.run_id, artifact_path=f"plots/{plot}.png", dst_path=folder
                    )
                except Exception:
                    continue
                data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
                images[plot] = f"data:image/png;base64,{data}"
        note = run.data.tags.get("baseline_warning", "")
        sections.append(
            ModelSection(kind, info.version, _metric_table(run.data.metrics), images, note)
        )
    return sections


def _headline(scores: pd.DataFrame, budget: float | None) -> str:
    from serving.decisions import value_at_risk

    acted = scores["action"] != "no_action"
    cost = float(scores["action_cost"].sum())
    at_risk = value_at_risk(scores)
    cards = [
        _card("users scored", f"{len(scores):,}"),
        _card("at risk (stage)", f"{int((scores['lifecycle_stage'] == 'at_risk').sum()):,}"),
        _card("revenue at risk", f"{at_risk.sum():,.0f}"),
        _card("users to contact", f"{int(acted.sum()):,}"),
        _card("planned cost", f"{cost:,.2f}"),
        _card("expected gain", f"{scores['expected_gain'].sum():,.2f}"),
        _card("budget used", f"{cost / budget:.0%} of {budget:,.0f}" if budget else "no budget"),
    ]
    return f'<div class="cards">{"".join(cards)}</div>'


def _decisions_section(decisions: DecisionSummary | None) -> str:
    """What the run's decisions achieve against the LP upper bound (any plan under its limits)."""
    if decisions is None:
        return (
            "<p class='muted'>The score file carries no decision summary (it was not written "
            "by <code>retain score</code> as Parquet), so the upper bound is not shown.</p>"
        )
    budget = "no budget" if decisions.budget is None else f"{decisions.budget:,.2f}"
    cards = [
        _card("users contacted", f"{decisions.contacted:,} of {decisions.users:,}"),
        _card("cost", f"{decisions.cost:,.2f}"),
        _card("expected gain", f"{decisions.achieved_gain:,.2f}"),
        _card("upper bound", f"{decisions.upper_bound:,.2f}"),
        _card("share of the bound", f"{decisions.share_of_bound:.1%}"),
        _card("budget", budget),
    ]
    return (
        f'<div class="cards">{"".join(cards)}</div><p class="muted">No plan under the same '
        "limits (capacities, budget, cooldowns, frequency cap) can gain more than the upper bound "
        f"(the LP relaxation's value; allocation method: {html.escape(decisions.method)}).</p>"
    )


def _plan_table(scores: pd.DataFrame) -> str:
    """The first users of the action plan (serving.decisions.churn_list.action_plan, as the CLI and
    API)."""
    from serving.decisions import ChurnListQuery, action_plan

    plan = action_plan(scores, ChurnListQuery(top=PLAN_ROWS))
    if plan.empty:
        return "<p class='muted'>Nobody is contacted: no action pays for its cost.</p>"
    contacted = int((scores["action"] != "no_action").sum())
    shown = plan.drop(columns=["reasons", "as_of", "assignment"], errors="ignore")
    return (
        f"<p class='muted'>The {len(plan):,} users with the highest expected gain, of "
        f"{contacted:,} contacted (<code>retain action-plan</code> writes them all).</p>"
        + shown.to_html(index=False, float_format="{:,.3f}".format, border=0, escape=True)
    )


def _versions(scores: pd.DataFrame) -> str:
    """`churn model v3, recall model v1, value model v2`: the models behind the scores."""
    from serving.scoring import VERSION_COLUMNS

    return ", ".join(
        f"{column.removesuffix('_model_version')} model v{scores[column].iloc[0]}"
        for column in VERSION_COLUMNS
    )


def build_report(
    scores: pd.DataFrame,
    *,
    retention: pd.DataFrame | None = None,
    models: list[ModelSection] | None = None,
    budget: float | None = None,
    source: str = "",
    effects: str | None = None,
    decisions: DecisionSummary | None = None,
    at_risk_threshold: float | None = None,
    monitoring: str | None = None,
) -> str:
    """The report as one HTML string (images embedded); `effects` and `monitoring` (see
    `serving.reporting.monitor_section`): ready HTML sections.

    `decisions` defaults to the summary `retain score` stored in the scores' metadata; the
    budget, when not given, to the one the decisions were made under; `at_risk_threshold`
    (drawn on the risk chart) to the one the scores were segmented with, else the default.
    """
    import pandas as pd

    from serving.decisions import Segmentation, stored_threshold
    from serving.reporting.charts import (
        action_plan,
        cohort_figure,
        figure_data_uri,
        segment_figures,
    )
    from serving.scoring import decisions_from_attrs

    decisions = decisions or decisions_from_attrs(scores)
    if at_risk_threshold is None:
        at_risk_threshold = stored_threshold(scores)
    if at_risk_threshold is None:
        at_risk_threshold = Segmentation().stages.at_risk_threshold
    if budget is None and decisions is not None:
        budget = decisions.budget
    as_of = pd.Timestamp(scores["as_of"].iloc[0]) if len(scores) else None
    title = f"Retain report — users as of {as_of:%Y-%m-%d}" if as_of is not None else "Retain"
    figures = segment_figures(scores, at_risk_threshold)
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>",
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
        f"<p class='muted'>{html.escape(source)} · generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
        f" · {_versions(scores) if len(scores) else 'no users'}</p>",
        _headline(scores, budget),
        "<h2>Who is at risk, and what they are worth</h2><div class='charts'>",
    ]
    parts += [_img(figure_data_uri(f), name) for name, f in figures.items()]
    parts.append("</div><h2>Decisions: expected gain against the upper bound</h2>")
    parts.append(_decisions_section(decisions))
    if monitoring:  # whether past scores came true, before whom to contact now
        parts.append(monitoring)
    parts.append("<h2>Action plan</h2><h3>By action</h3>")
    parts.append(_table(action_plan(scores)))
    parts.append("<h3>Whom we contact first</h3>")
    parts.append(_plan_table(scores))
    if effects:
        parts.append(effects)
    parts.append("<h2>Cohort retention</h2>")
    if retention is not None and not retention.empty:
        parts.append(_img(figure_data_uri(cohort_figure(retention)), "cohort retention"))
    else:
        parts.append("<p class='muted'>No event log given (<code>--events</code>).</p>")
    parts.append("<h2>Model quality (out of time, against baselines)</h2>")
    for section in models or []:
        version = f" v{section.version}" if section.version else ""
        parts.append(f"<h3>{section.kind} model{version}</h3>")
        if section.note:
            parts.append(f"<p class='warn'>{html.escape(section.note)}</p>")
        if section.metrics is not None:
            parts.append(_table(section.metrics, "{:.4f}"))
        parts.append("<div class='charts'>")
        parts += [_img(uri, f"{section.kind} {name}") for name, uri in section.images.items()]
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def effects_section_for(
    scores: pd.DataFrame, effects: Path, catalogue: Path | None, budget: float | None
) -> str:
    from serving.campaigns import load_effects
    from serving.decisions import load_catalogue
    from serving.reporting.effects_report import effects_section

    return effects_section(scores, load_catalogue(catalogue), load_effects(effects), budget)
