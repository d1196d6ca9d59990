"""Next best action: expected gain per eligible action, then a greedy allocation under limits.

Why greedy on gains: with a capacity per action and a total budget the exact optimum is an
assignment problem, but operators need a rule they can predict and explain ("the highest
expected gains were served first; you fell to your next best action because VIP care was
full"). The greedy below is that rule, and it is exact when no limit binds.

The rule, as a sequential process (`decide` computes the same result in vectorised rounds):
every (user, action) pair with a positive gain is visited once, in priority order
- higher expected gain first; ties: lower cost, then action id, then user id (as strings);
- a pair is taken when its user has no action yet, its action has capacity left and its cost
  fits in what is left of the budget; otherwise the user simply falls to a later pair;
- users left without a pair get `no_action` (gain 0, cost 0).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from serving.actions import NO_ACTION, ActionCatalogue
from serving.segments import STAGES, TIERS

USER_COLUMNS = ("user_id", "churn_probability", "predicted_value", "lifecycle_stage", "value_tier")
CONTACT_COLUMNS = ("user_id", "action_id", "contacted_at")
DECISION_REASONS = (
    "best_gain",  # got the action with the highest expected gain
    "capacity_reached",  # the best action was full; got the next best that fitted, or none
    "budget_exhausted",  # the best action no longer fitted in the budget; next best, or none
    "no_action_not_worth_cost",  # eligible actions exist, none gains more than it costs
    "in_cooldown",  # every eligible action was used on this user too recently
    "no_eligible_action",  # no action in the catalogue targets this segment and risk
    "missing_scores",  # churn probability or predicted value is missing
)


def _naive_utc(values: pd.Series | pd.Timestamp) -> pd.Series | pd.Timestamp:
    """Compare times as naive UTC, the event contract's convention."""
    if isinstance(values, pd.Series):
        values = pd.to_datetime(values)
        return values.dt.tz_convert("UTC").dt.tz_localize(None) if values.dt.tz else values
    return values.tz_convert("UTC").tz_localize(None) if values.tz else values


def _codes(values: pd.Series, allowed: tuple[str, ...], column: str) -> np.ndarray:
    """Integer codes of segment names; unknown names are an error, not a silent no_action."""
    codes = pd.Index(allowed).get_indexer(values.astype(object))
    if (codes < 0).any():
        bad = sorted({str(v) for v in values[codes < 0]})
        raise ValueError(f"users.{column} has unknown values {bad[:10]}; allowed: {list(allowed)}")
    return np.asarray(codes, dtype=np.intp)


def _cooldown_blocked(
    user_ids: pd.Index,
    catalogue: ActionCatalogue,
    last_contacts: pd.DataFrame,
    as_of: str | datetime | pd.Timestamp | None,
) -> np.ndarray:
    """(users x actions) mask of actions contacted within their cooldown before `as_of`.

    A contact at `as_of - cooldown_days` or earlier no longer blocks; contacts after `as_of`
    are ignored (they had not happened yet at that time). Unknown users and actions are ignored.
    """
    if as_of is None:
        raise ValueError("decide() needs as_of when last_contacts is given (cooldowns are dated)")
    missing = [c for c in CONTACT_COLUMNS if c not in last_contacts.columns]
    if missing:
        raise KeyError(f"last_contacts lacks columns {missing}; needs {list(CONTACT_COLUMNS)}")
    actions = catalogue.actions
    blocked = np.zeros((len(user_ids), len(actions)), dtype=bool)
    row = user_ids.get_indexer(last_contacts["user_id"].astype(str))
    col = pd.Index([a.id for a in actions]).get_indexer(last_contacts["action_id"].astype(str))
    cooldown = np.array([a.cooldown_days for a in actions] + [0], dtype=float)[col]
    age = (_naive_utc(pd.Timestamp(as_of)) - _naive_utc(last_contacts["contacted_at"])).to_numpy()
    age_days = age / np.timedelta64(1, "D")
    hit = (row >= 0) & (col >= 0) & (age_days >= 0) & (age_days < cooldown)
    blocked[row[hit], col[hit]] = True
    return blocked


