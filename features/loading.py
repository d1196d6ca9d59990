"""Loading event logs into the event contract, counting every row that is rejected and why.

Why in Ibis: the same normalisation runs on DuckDB and Spark, so both engines accept and
reject exactly the same rows. Naive timestamps are UTC; zoned ones are converted to UTC; the
clean table carries naive UTC timestamps so every later comparison is zone-free.

Loading is lazy where re-reading is cheap: a query over Parquet re-reads and re-checks the rows
(columnar, fast) rather than paying to copy them all into the engine first. Text formats (CSV,
JSON lines) are parsed once and the checked rows cached on the engine, because re-parsing text
for every cutoff costs more than the features themselves.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from features import contract as c
from features.engines import connect, register_frame
from features.sources import EventFiles, discover, read_raw

_FRAME_IDS = itertools.count()
_UTC = dt.Timestamp(timezone="UTC")
_NAIVE = dt.Timestamp()


@dataclass(frozen=True)
class LoadReport(c.RowCountSummary):
    """What loading did: rows read, rows accepted, and rejected rows counted by reason."""

    source: str
    rows_read: int
    rows_accepted: int
    rejected: dict[str, int] = field(default_factory=dict)
    min_event_time: datetime | None = None
    max_event_time: datetime | None = None
    note: str = ""  # an adapter's account of how source rows became events


@dataclass(frozen=True)
class LoadedEvents:
    """A clean event table (contract columns, naive UTC timestamps) and how it was obtained."""

    table: ir.Table
    report: LoadReport
    backend: BaseBackend
    engine: str


@ibis.udf.scalar.builtin(name="epoch_us")
def _duckdb_epoch_us(moment: _UTC) -> dt.int64:  # type: ignore[empty-body]
    """DuckDB: microseconds since the epoch of a zoned timestamp (its UTC instant)."""


@ibis.udf.scalar.builtin(name="make_timestamp")
def _duckdb_timestamp(micros: dt.int64) -> _NAIVE:  # type: ignore[empty-body]
    """DuckDB: the naive timestamp `micros` microseconds after the epoch."""


def _drop_utc_zone(column: ir.TimestampValue, engine: str) -> ir.TimestampValue:
    """A UTC-zoned timestamp as the same instant, naive.

    Why a DuckDB special case: its zoned-to-naive cast goes through ICU calendars row by row
    (about 1 s per 10M rows, as long as the rest of loading); re-reading the UTC instant as
    epoch microseconds is exact and ~20x cheaper. Other engines take the plain cast.
    """
    if engine == "duckdb":
        return _duckdb_timestamp(_duckdb_epoch_us(column))
    return column.cast(_NAIVE)


def _as_utc_naive(column: ir.Value, engine: str) -> ir.Value:
    """Any timestamp-ish column as naive UTC; unparseable text becomes null (and is rejected)."""
    dtype = column.type()
    if dtype.is_timestamp():
        return _drop_utc_zone(column.cast(_UTC), engine) if dtype.timezone else column.cast(_NAIVE)
    if dtype.is_date():
        return column.cast(_NAIVE)
    if dtype.is_string():
        return _drop_utc_zone(_strip(column).try_cast(_UTC), engine)
    raise c.EventContractError(
        f"column '{c.EVENT_TIME}' has type {dtype}; expected a timestamp or text like "
        "'2024-05-01 13:45:00' (an offset such as '+02:00' is converted to UTC)"
    )


def _text(column: ir.Value) -> ir.StringValue:
    """Text as given: ids are compared as strings, so ' u1' and 'u1' stay different users."""
    return column if column.type().is_string() else column.cast("string")


def _strip(text: ir.StringValue) -> ir.StringValue:
    """`text.strip()`, but only texts that start or end at or below ' ' (32) are trimmed.

    Why: trimming with a character set costs DuckDB about 0.3 s per million values, more than
    parsing them; whitespace sorts at or below ' ', so other texts are already stripped.
    """
    edge = (text.ascii_str() <= 32) | (text.right(1).ascii_str() <= 32)
    return ibis.ifelse(edge, text.strip(), text)


def _is_blank(text: ir.StringValue) -> ir.BooleanValue:
    """Null, empty or only whitespace (the characters `strip` removes).

    Why not just `strip() == ""`: trimming every id and type was the costliest step of loading.
    Whitespace sorts at or below ' ' (32), so a text whose first character is above it cannot
    be blank; the CASE only trims the rare rest (engines evaluate CASE branches lazily).
    """
    return ibis.cases(
        (text.isnull(), True), (text.ascii_str() > 32, False), else_=text.strip() == ""
    )


def _replacement_characters(
    engine: str, user_id: ir.StringValue, event_type: ir.StringValue, code: dict[str, ir.Value]
) -> list[tuple[ir.BooleanValue, ir.Value]]:
    """Spark only: ids or types holding U+FFFD, the mark of bytes that were not UTF-8.

    Why: DuckDB's CSV reader rejects such lines itself (counted as `invalid_text_encoding`),
    while Spark's decodes them with replacement characters and reads on; this check makes the
    two engines reject the same rows for the same reason.
    """
    if engine != "spark":
        return []
    garbled = user_id.contains("\ufffd") | event_type.contains("\ufffd")
    return [(garbled, code[c.REJECT_INVALID_ENCODING])]


def normalise(raw: ir.Table, engine: str = "duckdb") -> ir.Table:
    """Contract columns plus `_reject`, the first reason a row fails (null for a good row).

    `_reject` is the reason's position in `c.REJECT_REASONS` (a small integer, not its name:
    it is cached with every row).
    """
    c.check_required_columns(raw.columns, "events")
    user_id = _text(raw[c.USER_ID])
    event_type = _text(raw[c.EVENT_TYPE])
    event_time = _as_utc_naive(raw[c.EVENT_TIME], engine)
    if c.AMOUNT in raw.columns:
        amount_raw = raw[c.AMOUNT]
        if amount_raw.type().is_numeric():
            amount = amount_raw.cast("float64")
            amount_bad = ibis.literal(False)
        else:
            text = _strip(_text(amount_raw))
            amount = text.try_cast("float64")
            amount_bad = (text != "") & amount.isnull()
        # NaN or infinite amounts are not money: reject rather than let them poison sums.
        amount_bad = amount_bad | (amount.notnull() & (amount.isnan() | amount.isinf()))
        amount = amount.fill_null(0.0)
    else:
        amount = ibis.literal(0.0, "float64")
        amount_bad = ibis.literal(False)
    latest = datetime.now(UTC).replace(tzinfo=None) + c.FUTURE_TOLERANCE
    code = {reason: ibis.literal(i, "int8") for i, reason in enumerate(c.REJECT_REASONS)}
    reject = ibis.cases(
        (_is_blank(user_id), code[c.REJECT_MISSING_USER_ID]),
        (event_time.isnull(), code[c.REJECT_UNPARSEABLE_TIME]),
        (event_time > ibis.literal(latest, _NAIVE), code[c.REJECT_FUTURE_TIME]),
        (_is_blank(event_type), code[c.REJECT_MISSING_EVENT_TYPE]),
        (amount_bad, code[c.REJECT_UNPARSEABLE_AMOUNT]),
        (amount.abs() > c.MAX_ABS_AMOUNT, code[c.REJECT_AMOUNT_OUT_OF_RANGE]),
        *_replacement_characters(engine, user_id, event_type, code),
        else_=ibis.null("int8"),
    )
    return raw.select(
        **{c.USER_ID: user_id, c.EVENT_TIME: event_time, c.EVENT_TYPE: event_type},
        **{c.AMOUNT: amount, "_reject": reject},
    )


def _report(
    annotated: ir.Table, source: str, extra_rejected: dict[str, int], note: str
) -> LoadReport:
    """Count rows by outcome in one pass over the data."""
    reason = annotated["_reject"]
    good = reason.isnull()
    time = annotated[c.EVENT_TIME]
    row = (
        annotated.aggregate(
            n=annotated.count(),
            lo=time.min(where=good),
            hi=time.max(where=good),
            **{f"_n_{r}": reason.count(where=reason == i) for i, r in enumerate(c.REJECT_REASONS)},
        )
        .execute()
        .iloc[0]
    )
    rejected = dict(extra_rejected)
    for r in c.REJECT_REASONS:
        if int(row[f"_n_{r}"]):
            rejected[r] = rejected.get(r, 0) + int(row[f"_n_{r}"])
    accepted = int(row["n"]) - sum(int(row[f"_n_{r}"]) for r in c.REJECT_REASONS)
    return LoadReport(
        source=source,
        rows_read=int(row["n"]) + sum(extra_rejected.values()),
        rows_accepted=accepted,
        rejected=rejected,
        min_event_time=as_datetime(row["lo"]) if accepted else None,
        max_event_time=as_datetime(row["hi"]) if accepted else None,
        note=note,
    )


def as_datetime(value: object) -> datetime:
    """An engine's timestamp value (numpy, pandas or Python) as a Python datetime."""
    return pd.Timestamp(value).to_pydatetime()


