"""Hand-made score frames and event logs for the report's tests: a few users, known weeks.

Why by hand and not from the simulator: the KPI and funnel tests compare against numbers worked
out on paper from these rows (see each test), and the presentation tests need a score file
without training a model.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from serving.scoring.pipeline import SCORE_COLUMNS

END = datetime(2024, 1, 15)  # the midnight after the last event: the report's end
WEEK0, WEEK1 = datetime(2024, 1, 1), datetime(2024, 1, 8)  # a two-week window: [WEEK0, END)


def scores(
    rows: list[tuple[str, str, str]], as_of: datetime = END, actions: dict[str, str] | None = None
) -> pd.DataFrame:
    """A score table as `retain score` writes it: (user, stage, tier) rows, plain numbers.

    `actions` gives some users an action (cost 2, gain 5); the rest get `no_action`.
    """
    actions = actions or {}
    frame = pd.DataFrame(rows, columns=["user_id", "lifecycle_stage", "value_tier"])
    n = len(frame)
    acted = [actions.get(user, "no_action") for user in frame["user_id"]]
    frame = frame.assign(
        as_of=pd.Timestamp(as_of),
        churn_probability=0.4,
        return_probability=float("nan"),
        predicted_value=10.0,
        value_if_retained=10.0,
        value_at_stake=10.0,
        action=acted,
        expected_gain=[5.0 if a != "no_action" else 0.0 for a in acted],
        action_cost=[2.0 if a != "no_action" else 0.0 for a in acted],
        decision_reason=["best_gain"] * n,
        reasons=[""] * n,
        churn_model_version="1",
        recall_model_version="1",
        value_model_version="1",
        feature_set_id="behavioural_v1",
    )
    return frame[list(SCORE_COLUMNS)]


def events(rows: list[tuple[str, str, str, float | None]]) -> pd.DataFrame:
    """An event log in the contract: (user, time, type, amount) rows."""
    frame = pd.DataFrame(rows, columns=["user_id", "event_time", "event_type", "amount"])
    return frame.assign(event_time=pd.to_datetime(frame["event_time"]))


# Users of the KPI log: a repeat buyer, a first-time buyer, an at-risk browser, a dormant user,
# and `e`, who has events but no score (first seen after the cutoff).
KPI_SEGMENTS = [
    ("a", "active", "high"),
    ("b", "active", "low"),
    ("c", "at_risk", "high"),
    ("d", "dormant", "low"),
]
KPI_EVENTS = [
    ("a", "2023-12-20 10:00", "purchase", 10.0),  # before the window: a has bought before
    ("a", "2024-01-02 09:00", "view", None),
    ("a", "2024-01-03 09:00", "purchase", 30.0),
    ("a", "2024-01-09 09:00", "purchase", 50.0),
    ("a", "2024-01-10 09:00", "refund", -20.0),
    ("b", "2024-01-05 09:00", "login", None),
    ("b", "2024-01-12 09:00", "purchase", 20.0),  # b's first purchases: not a repeat buyer
    ("b", "2024-01-12 10:00", "purchase", 40.0),
    ("c", "2024-01-14 23:00", "view", None),
    ("c", "2024-01-15 00:00", "purchase", 100.0),  # at the window's end: outside it
    ("d", "2023-11-01 09:00", "login", None),
    ("e", "2024-01-09 09:00", "purchase", 70.0),
]

# Users of the funnel log (view → add_to_cart → purchase in [2024-01-01, 2024-01-15)).
FUNNEL_SEGMENTS = [
    ("a", "active", "high"),
    ("b", "active", "low"),
    ("c", "at_risk", "high"),
    ("d", "dormant", "low"),
    ("f", "active", "high"),
    ("g", "new", "mid"),
]
FUNNEL_EVENTS = [
    ("a", "2024-01-02 09:00", "view", None),  # a: all three steps, in order
    ("a", "2024-01-02 10:00", "add_to_cart", None),
    ("a", "2024-01-02 11:00", "purchase", 25.0),
    ("a", "2024-01-10 09:00", "view", None),  # a second view counts a once
    ("b", "2024-01-03 09:00", "add_to_cart", None),  # b's cart came before b's first view
    ("b", "2024-01-04 09:00", "view", None),
    ("b", "2024-01-05 09:00", "purchase", 15.0),
    ("c", "2024-01-05 09:00", "view", None),
    ("c", "2024-01-06 09:00", "add_to_cart", None),
    ("c", "2024-01-15 00:00", "purchase", 40.0),  # at the end: outside the window
    ("d", "2024-01-07 09:00", "purchase", 12.0),  # a purchase without a view: no step
    ("e", "2024-01-08 09:00", "view", None),  # not scored
    ("f", "2023-12-30 09:00", "view", None),  # f's view is before the window
    ("f", "2024-01-03 09:00", "add_to_cart", None),
    ("f", "2024-01-03 10:00", "purchase", 30.0),
    ("g", "2024-01-09 12:00", "view", None),  # the same instant counts as "at or after"
    ("g", "2024-01-09 12:00", "add_to_cart", None),
]
