"""What happened to each campaign target after the cutoff: retention and value over the horizons.

Why the label code and not a query of its own: "churned" and "future value" must mean for a
campaign exactly what they mean for the models (features/labels.py: no activity event in
`[cutoff, cutoff + churn horizon)`; the sum of `amount` over `[cutoff, cutoff + value
horizon)`), or a learned effect would be an effect on something the policy never predicts.
One difference, on purpose: the churn outcome is defined for every target, not only for users
active at the cutoff, because win-back actions target users who are not.

Retain's own scores at the cutoff (`churn_probability`, `value_at_stake`) travel with the rows
when the log has them (`with_log_scores`): the revenue-calibrated effects need them.

An outcome whose window is not yet over when the event log ends is unknown, not zero: such rows
get a missing outcome and are counted, never scored as churned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from features import LoadedEvents, WindowConfig, build_outcomes, to_frame
from serving.decisions import ACTION_ID, CUTOFF, USER_ID
from serving.scoring import latest_cutoff

CHURNED, FUTURE_VALUE = "churned", "future_value"
CHURN_PROBABILITY, VALUE_AT_STAKE = "churn_probability", "value_at_stake"
LOG_SCORES: tuple[str, ...] = (CHURN_PROBABILITY, VALUE_AT_STAKE)


@dataclass(frozen=True)
class CampaignOutcomes:
    """The campaign rows with `churned` (0/1) and `future_value`, missing where unknown.

    `features` (same row order) holds the feature set at each row's cutoff when requested: the
    uplift model's inputs, built by the same feature code as training and scoring.
    """

    frame: pd.DataFrame
    data_end: datetime
    churn_unknown: int
    value_unknown: int
    unmatched_users: int
    features: pd.DataFrame | None = field(default=None, repr=False)

    def summary(self) -> str:
        """One line on what could not be measured, and why."""
        parts = [f"{len(self.frame):,} campaign rows, events up to {self.data_end:%Y-%m-%d}"]
        if self.churn_unknown:
            parts.append(f"{self.churn_unknown:,} with the churn window not yet over")
        if self.value_unknown:
            parts.append(f"{self.value_unknown:,} with the value window not yet over")
        if self.unmatched_users:
            parts.append(f"{self.unmatched_users:,} targets never seen in the events")
        return "; ".join(parts)


def _outcomes_at(events: LoadedEvents, cutoff: datetime, windows: WindowConfig) -> pd.DataFrame:
    """Future activity and spend per user with any event after `cutoff` (label definitions)."""
    frame = to_frame(events.backend, build_outcomes(events.table, cutoff, windows))
    frame[USER_ID] = frame[USER_ID].astype("str")
    return frame.set_index(USER_ID)


def _features_at(
    events: LoadedEvents, cutoff: datetime, windows: WindowConfig, users: pd.Series
) -> pd.DataFrame:
    from features import feature_frame

    frame = feature_frame(events, cutoff, windows)
    frame[USER_ID] = frame[USER_ID].astype("str")
    return frame.set_index(USER_ID).reindex(users.to_numpy())


def with_log_scores(campaigns: pd.DataFrame, path: str | Path) -> pd.DataFrame:
    """Validated campaign rows with the log file's own LOG_SCORES, matched on user, action and
    cutoff (a Retain list written with `--holdout-share` has them; missing ones stay NaN).

    Validation keeps only the contract's columns, so the scores are read back from the file.
    """
    from serving.decisions import DECISION_ALIASES, read_log_file, text_column, utc_naive

    raw = read_log_file(Path(path))
    if CUTOFF not in raw.columns:
        raw = raw.rename(columns=DECISION_ALIASES)
    missing = [column for column in LOG_SCORES if column not in raw.columns]
    if missing:
        raise ValueError(
            f"{path}: the revenue effect basis needs the log's {', '.join(missing)}: Retain's "
            "scores at the cutoff, as a --holdout-share list has them"
        )
    keys = [USER_ID, ACTION_ID, CUTOFF]
    scores = pd.DataFrame(
        {
            USER_ID: text_column(raw[USER_ID]),
            ACTION_ID: text_column(raw[ACTION_ID]),
            CUTOFF: utc_naive(raw[CUTOFF]),
            **{column: pd.to_numeric(raw[column], errors="coerce") for column in LOG_SCORES},
        }
    ).drop_duplicates(keys)
    kept = campaigns.drop(columns=list(LOG_SCORES), errors="ignore")
    return kept.merge(scores, on=keys, how="left").set_axis(campaigns.index)


def campaign_outcomes(
    campaigns: pd.DataFrame,
    events: LoadedEvents,
    windows: WindowConfig,
    *,
    with_features: bool = False,
) -> CampaignOutcomes:
    """Attach both outcomes (and optionally features) to validated campaign rows.

    Cost: one outcome query per distinct cutoff (campaigns share cutoffs, so a few), plus one
    feature query per cutoff when `with_features`.
    """
    data_end = latest_cutoff(events)
    frame = campaigns.reset_index(drop=True).copy()
    frame[CHURNED] = np.nan
    frame[FUTURE_VALUE] = np.nan
    feature_parts: list[pd.DataFrame] = []
    for cutoff, rows in frame.groupby(CUTOFF, sort=True):
        moment = pd.Timestamp(cutoff).to_pydatetime()
        outcomes = _outcomes_at(events, moment, windows).reindex(rows[USER_ID].to_numpy())
        activity = outcomes["_future_activity"].fillna(0).to_numpy()
        spend = outcomes["_future_value"].fillna(0.0).to_numpy(dtype=float)
        churn_known = moment + timedelta(days=windows.churn_horizon_days) <= data_end
        value_known = moment + timedelta(days=windows.value_horizon_days) <= data_end
        frame.loc[rows.index, CHURNED] = (activity == 0).astype(float) if churn_known else np.nan
        frame.loc[rows.index, FUTURE_VALUE] = spend if value_known else np.nan
        if with_features:
            features = _features_at(events, moment, windows, rows[USER_ID])
            feature_parts.append(features.set_axis(rows.index))
    features = pd.concat(feature_parts).sort_index() if feature_parts else None
    known_users = to_frame(events.backend, events.table.select(USER_ID).distinct())[USER_ID]
    return CampaignOutcomes(
        frame=frame,
        data_end=data_end,
        churn_unknown=int(frame[CHURNED].isna().sum()),
        value_unknown=int(frame[FUTURE_VALUE].isna().sum()),
        unmatched_users=int((~frame[USER_ID].isin(known_users.astype("str"))).sum()),
        features=features,
    )
