"""Charts of a scoring run that operators read at a glance: the report and the page share them.

Why one module: the HTML report (`retain report`) and the operator page show the same segment
summary; drawing it once keeps the two from disagreeing. Figures are built on
`matplotlib.figure.Figure` (Agg, no global pyplot state) with titles and units, and become
self-contained PNG data URIs so a report opens offline as a single file. They are drawn as wide
as the report's page (`WIDE`), so at 100% width they are neither stretched nor blurred; ids
appear as labels (`serving.reporting.labels`), money axes name the currency, and stages or tiers
without users are left out (the report says which).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from serving.decisions import STAGES, TIERS, value_at_risk
from serving.reporting.labels import Wording, stage_label, tier_label

WIDE = 11.5  # inches: the report's text column (72rem less padding) at 96 dpi
STAGE_COLOURS = {
    "new": "#4c78a8",
    "active": "#54a24b",
    "at_risk": "#e45756",
    "dormant": "#b279a2",
    "churned": "#7f7f7f",
    "reactivated": "#f58518",
}
TIER_COLOURS = {"high": "#08306b", "mid": "#2171b5", "low": "#6baed6", "none": "#bdbdbd"}
# Twelve colours no two alike (tab10 and two more): one per cohort on the retention chart.
COHORT_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#000000", "#f2c500",
)  # fmt: skip


def present(scores: pd.DataFrame, column: str, order: tuple[str, ...]) -> list[str]:
    """The stages (or tiers) that have users, in their canonical order."""
    values = set(scores[column].astype(str))
    return [item for item in order if item in values]


def _figure(title: str, size: tuple[float, float] = (WIDE, 3.8)) -> tuple[Figure, object]:
    figure = Figure(figsize=size, layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(title, fontsize=11)
    return figure, axes


def stage_tier_figure(scores: pd.DataFrame) -> Figure:
    """The risk × value grid: users per lifecycle stage (rows) and value tier (columns).

    Stages and tiers without users are left out: a row of zeros says nothing but takes room.
    """
    stages = present(scores, "lifecycle_stage", STAGES) or list(STAGES)
    tiers = present(scores, "value_tier", TIERS) or list(TIERS)
    grid = pd.crosstab(scores["lifecycle_stage"], scores["value_tier"])
    grid = grid.reindex(index=stages, columns=tiers, fill_value=0)
    figure, axes = _figure("Users by lifecycle stage and value tier", (WIDE, 3.4))
    image = axes.imshow(grid.to_numpy(), cmap="Blues", aspect="auto")
    axes.set_xticks(range(len(tiers)), [f"{tier_label(tier)} value" for tier in tiers])
    axes.set_yticks(range(len(stages)), [stage_label(stage) for stage in stages])
    peak = max(int(grid.to_numpy().max()), 1)
    for (row, column), count in np.ndenumerate(grid.to_numpy()):
        colour = "white" if count > peak / 2 else "black"
        axes.text(column, row, f"{count:,}", ha="center", va="center", color=colour, fontsize=9)
    figure.colorbar(image, ax=axes, label="users")
    return figure


def risk_distribution_figure(scores: pd.DataFrame, threshold: float = 0.5) -> Figure:
    """How churn risk is spread, stacked by lifecycle stage, with the at-risk threshold."""
    figure, axes = _figure("Churn-risk distribution")
    bins = np.linspace(0, 1, 21)
    stages = present(scores, "lifecycle_stage", STAGES)
    axes.hist(
        [scores.loc[scores["lifecycle_stage"] == s, "churn_probability"] for s in stages],
        bins=bins,
        stacked=True,
        label=[stage_label(s) for s in stages],
        color=[STAGE_COLOURS[s] for s in stages],
    )
    axes.axvline(threshold, color="black", linestyle="--", linewidth=1, label="at-risk threshold")
    axes.set_xlabel("churn probability over the churn horizon")
    axes.set_ylabel("users")
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return figure


def value_at_risk_figure(scores: pd.DataFrame, wording: Wording | None = None) -> Figure:
    """Expected revenue lost (churn probability × value at stake) per value tier with users."""
    wording = wording or Wording()
    tiers = present(scores, "value_tier", TIERS) or list(TIERS)
    at_risk = value_at_risk(scores).groupby(scores["value_tier"]).sum()
    at_risk = at_risk.reindex(tiers, fill_value=0.0)
    figure, axes = _figure("Revenue at risk by value tier", (WIDE, 2.8))
    bars = axes.barh(
        [f"{tier_label(tier)} value" for tier in tiers],
        at_risk.to_numpy(),
        color=[TIER_COLOURS[tier] for tier in tiers],
    )
    axes.bar_label(bars, labels=[wording.money(v, 0) for v in at_risk.to_numpy()], fontsize=9)
    axes.invert_yaxis()
    axes.set_xlabel(wording.unit("churn probability × value at stake"))
    axes.margins(x=0.12)
    return figure


def action_plan(scores: pd.DataFrame) -> pd.DataFrame:
    """Per action: users, total cost and total expected gain (no_action included)."""
    plan = scores.groupby("action").agg(
        users=("user_id", "size"),
        cost=("action_cost", "sum"),
        expected_gain=("expected_gain", "sum"),
    )
    return plan.sort_values("users", ascending=False)


def action_plan_figure(scores: pd.DataFrame, wording: Wording | None = None) -> Figure:
    """Contacts, cost and expected gain per action (no_action left out: it costs nothing)."""
    wording = wording or Wording()
    plan = action_plan(scores).drop(index="no_action", errors="ignore")
    figure = Figure(figsize=(WIDE, 3.8), layout="constrained")
    figure.suptitle("Action plan", fontsize=11)
    panels = figure.subplots(1, 3, sharey=True)
    names = [wording.action(action) for action in plan.index]
    specs = (
        ("users", "users contacted", "#4c78a8"),
        ("cost", wording.unit("total cost"), "#b279a2"),
        ("expected_gain", wording.unit("expected gain"), "#54a24b"),
    )
    for axes, (column, label, colour) in zip(panels, specs, strict=True):
        axes.barh(names, plan[column], color=colour)
        axes.set_xlabel(label)
    if plan.empty:
        panels[0].text(0.5, 0.5, "no action planned", ha="center", transform=panels[0].transAxes)
    else:
        panels[0].invert_yaxis()  # the most used action on top
    return figure


def cohort_figure(retention: pd.DataFrame, most: int = 12) -> Figure:
    """Retention curves: share of each acquisition month's users active k months later."""
    figure, axes = _figure("Cohort retention by acquisition month", (WIDE, 4.4))
    cohorts = sorted(retention["cohort"].unique())[-min(most, len(COHORT_COLOURS)) :]
    for cohort, colour in zip(cohorts, COHORT_COLOURS, strict=False):
        curve = retention[retention["cohort"] == cohort]
        label = f"{pd.Timestamp(cohort):%Y-%m} ({int(curve['cohort_users'].iloc[0]):,})"
        axes.plot(curve["months_since"], curve["retention"] * 100, marker="o", ms=3,
                  color=colour, label=label)  # fmt: skip
    axes.set_xlabel("months since acquisition")
    axes.set_ylabel("users active in the month (%)")
    axes.set_ylim(0, 105)
    axes.legend(fontsize=8, ncol=2, title="cohort (users)", title_fontsize=8,
                loc="upper left", bbox_to_anchor=(1.01, 1))  # fmt: skip
    return figure


def segment_figures(
    scores: pd.DataFrame, threshold: float = 0.5, wording: Wording | None = None
) -> dict[str, Figure]:
    """The segment summary: stage × tier grid, risk distribution, value at risk, action plan.

    `threshold` is the at-risk threshold the scores were segmented with (drawn on the risk
    chart); 0.5 is the default segmentation's. `wording` names the currency and the actions.
    """
    return {
        "stage_tier_grid": stage_tier_figure(scores),
        "risk_distribution": risk_distribution_figure(scores, threshold),
        "value_at_risk": value_at_risk_figure(scores, wording),
        "action_plan": action_plan_figure(scores, wording),
    }


def figure_data_uri(figure: Figure, dpi: int = 96) -> str:
    """The figure as a `data:image/png;base64,…` URI (self-contained HTML, no files beside it)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def charts_html(figures: Mapping[str, Figure]) -> str:
    """Figures as `<img class="chart">` in one block, each as wide as the report's page."""
    images = "".join(
        f"<img class='chart' src='{figure_data_uri(figure)}' alt='{html.escape(name)}'>"
        for name, figure in figures.items()
    )
    return f"<div class='charts'>{images}</div>"
