"""Contact history: whom we already contacted, with what and when, for cooldowns and the cap.

Why a module of its own: the next-best-action decision must not repeat an action inside its
cooldown nor exceed the catalogue's frequency cap (DESIGN.md §4), and both depend on what was
really sent. The history is read in the campaign-log contract (docs/campaigns.md), so the log
a campaign tool writes, or the holdout churn list that went out, is what comes back:

- only `treated` rows are contacts; `control` rows were held out and `untargeted` rows
  (group `none`) and `no_action` rows were never sent: all are excluded and counted;
- rows that cannot be read (missing user or action, unparseable time, unknown group, an exact
  duplicate) are rejected and counted by reason, never dropped silently;
- a contact with an action id the catalogue does not know is kept: it cannot put any action
  in cooldown, but the user was contacted, so it counts toward the frequency cap.

Times are naive UTC (tz-aware values are converted), like the event contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from features import RowCountSummary, as_naive_utc
from serving.decisions.actions import NO_ACTION, ActionCatalogue
from serving.decisions.campaign_log import (
    ACTION_ID,
    ASSIGNED_AT,
    CONTROL,
    CUTOFF,
    DECISION_ALIASES,
    GROUP,
    TREATED,
    USER_ID,
    CampaignLogError,
    read_log_file,
    text_column,
    utc_naive,
    values_not_read,
)

REQUIRED_COLUMNS: tuple[str, ...] = (USER_ID, ACTION_ID, ASSIGNED_AT, GROUP)
UNTARGETED = "none"  # the `assignment` of users a holdout list gave no_action
GROUPS: tuple[str, ...] = (TREATED, CONTROL, UNTARGETED)
# Checked in this order; a row counts under the first reason that applies.
REJECT_REASONS: tuple[str, ...] = (
    "missing_user_id",
    "missing_action_id",
    "unparseable_assigned_at",
    "unknown_group",
    "duplicate_contact",  # same (user, action, assigned_at) again: one contact exported twice
)
# Valid rows that were no contact, by kind (the first that applies).
NOT_CONTACTS: tuple[str, ...] = ("control", "untargeted", "no_action")
AsOf = str | datetime | pd.Timestamp


class ContactHistoryError(CampaignLogError):
    """A file or frame that cannot be read as a contact history at all."""


@dataclass(frozen=True)
class ContactReport(RowCountSummary):
    """Rows read, accepted and rejected (by reason); of the accepted, contacts and the rest."""

    source: str
    rows_read: int
    rows_accepted: int
    contacts: int
    unknown_action_contacts: int
    not_contacts: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class ContactBlocks:
    """What the history forbids at one decision time, for one population of users.

    `cooldown[u, a]`: user u got action `catalogue.actions[a]` less than its cooldown ago.
    `capped[u]`: user u reached the catalogue's frequency cap (all False without a cap).
    Every contact counts once: after `as_of` (ignored), of a user not in the population
    (ignored, not fatal), or matched.
    """

    cooldown: np.ndarray
    capped: np.ndarray
    contacts_matched: int
    contacts_unknown_user: int
    contacts_after_as_of: int

    @property
    def blocked(self) -> np.ndarray:
        """(users x actions) mask of actions a user may not get now: cooldown or cap."""
        return self.cooldown | self.capped[:, None]

    def summary(self) -> str:
        """One line for humans: how the history matched and what it blocks."""
        return (
            f"contact history: {self.contacts_matched:,} contacts of scored users, "
            f"{self.contacts_unknown_user:,} of users not scored, "
            f"{self.contacts_after_as_of:,} after as_of ignored; "
            f"{int(self.cooldown.any(axis=1).sum()):,} users with an action in cooldown, "
            f"{int(self.capped.sum()):,} at the frequency cap"
        )


def _check_columns(frame: pd.DataFrame, source: str) -> None:
    """Fail with a message naming each missing column and the columns that were found."""
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        names = ", ".join(repr(column) for column in missing)
        noun = "column" if len(missing) == 1 else "columns"
        found = ", ".join(map(str, frame.columns)) or "(none)"
        raise ContactHistoryError(
            f"{source}: missing required {noun} {names} of a contact history; found columns: "
            f"{found} (a holdout score file with 'action', 'assignment', 'as_of' also works)"
        )


def _from_decisions(frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """A holdout churn list / score file read as the log: `as_of` is when it went out."""
    if GROUP in frame.columns or not set(DECISION_ALIASES) <= set(frame.columns):
        return frame, ""
    renamed = frame.rename(columns=DECISION_ALIASES)
    if ASSIGNED_AT not in renamed.columns:
        renamed[ASSIGNED_AT] = renamed[CUTOFF]
    return renamed, "read as a holdout decision list"


@dataclass(frozen=True)
class _Coded:
    """A text column as codes into its cleaned distinct values (-1: missing).

    Why: cleaning and comparing a few thousand distinct values instead of millions of rows
    keeps reading a large history fast; the codes then serve every check and the result.
    """

    codes: np.ndarray
    values: pd.Index

    @classmethod
    def of(cls, column: pd.Series, lower: bool = False) -> _Coded:
        raw_codes, uniques = pd.factorize(column)
        clean = text_column(pd.Series(uniques, dtype=object))
        recodes, values = pd.factorize(clean.str.lower() if lower else clean)
        return cls(np.append(recodes, -1)[raw_codes], pd.Index(values))

    def isin(self, allowed: tuple[str, ...] | list[str]) -> np.ndarray:
        """Per row whether the value is one of `allowed` (missing values are not)."""
        return np.append(self.values.isin(allowed), False)[self.codes]

    def categorical(self, rows: np.ndarray) -> pd.Categorical:
        """The selected rows as a categorical of strings."""
        return pd.Categorical.from_codes(self.codes[rows], categories=self.values)


def _reasons(user: _Coded, action: _Coded, time: np.ndarray, group: _Coded) -> np.ndarray:
    """Per row the index of its reject reason in REJECT_REASONS, or -1 when valid."""
    checks = [user.codes < 0, action.codes < 0, np.isnat(time), ~group.isin(GROUPS)]
    reason = np.select(checks, list(range(len(checks))), -1)
    valid = np.flatnonzero(reason < 0)
    pair = user.codes[valid].astype(np.int64) * (len(action.values) + 1) + action.codes[valid]
    keys = pd.DataFrame({"pair": pair, "time": time[valid]})
    reason[valid[keys.duplicated().to_numpy()]] = len(checks)
    return reason


def _kinds(action: _Coded, group: _Coded) -> np.ndarray:
    """Per row the index of its kind in NOT_CONTACTS, or -1 for a real contact."""
    checks = [group.isin([CONTROL]), group.isin([UNTARGETED]), action.isin([NO_ACTION])]
    return np.select(checks, list(range(len(checks))), -1)


def _counts(codes: np.ndarray, names: tuple[str, ...]) -> dict[str, int]:
    """Non-zero counts of non-negative codes, keyed by name, in the names' order."""
    counts = np.bincount(codes[codes >= 0], minlength=len(names))
    return {names[i]: int(n) for i, n in enumerate(counts) if n}


