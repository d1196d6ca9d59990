"""Scoring manifests: counts and quantiles by hand, the same on Spark, and a strict JSON form."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from serving.scoring.manifest import (
    SERVICE_SNAPSHOT,
    ManifestError,
    ScoringManifest,
    build_manifest,
    pandas_distributions,
    spark_distributions,
)

FACTS = {
    "as_of": datetime(2024, 3, 1),
    "engine": "duckdb",
    "source": "events.parquet",
    "model_versions": {"churn": "3", "recall": "1", "value": "2"},
    "feature_set_id": "behavioural_v1",
    "data_fingerprint": "abc",
    "windows": {"churn_horizon_days": 30, "value_horizon_days": 90},
}


def _scores() -> pd.DataFrame:
    """Ten users: churn probabilities 0.0 … 0.9, lapsed users (no churn model) with returns."""
    churn = np.arange(10) / 10
    returning = np.where(np.arange(10) >= 7, 1 - churn, np.nan)  # three lapsed users
    return pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(10)],
            "churn_probability": churn,
            "return_probability": returning,
            "predicted_value": [0.0] * 5 + [10.0] * 5,
            "value_at_stake": np.arange(10, dtype=float),
            "lifecycle_stage": ["active"] * 6 + ["at_risk"] + ["dormant"] * 3,
            "value_tier": ["low"] * 4 + ["mid"] * 4 + ["high"] * 2,
            "action": ["no_action"] * 7 + ["winback_offer"] * 3,
        }
    )


def test_counts_and_quantiles_by_hand(tmp_path) -> None:
    manifest = build_manifest(_scores(), output=tmp_path / "s.parquet", **FACTS)
    assert manifest.users == 10
    assert manifest.counts["lifecycle_stage"] == {"active": 6, "at_risk": 1, "dormant": 3}
    assert manifest.counts["value_tier"] == {"low": 4, "mid": 4, "high": 2}
    assert manifest.counts["action"] == {"no_action": 7, "winback_offer": 3}
    churn = manifest.quantiles["churn_probability"]
    assert churn["p50"] == pytest.approx(0.45)  # linear: halfway between 0.4 and 0.5
    assert churn["p90"] == pytest.approx(0.81)  # 0.9 · 9 = 8.1 → 0.8 + 0.1 · 0.1
    assert churn["mean"] == pytest.approx(0.45) and churn["count"] == 10
    returning = manifest.quantiles["return_probability"]  # only the three lapsed users count
    assert returning["count"] == 3 and returning["p50"] == pytest.approx(0.2)
    assert manifest.output == str((tmp_path / "s.parquet").resolve())
    metrics = manifest.metrics()
    assert metrics["users.action.winback_offer"] == 3
    assert metrics["churn_probability.p50"] == pytest.approx(0.45)
    assert manifest.params()["model_version.churn"] == "3"
    assert manifest.params()["windows.churn_horizon_days"] == "30"


def test_json_round_trip_and_refusals() -> None:
    manifest = build_manifest(_scores(), output=SERVICE_SNAPSHOT, **FACTS)
    assert manifest.output == SERVICE_SNAPSHOT and not manifest.keeps_scores
    assert ScoringManifest.from_json(manifest.to_json()) == manifest
    assert manifest.scored_at == datetime(2024, 3, 1)
    data = json.loads(manifest.to_json())
    with pytest.raises(ManifestError, match="version 99"):
        ScoringManifest.from_dict({**data, "version": 99})
    with pytest.raises(ManifestError, match="not valid JSON"):
        ScoringManifest.from_json("{")
    empty = pd.DataFrame({"churn_probability": [np.nan]})  # nobody has a score: nulls
    assert json.loads(build_manifest(empty, output="x", **FACTS).to_json())["quantiles"][
        "churn_probability"
    ] == {**dict.fromkeys(["p01", "p05", "p10", "p25", "p50", "p75", "p90", "p95", "p99"]),
          "mean": None, "count": 0.0}  # fmt: skip


@pytest.mark.spark
@pytest.mark.slow
def test_spark_counts_exactly_and_quantiles_within_its_rank_error(spark_backend) -> None:
    rng = np.random.default_rng(7)
    n = 5_000
    frame = pd.DataFrame(
        {
            "churn_probability": rng.uniform(size=n),
            "return_probability": np.where(rng.uniform(size=n) < 0.3, rng.uniform(size=n), np.nan),
            "predicted_value": rng.gamma(1.0, 20.0, n),
            "value_at_stake": rng.gamma(1.0, 5.0, n),
            "lifecycle_stage": rng.choice(["new", "active", "at_risk", "dormant"], n),
            "value_tier": rng.choice(["high", "mid", "low", "none"], n),
            "action": rng.choice(["no_action", "retention_email", "winback_offer"], n),
        }
    )
    session = spark_backend._session
    users, counts, quantiles = spark_distributions(session.createDataFrame(frame))
    expected_users, expected_counts, expected_quantiles = pandas_distributions(frame)
    assert users == expected_users == n
    assert counts == expected_counts
    for column, summary in expected_quantiles.items():
        values = np.sort(frame[column].dropna().to_numpy())
        assert quantiles[column]["count"] == summary["count"] == len(values)
        assert quantiles[column]["mean"] == pytest.approx(summary["mean"])
        for name in ("p05", "p50", "p95"):
            rank = np.searchsorted(values, quantiles[column][name]) / len(values)
            target = {"p05": 0.05, "p50": 0.5, "p95": 0.95}[name]
            assert abs(rank - target) <= 0.002  # approxQuantile's 0.1% rank error, and a step
