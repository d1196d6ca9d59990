"""Loading's footer proof (`parquet_stats.py`): it skips the counting pass only when it may.

Why these tests: a clean Parquet log's load report is read from its footers instead of
counted. A proof that said "clean" for a log with a bad row would silently accept that row, so
every row check gets a log that breaks it with one row: the proof must decline, and the load
report must then count that row exactly as the hand-written expectation says. Clean logs
(one file, a partitioned folder, zoned times, renamed columns) must be proven clean, with the
first and last event times a reader computes by hand.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from features import ImportProfile, load_events
from features.parquet_stats import clean_rows
from features.sources import discover

CONTRACT = {"user_id": "user_id", "event_time": "event_time", "event_type": "event_type"}
SOURCES = CONTRACT | {"amount": "amount"}


def _log(**changes: object) -> pd.DataFrame:
    """Three clean events; `changes` replaces one column's values (a list of three)."""
    frame = pd.DataFrame(
        {
            "user_id": ["u1", "u2", "u1"],
            "event_time": pd.to_datetime(
                ["2024-03-01 10:00:00", "2024-03-02 23:59:59.999999", "2024-02-28 00:00:01"],
                format="ISO8601",
            ).astype("datetime64[us]"),
            "event_type": ["login", "purchase", "view"],
            "amount": [0.0, 12.5, -3.0],
        }
    )
    return frame.assign(**changes)


