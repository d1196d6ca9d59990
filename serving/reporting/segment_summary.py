"""The segment summary behind the operator page: who is where, what is at risk, what will be done.

Why its own module and endpoint: the page must not compute anything itself (a browser holding
every score would be slow and would drift from the batch numbers), and the charts must be the
very figures the HTML report draws (`serving.reporting.charts`), so the page and the report never
disagree. The summary covers the whole served snapshot, not the list's filters: it answers
"how does the base look", while the filtered list answers "whom do I contact". Drawing four
matplotlib figures takes about a second, so the summary is built once per snapshot, on first
use, and kept (the snapshot never changes while the service runs). The at-risk threshold
drawn on the risk chart is the one the snapshot was segmented with (RETAIN_SEGMENTS,
RETAIN_AT_RISK_THRESHOLD), passed in, so the chart and the stages agree.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

import pandas as pd
from pydantic import BaseModel

from serving.decisions import STAGES, TIERS, ActionCatalogue
from serving.decisions import value_at_risk as user_value_at_risk

log = logging.getLogger("retain.service")
CHART_TITLES: dict[str, str] = {
    "stage_tier_grid": "Users by lifecycle stage and value tier",
    "risk_distribution": "Churn-risk distribution by lifecycle stage",
    "value_at_risk": "Revenue at risk (churn probability × value at stake) by value tier",
    "action_plan": "Action plan: users contacted, cost and expected gain per action",
}


class ActionChoice(BaseModel):
    """An action the list can be filtered by (catalogue order, `no_action` last)."""

    id: str
    label: str
    channel: str


class PlanRow(BaseModel):
    """One action of the plan: how many users get it, what it costs, what it should earn."""

    action: str
    label: str
    users: int
    cost: float
    expected_gain: float


class Chart(BaseModel):
    """A segment chart as a PNG data URI, with a title that doubles as its alt text."""

    name: str
    title: str
    data_uri: str


class SegmentSummaryResponse(BaseModel):
    """Counts by stage × tier, value at risk by tier, the action plan and its charts."""

    as_of: datetime | None
    users: int
    at_risk_threshold: float  # churn probability from which an active user is `at_risk`
    stages: list[str]
    tiers: list[str]
    counts: list[list[int]]  # counts[i][j]: users in stages[i] and tiers[j]
    value_at_risk: dict[str, float]  # churn probability × value at stake, by tier and "total"
    actions: list[ActionChoice]
    plan: list[PlanRow]
    charts: list[Chart]
    charts_error: str | None = None


def segment_numbers(scores: pd.DataFrame, catalogue: ActionCatalogue) -> dict[str, Any]:
    """The summary's numbers (no charts): plain sums over the score table."""
    grid = pd.crosstab(scores["lifecycle_stage"], scores["value_tier"])
    grid = grid.reindex(index=list(STAGES), columns=list(TIERS), fill_value=0)
    at_risk = user_value_at_risk(scores)
    by_tier = at_risk.groupby(scores["value_tier"]).sum().reindex(list(TIERS), fill_value=0.0)
    value_at_risk = {tier: float(by_tier[tier]) for tier in TIERS}
    value_at_risk["total"] = float(at_risk.sum())
    plan = scores.groupby("action").agg(
        users=("user_id", "size"), cost=("action_cost", "sum"), gain=("expected_gain", "sum")
    )
    choices = [catalogue.get(action_id) for action_id in catalogue.ids]
    extra = [a for a in plan.index if a not in catalogue.ids]  # a score file from another playbook
    return {
        "users": len(scores),
        "stages": list(STAGES),
        "tiers": list(TIERS),
        "counts": grid.to_numpy().astype(int).tolist(),
        "value_at_risk": value_at_risk,
        "actions": [
            *({"id": a.id, "label": a.label, "channel": a.channel} for a in choices),
            *({"id": a, "label": a, "channel": "?"} for a in extra),
        ],
        "plan": [
            {
                "action": action,
                "label": next((a.label for a in choices if a.id == action), action),
                "users": int(row.users),
                "cost": float(row.cost),
                "expected_gain": float(row.gain),
            }
            for action, row in plan.sort_values("users", ascending=False).iterrows()
        ],
    }


def segment_charts(scores: pd.DataFrame, at_risk_threshold: float) -> list[dict[str, str]]:
    """The report's segment figures as data URIs, in CHART_TITLES order."""
    from serving.reporting.charts import figure_data_uri, segment_figures

    figures = segment_figures(scores, at_risk_threshold)
    return [
        {"name": name, "title": CHART_TITLES.get(name, name), "data_uri": figure_data_uri(fig)}
        for name, fig in figures.items()
    ]


class SegmentSummaryCache:
    """Builds the summary of one snapshot once, on first request, whichever thread asks first."""

    def __init__(
        self,
        scores: pd.DataFrame,
        as_of: datetime | None,
        catalogue: ActionCatalogue,
        *,
        at_risk_threshold: float,
    ) -> None:
        self._scores = scores
        self._as_of = as_of
        self._catalogue = catalogue
        self._threshold = at_risk_threshold
        self._lock = threading.Lock()
        self._summary: SegmentSummaryResponse | None = None

    def get(self) -> SegmentSummaryResponse:
        with self._lock:
            if self._summary is None:
                self._summary = self._build()
            return self._summary

    def _build(self) -> SegmentSummaryResponse:
        numbers = segment_numbers(self._scores, self._catalogue)
        try:
            charts, problem = segment_charts(self._scores, self._threshold), None
        except Exception as error:  # the numbers still help an operator when a chart fails
            log.exception("segment charts failed")
            charts, problem = [], f"charts unavailable: {type(error).__name__}: {error}"
        return SegmentSummaryResponse.model_validate(
            {
                "as_of": self._as_of,
                "at_risk_threshold": self._threshold,
                **numbers,
                "charts": charts,
                "charts_error": problem,
            }
        )
