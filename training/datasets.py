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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from features import FEATURE_SET, WindowConfig
from training.config import CutoffConfig, ExperimentConfig, ModelKind
from training.model_data import LABELS, LOST, ModelData, labelled_rows, lost_outcome, model_data

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


def _midnight(moment: datetime | date) -> datetime:
    return datetime(moment.year, moment.month, moment.day)


def latest_labelled_cutoff(max_event_time: datetime, horizon_days: int) -> datetime:
    """The latest midnight T with `T + horizon <= max_event_time` (label window fully seen)."""
    candidate = _midnight(max_event_time - timedelta(days=horizon_days))
    while candidate + timedelta(days=horizon_days) > max_event_time:
        candidate -= timedelta(days=1)
    return candidate


def cutoff_schedule(
    min_event_time: datetime,
    max_event_time: datetime,
    windows: WindowConfig,
    cutoffs: CutoffConfig,
) -> list[datetime]:
    """Ascending cutoffs, every one fully labelled; the last is the out-of-time cutoff."""
    newest = latest_labelled_cutoff(max_event_time, windows.label_horizon_days)
    earliest = _midnight(min_event_time) + timedelta(days=cutoffs.min_history_days)
    if cutoffs.first:
        earliest = max(earliest, _midnight(cutoffs.first))
    if cutoffs.explicit:
        chosen = [_midnight(day) for day in cutoffs.explicit]
        schedule = [t for t in chosen if t <= newest]
    else:
        last = min(newest, _midnight(cutoffs.last)) if cutoffs.last else newest
        schedule = [last - timedelta(days=cutoffs.step_days * i) for i in range(cutoffs.count)]
        schedule = sorted(t for t in schedule if t >= earliest)
    if len(schedule) < 2:
        raise ValueError(
            f"only {len(schedule)} fully labelled cutoff(s) between {earliest:%Y-%m-%d} and "
            f"{newest:%Y-%m-%d} (events end {max_event_time:%Y-%m-%d}, label horizon "
            f"{windows.label_horizon_days} days); need at least two: one to train, one to validate"
        )
    return schedule


def training_cutoffs(
    schedule: list[datetime], oot_cutoff: datetime, horizon_days: int
) -> list[datetime]:
    """Cutoffs before the OOT one whose label window `[T, T + horizon)` ends by the OOT cutoff."""
    return [t for t in schedule if t + timedelta(days=horizon_days) <= oot_cutoff]


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
    """Feature frames stacked over the schedule, plus where they came from."""

    frame: pd.DataFrame  # user_id, as_of, features and the labels, for every cutoff
    schedule: tuple[datetime, ...]
    windows: WindowConfig
    fingerprint: str
    source: str
    load_summary: str = ""
    feature_columns: tuple[str, ...] = FEATURE_SET.columns

    @property
    def oot_cutoff(self) -> datetime:
        return self.schedule[-1]

    def horizon(self, kind: ModelKind) -> int:
        """The label horizon that embargoes training cutoffs for this model."""
        if kind in ("churn", "recall"):
            return self.windows.churn_horizon_days
        return self.windows.value_horizon_days

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
        return model_data(
            kind, (train, fit, report), list(self.feature_columns), tuple(train_at), oot, dropped
        )


def stack_frames(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate per-cutoff frames; the features are cast to float64 once, here.

    Why float: counts come back as integers, but a model signature of "long" would make the
    served model reject a float input; one numeric type everywhere keeps training and serving
    schemas identical.
    """
    stacked = pd.concat(frames, ignore_index=True)
    columns = [c for c in FEATURE_SET.columns if c in stacked.columns]
    stacked[columns] = stacked[columns].astype("float64")
    return stacked


def build_training_data(
    events: str | Path,
    config: ExperimentConfig,
    on_cutoff: Callable[[datetime, int, int], None] | None = None,
) -> TrainingData:
    """Load events once, compute features and labels at every cutoff, stack them.

    `on_cutoff(cutoff, done, total)` is called after each cutoff (the CLI's progress bar).
    """
    from features import feature_frame, load_events

    loaded = load_events(events, config.data.engine, fmt=config.data.format)
    report = loaded.report
    if not report.rows_accepted or report.min_event_time is None or report.max_event_time is None:
        raise ValueError(f"{report.summary()}: no valid events to train on")
    schedule = cutoff_schedule(
        report.min_event_time, report.max_event_time, config.windows, config.cutoffs
    )
    frames = []
    for done, cutoff in enumerate(schedule, start=1):
        frames.append(feature_frame(loaded, cutoff, config.windows, labels=True))
        if on_cutoff:
            on_cutoff(cutoff, done, len(schedule))
    return TrainingData(
        frame=stack_frames(frames),
        schedule=tuple(schedule),
        windows=config.windows,
        fingerprint=data_fingerprint(events),
        source=str(events),
        load_summary=report.summary(),
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
    events: str | Path, config: ExperimentConfig, kind: ModelKind
) -> tuple[pd.DataFrame, pd.Series, datetime, str]:
    """Only the OOT report half of `config`'s schedule on `events`: (X, y, cutoff, fingerprint).

    Promotion uses it to score a champion and a challenger on exactly the same rows without
    building every training cutoff again.
    """
    from features import feature_frame, load_events

    loaded = load_events(events, config.data.engine, fmt=config.data.format)
    report = loaded.report
    if report.min_event_time is None or report.max_event_time is None:
        raise ValueError(f"{report.summary()}: no valid events to evaluate on")
    schedule = cutoff_schedule(
        report.min_event_time, report.max_event_time, config.windows, config.cutoffs
    )
    frame = stack_frames([feature_frame(loaded, schedule[-1], config.windows, labels=True)])
    rows, _ = labelled_rows(frame, kind)  # the same rows as the run's report half
    rows = rows[report_half(rows["user_id"])]
    features = list(FEATURE_SET.columns)
    return (
        rows[features].reset_index(drop=True),
        rows[LABELS[kind]].reset_index(drop=True),
        schedule[-1],
        data_fingerprint(events),
    )
