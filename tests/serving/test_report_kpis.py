"""Weekly KPIs and the funnel, against numbers worked out by hand on tiny logs.

The logs are in tests/serving/report_data.py, with a comment on each row's role. The window is
two weeks, [2024-01-01, 2024-01-08) and [2024-01-08, 2024-01-15); every expected value below
is counted from those rows on paper, never taken from the code under test.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from features import from_frame
from serving.reporting.funnel import check_funnel_steps, default_steps, event_types, funnel
from serving.reporting.kpi_section import event_sections
from serving.reporting.kpis import ReportWindow, weekly_kpis
from serving.reporting.labels import Wording
from tests.serving import report_data as data

WINDOW = ReportWindow(data.END, weeks=2)
NAN = float("nan")


@pytest.fixture(scope="module")
def kpi_log():
    return from_frame(data.events(data.KPI_EVENTS))


@pytest.fixture(scope="module")
def funnel_log():
    return from_frame(data.events(data.FUNNEL_EVENTS))


def _row(table: pd.DataFrame, dimension: str, segment: str, week: int) -> dict:
    rows = table[
        (table["dimension"] == dimension) & (table["segment"] == segment) & (table["week"] == week)
    ]
    assert len(rows) == 1, (dimension, segment, week)
    return rows.iloc[0].to_dict()


def _same(actual: dict, expected: dict) -> None:
    for key, value in expected.items():
        if isinstance(value, float) and math.isnan(value):
            assert math.isnan(actual[key]), (key, actual[key])
        else:
            assert actual[key] == pytest.approx(value), (key, actual[key], value)


# (dimension, segment, week): users, active, buyers, repeat buyers, purchases, revenue, refunded,
# and the five KPIs, counted from KPI_EVENTS.
KPI_CASES = {
    # week 0: a views and buys 30 (had bought on 2023-12-20: a repeat buyer); b logs in.
    ("overall", "all", 0): dict(users=4, active_users=2, buyers=1, repeat_buyers=1, purchases=1,
        revenue=30.0, refunded=0.0, active_rate=0.5, conversion=0.25, repurchase_rate=1.0,
        refund_rate=0.0, aov=30.0),
    # week 1: a buys 50 and refunds 20; b buys 20 and 40 (first purchases); c views; c's
    # purchase at 2024-01-15 00:00 is outside; e is not scored.
    ("overall", "all", 1): dict(users=4, active_users=3, buyers=2, repeat_buyers=1, purchases=3,
        revenue=110.0, refunded=20.0, active_rate=0.75, conversion=0.5, repurchase_rate=0.5,
        refund_rate=20 / 110, aov=110 / 3),
    ("stage", "active", 1): dict(users=2, active_users=2, buyers=2, repeat_buyers=1, purchases=3,
        revenue=110.0, active_rate=1.0, conversion=1.0, repurchase_rate=0.5, aov=110 / 3),
    ("stage", "at_risk", 1): dict(users=1, active_users=1, buyers=0, active_rate=1.0,
        conversion=0.0, repurchase_rate=NAN, refund_rate=NAN, aov=NAN),
    ("stage", "dormant", 1): dict(users=1, active_users=0, active_rate=0.0, conversion=0.0),
    ("tier", "high", 1): dict(users=2, active_users=2, buyers=1, repeat_buyers=1, purchases=1,
        revenue=50.0, refunded=20.0, active_rate=1.0, conversion=0.5, repurchase_rate=1.0,
        refund_rate=0.4, aov=50.0),
    ("tier", "low", 1): dict(users=2, active_users=1, buyers=1, repeat_buyers=0, purchases=2,
        revenue=60.0, refunded=0.0, active_rate=0.5, conversion=0.5, repurchase_rate=0.0,
        refund_rate=0.0, aov=30.0),
    ("tier", "low", 0): dict(users=2, active_users=1, buyers=0, active_rate=0.5, conversion=0.0,
        aov=NAN),
}  # fmt: skip


def test_weekly_kpis_match_the_hand_count(kpi_log) -> None:
    kpis = weekly_kpis(kpi_log, data.scores(data.KPI_SEGMENTS), WINDOW)
    for (dimension, segment, week), expected in KPI_CASES.items():
        _same(_row(kpis.table, dimension, segment, week), expected)
    assert kpis.unscored_users == 1  # e: events in the window, no score
    starts = kpis.table.loc[kpis.table["dimension"] == "overall", "week_start"].tolist()
    assert starts == [pd.Timestamp(data.WEEK0), pd.Timestamp(data.WEEK1)]
    # empty segments are absent, not rows of zeros
    assert set(kpis.table.loc[kpis.table["dimension"] == "stage", "segment"]) == {
        "active", "at_risk", "dormant",
    }  # fmt: skip


def test_activity_events_decide_who_counts_as_active(kpi_log) -> None:
    """With only purchases as activity, week 1's active users are a and b (c only viewed)."""
    kpis = weekly_kpis(kpi_log, data.scores(data.KPI_SEGMENTS), WINDOW, ("purchase",))
    _same(_row(kpis.table, "overall", "all", 1), {"active_users": 2, "active_rate": 0.5})
    _same(_row(kpis.table, "overall", "all", 0), {"active_users": 1, "active_rate": 0.25})