def _note(
    contacts: int, unknown: int, not_contacts: dict[str, int], read_as: str, groups: str
) -> str:
    """The part of the summary line that says what the accepted rows were (and, in `groups`,
    which group values were not read)."""
    parts = [read_as] if read_as else []
    line = f"{contacts:,} contacts"
    if unknown:
        line += f" ({unknown:,} of actions not in the catalogue: frequency cap only)"
    parts.append(line)
    if not_contacts:
        parts.append("not contacts: " + ", ".join(f"{n:,} {k}" for k, n in not_contacts.items()))
    if groups:
        parts.append(groups)
    return "; ".join(parts)


def _as_of(value: AsOf | None) -> np.datetime64:
    """The decision time as naive UTC; a missing one is an error (cooldowns are dated)."""
    if value is None:
        raise ValueError("as_of is required with a contact history (cooldowns are dated)")
    stamp = pd.Timestamp(value)
    if pd.isna(stamp):
        raise ValueError(f"as_of is not a time: {value!r}")
    return pd.Timestamp(as_naive_utc(stamp)).to_datetime64()


def _population(user_ids: pd.Index) -> pd.Index:
    """Scored user ids as strings (as the contract compares them); duplicates are an error."""
    if not (pd.api.types.is_object_dtype(user_ids) or pd.api.types.is_string_dtype(user_ids)):
        user_ids = user_ids.astype(str)
    if user_ids.has_duplicates:
        dupes = user_ids[user_ids.duplicated()].unique()[:5].tolist()
        raise ValueError(f"user_ids has duplicate values, e.g. {dupes}")
    return user_ids


def _positions(column: pd.Series, index: pd.Index) -> np.ndarray:
    """Position in `index` of each value of a categorical column (-1: not there), via codes."""
    where = index.get_indexer(column.cat.categories)
    return np.append(where, -1)[column.cat.codes.to_numpy()]


