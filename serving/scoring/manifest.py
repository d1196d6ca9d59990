"""A scoring run's manifest: what was scored, by which models, from which data, and where it went.

Why: `retain monitor` comes back weeks later to ask whether a run's scores came true. It needs
to know the run's cutoff and windows (has its horizon passed?), where the scores were written
(to read them back; the scores stay there, the manifest only points at them) and what they
looked like when they were sent (user counts by stage, tier and action, score quantiles), so
that a changed population is visible without rereading any file. The same record is kept for
both engines and for the service's snapshots; only the way the figures are computed differs
(pandas on the driver; Spark aggregations and `approxQuantile` on the executors).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from training import json_object

MANIFEST_ARTIFACT = "manifest.json"
MANIFEST_VERSION = 1
SERVICE_SNAPSHOT = "service snapshot"  # the output of a snapshot: its scores are not kept
COUNTED: tuple[str, ...] = ("lifecycle_stage", "value_tier", "action")
QUANTILE_COLUMNS: tuple[str, ...] = (
    "churn_probability",
    "return_probability",
    "predicted_value",
    "value_at_stake",
)
QUANTILES: dict[str, float] = {
    "p01": 0.01,
    "p05": 0.05,
    "p10": 0.10,
    "p25": 0.25,
    "p50": 0.50,
    "p75": 0.75,
    "p90": 0.90,
    "p95": 0.95,
    "p99": 0.99,
}
# Spark's approxQuantile rank error: at most 0.1% of the rows (exact on pandas).
SPARK_RELATIVE_ERROR = 1e-3


class ManifestError(ValueError):
    """A manifest that cannot be read (another version, malformed JSON); the message says why."""


def location(out: str | Path) -> str:
    """An absolute path for a local output, a URI (`s3://…`) as given."""
    text = str(out)
    return text if "://" in text else str(Path(text).resolve())


@dataclass(frozen=True)
class ScoringManifest:
    """One scoring run described: its facts, its population and its score distributions.

    `counts` maps each of COUNTED to {value: users}; `quantiles` maps each of QUANTILE_COLUMNS
    to QUANTILES plus `mean` and `count` (users with a value: a lapsed user has no churn model
    score of its own, an active one no return probability). `windows` are the windows the
    features and the labels of this run are defined by.
    """

    as_of: str
    engine: str
    output: str
    source: str
    model_versions: dict[str, str]
    feature_set_id: str
    data_fingerprint: str
    windows: dict[str, Any]
    users: int
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    quantiles: dict[str, dict[str, float | None]] = field(default_factory=dict)
    version: int = MANIFEST_VERSION

    @property
    def scored_at(self) -> datetime:
        return datetime.fromisoformat(self.as_of)

    @property
    def keeps_scores(self) -> bool:
        """Whether the scores were written somewhere they can be read back from."""
        return self.output != SERVICE_SNAPSHOT

    def params(self) -> dict[str, str]:
        """Flat MLflow params: the facts, one per model version and window."""
        params = {
            "as_of": self.as_of,
            "engine": self.engine,
            "output": self.output,
            "source": self.source,
            "feature_set_id": self.feature_set_id,
            "data_fingerprint": self.data_fingerprint,
            **{f"model_version.{kind}": v for kind, v in self.model_versions.items()},
        }
        params.update({f"windows.{k}": str(v) for k, v in self.windows.items()})
        return {key: str(value)[:6000] for key, value in params.items()}

    def metrics(self) -> dict[str, float]:
        """Flat MLflow metrics: `users`, `users.<column>.<value>`, `<score>.<quantile>`."""
        metrics = {"users": float(self.users)}
        for column, counts in self.counts.items():
            metrics.update({f"users.{column}.{value}": float(n) for value, n in counts.items()})
        for column, summary in self.quantiles.items():
            metrics.update({f"{column}.{q}": v for q, v in summary.items() if v is not None})
        return metrics

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScoringManifest:
        version = data.get("version")
        if version != MANIFEST_VERSION:
            raise ManifestError(f"manifest version {version!r} is not {MANIFEST_VERSION}")
        try:
            return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})
        except TypeError as error:
            raise ManifestError(f"malformed manifest: {error}") from None

    @classmethod
    def from_json(cls, text: str) -> ScoringManifest:
        return cls.from_dict(json_object(text, ManifestError, "manifest"))


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def pandas_distributions(scores: pd.DataFrame) -> tuple[int, dict, dict]:
    """Users, counts per COUNTED column and QUANTILE_COLUMNS summaries of a score table."""
    counts = {
        column: {str(k): int(n) for k, n in scores[column].value_counts(sort=False).items()}
        for column in COUNTED
        if column in scores.columns
    }
    quantiles = {}
    for column in QUANTILE_COLUMNS:
        if column not in scores.columns:
            continue
        values = pd.to_numeric(scores[column], errors="coerce").to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        summary: dict[str, float | None] = dict.fromkeys([*QUANTILES, "mean"])
        if values.size:
            cut = np.quantile(values, list(QUANTILES.values()))
            summary = {q: float(v) for q, v in zip(QUANTILES, cut, strict=True)}
            summary["mean"] = _finite(values.mean())
        summary["count"] = float(values.size)
        quantiles[column] = summary
    return len(scores), counts, quantiles


def spark_distributions(scores: Any) -> tuple[int, dict, dict]:
    """`pandas_distributions` computed on Spark: group counts and approximate quantiles.

    Only small results reach the driver (one row per stage, tier and action, nine numbers per
    score); the quantiles are `approxQuantile` with a rank error of SPARK_RELATIVE_ERROR.
    """
    from pyspark.sql import functions as sf

    users = int(scores.count())
    counts = {}
    for column in COUNTED:
        if column in scores.columns:
            rows = scores.groupBy(column).count().collect()
            counts[column] = {str(row[column]): int(row["count"]) for row in rows}
    quantiles = {}
    for column in QUANTILE_COLUMNS:
        if column not in scores.columns:
            continue
        present = scores.select(column).where(sf.col(column).isNotNull() & ~sf.isnan(column))
        cut = present.approxQuantile(column, list(QUANTILES.values()), SPARK_RELATIVE_ERROR)
        stats = present.agg(sf.mean(column).alias("mean"), sf.count(column).alias("n")).first()
        summary: dict[str, float | None] = dict.fromkeys([*QUANTILES, "mean"])
        if cut:
            summary = {q: float(v) for q, v in zip(QUANTILES, cut, strict=True)}
            summary["mean"] = None if stats["mean"] is None else float(stats["mean"])
        summary["count"] = float(stats["n"])
        quantiles[column] = summary
    return users, counts, quantiles


def build_manifest(
    scores: Any,
    *,
    as_of: datetime,
    engine: str,
    output: str | Path,
    source: str | Path,
    model_versions: Mapping[str, str],
    feature_set_id: str,
    data_fingerprint: str,
    windows: Mapping[str, Any],
) -> ScoringManifest:
    """The manifest of a score table: a pandas frame, or a Spark DataFrame (aggregated there)."""
    if isinstance(scores, pd.DataFrame):
        users, counts, quantiles = pandas_distributions(scores)
    else:
        users, counts, quantiles = spark_distributions(scores)
    kept = str(output) != SERVICE_SNAPSHOT
    return ScoringManifest(
        as_of=as_of.isoformat(),
        engine=engine,
        output=location(output) if kept else SERVICE_SNAPSHOT,
        source=str(source),
        model_versions={str(k): str(v) for k, v in model_versions.items()},
        feature_set_id=feature_set_id,
        data_fingerprint=data_fingerprint,
        windows=dict(windows),
        users=users,
        counts=counts,
        quantiles=quantiles,
    )
