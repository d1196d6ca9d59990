"""The three models, as scikit-learn-style estimators around LightGBM boosters.

`ChurnClassifier`: binary LightGBM with early stopping on out-of-time rows, then a calibrator
fitted on the predictions for those same out-of-time rows (`training.boosting` says why).
The registered model is this fitted model: it is not refitted on the OOT rows afterwards,
so what is registered is exactly what was evaluated.

`RecallClassifier`: the same machinery on lapsed users (not active at the cutoff) and the
`returned` label: the calibrated probability that a lapsed user comes back within the churn
horizon. It is its own class, not a churn model with another label, so a registered model
says what its probability means (`return_probability`) and cannot be mistaken for churn.

`ValueRegressor` (`training.value_model`): Tweedie LightGBM for spend over the value horizon,
unconditional and conditional on the user being retained or lost.

Contributions come from LightGBM's `pred_contrib` (exact TreeSHAP) on the raw score: log-odds
for the classifiers, log of expected value for value. They add up to the raw score, not to
the calibrated probability; `bias` is the expected raw score.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.boosting import CalibratedClassifier
from training.value_model import ValueRegressor

__all__ = ["ChurnClassifier", "RecallClassifier", "ValueRegressor"]


class ChurnClassifier(CalibratedClassifier):
    """Calibrated churn probability of users active at the cutoff."""

    def churn_probability(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """Calibrated probability of churning within the horizon, one value per row."""
        return self.probability(X)


class RecallClassifier(CalibratedClassifier):
    """Calibrated return probability of users lapsed at the cutoff.

    For a lapsed user, churn probability = 1 − return probability (DESIGN.md §4); serving
    makes that step, so this model only ever answers the question it was trained on.
    """

    def return_probability(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """Calibrated probability of an activity event within the churn horizon, per row."""
        return self.probability(X)
