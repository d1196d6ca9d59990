"""Adapters from public transaction formats to the event contract.

Why: real logs rarely arrive in the contract's shape. Each adapter returns contract rows plus
the count of source rows it had to exclude, so nothing disappears without being reported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from features import contract as c


@dataclass(frozen=True)
class AdaptedEvents:
    """Contract rows and the source rows excluded, counted by reason."""

    events: pd.DataFrame
    rejected: dict[str, int] = field(default_factory=dict)
    note: str = ""  # how source rows became events, for the load summary


def read_cdnow(path: Path) -> AdaptedEvents:
    """CDNOW transaction log: `customer_id date(YYYYMMDD) number_of_cds dollar_value`.

    The master file has a header line and four columns; the 1/10 sample has no header and a
    leading master id (five columns). Each line is one purchase event at midnight UTC.
    """
    table = pd.read_csv(path, sep=r"\s+", header=None, dtype=str, engine="python")
    if not table.empty and not str(table.iat[0, -1]).replace(".", "", 1).isdigit():
        table = table.iloc[1:]  # header line
    if table.shape[1] == 5:
        table = table.iloc[:, 1:]  # sample: drop the master id, keep the sample's own id
    if table.shape[1] != 4:
        raise c.EventContractError(
            f"{path}: expected 4 whitespace-separated CDNOW columns "
            f"(customer_id date number_of_cds dollar_value); found {table.shape[1]}"
        )
    table.columns = ["customer_id", "date", "cds", "dollars"]
    time = pd.to_datetime(table["date"], format="%Y%m%d", errors="coerce")
    # Text in, text out: a bad date or amount stays as written for the loader to reject and count.
    events = pd.DataFrame(
        {
            c.USER_ID: table["customer_id"].astype("string").str.strip(),
            c.EVENT_TIME: time.dt.strftime("%Y-%m-%d").fillna(table["date"]),
            c.EVENT_TYPE: "purchase",
            c.AMOUNT: table["dollars"],
            "quantity": pd.to_numeric(table["cds"], errors="coerce"),
        }
    )
    return AdaptedEvents(
        events=events.reset_index(drop=True), note=f"{len(events):,} CDNOW transactions"
    )


_RETAIL_COLUMNS = ("InvoiceNo", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country")


def read_online_retail(path: Path) -> AdaptedEvents:
    """UCI Online Retail invoice lines → one event per invoice, invoice total as amount.

    Cancellations (invoice numbers starting with 'C') become `refund` events with a negative
    amount. Lines without a customer cannot be attributed to a user: they are excluded and
    counted under `missing_user_id`.
    """
    lines = pd.read_csv(path, dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": str})
    missing = [col for col in _RETAIL_COLUMNS if col not in lines.columns]
    if missing:
        raise c.EventContractError(
            f"{path}: missing Online Retail column(s) {', '.join(map(repr, missing))}; "
            f"found columns: {', '.join(lines.columns)}"
        )
    n_lines = len(lines)
    customer = lines["CustomerID"].astype("string").str.strip().str.replace(r"\.0$", "", regex=True)
    has_customer = customer.notna() & (customer != "")
    rejected = {c.REJECT_MISSING_USER_ID: int((~has_customer).sum())}
    lines = lines.loc[has_customer].assign(customer=customer[has_customer])
    lines["line_total"] = lines["Quantity"] * lines["UnitPrice"]
    lines["time"] = pd.to_datetime(lines["InvoiceDate"], errors="coerce")
    invoices = lines.groupby("InvoiceNo", sort=True).agg(
        user_id=("customer", "first"),
        event_time=("time", "min"),
        amount=("line_total", "sum"),
        lines=("line_total", "size"),
        country=("Country", "first"),
    )
    invoices = invoices.reset_index()
    cancelled = invoices["InvoiceNo"].str.upper().str.startswith("C")
    invoices["event_type"] = np.where(cancelled, "refund", "purchase")
    # A cancellation is money returned whatever sign the lines carried.
    invoices["amount"] = np.where(cancelled, -invoices["amount"].abs(), invoices["amount"])
    events = invoices.rename(columns={"InvoiceNo": "invoice_no"})[
        [c.USER_ID, c.EVENT_TIME, c.EVENT_TYPE, c.AMOUNT, "invoice_no", "lines", "country"]
    ]
    note = (
        f"{n_lines:,} invoice lines → {len(events):,} invoice events "
        f"({int(cancelled.sum()):,} cancellations as refunds); "
        f"{rejected[c.REJECT_MISSING_USER_ID]:,} lines without a customer excluded"
    )
    return AdaptedEvents(
        events=events, rejected={k: v for k, v in rejected.items() if v}, note=note
    )


ADAPTERS: dict[str, Callable[[Path], AdaptedEvents]] = {
    "cdnow": read_cdnow,
    "online_retail": read_online_retail,
}


def detect_adapter(path: Path) -> Callable[[Path], AdaptedEvents] | None:
    """Pick an adapter from a file's name or header; None means 'already in the contract'."""
    if not path.is_file() or path.stat().st_size == 0:
        return None  # folders and empty files go to the contract loader, which explains them
    name = path.name.lower()
    if name.endswith((".txt", ".txt.gz")) and "cdnow" in name:
        return read_cdnow
    if name.endswith((".csv", ".csv.gz")):
        try:
            header = pd.read_csv(path, nrows=0).columns
        except (ValueError, UnicodeDecodeError):
            return None  # not a readable header: the contract loader reports why
        if {"InvoiceNo", "CustomerID"} <= set(header):
            return read_online_retail
    return None
