"""The operator report: one self-contained HTML file that explains a scoring run to operators.

Why a single file with embedded PNGs and inline CSS: operators forward it, open it offline and
archive it with the campaign; nothing beside it can go missing. Sections: whether the scores
are older than the report (`serving.reporting.freshness`), headline numbers, the segment summary
(stage × tier grid, risk distribution, revenue at risk, action plan), the decisions (gain
achieved against the LP upper bound, when `retain score` stored the run's summary in the Parquet
metadata), the monitoring verdict (when `retain monitor --json` wrote one), the action plan's
first users, and, when the events are given, the weekly KPIs and the funnel by segment
(`serving.reporting.kpi_section`) and cohort retention curves; last the champion models'
out-of-time quality against their baselines, read from the MLflow run that produced each
champion (`serving.reporting.model_section`). Every chart is as wide as the page, every table
has one header row of words, and money is named by the configured currency (`ReportConfig`).

The report does not decide again: it shows the decisions the score file carries, so it needs no
catalogue, budget or contact history to be right (`--budget` only states the usage against it).
Revenue at risk is churn probability × value at stake, as on the churn list.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from serving.reporting.labels import Wording, action_names
from serving.reporting.model_section import ModelSection, model_quality_html
from serving.reporting.report_config import ReportConfig
from serving.reporting.tables import html_table

if TYPE_CHECKING:
    import pandas as pd

    from features import LoadedEvents, WindowConfig
    from serving.decisions import DecisionSummary

PLAN_ROWS = 50  # users of the action plan shown in the report (the CLI writes the whole plan)
PLAN_COLUMNS = ("rank", "user_id", "action", "action_cost", "expected_gain", "churn_probability",
                "value_at_stake", "lifecycle_stage", "value_tier", "decision_reason")  # fmt: skip
_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:72rem;color:#222;padding:0 1rem}
h1{margin-bottom:.2rem} h2{border-bottom:1px solid #ddd;padding-bottom:.3rem;margin-top:2.2rem}
.muted{color:#666} .cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}
.card{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;min-width:9rem}
.card b{display:block;font-size:1.35rem}
.charts img{display:block;width:100%;height:auto;margin:0 0 1rem;border:1px solid #eee}
.plots{display:grid;grid-template-columns:1fr 1.7fr;gap:.8rem;align-items:start}
.plots img{width:100%;height:auto;border:1px solid #eee}
table{border-collapse:collapse;margin:.6rem 0;font-size:.92rem}
th,td{border:1px solid #ddd;padding:.25rem .6rem;text-align:right} th{background:#f6f6f6}
th:first-child,td:first-child,.text{text-align:left}
.wide{overflow-x:auto}
.warn{color:#a40000;font-weight:600}
.stale{background:#fdecea;border:2px solid #a40000;color:#5c0000;border-radius:6px;
padding:.8rem 1rem;margin:1rem 0;font-size:1.05rem}
"""


def _card(label: str, value: str) -> str:
    return f'<div class="card">{html.escape(label)}<b>{html.escape(value)}</b></div>'


def playbook_names(catalogue_path: str | Path | None = None) -> dict[str, str]:
    """Action ids to the playbook's labels ("Habit nudge"), from a catalogue or the default."""
    from serving.decisions import load_catalogue

    return action_names(load_catalogue(catalogue_path))


def _headline(scores: pd.DataFrame, budget: float | None, wording: Wording) -> str:
    from serving.decisions import value_at_risk

    acted = scores["action"] != "no_action"
    cost = float(scores["action_cost"].sum())
    at_risk = value_at_risk(scores)
    used = f"{cost / budget:.0%} of {wording.money(budget, 0)}" if budget else "no budget"
    cards = [
        _card("users scored", f"{len(scores):,}"),
        _card("at risk (stage)", f"{int((scores['lifecycle_stage'] == 'at_risk').sum()):,}"),
        _card("revenue at risk", wording.money(at_risk.sum(), 0)),
        _card("users to contact", f"{int(acted.sum()):,}"),
        _card("planned cost", wording.money(cost)),
        _card("expected gain", wording.money(scores["expected_gain"].sum())),
        _card("budget used", used),
    ]
    return f'<div class="cards">{"".join(cards)}</div>'


