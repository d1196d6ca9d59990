"""Messy exports, one kind per test: each gets a named, counted outcome (docs/bad-input.md).

Rejected rows are counted under a reason and never reach the features; accepted oddities
follow a documented rule that the test pins down.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from typer.testing import CliRunner

from features import EventContractError, WindowConfig, feature_frame, from_frame, load_events
from features.contract import MAX_ABS_AMOUNT
from features.engines import connect
from retain.cli import app

HEADER = b"user_id,event_time,event_type,amount\n"


@pytest.fixture(scope="module")
def backend():
    return connect("duckdb")


def _unwrapped(printed: str) -> str:
    """Console output with Rich's line wrapping undone."""
    return " ".join(printed.split())


def _write(tmp_path, body: bytes, name: str = "events.csv"):
    path = tmp_path / name
    path.write_bytes(body)
    return path


def test_lines_that_are_not_utf8_are_rejected_and_counted(tmp_path, backend):
    path = _write(
        tmp_path,
        HEADER + b"a,2024-05-01,login,\n"
        b"caf\xe9,2024-05-01,login,\n"  # Latin-1 in the user id
        b"b,2024-05-02,purchase,\xa312\n"  # a pound sign in Latin-1
        b"c,2024-05-03,login,\n",
    )
    loaded = load_events(path, backend=backend)
    assert loaded.report.rows_read == 4
    assert loaded.report.rejected == {"invalid_text_encoding": 2}
    assert sorted(loaded.table.execute()["user_id"]) == ["a", "c"]


def test_utf8_text_including_non_ascii_is_accepted(tmp_path, backend):
    path = _write(tmp_path, HEADER + "café,2024-05-01,achat,3.5\n".encode())
    frame = load_events(path, backend=backend).table.execute()
    assert list(frame["user_id"]) == ["café"] and list(frame["event_type"]) == ["achat"]


def test_jsonl_that_is_not_utf8_fails_naming_the_file_and_the_problem(tmp_path, backend):
    path = _write(
        tmp_path,
        b'{"user_id": "a", "event_time": "2024-05-01", "event_type": "login"}\n'
        b'{"user_id": "caf\xe9", "event_time": "2024-05-01", "event_type": "login"}\n',
        "events.jsonl",
    )
    with pytest.raises(EventContractError, match=r"events\.jsonl: cannot read as jsonl.*UTF-8"):
        load_events(path, backend=backend)


# One key holding strings on some lines and numbers on others, as exports from loosely typed
# systems write it; the last line sits past DuckDB's 20,480-line type sample.
MIXED_KINDS = [
    {"user_id": "u1", "event_time": "2024-05-01", "event_type": "login", "amount": None},
    {"user_id": 5, "event_time": "2024-05-02", "event_type": "purchase", "amount": "12.5"},
    {"user_id": "u2", "event_time": "2024-05-02", "event_type": "purchase", "amount": 3},
    *[{"user_id": 7, "event_time": "2024-05-03", "event_type": "login"}] * 20_500,
    {"user_id": "late", "event_time": "2024-05-04", "event_type": "purchase", "amount": "n/a"},
]


def _mixed_kinds_file(tmp_path):
    body = "".join(json.dumps(row) + "\n" for row in MIXED_KINDS)
    return _write(tmp_path, body.encode(), "events.jsonl")


def _assert_mixed_kinds_read_as_written(loaded) -> None:
    """Ids and amounts as a CSV of the same events would hold them: no JSON quotes, "12.5"
    parsed like 12.5, and the unreadable amount past the type sample kept, counted."""
    assert (loaded.report.rows_read, loaded.report.rows_accepted) == (20_504, 20_504)
    assert loaded.report.kept == {"amount_unparseable": 1}
    frame = loaded.table.execute()
    first = frame[frame["user_id"] != "7"].sort_values("event_time")
    assert first["user_id"].tolist() == ["u1", "5", "u2", "late"]
    purchases = first[first["event_type"] == "purchase"]
    assert purchases["amount"].tolist() == [12.5, 3.0, 0.0]  # missing reads as 0 (bad-input.md)


def test_jsonl_values_of_mixed_kinds_are_read_as_their_text(tmp_path, backend):
    _assert_mixed_kinds_read_as_written(load_events(_mixed_kinds_file(tmp_path), backend=backend))


def test_ragged_lines_are_skipped_and_counted_not_the_whole_file(tmp_path, backend):
    path = _write(
        tmp_path,
        HEADER + b"a,2024-05-01,login,\n"
        b"b,2024-05-01,login,1,2\n"  # one field too many
        b"c,2024-05-01\n"  # two fields too few
        b"d,2024-05-01,login,\n",
    )
    report = load_events(path, backend=backend).report
    assert (report.rows_read, report.rows_accepted) == (4, 2)
    assert report.rejected == {"malformed_line": 2}


