"""The event contract (DESIGN.md §2): column names, types and the errors raised for bad input.

Every entry point that reads events checks against this one definition, so a message about a
missing column reads the same whether it came from the CLI, training or the service.
"""

from __future__ import annotations

from collections.abc import Iterable

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
REJECT_MISSING_EVENT_TYPE = "missing_event_type"
REJECT_UNPARSEABLE_AMOUNT = "unparseable_amount"
REJECT_REASONS: tuple[str, ...] = (
    REJECT_MISSING_USER_ID,
    REJECT_UNPARSEABLE_TIME,
    REJECT_MISSING_EVENT_TYPE,
    REJECT_UNPARSEABLE_AMOUNT,
)


class EventContractError(ValueError):
    """Input that cannot be read as an event log at all (as opposed to individual bad rows)."""


def check_required_columns(found: Iterable[str], source: str) -> None:
    """Fail with a message naming each missing column and the columns that were found."""
    found_list = list(found)
    missing = [column for column in REQUIRED_COLUMNS if column not in found_list]
    if missing:
        names = ", ".join(repr(column) for column in missing)
        noun = "column" if len(missing) == 1 else "columns"
        raise EventContractError(
            f"{source}: missing required {noun} {names}; "
            f"found columns: {', '.join(found_list) or '(none)'}"
        )


class RowCountSummary:
    """Counting and the one-line summary shared by every report of validated input rows.

    Why a mixin: the event loader and the campaign-log validator report the same way (rows
    read, accepted, rejected by reason), so operators read one wording everywhere. Subclasses
    are dataclasses with `source`, `rows_read`, `rows_accepted`, `rejected` and `note`.
    """

    source: str
    rows_read: int
    rows_accepted: int
    rejected: dict[str, int]
    note: str

    @property
    def rows_rejected(self) -> int:
        return sum(self.rejected.values())

    def summary(self) -> str:
        """One line for humans: accepted and rejected counts with reasons."""
        line = f"{self.source}: {self.rows_accepted:,} of {self.rows_read:,} rows accepted"
        if self.rejected:
            reasons = ", ".join(f"{n:,} {reason}" for reason, n in self.rejected.items())
            line += f"; rejected {self.rows_rejected:,} ({reasons})"
        return f"{line} [{self.note}]" if self.note else line
