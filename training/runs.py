"""One MLflow run per trained model: provenance, config, metrics, charts, model, registration.

Why all in one place: "tracking is complete and boring" only holds if every path that trains
a model (train, retrain, the demo) logs through the same function. Metric names (one
vocabulary with tune, backtest and evaluate: `training.metric_names`): the model's OOT metrics
are `oot_<metric>`; each baseline's are `<baseline>_oot_<metric>`. A stacked model
(training.stacking) also logs its choice and weights as `<kind>.stack.*` params, each
candidate's fit-half metrics as `<candidate>_oot_fit_<metric>` and LightGBM alone on the report
half as `lightgbm_oot_<metric>`.
Artifacts: `plots/`, `tables/` (importances, contributions, and for the value model its decile
calibration), `config/`, and for the value model `tiers/retained_value_percentiles.json`, the
tier cut points serving reads back (they are also inside the pickled model). Every run also
logs `reference_profile.json`: the distributions of the OOT report rows' features and of the
model's scores on them, which `retain monitor` compares later populations with (PSI).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from training import plots
from training.boosting import scaling_note
from training.config import ExperimentConfig
from training.datasets import TrainingData
from training.evaluation import CLASSIFIERS, HEADLINE, Outcome
from training.metric_names import report_metrics
from training.reference_profile import PROFILE_ARTIFACT, ReferenceProfile
from training.registry import EVENT_TYPES_PARAM, register
from training.tracking import finite, flatten, provenance_tags
from training.value_model import MIN_TIER_VALUE

if TYPE_CHECKING:
    import pandas as pd

# What the classifiers' positive class is called in plots: (noun, plural of who has it).
_OUTCOME_WORDS = {"churn": ("churn", "churners"), "recall": ("return", "returners")}
TIER_ARTIFACT = "tiers/retained_value_percentiles.json"


@dataclass
class TrainResult:
    """What `retain train` prints for one model."""

    kind: str
    run_id: str
    model_uri: str
    version: str | None
    aliases: list[str]
    metrics: dict[str, float]
    baseline_metrics: dict[str, dict[str, float]]
    warning: str | None = None
    params: dict[str, object] = field(default_factory=dict)
    trained: bool = True
    # What training decided from the log or warns of (weekly cutoffs, a preset, thin data).
    notes: list[str] = field(default_factory=list)

    @classmethod
    def not_trained(cls, kind: str, reason: str) -> TrainResult:
        """A model the data could not train: no run, no version, and the reason as warning."""
        return cls(kind, "", "", None, [], {}, {}, f"{kind} model not trained: {reason}", {}, False)


def run_params(
    config: ExperimentConfig,
    data: TrainingData,
    outcome: Outcome,
    requested_digest: str | None = None,
) -> dict[str, object]:
    """Flat parameters: windows, cutoffs, this model's settings, the split and provenance.

    `config_digest` identifies the config as requested (`requested_digest`), before the log's
    adaptations: the same request on the same data adapts the same way, and that is what
    `retain retrain` asks ("already trained on exactly this?"); `resolved_config_digest` is
    the digest of `config`, the one the run logs as its resolved config.
    """
    resolved = config.model_dump(mode="json")
    params = flatten("windows", resolved["windows"])
    params.update(flatten("cutoffs", resolved["cutoffs"]))
    params.update(flatten(outcome.kind, resolved[outcome.kind]))
    params.update(outcome.data.summary())
    effective = getattr(outcome.estimator, "effective_params_", {})
    params.update(
        {
            f"{outcome.kind}.effective.{name}": effective[name]
            for name in ("min_child_samples", "num_leaves")
            if name in effective
        }
    )
    if outcome.stack is not None:  # what stacking chose on the fit half (training.stacking)
        params.update(outcome.stack.params(outcome.kind))
    params.update(
        {
            "config_name": config.name,
            "config_digest": requested_digest or config.digest,
            "resolved_config_digest": config.digest,
            "feature_set_id": config.feature_set,
            # Scoring rebuilds v2's per-type columns from this list, never from its own log.
            EVENT_TYPES_PARAM: json.dumps(list(config.event_types or ())),
            "data_fingerprint": data.fingerprint,
            "data_source": data.source,
            "schedule": ",".join(f"{t:%Y-%m-%d}" for t in data.schedule),
        }
    )
    return params


FIGURES_TAG = "figures"  # set only on a run that logged no diagnostic figures
_SKIPPED = "skipped: "


def skipped_figures(tags: Mapping[str, str]) -> str | None:
    """Why a run logged no diagnostic figures, in words (None: it logged them).

    Why a reader here: the report says why a champion has no charts; the tag's wording is
    training's, so it is parsed where it is written.
    """
    value = tags.get(FIGURES_TAG, "")
    return value.removeprefix(_SKIPPED) if value else None


def _figures(outcome: Outcome, contributions: pd.DataFrame) -> dict[str, object]:
    y = outcome.data.y_report.to_numpy(dtype=float)
    curves = {"model": outcome.predictions, **outcome.baseline_predictions}
    estimator = outcome.estimator
    figures: dict[str, object] = {
        "feature_importance": plots.importance_figure(estimator.feature_importance()),
    }
    if outcome.kind in CLASSIFIERS:
        noun, who = _OUTCOME_WORDS[outcome.kind]
        figures["roc_curve"] = plots.roc_figure(y, curves, noun)
        figures["pr_curve"] = plots.pr_figure(y, curves, noun)
        figures["calibration"] = plots.calibration_figure(y, curves, outcome=noun)
        figures["gain_lift"] = plots.gain_figure(y, curves, who)
        space = f"{noun} log-odds (raw score)"
    else:
        figures["gain_lift"] = plots.gain_figure(np.clip(y, 0, None), curves, "future value")
        figures["value_deciles"] = plots.value_deciles_figure(y, curves)
        space = "log of expected value (raw score)"
        lost = outcome.data.lost_report
        if getattr(estimator, "conditional", False) and lost is not None:
            kept = lost.to_numpy() == 0
            retained = estimator.value_if_retained(outcome.data.X_report)[kept]
            title = "Value if retained vs retained users' spend"
            figures["retained_value_deciles"] = plots.value_deciles_figure(
                y[kept], {"value_if_retained": retained}, title
            )
            space = "log of value if retained (raw score)"
    figures["contributions_summary"] = plots.contribution_figure(
        contributions, outcome.data.X_report, space
    )
    return figures


def _log_tables(outcome: Outcome, folder: Path, contributions: pd.DataFrame) -> None:
    estimator = outcome.estimator
    estimator.feature_importance().rename_axis("feature").to_csv(folder / "feature_importance.csv")
    summary = contributions.abs().mean().sort_values(ascending=False)
    summary.rename("mean_abs_contribution").rename_axis("feature").to_csv(
        folder / "contributions_summary.csv"
    )
    for name, table in outcome.tables.items():
        table.to_csv(folder / f"{name}.csv", index=False)


def _log_tier_reference(estimator: object, folder: Path) -> None:
    """The value model's tier cut points as JSON: serving interpolates quantile cuts from them."""
    percentiles = getattr(estimator, "retained_value_percentiles_", None)
    if percentiles is None:
        return
    path = folder / TIER_ARTIFACT
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "what": "percentiles 0..100 of value_if_retained over OOT fit-half users worth at least "
        f"{MIN_TIER_VALUE}",
        "min_value": MIN_TIER_VALUE,
        "percentiles": list(range(len(percentiles))),
        "value_if_retained": [float(v) for v in percentiles],
    }
    path.write_text(json.dumps(document, indent=1))


def reference_profile(outcome: Outcome, feature_set_id: str) -> ReferenceProfile:
    """The model's OOT report rows profiled: their features and the scores serving will write.

    Why these rows and these names: they are the population the model was validated on, scored
    as scoring scores it (churn model: active users and `churn_probability`; recall: lapsed
    users and `return_probability`; value: every user and the value heads), so a later drift
    check compares like with like. The value model's unconditional prediction is left out: in
    serving it is mixed with the churn model's probability, not the value model's own.
    """
    X = outcome.data.X_report  # noqa: N806
    estimator = outcome.estimator
    if outcome.kind == "churn":
        scores = {"churn_probability": outcome.predictions}
    elif outcome.kind == "recall":
        scores = {"return_probability": outcome.predictions}
    elif getattr(estimator, "conditional", False):
        retained = np.asarray(estimator.value_if_retained(X), dtype=float)
        churned = np.asarray(estimator.value_if_churned(X), dtype=float)
        scores = {
            "value_if_retained": retained,
            "value_at_stake": np.clip(retained - churned, 0.0, None),
        }
    else:
        scores = {"predicted_value": outcome.predictions}
    return ReferenceProfile.build(
        X,
        scores,
        columns=list(X.columns),
        feature_set_id=feature_set_id,
        as_of=outcome.data.oot_cutoff.date(),
    )


def log_training_run(
    outcome: Outcome,
    config: ExperimentConfig,
    data: TrainingData,
    *,
    register_model: bool = True,
    run_name: str | None = None,
    nested: bool = False,
    extra_tags: dict[str, str] | None = None,
    requested_digest: str | None = None,
    figures: bool = True,
) -> TrainResult:
    """Log one fitted model and its baselines as an MLflow run; register it if asked
    (`requested_digest`: see `run_params`).

    Without `figures` the run has no `plots/` and its tag `figures` says so: the diagnostic
    PNGs took over a third of a three-model run on 3,000 users, which a data scientist
    iterating, or an analysis drawing its own charts, need not pay. Metrics, tables and the
    model are the same either way (the TreeSHAP pass behind the contributions table and the
    contributions figure runs once either way).
    """
    import mlflow

    from training.pyfunc import log_estimator

    kind = outcome.kind
    tags = provenance_tags(config.feature_set, data.fingerprint, config.name, kind)
    tags["beats_baselines"] = str(outcome.beats_baselines).lower()
    # What "beats" means: every one of these metrics, against every one of these baselines.
    tags["beats_baselines_metrics"] = ",".join(HEADLINE[kind])
    tags["beats_baselines_against"] = ",".join(outcome.baseline_metrics) or "none"
    notes = [
        *data.notes_for(kind),
        *filter(None, [scaling_note(outcome.estimator, len(outcome.data.X_train))]),
    ]
    if notes:
        tags["training_notes"] = " | ".join(notes)[:5000]
    if not figures:
        tags[FIGURES_TAG] = f"{_SKIPPED}trained without figures (retain train --no-figures)"
    tags.update(extra_tags or {})
    warning = outcome.warning()
    if warning:
        tags["baseline_warning"] = warning[:5000]
    with mlflow.start_run(
        run_name=run_name or f"{config.name}-{kind}", tags=tags, nested=nested
    ) as run:
        params = run_params(config, data, outcome, requested_digest)
        mlflow.log_params(params)
        mlflow.log_text(config.to_yaml(), "config/resolved_config.yaml")
        metrics = report_metrics(outcome.metrics, outcome.baseline_metrics)
        metrics["beats_baselines"] = float(outcome.beats_baselines)
        if outcome.stack is not None:
            metrics.update(outcome.stack.metrics())
        # One TreeSHAP pass over the report half, for the summary table and the figure.
        contributions = outcome.estimator.contributions(outcome.data.X_report)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            if figures:
                charts = _figures(outcome, contributions)
                plots.save_all(charts, folder / "plots")  # type: ignore[arg-type]
            (folder / "tables").mkdir()
            _log_tables(outcome, folder / "tables", contributions)
            _log_tier_reference(outcome.estimator, folder)
            profile = reference_profile(outcome, config.feature_set)
            (folder / PROFILE_ARTIFACT).write_text(profile.to_json())
            mlflow.log_artifacts(str(folder))
        info = log_estimator(outcome.estimator, outcome.data.X_report, kind)
        mlflow.log_metrics(finite(metrics), model_id=info.model_id)
        version, aliases = None, []
        if register_model:
            version_tags = {
                "feature_set_id": config.feature_set,
                "data_fingerprint": data.fingerprint,
                "oot_cutoff": f"{outcome.data.oot_cutoff:%Y-%m-%d}",
                "beats_baselines": tags["beats_baselines"],
            }
            version, aliases = register(info.model_uri, kind, run.info.run_id, version_tags)
    return TrainResult(
        kind=kind,
        run_id=run.info.run_id,
        model_uri=info.model_uri,
        version=version,
        aliases=aliases,
        metrics=outcome.metrics,
        baseline_metrics=outcome.baseline_metrics,
        warning=warning,
        params=params,
        notes=notes,
    )
