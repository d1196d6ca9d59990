"""Reason wording: one feature value in words, phrased the way it pushes this user's risk.

Why three tones: the same value reads differently as a risk and as a protection. "Only 2 events
in the last 30 days" explains a raised risk; "22 events in the last 30 days" says what keeps a
user safe. Words such as "only", "no", "not", "never" and "nothing" appear in risk-raising
texts alone. The neutral tone states the value plainly; `/explain` uses it where the model's
push disagrees with what the value would suggest (an interaction a sentence cannot explain).
Which tone applies is decided in serving/decisions/reasons.py; the templates only render.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple

import numpy as np

Tone = Literal["raises", "lowers", "neutral"]
Template = Callable[[float], str]

# Engines agree on feature values to ~1e-12, not bit for bit: 16.0849999999 and 16.0850000001
# print as 16.08 and 16.09. Rounding to this many decimals first makes the words identical.
SETTLE_DECIMALS = 6


class Wording(NamedTuple):
    """A feature's three templates."""

    raises: Template
    lowers: Template
    neutral: Template


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _money(amount: float) -> str:
    return f"{amount:,.2f}"


def _whole(value: float) -> int:
    """Counts and day spans are shown whole; days are truncated (41.8 days is '41 days')."""
    return int(np.floor(value + 1e-9))


def _same(template: Template) -> Wording:
    """A feature with no expected direction: one plain text for every tone."""
    return Wording(template, template, template)


def _count(noun: str, where: str, risky: bool = False) -> Wording:
    """A count; `risky` when more of it raises risk (refunds), else more is safer."""

    def plain(value: float) -> str:
        if np.isnan(value):
            return f"{noun} count {where} unknown"
        return f"{_plural(_whole(value), noun)} {where}"

    def scarce(value: float) -> str:
        n = 0 if np.isnan(value) else _whole(value)
        return f"no {noun}s {where}" if n <= 0 else f"only {_plural(n, noun)} {where}"

    def free(value: float) -> str:
        return f"{noun}-free {where}" if not value >= 1 else plain(value)

    return Wording(plain, free, plain) if risky else Wording(scarce, plain, plain)


def _active_days(window: int) -> Wording:
    def scarce(value: float) -> str:
        if not value > 0:
            return f"not active in the last {window} days"
        return f"active on only {_whole(value)} of the last {window} days"

    def plain(value: float) -> str:
        if np.isnan(value):
            return f"active days in the last {window} days unknown"
        return f"active on {_whole(value)} of the last {window} days"

    return Wording(scarce, plain, plain)


def _days_since(event: str, recent: str, missing: Template) -> Wording:
    """Days since the last `event` (more is riskier); `missing`: the text for 'never'."""

    def stale(value: float) -> str:
        if np.isnan(value):
            return missing(value)
        if value < 1:
            return f"no {event} for less than a day"
        return f"no {event} for {_plural(_whole(value), 'day')}"

    def plain(value: float) -> str:
        if np.isnan(value):
            return f"last {event} unknown"
        if value < 1:
            return recent
        return f"last {event} {_plural(_whole(value), 'day')} ago"

    return Wording(stale, plain, plain)


def _spent(where: str) -> Wording:
    def net_refund(value: float) -> str | None:
        return f"net refunds of {_money(-value)} {where}" if value < 0 else None

    def scarce(value: float) -> str:
        if np.isnan(value) or value == 0:
            return f"spent nothing {where}"
        if value < 0:
            return f"no net spending {where} (refunds of {_money(-value)})"
        return f"spent only {_money(value)} {where}"

    def plain(value: float) -> str:
        value = 0.0 if np.isnan(value) else value
        return net_refund(value) or f"spent {_money(value)} {where}"

    return Wording(scarce, plain, plain)


# How a month-on-month change reads per tone: (after a fall, no change, before a rise).
_CHANGE_PHRASES: dict[str, tuple[str, str, str]] = {
    "raises": ("", "no higher than", "up only"),
    "lowers": (", a smaller drop than most", "holding steady on", "up"),
    "neutral": ("", "flat on", "up"),
}


def _change(subject: str) -> Wording:
    """A month-on-month change (more is safer); missing when the previous month was empty."""

    def render(value: float, tone: Tone) -> str:
        if np.isnan(value):
            return f"{subject} trend unknown (previous month empty)"
        fallen, flat, risen = _CHANGE_PHRASES[tone]
        if value < 0:
            return f"{subject} down {abs(value):.0%} on the previous month{fallen}"
        if round(value, 2) == 0:
            return f"{subject} {flat} the previous month"
        return f"{subject} {risen} {value:.0%} on the previous month"

    return _toned(render)


def _ratio(text: str, scarce: str, absent_risky: str, absent_plain: str) -> Wording:
    """A ratio (more is safer) formatted by `text`; `scarce` is its risk-raising form."""
    return Wording(
        lambda v: absent_risky if np.isnan(v) else scarce.format(v),
        lambda v: absent_plain if np.isnan(v) else text.format(v),
        lambda v: absent_plain if np.isnan(v) else text.format(v),
    )


