"""Fast per-user feature attributions for reason codes on large batches (path attribution).

Why it was written: LightGBM's exact TreeSHAP (`pred_contrib`) cost ~0.2-0.5 ms of CPU per user
for our churn model. Exact TreeSHAP from precomputed leaf tables (`treeshap_fast.py`, the
default) now costs ~15 µs, so this is an option, no longer a necessity. Reason
codes only need the top few drivers of each user's risk, so batch scoring can use the
path attribution of Saabas (the "approximate contributions" of XGBoost): along the path a user
takes through each tree, every split moves the node value, and that move is credited to the
split's feature. Per tree this is one fixed vector per leaf, precomputed once; a user's
attribution is then the sum, over trees, of the vectors of the leaves LightGBM routes them to
(`pred_leaf`, as fast as prediction). Like TreeSHAP it adds up exactly to the raw score
(log-odds) minus the bias; unlike TreeSHAP it can over-credit features split near the leaves.
`/explain` keeps exact TreeSHAP (one user is cheap); `ScoringConfig.attribution` picks per run.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


class PathAttribution:
    """Saabas attributions of a fitted `ChurnClassifier`/`ValueRegressor` or of a stacked
    churn/recall model (columns + `bias`).

    Built once per model (walks the dumped trees); `contributions(X)` has the same shape and
    column names as the estimator's TreeSHAP `contributions(X)`.
    """

    def __init__(self, estimator: Any) -> None:
        # A stacked model (training.stacking) attributes its LightGBM member's share with these
        # paths and its other members exactly; `boosted_` is that member.
        self._stack = estimator if hasattr(estimator, "boosted_") else None
        estimator = getattr(estimator, "boosted_", estimator)
        booster = estimator.booster_
        self.feature_names_ = list(estimator.feature_names_)
        self.num_iteration_ = int(estimator.best_iteration_)
        self._booster = booster
        trees = booster.dump_model(num_iteration=self.num_iteration_)["tree_info"]
        n_features = len(self.feature_names_)
        self.bias_ = 0.0
        self.leaf_tables_: list[np.ndarray] = []
        for tree in trees:
            root = tree["tree_structure"]
            n_leaves = int(tree["num_leaves"])
            table = np.zeros((n_leaves, n_features))
            # A single-leaf tree (a model that found no split: LightGBM dumps the root as a bare
            # leaf, without `leaf_index`): its value is all bias.
            if "split_feature" not in root:
                self.bias_ += float(root["leaf_value"])
            else:
                self.bias_ += float(root["internal_value"])
                self._walk(root, np.zeros(n_features), table)
            self.leaf_tables_.append(table)

    @staticmethod
    def _walk(node: dict[str, Any], path: np.ndarray, table: np.ndarray) -> None:
        """Depth-first: credit each child's value change to its parent's split feature."""
        stack = [(node, path)]
        while stack:
            current, credit = stack.pop()
            value = float(current["internal_value"])
            feature = int(current["split_feature"])
            for side in ("left_child", "right_child"):
                child = current[side]
                child_value = float(
                    child["leaf_value"] if "leaf_index" in child else child["internal_value"]
                )
                child_credit = credit.copy()
                child_credit[feature] += child_value - value
                if "leaf_index" in child:
                    table[int(child["leaf_index"])] = child_credit
                else:
                    stack.append((child, child_credit))

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        """Per-row attributions to the raw score, one column per feature plus `bias`."""
        matrix = X[self.feature_names_].astype("float64")
        leaves = self._booster.predict(
            matrix, num_iteration=self.num_iteration_, pred_leaf=True
        ).astype(np.intp)
        leaves = leaves.reshape(len(matrix), -1)
        total = np.zeros((len(matrix), len(self.feature_names_)))
        for tree, table in enumerate(self.leaf_tables_):
            total += table[leaves[:, tree]]
        frame = pd.DataFrame(total, columns=self.feature_names_, index=X.index)
        frame["bias"] = self.bias_
        if self._stack is not None:
            return self._stack.contributions(X, tree_contributions=frame)
        return frame
