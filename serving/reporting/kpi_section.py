"""The report's "Weekly KPIs" and "Funnel" sections, as HTML, from the event log and the scores.

Why sections of their own: the rest of the report explains the scoring run (who is at risk, what
we will do); these show how the base behaves week by week, per segment, which is what a
user-operations team reviews every Monday. Each section states its definitions, its window and
what it left out (segments without users, users the score file does not know), and says why when
it cannot be drawn (no funnel steps in the log) instead of showing empty tables.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import pandas as pd

from features import LoadedEvents
from serving.decisions import STAGES, TIERS
from serving.reporting.charts import charts_html
from serving.reporting.funnel import (
    DEFAULT_STEPS,
    Funnel,
    check_funnel_steps,
    default_steps,
    event_types,
    funnel,
)
from serving.reporting.kpi_charts import funnel_figure, kpi_figure
from serving.reporting.kpis import KPIS, OVERALL, KpiTable, ReportWindow, weekly_kpis
from serving.reporting.labels import Wording, humanise, stage_label, tier_label
from serving.reporting.tables import html_table

DEFINITIONS = (
    "Active rate: users with an activity event in the week, of the segment's users. "
    "Conversion: users with a purchase (an event with a positive amount), of the segment's "
    "users. Repurchase rate: the week's buyers who had bought before the week, of the week's "
    "buyers. Refund rate: money refunded in the week (negative amounts), of the week's purchase "
    "revenue; a refund can belong to an earlier purchase. Average order value: purchase "
    "revenue / purchases. Segments are each user's stage and tier at the scoring cutoff."
)


def segment_name(dimension: str, segment: str) -> str:
    """ "All users", "Stage: At risk", "Tier: High": one column that says which cut a row is."""
    if dimension == "overall":
        return "All users"
    if dimension == "stage":
        return f"Stage: {stage_label(segment)}"
    return f"Tier: {tier_label(segment)}"


def _ordered(table: pd.DataFrame) -> pd.DataFrame:
    """Rows in reading order: all users, then stages and tiers in their canonical order."""
    order = {OVERALL: 0, **{s: 1 + i for i, s in enumerate(STAGES)}}
    order.update({t: 10 + i for i, t in enumerate(TIERS)})
    rank = table["dimension"].map({"overall": 0, "stage": 1, "tier": 2}) * 100
    return table.assign(_rank=rank + table["segment"].map(order)).sort_values("_rank")


def _missing(
    noun: str, names: tuple[str, ...], present: pd.Series, label: Callable[[str], str]
) -> str:
    """'stages “New”, “Churned”' for the canonical `names` absent from `present`, or ""."""
    seen = set(present)
    missing = [f"“{label(name)}”" for name in names if name not in seen]
    if not missing:
        return ""
    return f"{noun}{'s' if len(missing) > 1 else ''} {', '.join(missing)}"


def empty_segments_note(scores: pd.DataFrame) -> str:
    """Which stages and tiers have no users (left out of charts and tables), or ""."""
    parts = [
        _missing("stage", STAGES, scores["lifecycle_stage"], stage_label),
        _missing("tier", TIERS, scores["value_tier"], tier_label),
    ]
    shown = "; ".join(p for p in parts if p)
    return f"No users in {shown}: left out of the charts and tables." if shown else ""


def _muted(text: str) -> str:
    return f"<p class='muted'>{html.escape(text)}</p>" if text else ""


def kpi_section(kpis: KpiTable, scores: pd.DataFrame, wording: Wording) -> str:
    """The latest week's KPIs per segment, then one chart per KPI over the window."""
    table = kpis.table
    last = _ordered(table[table["week"] == kpis.window.weeks - 1])
    latest = pd.DataFrame(
        {
            "segment": [
                segment_name(d, s) for d, s in zip(last["dimension"], last["segment"], strict=True)
            ],
            "users": last["users"].to_numpy(),
            **{kpi: last[kpi].to_numpy() for kpi in KPIS},
        }
    )
    share: Callable[[object], str] = "{:.1%}".format
    formats = {kpi: share for kpi in KPIS}
    formats["aov"] = lambda value: wording.money(float(value))  # type: ignore[arg-type]
    headers = {kpi: label for kpi, label in KPIS.items()}
    headers["aov"] = wording.unit(KPIS["aov"])
    start = kpis.window.week_starts()[-1]
    unscored = (
        f"{kpis.unscored_users:,} users with events in the window are not in the score file "
        "(first seen after the cutoff) and are left out."
        if kpis.unscored_users
        else ""
    )
    parts = [
        "<h2>Weekly KPIs by segment</h2>",
        _muted(
            f"{kpis.window.weeks} weeks from {kpis.window.start:%Y-%m-%d} to "
            f"{kpis.window.end:%Y-%m-%d} (each week 7 days, ending at the end of the event log)."
        ),
        _muted(DEFINITIONS),
        _muted(empty_segments_note(scores)),
        _muted(unscored),
        f"<h3>Last week (from {start:%Y-%m-%d})</h3>",
        html_table(latest, wording, formats=formats, headers=headers),
        charts_html(
            {f"{name} by week": kpi_figure(kpis, kpi, wording) for kpi, name in KPIS.items()}
        ),
    ]
    return "\n".join(part for part in parts if part)


