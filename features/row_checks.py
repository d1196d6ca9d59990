"""The row check: every raw row as contract columns, with the first issue it has, if any.

Why in Ibis: the same check runs on DuckDB and Spark, so both engines accept, keep and reject
exactly the same rows. Naive timestamps are UTC; zoned ones are converted to UTC; the checked
table carries naive UTC timestamps so every later comparison is zone-free.

Why separate from `loading.py`: loading decides where rows come from and what is counted;
this module decides what a row means. `retain validate` runs the same check over the raw rows
to show which lines failed and why (`row_issues.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from features import contract as c
from features.amounts import with_amount

_UTC = dt.Timestamp(timezone="UTC")
_NAIVE = dt.Timestamp()
# The column holding a row's issue: its position in `c.ROW_ISSUES` (a small integer, not its
# name: checked text tables are cached with it on every row), null for a row without one.
ISSUE = "_issue"
# Codes below this are rejections; the rest are rows kept with a value set to missing.
FIRST_KEPT_CODE = len(c.REJECT_REASONS)


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


def _amount_input(raw: ir.Value | None) -> dict[str, ir.Value]:
    """The first step of reading the amount: the number as given, or its text stripped."""
    if raw is None:
        return {"_amount": ibis.null("float64")}
    if raw.type().is_numeric():
        return {"_amount": raw.cast("float64")}
    return {"_amount_text": _strip(_text(raw))}


def _with_amount(prepared: ir.Table) -> ir.Table:
    """`prepared` plus `_amount` (the number given, null when missing) and `_bad` (whether a
    given amount could not be read). NaN or infinite amounts are not money: they count as
    unreadable rather than poison sums."""
    if "_amount_text" in prepared.columns:
        read = with_amount(prepared, "_amount_text", "_amount")
        read = read.mutate(_bad=(read["_amount_text"] != "") & read["_amount"].isnull())
        read = read.drop("_amount_text")
    else:
        read = prepared.mutate(_bad=ibis.literal(False))
    amount = read["_amount"]
    # x − x is 0 for every finite x and NaN for NaN and ±inf (NaN = 0 is false on both engines).
    # Not `isnan() | isinf()`: Ibis compiles `isinf` to FALSE on Spark. Not a comparison with
    # the largest float either: DuckDB 2.0 folds that from a Parquet footer's min/max, which
    # leave NaN out, so a NaN amount read from Parquet was accepted uncounted.
    finite = (amount - amount) == 0
    return read.mutate(_bad=read["_bad"] | (amount.notnull() & ~finite))


def check_rows(
    raw: ir.Table,
    sources: Mapping[str, str],
    engine: str,
    strict_amounts: bool,
    keep: Sequence[str] = (),
) -> ir.Table:
    """Contract columns read from `sources` (contract column → raw column), plus `ISSUE`, plus
    the raw columns named in `keep` as `_source_<i>` (for `retain validate`'s samples).

    A row counts under the first issue that applies: rejections in `c.REJECT_REASONS` order,
    then (when amounts are not strict) an unreadable amount that keeps the row. Each step is
    its own projection so a costly value (a parsed time, an amount) is computed once per row.
    """
    prepared = raw.select(
        **{
            c.USER_ID: _text(raw[sources[c.USER_ID]]),
            c.EVENT_TIME: _as_utc_naive(raw[sources[c.EVENT_TIME]], engine),
            c.EVENT_TYPE: _text(raw[sources[c.EVENT_TYPE]]),
        },
        **_amount_input(raw[sources[c.AMOUNT]] if c.AMOUNT in sources else None),
        **{f"_source_{i}": raw[name] for i, name in enumerate(keep)},
    )
    read = _with_amount(prepared)
    read = read.mutate(**{c.AMOUNT: ibis.ifelse(read["_bad"], 0.0, read["_amount"].fill_null(0.0))})
    user_id, event_type = read[c.USER_ID], read[c.EVENT_TYPE]
    event_time, amount_bad = read[c.EVENT_TIME], read["_bad"]
    latest = datetime.now(UTC).replace(tzinfo=None) + c.FUTURE_TOLERANCE
    code = {reason: ibis.literal(i, "int8") for i, reason in enumerate(c.ROW_ISSUES)}
    strict = [(amount_bad, code[c.REJECT_UNPARSEABLE_AMOUNT])] if strict_amounts else []
    kept = [] if strict_amounts else [(amount_bad, code[c.KEPT_AMOUNT_UNPARSEABLE])]
    issue = ibis.cases(
        (_is_blank(user_id), code[c.REJECT_MISSING_USER_ID]),
        (event_time.isnull(), code[c.REJECT_UNPARSEABLE_TIME]),
        (event_time > ibis.literal(latest, _NAIVE), code[c.REJECT_FUTURE_TIME]),
        (_is_blank(event_type), code[c.REJECT_MISSING_EVENT_TYPE]),
        *strict,
        (read[c.AMOUNT].abs() > c.MAX_ABS_AMOUNT, code[c.REJECT_AMOUNT_OUT_OF_RANGE]),
        *_replacement_characters(engine, user_id, event_type, code),
        *kept,
        else_=ibis.null("int8"),
    )
    sourced = [f"_source_{i}" for i in range(len(keep))]
    return read.select(*c.CONTRACT_COLUMNS, *sourced, **{ISSUE: issue})


def normalise(
    raw: ir.Table,
    engine: str = "duckdb",
    sources: Mapping[str, str] | None = None,
    *,
    strict_amounts: bool = False,
) -> ir.Table:
    """Contract columns plus `ISSUE`; `sources` maps contract columns to raw ones (default:
    the same names)."""
    if sources is None:
        c.check_required_columns(raw.columns, "events")
        sources = {name: name for name in c.CONTRACT_COLUMNS if name in raw.columns}
    return check_rows(raw, sources, engine, strict_amounts)
