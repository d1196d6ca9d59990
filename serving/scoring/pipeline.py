"""The scoring pipeline: features at a cutoff → scores → stage and tier → action → reasons.

Why one pipeline: `retain score`, `retain churn-list` and the BentoML service must give the
same numbers for the same user. Decisions (capacity and budget) are properties of a whole
batch, not of one user, so the service does not score users one by one: it serves a snapshot
this same function produced for everyone at once. Tiers are not: their cut points come from the
value model (fitted at training), so a user's tier does not move because other users changed.

Which model scores whom: users active at the cutoff get the churn model's probability; lapsed
users (not active) get 1 − the recall model's return probability, the chance they stay gone.
The value model gives the value if the user stays and if they leave; `predicted_value` is their
mixture under that probability and `value_at_stake` their difference (see
serving/decisions/policy.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd

from features import ACTIVE_FLAG, FEATURE_SET, FeatureSet, LoadedEvents, WindowConfig
from serving.decisions import (
    ASSIGNMENT,
    DECISIONS_ATTR,
    SEGMENTATION_ATTR,
    ActionCatalogue,
    ContactHistory,
    DecisionSummary,
    HoldoutConfig,
    Segmentation,
    ValueTiers,
    assign_stages,
    load_catalogue,
    plan_decisions,
)
from serving.scoring.champions import Champions
from serving.scoring.reason_inputs import reason_lines, reason_reference

SCORE_COLUMNS: tuple[str, ...] = (
    "user_id",
    "as_of",
    "churn_probability",
    "return_probability",
    "predicted_value",
    "value_if_retained",
    "value_at_stake",
    "lifecycle_stage",
    "value_tier",
    "action",
    "expected_gain",
    "action_cost",
    "decision_reason",
    "reasons",
    "churn_model_version",
    "recall_model_version",
    "value_model_version",
    "feature_set_id",
)
VERSION_COLUMNS = ("churn_model_version", "recall_model_version", "value_model_version")


@dataclass(frozen=True)
class ScoringConfig:
    """Everything about a scoring run that is not the data or the models."""

    catalogue: ActionCatalogue = field(default_factory=load_catalogue)
    segmentation: Segmentation = field(default_factory=Segmentation)
    budget: float | None = None
    # Past contacts (serving/decisions/contacts.py): cooldowns and the catalogue's frequency cap.
    contacts: ContactHistory | None = None
    reasons_top_k: int = 3
    # "treeshap": exact TreeSHAP, equal to LightGBM's pred_contrib (serving/scoring/
    # treeshap_fast.py: ~15 µs of CPU per user); "path": Saabas path attribution
    # (serving/scoring/attribution.py), a little cheaper, same top reason for ~80% of users.
    attribution: Literal["treeshap", "path"] = "treeshap"
    # A random share of each action's targets kept as a control group
    # (serving/decisions/holdout.py); adds an `assignment` column (treated / control / none) after
    # SCORE_COLUMNS.
    holdout: HoldoutConfig | None = None


@dataclass(frozen=True)
class ScoredUsers:
    """One scoring run: the score table (SCORE_COLUMNS) and the features it came from.

    The features stay beside the scores (same row order) so that explanations can be computed
    later without rebuilding them.
    """

    scores: pd.DataFrame
    features: pd.DataFrame
    as_of: datetime
    decisions: DecisionSummary | None = None

    def __len__(self) -> int:
        return len(self.scores)


def latest_cutoff(events: LoadedEvents) -> datetime:
    """Midnight after the last event: the cutoff that lets every loaded event count."""
    last = events.report.max_event_time
    if last is None:
        raise ValueError(f"{events.report.summary()}: no valid events, so no cutoff to score at")
    return datetime.combine(last.date(), datetime.min.time()) + timedelta(days=1)


def feature_matrix(features: pd.DataFrame, feature_set: FeatureSet = FEATURE_SET) -> pd.DataFrame:
    """The columns of `feature_set` (the champions') as float64, the form the models were
    trained on."""
    missing = [column for column in feature_set.columns if column not in features.columns]
    if missing:
        raise ValueError(
            f"feature frame lacks {feature_set.id} columns: {', '.join(missing)} "
            "(was it built by another version of `retain features`, or for another set?)"
        )
    return features[list(feature_set.columns)].astype("float64")


def _contributions(model: Any, matrix: pd.DataFrame, config: ScoringConfig) -> pd.DataFrame:
    """A classifier's attributions per user by the configured method (both add up to log-odds)."""
    if config.attribution == "path":
        from serving.scoring.attribution import PathAttribution

        return PathAttribution(model).contributions(matrix)
    if config.attribution != "treeshap":
        raise ValueError(f"unknown attribution {config.attribution!r}; use treeshap or path")
    from serving.scoring.treeshap_fast import exact_contributions

    return exact_contributions(model, matrix)


def value_tiers(champions: Champions, segmentation: Segmentation) -> ValueTiers:
    """The tier estimator with the cut points stored with the value model at training."""
    tiers = segmentation.tiers.build()
    return tiers.fit_percentiles(champions.value.retained_value_percentiles_)


def model_scores(matrix: pd.DataFrame, active: np.ndarray, champions: Champions) -> pd.DataFrame:
    """Per user: churn and return probability, unconditional value, value if retained, at stake.

    The churn model scores active users, the recall model lapsed ones; each only on its own
    population, the one it was trained on. Without a recall champion the churn model scores
    lapsed users too (`Champions.notes` says so).
    """
    n_users = len(matrix)
    churn = np.full(n_users, np.nan)
    returning = np.full(n_users, np.nan)
    if active.any():
        churn[active] = champions.churn.churn_probability(matrix[active])
    if (~active).any() and champions.recall is not None:
        returning[~active] = champions.recall.return_probability(matrix[~active])
        churn[~active] = 1.0 - returning[~active]
    elif (~active).any():
        churn[~active] = champions.churn.churn_probability(matrix[~active])
        returning[~active] = 1.0 - churn[~active]
    retained = np.asarray(champions.value.value_if_retained(matrix), dtype=float)
    churned = np.asarray(champions.value.value_if_churned(matrix), dtype=float)
    return pd.DataFrame(
        {
            "churn_probability": churn,
            "return_probability": returning,
            "predicted_value": churn * churned + (1.0 - churn) * retained,
            "value_if_retained": retained,
            "value_at_stake": np.clip(retained - churned, 0.0, None),
        }
    )


def churn_contributions(
    champions: Champions, matrix: pd.DataFrame, active: np.ndarray, config: ScoringConfig
) -> pd.DataFrame:
    """Attributions to each user's churn log-odds: the churn model's for active users, the
    recall model's with the sign turned for lapsed users (what lowers the chance of return
    raises the chance of staying gone)."""
    parts = []
    if active.any():
        parts.append(_contributions(champions.churn, matrix[active], config))
    if (~active).any() and champions.recall is not None:
        parts.append(-_contributions(champions.recall, matrix[~active], config))
    elif (~active).any():
        parts.append(_contributions(champions.churn, matrix[~active], config))
    return pd.concat(parts).loc[matrix.index]


def active_mask(features: pd.DataFrame) -> np.ndarray:
    """Which users were active at the cutoff (the churn model's); the others are lapsed."""
    if ACTIVE_FLAG not in features.columns:
        raise ValueError(f"feature frame lacks `{ACTIVE_FLAG}` (built by an older Retain?)")
    return features[ACTIVE_FLAG].to_numpy(dtype=float, na_value=0.0) == 1


def score_features(
    features: pd.DataFrame,
    champions: Champions,
    config: ScoringConfig | None = None,
) -> ScoredUsers:
    """Score a feature frame (one row per user, as `features.feature_frame` builds it)."""
    config = config or ScoringConfig()
    if "user_id" not in features.columns or "as_of" not in features.columns:
        raise ValueError("feature frame needs `user_id` and `as_of` columns")
    if features["as_of"].nunique() > 1:
        raise ValueError("feature frame mixes several cutoffs; score one cutoff at a time")
    features = features.reset_index(drop=True)
    matrix = feature_matrix(features, champions.feature_set)
    as_of = pd.Timestamp(features["as_of"].iloc[0]).to_pydatetime() if len(features) else None
    segmentation = config.segmentation.for_windows(champions.windows())
    active = active_mask(features)
    users = user_scores(features, matrix, active, champions, segmentation)
    blocks = None
    if config.contacts is not None:
        if as_of is None:
            raise ValueError("contact history needs a cutoff; the feature frame is empty")
        blocks = config.contacts.blocks(
            pd.Index(users["user_id"]), config.catalogue, pd.Timestamp(as_of)
        )
    decisions, summary = plan_decisions(
        users,
        config.catalogue,
        budget=config.budget,
        blocks=blocks,
        holdout=config.holdout,
        as_of=None if as_of is None else pd.Timestamp(as_of),
    )
    contributions = churn_contributions(champions, matrix, active, config)
    reference = reason_reference(matrix, active)
    top_k = config.reasons_top_k
    reasons = reason_lines(matrix, contributions, active, champions, top_k, reference)
    scores = score_table(users, features, decisions, reasons, champions)
    # Travels with the table: Parquet keeps DataFrame.attrs, so the file says what it achieved.
    scores.attrs[DECISIONS_ATTR] = summary.as_dict()
    scores.attrs[SEGMENTATION_ATTR] = segmentation.model_dump(mode="json")
    return ScoredUsers(scores=scores, features=features, as_of=as_of, decisions=summary)


def user_scores(
    features: pd.DataFrame,
    matrix: pd.DataFrame,
    active: np.ndarray,
    champions: Champions,
    segmentation: Segmentation,
) -> pd.DataFrame:
    """Model scores with `user_id`, stage and tier: what decisions read (USER_COLUMNS).

    Per user only (tiers use the value model's stored cut points), so a streamed run
    (serving/scoring/streaming.py) computes it batch by batch with the same result.
    """
    scores = model_scores(matrix, active, champions)
    probability = scores["churn_probability"].to_numpy()
    return scores.assign(
        user_id=features["user_id"].astype("str"),
        lifecycle_stage=assign_stages(features, probability, segmentation.stages),
        value_tier=value_tiers(champions, segmentation).transform(scores["value_if_retained"]),
    )


def score_table(
    users: pd.DataFrame,
    features: pd.DataFrame,
    decisions: pd.DataFrame,
    reasons: np.ndarray,
    champions: Champions,
) -> pd.DataFrame:
    """SCORE_COLUMNS (and `assignment` after a holdout) from the parts, rows in `users` order."""
    versions = champions.versions
    scores = users.assign(
        as_of=features["as_of"].to_numpy(),
        action=decisions["action"].to_numpy(),
        expected_gain=decisions["expected_gain"].to_numpy(),
        action_cost=decisions["action_cost"].to_numpy(),
        decision_reason=decisions["decision_reason"].to_numpy(),
        reasons=pd.Series(reasons, dtype="str", index=users.index),
        churn_model_version=versions["churn"],
        recall_model_version=versions["recall"],
        value_model_version=versions["value"],
        feature_set_id=champions.feature_set.id,
    )
    # A missing model's version (no recall champion) is a missing string, not the text "None".
    scores = scores[list(SCORE_COLUMNS)].astype({column: "str" for column in VERSION_COLUMNS})
    if ASSIGNMENT in decisions.columns:
        scores = scores.assign(**{ASSIGNMENT: decisions[ASSIGNMENT].to_numpy()})
    return scores


def score_events(
    events: LoadedEvents,
    champions: Champions,
    as_of: datetime | None = None,
    config: ScoringConfig | None = None,
    windows: WindowConfig | None = None,
) -> ScoredUsers:
    """Build features at `as_of` (default: the latest cutoff) with the models' windows and
    feature set, score.

    `windows` defaults to the windows the churn model was trained with, so "active" and the
    features mean what they meant in training; the feature set (v2: with the event types the
    runs recorded, not this log's most frequent ones) is the champions'.
    """
    from features import feature_frame

    cutoff = as_of or latest_cutoff(events)
    chosen = champions.feature_set
    frame = feature_frame(events, cutoff, windows or champions.windows(), feature_set=chosen)
    if frame.empty:
        raise ValueError(f"no user has an event before {cutoff:%Y-%m-%d %H:%M}; nothing to score")
    return score_features(frame, champions, config)