def clean_events(
    raw: ir.Table,
    backend: BaseBackend,
    engine: str,
    source: str,
    extra_rejected: dict[str, int] | None = None,
    note: str = "",
    *,
    cache: bool = False,
    skipped_lines: Callable[[], dict[str, int]] | None = None,
) -> LoadedEvents:
    """Validate a raw table and count rejects; with `cache`, keep the checked rows on the engine.

    `skipped_lines` counts what the file reader skipped before any row existed; it is asked
    after the first pass over the rows, when the reader has seen every line.
    """
    extra_rejected = extra_rejected or {}
    annotated = normalise(raw, engine)
    if cache:
        annotated = annotated.cache()
    report = _report(annotated, source, extra_rejected, note)
    rejected_here = report.rows_rejected - sum(extra_rejected.values())
    if skipped_lines is not None and (skipped := skipped_lines()):
        rejected = dict(report.rejected)
        for reason, count in skipped.items():
            rejected[reason] = rejected.get(reason, 0) + count
        report = replace(
            report, rows_read=report.rows_read + sum(skipped.values()), rejected=rejected
        )
    # With nothing rejected (the usual case) later queries need no reject filter at all.
    accepted = annotated.filter(annotated["_reject"].isnull()) if rejected_here else annotated
    return LoadedEvents(
        table=accepted.drop("_reject"), report=report, backend=backend, engine=engine
    )


