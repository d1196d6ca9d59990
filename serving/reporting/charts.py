"""Charts of a scoring run that operators read at a glance: the report and the page share them.

Why one module: the HTML report (`retain report`) and the operator page show the same segment
summary; drawing it once keeps the two from disagreeing. Figures are built on
`matplotlib.figure.Figure` (Agg, no global pyplot state) with titles and units, and become
self-contained PNG data URIs so a report opens offline as a single file.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from serving.decisions import STAGES, TIERS, value_at_risk

STAGE_COLOURS = {
    "new": "#4c78a8",
    "active": "#54a24b",
    "at_risk": "#e45756",
    "dormant": "#b279a2",
    "churned": "#7f7f7f",
    "reactivated": "#f58518",
}


def _figure(title: str, size: tuple[float, float] = (6.4, 4.2)) -> tuple[Figure, object]:
    figure = Figure(figsize=size, layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(title, fontsize=11)
    return figure, axes


def stage_tier_figure(scores: pd.DataFrame) -> Figure:
    """The risk × value grid: users per lifecycle stage (rows) and value tier (columns)."""
    grid = pd.crosstab(scores["lifecycle_stage"], scores["value_tier"])
    grid = grid.reindex(index=list(STAGES), columns=list(TIERS), fill_value=0)
    figure, axes = _figure("Users by lifecycle stage and value tier")
    image = axes.imshow(grid.to_numpy(), cmap="Blues", aspect="auto")
    axes.set_xticks(range(len(TIERS)), [f"{tier} value" for tier in TIERS])
    axes.set_yticks(range(len(STAGES)), list(STAGES))
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
    present = [s for s in STAGES if (scores["lifecycle_stage"] == s).any()]
    axes.hist(
        [scores.loc[scores["lifecycle_stage"] == s, "churn_probability"] for s in present],
        bins=bins,
        stacked=True,
        label=present,
        color=[STAGE_COLOURS[s] for s in present],
    )
    axes.axvline(threshold, color="black", linestyle="--", linewidth=1, label="at-risk threshold")
    axes.set_xlabel("churn probability over the churn horizon")
    axes.set_ylabel("users")
    axes.legend(fontsize=8)
    return figure


def value_at_risk_figure(scores: pd.DataFrame) -> Figure:
    """Expected revenue lost (churn probability × value at stake) per value tier."""
    at_risk = value_at_risk(scores).groupby(scores["value_tier"]).sum()
    at_risk = at_risk.reindex(list(TIERS), fill_value=0.0)
    figure, axes = _figure("Revenue at risk by value tier")
    bars = axes.bar([f"{tier}" for tier in at_risk.index], at_risk.to_numpy(), color="#e45756")
    axes.bar_label(bars, labels=[f"{v:,.0f}" for v in at_risk.to_numpy()], fontsize=9)
    axes.set_xlabel("value tier")
    axes.set_ylabel("churn probability × value at stake (currency)")
    return figure


def action_plan(scores: pd.DataFrame) -> pd.DataFrame:
    """Per action: users, total cost and total expected gain (no_action included)."""
    plan = scores.groupby("action").agg(
        users=("user_id", "size"),
        cost=("action_cost", "sum"),
        expected_gain=("expected_gain", "sum"),
    )
    return plan.sort_values("users", ascending=False)


def action_plan_figure(scores: pd.DataFrame) -> Figure:
    """Contacts, cost and expected gain per action (no_action left out: it costs nothing)."""
    plan = action_plan(scores).drop(index="no_action", errors="ignore")
    figure = Figure(figsize=(9.6, 3.8), layout="constrained")
    figure.suptitle("Action plan", fontsize=11)
    panels = figure.subplots(1, 3)
    specs = (("users", "users contacted", "#4c78a8"), ("cost", "total cost (currency)", "#b279a2"))
    for axes, (column, label, colour) in zip(panels[:2], specs, strict=True):
        axes.barh(plan.index, plan[column], color=colour)
        axes.set_xlabel(label)
    panels[2].barh(plan.index, plan["expected_gain"], color="#54a24b")
    panels[2].set_xlabel("expected gain (currency)")
    for axes in panels[1:]:
        axes.set_yticklabels([])
    if plan.empty:
        panels[0].text(0.5, 0.5, "no action planned", ha="center", transform=panels[0].transAxes)
    return figure


def cohort_figure(retention: pd.DataFrame, most: int = 12) -> Figure:
    """Retention curves: share of each acquisition month's users active k months later."""
    figure, axes = _figure("Cohort retention by acquisition month", (7.2, 4.4))
    cohorts = sorted(retention["cohort"].unique())[-most:]
    colours = [f"C{i % 10}" for i in range(len(cohorts))]
    for cohort, colour in zip(cohorts, colours, strict=True):
        curve = retention[retention["cohort"] == cohort]
        label = f"{pd.Timestamp(cohort):%Y-%m} ({int(curve['cohort_users'].iloc[0]):,})"
        axes.plot(curve["months_since"], curve["retention"] * 100, marker="o", ms=3,
                  color=colour, label=label)  # fmt: skip
    axes.set_xlabel("months since acquisition")
    axes.set_ylabel("users active in the month (%)")
    axes.set_ylim(0, 105)
    axes.legend(fontsize=7, ncol=2, title="cohort (users)", title_fontsize=8)
    return figure


def segment_figures(scores: pd.DataFrame, threshold: float = 0.5) -> dict[str, Figure]:
    """The segment summary: stage × tier grid, risk distribution, value at risk, action plan.

    `threshold` is the at-risk threshold the scores were segmented with (drawn on the risk
    chart); 0.5 is the default segmentation's.
    """
    return {
        "stage_tier_grid": stage_tier_figure(scores),
        "risk_distribution": risk_distribution_figure(scores, threshold),
        "value_at_risk": value_at_risk_figure(scores),
        "action_plan": action_plan_figure(scores),
    }


def figure_data_uri(figure: Figure, dpi: int = 96) -> str:
    """The figure as a `data:image/png;base64,…` URI (self-contained HTML, no files beside it)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