def test_events_after_now_are_rejected_but_clock_skew_is_tolerated(backend):
    now = datetime.now(UTC).replace(tzinfo=None)
    frame = pd.DataFrame(
        {
            "user_id": ["past", "skewed", "future", "far_future"],
            "event_time": [
                now - timedelta(days=3),
                now + timedelta(hours=2),
                now + timedelta(days=30),
                datetime(2099, 1, 1),
            ],
            "event_type": ["login"] * 4,
        }
    )
    loaded = from_frame(frame, backend=backend)
    assert loaded.report.rejected == {"future_event_time": 2}
    assert sorted(loaded.table.execute()["user_id"]) == ["past", "skewed"]
    # The log's end is the last real event, so no label window in the future looks complete.
    assert loaded.report.max_event_time < now + timedelta(days=1)


def test_huge_amounts_are_rejected_as_out_of_range(tmp_path, backend):
    path = _write(
        tmp_path,
        HEADER + b"a,2024-05-01,purchase,99999999999\n"  # 1e11: large but plausible
        b"b,2024-05-01,purchase,1e13\n"
        b"c,2024-05-01,refund,-1e300\n"
        b"d,2024-05-01,purchase,inf\n"  # not a number at all
        b"e,2024-05-01,purchase,1e400\n",  # overflows float64 to inf
    )
    loaded = load_events(path, backend=backend)
    assert loaded.report.rejected == {"amount_out_of_range": 2}
    # Infinite amounts are no money: the events stay, with a missing amount (0).
    assert loaded.report.kept == {"amount_unparseable": 2}
    amounts = loaded.table.execute().set_index("user_id")["amount"]
    assert amounts.to_dict() == {"a": 99999999999.0, "d": 0.0, "e": 0.0}
    assert MAX_ABS_AMOUNT == 1e12


def test_mixed_time_zones_in_one_column_become_one_utc_clock(tmp_path, backend):
    path = _write(
        tmp_path,
        HEADER + b"a,2024-01-15 12:00:00,login,\n"  # naive: UTC
        b"b,2024-01-15T12:00:00Z,login,\n"
        b"c,2024-01-15 13:00:00+01:00,login,\n"
        b"d,2024-01-15 07:00:00-05:00,login,\n"
        b"e,2024-01-15 13:00:00 Europe/Paris,login,\n"  # a named zone (CET in January)
        b"f,2024-07-15 14:00:00 Europe/Paris,login,\n"  # the same zone in summer (CEST)
        b"g,15/01/2024 12:00,login,\n",  # day-first text is ambiguous: rejected
    )
    loaded = load_events(path, backend=backend)
    assert loaded.report.rejected == {"unparseable_event_time": 1}
    times = loaded.table.execute().set_index("user_id")["event_time"]
    assert set(times.drop("f")) == {pd.Timestamp("2024-01-15 12:00:00")}
    assert times["f"] == pd.Timestamp("2024-07-15 12:00:00")


def test_a_time_column_of_numbers_is_refused_naming_its_type(tmp_path, backend):
    path = tmp_path / "epoch.parquet"
    pd.DataFrame(
        {"user_id": ["a"], "event_time": [1_714_550_400], "event_type": ["login"]}
    ).to_parquet(path)
    with pytest.raises(EventContractError, match=r"'event_time' has type int64; expected"):
        load_events(path, backend=backend)


def test_wrongly_typed_text_values_are_counted_per_row(tmp_path, backend):
    path = _write(
        tmp_path,
        HEADER + b'a,2024-05-01,purchase,"12,50"\n'  # decimal comma: read as 12.50
        b"b,1714550400,login,\n"  # epoch seconds as text
        b"c,2024-05-01,purchase,12.50\n",
    )
    loaded = load_events(path, backend=backend)
    assert loaded.report.rejected == {"unparseable_event_time": 1}
    assert loaded.report.rows_accepted == 2
    assert loaded.table.execute()["amount"].tolist() == [12.5, 12.5]


