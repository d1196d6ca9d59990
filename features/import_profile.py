"""How one system's export maps onto the event contract: its column names, and amount strictness.

Why a profile: a shop or warehouse export names its columns its own way (`customer_id`,
`timestamp`). Renaming them means copying a large file before every run; a column mapping
(`--columns user_id=customer_id,…`, or `columns:` in a YAML profile) says it once and loads the
file as it is. Columns the contract does not use are listed as ignored, by name, in the load
report, so a mapping that missed one shows it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from features import contract as c


class ImportProfile(BaseModel):
    """How to read one export: contract column → export column, and what a bad amount means."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: dict[str, str] = Field(
        default_factory=dict,
        description="Contract column (user_id, event_time, event_type, amount) → export column.",
    )
    strict_amounts: bool = Field(
        False,
        description="Reject rows whose amount cannot be read, instead of keeping the event with "
        "a missing amount (counted as amount_unparseable).",
    )

    @field_validator("columns")
    @classmethod
    def _contract_names(cls, columns: dict[str, str]) -> dict[str, str]:
        unknown = [name for name in columns if name not in c.CONTRACT_COLUMNS]
        if unknown:
            raise ValueError(
                f"{', '.join(map(repr, unknown))} is not an event contract column; map one of "
                f"{', '.join(c.CONTRACT_COLUMNS)} to a column of the export"
            )
        blank = [name for name, source in columns.items() if not source.strip()]
        if blank:
            raise ValueError(f"no export column given for {', '.join(map(repr, blank))}")
        return columns

    def overridden(
        self, columns: Mapping[str, str], strict_amounts: bool, source: str = "--columns"
    ) -> ImportProfile:
        """This profile with command-line choices on top (a flag's column wins over the file's)."""
        document = {
            "columns": {**self.columns, **columns},
            "strict_amounts": self.strict_amounts or strict_amounts,
        }
        return build_import_profile(document, source)

    def plan(self, found: Sequence[str], source: str) -> ColumnPlan:
        """Which export column feeds each contract column, and which columns go unused.

        Fails naming a mapped column the export lacks, and (as without a mapping) naming any
        required contract column nothing feeds.
        """
        absent = {name: column for name, column in self.columns.items() if column not in found}
        if absent:
            pairs = ", ".join(f"{name}={column}" for name, column in absent.items())
            raise c.EventContractError(
                f"{source}: the column mapping names {', '.join(map(repr, absent.values()))} "
                f"({pairs}), not a column of the export; found columns: {', '.join(found)}"
            )
        sources = {name: name for name in c.CONTRACT_COLUMNS if name in found} | self.columns
        hint = (
            ""
            if self.columns
            else "; if the export names it differently, map it (e.g. --columns user_id=NAME)"
        )
        c.check_required_columns(found, source, hint, provided=sources)
        used = set(sources.values())
        return ColumnPlan(sources, tuple(column for column in found if column not in used))


@dataclass(frozen=True)
class ColumnPlan:
    """Contract column → the export column read for it, and the export columns left unused."""

    sources: dict[str, str]
    ignored: tuple[str, ...]


def parse_column_mapping(text: str) -> dict[str, str]:
    """`user_id=customer_id,event_time=timestamp` as a mapping, refusing malformed pairs.

    Names holding `,` or `=` cannot be written this way; a YAML profile takes any name.
    """
    mapping: dict[str, str] = {}
    for pair in (part.strip() for part in text.split(",")):
        name, equals, column = (side.strip() for side in pair.partition("="))
        if not equals or not name or not column:
            raise c.EventContractError(
                f"column mapping {pair!r} is not contract_column=export_column "
                "(e.g. user_id=customer_id,event_time=timestamp)"
            )
        if name in mapping:
            raise c.EventContractError(f"column mapping names {name!r} twice")
        mapping[name] = column
    return mapping


def load_import_profile(path: Path) -> ImportProfile:
    """A YAML import profile (`columns:` map, `strict_amounts:`), with each problem named."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise c.EventContractError(f"{path}: cannot read the import profile: {error}") from error
    if not isinstance(document, dict):
        raise c.EventContractError(f"{path}: an import profile is a mapping with `columns:`")
    return build_import_profile(document, str(path))


def build_import_profile(document: Mapping[str, object], source: str) -> ImportProfile:
    """Validate a profile document; the message names every problem and its field."""
    try:
        return ImportProfile.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, problem['loc'])) or 'profile'}: "
            + problem["msg"].removeprefix("Value error, ")
            for problem in error.errors()
        )
        raise c.EventContractError(f"{source}: {problems}") from None
