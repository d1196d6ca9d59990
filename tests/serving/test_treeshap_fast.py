"""Fast exact TreeSHAP (serving/scoring/treeshap_fast.py) against LightGBM's own `pred_contrib`.

The reference is LightGBM itself (an independent implementation: the recursive path-dependent
TreeSHAP in C++), on small real boosters trained here; one stump is checked by hand. Shapes
that stress the tables: NaNs and LightGBM's three missing-value rules in both default
directions, depth-limited and deep trees, single-leaf trees, early stopping. The reasons
test runs the real scoring pipeline's output against reasons worded from LightGBM's numbers.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from serving.scoring import treeshap_tables
from serving.scoring.treeshap_fast import TreeShapTables, exact_contributions, shap_values
from serving.scoring.treeshap_tables import shap_tables

TOLERANCE = 1e-9


def _data(rows: int = 600, features: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features with an interaction and a threshold, a binary outcome drawn from them."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, features))
    logit = 1.5 * x[:, 0] - x[:, 1] * (x[:, 2] > 0) + 0.5 * np.abs(x[:, 3])
    return x, (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(float)


def _booster(x: np.ndarray, y: np.ndarray, rounds: int = 20, **params: object) -> lgb.Booster:
    # One thread: on a busy 2-core machine OpenMP's spinning threads make tiny fits take seconds.
    settings = {"objective": "binary", "verbosity": -1, "num_leaves": 15, "seed": 1}
    settings.update(num_threads=1, **params)
    return lgb.train(settings, lgb.Dataset(x, label=y), num_boost_round=rounds)


def _assert_like_lightgbm(booster: lgb.Booster, rows: np.ndarray, iterations: int = 0) -> None:
    """The tables' contributions equal `pred_contrib` at `iterations` (0: all trees)."""
    dump = booster.dump_model(num_iteration=iterations or None)
    tables = shap_tables(dump)
    assert tables.unsupported is None
    expected = booster.predict(rows, num_iteration=iterations or None, pred_contrib=True)
    np.testing.assert_allclose(shap_values(tables, rows), expected, rtol=0, atol=TOLERANCE)


def test_a_stump_gives_the_hand_computed_shapley_value():
    # One split on x0 at 0.5; left leaf -1 (count 3), right leaf +2 (count 1).
    # Expected value = (3·(−1) + 1·2) / 4 = −0.25; a row going right gets 2 − (−0.25) = 2.25,
    # a row going left gets −1 − (−0.25) = −0.75; the other feature gets nothing.
    leaf = {"leaf_index": 0, "leaf_value": -1.0, "leaf_count": 3}
    right = {"leaf_index": 1, "leaf_value": 2.0, "leaf_count": 1}
    root = {
        **{"split_feature": 0, "threshold": 0.5, "decision_type": "<="},
        **{"default_left": True, "missing_type": "None", "internal_count": 4},
        **{"left_child": leaf, "right_child": right},
    }
    tables = shap_tables({"max_feature_idx": 1, "tree_info": [{"tree_structure": root}]})
    values = shap_values(tables, np.array([[1.0, 7.0], [0.0, 7.0]]))
    np.testing.assert_allclose(values, [[2.25, 0.0, -0.25], [-0.75, 0.0, -0.25]], atol=1e-15)


@pytest.mark.parametrize(
    ("params", "nan_share"),
    [
        ({}, 0.0),  # no missing values in training: missing_type None, NaN is read as 0
        ({}, 0.2),  # NaNs in training: missing_type NaN, default_left learnt either way
        ({"zero_as_missing": True}, 0.2),  # missing_type Zero: 0 and NaN take the default
        ({"max_depth": 3, "num_leaves": 8}, 0.1),  # depth-limited
        ({"num_leaves": 63, "min_data_in_leaf": 3, "max_depth": -1}, 0.1),  # deep
    ],
)
def test_contributions_equal_lightgbm_pred_contrib(params, nan_share):
    x, y = _data()
    rng = np.random.default_rng(1)
    train = np.where(rng.random(x.shape) < nan_share, np.nan, x)
    booster = _booster(train, y, **params)
    rows = np.where(rng.random(x.shape) < 0.2, np.nan, x[::-1].copy())
    rows[:20, :3] = 0.0  # exact zeros (the Zero rule) and values LightGBM reads as zero
    rows[20:30, :3] = np.array([1e-40, -1e-40, 5e-36])
    _assert_like_lightgbm(booster, rows)


def test_deep_trees_really_are_deep():
    x, y = _data(rows=1500, features=10)
    booster = _booster(x, y, rounds=5, num_leaves=63, min_data_in_leaf=3)
    tables = shap_tables(booster.dump_model())
    assert np.diff(tables.leaf_slot_start).max() >= 8  # paths with >= 8 distinct features
    _assert_like_lightgbm(booster, x[:300])