def _refunded(value: float, tone: Tone) -> str:
    if not value > 0:
        return "refund-free so far"
    tail = ", less than most" if tone == "lowers" else ""
    return f"refunded {_money(value)} in total{tail}"


def _tenure(value: float, tone: Tone) -> str:
    if np.isnan(value):
        return "first seen date unknown"
    if value < 1:
        return "customer for less than a day" if tone == "raises" else "joined within the last day"
    return f"customer for {'only ' if tone == 'raises' else ''}{_plural(_whole(value), 'day')}"


def _mean_gap(value: float, tone: Tone) -> str:
    if np.isnan(value):
        return "only one event so far" if tone == "raises" else "one event so far"
    gaps = "long gaps: " if tone == "raises" else ""
    return f"{gaps}{value:.1f} days between events on average"


def _kinds(value: float, tone: Tone) -> str:
    n = _whole(value) if value > 0 else 0
    if tone == "raises":
        if n == 0:
            return "no activity in the last 90 days"
        return f"only {_plural(n, 'kind')} of activity in the last 90 days"
    return f"{_plural(n, 'kind')} of activity in the last 90 days"


def _toned(render: Callable[[float, Tone], str]) -> Wording:
    return Wording(
        lambda v: render(v, "raises"), lambda v: render(v, "lowers"), lambda v: render(v, "neutral")
    )


def _purchase_rate(value: float, tone: Tone) -> str:
    if tone == "raises" and not value > 0:  # none among the events, or no events at all
        return "no purchases in the last 90 days"
    if np.isnan(value):
        return "0 events in the last 90 days"
    share = f"{value:.0%} of events in the last 90 days were purchases"
    return f"only {share}" if tone == "raises" else share


def _reactivated(value: float) -> str:
    return "back recently after a long break" if value == 1 else "without a recent comeback"


def _share(text: str) -> Wording:
    return _same(
        lambda v: "activity timing unknown (quiet for 90 days)" if np.isnan(v) else text.format(v)
    )


_NO_PURCHASE = "no purchases yet"
_PURCHASE_COUNT = _count("purchase", "in total")
WORDINGS: dict[str, Wording] = {
    "days_since_last_event": _days_since(
        "activity", "active within the last day", lambda _: "no activity on record"
    ),
    "days_since_first_event": _toned(_tenure),
    "events_7d": _count("event", "in the last 7 days"),
    "events_30d": _count("event", "in the last 30 days"),
    "events_90d": _count("event", "in the last 90 days"),
    "events_total": _count("event", "in total"),
    "events_prev_30d": _count("event", "in the 30 days before the last 30"),
    "activity_change_30d": _change("activity"),
    "active_days_30d": _active_days(30),
    "active_days_90d": _active_days(90),
    "purchases_90d": _count("purchase", "in the last 90 days"),
    "purchases_total": _PURCHASE_COUNT._replace(
        raises=lambda v: _PURCHASE_COUNT.raises(v) if v > 0 else "never purchased"
    ),
    "revenue_30d": _spent("in the last 30 days"),
    "revenue_prev_30d": _spent("in the 30 days before the last 30"),
    "revenue_90d": _spent("in the last 90 days"),
    "revenue_total": _spent("in total"),
    "revenue_change_30d": _change("spending"),
    "days_since_last_purchase": _days_since(
        "purchase", "purchased within the last day", lambda _: "never purchased"
    ),
    "avg_purchase_value": _ratio(
        "average purchase {:,.2f}", "average purchase only {:,.2f}", _NO_PURCHASE, "0 purchases yet"
    ),
    "refunds_90d": _count("refund", "in the last 90 days", risky=True),
    "refund_amount_total": _toned(_refunded),
    "mean_gap_days": _toned(_mean_gap),
    "events_per_active_day_30d": _ratio(
        "{:.1f} events per active day in the last 30 days",
        "only {:.1f} events per active day in the last 30 days",
        "no active days in the last 30 days",
        "0 active days in the last 30 days",
    ),
    "distinct_event_types_90d": _toned(_kinds),
    "purchase_rate_90d": _toned(_purchase_rate),
    "weekend_share_90d": _share("{:.0%} of activity at weekends in the last 90 days"),
    "night_share_90d": _share("{:.0%} of activity at night (00-06 UTC) in the last 90 days"),
    "reactivated_30d": _same(_reactivated),
}


def _generic(feature: str) -> Template:
    """An undeclared feature reads '<name in words> = value', the same in every tone."""
    name = feature.replace("_", " ")
    return lambda v: f"{name} is missing" if np.isnan(v) else f"{name} = {v:.4g}"


def template(feature: str, tone: Tone) -> Template:
    """The renderer of one feature in one tone, for values already rounded to SETTLE_DECIMALS."""
    wording = WORDINGS.get(feature)
    return _generic(feature) if wording is None else getattr(wording, tone)


def describe(feature: str, value: float, tone: Tone = "neutral") -> str:
    """One feature value in words in `tone` (rounded first, so engines' values read alike)."""
    return template(feature, tone)(round(float(value), SETTLE_DECIMALS))
