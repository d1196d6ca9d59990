"""Whether the scores are older than the report: a stale score file is flagged at the top.

Why prominently: a report reads as "the state of the base now"; scores computed at an earlier
cutoff know nothing of what happened since (users who came back, users who left), and acting on
them contacts the wrong people. The report date is, in this order: the date asked for, the
cutoff that lets every event of the given log count (midnight after its last event, the cutoff
`retain score` uses by default), or today (UTC). Scores whose cutoff is before it are stale;
with a log, the events after the cutoff are counted, so the flag says how much was missed.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime

from features import LoadedEvents, as_naive_utc


@dataclass(frozen=True)
class Freshness:
    """The scores' cutoff against the report date, and what came after the cutoff."""

    scores_as_of: datetime
    report_date: datetime
    basis: str  # why this report date: "the date asked for", "the end of the event log", "today"
    late_events: int | None = None  # events at or after the scores' cutoff (None: no log)
    late_users: int | None = None

    @property
    def stale(self) -> bool:
        return self.scores_as_of < self.report_date

    @property
    def days_behind(self) -> float:
        return (self.report_date - self.scores_as_of).total_seconds() / 86_400


def freshness(
    scores_as_of: datetime,
    *,
    report_date: datetime | None = None,
    events: LoadedEvents | None = None,
    now: datetime | None = None,
) -> Freshness:
    """Judge the scores' cutoff against the report date (see the module for which date)."""
    from serving.scoring import latest_cutoff

    as_of = as_naive_utc(scores_as_of)
    if report_date is not None:
        date, basis = as_naive_utc(report_date), "the date asked for"
    elif events is not None and events.report.max_event_time is not None:
        date, basis = as_naive_utc(latest_cutoff(events)), "the end of the event log"
    else:
        today = as_naive_utc(now or datetime.now(UTC))
        date, basis = today.replace(hour=0, minute=0, second=0, microsecond=0), "today (UTC)"
    if events is None:
        return Freshness(as_of, date, basis)
    log = events.table
    late = log.filter(log.event_time >= as_of)
    counts = events.backend.execute(late.aggregate(n=late.count(), users=late.user_id.nunique()))
    return Freshness(as_of, date, basis, int(counts["n"].iloc[0]), int(counts["users"].iloc[0]))


def freshness_banner(state: Freshness) -> str:
    """A red alert when the scores are stale; a quiet line saying they are current otherwise."""
    dates = (
        f"scores as of {state.scores_as_of:%Y-%m-%d}; report date {state.report_date:%Y-%m-%d},"
        f" {html.escape(state.basis)}"
    )
    if not state.stale:
        return f"<p class='muted' id='freshness'>Up to date: {dates}.</p>"
    missed = ""
    if state.late_events:
        missed = (
            f" {state.late_events:,} events of {state.late_users:,} users came after the scores'"
            " cutoff; the risks, stages and actions below do not know them."
        )
    return (
        "<div class='stale' role='alert' id='freshness'><b>Stale scores:</b> the scores are "
        f"{_age(state.days_behind)} older than the report ({dates}).{missed} Score again "
        "(<code>retain score</code>) before acting on this report.</div>"
    )


def _age(days: float) -> str:
    if days >= 1:
        whole = int(days)
        return f"{whole:,} day{'s' if whole != 1 else ''}"
    return f"{days * 24:.0f} hours"
