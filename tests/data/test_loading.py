"""The event contract on input: formats, time zones, rejected rows counted, clear errors."""

from __future__ import annotations

import gzip

import pandas as pd
import pytest

from features import EventContractError, ImportProfile, from_frame, load_events
from features.engines import connect


@pytest.fixture(scope="module")
def backend():
    return connect("duckdb")


def _csv(tmp_path, text: str, name: str = "events.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_offsets_are_converted_and_naive_times_are_utc(tmp_path, backend):
    path = _csv(
        tmp_path,
        "user_id,event_time,event_type,amount\n"
        "a,2024-05-01T10:00:00+02:00,login,\n"
        "a,2024-05-01 10:00:00,login,\n"
        "a,2024-05-01T10:00:00Z,login,\n",
    )
    times = load_events(path, backend=backend).table.execute()["event_time"]
    assert list(times.dt.hour) == [8, 10, 10]


def test_bad_rows_are_rejected_and_counted_by_reason(tmp_path, backend):
    path = _csv(
        tmp_path,
        "user_id,event_time,event_type,amount\n"
        "a,2024-05-01,login,\n"
        ",2024-05-01,login,\n"  # missing user
        "  ,2024-05-01,login,\n"  # blank user
        "b,yesterday,login,\n"  # unparseable time
        "c,2024-13-45 10:00,login,\n"  # impossible date
        "d,2024-05-01,,\n"  # missing type
        "e,2024-05-01,purchase,12,5\n"  # an extra field: the line is skipped, not the file
        "f,2024-05-01,purchase,abc\n"  # unparseable amount: the event is kept
        "g,2024-05-01,purchase,NaN\n",  # not a number: kept too, with a missing amount
    )
    report = load_events(path, backend=backend).report
    assert report.rows_read == 9
    assert report.rows_accepted == 3
    assert report.rejected == {
        "missing_user_id": 2,
        "unparseable_event_time": 2,
        "missing_event_type": 1,
        "malformed_line": 1,
    }
    assert report.kept == {"amount_unparseable": 2}
    assert "rejected 6" in report.summary()
    assert "kept 2 with a missing amount (2 amount_unparseable)" in report.summary()
    strict = load_events(path, backend=backend, import_profile=ImportProfile(strict_amounts=True))
    assert strict.report.rows_accepted == 1
    assert strict.report.rejected["unparseable_amount"] == 2 and not strict.report.kept
    path.write_text(path.read_text().replace("12,5", "12.5"))
    fixed = load_events(path, backend=backend).report
    assert (fixed.rows_accepted, fixed.rows_rejected) == (4, 5)


def test_missing_column_names_the_column_and_what_was_found(tmp_path, backend):
    path = _csv(tmp_path, "user_id,timestamp,event_type\na,2024-05-01,login\n")
    with pytest.raises(EventContractError) as error:
        load_events(path, backend=backend)
    message = str(error.value)
    assert "'event_time'" in message
    assert "found columns: user_id, timestamp, event_type" in message


def test_empty_file_and_header_only_file(tmp_path, backend):
    empty = _csv(tmp_path, "", "empty.csv")
    with pytest.raises(EventContractError, match="empty"):
        load_events(empty, backend=backend)
    header_only = _csv(tmp_path, "user_id,event_time,event_type,amount\n", "header.csv")
    loaded = load_events(header_only, backend=backend)
    assert loaded.report.rows_read == 0
    from datetime import datetime

    from features import WindowConfig, feature_frame

    with pytest.raises(EventContractError, match="no valid events"):
        feature_frame(loaded, datetime(2024, 1, 1), WindowConfig())


def test_folder_of_files_and_compressed_csv(tmp_path, backend):
    folder = tmp_path / "events"
    (folder / "day=1").mkdir(parents=True)
    (folder / "day=2").mkdir(parents=True)
    frame = pd.DataFrame(
        {
            "user_id": ["a", "b"],
            "event_time": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "event_type": ["login", "view"],
            "amount": [0.0, 1.0],
        }
    )
    frame.iloc[:1].to_parquet(folder / "day=1" / "part.parquet")
    frame.iloc[1:].to_parquet(folder / "day=2" / "part.parquet")
    assert load_events(folder, backend=backend).report.rows_accepted == 2
    gz = tmp_path / "events.csv.gz"
    with gzip.open(gz, "wt") as handle:
        handle.write("user_id,event_time,event_type\n007,2024-01-01,login\n")
    loaded = load_events(gz, backend=backend)
    assert loaded.table.execute()["user_id"].tolist() == ["007"]  # leading zeros kept


def test_unknown_file_type_and_missing_path(tmp_path, backend):
    odd = tmp_path / "events.xlsx"
    odd.write_text("x")
    with pytest.raises(EventContractError, match="unknown file type"):
        load_events(odd, backend=backend)
    with pytest.raises(EventContractError, match="no such file"):
        load_events(tmp_path / "nope.csv", backend=backend)


def test_mixed_formats_in_one_folder_are_refused(tmp_path, backend):
    (tmp_path / "a.csv").write_text("user_id,event_time,event_type\na,2024-01-01,login\n")
    (tmp_path / "b.jsonl").write_text(
        '{"user_id":"a","event_time":"2024-01-01","event_type":"x"}\n'
    )
    with pytest.raises(EventContractError, match="mixes formats"):
        load_events(tmp_path, backend=backend)


def test_numeric_user_ids_are_compared_as_strings(tmp_path, backend):
    path = tmp_path / "events.jsonl"
    path.write_text('{"user_id": 42, "event_time": "2024-01-01", "event_type": "login"}\n')
    table = load_events(path, backend=backend).table.execute()
    assert table["user_id"].tolist() == ["42"]
    assert table["amount"].tolist() == [0.0]  # absent amount means 0


@pytest.mark.parametrize("engine", ["duckdb"])
def test_a_column_with_no_values_at_all_loads(engine) -> None:
    """An in-memory log whose `amount` is entirely missing (logins only) is not an error."""
    frame = pd.DataFrame(
        {
            "user_id": ["u1", "u2"],
            "event_time": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "event_type": ["login", "login"],
            "amount": [None, None],
        }
    )
    loaded = from_frame(frame, engine)
    assert loaded.report.rows_accepted == 2
    assert (loaded.backend.execute(loaded.table)["amount"] == 0.0).all()  # missing amount = 0
