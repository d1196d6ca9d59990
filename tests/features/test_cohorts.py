"""Cohort retention on a log small enough to count by hand."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from features import WindowConfig, from_frame
from features.cohorts import cohort_retention, retention_matrix


@pytest.fixture
def loaded():
    rows = [
        # January cohort: a, b, c.  a active Jan, Feb, Mar; b Jan, Mar; c Jan only (a login).
        ("a", "2024-01-03", "visit"), ("a", "2024-02-10", "visit"), ("a", "2024-03-05", "visit"),
        ("b", "2024-01-20", "visit"), ("b", "2024-03-28", "purchase"),
        ("c", "2024-01-31 23:59", "login"),
        # February cohort: d (active Feb, Mar), e (Feb only).
        ("d", "2024-02-01", "visit"), ("d", "2024-03-15", "visit"), ("e", "2024-02-29", "visit"),
        # April: the month is not over at the end of the data, so it is never reported.
        ("a", "2024-04-02", "visit"),
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["user_id", "event_time", "event_type"])
    return from_frame(frame, "duckdb")


def test_retention_by_cohort_and_month_by_hand(loaded) -> None:
    result = cohort_retention(loaded)
    got = {
        (row.cohort.month, row.months_since): (row.cohort_users, row.active_users)
        for row in result.itertuples()
    }
    assert got == {
        (1, 0): (3, 3), (1, 1): (3, 1), (1, 2): (3, 2),  # Jan: a | a, b
        (2, 0): (2, 2), (2, 1): (2, 1),  # Feb: d in March
    }  # fmt: skip
    assert result.loc[(result.cohort == datetime(2024, 1, 1)) & (result.months_since == 2),
                      "retention"].item() == pytest.approx(2 / 3)  # fmt: skip


def test_as_of_cuts_events_and_incomplete_months(loaded) -> None:
    result = cohort_retention(loaded, as_of=datetime(2024, 3, 1))
    assert set(zip(result.cohort.dt.month, result.months_since, strict=True)) == {
        (1, 0),
        (1, 1),
        (2, 0),
    }


def test_activity_events_decide_who_is_active(loaded) -> None:
    visits = cohort_retention(loaded, WindowConfig(activity_events=("visit",)))
    january = visits[visits.cohort == datetime(2024, 1, 1)]
    assert january.cohort_users.iloc[0] == 2  # c only logged in, b's March event is a purchase
    assert list(january.active_users) == [2, 1, 1]


def test_matrix_is_a_triangle(loaded) -> None:
    matrix = retention_matrix(cohort_retention(loaded))
    assert matrix.shape == (2, 3)
    assert matrix.iloc[0, 0] == 1.0 and pd.isna(matrix.iloc[1, 2])
