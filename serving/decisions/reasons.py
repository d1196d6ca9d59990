"""Reason codes: the features pushing a user's churn risk up, in words an operator can act on.

Why words and not SHAP numbers: the churn list is read by people who decide whom to call. A
line such as "no activity for 41 days" tells them what happened; "days_since_last_event
+0.83" does not. The ranking comes from LightGBM's `pred_contrib` (per-feature contributions to
the log-odds of churn); the wording comes from the user's own feature value.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

LOW_RISK_TEXT = "risk drivers are low"
_BIAS_COLUMNS = frozenset({"bias", "BiasValue", "__bias__", "expected_value"})

Template = Callable[[float], str]


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _money(amount: float) -> str:
    return f"{amount:,.2f}"


def _whole(value: float) -> int:
    """Counts and day spans are shown whole; days are truncated (41.8 days is '41 days')."""
    return int(np.floor(value + 1e-9))


def _count(noun: str, where: str, only: bool = True) -> Template:
    def render(value: float) -> str:
        if np.isnan(value):
            return f"{noun} count {where} unknown"
        n = _whole(value)
        if n <= 0:
            return f"no {noun}s {where}"
        return f"{'only ' if only else ''}{_plural(n, noun)} {where}"

    return render


def _active_days(window: int) -> Template:
    def render(value: float) -> str:
        if np.isnan(value) or value <= 0:
            return f"not active in the last {window} days"
        return f"active on {_whole(value)} of the last {window} days"

    return render


def _spent(where: str) -> Template:
    def render(value: float) -> str:
        if np.isnan(value) or value == 0:
            return f"spent nothing {where}"
        if value < 0:
            return f"net refunds of {_money(-value)} {where}"
        return f"spent {_money(value)} {where}"

    return render


def _change(subject: str, missing: str) -> Template:
    def render(value: float) -> str:
        if np.isnan(value):
            return missing
        if round(value, 2) == 0:
            return f"{subject} flat on the previous month"
        direction = "down" if value < 0 else "up"
        return f"{subject} {direction} {abs(value):.0%} on the previous month"

    return render


def _days_since(prefix: str, suffix: str, missing: str, recent: str) -> Template:
    def render(value: float) -> str:
        if np.isnan(value):
            return missing
        if value < 1:
            return recent
        return f"{prefix}{_plural(_whole(value), 'day')}{suffix}"

    return render


def _share(text: str, missing: str = "no events in the last 90 days") -> Template:
    def render(value: float) -> str:
        return missing if np.isnan(value) else text.format(value)

    return render


def _reactivated(value: float) -> str:
    return "back recently after a long break" if value == 1 else "no recent comeback after a break"


TEMPLATES: dict[str, Template] = {
    "days_since_last_event": _days_since(
        "no activity for ", "", "no activity on record", "active within the last day"
    ),
    "days_since_first_event": _days_since(
        "customer for ", "", "first seen date unknown", "joined within the last day"
    ),
    "events_7d": _count("event", "in the last 7 days"),
    "events_30d": _count("event", "in the last 30 days"),
    "events_90d": _count("event", "in the last 90 days"),
    "events_total": _count("event", "in total"),
    "events_prev_30d": _count("event", "in the 30 days before the last 30", only=False),
    "activity_change_30d": _change("activity", "no activity in the previous month to compare"),
    "active_days_30d": _active_days(30),
    "active_days_90d": _active_days(90),
    "purchases_90d": _count("purchase", "in the last 90 days"),
    "purchases_total": lambda v: (
        "never purchased" if not v > 0 else _count("purchase", "in total")(v)
    ),
    "revenue_30d": _spent("in the last 30 days"),
    "revenue_prev_30d": _spent("in the 30 days before the last 30"),
    "revenue_90d": _spent("in the last 90 days"),
    "revenue_total": _spent("in total"),
    "revenue_change_30d": _change("spending", "no spending in the previous month to compare"),
    "days_since_last_purchase": _days_since(
        "last purchase ", " ago", "never purchased", "purchased within the last day"
    ),
    "avg_purchase_value": _share("average purchase {:,.2f}", "no purchases yet"),
    "refunds_90d": _count("refund", "in the last 90 days", only=False),
    "refund_amount_total": lambda v: (
        "never refunded" if not v > 0 else f"refunded {_money(v)} in total"
    ),
    "mean_gap_days": _share("{:.1f} days between events on average", "only one event so far"),
    "events_per_active_day_30d": _share(
        "{:.1f} events per active day in the last 30 days", "no active days in the last 30 days"
    ),
    "distinct_event_types_90d": lambda v: (
        "no activity in the last 90 days"
        if not v > 0
        else f"{_plural(_whole(v), 'kind')} of activity in the last 90 days"
    ),
    "purchase_rate_90d": _share("{:.0%} of events in the last 90 days were purchases"),
    "weekend_share_90d": _share("{:.0%} of activity at weekends in the last 90 days"),
    "night_share_90d": _share("{:.0%} of activity at night (00-06 UTC) in the last 90 days"),
    "reactivated_30d": _reactivated,
}


# Engines agree on feature values to ~1e-12, not bit for bit: 16.0849999999 and 16.0850000001
# print as 16.08 and 16.09. Rounding to this many decimals first makes the words identical.
SETTLE_DECIMALS = 6


def describe(feature: str, value: float) -> str:
    """One feature value in words; unknown features read as '<name in words> = value'."""
    template = TEMPLATES.get(feature)
    if template is not None:
        return template(round(float(value), SETTLE_DECIMALS))
    name = feature.replace("_", " ")
    return f"{name} is missing" if np.isnan(value) else f"{name} = {value:.4g}"


def _render_column(feature: str, values: np.ndarray) -> np.ndarray:
    """Render many values of one feature, formatting each distinct value only once."""
    unique, inverse = np.unique(values, return_inverse=True)
    texts = np.array([describe(feature, v) for v in unique], dtype=object)
    return texts[inverse]


def reason_codes(
    features: pd.DataFrame, contributions: pd.DataFrame, top_k: int = 3
) -> list[list[str]]:
    """Per user (row, by position), the top_k features that push churn risk up, in words.

    Only positive contributions count: a feature lowering risk is no reason to act. Ties keep
    the contribution columns' order. Users with no positive contribution get [LOW_RISK_TEXT].
    Bias columns (`bias`, `BiasValue`, ...) are ignored.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1; got {top_k}")
    if len(features) != len(contributions):
        raise ValueError(
            f"features has {len(features)} rows but contributions has {len(contributions)}; "
            "they must describe the same users in the same order"
        )
    columns = [c for c in contributions.columns if c not in _BIAS_COLUMNS]
    missing = [c for c in columns if c not in features.columns]
    if missing:
        raise KeyError(f"contributions name features absent from the feature frame: {missing}")
    n_users = len(features)
    if not columns or n_users == 0:
        return [[LOW_RISK_TEXT] for _ in range(n_users)]
    contrib = contributions[columns].to_numpy(dtype=float, na_value=np.nan)
    contrib = np.where(np.isnan(contrib), -np.inf, contrib)
    k = min(top_k, len(columns))
    top = np.argsort(-contrib, axis=1, kind="stable")[:, :k]
    pushes_up = np.take_along_axis(contrib, top, axis=1) > 0

    texts = np.full((n_users, k), None, dtype=object)
    for position in np.unique(top[pushes_up]):
        rows, ranks = np.nonzero((top == position) & pushes_up)
        feature = columns[position]
        values = features[feature].to_numpy(dtype=float, na_value=np.nan)[rows]
        texts[rows, ranks] = _render_column(feature, values)
    # Positive contributions come first in each row, so each row's texts are a prefix.
    return [[text for text in row if text is not None] or [LOW_RISK_TEXT] for row in texts.tolist()]