# (dimension, segment): users reaching view, add_to_cart, purchase, and each step's rate
FUNNEL_CASES = {
    ("overall", "all"): ((4, 3, 1), (4 / 6, 3 / 4, 1 / 3)),
    ("stage", "active"): ((2, 1, 1), (2 / 3, 1 / 2, 1.0)),
    ("stage", "at_risk"): ((1, 1, 0), (1.0, 1.0, 0.0)),
    ("stage", "dormant"): ((0, 0, 0), (0.0, NAN, NAN)),
    ("stage", "new"): ((1, 1, 0), (1.0, 1.0, 0.0)),
    ("tier", "high"): ((2, 2, 1), (2 / 3, 1.0, 0.5)),
    ("tier", "low"): ((1, 0, 0), (0.5, 0.0, NAN)),
    ("tier", "mid"): ((1, 1, 0), (1.0, 1.0, 0.0)),
}


def test_funnel_counts_ordered_steps_by_segment(funnel_log) -> None:
    """b's cart came before b's first view, so b stops at the view; f's view is before the
    window; g's view and cart at the same instant count; e is not scored."""
    steps = ("view", "add_to_cart", "purchase")
    result = funnel(funnel_log, data.scores(data.FUNNEL_SEGMENTS), steps, WINDOW)
    table = result.table
    for (dimension, segment), (reached, rates) in FUNNEL_CASES.items():
        rows = table[(table["dimension"] == dimension) & (table["segment"] == segment)]
        assert rows.sort_values("position")["step"].tolist() == list(steps)
        assert rows.sort_values("position")["reached"].tolist() == list(reached), segment
        _same(dict(enumerate(rows.sort_values("position")["step_rate"])), dict(enumerate(rates)))
    assert result.unscored_users == 1


def test_default_steps_and_bad_steps(funnel_log, kpi_log) -> None:
    types = event_types(funnel_log)
    assert set(types) == {"view", "add_to_cart", "purchase"}
    assert default_steps(types) == ("view", "add_to_cart", "purchase")
    assert default_steps(event_types(kpi_log)) == ("view", "purchase")
    assert default_steps(["login", "purchase"]) == ("purchase",)
    with pytest.raises(ValueError, match=r"funnel step checkout not in the event log \(its event"):
        check_funnel_steps(("view", "checkout"), types)
    with pytest.raises(ValueError, match="at least two steps"):
        check_funnel_steps(("view",), types)
    with pytest.raises(ValueError, match="repeat view"):
        check_funnel_steps(("view", "view"), types)


def test_a_log_without_funnel_steps_says_so_instead_of_empty_tables() -> None:
    log = from_frame(
        data.events(
            [("a", "2024-01-03 09:00", "login", None), ("a", "2024-01-09 09:00", "purchase", 9.0)]
        )
    )
    page = event_sections(log, data.scores([("a", "active", "high")]), WINDOW, Wording())
    assert "No funnel: the event log has 1 of the default steps" in page
    assert "its event types are " in page and "--funnel" in page
    assert "Weekly KPIs by segment" in page  # the KPIs do not need the funnel's steps
