"""Adapters for public formats, on small hand-made files and on the real shared datasets."""

from __future__ import annotations

import pandas as pd
import pytest

from features import EventContractError, find_row_issues, load_events
from features.adapters import read_cdnow, read_online_retail
from tests.conftest import shared_file


def test_cdnow_lines_become_purchase_events(tmp_path):
    path = tmp_path / "cdnow.txt"
    path.write_text(
        " customer_id  date number_of_cds  dollar_value\r\n"
        " 00001 19970101  1   11.77\r\n"
        " 00002 19970112  2   12.00\r\n"
        " 00002 19971399  1    5.00\r\n"  # month 13: kept for the loader to reject
    )
    adapted = read_cdnow(path)
    assert adapted.events["user_id"].tolist() == ["00001", "00002", "00002"]
    assert adapted.events["event_type"].unique().tolist() == ["purchase"]
    loaded = load_events(path, fmt="cdnow")
    assert loaded.report.rows_accepted == 2
    assert loaded.report.rejected == {"unparseable_event_time": 1}
    assert loaded.report.ignored_columns == ()  # the adapter's own columns are not the export's
    # `retain validate` lists the adapted row with its value; adapted rows have no line number.
    issues = find_row_issues(path, fmt="cdnow")
    assert issues.unnumbered == (str(path),)
    assert issues.samples("unparseable_event_time") == [(None, "19971399")]
    table = loaded.table.execute().sort_values("event_time")
    assert table["amount"].tolist() == [11.77, 12.0]
    assert table["event_time"].tolist() == [pd.Timestamp("1997-01-01"), pd.Timestamp("1997-01-12")]


def test_online_retail_invoices_and_cancellations(tmp_path):
    path = tmp_path / "retail.csv"
    path.write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "536365,A,x,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n"
        "536365,B,y,2,2010-12-01 08:26:00,3.00,17850,United Kingdom\n"
        "C536379,D,z,-1,2010-12-01 09:41:00,27.50,14527,United Kingdom\n"
        "536414,E,w,56,2010-12-01 11:52:00,0.00,,United Kingdom\n"
    )
    adapted = read_online_retail(path)
    events = adapted.events.set_index("invoice_no")
    assert events.loc["536365", "amount"] == pytest.approx(6 * 2.55 + 2 * 3.00)
    assert events.loc["536365", "event_type"] == "purchase"
    assert events.loc["C536379", "amount"] == pytest.approx(-27.50)
    assert events.loc["C536379", "event_type"] == "refund"
    assert adapted.rejected == {"missing_user_id": 1}
    report = load_events(path).report  # detected from the header
    assert report.rows_accepted == 2
    assert report.ignored_columns == ()
    # Lines without a customer never became rows: counted, and said to be unlisted.
    assert find_row_issues(path).unlisted == {"missing_user_id": 1}
    assert "4 invoice lines → 2 invoice events" in report.summary()


def test_online_retail_missing_column_is_named(tmp_path):
    path = tmp_path / "retail.csv"
    path.write_text("InvoiceNo,Quantity,InvoiceDate,UnitPrice,Country\n1,1,2010-12-01,1.0,UK\n")
    with pytest.raises(EventContractError, match="'CustomerID'"):
        read_online_retail(path)


@pytest.mark.real_data
def test_cdnow_master_file_matches_its_published_totals():
    loaded = load_events(shared_file("CDNOW_master.txt.gz"))
    table = loaded.table.execute()
    assert loaded.report.rows_accepted == 69_659
    assert table["user_id"].nunique() == 23_570
    assert table["amount"].sum() == pytest.approx(2_500_315.63, abs=0.01)
    assert loaded.report.min_event_time == pd.Timestamp("1997-01-01")
    assert loaded.report.max_event_time == pd.Timestamp("1998-06-30")


@pytest.mark.real_data
def test_cdnow_sample_uses_its_own_ids():
    loaded = load_events(shared_file("CDNOW_sample.txt.gz"), fmt="cdnow")
    table = loaded.table.execute()
    assert loaded.report.rows_accepted == 6_919
    assert table["user_id"].nunique() == 2_357
    assert table["amount"].sum() == pytest.approx(244_091.94, abs=0.01)


@pytest.mark.real_data
def test_online_retail_real_file():
    loaded = load_events(shared_file("online_retail_uci.csv.gz"))
    table = loaded.table.execute()
    assert loaded.report.rejected == {"missing_user_id": 135_080}
    assert table["user_id"].nunique() == 4_372
    invoices_with_customer = loaded.report.rows_accepted
    assert invoices_with_customer == len(table) == 22_190
    assert (table.loc[table["event_type"] == "refund", "amount"] <= 0).all()