def test_exact_duplicate_rows_are_kept_as_events_and_reported_by_validate(tmp_path):
    """Rule: a repeated row is another event (day-granular logs repeat legitimately)."""
    path = _write(
        tmp_path,
        HEADER + b"a,2024-05-01,purchase,10\n"
        b"a,2024-05-01,purchase,10\n"
        b"a,2024-05-02,login,\n"
        b"b,2024-05-03,login,\n",
    )
    loaded = load_events(path)
    features = feature_frame(loaded, datetime(2024, 6, 1), WindowConfig()).set_index("user_id")
    assert features.loc["a", "purchases_90d"] == 2
    assert features.loc["a", "revenue_90d"] == pytest.approx(20.0)

    result = CliRunner().invoke(app, ["validate", "--events", str(path), "--json"])
    assert result.exit_code == 0, result.output
    profile = json.loads(result.output)["profile"]
    assert profile["duplicate_rows"] == 1
    assert profile["events"] == 4 and profile["users"] == 2
    assert profile["event_types"] == {"login": 2, "purchase": 2}
    assert profile["date_only_share"] == 1.0


def test_validate_gates_on_the_rejected_share_and_names_the_reasons(tmp_path):
    path = _write(
        tmp_path,
        HEADER + b"a,2024-05-01,login,\n" + b",2024-05-01,login,\n" + b"b,soon,login,\n",
    )
    runner = CliRunner()
    relaxed = runner.invoke(app, ["validate", "--events", str(path)])
    assert relaxed.exit_code == 0, relaxed.output
    printed = _unwrapped(relaxed.output)
    assert "1 of 3 rows accepted" in printed
    assert "1 missing_user_id, 1 unparseable_event_time" in printed
    strict = runner.invoke(app, ["validate", "--events", str(path), "--max-rejected-share", "0.5"])
    assert strict.exit_code == 1
    assert "66.67% of rows rejected" in _unwrapped(strict.output)
    assert "Traceback" not in strict.output


def test_validate_fails_when_nothing_is_accepted(tmp_path):
    path = _write(tmp_path, HEADER + b",2024-05-01,login,\n")
    result = CliRunner().invoke(app, ["validate", "--events", str(path)])
    assert result.exit_code == 2
    assert "no row was accepted" in _unwrapped(result.output)


@pytest.mark.spark
def test_spark_rejects_the_same_non_utf8_rows_for_the_same_reason(tmp_path, spark_backend):
    path = _write(
        tmp_path,
        HEADER + b"a,2024-05-01,login,\n"
        b"caf\xe9,2024-05-01,login,\n"
        b"b,2024-05-02,log\xefn,\n"
        b"c,2099-05-03,login,\n"
        b"d,2024-05-03,purchase,1e13\n",
    )
    on_duckdb = load_events(path, "duckdb").report
    on_spark = load_events(path, "spark", backend=spark_backend).report
    expected = {"invalid_text_encoding": 2, "future_event_time": 1, "amount_out_of_range": 1}
    assert on_duckdb.rejected == expected
    assert on_spark.rejected == expected
    assert on_spark.rows_accepted == on_duckdb.rows_accepted == 1


@pytest.mark.spark
def test_spark_reads_jsonl_values_of_mixed_kinds_the_same_way(tmp_path, spark_backend):
    path = _mixed_kinds_file(tmp_path)
    _assert_mixed_kinds_read_as_written(load_events(path, "spark", backend=spark_backend))


SEMICOLON_EXPORT = (
    b"user_id;event_time;event_type;amount\n"
    b"a;2024-05-01 10:00:00;purchase;12,50\n"  # a decimal comma, as such spreadsheets write it
    b"b;2024-05-02 11:00:00;login;\n"
)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"user_id,event_time,event_type\n", ","),
        (b"user_id;event_time;event_type;amount\n", ";"),
        (b"user_id\tevent_time\tevent_type\n", "\t"),
        (b"user_id|event_time|event_type\n", "|"),
        (b"user_id\n", ","),  # one column: nothing to tell, a comma
    ],
)
def test_the_csv_delimiter_is_read_from_the_header(tmp_path, header, expected):
    from features.sources import header_delimiter

    assert header_delimiter(_write(tmp_path, header + b"a,b;c\td|e\n")) == expected
    packed = tmp_path / "events.csv.gz"
    packed.write_bytes(gzip.compress(header))
    assert header_delimiter(packed) == expected


@pytest.mark.spark
def test_spark_reads_a_semicolon_csv_as_duckdb_does(tmp_path, spark_backend):
    """DuckDB sniffs the delimiter; Spark used to assume a comma and refuse the file."""
    path = _write(tmp_path, SEMICOLON_EXPORT)
    for loaded in (load_events(path, "duckdb"), load_events(path, "spark", backend=spark_backend)):
        frame = loaded.table.execute().sort_values("user_id")
        assert loaded.report.rows_accepted == 2
        assert frame["user_id"].tolist() == ["a", "b"]
        assert frame["amount"].tolist() == [12.5, 0.0]
