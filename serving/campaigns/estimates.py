"""Per action and segment: what the action did, treated against control, with uncertainty.

Why differences in means: with randomised arms the difference between the treated and control
churn rates is an unbiased estimate of the action's effect on that segment, and its interval
needs no model. Three numbers per cell:

- `churn_effect` = churn rate treated − control (absolute; negative: the action keeps users);
- `relative_effect` = (control − treated) / control: the share of churn the action removes,
  the catalogue's unit (serving/decisions/actions.yaml), so it can replace the prior directly;
- `value_effect` = mean future value treated − control over the value horizon.

With `effect_basis="revenue"` the learned effect is calibrated to revenue instead: the cell's
measured `value_effect` divided by its users' mean `churn_probability × value_at_stake` (Retain's
scores at the campaign's cutoff, which a `--holdout-share` list carries): the number that makes
the policy's gain formula, p × effect × value at stake, reproduce the incremental revenue the
campaign measured on that cell's average user. It counts what the action does to the spend of
users who stay (more visits, more orders), which a churn-only effect misses; its interval is the
value effect's divided by the same mean. Revenue is far noisier than churn. So a cell's learned
effect is its churn-basis learned effect (precise, and measured on the cell itself: a backfire
seen in the churn rate stays) plus the revenue the action adds *beyond* that churn effect
(`revenue_effect` − `churn_basis_effect`: mostly what retained users spend more or less), and
that part is pooled over the action's cells (serving/campaigns/pooling.py): each cell moves
toward the action's pooled value (`beyond_churn_pooled`) by as much as the spread between its
segments (`beyond_churn_sd`), estimated from the data, says their differences are noise. An
action with a single measurable cell has nothing to pool with; that cell's part beyond churn is
shrunk toward 0 (sd `prior_sd`). What is borrowed never lifts a cell whose own churn rate
backfires above its churn-basis effect: other segments' spending cannot overrule a measured
harm. A cell without a measurable revenue effect keeps its churn-basis learned effect.

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
from typing import Literal

import numpy as np
import pandas as pd
from scipy.stats import norm

from serving.campaigns.outcomes import CHURN_PROBABILITY, CHURNED, FUTURE_VALUE, VALUE_AT_STAKE
from serving.campaigns.pooling import pool_cells
from serving.decisions import ACTION_ID, CONTROL, GROUP, SEGMENT, TREATED, ActionCatalogue

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
    "value_exposure",
    "revenue_effect",
    "revenue_effect_se",
    "churn_basis_effect",
    "beyond_churn_pooled",
    "beyond_churn_sd",
    "prior_effect",
    "learned_effect",
    "learned_effect_se",
    "verdict",
)
HELPS, BACKFIRES, UNCLEAR, NOT_MEASURABLE = "helps", "backfires", "unclear", "not_measurable"


@dataclass(frozen=True)
class EstimationConfig:
    """Interval level, the prior's weight in the shrinkage and what the learned effect is fitted
    to: the churn rate (`churn`, the default) or incremental revenue (`revenue`, see above)."""

    confidence: float = 0.95
    prior_sd: float = 0.3  # spread of the true share-of-churn-removed around the catalogue prior
    effect_basis: Literal["churn", "revenue"] = "churn"

    def __post_init__(self) -> None:
        if self.effect_basis not in ("churn", "revenue"):
            raise ValueError(
                f"effect_basis must be 'churn' or 'revenue'; got {self.effect_basis!r}"
            )
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


def _shrunk(prior: float, estimate: float, se: float, config: EstimationConfig) -> dict[str, float]:
    """Precision-weighted mean of the prior (sd `prior_sd`) and a measured effect."""
    weight_prior, weight_data = config.prior_sd**-2, se**-2
    learned = (weight_prior * prior + weight_data * estimate) / (weight_prior + weight_data)
    return {"learned_effect": float(learned),
            "learned_effect_se": float((weight_prior + weight_data) ** -0.5)}  # fmt: skip


def _cell(rows: pd.DataFrame, prior: float, config: EstimationConfig) -> dict[str, object]:
    """All estimates for one action × segment (the revenue basis is learned across cells)."""
    out = _churn_cell(rows, prior, config)
    if config.effect_basis == "churn":
        return out
    return out | _revenue_cell(rows, out, config)


def _learn_revenue(table: pd.DataFrame, config: EstimationConfig) -> pd.DataFrame:
    """Revenue-basis learned effects: each measurable cell's churn-basis effect plus its part
    beyond churn, pooled over the action's measurable cells (`pool_cells`) or, for a lone
    cell, shrunk toward 0; never above the churn basis where the churn rate backfires; cells
    without a revenue effect keep the churn basis.

    The part beyond churn is weighed by the revenue effect's error alone: the churn-basis
    effect it is taken from is far more precise.
    """
    table = table.assign(churn_basis_effect=table["learned_effect"])
    measured = table["revenue_effect"].notna() & (table["revenue_effect_se"] > 0)
    for _, cells in table[measured].groupby("action_id", sort=False):
        churn_basis = cells["churn_basis_effect"].to_numpy(dtype=float)
        beyond = cells["revenue_effect"].to_numpy(dtype=float) - churn_basis
        se = cells["revenue_effect_se"].to_numpy(dtype=float)
        churn_se = cells["learned_effect_se"].to_numpy(dtype=float)
        if len(cells) == 1:
            shrunk = _shrunk(0.0, float(beyond[0]), float(se[0]), config)
            part, part_se = shrunk["learned_effect"], shrunk["learned_effect_se"]
        else:
            pooled = pool_cells(beyond, se)
            part, part_se = pooled.learned, pooled.learned_se
            table.loc[cells.index, "beyond_churn_pooled"] = pooled.mean
            table.loc[cells.index, "beyond_churn_sd"] = pooled.spread
        learned = churn_basis + part
        backfires = (cells["verdict"] == BACKFIRES).to_numpy()
        table.loc[cells.index, "learned_effect"] = np.where(
            backfires, np.minimum(learned, churn_basis), learned
        )
        table.loc[cells.index, "learned_effect_se"] = np.sqrt(churn_se**2 + np.square(part_se))
    return table


def _revenue_cell(
    rows: pd.DataFrame, out: dict[str, object], config: EstimationConfig
) -> dict[str, object]:
    """The value effect in the catalogue's unit: / mean(churn probability × value at stake)."""
    known = rows[rows[FUTURE_VALUE].notna()]
    exposure = (known[CHURN_PROBABILITY] * known[VALUE_AT_STAKE]).mean()
    if not exposure > 0 or out.get("value_effect") is None:
        return {"value_exposure": exposure}
    se = (out["value_effect_high"] - out["value_effect"]) / config.z
    if not se > 0:  # no spread in either arm (a handful of users): nothing to weigh
        return {"value_exposure": exposure}
    return {"value_exposure": exposure, "revenue_effect": out["value_effect"] / exposure,
            "revenue_effect_se": se / exposure}  # fmt: skip


