"""The conversion funnel over configured event types (view → add to cart → purchase), by segment.

Why ordered steps: "users who viewed, then added to a cart, then bought" is what an operator
means by a funnel; counting users who did each thing at some time, in any order, overstates
every step after the first. A user reaches step k at the first step-k event at or after the
moment they reached step k−1, within the report window (no time limit between steps: the
window bounds them). Segments are the scored users' stages and tiers at the scoring cutoff;
users who are not in the score file are counted (`Funnel.unscored_users`), not dropped.

The default steps are `DEFAULT_STEPS` in that order, keeping those the log has; a funnel needs
two steps, so a log with fewer of them (a purchase-only export) gets no funnel and the report
says why. Steps a caller names explicitly must all be event types of the log
(`check_funnel_steps`): a typo is refused, not drawn as an empty step.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from features import LoadedEvents, as_naive_utc
from serving.reporting.kpis import DIMENSIONS, ReportWindow, segment_key, segments_of

DEFAULT_STEPS: tuple[str, ...] = ("view", "add_to_cart", "purchase")
FUNNEL_COLUMNS = ("dimension", "segment", "users", "position", "step", "reached", "step_rate")


@dataclass(frozen=True)
class Funnel:
    """Users reaching each step, per (dimension, segment), and the conversion between steps.

    `table`: one row per (dimension, segment, step) with the segment's `users`, the step's
    `position` (0 first), the users who `reached` it and `step_rate`: the share of the previous
    step's users who reached this one (for the first step, of the segment's users).
    """

    steps: tuple[str, ...]
    table: pd.DataFrame
    window: ReportWindow
    unscored_users: int


def event_types(events: LoadedEvents) -> list[str]:
    """The event types the log holds, most frequent first."""
    log = events.table
    counts = events.backend.execute(log.group_by("event_type").aggregate(n=log.count()))
    return counts.sort_values(["n", "event_type"], ascending=[False, True])["event_type"].tolist()


def default_steps(types: list[str]) -> tuple[str, ...]:
    """The default steps the log has, in funnel order (fewer than two: no funnel)."""
    return tuple(step for step in DEFAULT_STEPS if step in types)


def check_funnel_steps(steps: tuple[str, ...], types: list[str]) -> None:
    """Refuse steps the log does not have, a repeated step, or fewer than two steps."""
    if len(steps) < 2:
        raise ValueError(f"a funnel needs at least two steps, got {', '.join(steps) or 'none'}")
    repeated = sorted({step for step in steps if steps.count(step) > 1})
    if repeated:
        raise ValueError(f"funnel steps repeat {', '.join(repeated)}")
    missing = [step for step in steps if step not in types]
    if missing:
        raise ValueError(
            f"funnel step{'s' if len(missing) > 1 else ''} {', '.join(missing)} not in the event "
            f"log (its event types: {', '.join(types)})"
        )


def _reached(events: LoadedEvents, steps: tuple[str, ...], window: ReportWindow) -> list[ir.Table]:
    """Per step, the users reaching it and when (the first qualifying event)."""
    log = events.table
    seen = log.filter(
        (log.event_time >= window.start)
        & (log.event_time < as_naive_utc(window.end))
        & log.event_type.isin(list(steps))
    )
    first = seen.filter(seen.event_type == steps[0])
    reached = [first.group_by("user_id").aggregate(at=first.event_time.min())]
    for step in steps[1:]:
        later = seen.filter(seen.event_type == step)
        before = reached[-1]
        joined = later.join(before, later.user_id == before.user_id)
        joined = joined.filter(joined.event_time >= joined.at)
        reached.append(joined.group_by("user_id").aggregate(at=joined.event_time.min()))
    return reached


def funnel(
    events: LoadedEvents, scores: pd.DataFrame, steps: tuple[str, ...], window: ReportWindow
) -> Funnel:
    """Users reaching each step in the window, by stage, tier and overall (ordered steps)."""
    segments = segments_of(scores)
    segment_table = ibis.memtable(segments)
    reached = _reached(events, steps, window)
    counted = []
    for step, users in zip(steps, reached, strict=True):
        joined = users.join(segment_table, "user_id")
        grouped = joined.group_by(["lifecycle_stage", "value_tier"]).aggregate(n=joined.count())
        counted.append(grouped.mutate(step=ibis.literal(step)))
    frame = events.backend.execute(ibis.union(*counted))
    outside = reached[0].anti_join(segment_table, "user_id").count()
    unscored = int(events.backend.execute(outside))
    return Funnel(steps, _by_segment(frame, segments, steps), window, unscored)


def _by_segment(
    frame: pd.DataFrame, segments: pd.DataFrame, steps: tuple[str, ...]
) -> pd.DataFrame:
    rows = []
    for dimension, column in DIMENSIONS.items():
        by = segment_key(frame, column).rename("segment")
        reach = frame.groupby([by, frame["step"]])["n"].sum()
        for segment, users in segment_key(segments, column).value_counts().sort_index().items():
            previous = int(users)
            for position, step in enumerate(steps):
                count = int(reach.get((segment, step), 0))
                rate = count / previous if previous else float("nan")
                rows.append((dimension, segment, int(users), position, step, count, rate))
                previous = count
    return pd.DataFrame(rows, columns=list(FUNNEL_COLUMNS))
