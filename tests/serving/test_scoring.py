"""Batch scoring with real champions: the output contract, known answers, and refusals."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from features.definitions import FEATURE_SET
from serving.decisions.actions import NO_ACTION, load_catalogue
from serving.decisions.segments import STAGES, TIERS
from serving.scoring.champions import FeatureSetMismatchError, check_feature_set, model_windows
from serving.scoring.pipeline import (
    SCORE_COLUMNS,
    ScoringConfig,
    latest_cutoff,
    score_events,
    score_features,
)
from serving.scoring.score_files import read_scores
from training.registry import ModelInfo

pytestmark = pytest.mark.slow  # the session fixture trains both models once (~15 s)


def test_one_row_per_user_with_the_contract_columns(scored, champions, loaded_events):
    scores = scored.scores
    assert list(scores.columns) == list(SCORE_COLUMNS)
    assert scores["user_id"].is_unique
    assert len(scores) == len(scored.features) > 2_000
    assert scored.as_of == latest_cutoff(loaded_events)
    assert (scores["as_of"] == pd.Timestamp(scored.as_of)).all()
    assert scores["churn_probability"].between(0, 1).all()
    assert (scores["predicted_value"] >= 0).all()
    assert set(scores["lifecycle_stage"]) <= set(STAGES)
    assert set(scores["value_tier"]) <= set(TIERS)
    assert set(scores["action"]) <= set(load_catalogue().ids)
    assert (scores["reasons"].str.len() > 0).all()
    assert set(scores["churn_model_version"]) == {champions.versions["churn"]}
    assert set(scores["recall_model_version"]) == {champions.versions["recall"]}
    assert set(scores["value_model_version"]) == {champions.versions["value"]}
    assert set(scores["feature_set_id"]) == {FEATURE_SET.id}


def test_scores_are_the_champions_predictions(scored, champions):
    """Active users: the churn model; lapsed users: 1 − the recall model's return probability.
    Value: the value model's heads, mixed by that probability; at stake = retained − churned."""
    features = scored.features
    matrix = features[list(FEATURE_SET.columns)].astype("float64")
    active = features["active_at_cutoff"].to_numpy() == 1
    scores = scored.scores
    assert active.any() and (~active).any()
    np.testing.assert_allclose(
        scores["churn_probability"][active], champions.churn.churn_probability(matrix[active])
    )
    returning = champions.recall.return_probability(matrix[~active])
    np.testing.assert_allclose(scores["return_probability"][~active], returning)
    np.testing.assert_allclose(scores["churn_probability"][~active], 1.0 - returning)
    assert scores["return_probability"][active].isna().all()
    retained = champions.value.value_if_retained(matrix)
    churned = champions.value.value_if_churned(matrix)
    assert (retained >= churned - 1e-9).all()
    p = scores["churn_probability"].to_numpy()
    np.testing.assert_allclose(scores["value_if_retained"], retained)
    np.testing.assert_allclose(scores["value_at_stake"], np.clip(retained - churned, 0, None))
    np.testing.assert_allclose(scores["predicted_value"], p * churned + (1 - p) * retained)


def test_tiers_use_the_cut_points_stored_with_the_value_model(scored, champions):
    """A user's tier does not move because other users changed: scoring half the users gives
    every one of them the tier they had in the full run."""
    half = scored.features.iloc[::2]
    again = score_features(half, champions).scores.set_index("user_id")["value_tier"]
    full = scored.scores.set_index("user_id")["value_tier"]
    pd.testing.assert_series_equal(again, full.loc[again.index], check_names=False)
    stored = np.asarray(champions.value.retained_value_percentiles_)
    high = np.interp(80, np.arange(101), stored)
    top = scored.scores["value_if_retained"] >= high
    assert (scored.scores.loc[top, "value_tier"] == "high").all()
    assert (scored.scores.loc[~top, "value_tier"] != "high").all()


def test_expected_gain_is_risk_times_effect_times_value_at_stake_minus_cost(scored):
    catalogue = load_catalogue()
    acted = scored.scores[scored.scores["action"] != NO_ACTION]
    assert len(acted) > 50
    for row in acted.itertuples():
        action = catalogue.get(row.action)
        effect = action.effect.for_segment(row.lifecycle_stage, row.value_tier)
        expected = row.churn_probability * effect * row.value_at_stake - action.cost
        assert row.expected_gain == pytest.approx(expected)
        assert row.action_cost == action.cost
        assert row.expected_gain > 0
    idle = scored.scores[scored.scores["action"] == NO_ACTION]
    assert (idle["expected_gain"] == 0).all() and (idle["action_cost"] == 0).all()


