"""What a report shows beyond the scores: the currency, the funnel's steps, the weeks of KPIs.

Why a typed config (and a YAML file for it): an operations team sets its currency and its
funnel once, not on every `retain report`; the command's flags override the file. Nothing is
read or created at import.

The currency is a label, not a conversion: amounts are shown as the log has them, named by it
("1,003.15 EUR"). Empty (the default) shows them unnamed, since the log does not say its unit.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

MAX_WEEKS = 104


class ReportConfig(BaseModel):
    """The report's settings; `funnel` None means the default steps the log has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    currency: str = Field(
        "",
        max_length=8,
        pattern=r"^[^\s\d<>&\"']*$",
        description="EUR, USD, €, …; shown, not converted.",
    )
    funnel: tuple[str, ...] | None = Field(
        None, description="Event types in funnel order (default: view, add_to_cart, purchase)."
    )
    weeks: int = Field(12, ge=1, le=MAX_WEEKS, description="Weeks of KPIs and funnel.")

    @field_validator("funnel", mode="before")
    @classmethod
    def _split_steps(cls, value: object) -> object:
        """Accept `"view,add_to_cart,purchase"` from the command line as well as a YAML list."""
        if isinstance(value, str):
            return tuple(step.strip() for step in value.split(",") if step.strip())
        return value


def load_report_config(path: str | Path) -> ReportConfig:
    """A report config from YAML; a bad file is one message naming the file and the field."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise OSError(f"cannot read the report config {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ValueError(f"{path} is not YAML: {error}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} should hold a mapping (currency, funnel, weeks)")
    return parse_report_config(data, str(path))


def parse_report_config(data: dict[str, object], source: str = "report config") -> ReportConfig:
    """Validate settings (a YAML mapping, or flags layered on one) into a ReportConfig."""
    try:
        return ReportConfig.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in error.errors()
        )
        raise ValueError(f"{source}: {problems}") from None
