"""Training sets over time: a cutoff schedule, stacked feature frames and the out-of-time split.

Why this shape:
- Validation is out of time. The latest cutoff whose label window is fully observed is the
  out-of-time (OOT) cutoff; models learn only from earlier cutoffs. Users are never split at
  random across time.
- Training cutoffs are embargoed per model: a training cutoff T is used only when its label
  window `[T, T + horizon)` ends by the OOT cutoff, so no training label looks at the period
  the model is validated on (what a model trained "on the OOT date" could really have known).
- Each model reads the rows its label exists for: churn the users active at the cutoff,
  recall the lapsed ones, value every user whose outcome (`lost`, see `lost_outcome`) is known.
- The OOT rows are split in two halves by a stable hash of `user_id` (the same user always
  lands in the same half, whatever the cutoff). The *fit* half drives early stopping and
  calibration; the *report* half is touched by nothing but the final metrics, so reported OOT
  metrics are never computed on rows the calibrator (or the stopping rule) has seen.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features import FEATURE_SET, FeatureSet, WindowConfig, feature_set_union
from training.config import ExperimentConfig, ModelKind
from training.model_data import LABELS, LOST, ModelData, labelled_rows, lost_outcome, model_data
from training.schedule import (
    Note,
    cutoff_schedule,
    latest_labelled_cutoff,
    model_horizon,
    training_cutoffs,
)

__all__ = [
    "LABELS",
    "LOST",
    "ModelData",
    "TrainingData",
    "build_training_data",
    "cutoff_schedule",
    "data_fingerprint",
    "labelled_rows",
    "latest_labelled_cutoff",
    "lost_outcome",
    "model_data",
    "oot_evaluation_set",
    "report_half",
    "stack_frames",
    "training_cutoffs",
    "training_data_for",
]


def report_half(user_ids: pd.Series) -> np.ndarray:
    """True for users in the reporting half of the OOT set (stable hash of the id, not random).

    `pandas.util.hash_pandas_object` uses a fixed key, so the split is the same in every run,
    process and machine, and a user is in the same half at every cutoff.
    """
    hashes = pd.util.hash_pandas_object(user_ids.astype(str), index=False).to_numpy()
    return (hashes % np.uint64(2)) == 1


def data_fingerprint(source: str | Path) -> str:
    """sha256 over the event files' relative names, sizes and full contents.

    Why the content and not only the metadata: two exports with the same size and dates but
    different rows must not look like the same training data when runs are compared or a
    challenger is judged on "the same out-of-time data". Hashing reads every byte once
    (about 1 s per GB); it is computed once per training run.
    """
    root = Path(source)
    paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for path in paths:
        name = path.name if root.is_file() else str(path.relative_to(root))
        digest.update(f"{name}\0{path.stat().st_size}\0".encode())
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class TrainingData:
    """Feature frames stacked over the schedule, plus where they came from.

    `feature_set` is the set the frames hold (for v2, with its event types); `overrides` are
    the config fields the log decided (training/log_adaptation.py), which `apply_to` puts into
    the config every run logs; `notes` say what was decided and warn of thin data.
    """

    frame: pd.DataFrame  # user_id, as_of, features and the labels, for every cutoff
    schedule: tuple[datetime, ...]
    windows: WindowConfig
    fingerprint: str
    source: str
    load_summary: str = ""
    feature_set: FeatureSet = FEATURE_SET
    notes: tuple[Note, ...] = ()
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def feature_columns(self) -> tuple[str, ...]:
        return self.feature_set.columns

    @property
    def oot_cutoff(self) -> datetime:
        return self.schedule[-1]

    def horizon(self, kind: ModelKind) -> int:
        """The label horizon that embargoes training cutoffs for this model."""
        return model_horizon(kind, self.windows)

    def notes_for(self, kind: ModelKind) -> list[str]:
        """What this data's notes say to one model's run: the general ones and its own."""
        return [note.text for note in self.notes if note.model in (None, kind)]

    def apply_to(self, config: ExperimentConfig) -> ExperimentConfig:
        """`config` with what this log decided (preset windows, weekly cutoffs, event types),
        after checking it asks for the feature set these frames hold."""
        if config.feature_set != self.feature_set.id:
            raise ValueError(
                f"the training data holds {self.feature_set.id} features but the config asks "
                f"for {config.feature_set}: build the data with this config"
            )
        return config.model_copy(update=self.overrides) if self.overrides else config

    def for_model(self, kind: ModelKind, oot_cutoff: datetime | None = None) -> ModelData:
        """Split for one model; `oot_cutoff` picks an earlier origin (used by backtests)."""
        oot = oot_cutoff or self.oot_cutoff
        train_at = training_cutoffs(list(self.schedule), oot, self.horizon(kind))
        if not train_at:
            raise ValueError(
                f"no training cutoff for the {kind} model before {oot:%Y-%m-%d}: with a "
                f"{self.horizon(kind)}-day horizon a cutoff must be at least that far earlier; "
                "add cutoffs (cutoffs.count) or use a smaller cutoffs.step_days"
            )
        used = self.frame[self.frame["as_of"].isin([*train_at, oot])]
        rows, dropped = labelled_rows(used, kind)
        train = rows[rows["as_of"].isin(train_at)]
        oot_rows = rows[rows["as_of"] == oot]
        in_report = report_half(oot_rows["user_id"])
        fit, report = oot_rows[~in_report], oot_rows[in_report]
        for name, part in (("training", train), ("OOT fit", fit), ("OOT report", report)):
            if len(part) == 0:
                raise ValueError(f"the {kind} model's {name} set is empty at {oot:%Y-%m-%d}")
        if kind == "value":
            _some_spend(train)
        else:
            _both_outcomes(kind, {"training": train, "OOT fit": fit})
        return model_data(
            kind, (train, fit, report), list(self.feature_columns), tuple(train_at), oot, dropped
        )


def _both_outcomes(kind: ModelKind, parts: dict[str, pd.DataFrame]) -> None:
    """Refuse a classifier's set in which every user has the same outcome, saying which.

    Why here, before any fitting: a log where no lapsed user ever comes back (a subscription
    that cannot be restarted) or where nobody churns leaves a classifier nothing to learn or
    calibrate on, and the recall model is optional (training/train.py): said up front, the
    other models still train instead of the run failing half-way through the fit.
    """
    label = LABELS[kind]
    for name, part in parts.items():
        positives = int(part[label].sum())
        if positives in (0, len(part)):
            raise ValueError(
                f"every one of the {len(part):,} rows of the {kind} model's {name} set has "
                f"{label}={int(positives > 0)}: a classifier needs both outcomes"
            )


def _some_spend(train: pd.DataFrame) -> None:
    """Refuse a value model's training set in which nobody spent anything, saying why.

    Why: a log of logins or views without amounts has a future value of 0 for everyone;
    LightGBM's Tweedie objective then stops with "sum of labels is zero", a traceback that
    names neither the log nor the fix.
    """
    label = LABELS["value"]
    if not (train[label] > 0).any():
        raise ValueError(
            f"every one of the {len(train):,} rows of the value model's training set has "
            f"{label}=0: the log records no spending, so there is no value to learn; Retain "
            "values users by their purchase amounts (events with an `amount`)"
        )


def stack_frames(
    frames: list[pd.DataFrame], columns: Sequence[str] = FEATURE_SET.columns
) -> pd.DataFrame:
    """Concatenate per-cutoff frames; the feature `columns` are cast to float64 once, here.

    Why float: counts come back as integers, but a model signature of "long" would make the
    served model reject a float input; one numeric type everywhere keeps training and serving
    schemas identical.
    """
    stacked = pd.concat(frames, ignore_index=True)
    present = [c for c in columns if c in stacked.columns]
    stacked[present] = stacked[present].astype("float64")
    return stacked


def build_training_data(
    events: str | Path,
    config: ExperimentConfig,
    on_cutoff: Callable[[datetime, int, int], None] | None = None,
) -> TrainingData:
    """Load events once, adapt the config to the log, compute features and labels at every
    cutoff, stack them.

    `on_cutoff(cutoff, done, total)` is called after each cutoff (the CLI's progress bar).
    """
    from features import feature_frame
    from training.log_adaptation import adapt_to_log

    loaded = config.data.load(events)
    report = loaded.report
    if not report.rows_accepted:
        raise ValueError(f"{report.summary()}: no valid events to train on")
    adapted = adapt_to_log(config, loaded)
    frames = []
    for done, cutoff in enumerate(adapted.schedule, start=1):
        frames.append(
            feature_frame(
                loaded, cutoff, adapted.windows, labels=True, feature_set=adapted.feature_set
            )
        )
        if on_cutoff:
            on_cutoff(cutoff, done, len(adapted.schedule))
    return TrainingData(
        frame=stack_frames(frames, adapted.feature_set.columns),
        schedule=tuple(adapted.schedule),
        windows=adapted.windows,
        fingerprint=data_fingerprint(events),
        source=str(events),
        load_summary=report.summary(),
        feature_set=adapted.feature_set,
        notes=adapted.notes,
        overrides=adapted.overrides,
    )


def training_data_for(
    config: ExperimentConfig,
    events: str | Path | None = None,
    data: TrainingData | None = None,
    on_cutoff: Callable[[datetime, int, int], None] | None = None,
) -> TrainingData:
    """`data` when given (tests and tuning reuse one stacked set), else built from `events`
    or, failing that, the config's `data.events`."""
    if data is not None:
        return data
    source = events or config.data.events
    if source is None:
        raise ValueError("no events given: pass --events PATH or set data.events in the config")
    return build_training_data(source, config, on_cutoff)


def oot_evaluation_set(
    events: str | Path,
    config: ExperimentConfig,
    kind: ModelKind,
    feature_sets: Sequence[FeatureSet] = (),
) -> tuple[pd.DataFrame, pd.Series, datetime, str]:
    """Only the OOT report half of `config`'s schedule on `events`: (X, y, cutoff, fingerprint).

    Promotion uses it to score a champion and a challenger on exactly the same rows without
    building every training cutoff again. X holds the columns of every set in `feature_sets`
    (default: the config's), so a v1 champion and a v2 challenger are judged on the same users;
    each model reads its own columns by name.
    """
    from features import feature_frame

    loaded = config.data.load(events)
    report = loaded.report
    if report.min_event_time is None or report.max_event_time is None:
        raise ValueError(f"{report.summary()}: no valid events to evaluate on")
    schedule = cutoff_schedule(
        report.min_event_time, report.max_event_time, config.windows, config.cutoffs
    )
    chosen = list(dict.fromkeys(feature_sets or (config.chosen_feature_set(),)))
    frame = feature_frame(loaded, schedule[-1], config.windows, labels=True, feature_set=chosen[0])
    for other in chosen[1:]:  # the same users (one row each, whatever the set); new columns only
        more = feature_frame(loaded, schedule[-1], config.windows, feature_set=other)
        extra = ["user_id", *(c for c in other.columns if c not in frame.columns)]
        frame = frame.merge(more[extra], on="user_id", how="left", validate="one_to_one")
    columns = list(feature_set_union(chosen))
    frame = stack_frames([frame], columns)
    rows, _ = labelled_rows(frame, kind)  # the same rows as the run's report half
    rows = rows[report_half(rows["user_id"])]
    return (
        rows[columns].reset_index(drop=True),
        rows[LABELS[kind]].reset_index(drop=True),
        schedule[-1],
        data_fingerprint(events),
    )
