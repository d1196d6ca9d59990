"""The scoring pipeline: features at a cutoff → scores → stage and tier → action → reasons.

Why one pipeline: `retain score`, `retain churn-list` and the BentoML service must give the
same numbers for the same user. Tiers (quantile cut points) and decisions (capacity and budget)
are properties of a whole batch, not of one user, so the service does not score users one by
one: it serves a snapshot this same function produced for everyone at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from features.config import WindowConfig
from features.definitions import FEATURE_SET
from features.loading import LoadedEvents
from serving.actions import ActionCatalogue, load_catalogue
from serving.champions import Champions
from serving.holdout import HoldoutConfig, with_holdout
from serving.policy import decide
from serving.reasons import reason_codes
from serving.segments import SegmentConfig, TierConfig, assign_stages

REASON_SEPARATOR = "; "  # reason texts never contain it (see serving/reasons.py templates)
SCORE_COLUMNS: tuple[str, ...] = (
    "user_id",
    "as_of",
    "churn_probability",
    "predicted_value",
    "lifecycle_stage",
    "value_tier",
    "action",
    "expected_gain",
    "action_cost",
    "decision_reason",
    "reasons",
    "churn_model_version",
    "value_model_version",
    "feature_set_id",
)


@dataclass(frozen=True)
class ScoringConfig:
    """Everything about a scoring run that is not the data or the models."""

    catalogue: ActionCatalogue = field(default_factory=load_catalogue)
    segments: SegmentConfig = field(default_factory=SegmentConfig)
    tiers: TierConfig = field(default_factory=TierConfig)
    budget: float | None = None
    reasons_top_k: int = 3
    # "treeshap": exact LightGBM pred_contrib (~2,000 users/s on 2 cores); "path": Saabas path
    # attribution (serving/attribution.py), ~100x faster, same top reason for ~80% of users.
    attribution: Literal["treeshap", "path"] = "treeshap"
    # A random share of each action's targets kept as a control group (serving/holdout.py);
    # adds an `assignment` column (treated / control / none) after SCORE_COLUMNS.
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

    def __len__(self) -> int:
        return len(self.scores)


def latest_cutoff(events: LoadedEvents) -> datetime:
    """Midnight after the last event: the cutoff that lets every loaded event count."""
    last = events.report.max_event_time
    if last is None:
        raise ValueError(f"{events.report.summary()}: no valid events, so no cutoff to score at")
    return datetime.combine(last.date(), datetime.min.time()) + timedelta(days=1)


def feature_matrix(features: pd.DataFrame) -> pd.DataFrame:
    """The FEATURE_SET columns as float64, the form both models were trained on."""
    missing = [column for column in FEATURE_SET.columns if column not in features.columns]
    if missing:
        raise ValueError(
            f"feature frame lacks {FEATURE_SET.id} columns: {', '.join(missing)} "
            "(was it built by another version of `retain features`?)"
        )
    return features[list(FEATURE_SET.columns)].astype("float64")


def _contributions(
    champions: Champions, matrix: pd.DataFrame, config: ScoringConfig
) -> pd.DataFrame:
    """Churn-score attributions per user by the configured method (both add up to log-odds)."""
    if config.attribution == "path":
        from serving.attribution import PathAttribution

        return PathAttribution(champions.churn).contributions(matrix)
    if config.attribution != "treeshap":
        raise ValueError(f"unknown attribution {config.attribution!r}; use treeshap or path")
    return champions.churn.contributions(matrix)


def score_features(
    features: pd.DataFrame,
    champions: Champions,
    config: ScoringConfig | None = None,
    *,
    last_contacts: pd.DataFrame | None = None,
) -> ScoredUsers:
    """Score a feature frame (one row per user, as `features.feature_frame` builds it)."""
    config = config or ScoringConfig()
    if "user_id" not in features.columns or "as_of" not in features.columns:
        raise ValueError("feature frame needs `user_id` and `as_of` columns")
    if features["as_of"].nunique() > 1:
        raise ValueError("feature frame mixes several cutoffs; score one cutoff at a time")
    features = features.reset_index(drop=True)
    matrix = feature_matrix(features)
    as_of = pd.Timestamp(features["as_of"].iloc[0]).to_pydatetime() if len(features) else None

    churn_probability = np.asarray(champions.churn.churn_probability(matrix), dtype=float)
    predicted_value = np.asarray(champions.value.predict(matrix), dtype=float)
    users = pd.DataFrame(
        {
            "user_id": features["user_id"].astype("str"),
            "churn_probability": churn_probability,
            "predicted_value": predicted_value,
            "lifecycle_stage": assign_stages(features, churn_probability, config.segments),
            "value_tier": config.tiers.build().fit_transform(predicted_value),
        }
    )
    decisions = decide(
        users, config.catalogue, budget=config.budget, last_contacts=last_contacts, as_of=as_of
    )
    reasons = reason_codes(matrix, _contributions(champions, matrix, config), config.reasons_top_k)
    scores = users.assign(
        as_of=features["as_of"].to_numpy(),
        action=decisions["action"].to_numpy(),
        expected_gain=decisions["expected_gain"].to_numpy(),
        action_cost=decisions["action_cost"].to_numpy(),
        decision_reason=decisions["decision_reason"].to_numpy(),
        reasons=pd.Series([REASON_SEPARATOR.join(r) for r in reasons], dtype="str"),
        churn_model_version=champions.churn_info.version,
        value_model_version=champions.value_info.version,
        feature_set_id=FEATURE_SET.id,
    )
    scores = with_holdout(scores[list(SCORE_COLUMNS)], config.holdout)
    return ScoredUsers(scores=scores, features=features, as_of=as_of)


def score_events(
    events: LoadedEvents,
    champions: Champions,
    as_of: datetime | None = None,
    config: ScoringConfig | None = None,
    windows: WindowConfig | None = None,
) -> ScoredUsers:
    """Build features at `as_of` (default: the latest cutoff) with the models' windows, score.

    `windows` defaults to the windows the churn model was trained with, so "active" and the
    features mean what they meant in training.
    """
    from features.pipeline import feature_frame

    cutoff = as_of or latest_cutoff(events)
    frame = feature_frame(events, cutoff, windows or champions.windows())
    if frame.empty:
        raise ValueError(f"no user has an event before {cutoff:%Y-%m-%d %H:%M}; nothing to score")
    return score_features(frame, champions, config)


def _has_parquet_parts(folder: Path) -> bool:
    """Spark's output folder: part files, beside `_SUCCESS` and hidden `.crc` files."""
    return any(
        not any(part.startswith(("_", ".")) for part in path.relative_to(folder).parts)
        for path in folder.rglob("*.parquet")
    )


def read_scores(path: str | Path) -> pd.DataFrame:
    """A `retain score` output, checked for the score columns.

    A Parquet or CSV file, or the folder of Parquet part files that `retain score --engine
    spark --out FOLDER` writes (read whole on one machine: a churn list needs every user).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such score file")
    suffix = path.suffix.lower()
    if path.is_dir() and not _has_parquet_parts(path):
        raise ValueError(f"{path}: a folder without Parquet part files, not a score output")
    if path.is_dir() or suffix == ".parquet":
        scores = pd.read_parquet(path)
    elif suffix == ".csv":
        scores = pd.read_csv(path, dtype={"user_id": "str", "reasons": "str"})
    else:
        raise ValueError(f"{path}: unsupported score file type {suffix!r}; use .parquet or .csv")
    missing = [column for column in SCORE_COLUMNS if column not in scores.columns]
    if missing:
        raise ValueError(f"{path} is not a `retain score` output: it lacks {', '.join(missing)}")
    scores["as_of"] = pd.to_datetime(scores["as_of"])
    for column in ("user_id", "churn_model_version", "value_model_version"):
        scores[column] = scores[column].astype("str")
    scores["reasons"] = scores["reasons"].fillna("").astype("str")
    return scores
