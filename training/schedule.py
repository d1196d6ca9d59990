"""Which cutoffs a training set stacks: the schedule, the per-model embargo, and short logs.

Why a module of its own: the schedule decides what a model can learn from, and a short log
needs a different one. With monthly cutoffs a nine-month log leaves the value model two
training cutoffs (its 90-day label needs a 90-day embargo and 60 days of history come first);
weekly cutoffs over the same months give it five and the churn model thirteen. So when the
config leaves the step to the defaults and even every monthly cutoff the log allows leaves a
model fewer than `MIN_TRAINING_CUTOFFS` training cutoffs, the schedule goes weekly (if that
gives a model more and none fewer), and says so. Whatever the step, a model left with fewer
than three training cutoffs gets a warning: its patterns come from one or two snapshots of the
past.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from features import WindowConfig
from training.config import CutoffConfig, ModelKind

MIN_TRAINING_CUTOFFS = 3
WEEKLY_STEP_DAYS = 7
MAX_CUTOFFS = 120  # CutoffConfig.count's upper bound


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


def model_horizon(kind: ModelKind, windows: WindowConfig) -> int:
    """The label horizon that embargoes a model's training cutoffs."""
    return windows.value_horizon_days if kind == "value" else windows.churn_horizon_days


def training_cutoff_counts(
    schedule: list[datetime], windows: WindowConfig, models: Sequence[ModelKind]
) -> dict[ModelKind, int]:
    """Per model, how many cutoffs it trains on (the last cutoff being out of time)."""
    return {
        kind: len(training_cutoffs(schedule, schedule[-1], model_horizon(kind, windows)))
        for kind in models
    }


@dataclass(frozen=True)
class Note:
    """Something training decided from the log, or warns of; `model` None concerns all."""

    text: str
    model: ModelKind | None = None


@dataclass(frozen=True)
class SchedulePlan:
    """The schedule chosen for a log, the cutoff settings that produce it, and what to say."""

    schedule: list[datetime]
    cutoffs: CutoffConfig
    notes: tuple[Note, ...] = ()


def _as_many(cutoffs: CutoffConfig, step_days: int) -> CutoffConfig:
    """Every cutoff the log allows at `step_days` (within `first`/`last`/`min_history_days`)."""
    return cutoffs.model_copy(update={"step_days": step_days, "count": MAX_CUTOFFS})


def _fits(
    min_event_time: datetime, max_event_time: datetime, windows: WindowConfig, cutoffs: CutoffConfig
) -> list[datetime] | None:
    """`cutoff_schedule`, or None where no schedule of two cutoffs fits."""
    try:
        return cutoff_schedule(min_event_time, max_event_time, windows, cutoffs)
    except ValueError:
        return None


def _described(counts: dict[ModelKind, int]) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in counts.items())


def plan_schedule(
    min_event_time: datetime,
    max_event_time: datetime,
    windows: WindowConfig,
    cutoffs: CutoffConfig,
    models: Sequence[ModelKind],
    *,
    step_chosen: bool,
) -> SchedulePlan:
    """The configured schedule, or a weekly one on a short log (see the module docstring).

    A log is *short* when even every monthly cutoff it allows leaves a model fewer than
    MIN_TRAINING_CUTOFFS training cutoffs; a long log with a small `cutoffs.count` is the
    config's choice, kept (and warned about). `step_chosen`: the config set the step or
    explicit cutoffs itself, so they are kept on any log. Raises ValueError as
    `cutoff_schedule` does when no schedule of two cutoffs fits the log.
    """
    span = (min_event_time, max_event_time, windows)
    schedule = _fits(*span, cutoffs)
    chosen, notes = cutoffs, []
    if not step_chosen and not cutoffs.explicit:
        everything = _fits(*span, _as_many(cutoffs, cutoffs.step_days))
        most = training_cutoff_counts(everything, windows, models) if everything else {}
        if min(most.values(), default=0) < MIN_TRAINING_CUTOFFS:
            counts = training_cutoff_counts(schedule, windows, models) if schedule else {}
            weekly = _as_many(cutoffs, WEEKLY_STEP_DAYS)
            weekly_schedule = _fits(*span, weekly)
            weekly_counts = (
                training_cutoff_counts(weekly_schedule, windows, models) if weekly_schedule else {}
            )
            if weekly_schedule and (
                not counts
                or (
                    all(weekly_counts[k] >= counts[k] for k in models)
                    and any(weekly_counts[k] > counts[k] for k in models)
                )
            ):
                days = (max_event_time - min_event_time).days
                before = f" leave training cutoffs: {_described(counts)}" if counts else " fit none"
                notes.append(
                    Note(
                        f"the log spans {days} days: {cutoffs.step_days}-day cutoffs{before}; "
                        f"cutoffs are weekly instead ({len(weekly_schedule)} cutoffs, training "
                        f"cutoffs: {_described(weekly_counts)})"
                    )
                )
                schedule, chosen = weekly_schedule, weekly
    if schedule is None:
        cutoff_schedule(*span, cutoffs)  # raises the reason no schedule fits
    assert schedule is not None
    for kind, n in training_cutoff_counts(schedule, windows, models).items():
        if n < MIN_TRAINING_CUTOFFS:
            plural = "s" if n != 1 else ""
            notes.append(
                Note(
                    f"WARNING: the {kind} model has {n} training cutoff{plural} (fewer than "
                    f"{MIN_TRAINING_CUTOFFS}): it learns from {n} snapshot{plural} of the past, "
                    "so its out-of-time metrics say little about how it will do later; a longer "
                    "log (or a shorter horizon) gives it more",
                    kind,
                )
            )
    return SchedulePlan(schedule=schedule, cutoffs=chosen, notes=tuple(notes))
