"""The event contract (DESIGN.md §2): column names, types and the errors raised for bad input.

Every entry point that reads events checks against this one definition, so a message about a
missing column reads the same whether it came from the CLI, training or the service.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

USER_ID = "user_id"
EVENT_TIME = "event_time"
EVENT_TYPE = "event_type"
AMOUNT = "amount"

REQUIRED_COLUMNS: tuple[str, ...] = (USER_ID, EVENT_TIME, EVENT_TYPE)
OPTIONAL_COLUMNS: tuple[str, ...] = (AMOUNT,)
CONTRACT_COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

# Reasons a row is rejected, in the order they are checked. A row counts under the first reason
# that applies, so the counts add up to the number of rejected rows.
REJECT_MISSING_USER_ID = "missing_user_id"
REJECT_UNPARSEABLE_TIME = "unparseable_event_time"
REJECT_FUTURE_TIME = "future_event_time"
REJECT_MISSING_EVENT_TYPE = "missing_event_type"
REJECT_UNPARSEABLE_AMOUNT = "unparseable_amount"
REJECT_AMOUNT_OUT_OF_RANGE = "amount_out_of_range"
# Text that was not UTF-8: DuckDB's CSV reader rejects the line (counted from its rejects
# table); on Spark it arrives with U+FFFD replacement characters and the row check rejects it.
REJECT_INVALID_ENCODING = "invalid_text_encoding"
REJECT_REASONS: tuple[str, ...] = (
    REJECT_MISSING_USER_ID,
    REJECT_UNPARSEABLE_TIME,
    REJECT_FUTURE_TIME,
    REJECT_MISSING_EVENT_TYPE,
    REJECT_UNPARSEABLE_AMOUNT,
    REJECT_AMOUNT_OUT_OF_RANGE,
    REJECT_INVALID_ENCODING,
)
# Rows accepted with a value set to missing, counted by reason: an amount no rule in
# `amounts.py` reads keeps its event (the activity counts) with a missing amount (0, as §2 says).
# With strict amounts the same rows are rejected as `unparseable_amount` instead.
KEPT_AMOUNT_UNPARSEABLE = "amount_unparseable"
KEPT_REASONS: tuple[str, ...] = (KEPT_AMOUNT_UNPARSEABLE,)
# Everything the row check can say about a row; a row's code is its position here.
ROW_ISSUES: tuple[str, ...] = REJECT_REASONS + KEPT_REASONS
# A CSV line with too many or too few fields (or an unterminated quote) is no row at all;
# DuckDB's reader skips it and we count it from its rejects table.
REJECT_MALFORMED_LINE = "malformed_line"

# An event dated more than this after the moment of loading is a clock or export bug, not an
# event: kept, it would stretch the log's end into the future and make label windows that have
# not happened look complete. The day of slack absorbs clock skew between producers.
FUTURE_TOLERANCE = timedelta(days=1)
# Larger amounts (in either sign) are data-entry or unit errors, not money: beyond 1e12 per event
# float64 sums stop being exact to the cent after ~90 events, and one such row would dominate
# every value feature and label of its user.
MAX_ABS_AMOUNT = 1e12


class EventContractError(ValueError):
    """Input that cannot be read as an event log at all (as opposed to individual bad rows)."""


def check_required_columns(
    found: Iterable[str], source: str, hint: str = "", provided: Iterable[str] | None = None
) -> None:
    """Fail with a message naming each missing column and the columns that were found.

    `provided`: the contract columns something feeds, when a column mapping makes them differ
    from the columns found.
    """
    found_list = list(found)
    fed = set(found_list if provided is None else provided)
    missing = [column for column in REQUIRED_COLUMNS if column not in fed]
    if missing:
        names = ", ".join(repr(column) for column in missing)
        noun = "column" if len(missing) == 1 else "columns"
        raise EventContractError(
            f"{source}: missing required {noun} {names}; "
            f"found columns: {', '.join(found_list) or '(none)'}{hint}"
        )


class RowCountSummary:
    """Counting and the one-line summary shared by every report of validated input rows.

    Why a mixin: the event loader and the campaign-log validator report the same way (rows
    read, accepted, rejected by reason), so operators read one wording everywhere. Subclasses
    are dataclasses with `source`, `rows_read`, `rows_accepted`, `rejected` and `note`; a
    report with more to say adds clauses through `_more()`.
    """

    source: str
    rows_read: int
    rows_accepted: int
    rejected: dict[str, int]
    note: str

    def _more(self) -> list[str]:
        """Further clauses of the summary line (none by default)."""
        return []

    @property
    def rows_rejected(self) -> int:
        return sum(self.rejected.values())

    def summary(self) -> str:
        """One line for humans: accepted and rejected counts with reasons."""
        line = f"{self.source}: {self.rows_accepted:,} of {self.rows_read:,} rows accepted"
        if self.rejected:
            reasons = ", ".join(f"{n:,} {reason}" for reason, n in self.rejected.items())
            line += f"; rejected {self.rows_rejected:,} ({reasons})"
        line += "".join(f"; {clause}" for clause in self._more())
        return f"{line} [{self.note}]" if self.note else line


def as_naive_utc(moment: datetime) -> datetime:
    """Cutoffs are compared with naive UTC event times: convert zoned cutoffs, keep naive ones.

    Here, beside the event contract and not with the Ibis feature code, because the decisions
    and the service compare contact times with cutoffs without needing a query engine.
    """
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment
