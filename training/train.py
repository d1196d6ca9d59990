"""The training stage: events → stacked training set → models + baselines → MLflow + registry.

Why a thin orchestrator: each step lives in its own module (datasets, evaluate, runs); this
one only wires them in order so `retain train`, `retain demo` and tests share one path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from training.config import ExperimentConfig, ModelKind
from training.datasets import TrainingData, training_data_for
from training.evaluation import evaluate
from training.runs import TrainResult, log_training_run
from training.tracking import configure

_log = logging.getLogger(__name__)
Step = Callable[[str], None]
# Models a log may be too short to train, and what happens without them. The recall model
# needs users lapsed at past cutoffs with a full churn horizon after each.
OPTIONAL_MODELS: dict[str, str] = {
    "recall": "scoring falls back to the churn model for lapsed users until a recall model can"
    " be trained (a longer log, or one in which lapsed users come back)",
}


def train_models(
    config: ExperimentConfig,
    events: str | Path | None = None,
    *,
    data: TrainingData | None = None,
    tracking_uri: str | None = None,
    register_model: bool = True,
    models: tuple[ModelKind, ...] | None = None,
    on_step: Step | None = None,
    figures: bool = True,
) -> list[TrainResult]:
    """Train, evaluate out of time, log and register every model the config names.

    `data` skips loading (tests and tuning reuse one stacked set); otherwise `events` (or the
    config's `data.events`) is read. What the log decides (training/log_adaptation.py: preset
    windows, weekly cutoffs, event types) goes into the config every run logs, and each
    result's `notes` say it. A model that loses to a baseline is still logged and registered as
    challenger (it will not pass promotion), and the loss is logged loudly. A model in
    OPTIONAL_MODELS that the data cannot train is returned as not trained, with the reason, and
    the others still train. `figures=False` logs no diagnostic PNGs (see `log_training_run`).
    """
    step = on_step or (lambda message: None)
    configure(tracking_uri, config.experiment)
    if data is None:
        step("loading events and building features")
    data = training_data_for(
        config,
        events,
        data,
        on_cutoff=lambda t, done, total: step(f"features at {t:%Y-%m-%d} ({done}/{total})"),
    )
    requested = config.digest  # the run's identity for `retain retrain` (training/runs.py)
    config = data.apply_to(config)  # what the log decided: preset windows, weekly cutoffs, types
    for note in data.notes:
        _log.info(note.text)
    kinds = models or config.models
    # Every model's rows are checked first: a required model the log cannot train stops the run
    # before any model is fitted or registered, not after the others already were. The checked
    # splits are dropped and rebuilt one at a time below, so only one model's matrices are held
    # while it trains (training memory is what limits a large run: docs/capacity.md).
    unusable: dict[ModelKind, ValueError] = {}
    for kind in kinds:
        try:
            data.for_model(kind)
        except ValueError as error:
            if kind not in OPTIONAL_MODELS:
                raise
            unusable[kind] = error
    results = []
    for kind in kinds:
        if kind in unusable:
            # Too short a log for this model: the others still train, and the result says why.
            reason = f"{unusable[kind]}; {OPTIONAL_MODELS[kind]}"
            results.append(TrainResult.not_trained(kind, reason))
            _log.warning(results[-1].warning)
            continue
        step(f"training the {kind} model")
        outcome = evaluate(data.for_model(kind), config)
        step(f"logging the {kind} run to MLflow")
        result = log_training_run(
            outcome,
            config,
            data,
            register_model=register_model,
            requested_digest=requested,
            figures=figures,
        )
        if result.warning:
            _log.warning(result.warning)
        results.append(result)
    return results
