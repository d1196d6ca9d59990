"""Feature set behavioural_v2: hand-computed values, leakage, selection and engine parity.

The tiny log below is built so each v2 feature has a value that can be worked out on paper
(cutoff T = 2024-04-01 00:00 UTC; 2024 is a leap year: T − 30d = 03-02, T − 60d = 02-01).
"""

from __future__ import annotations

import math
from datetime import datetime

import ibis
import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from features import FEATURE_SET, WindowConfig, feature_frame, from_frame, load_events
from features.behavioural_v2_set import BEHAVIOURAL_V2, behavioural_v2, resolve_v2
from features.cadence import purchase_buyers
from features.clv_summary import CLV_COLUMNS, buyer_summary
from features.engines import connect, to_frame
from features.event_types import event_type_columns, top_event_types, type_slugs
from features.feature_sets import FEATURE_SETS, feature_set
from tests.features.test_hand_computed import assert_row

CUTOFF = datetime(2024, 4, 1)
ROWS = [
    # b1: purchase days 01-01, 01-11 (two purchases: 25), 01-31, 03-01: gaps 10, 20, 30 days
    ("b1", "2024-01-01 10:00:00", "purchase", "10"),
    ("b1", "2024-01-11 09:00:00", "purchase", "20"),
    ("b1", "2024-01-11 18:00:00", "purchase", "5"),
    ("b1", "2024-01-31 12:00:00", "purchase", "30"),
    ("b1", "2024-02-10 00:00:00", "login", None),
    ("b1", "2024-03-01 11:00:00", "Add to Cart", None),
    ("b1", "2024-03-01 12:00:00", "purchase", "40"),
    ("b1", "2024-03-05 00:00:00", "login", None),
    ("b1", "2024-03-15 00:00:00", "refund", "-10"),  # a refund by sign
    ("b1", "2024-03-20 00:00:00", "return", "5"),  # a refund by type, recorded positive
    ("b1", "2024-03-25 00:00:00", "login", None),
    ("b1", "2024-04-01 00:00:00", "purchase", "99"),  # at T: no feature input
    # b2: a single purchase
    ("b2", "2024-01-20 00:00:00", "view", None),
    ("b2", "2024-02-01 00:00:00", "purchase", "50"),
    # b3: two purchases ten days apart
    ("b3", "2024-03-09 00:00:00", "Add to Cart", None),
    ("b3", "2024-03-10 00:00:00", "purchase", "10"),
    ("b3", "2024-03-20 00:00:00", "purchase", "30"),
    # n1: never buys
    ("n1", "2024-01-15 00:00:00", "view", None),
    ("n1", "2024-03-30 12:00:00", "login", None),
    ("n1", "2024-03-30 13:00:00", "view", None),
]
# Before T: purchase 8, login 4, view 3, "Add to Cart" 2, refund 1, return 1.
TOP_TYPES = ("purchase", "login", "view", "Add to Cart")
NONE = None

EXPECTED = {
    "b1": dict(
        purchase_days_total=4,
        mean_purchase_gap_days=20.0,  # (10 + 20 + 30) / 3
        purchase_gap_std_days=math.sqrt(200 / 3),  # population std of 10, 20, 30
        purchase_gap_cv=math.sqrt(200 / 3) / 20,
        last_purchase_gap_days=30.0,
        purchase_gap_trend=1.5,  # 30 / 20
        purchase_overdue=30.5 / 20,  # 03-01 12:00 is 30.5 days before T
        spend_trend_per_purchase=2.0,  # later half (30, 40) mean 35 vs earlier (10, 25) 17.5
        spend_herfindahl=(10**2 + 25**2 + 30**2 + 40**2) / 105**2,
        largest_purchase_share=40 / 105,
        refund_share=15 / 105,  # |−10| + 5 of 105 purchased
        type_purchase_count_total=5,
        type_purchase_count_30d=0,
        type_purchase_count_prev_30d=1,  # 03-01 12:00; 01-31 is before T − 60d
        type_purchase_trend_30d=-1.0,
        type_purchase_days_since_last=30.5,
        type_login_count_total=3,
        type_login_count_30d=2,
        type_login_count_prev_30d=1,
        type_login_trend_30d=1 / 3,
        type_login_days_since_last=7.0,
        type_view_count_total=0,
        type_view_count_30d=0,
        type_view_count_prev_30d=0,
        type_view_trend_30d=NONE,
        type_view_days_since_last=NONE,
        type_add_to_cart_count_total=1,
        type_add_to_cart_count_30d=0,
        type_add_to_cart_count_prev_30d=1,
        type_add_to_cart_trend_30d=-1.0,
        type_add_to_cart_days_since_last=30 + 13 / 24,
        events_total=11,  # a v1 column, unchanged
    ),
    "b2": dict(
        purchase_days_total=1,
        mean_purchase_gap_days=NONE,
        purchase_gap_std_days=NONE,
        purchase_gap_cv=NONE,
        last_purchase_gap_days=NONE,
        purchase_gap_trend=NONE,
        purchase_overdue=NONE,
        spend_trend_per_purchase=NONE,
        spend_herfindahl=1.0,
        largest_purchase_share=1.0,
        refund_share=0.0,
        type_purchase_count_prev_30d=1,  # 02-01 00:00 is exactly T − 60d: inside
        type_purchase_trend_30d=-1.0,
        type_purchase_days_since_last=60.0,
        type_view_count_total=1,
        type_view_trend_30d=NONE,
        type_view_days_since_last=72.0,
        type_login_days_since_last=NONE,
    ),
    "b3": dict(
        purchase_days_total=2,
        mean_purchase_gap_days=10.0,
        purchase_gap_std_days=NONE,  # one gap: no variability to measure
        purchase_gap_cv=NONE,
        last_purchase_gap_days=10.0,
        purchase_gap_trend=NONE,  # always 1 with one gap
        purchase_overdue=1.2,  # 12 days since 03-20 over a 10-day rhythm
        spend_trend_per_purchase=3.0,
        spend_herfindahl=(10**2 + 30**2) / 40**2,
        largest_purchase_share=0.75,
        refund_share=0.0,
        type_purchase_count_30d=2,
        type_purchase_trend_30d=1.0,
        type_add_to_cart_count_30d=1,
        type_add_to_cart_days_since_last=23.0,
    ),
    "n1": dict(
        purchase_days_total=0,
        mean_purchase_gap_days=NONE,
        purchase_overdue=NONE,
        spend_herfindahl=NONE,
        largest_purchase_share=NONE,
        refund_share=NONE,  # nothing bought: no share of it refunded
        type_purchase_count_total=0,
        type_purchase_days_since_last=NONE,
        type_login_count_30d=1,
        type_login_trend_30d=1.0,
        type_login_days_since_last=1.5,
        type_view_count_total=2,
        type_view_count_30d=1,
        type_view_days_since_last=1 + 11 / 24,  # 03-30 13:00
    ),
}