def _decisions_section(decisions: DecisionSummary | None, wording: Wording) -> str:
    """What the run's decisions achieve against the LP upper bound (any plan under its limits)."""
    if decisions is None:
        return (
            "<p class='muted'>The score file carries no decision summary (it was not written "
            "by <code>retain score</code> as Parquet), so the upper bound is not shown.</p>"
        )
    budget = "no budget" if decisions.budget is None else wording.money(decisions.budget)
    cards = [
        _card("users contacted", f"{decisions.contacted:,} of {decisions.users:,}"),
        _card("cost", wording.money(decisions.cost)),
        _card("expected gain", wording.money(decisions.achieved_gain)),
        _card("upper bound", wording.money(decisions.upper_bound)),
        _card("share of the bound", f"{decisions.share_of_bound:.1%}"),
        _card("budget", budget),
    ]
    return (
        f'<div class="cards">{"".join(cards)}</div><p class="muted">No plan under the same '
        "limits (capacities, budget, cooldowns, frequency cap) can gain more than the upper bound "
        f"(the LP relaxation's value; allocation method: {html.escape(decisions.method)}).</p>"
    )


def _plan_table(scores: pd.DataFrame, wording: Wording) -> str:
    """The first users of the action plan (serving.decisions.churn_list.action_plan, as the CLI and
    API)."""
    from serving.decisions import ChurnListQuery, action_plan

    plan = action_plan(scores, ChurnListQuery(top=PLAN_ROWS))
    if plan.empty:
        return "<p class='muted'>Nobody is contacted: no action pays for its cost.</p>"
    contacted = int((scores["action"] != "no_action").sum())
    shown = plan[[c for c in PLAN_COLUMNS if c in plan.columns]]
    return (
        f"<p class='muted'>The {len(plan):,} users with the highest expected gain, of "
        f"{contacted:,} contacted (<code>retain action-plan</code> writes them all).</p>"
        + "<div class='wide'>"
        + html_table(shown, wording, formats={"churn_probability": "{:.1%}"})
        + "</div>"
    )


