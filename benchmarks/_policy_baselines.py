"""The policies the benchmark compares Retain with (benchmarks/bench_policy.py).

All of them get the same budget, the same capacities and the same catalogue eligibility
(evaluated on Retain's segments and churn probability):

- simple rules (`ranked_cheapest`): top risk, top value, random, each user's cheapest eligible
  action until the budget is spent;
- the oracle (`oracle`): the LP-optimal plan on each user's true expected effects;
- the ceiling (`ceiling_net`): the same LP-optimal plan on the best estimate of those true effects
  that can be made from Retain's inputs alone. It answers "how much of the oracle can any
  effect model reach at all, however much campaign data it had?", and so splits the gap between
  Retain and the oracle into what Retain's inputs do not reveal and what its estimates miss.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CEILING_FOLDS = 3


def eligibility(scores: pd.DataFrame, catalogue) -> np.ndarray:
    """(users × actions) whether the catalogue allows the action (stage, tier, risk range)."""
    from serving.decisions.segments import STAGES, TIERS

    stage = pd.Index(STAGES).get_indexer(scores["lifecycle_stage"])
    tier = pd.Index(TIERS).get_indexer(scores["value_tier"])
    risk = scores["churn_probability"].to_numpy()[:, None]
    table = np.stack([a.eligibility_table() for a in catalogue.actions], axis=-1)
    low = np.array([a.min_risk for a in catalogue.actions])
    high = np.array([a.max_risk for a in catalogue.actions])
    return table[stage, tier] & (risk >= low) & (risk <= high)


def ranked_cheapest(order: np.ndarray, allowed: np.ndarray, catalogue, budget: float) -> np.ndarray:
    """Users in `order`, each with their cheapest eligible action, while budget and capacity last.

    Returns an action index per user (-1: none). A user whose action no longer fits is skipped
    and the next one tried (as Retain's own allocation does).
    """
    cost = catalogue.costs
    left = catalogue.capacities
    cheapest = np.where(allowed, cost, np.inf).argmin(axis=1)
    chosen, spent = np.full(len(allowed), -1), 0.0
    for user in order:
        action = cheapest[user]
        if allowed[user, action] and left[action] > 0 and spent + cost[action] <= budget:
            chosen[user], spent, left[action] = action, spent + cost[action], left[action] - 1
    return chosen


def oracle(net: np.ndarray, allowed: np.ndarray, catalogue, budget: float) -> np.ndarray:
    """The LP-optimal plan for known net gains (one action per user, budget, capacities).

    The multiple-choice knapsack's LP relaxation has at most (1 + capacities) fractional users;
    they are dropped and the budget they leave is filled greedily by net gain per unit cost.
    """
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix, vstack

    cost = catalogue.costs
    user, action = np.nonzero(allowed & (net > 0))
    gain, pair_cost, n = net[user, action], cost[action], len(user)
    rows = [coo_matrix((np.ones(n), (user, np.arange(n))), shape=(len(net), n))]
    bounds = [np.ones(len(net))]
    rows.append(coo_matrix((pair_cost, (np.zeros(n), np.arange(n))), shape=(1, n)))
    bounds.append(np.array([budget]))
    for index, spec in enumerate(catalogue.actions):
        if spec.capacity is not None:
            mine = np.flatnonzero(action == index)
            rows.append(coo_matrix((np.ones(mine.size), (np.zeros(mine.size), mine)), (1, n)))
            bounds.append(np.array([spec.capacity], dtype=float))
    lp = linprog(-gain, A_ub=vstack(rows).tocsr(), b_ub=np.concatenate(bounds), bounds=(0, 1),
                 method="highs")  # fmt: skip
    if lp.status != 0:
        raise SystemExit(f"oracle LP failed: {lp.message}")
    chosen = np.full(len(net), -1)
    taken = lp.x > 1 - 1e-6
    chosen[user[taken]] = action[taken]
    spent = float(pair_cost[taken].sum())
    used = np.bincount(action[taken], minlength=len(cost)).astype(float)
    cap = catalogue.capacities
    for pair in np.argsort(-gain / np.maximum(pair_cost, 1e-9), kind="stable"):
        u, a = user[pair], action[pair]
        if chosen[u] < 0 and used[a] < cap[a] and spent + cost[a] <= budget:
            chosen[u], spent, used[a] = a, spent + cost[a], used[a] + 1
    return chosen


def retain_inputs(features: pd.DataFrame, scores: pd.DataFrame) -> pd.DataFrame:
    """Everything Retain knows about a user at the cutoff: the feature set, its scores and its
    segment codes (`scores` as `score_features` made them from `features`, same row order)."""
    from features.definitions import FEATURE_SET
    from serving.decisions.segments import STAGES, TIERS

    matrix = features.reset_index(drop=True)[list(FEATURE_SET.columns)].astype("float64")
    return matrix.assign(
        churn_probability=scores["churn_probability"].to_numpy(dtype=float),
        value_if_retained=scores["value_if_retained"].to_numpy(dtype=float),
        value_at_stake=scores["value_at_stake"].to_numpy(dtype=float),
        stage_code=pd.Index(STAGES).get_indexer(scores["lifecycle_stage"]).astype(float),
        tier_code=pd.Index(TIERS).get_indexer(scores["value_tier"]).astype(float),
    )


def ceiling_net(inputs: pd.DataFrame, uplift: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Net gain per (user, action) as well as Retain's inputs can predict the true effects.

    One LightGBM regression per action of the oracle's per-user expected revenue effect
    (`uplift`, users × actions, from futures the replay does not evaluate) on `inputs`, over
    every user (the mechanism is shared, so ineligible users teach it too), cross-fitted: no
    user is predicted by a model that saw their own effect, so the prediction is a function of
    what Retain sees, not a memory of the user's latent state.
    """
    from lightgbm import LGBMRegressor
    from sklearn.model_selection import KFold

    predicted = np.zeros_like(uplift)
    splits = list(KFold(CEILING_FOLDS, shuffle=True, random_state=0).split(inputs))
    for action in range(uplift.shape[1]):
        for train, test in splits:
            model = LGBMRegressor(n_estimators=200, learning_rate=0.05, num_leaves=15,
                                  min_child_samples=40, n_jobs=2, verbose=-1)  # fmt: skip
            model.fit(inputs.iloc[train], uplift[train, action])
            predicted[test, action] = model.predict(inputs.iloc[test])
    return predicted - cost


def as_table(user_ids: pd.Series, chosen: np.ndarray, catalogue) -> dict[str, str]:
    """{user_id: action_id} of the contacted users."""
    names = np.array([a.id for a in catalogue.actions])
    contacted = chosen >= 0
    return dict(zip(user_ids[contacted], names[chosen[contacted]], strict=True))
