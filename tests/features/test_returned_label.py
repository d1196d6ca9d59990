"""The `returned` label (DESIGN.md §3) by hand: lapsed users coming back within the churn horizon.

The tiny log gains three lapsed users whose returns sit on the edges of `[T, T + 30d)`; the
label must be exact there, exist only for users not active at T, and ignore everything from
T + 30d on (labels read only their own window, as features read only theirs).
"""

from __future__ import annotations

import pandas as pd
import pytest

from features import LABEL_COLUMNS, WindowConfig, feature_frame, from_frame
from features.engines import connect
from tests.features.tiny_log import CUTOFF, tiny_events

# Lapsed users (last event more than 90 days before T = 2024-04-01) and when they come back.
LAPSED_ROWS = [
    ("u7", "2023-12-15 00:00:00", "login", None),  # 108 days before T
    ("u7", "2024-04-15 00:00:00", "login", None),  # back at T+14d: returned
    ("u8", "2023-11-01 00:00:00", "purchase", "25"),
    ("u8", "2024-04-01 00:00:00", "view", None),  # back exactly at T: inside the window
    ("u9", "2023-12-01 00:00:00", "login", None),
    ("u9", "2024-04-30 23:59:59", "login", None),  # the last second inside [T, T+30d)
]
# Hand-computed: None = no label (active at T, so `churned` applies instead).
EXPECTED_RETURNED = {
    "u1": None,
    "u2": 0.0,  # back exactly at T+30d: outside
    "u4": None,
    "u5": None,
    "u6": None,
    "u7": 1.0,
    "u8": 1.0,
    "u9": 1.0,
}


def _events(extra: list[tuple] | None = None) -> pd.DataFrame:
    rows = tiny_events()
    added = pd.DataFrame(LAPSED_ROWS + (extra or []), columns=rows.columns)
    return pd.concat([rows, added], ignore_index=True)


@pytest.fixture(scope="module")
def labelled() -> pd.DataFrame:
    events = from_frame(_events(), backend=connect("duckdb"))
    return feature_frame(events, CUTOFF, WindowConfig(), labels=True).set_index("user_id")


def test_returned_is_a_declared_label() -> None:
    assert "returned" in LABEL_COLUMNS


def test_returned_matches_hand_computation(labelled: pd.DataFrame) -> None:
    assert sorted(labelled.index) == sorted(EXPECTED_RETURNED)
    for user, expected in EXPECTED_RETURNED.items():
        got = labelled.loc[user, "returned"]
        if expected is None:
            assert pd.isna(got), f"{user}: active at T, expected no return label, got {got}"
        else:
            assert got == expected, f"{user}: expected returned={expected}, got {got}"


def test_every_user_has_exactly_one_of_churned_and_returned(labelled: pd.DataFrame) -> None:
    has_churned = labelled["churned"].notna()
    has_returned = labelled["returned"].notna()
    assert (has_churned ^ has_returned).all()
    assert (has_returned == (labelled["active_at_cutoff"] == 0)).all()


def test_events_from_the_horizon_on_change_no_label() -> None:
    backend = connect("duckdb")
    windows = WindowConfig()
    before = feature_frame(from_frame(_events(), backend=backend), CUTOFF, windows, labels=True)
    late = [  # at and after T + 30d: visible to no churn or return label
        ("u2", "2024-05-01 00:00:00", "login", None),
        ("u4", "2024-05-02 00:00:00", "login", None),
        ("u7", "2024-06-01 00:00:00", "login", None),
    ]
    after = feature_frame(from_frame(_events(late), backend=backend), CUTOFF, windows, labels=True)
    for column in ("churned", "returned"):
        pd.testing.assert_series_equal(before[column], after[column])
