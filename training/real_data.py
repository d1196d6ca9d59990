"""Retain against classical baselines on a real log, at one as-of date, strictly out of time.

Why a protocol of its own (and not `retain train`'s OOT split): `retain train` validates on a
held-out half of the users at its latest labelled cutoff, and calibrates on the other half of the
*same* period. Here the question is the operator's: "had we run Retain on --as-of, how right
would it have been?" So nothing after --as-of is used for anything but the final comparison:

- Features and labels are built at cutoffs stepping back from --as-of (`cutoffs.step_days`,
  at most `cutoffs.count` of them, none earlier than `min_history_days` after the first event).
- Per model, the *validation* cutoff V is the latest one whose label window ends by --as-of;
  the model trains on cutoffs whose windows end by V (the usual embargo), stops early and is
  calibrated on V. The rule-based and logistic baselines train on the same training cutoffs.
- BG/NBD and Gamma-Gamma are fitted on all transactions before --as-of (they need no labels).
- Every model then scores every user at --as-of and is compared with what happened after it:
  churn on users active at --as-of, value on every user seen before it. Same rows for all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from features import FEATURE_SET, LoadedEvents, WindowConfig, resolve_feature_set
from training.calibration_check import (
    CalibrationCheck,
    ValueScaleCheck,
    calibration_check,
    value_scale_check,
)
from training.clv_baselines import ClvBaseline
from training.config import ExperimentConfig, ModelKind
from training.datasets import (
    ModelData,
    data_fingerprint,
    labelled_rows,
    model_data,
    stack_frames,
)
from training.evaluation import evaluate, score
from training.metrics import auc_difference_interval

RETAIN = "retain"
BGNBD = "bgnbd"  # P(no transaction in the churn horizon); BG/NBD × Gamma-Gamma for value
BGNBD_PALIVE = "bgnbd_1-p_alive"  # 1 − P(alive): shown to justify the choice above
Step = Callable[[str], None]


def _midnight(moment: datetime) -> datetime:
    """Cutoffs are whole days: features and labels are built at midnight (naive UTC)."""
    return datetime(moment.year, moment.month, moment.day)


@dataclass(frozen=True)
class ModelComparison:
    """One model kind: metrics per model (columns) and how the split was made."""

    kind: ModelKind
    table: pd.DataFrame  # index = metric, columns = models (retain first)
    train_cutoffs: tuple[datetime, ...]
    validation_cutoff: datetime
    rows: dict[str, int]
    # 95% paired-bootstrap interval of Retain's ROC-AUC minus the best baseline's (churn only).
    roc_auc_margin_interval: tuple[float, float] | None = None
    # Churn: Retain's ECE split into base-rate drift, shape and sampling noise. Value: its mean
    # bias beside how far the actual mean moved since the scale was set.
    calibration: CalibrationCheck | ValueScaleCheck | None = None

    def best_baseline(self, metric: str) -> tuple[str, float]:
        """The baseline with the highest `metric` (all headline metrics are higher-is-better)."""
        others = self.table.loc[metric].drop(RETAIN).dropna()
        return str(others.idxmax()), float(others.max())

    def margin(self, metric: str) -> float:
        """Retain's `metric` minus the best baseline's (positive: Retain wins)."""
        return float(self.table.loc[metric, RETAIN]) - self.best_baseline(metric)[1]


@dataclass(frozen=True)
class RealDataEvaluation:
    """Everything one `retain evaluate` run measured, ready to print, log or write."""

    source: str
    as_of: datetime
    windows: WindowConfig
    load_summary: str
    fingerprint: str
    churn: ModelComparison
    value: ModelComparison
    bgnbd_params: dict[str, float]
    spend_params: dict[str, float] | None
    bgnbd_log_likelihood: float
    customers: int
    run_id: str | None = None
    notes: list[str] = field(default_factory=list)

    def headline(self) -> str:
        """Does Retain's churn model beat the best baseline's ROC-AUC, by how much, and surely?"""
        name, best = self.churn.best_baseline("roc_auc")
        ours = float(self.churn.table.loc["roc_auc", RETAIN])
        verdict = "beats" if ours > best else "does NOT beat"
        line = (
            f"Retain churn ROC-AUC {ours:.4f} {verdict} the best baseline ({name}, {best:.4f}) "
            f"by {ours - best:+.4f}"
        )
        if self.churn.roc_auc_margin_interval is None:
            return line
        low, high = self.churn.roc_auc_margin_interval
        if low > 0:
            reading = "a win beyond resampling noise"
        elif high < 0:
            reading = "a loss beyond resampling noise"
        else:
            reading = "a statistical tie (the interval spans zero)"
        return f"{line}; 95% paired bootstrap [{low:+.4f}, {high:+.4f}], {reading}"


def evaluation_schedule(
    as_of: datetime, min_event_time: datetime, config: ExperimentConfig
) -> list[datetime]:
    """Labelled cutoffs before `as_of`, ascending: as_of − k·step for k = 1..count."""
    step, count = config.cutoffs.step_days, config.cutoffs.count
    earliest = _midnight(min_event_time) + timedelta(days=config.cutoffs.min_history_days)
    schedule = [as_of - timedelta(days=step * k) for k in range(1, count + 1)]
    return sorted(t for t in schedule if t >= earliest)


def split_for(
    kind: ModelKind,
    frame: pd.DataFrame,
    schedule: list[datetime],
    as_of: datetime,
    horizon: int,
    columns: Sequence[str] = FEATURE_SET.columns,
) -> tuple[ModelData, datetime]:
    """The model's rows (training cutoffs, validation cutoff V, as-of) and V itself, with the
    feature `columns` (the config's feature set)."""
    ready = [t for t in schedule if t + timedelta(days=horizon) <= as_of]
    if not ready:
        raise ValueError(
            f"no cutoff before {as_of:%Y-%m-%d} has its {horizon}-day {kind} label window closed "
            "by then: choose a later --as-of or a shorter horizon"
        )
    validation = ready[-1]
    train_at = [t for t in ready if t + timedelta(days=horizon) <= validation]
    if not train_at:
        raise ValueError(
            f"the {kind} model has no training cutoff before its validation cutoff "
            f"{validation:%Y-%m-%d}: raise cutoffs.count, lower cutoffs.step_days or "
            "cutoffs.min_history_days, or choose a later --as-of"
        )
    rows, dropped = labelled_rows(frame, kind)

    def part(at: list[datetime]) -> pd.DataFrame:
        chosen = rows[rows["as_of"].isin(at)].reset_index(drop=True)
        if chosen.empty:
            raise ValueError(f"the {kind} model has no labelled rows at {at[0]:%Y-%m-%d}")
        return chosen

    parts = (part(train_at), part([validation]), part([as_of]))
    data = model_data(kind, parts, list(columns), tuple(train_at), as_of, dropped)
    return data, validation


def _transactions(loaded: LoadedEvents, as_of: datetime, windows: WindowConfig) -> pd.DataFrame:
    """Activity events before `as_of` (the BG/NBD's transactions), as a pandas frame."""
    from features import to_frame

    table = loaded.table
    table = table.filter(table.event_time < as_of)
    if windows.activity_events:
        table = table.filter(table.event_type.isin(list(windows.activity_events)))
    return to_frame(loaded.backend, table.select("user_id", "event_time", "amount"))


def compare_models(
    data: ModelData,
    config: ExperimentConfig,
    clv_scores: dict[str, pd.Series],
    validation: datetime,
) -> ModelComparison:
    """Retain's model and the feature baselines (via `training.evaluation`), plus a CLV score."""
    outcome = evaluate(data, config)
    columns = {RETAIN: outcome.metrics, **outcome.baseline_metrics}
    keys = data.report_keys["user_id"].astype(str)
    clv_predictions: dict[str, np.ndarray] = {}
    if data.kind == "churn":
        clv_predictions[BGNBD] = _aligned(clv_scores["churn"], keys, 1.0)
        clv_predictions[BGNBD_PALIVE] = _aligned(clv_scores["dead"], keys, 1.0)
        for name, predicted in clv_predictions.items():
            columns[name] = score("churn", data.y_report, predicted)
    else:
        columns[BGNBD] = score("value", data.y_report, _aligned(clv_scores["value"], keys, 0.0))
    table = pd.DataFrame(columns)
    table = table.drop(index=[m for m in ("best_iteration",) if m in table.index])
    comparison = ModelComparison(
        kind=data.kind,
        table=table,
        train_cutoffs=data.train_cutoffs,
        validation_cutoff=validation,
        rows={
            "train": len(data.X_train),
            "validation": len(data.X_fit),
            "as_of": len(data.X_report),
        },
    )
    if data.kind != "churn":
        check = value_scale_check(data.y_fit, data.y_report, outcome.predictions)
        return replace(comparison, calibration=check)
    scores = {RETAIN: outcome.predictions, **outcome.baseline_predictions, **clv_predictions}
    rival = scores[comparison.best_baseline("roc_auc")[0]]
    interval = auc_difference_interval(data.y_report, scores[RETAIN], rival)
    check = calibration_check(data.y_fit, data.y_report, outcome.predictions)
    return replace(comparison, roc_auc_margin_interval=interval, calibration=check)


def _aligned(values: pd.Series, keys: pd.Series, missing: float) -> np.ndarray:
    """`values` (indexed by user id) in the order of `keys`; users it lacks get `missing`."""
    return values.reindex(keys.to_numpy()).fillna(missing).to_numpy(dtype=float)


def run_evaluation(
    events: str | Path,
    as_of: datetime,
    config: ExperimentConfig,
    on_step: Step | None = None,
) -> RealDataEvaluation:
    """Build features, fit everything as of `as_of`, score, and compare (see the docstring)."""
    from features import feature_frame, labels_unseen

    step = on_step or (lambda message: None)
    as_of, windows = _midnight(as_of), config.windows
    step("loading events")
    loaded = config.data.load(events)
    report = loaded.report
    if not report.rows_accepted or report.min_event_time is None or report.max_event_time is None:
        raise ValueError(f"{report.summary()}: no valid events to evaluate on")
    if unseen := labels_unseen(as_of, report.max_event_time, windows):
        raise ValueError(f"--as-of: {unseen}")
    schedule = evaluation_schedule(as_of, report.min_event_time, config)
    # v2 without named types: the log's most frequent ones before --as-of (nothing after it).
    chosen = resolve_feature_set(config.chosen_feature_set(), loaded, as_of)
    frames = []
    for done, cutoff in enumerate([*schedule, as_of], start=1):
        step(f"features at {cutoff:%Y-%m-%d} ({done}/{len(schedule) + 1})")
        frames.append(feature_frame(loaded, cutoff, windows, labels=True, feature_set=chosen))
    frame = stack_frames(frames, chosen.columns)

    step("fitting BG/NBD and Gamma-Gamma")
    clv = ClvBaseline.fit(_transactions(loaded, as_of, windows), as_of)
    scored = clv.scores(windows.churn_horizon_days, windows.value_horizon_days)
    clv_scores = {
        "churn": scored.set_index("user_id")["churn_probability"],
        "dead": 1.0 - scored.set_index("user_id")["p_alive"],
        "value": scored.set_index("user_id")["predicted_value"],
    }
    comparisons: dict[str, ModelComparison] = {}
    for kind in ("churn", "value"):
        step(f"training and scoring the {kind} models")
        horizon = windows.churn_horizon_days if kind == "churn" else windows.value_horizon_days
        data, validation = split_for(kind, frame, schedule, as_of, horizon, chosen.columns)
        comparisons[kind] = compare_models(data, config, clv_scores, validation)
    return RealDataEvaluation(
        source=str(events),
        as_of=as_of,
        windows=windows,
        load_summary=report.summary(),
        fingerprint=data_fingerprint(events),
        churn=comparisons["churn"],
        value=comparisons["value"],
        bgnbd_params=clv.params,
        spend_params=clv.spend_params,
        bgnbd_log_likelihood=clv.log_likelihood,
        customers=len(clv.rfm),
    )
