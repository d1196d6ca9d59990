"""Exact TreeSHAP contributions of a LightGBM model at batch speed (Fast TreeSHAP v2, numba).

Why: batch scoring with exact reasons spent ~85% of its time in LightGBM's `pred_contrib`
(~180 µs of CPU per user for the churn model), which held it near 0.5M users/min on 2 cores.
The reasons need every user's full contribution row (family sums, the fallback text reads the
row's total), so computing fewer is not an option; computing them faster is. The tables
(serving/scoring/treeshap_tables.py) hold everything that does not depend on the user; per user
the kernel evaluates each split once, carries each path's pattern of satisfied features down the
tree, and reads one table entry per distinct feature of each leaf (~15 µs of CPU per user for
the benchmark's churn model, ~13x less than `pred_contrib`). Rows run in parallel: the kernel
releases the GIL, so one plain thread per core each takes a slice of the rows (no numba
threading layer to fight LightGBM's OpenMP threads).

The output equals `estimator.contributions(X)` (LightGBM `pred_contrib` at `best_iteration_`)
to rounding: the same splits (LightGBM's missing-value rules, `default_left`, values within
1e-35 of zero read as zero), the same cover fractions, the same bias. Models the tables do not
cover (`ShapTables.unsupported`) are explained by LightGBM itself, so the answer never changes,
only the speed.
"""

from __future__ import annotations

import itertools
import os
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numba
import numpy as np
import pandas as pd

from serving.scoring.treeshap_tables import ZERO_THRESHOLD, ShapTables, shap_tables

ROWS_PER_THREAD = 2_000  # below this a second thread costs more than it saves
ROWS_PER_BLOCK = 64  # rows the kernel carries through a tree together (fastest of 64-512)
_NAN_MISSING, _ZERO_MISSING = 2, 1


@numba.njit(cache=True, nogil=True)
def _shap_kernel(
    rows: np.ndarray,
    node_feature: np.ndarray,
    node_threshold: np.ndarray,
    node_default_left: np.ndarray,
    node_missing: np.ndarray,
    tree_split_start: np.ndarray,
    tree_pos_start: np.ndarray,
    pos_parent: np.ndarray,
    pos_split: np.ndarray,
    pos_left: np.ndarray,
    pos_clear: np.ndarray,
    pos_leaf: np.ndarray,
    leaf_slot_start: np.ndarray,
    slot_feature: np.ndarray,
    slot_coef: np.ndarray,
    leaf_table_start: np.ndarray,
    tables: np.ndarray,
    out: np.ndarray,
) -> None:
    """Write every row's Shapley values (not the bias) into `out` (rows × features + 1).

    The arguments are `ShapTables`' arrays one by one: numba compiles arrays, not dataclasses.
    Rows go through in blocks, tree by tree, each split / position / slot applied to the whole
    block in a tight inner loop over rows (the loop the compiler vectorises; ~2x faster than
    one row at a time).
    """
    n_rows, n_features = rows.shape
    n_trees = tree_split_start.shape[0] - 1
    most_splits, most_positions = 1, 1
    for tree in range(n_trees):
        most_splits = max(most_splits, tree_split_start[tree + 1] - tree_split_start[tree])
        most_positions = max(most_positions, tree_pos_start[tree + 1] - tree_pos_start[tree])
    goes_left = np.empty((most_splits, ROWS_PER_BLOCK), dtype=np.bool_)
    pattern = np.empty((most_positions, ROWS_PER_BLOCK), dtype=np.int64)
    values = np.empty((n_features, ROWS_PER_BLOCK))
    phi = np.empty((n_features, ROWS_PER_BLOCK))
    for start in range(0, n_rows, ROWS_PER_BLOCK):
        size = min(ROWS_PER_BLOCK, n_rows - start)
        for feature in range(n_features):
            for r in range(size):
                value = rows[start + r, feature]
                # LightGBM reads values within 1e-35 of zero as zero before any split.
                values[feature, r] = 0.0 if abs(value) <= ZERO_THRESHOLD else value
                phi[feature, r] = 0.0
        for tree in range(n_trees):
            first_split, first_position = tree_split_start[tree], tree_pos_start[tree]
            # LightGBM's NumericalDecision: NaN takes the default side under the NaN rule, is
            # read as 0 otherwise; 0 takes the default side under the Zero rule.
            for split in range(first_split, tree_split_start[tree + 1]):
                feature, threshold = node_feature[split], node_threshold[split]
                default, missing = node_default_left[split], node_missing[split]
                local = split - first_split
                for r in range(size):
                    value = values[feature, r]
                    nan = np.isnan(value)
                    if missing == _NAN_MISSING:
                        goes_left[local, r] = default if nan else value <= threshold
                    elif missing == _ZERO_MISSING:
                        goes_left[local, r] = default if nan or value == 0.0 else value <= threshold
                    else:
                        goes_left[local, r] = threshold >= 0.0 if nan else value <= threshold
            for position in range(first_position, tree_pos_start[tree + 1]):
                local = position - first_position
                if pos_parent[position] < 0:  # the root: every slot still satisfied
                    for r in range(size):
                        pattern[local, r] = -1
                    continue
                parent, split = (
                    pos_parent[position] - first_position,
                    pos_split[position] - first_split,
                )
                left, keep = pos_left[position], ~pos_clear[position]
                for r in range(size):
                    strayed = goes_left[split, r] != left
                    pattern[local, r] = pattern[parent, r] & (keep if strayed else -1)
                leaf = pos_leaf[position]
                if leaf < 0:
                    continue
                first, base = leaf_slot_start[leaf], leaf_table_start[leaf]
                n_slots = leaf_slot_start[leaf + 1] - first
                mask = (1 << n_slots) - 1
                for slot in range(n_slots):
                    feature, coef = slot_feature[first + slot], slot_coef[first + slot]
                    for r in range(size):
                        # Held slot: coef · H(P minus it); absent slot: −H(P).
                        bits = pattern[local, r] & mask
                        held = (bits >> slot) & 1
                        entry = tables[base + (bits ^ (held << slot))]
                        phi[feature, r] += (coef if held else -1.0) * entry
        for r in range(size):
            for feature in range(n_features):
                out[start + r, feature] = phi[feature, r]


