"""Command-line options for reading an export as it is: column mapping, import profile, amounts.

Declared once so every command that loads events (`validate`, `features`, `score`) spells and
documents them the same way (docs/bad-input.md, "Amounts" and "Column mapping"): a command
takes them with `@with_import_flags` and a `reading: ImportFlags` parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from retain.commands.options import flag_group
from retain.console import fail

if TYPE_CHECKING:
    from features import ImportProfile

ColumnsOption = Annotated[
    str | None,
    typer.Option(
        "--columns",
        help="Export columns for the contract's, e.g. user_id=customer_id,event_time=timestamp "
        "(on top of --profile); unused columns are listed as ignored.",
    ),
]
ProfileOption = Annotated[
    Path | None,
    typer.Option(
        "--profile",
        help="Import profile YAML: `columns:` (contract column: export column) and "
        "`strict_amounts:`.",
    ),
]
StrictAmountsOption = Annotated[
    bool,
    typer.Option(
        "--strict-amounts",
        help="Reject rows whose amount cannot be read (default: keep the event with a missing "
        "amount, counted as amount_unparseable).",
    ),
]


@dataclass(frozen=True)
class ImportFlags:
    """The three flags as given on the command line."""

    columns: str | None = None
    profile: Path | None = None
    strict_amounts: bool = False

    def resolve(self) -> ImportProfile:
        """The profile file (or none) with the flags on top; a bad one ends the command."""
        from features import (
            EventContractError,
            ImportProfile,
            load_import_profile,
            parse_column_mapping,
        )

        try:
            base = load_import_profile(self.profile) if self.profile else ImportProfile()
            mapping = parse_column_mapping(self.columns) if self.columns is not None else {}
            return base.overridden(mapping, self.strict_amounts)
        except (EventContractError, ValueError) as error:
            fail(str(error))


IMPORT_OPTIONS: dict[str, Any] = {
    "columns": ColumnsOption,
    "profile": ProfileOption,
    "strict_amounts": StrictAmountsOption,
}
with_import_flags = flag_group("reading", ImportFlags, IMPORT_OPTIONS)
