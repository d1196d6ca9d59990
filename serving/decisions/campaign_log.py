"""The campaign log contract (docs/campaigns.md): who got which action, in which arm, when.

Why a validator of its own: effects learned from a campaign log replace the operators' priors
and so change who gets contacted. A log with a mistyped arm, a segment the catalogue cannot
name or an assignment dated before the scores that drove it would bias those effects without
any visible error. Like the event loader, a log missing a required column fails with a message
naming it, and bad rows are never dropped silently: they are counted by reason.

A `retain churn-list` / `retain score` output written with `--holdout-share` is accepted too
(its `action`, `assignment` and `as_of` columns are read as `action_id`, `group` and `cutoff`),
so the list that went out is the log that comes back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from features import RowCountSummary
from serving.decisions.segments import STAGES, TIERS

USER_ID, ACTION_ID, ASSIGNED_AT, GROUP, CUTOFF = (
    "user_id",
    "action_id",
    "assigned_at",
    "group",
    "cutoff",
)
SEGMENT, STAGE, TIER = "segment", "lifecycle_stage", "value_tier"
REQUIRED_COLUMNS: tuple[str, ...] = (USER_ID, ACTION_ID, ASSIGNED_AT, GROUP, CUTOFF)
TREATED, CONTROL = "treated", "control"
GROUPS: tuple[str, ...] = (TREATED, CONTROL)
CAMPAIGN_COLUMNS: tuple[str, ...] = (*REQUIRED_COLUMNS, SEGMENT, STAGE, TIER)

# Checked in this order; a row counts under the first reason that applies.
REJECT_REASONS: tuple[str, ...] = (
    "missing_user_id",
    "invalid_action_id",
    "unparseable_assigned_at",
    "unparseable_cutoff",
    "unknown_group",
    "unknown_segment",
    "assigned_before_cutoff",
    "duplicate_assignment",
)
_ACTION_PATTERN = r"^[a-z][a-z0-9_]*$"
DECISION_ALIASES = {"action": ACTION_ID, "assignment": GROUP, "as_of": CUTOFF}


class CampaignLogError(ValueError):
    """A file that cannot be read as a campaign log at all (as opposed to individual bad rows)."""


@dataclass(frozen=True)
class CampaignLogReport(RowCountSummary):
    """What validation did: rows read and accepted, rejected rows counted by reason."""

    source: str
    rows_read: int
    rows_accepted: int
    rejected: dict[str, int] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class CampaignLog:
    """Valid rows in CAMPAIGN_COLUMNS (naive UTC times, `segment` filled) and the report."""

    frame: pd.DataFrame
    report: CampaignLogReport


def values_not_read(column: str, seen: pd.Series, allowed: tuple[str, ...]) -> str:
    """`group values not read: 'treatment' (3); expected treated or control`: for the note.

    Why: a count under `unknown_group` says rows were lost but not why; a log that writes
    `treatment` for `treated` loses every row, and the fix is one word the note can name.
    """
    counts = seen.fillna("(missing)").value_counts()
    shown = ", ".join(f"{value!r} ({n:,})" for value, n in counts.head(3).items())
    more = f" and {len(counts) - 3:,} more" if len(counts) > 3 else ""
    expected = ", ".join(allowed[:-1]) + f" or {allowed[-1]}"
    return f"{column} values not read: {shown}{more}; expected {expected}"


def text_column(column: pd.Series) -> pd.Series:
    """Stripped strings with blanks as missing, whatever the file's type for the column."""
    text = column.astype("str").str.strip()
    return text.mask(text == "")


def utc_naive(column: pd.Series) -> pd.Series:
    """Timestamps as naive UTC (the event contract's convention); unparseable values → NaT."""
    if pd.api.types.is_datetime64_any_dtype(column):
        parsed = pd.to_datetime(column, utc=True)
    else:
        parsed = pd.to_datetime(text_column(column), utc=True, errors="coerce", format="mixed")
    return parsed.dt.tz_convert("UTC").dt.tz_localize(None)


def _segments(frame: pd.DataFrame, source: str) -> tuple[pd.Series, pd.Series]:
    """(stage, tier) from `segment` or from `lifecycle_stage` + `value_tier`, whichever exist."""
    if SEGMENT in frame.columns:
        parts = text_column(frame[SEGMENT]).str.partition("/")
        return parts[0], parts[2]
    if STAGE in frame.columns and TIER in frame.columns:
        return text_column(frame[STAGE]), text_column(frame[TIER])
    raise CampaignLogError(
        f"{source}: missing the segment: give a 'segment' column ('<stage>/<tier>') or both "
        f"'lifecycle_stage' and 'value_tier'; found columns: {', '.join(map(str, frame.columns))}"
    )