def funnel_table(result: Funnel) -> pd.DataFrame:
    """One row per segment: users, then each step's users with its conversion from the last."""
    rows = []
    for (dimension, segment), group in _ordered(result.table).groupby(
        ["dimension", "segment"], sort=False
    ):
        group = group.sort_values("position")
        row: dict[str, object] = {
            "segment": segment_name(dimension, segment),
            "users": int(group["users"].iloc[0]),
        }
        for step, reached, rate in group[["step", "reached", "step_rate"]].itertuples(index=False):
            row[humanise(step)] = f"{reached:,} ({_share(rate)})"
        first, final = int(group["reached"].iloc[0]), int(group["reached"].iloc[-1])
        row["first to last step"] = _share(final / first if first else float("nan"))
        rows.append(row)
    return pd.DataFrame(rows)


def _share(value: float) -> str:
    return "—" if value != value else f"{value:.1%}"


def funnel_section(result: Funnel | None, why_not: str, scores: pd.DataFrame) -> str:
    """The funnel table and chart, or the sentence saying why there is none."""
    if result is None:
        return "<h2>Funnel</h2>" + _muted(why_not)
    steps = " → ".join(humanise(step) for step in result.steps)
    unscored = (
        f"{result.unscored_users:,} users reached the first step but are not in the score file;"
        " they are left out."
        if result.unscored_users
        else ""
    )
    return "\n".join(
        part
        for part in [
            f"<h2>Funnel: {html.escape(steps)}</h2>",
            _muted(
                f"Users reaching each step between {result.window.start:%Y-%m-%d} and "
                f"{result.window.end:%Y-%m-%d}, in order (a step counts at or after the previous "
                "one). In brackets: the share of the previous step's users (for the first step, "
                "of the segment's users)."
            ),
            _muted(empty_segments_note(scores)),
            _muted(unscored),
            html_table(funnel_table(result), headers={"first to last step": "First to last step"}),
            charts_html({"funnel by segment": funnel_figure(result)}),
        ]
        if part
    )


def event_sections(
    events: LoadedEvents,
    scores: pd.DataFrame,
    window: ReportWindow,
    wording: Wording,
    *,
    steps: tuple[str, ...] | None = None,
    activity_events: tuple[str, ...] | None = None,
) -> str:
    """Both sections from one log: KPIs, then the funnel (explicit `steps` are checked first)."""
    types = event_types(events)
    if steps is not None:
        check_funnel_steps(steps, types)
    chosen = steps or default_steps(types)
    result, why_not = None, ""
    if len(chosen) >= 2:
        result = funnel(events, scores, chosen, window)
    else:
        why_not = (
            f"No funnel: the event log has {len(chosen)} of the default steps "
            f"({', '.join(DEFAULT_STEPS)}); its event types are {', '.join(types)}. Name the "
            "steps with --funnel (for example --funnel login,purchase)."
        )
    kpis = weekly_kpis(events, scores, window, activity_events)
    return kpi_section(kpis, scores, wording) + "\n" + funnel_section(result, why_not, scores)