def test_budget_caps_total_spend(scored, champions):
    unlimited_cost = scored.scores["action_cost"].sum()
    run = score_features(scored.features, champions, ScoringConfig(budget=10.0))
    capped = run.scores
    assert unlimited_cost > 10.0
    assert capped["action_cost"].sum() <= 10.0
    assert "budget_exhausted" in set(capped["decision_reason"])
    summary = run.decisions
    assert summary.achieved_gain == pytest.approx(capped["expected_gain"].sum())
    assert summary.upper_bound >= summary.achieved_gain
    assert summary.share_of_bound >= 0.99
    nothing = score_features(scored.features, champions, ScoringConfig(budget=0.0)).scores
    assert set(nothing["action"]) == {NO_ACTION}


def test_later_events_do_not_change_scores_at_a_cutoff(serving_store, champions, tmp_path):
    """Point in time: scoring at T from the full log equals scoring from the log cut at T."""
    from features.loading import load_events

    cutoff = datetime(2024, 12, 1)
    events = pd.read_parquet(serving_store.events)
    times = events["event_time"]
    naive = times.dt.tz_convert(None) if times.dt.tz is not None else times
    truncated_path = tmp_path / "before_cutoff.parquet"
    events[naive < cutoff].to_parquet(truncated_path)
    full = score_events(load_events(serving_store.events), champions, cutoff).scores
    truncated = score_events(load_events(truncated_path), champions, cutoff).scores
    # The cut removed events of users who are scored, so equality below is not vacuous.
    later = events.loc[naive >= cutoff, "user_id"]
    assert later.isin(full["user_id"]).sum() > 1_000
    pd.testing.assert_frame_equal(full, truncated)


def test_reasons_read_as_words(scored):
    at_risk = scored.scores[scored.scores["lifecycle_stage"] == "at_risk"]
    assert len(at_risk) > 0
    joined = " ".join(at_risk["reasons"])
    assert "_" not in joined.replace("no_action", "")  # feature names never leak through
    assert "days" in joined


def _info(feature_set_id: str, **params: str) -> ModelInfo:
    return ModelInfo(
        name="retain-churn",
        version="7",
        run_id="r",
        trained_at=datetime(2025, 1, 1),
        feature_set_id=feature_set_id,
        params=params,
    )


class _FakeModel:
    def __init__(self, feature_set_id: str, names: list[str]) -> None:
        self.feature_set_id = feature_set_id
        self.feature_names_ = names


def test_a_model_of_another_feature_set_is_refused():
    model = _FakeModel("behavioural_v0", list(FEATURE_SET.columns))
    with pytest.raises(FeatureSetMismatchError, match=r"'behavioural_v0'.*'behavioural_v1'"):
        check_feature_set(model, _info("behavioural_v0"))
    unknown = _FakeModel(FEATURE_SET.id, [*FEATURE_SET.columns, "shoe_size"])
    with pytest.raises(FeatureSetMismatchError, match="shoe_size"):
        check_feature_set(unknown, _info(FEATURE_SET.id))
    check_feature_set(_FakeModel(FEATURE_SET.id, list(FEATURE_SET.columns)), _info(FEATURE_SET.id))


def test_a_missing_store_is_reported_not_created(tmp_path):
    from serving.scoring.champions import ChampionsUnavailableError, load_champions

    store = tmp_path / "nowhere.db"
    with pytest.raises(ChampionsUnavailableError, match="no MLflow store"):
        load_champions(f"sqlite:///{store}")
    assert not store.exists()


def test_scoring_uses_the_windows_the_model_was_trained_with():
    info = _info(
        FEATURE_SET.id,
        **{
            "windows.churn_horizon_days": "45",
            "windows.active_window_days": "60",
            "windows.activity_events": "login,purchase",
        },
    )
    windows = model_windows(info)
    assert windows.churn_horizon_days == 45
    assert windows.active_window_days == 60
    assert windows.value_horizon_days == 90
    assert windows.activity_events == ("login", "purchase")
    assert model_windows(_info(FEATURE_SET.id)).activity_events is None


def test_a_feature_frame_without_the_feature_set_is_rejected(scored, champions):
    broken = scored.features.drop(columns=["events_7d"])
    with pytest.raises(ValueError, match="events_7d"):
        score_features(broken, champions)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_score_files_round_trip(scored, tmp_path, suffix):
    from features.output import write_frame

    path = write_frame(scored.scores, tmp_path / f"scores{suffix}")
    back = read_scores(path)
    pd.testing.assert_frame_equal(
        back[list(SCORE_COLUMNS)], scored.scores, check_dtype=False, check_exact=False
    )


