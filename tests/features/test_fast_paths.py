"""The fast formulations give exactly what the plain definitions say.

Why these tests: for speed, `definitions.py` counts distinct active days with bitmasks and turns
timestamps into day counts after aggregating; `loading.py` checks blanks with a short-circuit
and drops DuckDB's UTC zone by epoch arithmetic; `engines.to_frame` skips Ibis's conversion.
Each is compared here with the straightforward formulation (pandas, or Ibis's own path) on logs
built to hit their edges: cutoffs off midnight (so a 30-day window spans 31 calendar days),
sub-second timestamps, times before 1970, whitespace-only ids.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from features import WindowConfig, feature_frame, feature_table, from_frame, load_events
from features.engines import connect, to_frame

CUTOFFS = [datetime(2024, 4, 1), datetime(2024, 4, 1, 13, 37, 12, 500_000)]
_WHITESPACE = " \t\n\r\x0b\x0c"


def _random_log(seed: int = 5, n: int = 6000, users: int = 80) -> pd.DataFrame:
    """Events over 200 days before and 30 after the cutoffs, with microsecond times."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2023-09-15")
    return pd.DataFrame(
        {
            "user_id": rng.choice([f"u{i:03d}" for i in range(users)], n),
            "event_time": start + pd.to_timedelta(rng.integers(0, 230 * 86_400_000_000, n), "us"),
            "event_type": rng.choice(["login", "view", "purchase", "refund", "support"], n),
            "amount": np.round(rng.normal(3, 20, n), 2),
        }
    )


def _plain_features(events: pd.DataFrame, cutoff: datetime, activity: tuple | None) -> pd.DataFrame:
    """The definitions of DESIGN.md §3 as literally as pandas can say them."""
    past = events[events["event_time"] < cutoff]
    active = past[past["event_type"].isin(activity)] if activity else past
    t = pd.Timestamp(cutoff)

    def in_window(frame: pd.DataFrame, days: int) -> pd.DataFrame:
        return frame[frame["event_time"] >= t - timedelta(days=days)]

    def distinct_days(days: int) -> pd.Series:
        window = in_window(active, days)
        return window.groupby("user_id")["event_time"].agg(lambda s: s.dt.floor("D").nunique())

    users = pd.Index(sorted(past["user_id"].unique()), name="user_id")
    day = np.timedelta64(1, "D")
    last = active.groupby("user_id")["event_time"].max()
    first_act = active.groupby("user_id")["event_time"].min()
    frame = pd.DataFrame(
        {
            "active_days_30d": distinct_days(30),
            "active_days_90d": distinct_days(90),
            "distinct_event_types_90d": in_window(past, 90)
            .groupby("user_id")["event_type"]
            .nunique(),
            "days_since_last_event": (t - last) / day,
            "days_since_first_event": (t - past.groupby("user_id")["event_time"].min()) / day,
            "mean_gap_days": ((last - first_act) / day) / (active.groupby("user_id").size() - 1),
        },
        index=users,
    )
    counts = ["active_days_30d", "active_days_90d", "distinct_event_types_90d"]
    frame[counts] = frame[counts].fillna(0)
    frame["mean_gap_days"] = frame["mean_gap_days"].replace(np.inf, np.nan)
    return frame


@pytest.mark.parametrize("cutoff", CUTOFFS, ids=["midnight", "mid-day"])
@pytest.mark.parametrize("activity", [None, ("login", "purchase")], ids=["all", "login-purchase"])
def test_bitmask_day_counts_and_recency_match_the_plain_definitions(cutoff, activity):
    events = _random_log()
    loaded = from_frame(events, backend=connect("duckdb"))
    got = feature_frame(loaded, cutoff, WindowConfig(activity_events=activity)).set_index("user_id")
    expected = _plain_features(events, cutoff, activity)
    assert got.index.tolist() == expected.index.tolist()
    assert got["active_days_30d"].max() > 5, "the log should exercise many distinct days"
    pdt.assert_frame_equal(
        got[expected.columns].astype(float), expected.astype(float), rtol=1e-12, atol=1e-9
    )


