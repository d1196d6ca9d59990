"""Scoring without a recall champion: a purchase log too short to train one still scores.

Why: a log shorter than the active window plus the churn horizon has no lapsed users with a
known return, so `retain train` cannot fit the recall model. Refusing to score then would leave
such a team with nothing; instead lapsed users are scored by the churn model, as before the
recall model existed, and every output says so.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from features import ACTIVE_FLAG
from serving.scoring.champions import RECALL_FALLBACK, load_champions
from serving.scoring.pipeline import feature_matrix, score_features
from tests.serving.conftest import clone_store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def without_recall(champions):
    return dataclasses.replace(champions, recall=None, recall_info=None)


def test_lapsed_users_are_scored_by_the_churn_model_and_it_is_said(scored, without_recall):
    fallback = score_features(scored.features, without_recall)
    scores, features = fallback.scores, scored.features
    lapsed = features[ACTIVE_FLAG].to_numpy() == 0
    assert lapsed.sum() > 100 and (~lapsed).sum() > 100
    # Independent: the churn estimator called directly on the lapsed users' feature rows.
    expected = without_recall.churn.churn_probability(feature_matrix(features[lapsed]))
    np.testing.assert_allclose(scores["churn_probability"].to_numpy()[lapsed], expected)
    np.testing.assert_allclose(scores["return_probability"].to_numpy()[lapsed], 1 - expected)
    # Active users are untouched by the fallback.
    np.testing.assert_allclose(
        scores["churn_probability"].to_numpy()[~lapsed],
        scored.scores["churn_probability"].to_numpy()[~lapsed],
    )
    assert scores["recall_model_version"].isna().all()
    assert scores["churn_model_version"].notna().all()
    assert without_recall.notes == [RECALL_FALLBACK]


def _client(store):
    """A client of the copy only (registry included: never the shared store)."""
    import mlflow

    return mlflow.MlflowClient(tracking_uri=store.tracking_uri, registry_uri=store.tracking_uri)


def test_a_registry_without_a_recall_champion_loads_with_the_note(serving_store, tmp_path):
    store = clone_store(serving_store, tmp_path / "store")
    _client(store).delete_registered_model_alias("retain-recall", "champion")
    loaded = load_champions(store.tracking_uri)
    assert loaded.recall is None and loaded.recall_info is None
    assert loaded.versions["recall"] is None and loaded.notes == [RECALL_FALLBACK]
    assert loaded.churn_info.version and loaded.value_info.version


def test_a_registry_without_a_churn_champion_is_still_refused(serving_store, tmp_path):
    from serving.scoring import ChampionsUnavailableError

    store = clone_store(serving_store, tmp_path / "store")
    _client(store).delete_registered_model_alias("retain-churn", "champion")
    with pytest.raises(ChampionsUnavailableError, match="churn"):
        load_champions(store.tracking_uri)


def test_the_score_file_keeps_the_missing_version_missing(scored, without_recall, tmp_path):
    from serving.scoring.score_files import read_scores

    path = tmp_path / "scores.parquet"
    score_features(scored.features, without_recall).scores.to_parquet(path)
    assert read_scores(path)["recall_model_version"].isna().all()
    assert pd.read_parquet(path)["recall_model_version"].dtype != object


def test_monitoring_without_a_recall_champion_measures_the_others_and_says_so(
    loaded_events, scored, champions, without_recall
):
    """`retain monitor` on a registry with no recall champion: the churn and value drift rows
    are those measured with one, and the missing model is an ok line, not a crash or a fault."""
    from monitoring import MonitorThresholds
    from retain.commands.monitor_checks import drift_rows

    as_of = scored.scores["as_of"].iloc[0].to_pydatetime()
    with_recall, _ = drift_rows(loaded_events, as_of, champions, MonitorThresholds())
    drift, checks = drift_rows(loaded_events, as_of, without_recall, MonitorThresholds())
    assert [(c.name, c.status) for c in checks] == [("reference_profile.recall", "ok")]
    assert "no recall champion" in checks[0].detail
    # What the recall profile adds (its scores, on the lapsed users) is gone; the rest is the
    # same measurement as with a recall champion.
    lapsed = int((scored.features[ACTIVE_FLAG].to_numpy() == 0).sum())
    same = [(d.feature, d.kind, d.rows, f"{d.psi:.9f}") for d in drift]
    full = [(d.feature, d.kind, d.rows, f"{d.psi:.9f}") for d in with_recall]
    missing = [row for row in full if row not in same]
    assert set(same) <= set(full) and missing
    assert all(kind == "score" and rows == lapsed for _, kind, rows, _ in missing)
