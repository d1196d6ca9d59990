"""Learning action effects from a campaign log: outcomes → estimates → uplift → MLflow run.

Why one orchestrating module: `retain effects` and the tests must run the same steps in the
same order (validate the log, measure outcomes with the label code, estimate per cell, judge
uplift models where data suffice), and the MLflow run must log exactly what went into the
effects file. Nothing here decides anything; `serving/campaigns/effects_file.py` carries the result
to the policy.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features import FEATURE_SET, LoadedEvents, WindowConfig
from serving.campaigns.estimates import EstimationConfig, estimate_effects, pooled_by_action
from serving.campaigns.outcomes import CHURNED, CampaignOutcomes, campaign_outcomes
from serving.campaigns.uplift import TwoModelUplift, UpliftEvaluation, evaluate_action
from serving.decisions import (
    ACTION_ID,
    GROUP,
    STAGE,
    STAGES,
    TIER,
    TIERS,
    TREATED,
    ActionCatalogue,
    CampaignLog,
)

EFFECTS_EXPERIMENT = "retain-effects"
_MIN_OUTCOMES = 20  # per arm and outcome: fewer and a churn classifier has nothing to learn


@dataclass(frozen=True)
class EffectsConfig:
    """How effects are estimated and when an uplift model is worth fitting."""

    estimation: EstimationConfig = field(default_factory=EstimationConfig)
    uplift: bool = True
    uplift_min_per_arm: int = 300  # churned + retained users needed in each arm, per action
    uplift_folds: int = 3
    uplift_k_share: float = 0.3


@dataclass(frozen=True)
class LearnedEffects:
    """Everything one `retain effects` run learned, before it is written anywhere."""

    effects: pd.DataFrame  # one row per action × segment (effect_estimates.EFFECT_COLUMNS)
    pooled: pd.DataFrame  # one row per action, segments pooled
    uplift: list[UpliftEvaluation]
    uplift_skipped: dict[str, str]  # action → why no uplift model
    outcomes: CampaignOutcomes


def uplift_matrix(outcomes: CampaignOutcomes) -> pd.DataFrame:
    """The uplift models' inputs: the feature set at the cutoff plus segment codes."""
    if outcomes.features is None:
        raise ValueError("outcomes were built without features; pass with_features=True")
    matrix = outcomes.features[list(FEATURE_SET.columns)].astype("float64")
    frame = outcomes.frame
    return matrix.assign(
        segment_stage=pd.Index(STAGES).get_indexer(frame[STAGE]).astype("float64"),
        segment_tier=pd.Index(TIERS).get_indexer(frame[TIER]).astype("float64"),
    )


def _fit_uplift(
    outcomes: CampaignOutcomes, config: EffectsConfig
) -> tuple[list[UpliftEvaluation], dict[str, str]]:
    """One cross-fitted two-model per action with enough users of each outcome in each arm."""
    matrix = uplift_matrix(outcomes)
    known = outcomes.frame[outcomes.frame[CHURNED].notna()]
    evaluations, skipped = [], {}
    for action_id, rows in known.groupby(ACTION_ID, sort=True):
        treated = (rows[GROUP] == TREATED).to_numpy()
        churned = rows[CHURNED].to_numpy(dtype=int)
        arms = [churned[treated == arm] for arm in (True, False)]
        if min(arm.size for arm in arms) < config.uplift_min_per_arm:
            skipped[str(action_id)] = f"fewer than {config.uplift_min_per_arm} users in an arm"
            continue
        if min(min(arm.sum(), arm.size - arm.sum()) for arm in arms) < _MIN_OUTCOMES:
            skipped[str(action_id)] = f"fewer than {_MIN_OUTCOMES} churned or retained in an arm"
            continue
        evaluations.append(
            evaluate_action(
                str(action_id),
                matrix.loc[rows.index],
                treated,
                churned,
                model=TwoModelUplift(),
                k_share=config.uplift_k_share,
                folds=config.uplift_folds,
            )
        )
    return evaluations, skipped


def learn_effects(
    campaigns: CampaignLog,
    events: LoadedEvents,
    windows: WindowConfig,
    catalogue: ActionCatalogue | None = None,
    config: EffectsConfig | None = None,
) -> LearnedEffects:
    """Outcomes of every campaign row, effects per action × segment, uplift where data suffice."""
    config = config or EffectsConfig()
    if campaigns.frame.empty:
        raise ValueError(f"{campaigns.report.summary()}: no valid campaign rows to learn from")
    outcomes = campaign_outcomes(campaigns.frame, events, windows, with_features=config.uplift)
    effects = estimate_effects(outcomes.frame, catalogue, config.estimation)
    pooled = pooled_by_action(outcomes.frame, config.estimation)
    uplift, skipped = _fit_uplift(outcomes, config) if config.uplift else ([], {})
    return LearnedEffects(effects, pooled, uplift, skipped, outcomes)


def cell_metrics(effects: pd.DataFrame) -> dict[str, float]:
    """`<action>.<stage>/<tier>.<measure>` metrics for MLflow (NaN left out)."""
    metrics: dict[str, float] = {}
    measures = ("churn_effect", "churn_effect_low", "churn_effect_high", "relative_effect",
                "learned_effect", "value_effect", "revenue_effect", "beyond_churn_pooled",
                "n_treated", "n_control")  # fmt: skip
    for row in effects.to_dict("records"):
        for measure in measures:
            value = row.get(measure)
            if value is not None and np.isfinite(value):
                metrics[f"{row['action_id']}.{row['segment']}.{measure}"] = float(value)
    return metrics


def log_run(
    learned: LearnedEffects,
    *,
    params: dict[str, Any],
    tags: dict[str, str],
    tracking_uri: str | None,
    write_file: Any,
) -> str:
    """One MLflow run in the `retain-effects` experiment; returns its id.

    `write_file(run_id) -> str` renders the effects file once the run id is known, so the file
    names its run and the run holds the very file as an artifact.
    """
    import mlflow

    from training import configure, finite, flatten

    configure(tracking_uri, EFFECTS_EXPERIMENT)
    with mlflow.start_run(run_name="effects") as run:
        mlflow.set_tags(tags)
        mlflow.log_params(flatten("", params))
        metrics = cell_metrics(learned.effects)
        for evaluation in learned.uplift:
            metrics |= evaluation.metrics()
        mlflow.log_metrics(finite(metrics))
        with tempfile.TemporaryDirectory() as folder:
            text = write_file(run.info.run_id)
            (Path(folder) / "effects.yaml").write_text(text, encoding="utf-8")
            learned.effects.to_csv(Path(folder) / "effects.csv", index=False)
            learned.pooled.to_csv(Path(folder) / "effects_by_action.csv", index=False)
            if learned.uplift:
                pd.DataFrame([asdict(e) for e in learned.uplift]).to_csv(
                    Path(folder) / "uplift.csv", index=False
                )
            mlflow.log_artifacts(folder)
        return run.info.run_id
