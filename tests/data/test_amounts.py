"""Amounts as exports write them (docs/bad-input.md, "Amounts"): each form read to the value a
person reads in it, anything else kept as an event with a missing amount, or rejected when
amounts are strict. Expected values are written out by hand next to each text."""

from __future__ import annotations

import csv
import json
from datetime import datetime

import pandas as pd
import pytest
from typer.testing import CliRunner

from features import ImportProfile, WindowConfig, feature_frame, load_events
from features.engines import connect
from retain.cli import app

# (text as exported, the amount a person reads in it)
READ: list[tuple[str, float]] = [
    ("$42.57", 42.57),
    ("16.96 EUR", 16.96),
    ("EUR 16.96", 16.96),
    ("USD 5", 5.0),
    ("12EUR", 12.0),
    ("1,234.50", 1234.50),  # thousands comma, decimal point
    ("$1,234,567.89", 1234567.89),
    ("1.234,50", 1234.50),  # thousands dot, decimal comma
    ("1.234.567", 1234567.0),  # two dots in groups of three: thousands
    ("12,5", 12.5),  # decimal comma
    ("12,50 €", 12.5),
    ("0,125", 0.125),  # a leading 0 is no thousands group: decimal comma
    ("1,234", 1234.0),  # the rule: one comma before exactly 3 digits is a thousands separator
    ("1.234", 1.234),  # ... and one dot is a decimal point
    ("€1 234,50", 1234.50),  # space-grouped (French)
    ("1\u202f234,50 €", 1234.50),  # narrow no-break space
    ("1'234.50 CHF", 1234.50),  # apostrophe-grouped (Swiss)
    ("₹12,34,567.89", 1234567.89),  # Indian lakh grouping
    ("£-301.78", -301.78),
    ("-$1,234.56", -1234.56),
    ("- 5 USD", -5.0),
    ("(12.00)", -12.0),  # accounting negative
    ("($1,000.00)", -1000.0),
    ("12.50-", -12.5),  # trailing minus
    ("US$ 7", 7.0),
    ("¥1,000", 1000.0),
    ("+3", 3.0),
    ("7", 7.0),
]
# Texts that are no amount in any form read: the event stays, its amount is missing (0).
UNREADABLE = ["abc", "1,23.4", "(-5)", "--5", "5 eur", "12.345,6.7", "NaN", "inf", "(5", "12 34"]


def _log(tmp_path, amounts: list[str], name: str = "amounts.csv"):
    """One purchase per amount, user `u<i>`, on 2024-05-01 (CSV-quoted as exports quote)."""
    path = tmp_path / name
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user_id", "event_time", "event_type", "amount"])
        for i, amount in enumerate(amounts):
            writer.writerow([f"u{i}", "2024-05-01 10:00:00", "purchase", amount])
    return path


def test_each_currency_format_reads_as_written(tmp_path):
    path = _log(tmp_path, [text for text, _ in READ])
    loaded = load_events(path, backend=connect("duckdb"))
    assert loaded.report.rows_accepted == len(READ)
    assert loaded.report.rejected == {} and loaded.report.kept == {}
    amounts = loaded.table.execute().set_index("user_id")["amount"]
    for i, (text, expected) in enumerate(READ):
        assert amounts[f"u{i}"] == pytest.approx(expected, abs=1e-9), text


def test_unreadable_amounts_keep_their_events_and_are_counted(tmp_path):
    path = _log(tmp_path, [*UNREADABLE, "$10.00"])
    loaded = load_events(path, backend=connect("duckdb"))
    report = loaded.report
    assert (report.rows_read, report.rows_accepted) == (len(UNREADABLE) + 1, len(UNREADABLE) + 1)
    assert report.rejected == {}
    assert report.kept == {"amount_unparseable": len(UNREADABLE)}
    table = loaded.table.execute().set_index("user_id")
    assert table["amount"].sum() == pytest.approx(10.0)  # missing amounts are 0 (DESIGN §2)
    # The activity counts: every user made one event in the 30 days before the cutoff.
    features = feature_frame(loaded, datetime(2024, 5, 2), WindowConfig()).set_index("user_id")
    assert (features["events_30d"] == 1).all() and len(features) == len(UNREADABLE) + 1
    assert features.loc["u0", "purchases_90d"] == 0  # no positive amount: not a purchase


def test_strict_amounts_reject_what_cannot_be_read(tmp_path):
    path = _log(tmp_path, ["abc", "$10.00", "inf"])
    report = load_events(path, import_profile=ImportProfile(strict_amounts=True)).report
    assert report.rows_accepted == 1
    assert report.rejected == {"unparseable_amount": 2}
    assert report.kept == {}


def test_the_cli_reads_currency_formats_into_revenue(tmp_path):
    """`retain features` on the same file: each user's revenue_total is their one amount."""
    path = _log(tmp_path, [text for text, _ in READ])
    out = tmp_path / "features.csv"
    result = CliRunner().invoke(
        app, ["features", "--events", str(path), "--as-of", "2024-06-01", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    revenue = pd.read_csv(out).set_index("user_id")["revenue_total"]
    for i, (text, expected) in enumerate(READ):
        assert revenue[f"u{i}"] == pytest.approx(expected, abs=1e-9), text


def test_validate_keeps_or_rejects_unreadable_amounts_by_flag_and_profile(tmp_path):
    path = _log(tmp_path, ["abc", "$10.00", "12,5"])
    runner = CliRunner()
    lenient = runner.invoke(app, ["validate", "--events", str(path), "--json"])
    assert lenient.exit_code == 0, lenient.output
    document = json.loads(lenient.output)
    assert (document["rows_accepted"], document["rejected"]) == (3, {})
    assert document["kept"] == {"amount_unparseable": 1}
    assert document["issues"]["amount_unparseable"]["samples"] == [{"line": 2, "value": "abc"}]
    assert document["profile"]["max_abs_amount"] == pytest.approx(12.5)

    strict = runner.invoke(app, ["validate", "--events", str(path), "--json", "--strict-amounts"])
    assert strict.exit_code == 0, strict.output
    assert json.loads(strict.output)["rejected"] == {"unparseable_amount": 1}

    profile = tmp_path / "shop.yaml"
    profile.write_text("strict_amounts: true\n")
    by_profile = runner.invoke(
        app, ["validate", "--events", str(path), "--json", "--profile", str(profile)]
    )
    assert by_profile.exit_code == 0, by_profile.output
    assert json.loads(by_profile.output)["rows_accepted"] == 2


@pytest.mark.spark
def test_spark_reads_the_same_amounts(tmp_path, spark_backend):
    """The rules are regular expressions run by the engine: Java's must agree with RE2."""
    path = _log(tmp_path, [*(text for text, _ in READ), *UNREADABLE])
    on_spark = load_events(path, "spark", backend=spark_backend)
    assert on_spark.report.kept == {"amount_unparseable": len(UNREADABLE)}
    amounts = on_spark.table.to_pandas().set_index("user_id")["amount"]
    for i, (text, expected) in enumerate(READ):
        assert amounts[f"u{i}"] == pytest.approx(expected, abs=1e-9), text