def test_a_day_is_counted_once_at_every_offset_of_the_window():
    """One event on each of the 91 calendar days a 90-day window can touch (both mask chunks)."""
    cutoff = CUTOFFS[1]
    times = [cutoff - timedelta(days=d) for d in range(0, 91)] + [cutoff - timedelta(days=90.4)]
    events = pd.DataFrame({"user_id": "u", "event_time": times, "event_type": "login"})
    events = pd.concat(
        [events, events.assign(event_time=events["event_time"] - timedelta(hours=1))]
    )
    row = feature_frame(from_frame(events), cutoff, WindowConfig()).iloc[0]
    expected = _plain_features(events.assign(amount=0.0), cutoff, None).iloc[0]
    assert row["active_days_90d"] == expected["active_days_90d"] == 91
    assert row["active_days_30d"] == expected["active_days_30d"] == 31


def test_blank_ids_and_types_are_found_by_the_short_circuit():
    values = ["", " ", "\t", _WHITESPACE, "\x0b\x0c", " u", "u ", "\x01", "é", "\u00a0", "\t\tx"]
    events = pd.DataFrame(
        {
            "user_id": values + ["ok"] * len(values),
            "event_time": "2024-01-01 00:00:00",
            "event_type": ["login"] * len(values) + values,
        }
    )
    report = from_frame(events).report
    blank = sum(v.strip(_WHITESPACE) == "" for v in values)
    assert report.rejected == {"missing_user_id": blank, "missing_event_type": blank}


def test_padded_csv_times_and_amounts_are_stripped_before_parsing(tmp_path):
    path = tmp_path / "padded.csv"
    path.write_text(
        "user_id,event_time,event_type,amount\n"
        'a, 2024-05-01T10:00:00+02:00 ,login,"\t12.5 "\n'
        'a,"\x0b2024-05-01 10:00:00\n",login,\x0c-3\n'
        "a,2024-05-01 11:00:00,login,7\x0b\n"
    )
    loaded = load_events(path, backend=connect("duckdb"))
    assert loaded.report.rows_accepted == 3
    table = loaded.table.execute()
    assert list(table["event_time"].dt.hour) == [8, 10, 11]
    assert list(table["amount"]) == [12.5, -3.0, 7.0]


def test_zoned_parquet_times_become_the_same_naive_utc_instants(tmp_path):
    times = pd.to_datetime(
        ["1969-07-20 20:17:40.123456", "2024-03-31 01:59:59.999999", "2024-10-27 02:30:00.000000"]
    ).tz_localize("Europe/Berlin", ambiguous=[True, False, True])
    frame = pd.DataFrame({"user_id": "u", "event_time": times, "event_type": "login"})
    frame.to_parquet(tmp_path / "zoned.parquet")
    loaded = load_events(tmp_path / "zoned.parquet", backend=connect("duckdb"))
    got = loaded.table.execute()["event_time"]
    expected = times.tz_convert("UTC").tz_localize(None)
    assert list(got) == list(expected)


def test_arrow_conversion_gives_what_ibis_execute_gives():
    loaded = from_frame(_random_log(), backend=connect("duckdb"))
    table = feature_table(loaded, CUTOFFS[1], WindowConfig(), labels=True)
    pdt.assert_frame_equal(to_frame(loaded.backend, table), loaded.backend.execute(table))


@pytest.mark.spark
@pytest.mark.slow
def test_spark_agrees_on_sub_second_times_and_a_mid_day_cutoff(spark_backend):
    events = _random_log(seed=9, n=3000)
    windows = WindowConfig(activity_events=("login", "view", "purchase"))
    duck = feature_frame(from_frame(events, "duckdb"), CUTOFFS[1], windows, labels=True)
    spark = feature_frame(
        from_frame(events, "spark", backend=spark_backend), CUTOFFS[1], windows, labels=True
    )
    pdt.assert_frame_equal(
        duck, spark[duck.columns], check_dtype=False, check_exact=False, rtol=1e-9, atol=1e-9
    )