def tiny_v2_events() -> pd.DataFrame:
    return pd.DataFrame(ROWS, columns=["user_id", "event_time", "event_type", "amount"])


@pytest.fixture(scope="module")
def backend():
    return connect("duckdb")


def test_v2_features_match_hand_computation(backend):
    loaded = from_frame(tiny_v2_events(), backend=backend)
    frame = feature_frame(loaded, CUTOFF, WindowConfig(), feature_set=BEHAVIOURAL_V2)
    frame = frame.set_index("user_id", drop=False)
    assert list(frame.index) == ["b1", "b2", "b3", "n1"]
    for user, expected in EXPECTED.items():
        assert_row(frame.loc[user], expected)
    # Three buyers are too few to fit BG/NBD or Gamma-Gamma: missing, not made up.
    assert frame[list(CLV_COLUMNS)].isna().all().all()
    inputs = [c for c in frame.columns if c not in ("user_id", "as_of", "active_at_cutoff")]
    assert inputs == list(behavioural_v2(TOP_TYPES).columns), "the set's columns, in order"


def test_buyer_summary_is_the_bgnbd_input_by_hand(backend):
    """x = repeat purchase days, t_x and T in days to the last day before T, m̄ = repeat spend."""
    table = from_frame(tiny_v2_events(), backend=backend).table
    past = table.filter(table.event_time < ibis.literal(CUTOFF))
    summary = to_frame(backend, buyer_summary(purchase_buyers(past), CUTOFF))
    summary = summary.set_index("user_id").sort_index()
    assert summary["_x"].tolist() == [3, 0, 1]
    assert summary["_tx_days"].tolist() == [60, 0, 10]  # 01-01 → 03-01; 03-10 → 03-20
    assert summary["_age_days"].tolist() == [90, 59, 21]  # first purchase day → 03-31
    assert summary["_mean_spend"].iloc[[0, 2]].tolist() == pytest.approx([95 / 3, 30.0])
    assert pd.isna(summary["_mean_spend"].iloc[1])


def test_default_event_types_are_the_most_frequent_before_the_cutoff(backend):
    events = tiny_v2_events()
    # A flood of a new type at and after T must not change the choice (or the columns).
    flood = pd.DataFrame(
        [("b1", "2024-04-01 00:00:00", "push_open", None)] * 20,
        columns=events.columns,
    )
    loaded = from_frame(pd.concat([events, flood], ignore_index=True), backend=backend)
    assert top_event_types(backend, loaded.table, CUTOFF) == TOP_TYPES
    assert top_event_types(backend, loaded.table, CUTOFF, k=2) == ("purchase", "login")
    assert resolve_v2(loaded, CUTOFF, top_k=2).event_types == ("purchase", "login")
    assert resolve_v2(loaded, CUTOFF, behavioural_v2(["view"])).event_types == ("view",)
    chosen = feature_frame(loaded, CUTOFF, WindowConfig(), feature_set="behavioural_v2")
    named = feature_frame(
        loaded, CUTOFF, WindowConfig(), feature_set=behavioural_v2(["view", "push_open"])
    )
    assert set(event_type_columns(TOP_TYPES)) <= set(chosen.columns)
    assert "type_push_open_count_total" not in chosen.columns
    assert named.set_index("user_id").loc["b1", "type_push_open_count_total"] == 0
    assert "type_login_count_total" not in named.columns


