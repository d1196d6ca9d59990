"""`ReferenceProfile`: the distributions a model saw out of time, stored beside the model.

Why a profile rather than the rows: drift is measured against the population a model was
validated on, long after training, from a process (`retain monitor`, `retain retrain`) that
should not need the training data again. Per column a few cut points and shares (see
`training.psi_bins`) are enough for the population stability index, and small enough to log as the
MLflow artifact `reference_profile.json` with every model. The `version` field lets a later
build refuse a profile it cannot read instead of misreading it.

Why in `training` and not in `monitoring`: training writes the profile (`training.runs` logs it
with every model run) and may not import the layer above it; `monitoring` reads it back through
`training`'s public names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from features import FEATURE_SET
from training.json_documents import json_object
from training.psi_bins import DEFAULT_BINS, ColumnProfile, column_profile, profile_from_dict

PROFILE_VERSION = 1
PROFILE_ARTIFACT = "reference_profile.json"
# What scoring writes per user that is worth watching; `build` takes whichever it is given.
SCORE_COLUMNS: tuple[str, ...] = (
    "churn_probability",
    "predicted_value",
    "value_if_retained",
    "value_at_stake",
)
_NOT_SCORES = frozenset({"user_id", "as_of"})


class ProfileError(ValueError):
    """A reference profile that cannot be built or read; the message says what is wrong."""


Scores = Mapping[str, Any] | pd.DataFrame


@dataclass(frozen=True)
class ReferenceProfile:
    """Per-column reference distributions of model inputs (`features`) and outputs (`scores`).

    `rows` is the number of feature rows profiled; `as_of` the cutoff they were computed at
    (ISO text, None when unknown); `bins` the number of quantile bins asked for (ties can leave
    fewer).
    """

    feature_set_id: str
    rows: int
    features: dict[str, ColumnProfile]
    scores: dict[str, ColumnProfile] = field(default_factory=dict)
    as_of: str | None = None
    bins: int = DEFAULT_BINS
    version: int = PROFILE_VERSION

    @classmethod
    def build(
        cls,
        frame: pd.DataFrame,
        scores: Scores | None = None,
        *,
        columns: Sequence[str] | None = None,
        feature_set_id: str = FEATURE_SET.id,
        as_of: date | str | None = None,
        bins: int = DEFAULT_BINS,
    ) -> ReferenceProfile:
        """Profile `columns` of a feature frame (default: the feature set's columns in it).

        `scores` are the model outputs on the same population: a frame (every column but
        `user_id` and `as_of`) or a mapping of name to values. Profile the population that
        scoring will later score, so that drift compares like with like.
        """
        if columns is None:
            columns = [name for name in FEATURE_SET.columns if name in frame.columns]
            if not columns:
                raise ProfileError(
                    f"the frame has none of the {FEATURE_SET.id} feature columns; "
                    "pass `columns` to profile others"
                )
        missing = [name for name in columns if name not in frame.columns]
        if missing:
            raise ProfileError(f"columns not in the frame: {', '.join(missing)}")
        if isinstance(scores, pd.DataFrame):
            scores = {name: scores[name] for name in scores.columns if name not in _NOT_SCORES}
        if as_of is None and "as_of" in frame.columns and frame["as_of"].nunique() == 1:
            as_of = pd.Timestamp(frame["as_of"].iloc[0]).date()
        return cls(
            feature_set_id=feature_set_id,
            rows=len(frame),
            features={name: column_profile(frame[name], bins) for name in columns},
            scores={name: column_profile(pd.Series(v), bins) for name, v in (scores or {}).items()},
            as_of=as_of.isoformat() if isinstance(as_of, date) else as_of,
            bins=bins,
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with the version first so a reader sees it before anything else."""
        return {
            "version": self.version,
            "feature_set_id": self.feature_set_id,
            "as_of": self.as_of,
            "rows": self.rows,
            "bins": self.bins,
            "features": {name: p.as_dict() for name, p in self.features.items()},
            "scores": {name: p.as_dict() for name, p in self.scores.items()},
        }

    def to_json(self) -> str:
        """Strict JSON (no NaN: undefined figures are null), indented for reading in MLflow."""
        return json.dumps(self.as_dict(), indent=2, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReferenceProfile:
        """Rebuild a profile; refuses versions this build does not know."""
        version = data.get("version")
        if not isinstance(version, int) or not 1 <= version <= PROFILE_VERSION:
            raise ProfileError(
                f"reference profile version {version!r} is not one this build reads "
                f"(1 to {PROFILE_VERSION}); retrain the model with this build to refresh it"
            )
        try:
            return cls(
                feature_set_id=str(data["feature_set_id"]),
                rows=int(data["rows"]),
                features={k: profile_from_dict(v) for k, v in data["features"].items()},
                scores={k: profile_from_dict(v) for k, v in data.get("scores", {}).items()},
                as_of=data.get("as_of"),
                bins=int(data.get("bins", DEFAULT_BINS)),
                version=version,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ProfileError(f"malformed reference profile: {error!r}") from None

    @classmethod
    def from_json(cls, text: str) -> ReferenceProfile:
        return cls.from_dict(json_object(text, ProfileError, "reference profile"))

    def write(self, path: str | Path) -> Path:
        """Write the JSON to `path` (a file, or a folder that gets `reference_profile.json`)."""
        path = Path(path)
        if path.is_dir():
            path = path / PROFILE_ARTIFACT
        path.write_text(self.to_json() + "\n")
        return path

    @classmethod
    def read(cls, path: str | Path) -> ReferenceProfile:
        """Read a profile written by `write` (or downloaded from MLflow)."""
        path = Path(path)
        if path.is_dir():
            path = path / PROFILE_ARTIFACT
        try:
            text = path.read_text()
        except OSError as error:
            raise ProfileError(f"cannot read reference profile {path}: {error}") from None
        return cls.from_json(text)