def _from_decisions(frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """A holdout churn list or score file as a campaign log (untargeted users left out)."""
    renamed = frame.rename(columns=DECISION_ALIASES)
    targeted = renamed[renamed[GROUP].isin(GROUPS)].copy()
    if ASSIGNED_AT not in targeted.columns:
        targeted[ASSIGNED_AT] = targeted[CUTOFF]
    skipped = len(renamed) - len(targeted)
    return targeted, f"read as a holdout decision list; {skipped:,} untargeted rows skipped"


def validate_campaigns(frame: pd.DataFrame, source: str = "in-memory campaign log") -> CampaignLog:
    """Check a campaign log against the contract; count and drop bad rows, fail on bad files."""
    note = ""
    if GROUP not in frame.columns and {"action", "assignment", "as_of"} <= set(frame.columns):
        frame, note = _from_decisions(frame)
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        names = ", ".join(repr(column) for column in missing)
        noun = "column" if len(missing) == 1 else "columns"
        found = ", ".join(map(str, frame.columns)) or "(none)"
        raise CampaignLogError(f"{source}: missing required {noun} {names}; found columns: {found}")
    frame = frame.reset_index(drop=True)
    stage, tier = _segments(frame, source)
    rows = pd.DataFrame(
        {
            USER_ID: text_column(frame[USER_ID]),
            ACTION_ID: text_column(frame[ACTION_ID]),
            ASSIGNED_AT: utc_naive(frame[ASSIGNED_AT]),
            GROUP: text_column(frame[GROUP]).str.lower(),
            CUTOFF: utc_naive(frame[CUTOFF]),
            STAGE: stage,
            TIER: tier,
        }
    )
    action_ok = rows[ACTION_ID].str.fullmatch(_ACTION_PATTERN).fillna(False).astype(bool)
    checks = [
        rows[USER_ID].isna(),
        ~action_ok,
        rows[ASSIGNED_AT].isna(),
        rows[CUTOFF].isna(),
        ~rows[GROUP].isin(GROUPS),
        ~(rows[STAGE].isin(STAGES) & rows[TIER].isin(TIERS)),
        rows[ASSIGNED_AT] < rows[CUTOFF],
    ]
    reason = np.select([c.to_numpy(dtype=bool) for c in checks], list(range(len(checks))), -1)
    # One user can be in a campaign once: a second row for the same (user, action, cutoff) is
    # a duplicate whatever its arm (keeping both would count the user twice, maybe in both arms).
    valid_so_far = np.flatnonzero(reason < 0)
    duplicate = rows.iloc[valid_so_far].duplicated([USER_ID, ACTION_ID, CUTOFF]).to_numpy()
    reason[valid_so_far[duplicate]] = len(checks)
    counts = np.bincount(reason[reason >= 0], minlength=len(REJECT_REASONS))
    rejected = {REJECT_REASONS[i]: int(n) for i, n in enumerate(counts) if n}
    valid = rows.loc[reason < 0].reset_index(drop=True)
    valid[SEGMENT] = valid[STAGE] + "/" + valid[TIER]
    unknown_group = reason == REJECT_REASONS.index("unknown_group")
    if unknown_group.any():
        groups = values_not_read(GROUP, rows.loc[unknown_group, GROUP], GROUPS)
        note = f"{note}; {groups}" if note else groups
    report = CampaignLogReport(source, len(rows), len(valid), rejected, note)
    return CampaignLog(frame=valid[list(CAMPAIGN_COLUMNS)], report=report)


def read_log_file(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if path.is_dir() or suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    if suffix in (".jsonl", ".ndjson"):
        return pd.read_json(path, lines=True, dtype=False)
    raise CampaignLogError(f"{path}: unsupported campaign log type {suffix!r}; use .parquet, "
                           ".csv or .jsonl")  # fmt: skip


def load_campaigns(path: str | Path) -> CampaignLog:
    """Read a campaign log file (.parquet, .csv, .jsonl, or a Parquet folder) and validate it."""
    path = Path(path)
    if not path.exists():
        raise CampaignLogError(f"{path}: no such campaign log")
    try:
        frame = read_log_file(path)
    except (OSError, ValueError) as error:
        if isinstance(error, CampaignLogError):
            raise
        raise CampaignLogError(f"{path}: cannot read campaign log: {error}") from None
    return validate_campaigns(frame, str(path))
