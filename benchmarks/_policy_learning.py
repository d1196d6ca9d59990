"""The learned effects the policy benchmark compares (benchmarks/bench_policy.py).

Two campaign logs: as the simulator writes it (segments from the *true* latent tier) and as
Retain would have written it (each target scored by Retain at the campaign's cutoff, as a
`--holdout-share` list records them); each learned on two bases (`EstimationConfig.effect_basis`:
share of churn removed, or calibrated to the incremental revenue measured); and the
benchmark-only "Retain + per-user uplift" experiment (`uplift_models`, `uplift_table`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def scored_log(log, loaded, champions, catalogue, rekey: bool):
    """The campaign log with Retain's scores at each campaign's cutoff (`score_features`):
    `churn_probability` and `value_at_stake` always; with `rekey`, also Retain's stage and tier
    in place of the simulator's true ones, as a `--holdout-share` list records them.

    The champions are the ones trained on all events before the benchmark's cutoff, so they
    have seen the campaigns' later days: a little hindsight about who was high-value then.
    Randomisation stays valid: the arm was drawn independently of these pre-treatment scores.
    """
    from features.pipeline import feature_frame
    from serving.decisions.campaign_log import CUTOFF, SEGMENT, STAGE, TIER, USER_ID, CampaignLog
    from serving.scoring.pipeline import ScoringConfig, score_features

    keep = ["churn_probability", "value_at_stake"] + ([STAGE, TIER] if rekey else [])
    parts = []
    for cutoff, rows in log.frame.groupby(CUTOFF, sort=True):
        features = feature_frame(loaded, pd.Timestamp(cutoff).to_pydatetime(), champions.windows())
        config = ScoringConfig(catalogue=catalogue, attribution="path")
        scores = score_features(features, champions, config).scores.set_index(USER_ID)[keep]
        parts.append(rows.drop(columns=keep, errors="ignore").join(scores, on=USER_ID))
    frame = pd.concat(parts).dropna(subset=keep).sort_index()
    frame[SEGMENT] = frame[STAGE] + "/" + frame[TIER]
    return CampaignLog(frame=frame.reset_index(drop=True), report=log.report)


def uplift_models(effects) -> dict:
    """{action_id: TwoModelUplift} fitted on every known campaign row of the actions that
    `learn_effects` judged to have enough data (its `_fit_uplift` thresholds); the inputs are
    `uplift_matrix`'s (FEATURE_SET at the campaign cutoff + the log's segment codes)."""
    from serving.campaigns.effects import uplift_matrix
    from serving.campaigns.outcomes import CHURNED
    from serving.campaigns.uplift import TwoModelUplift
    from serving.decisions.campaign_log import ACTION_ID, GROUP, TREATED

    matrix, frame = uplift_matrix(effects.outcomes), effects.outcomes.frame
    known = frame[frame[CHURNED].notna()]
    models = {}
    for evaluation in effects.uplift:
        rows = known[known[ACTION_ID] == evaluation.action_id]
        treated = (rows[GROUP] == TREATED).to_numpy()
        churned = rows[CHURNED].to_numpy(dtype=int)
        models[evaluation.action_id] = TwoModelUplift().fit(
            matrix.loc[rows.index], treated, churned
        )
        print(f"uplift model {evaluation.action_id}: {len(rows):,} rows, out-of-fold Qini "
              f"{evaluation.qini_model:.4f} (by risk {evaluation.qini_by_risk:.4f})")  # fmt: skip
    for action_id, why in effects.uplift_skipped.items():
        print(f"no uplift model for {action_id}: {why}")
    return models


def learned_variants(log, loaded, champions, prior, show: bool = False, uplift: bool = False):
    """Learned catalogues: the log as simulated (true tiers) and as Retain logs it, each with
    effects on churn and calibrated to revenue (`EstimationConfig.effect_basis`). With `uplift`,
    also per-user uplift models from the log as Retain logs it (`uplift_models`; else {})."""
    from serving.campaigns.effects import EffectsConfig, learn_effects
    from serving.campaigns.effects_file import build_effects_file, learned_catalogue
    from serving.campaigns.estimates import EstimationConfig, estimate_effects

    catalogues, models = {}, {}
    for name, rekey in (("true-tier log", False), ("Retain log", True)):
        campaign_log = scored_log(log, loaded, champions, prior, rekey)
        fit = uplift and rekey
        effects = learn_effects(campaign_log, loaded, champions.windows(), prior,
                                EffectsConfig(uplift=fit))  # fmt: skip
        if fit:
            models = uplift_models(effects)
        for basis in ("churn", "revenue"):
            config = EstimationConfig(effect_basis=basis)
            cells = estimate_effects(effects.outcomes.frame, prior, config)
            learned, _ = learned_catalogue(prior, build_effects_file(
                cells, source={}, windows={}, estimation={}))  # fmt: skip
            catalogues[f"{name}, {basis}"] = learned
            if show:
                columns = ["action_id", "segment", "n_treated", "n_control", "relative_effect",
                           "value_effect", "value_exposure", "revenue_effect",
                           "churn_basis_effect", "beyond_churn_pooled", "prior_effect",
                           "learned_effect"]  # fmt: skip
                print(f"\nlearned cells, {name}, {basis}:\n"
                      + cells[columns].round(3).to_string(index=False))  # fmt: skip
    print(f"learned effects from {len(log.frame):,} campaign rows: {', '.join(catalogues)}")
    return catalogues, models


def uplift_table(scores: pd.DataFrame, features: pd.DataFrame, models: dict, catalogue,
                 budget: float) -> dict[str, str]:  # fmt: skip
    """Retain + per-user uplift: gain = uplift × value_at_stake − cost for actions with an uplift
    model (inputs as `serving.campaigns.effects.uplift_matrix`: FEATURE_SET at the cutoff + Retain's
    segment codes), churn_probability × learned effect × value_at_stake − cost for the others;
    the catalogue's eligibility; `serving.decisions.allocation.allocate` under the budget and capacities.
    `scores` are `score_features`'s on `features` (same row order)."""
    from _policy_baselines import as_table, eligibility

    from features.definitions import FEATURE_SET
    from serving.decisions.allocation import allocate
    from serving.decisions.segments import STAGES, TIERS

    stage = pd.Index(STAGES).get_indexer(scores["lifecycle_stage"])
    tier = pd.Index(TIERS).get_indexer(scores["value_tier"])
    matrix = features.reset_index(drop=True)[list(FEATURE_SET.columns)].astype("float64")
    matrix = matrix.assign(segment_stage=stage.astype("float64"),
                           segment_tier=tier.astype("float64"))  # fmt: skip
    prob = scores["churn_probability"].to_numpy(dtype=float, na_value=np.nan)
    stake = scores["value_at_stake"].to_numpy(dtype=float, na_value=np.nan)
    cost = catalogue.costs
    capacity = catalogue.capacities
    effect = np.stack([a.effect_table() for a in catalogue.actions], axis=-1)[stage, tier]
    lift = prob[:, None] * effect  # churn removed, from the learned per-segment effects
    for index, spec in enumerate(catalogue.actions):
        if spec.id in models:
            lift[:, index] = models[spec.id].predict_uplift(matrix)
    gain = lift * stake[:, None] - cost
    candidate = eligibility(scores, catalogue) & np.isfinite(gain) & (gain > 0)
    plan = allocate(np.where(candidate, gain, 0.0), candidate, cost, capacity, budget)
    print(f"per-user uplift plan: {plan.method}, {plan.share_of_bound:.1%} of its bound; "
          f"models for {', '.join(sorted(models))}")  # fmt: skip
    return as_table(scores["user_id"], plan.choice, catalogue)
