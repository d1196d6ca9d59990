"""The scored snapshot a service answers from: one scoring run, indexed by user id.

Why a snapshot and not per-request scoring: value tiers are cut on the whole batch and actions
compete for capacity and budget, so a user's decision depends on everyone else's scores. The
service therefore serves exactly what `serving.scoring.pipeline` computed for all users at one
cutoff (the same numbers `retain score` writes, with the run's decision summary: gain achieved and
upper bound), and lookups are a dictionary access per id.
Explanations are the exception: TreeSHAP for one user is cheap, so it is computed on demand
from the stored features instead of being kept for every user. They explain the model that
scored the user: the churn model for active users, the recall model for lapsed ones with the
signs turned (`serving.scoring.pipeline.churn_contributions`), so every explanation is in churn
log-odds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from features import ACTIVE_FLAG, FEATURE_SET, FeatureSet
from serving.decisions import (
    DECISION_COLUMNS,
    DECISIONS_ATTR,
    DecisionSummary,
    explain_contributions,
)
from serving.scoring.champions import MODEL_KINDS
from serving.scoring.pipeline import (
    SCORE_COLUMNS,
    VERSION_COLUMNS,
    ScoredUsers,
    ScoringConfig,
    feature_matrix,
)
from serving.scoring.reason_inputs import REASON_SEPARATOR, reason_populations, reason_reference

_ACTION_FIELDS = DECISION_COLUMNS[1:]  # action, expected_gain, action_cost, decision_reason
# The per-user scores between `as_of` and the decision in SCORE_COLUMNS.
_SCORE_FIELDS = SCORE_COLUMNS[SCORE_COLUMNS.index("as_of") + 1 : SCORE_COLUMNS.index("action")]
# {"churn": "churn_model_version", "recall": …, "value": …}: what model_versions reports
_VERSION_COLUMNS = dict(zip(MODEL_KINDS, VERSION_COLUMNS, strict=True))


def split_reasons(text: str) -> list[str]:
    """The reason texts joined by `retain score`, as a list again."""
    return [part for part in text.split(REASON_SEPARATOR) if part] if text else []


def _plain(values: list[Any]) -> list[Any]:
    """NaN → None (JSON null): an active user has no return probability."""
    return [None if isinstance(v, float) and math.isnan(v) else v for v in values]


def decisions_from_attrs(scores: pd.DataFrame) -> DecisionSummary | None:
    """The decision summary scoring stores with the table (Parquet keeps it), if it is there."""
    stored = scores.attrs.get(DECISIONS_ATTR)
    if not isinstance(stored, dict):
        return None
    fields = {name: stored[name] for name in DecisionSummary.__dataclass_fields__ if name in stored}
    try:
        return DecisionSummary(**fields)
    except TypeError:  # written by another version: serve the scores without the summary
        return None


@cache
def _explain_config() -> ScoringConfig:
    """TreeSHAP, the exact attribution (the explanation of one user is cheap)."""
    return ScoringConfig(attribution="treeshap")


@dataclass(frozen=True)
class Snapshot:
    """Scores (SCORE_COLUMNS) with a user-id index; features when explanations are possible."""

    scores: pd.DataFrame
    features: pd.DataFrame | None
    source: str
    decisions: DecisionSummary | None = None

    def __post_init__(self) -> None:
        ids = self.scores["user_id"].astype("str")
        if ids.duplicated().any():
            raise ValueError(f"{self.source}: duplicate user_id values in the scores")
        object.__setattr__(self, "_position", dict(zip(ids.tolist(), range(len(ids)), strict=True)))
        columns = {
            name: _plain(self.scores[name].tolist()) for name in (*_SCORE_FIELDS, *_ACTION_FIELDS)
        }
        columns["reasons"] = [split_reasons(text) for text in self.scores["reasons"].tolist()]
        object.__setattr__(self, "_columns", columns)
        object.__setattr__(self, "_active_users", self._active())
        object.__setattr__(self, "_reason_reference", None)  # computed by the first explain

    @classmethod
    def from_scored(cls, scored: ScoredUsers, source: str) -> Snapshot:
        """A snapshot of a scoring run that still has its features (explanations possible)."""
        return cls(
            scores=scored.scores,
            features=scored.features,
            source=source,
            decisions=scored.decisions,
        )

    @classmethod
    def from_score_file(cls, scores: pd.DataFrame, source: str) -> Snapshot:
        """A snapshot of a `retain score` file; explainable when it carries the feature columns."""
        has_features = all(column in scores.columns for column in FEATURE_SET.columns)
        return cls(
            scores=scores,
            features=scores if has_features else None,
            source=source,
            decisions=decisions_from_attrs(scores),
        )

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
    def model_versions(self) -> dict[str, str | None]:
        """The model versions that produced these scores (may differ from today's champions)."""
        if self.scores.empty:
            return {}
        first = self.scores.iloc[0]
        return {
            kind: str(first[column]) if pd.notna(first[column]) else None
            for kind, column in _VERSION_COLUMNS.items()
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

    def _active(self) -> np.ndarray:
        """Per user, whether the churn model scored them (active at the cutoff)."""
        if self.features is not None and ACTIVE_FLAG in self.features.columns:
            return self.features[ACTIVE_FLAG].to_numpy(dtype=float, na_value=0.0) == 1
        returning = self._columns["return_probability"]  # type: ignore[attr-defined]
        return np.array([value is None for value in returning], dtype=bool)

    def _reference(self, features: pd.DataFrame, feature_set: FeatureSet) -> pd.DataFrame:
        """The typical feature values the reasons were worded against, as scoring computed
        them over this run's users (kept after the first explanation)."""
        if self._reason_reference is None:  # type: ignore[attr-defined]
            active = self._active_users  # type: ignore[attr-defined]
            matrix = feature_matrix(features, feature_set)
            object.__setattr__(self, "_reason_reference", reason_reference(matrix, active))
        return self._reason_reference  # type: ignore[attr-defined]

    def explain(self, user_id: str, champions: Any, top_k: int) -> dict[str, Any] | None:
        """The top_k contributions (by size) to one user's churn log-odds, feature by feature and
        by signal family, each labelled with its effect; None for an unknown id.

        Active users are explained by the churn model; lapsed users by the recall model with the
        signs turned (what lowers the chance of return raises the chance of staying gone), as
        their churn probability is 1 − the return probability. Raises LookupError when the
        snapshot has no features (a score file without them).
        """
        from serving.scoring.pipeline import churn_contributions

        row = self.position(user_id)
        if row is None:
            return None
        if self.features is None:
            raise LookupError(
                f"{self.source} has no feature columns, so explanations are unavailable; "
                "serve from events (RETAIN_EVENTS) or a score file written with --with-features"
            )
        matrix = feature_matrix(self.features.iloc[[row]], champions.feature_set)
        active = self._active_users[[row]]  # type: ignore[attr-defined]
        lapsed = not active[0]
        contributions = churn_contributions(champions, matrix, active, _explain_config()).iloc[0]
        bias = float(contributions.get("bias", np.nan))
        reference = self._reference(self.features, champions.feature_set)
        population = reason_populations(active, champions, reference)[0]
        explained = explain_contributions(
            matrix.iloc[0], contributions, reference.loc[population], top_k
        )
        columns = self._columns  # type: ignore[attr-defined]
        return {
            "user_id": user_id,
            "status": "ok",
            "model": "recall" if lapsed and champions.recall is not None else "churn",
            "churn_probability": columns["churn_probability"][row],
            "return_probability": columns["return_probability"][row],
            "lifecycle_stage": columns["lifecycle_stage"][row],
            "bias": bias,
            "reasons": columns["reasons"][row],
            "contributions": explained["contributions"],
            "families": explained["families"],
        }
