"""Where the problem rows are: `retain validate` names lines, shows values, writes `--rejects`.

The export below is numbered by hand (line 1 is the header); it has a blank line and a quoted
field holding a line break, the two things that make "row n" differ from "line n + 1".
"""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from features import ImportProfile, find_row_issues
from retain.cli import app

EXPORT = (
    "user_id,event_time,event_type,amount,note\n"  # 1
    "a,2024-05-01,login,,ok\n"  # 2
    "\n"  # 3: blank
    ",2024-05-01,login,,no user\n"  # 4: missing_user_id (rejected)
    "b,2024-05-01,purchase,abc,bad amount\n"  # 5: amount_unparseable (kept)
    '"c","2024-05-01","purchase","3","line\n'  # 6: a record over two lines ...
    'break"\n'  # 7
    "d,soon,login,,bad time\n"  # 8: unparseable_event_time (rejected)
    "e,2024-05-01,login,1,extra,field\n"  # 9: malformed_line (rejected)
    "f,2024-05-01,purchase,$5,fine\n"  # 10
)
# (line, reason, outcome, the row's user_id as written) for every listed row, by hand.
LISTED = [
    (4, "missing_user_id", "rejected", ""),
    (5, "amount_unparseable", "kept", "b"),
    (8, "unparseable_event_time", "rejected", "d"),
    (9, "malformed_line", "rejected", ""),
]


def _rows(frame: pd.DataFrame) -> list[tuple[int, str, str, str]]:
    users = frame["user_id"].fillna("")
    return [
        (int(line), reason, outcome, user)
        for line, reason, outcome, user in zip(
            frame["line"], frame["reason"], frame["outcome"], users, strict=True
        )
    ]


@pytest.mark.parametrize("ending", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_listed_rows_carry_their_source_line_numbers(tmp_path, ending):
    path = tmp_path / "export.csv"
    path.write_bytes(EXPORT.replace("\n", ending).encode())
    issues = find_row_issues(path)
    assert issues.unnumbered == ()
    assert _rows(issues.rows) == LISTED
    malformed = issues.rows[issues.rows["reason"] == "malformed_line"]
    assert malformed["source_line"].tolist() == ["e,2024-05-01,login,1,extra,field"]
    assert issues.samples("unparseable_event_time") == [(8, "soon")]


def test_compressed_csv_and_a_folder_of_files_are_numbered_per_file(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    with gzip.open(folder / "a.csv.gz", "wt") as handle:
        handle.write(EXPORT)
    (folder / "b.csv.gz").write_bytes(
        gzip.compress(b"user_id,event_time,event_type,amount,note\nz,never,login,,x\n")
    )
    rows = find_row_issues(folder).rows
    named = zip(rows["file"], rows["line"], strict=True)
    assert [(file.rsplit("/", 1)[-1], line) for file, line in named] == [
        ("a.csv.gz", 4),
        ("a.csv.gz", 5),
        ("a.csv.gz", 8),
        ("a.csv.gz", 9),
        ("b.csv.gz", 2),
    ]


def test_json_lines_count_from_1_and_parquet_rows_by_position(tmp_path):
    jsonl = tmp_path / "events.jsonl"
    jsonl.write_text(
        '{"user_id": "a", "event_time": "2024-05-01", "event_type": "x"}\n'  # 1
        "\n"  # 2: blank
        '{"user_id": "", "event_time": "2024-05-01", "event_type": "x"}\n'  # 3
        '{"user_id": "b", "event_time": "2024-05-01", "event_type": "x", "amount": "?"}\n'  # 4
    )
    assert _rows(find_row_issues(jsonl).rows) == [
        (3, "missing_user_id", "rejected", ""),
        (4, "amount_unparseable", "kept", "b"),
    ]
    parquet = tmp_path / "events.parquet"
    pd.DataFrame(
        {
            "user_id": ["a", "b", "c"],
            "event_time": ["2024-05-01", "later", "2024-05-01"],
            "event_type": ["x", "x", "x"],
        }
    ).to_parquet(parquet)
    assert _rows(find_row_issues(parquet).rows) == [(2, "unparseable_event_time", "rejected", "b")]


def test_strict_amounts_list_the_amount_as_rejected(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(EXPORT)
    strict = find_row_issues(path, import_profile=ImportProfile(strict_amounts=True))
    assert _rows(strict.rows)[1] == (5, "unparseable_amount", "rejected", "b")


def test_validate_shows_samples_and_writes_the_rejects_file(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(EXPORT)
    rejects = tmp_path / "out" / "rejects.csv"
    result = CliRunner().invoke(app, ["validate", "--events", str(path), "--rejects", str(rejects)])
    assert result.exit_code == 0, result.output
    printed = " ".join(result.output.split())
    assert "4 of 7 rows accepted; rejected 3" in printed
    assert "kept 1 with a missing amount (1 amount_unparseable)" in printed
    assert "5: 'abc'" in printed and "8: 'soon'" in printed
    assert "wrote 4 rows to" in printed
    written = pd.read_csv(rejects, dtype=str, keep_default_na=False)
    assert list(written.columns) == [
        *("file", "line", "reason", "outcome"),
        *("user_id", "event_time", "event_type", "amount", "note"),
        "source_line",
    ]
    assert _rows(written) == LISTED
    assert written.loc[1, "amount"] == "abc" and written.loc[2, "event_time"] == "soon"

    as_json = CliRunner().invoke(app, ["validate", "--events", str(path), "--json"])
    issues = json.loads(as_json.output)["issues"]
    assert issues["malformed_line"] == {
        "outcome": "rejected",
        "rows": 1,
        "samples": [{"line": 9, "value": "e,2024-05-01,login,1,extra,field"}],
    }
    assert issues["missing_user_id"]["samples"] == [{"line": 4, "value": ""}]


def test_a_clean_export_writes_an_empty_rejects_file_and_a_bad_name_is_refused(tmp_path):
    path = tmp_path / "clean.csv"
    path.write_text("user_id,event_time,event_type\na,2024-05-01,login\n")
    rejects = tmp_path / "rejects.csv"
    runner = CliRunner()
    result = runner.invoke(app, ["validate", "--events", str(path), "--rejects", str(rejects)])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(rejects).empty
    refused = runner.invoke(
        app, ["validate", "--events", str(path), "--rejects", str(tmp_path / "r.xlsx")]
    )
    assert refused.exit_code == 2
    assert "unsupported output type '.xlsx'" in " ".join(refused.output.split())