def load_events(
    source: str | Path,
    engine: str = "duckdb",
    *,
    fmt: str = "auto",
    backend: BaseBackend | None = None,
) -> LoadedEvents:
    """Read an event file or folder (or a known public format) into the contract."""
    from features.adapters import ADAPTERS, detect_adapter

    backend = backend or connect(engine)
    adapter = ADAPTERS.get(fmt) if fmt != "auto" else detect_adapter(Path(source))
    if fmt not in ("auto", "events") and adapter is None:
        known = ", ".join(("auto", "events", *ADAPTERS))
        raise c.EventContractError(f"unknown input format {fmt!r}; choose one of: {known}")
    if adapter is not None and fmt != "events":
        adapted = adapter(Path(source))
        return from_frame(
            adapted.events,
            engine,
            source=str(source),
            backend=backend,
            extra_rejected=adapted.rejected,
            note=adapted.note,
        )
    files: EventFiles = discover(source)
    raw = read_raw(backend, files)
    return clean_events(
        raw.table,
        backend,
        engine,
        files.label,
        cache=files.fmt != "parquet",
        skipped_lines=raw.skipped_lines,
    )


def from_frame(
    events: pd.DataFrame,
    engine: str = "duckdb",
    *,
    source: str = "in-memory events",
    backend: BaseBackend | None = None,
    extra_rejected: dict[str, int] | None = None,
    note: str = "",
) -> LoadedEvents:
    """Load an in-memory frame (tests, adapters, the service's snapshot) through the same checks."""
    backend = backend or connect(engine)
    c.check_required_columns(events.columns, source)
    raw = register_frame(backend, f"_raw_events_{next(_FRAME_IDS)}", events)
    return clean_events(raw, backend, engine, source, extra_rejected, note)