def _churn_cell(rows: pd.DataFrame, prior: float, config: EstimationConfig) -> dict[str, object]:
    """Churn estimates for one action × segment; learned on the churn basis."""
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
    out |= {"relative_effect": relative, "relative_effect_se": relative_se}
    return out | _shrunk(prior, relative, relative_se, config)


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
    needed = [c for c in (CHURN_PROBABILITY, VALUE_AT_STAKE) if c not in outcomes.columns]
    if config.effect_basis == "revenue" and needed:
        raise ValueError(
            f"effect basis 'revenue' needs the campaign rows' {' and '.join(needed)} (Retain's "
            "scores at the cutoff; a --holdout-share list has them)"
        )
    records = []
    for (action_id, segment), rows in outcomes.groupby([ACTION_ID, SEGMENT], sort=True):
        prior = _prior(catalogue, str(action_id), str(segment))
        records.append({"action_id": action_id, "segment": segment, **_cell(rows, prior, config)})
    table = pd.DataFrame.from_records(records).reindex(columns=list(EFFECT_COLUMNS))
    if config.effect_basis == "revenue":
        table = _learn_revenue(table, config)
    return table.astype({"n_treated": int, "n_control": int, "value_n": int})


def pooled_by_action(
    outcomes: pd.DataFrame, config: EstimationConfig | None = None
) -> pd.DataFrame:
    """The same estimates with all segments of an action pooled (for the run's headline)."""
    pooled = outcomes.assign(**{SEGMENT: "*/*"})
    churn_only = EstimationConfig(config.confidence, config.prior_sd) if config else None
    return estimate_effects(pooled, None, churn_only).drop(
        columns=["prior_effect", "learned_effect", "learned_effect_se"]
    )