@dataclass(frozen=True)
class ContactHistory:
    """Contacts (`treated` rows other than no_action) and the report of how they were read.

    `frame` has `user_id`, `action_id` (both categorical strings) and `assigned_at` (naive UTC).
    """

    frame: pd.DataFrame
    report: ContactReport

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        catalogue: ActionCatalogue,
        source: str = "in-memory contact history",
    ) -> ContactHistory:
        """Validate a campaign log (or holdout score file) held in memory; see the module doc."""
        frame, read_as = _from_decisions(frame)
        _check_columns(frame, source)
        user, action = _Coded.of(frame[USER_ID]), _Coded.of(frame[ACTION_ID])
        group = _Coded.of(frame[GROUP], lower=True)
        time = utc_naive(frame[ASSIGNED_AT]).to_numpy()
        reason = _reasons(user, action, time, group)
        kind = np.where(reason < 0, _kinds(action, group), -2)  # -2: rejected
        contact = np.flatnonzero(kind == -1)
        unknown = int((~action.isin(catalogue.ids)[contact]).sum())
        not_contacts = _counts(kind, NOT_CONTACTS)
        unread = np.flatnonzero(reason == REJECT_REASONS.index("unknown_group"))
        seen = pd.Series(group.categorical(unread)).astype(object)  # missing stays missing
        groups = values_not_read(GROUP, seen, GROUPS) if len(unread) else ""
        report = ContactReport(
            source=source,
            rows_read=len(frame),
            rows_accepted=int((reason < 0).sum()),
            contacts=len(contact),
            unknown_action_contacts=unknown,
            not_contacts=not_contacts,
            rejected=_counts(reason, REJECT_REASONS),
            note=_note(len(contact), unknown, not_contacts, read_as, groups),
        )
        history = pd.DataFrame(
            {
                USER_ID: user.categorical(contact),
                ACTION_ID: action.categorical(contact),
                ASSIGNED_AT: time[contact],
            }
        )
        return cls(frame=history, report=report)

    def blocks(
        self, user_ids: pd.Index, catalogue: ActionCatalogue, as_of: AsOf | None
    ) -> ContactBlocks:
        """Cooldowns and the frequency cap at `as_of` for `user_ids` (row order kept).

        With age = as_of - assigned_at: a contact with age < 0 happened after the decision and
        is ignored; an action is in cooldown while 0 <= age < cooldown_days (a contact exactly
        `cooldown_days` old no longer blocks); the cap counts contacts of any action (unknown
        ids included) with 0 <= age < days and binds when that count >= max_contacts.
        """
        when = _as_of(as_of)
        users = _population(user_ids)
        actions = catalogue.actions
        user_pos = _positions(self.frame[USER_ID], users)
        action_pos = _positions(self.frame[ACTION_ID], pd.Index([a.id for a in actions]))
        age = when - self.frame[ASSIGNED_AT].to_numpy()
        past = age >= np.timedelta64(0, "D")
        matched = past & (user_pos >= 0)
        # Unknown actions index the padding at -1: a cooldown of 0 days never blocks.
        limit = np.array([a.cooldown_days for a in actions] + [0], dtype="timedelta64[D]")
        hit = matched & (age < limit[action_pos])
        cooldown = np.zeros((len(users), len(actions)), dtype=bool)
        cooldown[user_pos[hit], action_pos[hit]] = True
        capped = np.zeros(len(users), dtype=bool)
        cap = catalogue.frequency_cap
        if cap is not None:
            recent = matched & (age < np.timedelta64(cap.days, "D"))
            capped = np.bincount(user_pos[recent], minlength=len(users)) >= cap.max_contacts
        return ContactBlocks(
            cooldown=cooldown,
            capped=capped,
            contacts_matched=int(matched.sum()),
            contacts_unknown_user=int((past & (user_pos < 0)).sum()),
            contacts_after_as_of=int((~past).sum()),
        )


def load_contacts(path: str | Path, catalogue: ActionCatalogue) -> ContactHistory:
    """Read a contact history (.parquet, .csv, .jsonl or a Parquet folder) and validate it."""
    path = Path(path)
    if not path.exists():
        raise ContactHistoryError(f"{path}: no such contact history")
    try:
        frame = read_log_file(path)
    except CampaignLogError as error:
        raise ContactHistoryError(str(error)) from None
    except (OSError, ValueError) as error:
        raise ContactHistoryError(f"{path}: cannot read contact history: {error}") from None
    return ContactHistory.from_frame(frame, catalogue, source=str(path))
