"""Per action and segment: what the action did, treated against control, with uncertainty.

Why differences in means: with randomised arms the difference between the treated and control
churn rates is an unbiased estimate of the action's effect on that segment, and its interval
needs no model. Three numbers per cell:

- `churn_effect` = churn rate treated − control (absolute; negative: the action keeps users);
- `relative_effect` = (control − treated) / control: the share of churn the action removes,
  the catalogue's unit (serving/actions.yaml), so it can replace the prior directly;
- `value_effect` = mean future value treated − control over the value horizon.

Intervals are normal (Wald) ones; the variances use Agresti–Caffo's one-added-success-and-failure
so that a 0 % or 100 % arm still has an honest width. The relative effect's standard error comes
from the delta method.

`learned_effect` shrinks the relative effect toward the catalogue's prior by precision
weighting (a normal prior with standard deviation `prior_sd` around the prior): a cell with a few
dozen users barely moves the prior, a cell with thousands replaces it. Cells without both arms,
or without any churn in the control arm, keep the prior.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from serving.actions import ActionCatalogue
from serving.campaign_log import ACTION_ID, CONTROL, GROUP, SEGMENT, TREATED
from serving.campaign_outcomes import CHURNED, FUTURE_VALUE

EFFECT_COLUMNS: tuple[str, ...] = (
    "action_id",
    "segment",
    "n_treated",
    "n_control",
    "churn_treated",
    "churn_control",
    "churn_effect",
    "churn_effect_low",
    "churn_effect_high",
    "relative_effect",
    "relative_effect_se",
    "value_n",
    "value_effect",
    "value_effect_low",
    "value_effect_high",
    "prior_effect",
    "learned_effect",
    "learned_effect_se",
    "verdict",
)
HELPS, BACKFIRES, UNCLEAR, NOT_MEASURABLE = "helps", "backfires", "unclear", "not_measurable"


@dataclass(frozen=True)
class EstimationConfig:
    """Interval level and the prior's weight in the shrinkage."""

    confidence: float = 0.95
    prior_sd: float = 0.3  # spread of the true share-of-churn-removed around the catalogue prior

    def __post_init__(self) -> None:
        if not 0 < self.confidence < 1:
            raise ValueError(f"confidence must be in (0, 1); got {self.confidence}")
        if not self.prior_sd > 0:
            raise ValueError(f"prior_sd must be > 0; got {self.prior_sd}")

    @property
    def z(self) -> float:
        return float(norm.ppf(0.5 + self.confidence / 2))


def _prior(catalogue: ActionCatalogue | None, action_id: str, segment: str) -> float:
    """The catalogue's effect for the cell; 0 (no effect assumed) for an unknown action."""
    if catalogue is None or action_id not in catalogue.ids:
        return 0.0
    stage, _, tier = segment.partition("/")
    return catalogue.get(action_id).effect.for_segment(stage, tier)


def _cell(rows: pd.DataFrame, prior: float, config: EstimationConfig) -> dict[str, object]:
    """All estimates for one action × segment."""
    known = rows[rows[CHURNED].notna()]
    treated = known.loc[known[GROUP] == TREATED, CHURNED].to_numpy(dtype=float)
    control = known.loc[known[GROUP] == CONTROL, CHURNED].to_numpy(dtype=float)
    n_t, n_c, z = treated.size, control.size, config.z
    out: dict[str, object] = {"n_treated": n_t, "n_control": n_c, "prior_effect": prior}
    out |= _value_cell(rows, z)
    if n_t == 0 or n_c == 0:
        return out | {"learned_effect": prior, "learned_effect_se": config.prior_sd,
                      "verdict": NOT_MEASURABLE}  # fmt: skip
    p_t, p_c = treated.mean(), control.mean()
    # Agresti–Caffo: variances from (x + 1) / (n + 2), so empty or full arms keep some width.
    q_t, q_c = (treated.sum() + 1) / (n_t + 2), (control.sum() + 1) / (n_c + 2)
    var_t, var_c = q_t * (1 - q_t) / (n_t + 2), q_c * (1 - q_c) / (n_c + 2)
    se = float(np.sqrt(var_t + var_c))
    effect = p_t - p_c
    verdict = BACKFIRES if effect - z * se > 0 else HELPS if effect + z * se < 0 else UNCLEAR
    out |= {
        "churn_treated": p_t,
        "churn_control": p_c,
        "churn_effect": effect,
        "churn_effect_low": effect - z * se,
        "churn_effect_high": effect + z * se,
        "verdict": verdict,
    }
    if p_c == 0:
        return out | {"learned_effect": prior, "learned_effect_se": config.prior_sd}
    relative = (p_c - p_t) / p_c
    # Delta method for 1 − p_t / p_c.
    relative_se = float(np.sqrt(var_t / p_c**2 + (p_t / p_c**2) ** 2 * var_c))
    weight_prior, weight_data = config.prior_sd**-2, relative_se**-2
    learned = (weight_prior * prior + weight_data * relative) / (weight_prior + weight_data)
    return out | {
        "relative_effect": relative,
        "relative_effect_se": relative_se,
        "learned_effect": float(learned),
        "learned_effect_se": float((weight_prior + weight_data) ** -0.5),
    }


def _value_cell(rows: pd.DataFrame, z: float) -> dict[str, object]:
    """Difference in mean future value (Welch interval) over rows whose value window is over."""
    known = rows[rows[FUTURE_VALUE].notna()]
    treated = known.loc[known[GROUP] == TREATED, FUTURE_VALUE].to_numpy(dtype=float)
    control = known.loc[known[GROUP] == CONTROL, FUTURE_VALUE].to_numpy(dtype=float)
    out: dict[str, object] = {"value_n": treated.size + control.size}
    if treated.size < 2 or control.size < 2:
        return out
    effect = treated.mean() - control.mean()
    se = float(np.sqrt(treated.var(ddof=1) / treated.size + control.var(ddof=1) / control.size))
    return out | {"value_effect": effect, "value_effect_low": effect - z * se,
                  "value_effect_high": effect + z * se}  # fmt: skip


def estimate_effects(
    outcomes: pd.DataFrame,
    catalogue: ActionCatalogue | None = None,
    config: EstimationConfig | None = None,
) -> pd.DataFrame:
    """One row per (action, segment) of the campaign outcomes, in EFFECT_COLUMNS.

    `outcomes` is `CampaignOutcomes.frame`: campaign rows with `churned` and `future_value`.
    """
    config = config or EstimationConfig()
    records = []
    for (action_id, segment), rows in outcomes.groupby([ACTION_ID, SEGMENT], sort=True):
        prior = _prior(catalogue, str(action_id), str(segment))
        records.append({"action_id": action_id, "segment": segment, **_cell(rows, prior, config)})
    table = pd.DataFrame.from_records(records).reindex(columns=list(EFFECT_COLUMNS))
    return table.astype({"n_treated": int, "n_control": int, "value_n": int})


def pooled_by_action(
    outcomes: pd.DataFrame, config: EstimationConfig | None = None
) -> pd.DataFrame:
    """The same estimates with all segments of an action pooled (for the run's headline)."""
    pooled = outcomes.assign(**{SEGMENT: "*/*"})
    return estimate_effects(pooled, None, config).drop(
        columns=["prior_effect", "learned_effect", "learned_effect_se"]
    )
