"""Reason codes: what pushes a user's churn risk up (lists) or either way (`/explain`), in words.

Why words and not SHAP numbers: the churn list is read by people who decide whom to call. A
line such as "no activity for 41 days" tells them what happened; "days_since_last_event
+0.83" does not. The ranking comes from LightGBM's `pred_contrib` (per-feature contributions to
the log-odds of churn); the wording comes from the user's own feature value.

Why an operator can trust them:
- **One reason per signal family** (serving/decisions/reason_families.py). A family's
  contribution is the sum of its members'; its text comes from the member that pushes most in
  the family's direction among those whose words agree with that direction.
- **Words agree with numbers.** A push up is worded only when the user's value stands on the
  risky side of the reference or at it ("only 2 events in the last 30 days" for a user at or
  below the typical count); a push down only when it stands strictly on the safe side. Ties go
  to risk: at the typical value a feature may explain a raised risk but does not protect. A
  zero of a risk signal (no refunds) explains no risk. A push that disagrees (an interaction
  inside the trees that a sentence cannot explain) is never listed as a reason; `/explain` shows
  it with its plain value, labelled by its sign.
- **The reference** is the typical (median) value of each feature in the population the
  explaining model describes: active users for the churn model, lapsed users for the recall
  model, since each model's contributions are relative to its own population (`typical_values`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from serving.decisions.reason_families import signal
from serving.decisions.reason_wording import SETTLE_DECIMALS, Tone, template

ALL = "all"  # the one population when none are given
# What a user without a listed reason reads. Not "risk is low": a lapsed user at 95% has no
# reason when 95% is the lapsed users' base rate, so the text says what the risk compares with.
LOW_RISK_TEXT = "no more at risk than a typical user"
MIXED_SIGNALS_TEXT = "risk raised by many small signals, none clear on its own"
BIAS_COLUMNS = frozenset({"bias", "BiasValue", "__bias__", "expected_value"})


def typical_risk_text(population: str | None) -> str:
    """The text of a user whose risk is no higher than their population's typical user's."""
    return (
        LOW_RISK_TEXT
        if population in (None, ALL)
        else f"no more at risk than a typical {population} user"
    )


def typical_values(
    features: pd.DataFrame, populations: Sequence[str] | np.ndarray | None = None
) -> pd.DataFrame:
    """The median of each feature per population (one row each, indexed by population name;
    `"all"` without populations), missing values ignored, rounded as reason values are."""
    labels = np.full(len(features), ALL) if populations is None else np.asarray(populations)
    if len(labels) != len(features):
        raise ValueError(f"{len(labels)} population labels for {len(features)} users")
    values = features.to_numpy(dtype=float, na_value=np.nan)
    rows = {}
    for name in pd.unique(labels):
        chosen = values[labels == name]
        present = ~np.isnan(chosen).all(axis=0)  # an all-missing column has no median
        medians = np.full(values.shape[1], np.nan)
        medians[present] = np.nanmedian(chosen[:, present], axis=0)
        rows[name] = np.round(medians, SETTLE_DECIMALS)
    return pd.DataFrame.from_dict(rows, orient="index", columns=features.columns)


@dataclass(frozen=True)
class ColumnSignals:
    """The declared signals of some feature columns, as arrays over the columns."""

    columns: tuple[str, ...]
    directions: np.ndarray  # +1 / -1 / 0 per column
    missing_sides: np.ndarray  # +1 / -1 / NaN (unknown) per column
    families: tuple[str, ...]  # in order of first appearance
    members: tuple[np.ndarray, ...]  # column positions per family

    @property
    def membership(self) -> np.ndarray:
        """columns × families, 1 where the column belongs to the family."""
        table = np.zeros((len(self.columns), len(self.families)))
        for family, members in enumerate(self.members):
            table[members, family] = 1.0
        return table


@cache
def signals_of(columns: tuple[str, ...]) -> ColumnSignals:
    """The signals of these columns (cached: scoring asks for the same columns every batch)."""
    read = [signal(column) for column in columns]
    families = tuple(dict.fromkeys(s.family for s in read))
    return ColumnSignals(
        columns=columns,
        directions=np.array([s.risk_rises_with for s in read], dtype=float),
        missing_sides=np.array([s.missing or np.nan for s in read], dtype=float),
        families=families,
        members=tuple(
            np.array([i for i, s in enumerate(read) if s.family == family]) for family in families
        ),
    )


def agreement(
    values: np.ndarray, reference: np.ndarray, signals: ColumnSignals
) -> tuple[np.ndarray, np.ndarray]:
    """Whether a push up (first) or down (second) agrees with where each value stands.

    `lean` = (value - reference) x direction is >= 0 on the risky side or at the reference,
    < 0 on the safe side, NaN when either is missing (then the declared missing side decides).
    Features without an expected direction agree with nothing.
    """
    directed = signals.directions != 0
    with np.errstate(invalid="ignore"):
        lean = (values - reference) * signals.directions
        missing = np.isnan(values)
        may_raise = (lean >= 0) | (missing & (signals.missing_sides > 0))
        may_lower = (lean < 0) | (missing & (signals.missing_sides < 0))
        may_raise &= directed & ~((signals.directions > 0) & (values <= 0))
    return may_raise, may_lower & directed


def settled(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """The columns as floats rounded to SETTLE_DECIMALS: what is compared and worded, so that
    engines whose sums differ in the last bits read alike."""
    return np.round(frame[list(columns)].to_numpy(dtype=float, na_value=np.nan), SETTLE_DECIMALS)


def _reference_rows(
    reference: pd.DataFrame | None,
    populations: Sequence[str] | np.ndarray | None,
    features: pd.DataFrame,
    columns: Sequence[str],
) -> np.ndarray:
    """The reference each user is read against: (1, columns) or (users, columns)."""
    if reference is None:
        reference = typical_values(features[list(columns)], populations)
    missing = [c for c in columns if c not in reference.columns]
    if missing:
        raise KeyError(f"the reference lacks features: {missing}")
    table = settled(reference, columns)
    if populations is None:
        if len(reference) != 1:
            raise ValueError(f"{len(reference)} reference rows need per-user populations")
        return table
    positions = reference.index.get_indexer(np.asarray(populations))
    if (positions < 0).any():
        unknown = sorted(set(np.asarray(populations)[positions < 0].tolist()))
        raise KeyError(f"populations without a reference row: {unknown}")
    return table[positions]


def _render_column(feature: str, values: np.ndarray, tone: Tone) -> np.ndarray:
    """Render many values of one feature, formatting each distinct value only once."""
    unique, inverse = np.unique(values, return_inverse=True)
    render = template(feature, tone)
    texts = np.array([render(v) for v in unique.tolist()], dtype=object)
    return texts[inverse]


def _fallbacks(total: np.ndarray, populations: Sequence[str] | np.ndarray | None) -> np.ndarray:
    """Per user, the text shown when no family is listed: MIXED_SIGNALS_TEXT when the
    contributions add up to more than the typical risk, else `typical_risk_text`."""
    if populations is None:
        typical = np.full(len(total), LOW_RISK_TEXT, dtype=object)
    else:
        names, inverse = np.unique(np.asarray(populations), return_inverse=True)
        typical = np.array([typical_risk_text(str(n)) for n in names], dtype=object)[inverse]
    return np.where(total > 0, MIXED_SIGNALS_TEXT, typical)


def _listed_texts(
    features: pd.DataFrame,
    contributions: pd.DataFrame,
    top_k: int,
    reference: pd.DataFrame | None,
    populations: Sequence[str] | np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The risk-raising texts (users × at most top_k, listed first in each row, None after),
    how many each user has, and the text of users with none (`_fallbacks`)."""
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1; got {top_k}")
    if len(features) != len(contributions):
        raise ValueError(
            f"features has {len(features)} rows but contributions has {len(contributions)}; "
            "they must describe the same users in the same order"
        )
    columns = tuple(c for c in contributions.columns if c not in BIAS_COLUMNS)
    missing = [c for c in columns if c not in features.columns]
    if missing:
        raise KeyError(f"contributions name features absent from the feature frame: {missing}")
    n_users = len(features)
    if not columns or n_users == 0:
        empty = np.full((n_users, 1), None, dtype=object)
        return empty, np.zeros(n_users, dtype=int), _fallbacks(np.zeros(n_users), populations)
    signals = signals_of(columns)
    values = settled(features, columns)
    refs = _reference_rows(reference, populations, features, columns)
    contrib = np.nan_to_num(contributions[list(columns)].to_numpy(dtype=float, na_value=0.0))
    may_raise, _ = agreement(values, refs, signals)
    pushing_up = np.where(may_raise, contrib, 0.0)
    totals = contrib @ signals.membership
    every_user = np.arange(n_users)
    best_member = np.empty(totals.shape, dtype=np.intp)
    best = np.empty(totals.shape)
    for family, members in enumerate(signals.members):
        top = members[pushing_up[:, members].argmax(axis=1)]
        best_member[:, family] = top
        best[:, family] = pushing_up[every_user, top]
    listed = (best > 0) & (totals > 0)
    k = min(top_k, len(signals.families))
    order = np.argsort(-np.where(listed, totals, -np.inf), axis=1, kind="stable")[:, :k]
    shown = np.take_along_axis(listed, order, axis=1)
    feature_at = np.take_along_axis(best_member, order, axis=1)
    texts = np.full((n_users, k), None, dtype=object)
    for position in np.unique(feature_at[shown]):
        rows, ranks = np.nonzero((feature_at == position) & shown)
        texts[rows, ranks] = _render_column(columns[position], values[rows, position], "raises")
    return texts, shown.sum(axis=1), _fallbacks(contrib.sum(axis=1), populations)


