"""Signal families: which features say the same thing, and which way each should push risk.

Why families: the feature set measures one behaviour several ways. "No activity for 30 days",
"no events in the last 30 days" and "not active in the last 30 days" are one fact to an
operator, yet the model spreads its attribution over all three, so a plain top-3 of features
repeats it three times. A user therefore gets at most one reason per family. A family's
contribution is the sum of its members' (TreeSHAP is additive, so the sum is exactly what the
family as a whole adds to the log-odds); its words come from one member (serving/decisions/
reasons.py says which).

The grouping (the members are in SIGNALS below), and the behaviour each family stands for:

- `recency`: is the user still here this month? Days since the last event, events in 7 and
  30 days, active days in 30, events per active day.
- `engagement`: how much they use the product this quarter. Events and active days in 90
  days, kinds of activity, events 30-60 days ago.
- `trend`: which way usage is moving. Activity change on the previous month, a comeback.
- `history`: how established the relationship is. Tenure, lifetime events, the average gap.
- `purchases`: whether they buy. Purchases in 90 days and in total, days since the last
  purchase, the share of events that are purchases.
- `spend`: how much they spend. Revenue in 30, 30-60 and 90 days and in total, its change,
  the average purchase value.
- `refunds`: whether they send things back. Refunds in 90 days, the refunded amount.
- `timing`: when they are active. Weekend and night shares.

Why an expected direction per feature: a contribution is only a reason an operator can act on
when the words and the number agree. "Only 14 purchases in the last 90 days" must not be shown
as a risk for a user who buys more than most; such a contribution comes from interactions inside
the trees that a sentence cannot explain. `risk_rises_with` says which way more of a feature
should push churn risk (+1: more days since the last event is riskier; -1: more activity is
safer; 0: no expectation, so the feature is explained in `/explain` but never listed as a
reason). `missing` says where an undefined value stands: "never purchased" (days since last
purchase missing) is on the risky side; an undefined trend (an empty previous month) on neither.
The feature's value is compared with a reference (the typical value of the population the
explaining model describes, see `typical_values` in reasons.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal[-1, 0, 1]

FAMILY_LABELS: dict[str, str] = {
    "recency": "recent activity",
    "engagement": "activity over the last 90 days",
    "trend": "activity trend",
    "history": "customer history",
    "purchases": "purchases",
    "spend": "spending",
    "refunds": "refunds",
    "timing": "activity timing",
}


@dataclass(frozen=True)
class Signal:
    """How one feature is read: its family, its expected direction, what missing means."""

    family: str
    # +1: a larger value should raise churn risk; -1: lower it; 0: no expectation.
    risk_rises_with: Direction
    # Where a missing value stands against any reference: +1 risky side, -1 safe side, 0 unknown.
    missing: Direction = 0


SIGNALS: dict[str, Signal] = {
    "days_since_last_event": Signal("recency", 1, missing=1),
    "events_7d": Signal("recency", -1),
    "events_30d": Signal("recency", -1),
    "active_days_30d": Signal("recency", -1),
    "events_per_active_day_30d": Signal("recency", -1, missing=1),
    "events_90d": Signal("engagement", -1),
    "active_days_90d": Signal("engagement", -1),
    "distinct_event_types_90d": Signal("engagement", -1),
    "events_prev_30d": Signal("engagement", -1),
    "activity_change_30d": Signal("trend", -1),
    "reactivated_30d": Signal("trend", 0),
    "days_since_first_event": Signal("history", -1),
    "events_total": Signal("history", -1),
    "mean_gap_days": Signal("history", 1, missing=1),
    "purchases_90d": Signal("purchases", -1),
    "purchases_total": Signal("purchases", -1),
    "days_since_last_purchase": Signal("purchases", 1, missing=1),
    "purchase_rate_90d": Signal("purchases", -1, missing=1),
    "revenue_30d": Signal("spend", -1, missing=1),
    "revenue_prev_30d": Signal("spend", -1, missing=1),
    "revenue_90d": Signal("spend", -1, missing=1),
    "revenue_total": Signal("spend", -1, missing=1),
    "revenue_change_30d": Signal("spend", -1),
    "avg_purchase_value": Signal("spend", -1, missing=1),
    "refunds_90d": Signal("refunds", 1),
    "refund_amount_total": Signal("refunds", 1),
    "weekend_share_90d": Signal("timing", 0),
    "night_share_90d": Signal("timing", 0),
}


def signal(feature: str) -> Signal:
    """The declared signal; a feature nobody declared is a family of its own, never listed."""
    return SIGNALS.get(feature) or Signal(family=feature, risk_rises_with=0)


def family_label(family: str) -> str:
    """The family in words (an undeclared feature's name with spaces)."""
    return FAMILY_LABELS.get(family) or family.replace("_", " ")