def _action_totals(scores: pd.DataFrame, wording: Wording) -> str:
    """Per action (no action included): users, total cost and total expected gain."""
    from serving.reporting.charts import action_plan

    return html_table(action_plan(scores), wording)


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
    events: LoadedEvents | None = None,
    config: ReportConfig | None = None,
    windows: WindowConfig | None = None,
    retention: pd.DataFrame | None = None,
    models: list[ModelSection] | None = None,
    budget: float | None = None,
    source: str = "",
    effects: str | None = None,
    decisions: DecisionSummary | None = None,
    at_risk_threshold: float | None = None,
    monitoring: str | None = None,
    report_date: datetime | None = None,
    action_names: dict[str, str] | None = None,
    now: datetime | None = None,
) -> str:
    """The report as one HTML string (images embedded); `effects` and `monitoring` (see
    `serving.reporting.monitor_section`): ready HTML sections.

    `events` adds the weekly KPIs, the funnel and (unless `retention` is given) the cohort
    curves, shaped by `config` (currency, funnel steps, weeks) and `windows` (activity events);
    it also dates the report (see `serving.reporting.freshness`). `decisions` defaults to the
    summary `retain score` stored in the scores' metadata; the budget, when not given, to the
    one the decisions were made under; `at_risk_threshold` (drawn on the risk chart) to the one
    the scores were segmented with, else the default. `action_names` default to the packaged
    playbook's labels.
    """
    import pandas as pd

    from serving.decisions import Segmentation, stored_threshold
    from serving.reporting.charts import charts_html, cohort_figure, segment_figures
    from serving.reporting.freshness import freshness, freshness_banner
    from serving.scoring import decisions_from_attrs

    config = config or ReportConfig()
    wording = Wording(config.currency, playbook_names() if action_names is None else action_names)
    decisions = decisions or decisions_from_attrs(scores)
    if at_risk_threshold is None:
        at_risk_threshold = stored_threshold(scores)
    if at_risk_threshold is None:
        at_risk_threshold = Segmentation().stages.at_risk_threshold
    if budget is None and decisions is not None:
        budget = decisions.budget
    as_of = pd.Timestamp(scores["as_of"].iloc[0]) if len(scores) else None
    title = f"Retain report — users as of {as_of:%Y-%m-%d}" if as_of is not None else "Retain"
    generated = now or datetime.now(UTC)
    currency = f" · amounts in {config.currency}" if config.currency else ""
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>",
        f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
        f"<p class='muted'>{html.escape(source)} · generated {generated:%Y-%m-%d %H:%M} UTC"
        f" · {_versions(scores) if len(scores) else 'no users'}{html.escape(currency)}</p>",
    ]
    if as_of is not None:
        state = freshness(as_of, report_date=report_date, events=events, now=generated)
        parts.append(freshness_banner(state))
    parts += [
        _headline(scores, budget, wording),
        "<h2>Who is at risk, and what they are worth</h2>",
        _empty_note(scores),
        charts_html(segment_figures(scores, at_risk_threshold, wording)),
        "<h2>Decisions: expected gain against the upper bound</h2>",
        _decisions_section(decisions, wording),
        monitoring or "",  # whether past scores came true, before whom to contact now
        "<h2>Action plan</h2><h3>By action</h3>",
        _action_totals(scores, wording),
        "<h3>Whom we contact first</h3>",
        _plan_table(scores, wording),
        effects or "",
    ]
    if events is not None:
        parts.append(_event_sections(events, scores, config, windows, wording))
        if retention is None:
            from features import cohort_retention

            retention = cohort_retention(events, windows)
    parts.append("<h2>Cohort retention</h2>")
    if retention is not None and not retention.empty:
        parts.append(charts_html({"cohort retention": cohort_figure(retention)}))
    else:
        parts.append("<p class='muted'>No event log given (<code>--events</code>).</p>")
    parts += [model_quality_html(models or []), "</body></html>"]
    return "\n".join(part for part in parts if part)


def _empty_note(scores: pd.DataFrame) -> str:
    from serving.reporting.kpi_section import empty_segments_note

    note = empty_segments_note(scores)
    return f"<p class='muted'>{html.escape(note)}</p>" if note else ""


def _event_sections(
    events: LoadedEvents,
    scores: pd.DataFrame,
    config: ReportConfig,
    windows: WindowConfig | None,
    wording: Wording,
) -> str:
    """Weekly KPIs and the funnel over the `config.weeks` weeks ending with the log."""
    from serving.reporting.kpi_section import event_sections
    from serving.reporting.kpis import ReportWindow
    from serving.scoring import latest_cutoff

    window = ReportWindow(latest_cutoff(events), config.weeks)
    activity = windows.activity_events if windows is not None else None
    return event_sections(
        events, scores, window, wording, steps=config.funnel, activity_events=activity
    )


def effects_section_for(
    scores: pd.DataFrame,
    effects: Path,
    catalogue: Path | None,
    budget: float | None,
    currency: str = "",
) -> str:
    """The learned-effects section from an effects file and the catalogue holding the priors."""
    from serving.campaigns import load_effects
    from serving.decisions import load_catalogue
    from serving.reporting.effects_report import effects_section

    playbook = load_catalogue(catalogue)
    wording = Wording(currency, action_names(playbook))
    return effects_section(scores, playbook, load_effects(effects), budget, wording)