def reason_codes(
    features: pd.DataFrame,
    contributions: pd.DataFrame,
    top_k: int = 3,
    reference: pd.DataFrame | None = None,
    populations: Sequence[str] | np.ndarray | None = None,
) -> list[list[str]]:
    """Per user (row, by position), up to top_k signal families that push churn risk up, in words.

    A family is listed when its summed contribution is positive and a member pushes up with
    words that agree (see the module docstring); families rank by their sum, ties in family
    order. A user with none reads MIXED_SIGNALS_TEXT when their contributions still add up to
    a raised risk, else `typical_risk_text` of their population. `reference` holds typical
    values per population (`typical_values`), `populations` each user's row of it (its names
    appear in the texts: "active", "lapsed"); without them, the median of `features`. Bias
    columns (`bias`, `BiasValue`, ...) are ignored.
    """
    texts, counts, fallbacks = _listed_texts(features, contributions, top_k, reference, populations)
    return [
        row[:n] if n else [fallback]
        for row, n, fallback in zip(texts.tolist(), counts.tolist(), fallbacks, strict=True)
    ]


def joined_reason_codes(
    features: pd.DataFrame,
    contributions: pd.DataFrame,
    separator: str,
    top_k: int = 3,
    reference: pd.DataFrame | None = None,
    populations: Sequence[str] | np.ndarray | None = None,
) -> np.ndarray:
    """`reason_codes` with each user's texts joined by `separator`, as one string per user.

    Why a second form: score files store one string per user, and joining column by column
    (numpy concatenates the strings in C) skips building a Python list per user.
    """
    texts, counts, fallbacks = _listed_texts(features, contributions, top_k, reference, populations)
    lines = np.where(counts > 0, texts[:, 0], fallbacks).astype(object)
    for rank in range(1, texts.shape[1]):
        more = counts > rank
        lines[more] = lines[more] + separator + texts[more, rank]
    return lines