def test_type_column_names_are_safe_stable_and_unique():
    assert type_slugs(["Add to Cart", "add_to_cart", "页面", "a-b"]) == (
        "add_to_cart",
        "add_to_cart_2",
        "type3",
        "a_b",
    )
    assert event_type_columns(["view"]) == (
        "type_view_count_total",
        "type_view_count_30d",
        "type_view_count_prev_30d",
        "type_view_trend_30d",
        "type_view_days_since_last",
    )
    with pytest.raises(ValueError, match="distinct"):
        type_slugs(["view", "view"])


def test_v1_stays_the_default_and_v2_is_selected_by_id(backend):
    loaded = from_frame(tiny_v2_events(), backend=backend)
    v1 = feature_frame(loaded, CUTOFF, WindowConfig())
    assert "purchase_overdue" not in v1.columns
    assert set(FEATURE_SET.columns) <= set(v1.columns)
    assert set(FEATURE_SETS) == {"behavioural_v1", "behavioural_v2"}
    resolved = feature_set("behavioural_v2", event_types=TOP_TYPES)
    assert (resolved.id, resolved.event_types) == ("behavioural_v2", TOP_TYPES)
    assert set(FEATURE_SET.columns) < set(resolved.columns)
    assert len(set(resolved.columns)) == len(resolved.columns)
    with pytest.raises(ValueError, match="behavioural_v1, behavioural_v2"):
        feature_set("behavioural_v9")
    with pytest.raises(ValueError, match="no per-event-type"):
        feature_set("behavioural_v1", event_types=("view",))


def _random_log(seed: int, n: int, start: pd.Timestamp, days: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    kinds = rng.choice(["login", "view", "Add to Cart", "purchase", "refund"], n)
    amount = np.round(rng.lognormal(3, 0.8, n), 2)
    return pd.DataFrame(
        {
            "user_id": rng.choice([f"u{i:03d}" for i in range(300)], n),
            "event_time": start + pd.to_timedelta(rng.uniform(0, days * 86400, n), unit="s"),
            "event_type": kinds,
            "amount": np.select([kinds == "purchase", kinds == "refund"], [amount, -amount], 0.0),
        }
    )


def test_events_at_or_after_the_cutoff_change_no_v2_feature(backend):
    """Types, cadence and the CLV fit all see only events before T."""
    cutoff = pd.Timestamp(CUTOFF)
    history = _random_log(1, 6000, cutoff - pd.Timedelta(days=300), 300)
    future = _random_log(2, 4000, cutoff, 120)
    future.loc[:30, "event_time"] = cutoff
    future.loc[31:40, "user_id"] = [f"new{i}" for i in range(10)]
    future.loc[41:, "event_type"] = "a_new_frequent_type"
    windows = WindowConfig()
    before = feature_frame(
        from_frame(history, backend=backend), CUTOFF, windows, feature_set=BEHAVIOURAL_V2
    )
    after = feature_frame(
        from_frame(pd.concat([history, future], ignore_index=True), backend=backend),
        CUTOFF,
        windows,
        feature_set=BEHAVIOURAL_V2,
    )
    assert len(before) == 300
    assert before[list(CLV_COLUMNS)].notna().mean().min() > 0.9, "the CLV fit ran"
    pdt.assert_frame_equal(before, after)


def _partitioned_log(folder) -> None:
    frame = _random_log(3, 8000, pd.Timestamp("2023-06-01"), 320)
    # Microseconds (the engines' precision; Parquet nanoseconds are not read) and UTC zoned.
    frame["event_time"] = frame["event_time"].astype("datetime64[us]").dt.tz_localize("UTC")
    for month, part in frame.groupby(frame["event_time"].dt.month):
        (folder / f"month={month:02d}").mkdir()
        part.to_parquet(folder / f"month={month:02d}" / "part-0.parquet", index=False)


@pytest.mark.spark
@pytest.mark.slow
def test_duckdb_and_spark_agree_on_v2(tmp_path, spark_backend):
    _partitioned_log(tmp_path)
    cutoff = datetime(2024, 3, 15)
    duck = load_events(tmp_path, "duckdb", backend=connect("duckdb"))
    spark = load_events(tmp_path, "spark", backend=spark_backend)
    left = feature_frame(duck, cutoff, WindowConfig(), labels=True, feature_set=BEHAVIOURAL_V2)
    right = feature_frame(spark, cutoff, WindowConfig(), labels=True, feature_set=BEHAVIOURAL_V2)
    assert len(left) == 300
    assert left[list(CLV_COLUMNS)].notna().mean().min() > 0.9
    assert list(right.columns) == list(left.columns)
    pdt.assert_frame_equal(left, right, check_dtype=False, check_exact=False, rtol=1e-9, atol=1e-9)
