"""What training decides from the log itself, before building a feature: windows, schedule, types.

Why in one place: three choices depend on the log rather than on the config, and each must be
said and recorded, never made silently:
- a log of purchases (and refunds) only gets the `purchase-log` windows, unless the config
  names its own windows (config.PURCHASE_LOG_WINDOWS says why those);
- a short log gets weekly cutoffs, and a model left with fewer than three training cutoffs a
  warning (training/schedule.py);
- `behavioural_v2` without named event types gets the log's most frequent types before the
  out-of-time cutoff. They name model columns, so they are recorded with the run and scoring
  rebuilds exactly them, on whatever log it scores.
The result is a set of overrides to the experiment config, which every run logs as its resolved
config, so a rerun with that config repeats the same training.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from features import (
    FeatureSet,
    LoadedEvents,
    WindowConfig,
    non_purchase_events,
    resolve_feature_set,
)
from training.config import (
    PURCHASE_LOG_MODELS,
    PURCHASE_LOG_WINDOWS,
    ExperimentConfig,
)
from training.schedule import Note, plan_schedule


@dataclass(frozen=True)
class LogAdaptation:
    """The config as adapted to one log: the fields changed, the schedule, and what to say."""

    overrides: dict[str, Any]
    schedule: list[datetime]
    feature_set: FeatureSet
    windows: WindowConfig  # in force: the preset's or the config's
    notes: tuple[Note, ...] = ()


def _purchase_log_preset(config: ExperimentConfig, events: LoadedEvents) -> dict[str, Any]:
    """The preset's fields when the log has no non-purchase event and the config named no
    windows; nothing otherwise."""
    if config.chose("windows") or non_purchase_events(events) > 0:
        return {}
    overrides: dict[str, Any] = {"windows": PURCHASE_LOG_WINDOWS}
    if not config.chose("models"):
        overrides["models"] = PURCHASE_LOG_MODELS
    return overrides


def _preset_note(overrides: dict[str, Any]) -> str:
    windows = overrides["windows"]
    models = overrides.get("models")
    kept = f"; models {', '.join(models)}" if models else ""
    return (
        "the log has only purchase and refund events: using the purchase-log preset "
        f"(experiments/purchase-log.yaml): churn horizon {windows.churn_horizon_days} days, "
        f"value horizon {windows.value_horizon_days} days, active window "
        f"{windows.active_window_days} days{kept}. Name `windows` in the config to choose others"
    )


def adapt_to_log(config: ExperimentConfig, events: LoadedEvents) -> LogAdaptation:
    """The preset, schedule and feature set for `events` (see the module docstring)."""
    report = events.report
    if report.min_event_time is None or report.max_event_time is None:
        raise ValueError(f"{report.summary()}: no valid events to train on")
    overrides = _purchase_log_preset(config, events)
    notes = [Note(_preset_note(overrides))] if overrides else []
    windows = overrides.get("windows", config.windows)
    models = overrides.get("models", config.models)
    step_chosen = config.chose("cutoffs") and bool(
        {"step_days", "explicit"} & config.cutoffs.model_fields_set
    )
    plan = plan_schedule(
        report.min_event_time,
        report.max_event_time,
        windows,
        config.cutoffs,
        models,
        step_chosen=step_chosen,
    )
    notes.extend(plan.notes)
    if plan.cutoffs != config.cutoffs:
        overrides["cutoffs"] = plan.cutoffs
    chosen = config.chosen_feature_set()
    oot = plan.schedule[-1]
    resolved = resolve_feature_set(chosen, events, oot)
    if resolved != chosen:
        chosen = resolved
        overrides["event_types"] = chosen.event_types
        notes.append(
            Note(
                f"{chosen.id}: per-event-type columns for {', '.join(chosen.event_types)} (the "
                f"log's most frequent types before the out-of-time cutoff {oot:%Y-%m-%d}; "
                "recorded with the run, so scoring builds the same columns)"
            )
        )
    return LogAdaptation(
        overrides=overrides,
        schedule=plan.schedule,
        feature_set=chosen,
        notes=tuple(notes),
        windows=windows,
    )
