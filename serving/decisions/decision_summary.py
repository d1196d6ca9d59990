"""What a decision run returns: one decision per user and a summary of what it achieved.

Why a module of its own: the summary travels further than the policy that makes it (score
file metadata, the service's /action_plan, MLflow, the report), and streamed runs build the
same summary from batches (serving/decisions/allocation_stream.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class DecisionSummary:
    """What a decision run achieved, against what any allocation could have achieved.

    `upper_bound` is the LP relaxation's value (or a Lagrangian dual value above it): no plan
    under the same limits can gain more, so `achieved / upper_bound` bounds the distance from
    the optimum.
    """

    users: int
    contacted: int
    cost: float
    achieved_gain: float
    upper_bound: float
    method: str
    budget: float | None
    by_action: dict[str, int] = field(default_factory=dict)

    @property
    def share_of_bound(self) -> float:
        """Achieved gain as a share of the upper bound (1.0 when nothing could be gained)."""
        return 1.0 if self.upper_bound <= 0 else self.achieved_gain / self.upper_bound

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON, Parquet metadata and MLflow."""
        return {
            "users": self.users,
            "contacted": self.contacted,
            "cost": round(self.cost, 6),
            "achieved_gain": round(self.achieved_gain, 6),
            "upper_bound": round(self.upper_bound, 6),
            "share_of_bound": round(self.share_of_bound, 6),
            "method": self.method,
            "budget": self.budget,
            "by_action": dict(self.by_action),
        }

    def line(self) -> str:
        """One sentence for the command line."""
        budget = "no budget" if self.budget is None else f"budget {self.budget:,.2f}"
        return (
            f"decisions: {self.contacted:,} of {self.users:,} users contacted at cost "
            f"{self.cost:,.2f} ({budget}); expected gain {self.achieved_gain:,.2f} = "
            f"{self.share_of_bound:.2%} of the upper bound {self.upper_bound:,.2f} ({self.method})"
        )


@dataclass(frozen=True)
class DecisionRun:
    """One decision per user (DECISION_COLUMNS, in the users' order) and the run's summary."""

    frame: pd.DataFrame
    summary: DecisionSummary