def _allocate(
    pair_user: np.ndarray,
    pair_action: np.ndarray,
    n_users: int,
    cost: np.ndarray,
    capacity: np.ndarray,
    budget: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The greedy of the module docstring over pairs already in priority order.

    Returns per user the chosen pair (-1: none) and the best pair (-1: no pair), and the capacity
    left per action. Why rounds work: until some proposal is refused, every unassigned user
    simply takes their first pair whose action is still open, so each round accepts those
    proposals in priority order up to the first refusal. A refusal closes its action (full, or
    its cost no longer fits the budget; cost is per action and the budget only shrinks), so there
    are at most (number of actions + 1) rounds, each a few vectorised passes.
    """
    n_pairs, n_actions = len(pair_user), len(cost)
    # Per user, the positions of their pairs in priority order (rows of at most n_actions).
    slots = np.full((n_users, n_actions), n_pairs, dtype=np.int64)
    slots[pair_user, pair_action] = np.arange(n_pairs)
    slots.sort(axis=1)
    counts = (slots < n_pairs).sum(axis=1)
    by_user = slots[slots < n_pairs]
    end = np.cumsum(counts)
    ptr = end - counts
    best = np.full(n_users, -1, dtype=np.int64)
    best[counts > 0] = by_user[ptr[counts > 0]]
    action_by_user = pair_action[by_user]

    remaining = capacity.astype(float)
    spent = 0.0
    chosen = np.full(n_users, -1, dtype=np.int64)
    closed = (remaining <= 0) | (spent + cost > budget)
    pending = np.flatnonzero(counts > 0)
    while pending.size:
        p, e = ptr[pending], end[pending]
        while True:  # skip pairs whose action has closed (at most n_actions steps)
            blocked = p < e
            blocked[blocked] = closed[action_by_user[p[blocked]]]
            if not blocked.any():
                break
            p[blocked] += 1
        ptr[pending] = p
        live = p < e
        pending, p = pending[live], p[live]
        if not pending.size:
            break
        proposals = np.sort(by_user[p])
        acts = pair_action[proposals]
        refused = np.zeros(len(proposals), dtype=bool)
        for action in np.flatnonzero(np.isfinite(remaining)):
            mine = acts == action
            refused[mine] = np.cumsum(mine)[mine] > remaining[action]
        spent_after = np.cumsum(np.concatenate(([spent], cost[acts])))
        refused |= spent_after[1:] > budget
        stop = int(np.argmax(refused)) if refused.any() else len(proposals)
        taken = proposals[:stop]
        chosen[pair_user[taken]] = taken
        remaining -= np.bincount(pair_action[taken], minlength=n_actions)
        spent = float(spent_after[stop])
        closed |= (remaining <= 0) | (spent + cost > budget)
        pending = pending[chosen[pending] < 0]
    return chosen, best, remaining


def _eligible_gains(
    catalogue: ActionCatalogue,
    prob: np.ndarray,
    value: np.ndarray,
    stage: np.ndarray,
    tier: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(users x actions) eligibility (segment and risk range) and expected gain, vectorised.

    Effects and eligibility are looked up in (stage, tier) tables, so the cost is a few array
    operations per action whatever the number of users.
    """
    actions = catalogue.actions
    shape = (len(prob), len(actions))
    if not actions:
        return np.zeros(shape, dtype=bool), np.zeros(shape)
    effect = np.stack([a.effect_table() for a in actions], axis=-1)
    allowed = np.stack([a.eligibility_table() for a in actions], axis=-1)
    min_risk = np.array([a.min_risk for a in actions])
    max_risk = np.array([a.max_risk for a in actions])
    cost = np.array([a.cost for a in actions])
    p = prob[:, None]
    eligible = allowed[stage, tier] & (p >= min_risk) & (p <= max_risk)
    gain = p * effect[stage, tier] * value[:, None] - cost
    return eligible, gain


def decide(
    users: pd.DataFrame,
    catalogue: ActionCatalogue,
    *,
    budget: float | None = None,
    last_contacts: pd.DataFrame | None = None,
    as_of: str | datetime | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """One decision per user: action, expected gain, cost and why (see DECISION_REASONS).

    `users` needs USER_COLUMNS (one row per user_id); the result keeps their order. Gain of an
    eligible action = churn_probability x effect(stage, tier) x predicted_value - cost; only
    positive gains compete, `no_action` (gain 0) is the fallback. `budget` caps the summed cost;
    `last_contacts` (user_id, action_id, contacted_at) with `as_of` enforces cooldowns.
    """
    missing = [c for c in USER_COLUMNS if c not in users.columns]
    if missing:
        raise KeyError(f"users lacks columns {missing}; needs {list(USER_COLUMNS)}")
    if budget is not None and not budget >= 0:
        raise ValueError(f"budget must be >= 0 or None; got {budget}")
    user_ids = pd.Index(users["user_id"].astype(str))
    if user_ids.has_duplicates:
        dupes = user_ids[user_ids.duplicated()].unique()[:5].tolist()
        raise ValueError(f"users has duplicate user_id values, e.g. {dupes}")
    n_users, actions = len(users), catalogue.actions
    prob = users["churn_probability"].to_numpy(dtype=float, na_value=np.nan)
    value = users["predicted_value"].to_numpy(dtype=float, na_value=np.nan)
    stage = _codes(users["lifecycle_stage"], STAGES, "lifecycle_stage")
    tier = _codes(users["value_tier"], TIERS, "value_tier")

    cost = np.array([a.cost for a in actions], dtype=float)
    capacity = np.array([np.inf if a.capacity is None else a.capacity for a in actions], float)
    eligible, gain = _eligible_gains(catalogue, prob, value, stage, tier)
    blocked = np.zeros_like(eligible)
    if last_contacts is not None and actions:
        blocked = _cooldown_blocked(user_ids, catalogue, last_contacts, as_of)
    candidate = eligible & ~blocked & (gain > 0)

    # Pairs in priority order: lay the matrix out action-major (actions by cost, then id; users
    # by id within an action), so one stable sort on gain settles every tie as documented.
    action_order = np.array(
        sorted(range(len(actions)), key=lambda a: (cost[a], actions[a].id)), dtype=np.intp
    )
    user_order = np.asarray(user_ids.argsort(), dtype=np.intp)  # ids are unique: no ties
    flat = np.flatnonzero(candidate[user_order][:, action_order].T.ravel())
    pair_action = action_order[flat // max(n_users, 1)]
    pair_user = user_order[flat % max(n_users, 1)]
    pair_gain = gain[pair_user, pair_action]
    order = np.argsort(-pair_gain, kind="stable")
    pair_user, pair_action, pair_gain = pair_user[order], pair_action[order], pair_gain[order]

    chosen, best, remaining = _allocate(
        pair_user, pair_action, n_users, cost, capacity, np.inf if budget is None else budget
    )
    got = chosen >= 0
    # Sentinels so that users without a pair index harmlessly: pair -1 and action -1 are padding.
    pair_gain = np.append(pair_gain, 0.0)
    pair_action = np.append(pair_action, -1)
    action_index = pair_action[chosen]
    best_full = np.append(remaining <= 0, False)[pair_action[best]]
    reason = np.select(
        [
            np.isnan(prob) | np.isnan(value),
            got & (chosen == best),
            (best >= 0) & best_full,
            best >= 0,
            (eligible & ~blocked).any(axis=1),
            eligible.any(axis=1),
        ],
        [
            "missing_scores",
            "best_gain",
            "capacity_reached",
            "budget_exhausted",
            "no_action_not_worth_cost",
            "in_cooldown",
        ],
        default="no_eligible_action",
    )
    names = np.array([a.id for a in actions] + [NO_ACTION], dtype=object)
    return pd.DataFrame(
        {
            "user_id": users["user_id"].to_numpy(),
            "action": pd.Series(names[action_index], dtype="str"),
            "expected_gain": pair_gain[chosen],
            "action_cost": np.append(cost, 0.0)[action_index],
            "decision_reason": pd.Series(reason.astype(object), dtype="str"),
        }
    )