def shap_values(tables: ShapTables, rows: np.ndarray) -> np.ndarray:
    """Contributions of `rows` (users × the booster's features, float64): one column per
    feature and the bias last, as `pred_contrib` lays them out."""
    if tables.unsupported is not None:
        raise ValueError(f"these trees cannot be tabled ({tables.unsupported})")
    rows = np.ascontiguousarray(rows, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[1] != tables.n_features:
        raise ValueError(f"rows must be users × {tables.n_features} features; got {rows.shape}")
    out = np.zeros((rows.shape[0], tables.n_features + 1))
    if len(tables.tables):
        arrays = (
            tables.node_feature,
            tables.node_threshold,
            tables.node_default_left,
            tables.node_missing,
            tables.tree_split_start,
            tables.tree_pos_start,
            tables.pos_parent,
            tables.pos_split,
            tables.pos_left,
            tables.pos_clear,
            tables.pos_leaf,
            tables.leaf_slot_start,
            tables.slot_feature,
            tables.slot_coef,
            tables.leaf_table_start,
            tables.tables,
        )
        threads = max(1, min(len(os.sched_getaffinity(0)), len(rows) // ROWS_PER_THREAD))
        bounds = np.linspace(0, len(rows), threads + 1).astype(int)
        slices = [slice(start, end) for start, end in itertools.pairwise(bounds)]
        if threads == 1:
            _shap_kernel(rows, *arrays, out)
        else:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(lambda part: _shap_kernel(rows[part], *arrays, out[part]), slices))
    out[:, -1] = tables.bias
    return out


class TreeShapTables:
    """The exact TreeSHAP of a fitted Retain booster model (`ChurnClassifier`, `RecallClassifier`,
    a stack's `boosted_` member): built once per model, `contributions(X)` then matches
    `estimator.contributions(X)`.

    `unsupported` says why a model is left to LightGBM (None when the tables cover it).
    """

    def __init__(self, estimator: Any) -> None:
        booster = estimator.booster_
        self.booster_ = booster
        self.feature_names_ = list(estimator.feature_names_)
        self.num_iteration_ = int(estimator.best_iteration_)
        self.tables_ = shap_tables(booster.dump_model(num_iteration=self.num_iteration_))
        self.unsupported = self.tables_.unsupported
        if booster.feature_name() != self.feature_names_:
            # The value model feeds the booster an extra column (`lost`); its own
            # `contributions` knows how, so it keeps it.
            self.unsupported = "the booster's inputs are not the model's features"

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        """Per-row contributions to the raw score: one column per feature + `bias`."""
        missing = [name for name in self.feature_names_ if name not in X.columns]
        if missing:
            raise ValueError(f"input lacks feature column(s): {', '.join(missing)}")
        rows = X[self.feature_names_].to_numpy(dtype=np.float64, na_value=np.nan)
        values = shap_values(self.tables_, rows)
        return pd.DataFrame(values, columns=[*self.feature_names_, "bias"], index=X.index)


_EXPLAINERS: weakref.WeakKeyDictionary[Any, TreeShapTables] = weakref.WeakKeyDictionary()


def explainer_for(estimator: Any) -> TreeShapTables:
    """The estimator's tables, built on first use and kept while the estimator lives (scoring
    asks for the same champions batch after batch); rebuilt if it was refitted since."""
    explainer = _EXPLAINERS.get(estimator)
    stale = explainer is None or (
        explainer.booster_ is not estimator.booster_
        or explainer.num_iteration_ != int(estimator.best_iteration_)
    )
    if stale:
        explainer = TreeShapTables(estimator)
        _EXPLAINERS[estimator] = explainer
    return explainer


def exact_contributions(estimator: Any, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
    """`estimator.contributions(X)` (exact TreeSHAP), from the tables when they cover the model,
    else from LightGBM's `pred_contrib`: the same numbers either way.

    A stacked churn/recall model (training.stacking) takes its LightGBM member's TreeSHAP from
    the tables (`tree_contributions`) and adds its other, linear members as it always does.
    """
    member = getattr(estimator, "boosted_", estimator)
    explainer = explainer_for(member)
    if explainer.unsupported is not None:
        return estimator.contributions(X)
    trees = explainer.contributions(X)
    if member is estimator:
        return trees
    return estimator.contributions(X, tree_contributions=trees)