def test_single_leaf_trees_count_only_in_the_bias():
    # LightGBM stops boosting at the first tree without a split, so no trained model mixes
    # both kinds; one dump holding both booster's trees is explained by the sum of theirs.
    x, y = _data(rows=400, features=4)
    bare = _booster(x, y, rounds=3, min_data_in_leaf=300)
    split = _booster(x, y, rounds=4)
    dump = split.dump_model()
    bare_trees = bare.dump_model()["tree_info"]
    assert all("split_feature" not in tree["tree_structure"] for tree in bare_trees)
    dump["tree_info"] = [*bare_trees, *dump["tree_info"]]
    expected = bare.predict(x, pred_contrib=True) + split.predict(x, pred_contrib=True)
    values = shap_values(shap_tables(dump), x)
    np.testing.assert_allclose(values, expected, rtol=0, atol=TOLERANCE)


def test_a_model_of_single_leaves_is_all_bias():
    x, y = _data(rows=50, features=4)
    booster = _booster(x, y, rounds=3, min_data_in_leaf=40)
    _assert_like_lightgbm(booster, x)
    assert np.all(shap_values(shap_tables(booster.dump_model()), x)[:, :-1] == 0.0)


def test_only_the_trees_up_to_the_best_iteration_count():
    x, y = _data()
    booster = _booster(x, y, rounds=20)
    _assert_like_lightgbm(booster, x, iterations=7)


def test_an_early_stopped_model_is_explained_at_its_best_iteration():
    from training.estimators import ChurnClassifier

    x, y = _data(rows=1200, features=6, seed=3)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(6)])
    model = ChurnClassifier(
        params={"learning_rate": 0.3, "num_threads": 1}, early_stopping_rounds=5
    )
    model.fit(frame[:800], y[:800], frame[800:], y[800:])
    for best in (model.best_iteration_, model.best_iteration_ - 2):
        # LightGBM keeps only the trees up to the best iteration; a booster kept whole (more
        # trees than `best_iteration_`) must still be explained at its best iteration.
        model.best_iteration_ = best
        expected = model.contributions(frame)  # LightGBM pred_contrib at best_iteration_
        fast = exact_contributions(model, frame)
        assert list(fast.columns) == list(expected.columns)
        assert fast.index.equals(expected.index)
        np.testing.assert_allclose(fast.to_numpy(), expected.to_numpy(), rtol=0, atol=TOLERANCE)
    assert TreeShapTables(model).unsupported is None


def test_categorical_splits_are_left_to_lightgbm():
    rng = np.random.default_rng(2)
    x = np.column_stack([rng.integers(0, 6, 500), rng.normal(size=500)]).astype(float)
    y = (np.isin(x[:, 0], [1, 4]) ^ (x[:, 1] > 0.5)).astype(float)
    data = lgb.Dataset(x, label=y, categorical_feature=[0])
    settings = {"objective": "binary", "verbosity": -1, "min_data_per_group": 5, "num_threads": 1}
    booster = lgb.train(settings, data, 5)
    tables = shap_tables(booster.dump_model())
    assert tables.unsupported == "a categorical split"
    with pytest.raises(ValueError, match="categorical split"):
        shap_values(tables, x)


def test_paths_too_wide_for_a_table_are_left_to_lightgbm(monkeypatch):
    x, y = _data()
    booster = _booster(x, y, rounds=3)
    monkeypatch.setattr(treeshap_tables, "MAX_PATH_FEATURES", 1)
    assert "distinct features" in shap_tables(booster.dump_model()).unsupported


def test_the_wrong_number_of_columns_is_refused():
    x, y = _data()
    tables = shap_tables(_booster(x, y, rounds=2).dump_model())
    with pytest.raises(ValueError, match="users × 6 features"):
        shap_values(tables, x[:, :4])


def test_pipeline_reasons_are_the_ones_lightgbm_contributions_give(scored, champions):
    """The served table (exact reasons through the tables) against reasons worded from
    LightGBM's own `pred_contrib`, computed here for each population's model."""
    from serving.scoring.pipeline import (
        ScoringConfig,
        active_mask,
        churn_contributions,
        feature_matrix,
    )
    from serving.scoring.reason_inputs import reason_lines, reason_reference

    features = scored.features
    matrix = feature_matrix(features, champions.feature_set)
    active = active_mask(features)
    parts = [champions.churn.contributions(matrix[active])]
    if champions.recall is not None:
        parts.append(-champions.recall.contributions(matrix[~active]))
    lightgbm = pd.concat(parts).loc[matrix.index]
    fast = churn_contributions(champions, matrix, active, ScoringConfig())
    np.testing.assert_allclose(fast.to_numpy(), lightgbm.to_numpy(), rtol=0, atol=TOLERANCE)
    reference = reason_reference(matrix, active)
    expected = reason_lines(matrix, lightgbm, active, champions, 3, reference)
    assert (scored.scores["reasons"].to_numpy() == expected).all()
