"""One model's view of the stacked training set: its labelled rows and their three parts.

Why apart from `training.datasets` (which builds the stacked frames): which rows a model may
learn from is a question of labels, shared by training, promotion and the real-data
evaluation, and answered here once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import pandas as pd

from training.config import ModelKind

LABELS: dict[ModelKind, str] = {"churn": "churned", "recall": "returned", "value": "future_value"}
LOST = "lost"


def lost_outcome(frame: pd.DataFrame) -> pd.Series:
    """1 when the user is lost: churned (active at the cutoff) or not returned (lapsed).

    The value model conditions on this one outcome for both populations, which is what lets
    serving mix its two heads with the churn or the recall probability alike. Missing where
    neither label exists (a frame without `returned` leaves lapsed users without one).
    """
    churned = frame["churned"] if "churned" in frame else pd.Series(np.nan, index=frame.index)
    returned = frame["returned"] if "returned" in frame else pd.Series(np.nan, index=frame.index)
    return churned.where(churned.notna(), 1.0 - returned).rename(LOST)


def labelled_rows(frame: pd.DataFrame, kind: ModelKind) -> tuple[pd.DataFrame, int]:
    """The rows a model learns from and how many labelled rows it had to drop.

    The value model needs `future_value` and the `lost` outcome (added as a column); rows
    with a value but no outcome are dropped and counted, never silently imputed.
    """
    label = LABELS[kind]
    rows = frame[frame[label].notna()]
    if kind != "value":
        return rows, 0
    lost = lost_outcome(rows)
    known = lost.notna()
    return rows[known].assign(**{LOST: lost[known]}), int((~known).sum())


@dataclass(frozen=True)
class ModelData:
    """One model's matrices: training cutoffs, the OOT fit half and the OOT report half."""

    kind: ModelKind
    X_train: pd.DataFrame
    y_train: pd.Series
    X_fit: pd.DataFrame
    y_fit: pd.Series
    X_report: pd.DataFrame
    y_report: pd.Series
    fit_keys: pd.DataFrame  # user_id and as_of of the OOT fit rows, aligned with X_fit
    report_keys: pd.DataFrame  # user_id and as_of of the report rows, aligned with X_report
    train_cutoffs: tuple[datetime, ...]
    oot_cutoff: datetime
    # The value model's `lost` outcome per row of each part (None for the classifiers).
    lost_train: pd.Series | None = None
    lost_fit: pd.Series | None = None
    lost_report: pd.Series | None = None
    dropped_rows: int = 0  # labelled rows without the outcome the model needs

    def summary(self) -> dict[str, object]:
        """Row counts and cutoffs, logged as run parameters."""
        summary: dict[str, object] = {
            "train_rows": len(self.X_train),
            "oot_fit_rows": len(self.X_fit),
            "oot_report_rows": len(self.X_report),
            "train_cutoffs": ",".join(f"{t:%Y-%m-%d}" for t in self.train_cutoffs),
            "oot_cutoff": f"{self.oot_cutoff:%Y-%m-%d}",
        }
        if self.kind == "value":
            summary["rows_without_outcome"] = self.dropped_rows
        return summary

    def with_columns(self, columns: list[str]) -> ModelData:
        """The same rows with only `columns` as features (ablations drop feature groups)."""
        return replace(
            self,
            X_train=self.X_train[columns],
            X_fit=self.X_fit[columns],
            X_report=self.X_report[columns],
        )

    def fit_outcomes(self) -> dict[str, pd.Series]:
        """Keyword arguments of the estimator's `fit` beyond X and y (the value's `lost`)."""
        if self.lost_train is None or self.lost_fit is None:
            return {}
        return {"lost": self.lost_train, "lost_valid": self.lost_fit}


def model_data(
    kind: ModelKind,
    parts: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
    columns: list[str],
    train_cutoffs: tuple[datetime, ...],
    oot_cutoff: datetime,
    dropped_rows: int = 0,
) -> ModelData:
    """ModelData from (training, OOT fit, OOT report) rows as `labelled_rows` returns them."""
    label = LABELS[kind]
    train, fit, report = (part.reset_index(drop=True) for part in parts)
    with_lost = LOST in train.columns
    return ModelData(
        kind=kind,
        X_train=train[columns],
        y_train=train[label],
        X_fit=fit[columns],
        y_fit=fit[label],
        X_report=report[columns],
        y_report=report[label],
        fit_keys=fit[["user_id", "as_of"]],
        report_keys=report[["user_id", "as_of"]],
        train_cutoffs=train_cutoffs,
        oot_cutoff=oot_cutoff,
        lost_train=train[LOST] if with_lost else None,
        lost_fit=fit[LOST] if with_lost else None,
        lost_report=report[LOST] if with_lost else None,
        dropped_rows=dropped_rows,
    )
