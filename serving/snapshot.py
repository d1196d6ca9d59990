"""The scored snapshot a service answers from: one scoring run, indexed by user id.

Why a snapshot and not per-request scoring: value tiers are cut on the whole batch and actions
compete for capacity and budget, so a user's decision depends on everyone else's scores. The
service therefore serves exactly what `serving.scoring` computed for all users at one cutoff
(the same numbers `retain score` writes), and lookups are a dictionary access per id.
Explanations are the exception: TreeSHAP for one user is cheap, so it is computed on demand
from the stored features instead of being kept for every user.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from features.definitions import FEATURE_SET
from serving.reasons import describe
from serving.scoring import REASON_SEPARATOR, ScoredUsers, feature_matrix

_SCORE_FIELDS = ("churn_probability", "predicted_value", "lifecycle_stage", "value_tier")
_ACTION_FIELDS = ("action", "expected_gain", "action_cost", "decision_reason")


def split_reasons(text: str) -> list[str]:
    """The reason texts joined by `retain score`, as a list again."""
    return [part for part in text.split(REASON_SEPARATOR) if part] if text else []


@dataclass(frozen=True)
class Snapshot:
    """Scores (SCORE_COLUMNS) with a user-id index; features when explanations are possible."""

    scores: pd.DataFrame
    features: pd.DataFrame | None
    source: str

    def __post_init__(self) -> None:
        ids = self.scores["user_id"].astype("str")
        if ids.duplicated().any():
            raise ValueError(f"{self.source}: duplicate user_id values in the scores")
        object.__setattr__(self, "_position", dict(zip(ids.tolist(), range(len(ids)), strict=True)))
        columns = {name: self.scores[name].tolist() for name in (*_SCORE_FIELDS, *_ACTION_FIELDS)}
        columns["reasons"] = [split_reasons(text) for text in self.scores["reasons"].tolist()]
        object.__setattr__(self, "_columns", columns)

    @classmethod
    def from_scored(cls, scored: ScoredUsers, source: str) -> Snapshot:
        """A snapshot of a scoring run that still has its features (explanations possible)."""
        return cls(scores=scored.scores, features=scored.features, source=source)

    @classmethod
    def from_score_file(cls, scores: pd.DataFrame, source: str) -> Snapshot:
        """A snapshot of a `retain score` file; explainable when it carries the feature columns."""
        has_features = all(column in scores.columns for column in FEATURE_SET.columns)
        return cls(scores=scores, features=scores if has_features else None, source=source)

    def __len__(self) -> int:
        return len(self.scores)

    @property
    def as_of(self) -> datetime | None:
        """The cutoff, timezone-aware (naive cutoffs are UTC), so JSON carries the offset."""
        if self.scores.empty:
            return None
        cutoff = pd.Timestamp(self.scores["as_of"].iloc[0])
        if cutoff.tzinfo is None:
            cutoff = cutoff.tz_localize("UTC")
        return cutoff.to_pydatetime()

    @property
    def model_versions(self) -> dict[str, str]:
        """The model versions that produced these scores (may differ from today's champions)."""
        if self.scores.empty:
            return {}
        first = self.scores.iloc[0]
        return {
            "churn": str(first["churn_model_version"]),
            "value": str(first["value_model_version"]),
        }

    def position(self, user_id: str) -> int | None:
        return self._position.get(user_id)  # type: ignore[attr-defined]

    def lookup(self, user_ids: Sequence[str], with_action: bool) -> list[dict[str, Any]]:
        """One dict per id, in order: status `ok` with the fields, or `unknown_user` alone."""
        fields = (*_SCORE_FIELDS, *_ACTION_FIELDS, "reasons") if with_action else _SCORE_FIELDS
        columns = self._columns  # type: ignore[attr-defined]
        items = []
        for user_id in user_ids:
            row = self._position.get(user_id)  # type: ignore[attr-defined]
            if row is None:
                items.append({"user_id": user_id, "status": "unknown_user"})
                continue
            item = {"user_id": user_id, "status": "ok"}
            item.update({name: columns[name][row] for name in fields})
            items.append(item)
        return items

    def explain(self, user_id: str, churn_model: Any, top_k: int) -> dict[str, Any] | None:
        """The top_k contributions (by size) of one user's churn score; None for an unknown id.

        Raises LookupError when the snapshot has no features (a score file without them).
        """
        row = self.position(user_id)
        if row is None:
            return None
        if self.features is None:
            raise LookupError(
                f"{self.source} has no feature columns, so explanations are unavailable; "
                "serve from events (RETAIN_EVENTS) or a score file written with --with-features"
            )
        matrix = feature_matrix(self.features.iloc[[row]])
        contributions = churn_model.contributions(matrix).iloc[0]
        bias = float(contributions.get("bias", np.nan))
        values = contributions.drop(labels=["bias"], errors="ignore")
        top = values.reindex(values.abs().sort_values(ascending=False, kind="stable").index)
        listed = []
        for feature, contribution in top.head(top_k).items():
            value = float(matrix[feature].iloc[0])
            listed.append(
                {
                    "feature": feature,
                    "value": None if np.isnan(value) else value,
                    "contribution": float(contribution),
                    "effect": "raises risk" if contribution > 0 else "lowers risk",
                    "text": describe(str(feature), value),
                }
            )
        columns = self._columns  # type: ignore[attr-defined]
        return {
            "user_id": user_id,
            "status": "ok",
            "churn_probability": columns["churn_probability"][row],
            "lifecycle_stage": columns["lifecycle_stage"][row],
            "bias": bias,
            "reasons": columns["reasons"][row],
            "contributions": listed,
        }