def test_reading_a_file_that_is_not_a_score_file_fails_clearly(tmp_path):
    path = tmp_path / "other.csv"
    pd.DataFrame({"user_id": ["a"], "x": [1]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="not a `retain score` output"):
        read_scores(path)
    empty = tmp_path / "folder"
    (empty / "_temporary").mkdir(parents=True)
    (empty / "_temporary" / "part-0.parquet").write_bytes(b"unfinished")
    with pytest.raises(ValueError, match="without Parquet part files"):
        read_scores(empty)


def test_a_folder_of_part_files_reads_as_one_score_table(scored, tmp_path):
    folder = tmp_path / "scores"
    folder.mkdir()
    half = len(scored.scores) // 2
    scored.scores.iloc[:half].to_parquet(folder / "part-00000.parquet", index=False)
    scored.scores.iloc[half:].to_parquet(folder / "part-00001.parquet", index=False)
    (folder / "_SUCCESS").write_bytes(b"")
    back = read_scores(folder).sort_values("user_id").reset_index(drop=True)
    expected = scored.scores.sort_values("user_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(
        back[list(SCORE_COLUMNS)], expected, check_dtype=False, check_exact=False
    )


def test_path_attribution_adds_up_to_the_raw_score_and_agrees_with_treeshap(scored, champions):
    from serving.scoring.attribution import PathAttribution
    from serving.scoring.pipeline import feature_matrix

    matrix = feature_matrix(scored.features)
    path = PathAttribution(champions.churn).contributions(matrix)
    shap = champions.churn.contributions(matrix)
    assert list(path.columns) == list(shap.columns)
    np.testing.assert_allclose(path.sum(axis=1), champions.churn.raw_score(matrix), atol=1e-9)
    top_path = path.drop(columns="bias").to_numpy().argmax(axis=1)
    top_shap = shap.drop(columns="bias").to_numpy().argmax(axis=1)
    assert (top_path == top_shap).mean() > 0.6


def test_path_attribution_changes_reasons_only(scored, champions):
    fast = score_features(scored.features, champions, ScoringConfig(attribution="path")).scores
    same = [c for c in SCORE_COLUMNS if c != "reasons"]
    pd.testing.assert_frame_equal(fast[same], scored.scores[same])
    assert (fast["reasons"] != scored.scores["reasons"]).any()


def test_a_score_file_remembers_the_threshold_it_was_segmented_with(scored, champions, tmp_path):
    """Scored at a 0.7 threshold, the file says 0.7 after a Parquet round trip, and its at_risk
    users are exactly the active ones at or above 0.7 (none between 0.5 and 0.7)."""
    from serving.decisions.segment_config import Segmentation, stored_threshold

    strict = Segmentation().with_threshold(0.7)
    scores = score_features(scored.features, champions, ScoringConfig(segmentation=strict)).scores
    path = tmp_path / "strict.parquet"
    scores.to_parquet(path, index=False)
    back = read_scores(path)
    assert stored_threshold(back) == pytest.approx(0.7)
    assert stored_threshold(scored.scores) == pytest.approx(0.5)
    at_risk = back[back["lifecycle_stage"] == "at_risk"]
    assert len(at_risk) > 0 and (at_risk["churn_probability"] >= 0.7).all()
    assert stored_threshold(pd.DataFrame()) is None


def test_path_attribution_of_a_model_without_splits_is_all_bias():
    """A model that found no split (a tiny or constant training set) is one bare leaf per tree:
    every user's attribution is the leaf value, as bias, like LightGBM's own TreeSHAP."""
    import lightgbm as lgb

    from serving.scoring.attribution import PathAttribution

    rng = np.random.default_rng(0)
    matrix = pd.DataFrame(rng.normal(size=(50, 3)), columns=["a", "b", "c"])
    booster = lgb.train(
        {"objective": "binary", "min_data_in_leaf": 1000, "verbosity": -1},
        lgb.Dataset(matrix, (matrix["a"] > 0).astype(int)),
        3,
    )

    class Stump:  # the estimator attributes PathAttribution reads
        booster_, feature_names_, best_iteration_ = booster, ["a", "b", "c"], 1

    path = PathAttribution(Stump()).contributions(matrix)
    shap = booster.predict(matrix, pred_contrib=True)
    np.testing.assert_allclose(path.to_numpy(), shap)
    assert (path[["a", "b", "c"]] == 0).all().all()