def _write(frame: pd.DataFrame, path: Path, **options: object) -> Path:
    """Write as it is: a NaN amount stays NaN (pyarrow would make it null from pandas)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if "amount" in frame and frame["amount"].dtype == "float64":
        amounts = pa.array(frame["amount"].to_numpy(), from_pandas=False)
        table = table.set_column(table.schema.get_field_index("amount"), "amount", amounts)
    pq.write_table(table, path, **options)
    return path


def _proof(path: Path, sources: dict[str, str] = SOURCES):
    return clean_rows(discover(path), sources)


def test_a_clean_file_is_proven_clean_with_the_first_and_last_time(tmp_path):
    path = _write(_log(), tmp_path / "events.parquet")
    proof = _proof(path)
    assert proof is not None
    assert (proof.rows, proof.first_event_time, proof.last_event_time) == (
        3,
        datetime(2024, 2, 28, 0, 0, 1),
        datetime(2024, 3, 2, 23, 59, 59, 999999),
    )
    report = load_events(path).report
    assert (report.rows_read, report.rows_accepted, report.rejected, report.kept) == (3, 3, {}, {})
    assert report.min_event_time == datetime(2024, 2, 28, 0, 0, 1)
    assert report.max_event_time == datetime(2024, 3, 2, 23, 59, 59, 999999)


def test_zoned_times_span_the_utc_instants_and_folders_add_up(tmp_path):
    """+02:00 times are two hours later in UTC; a partitioned folder sums its files."""
    zoned = _log(event_time=_log()["event_time"].dt.tz_localize("Europe/Paris"))
    (tmp_path / "day=1").mkdir()
    (tmp_path / "day=2").mkdir()
    _write(zoned, tmp_path / "day=1" / "part.parquet")
    _write(_log(user_id=["u7", "u8", "u9"]), tmp_path / "day=2" / "part.parquet")
    report = load_events(tmp_path).report
    assert (report.rows_read, report.rows_accepted) == (6, 6)
    # Paris is UTC+1 in February and March 2024 (summer time starts on 31 March).
    assert report.min_event_time == datetime(2024, 2, 27, 23, 0, 1)
    assert report.max_event_time == datetime(2024, 3, 2, 23, 59, 59, 999999)
    assert _proof(tmp_path) is not None


def test_renamed_columns_are_proven_through_the_mapping(tmp_path):
    renamed = _log().rename(columns={"user_id": "customer", "amount": "revenue"})
    path = _write(renamed, tmp_path / "export.parquet")
    profile = ImportProfile(columns={"user_id": "customer", "amount": "revenue"})
    assert _proof(path, SOURCES | {"user_id": "customer", "amount": "revenue"}) is not None
    report = load_events(path, import_profile=profile).report
    assert (report.rows_read, report.rows_accepted, report.ignored_columns) == (3, 3, ())


FUTURE = pd.Timestamp(datetime.now() + timedelta(days=3))


@pytest.mark.parametrize(
    ("changes", "rejected", "kept"),
    [
        ({"user_id": ["u1", " ", "u1"]}, {"missing_user_id": 1}, {}),
        ({"user_id": ["u1", "", "u1"]}, {"missing_user_id": 1}, {}),
        ({"user_id": ["u1", None, "u1"]}, {"missing_user_id": 1}, {}),
        ({"event_type": ["login", "\t", "view"]}, {"missing_event_type": 1}, {}),
        ({"event_type": ["login", None, "view"]}, {"missing_event_type": 1}, {}),
        (
            {"event_time": pd.to_datetime(["2024-03-01", None, "2024-03-02"]).astype("M8[us]")},
            {"unparseable_event_time": 1},
            {},
        ),
        (
            {"event_time": pd.DatetimeIndex(["2024-03-01", "2024-03-02", FUTURE], dtype="M8[us]")},
            {"future_event_time": 1},
            {},
        ),
        ({"amount": [0.0, float("inf"), 1.0]}, {}, {"amount_unparseable": 1}),
        ({"amount": [0.0, 2e12, 1.0]}, {"amount_out_of_range": 1}, {}),
        ({"amount": [0.0, -2e12, 1.0]}, {"amount_out_of_range": 1}, {}),
        # Not bad at all, but the footer cannot tell it from a blank id: counted, accepted.
        ({"user_id": ["u1", " u2", "u1"]}, {}, {}),
    ],
    ids=[
        "space-id",
        "empty-id",
        "null-id",
        "tab-type",
        "null-type",
        "null-time",
        "future-time",
        "inf-amount",
        "huge-amount",
        "huge-refund",
        "leading-space-id",
    ],
)
def test_a_log_the_footers_cannot_prove_is_counted(tmp_path, changes, rejected, kept):
    path = _write(_log(**changes), tmp_path / "events.parquet")
    assert _proof(path) is None
    report = load_events(path).report
    assert (report.rows_read, report.rejected, report.kept) == (3, rejected, kept)
    assert report.rows_accepted == 3 - sum(rejected.values())


@pytest.mark.parametrize(
    "write",
    [
        lambda frame, path: _write(frame, path, write_statistics=False),
        lambda frame, path: _write(frame.astype({"amount": "str"}), path),
        lambda frame, path: _write(frame.astype({"event_time": "str"}), path),
        lambda frame, path: _write(frame.astype({"event_time": "datetime64[ns]"}), path),
    ],
    ids=["no-statistics", "text-amount", "text-time", "nanosecond-time"],
)
def test_footers_that_cannot_decide_leave_the_counting_to_the_check(tmp_path, write):
    path = write(_log(), tmp_path / "events.parquet")
    assert _proof(path) is None
    report = load_events(path).report
    assert (report.rows_read, report.rows_accepted, report.rejected) == (3, 3, {})
    assert report.min_event_time == datetime(2024, 2, 28, 0, 0, 1)


def test_a_nan_amount_is_not_proven_clean(tmp_path):
    """Footers leave NaN out of min/max; Arrow reads the column to find it."""
    path = _write(_log(amount=[0.0, float("nan"), 1.0]), tmp_path / "events.parquet")
    assert _proof(path) is None


def test_a_nan_amount_in_parquet_is_counted_as_unreadable(tmp_path):
    path = _write(_log(amount=[0.0, float("nan"), 1.0]), tmp_path / "events.parquet")
    report = load_events(path).report
    assert (report.rows_accepted, report.kept) == (3, {"amount_unparseable": 1})
