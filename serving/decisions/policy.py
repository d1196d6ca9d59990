"""Next best action: expected gain per eligible action, then an optimal allocation under limits.

Economics (DESIGN.md §4). For each user and eligible action,

    expected gain = churn_probability × effect(stage, tier) × value_at_stake − cost

`value_at_stake` is what the user is worth if they stay minus what they are worth if they
leave, so the gain is the revenue an action is expected to keep. (Multiplying by the
unconditional value instead would count churn twice: a likely leaver's unconditional value is
already small *because* they are likely to leave, and the riskiest users would look worthless.)
For lapsed users `churn_probability` is 1 − the recall model's return probability, and a
win-back effect is the share of that probability the action removes: one formula serves
retention and recall.

Allocation. One action per user (or `no_action`, gain 0), each action's capacity and a total
budget: a multiple-choice knapsack, solved by `serving.decisions.allocation` (LP duals, then a
primal greedy in reduced-gain order). Each run reports the gain achieved and the LP upper bound, so
an operator can see how close to optimal the plan is.

Contact history (`serving.decisions.contacts`) removes pairs in their cooldown and users at the
catalogue's frequency cap before the allocation.

Why each user gets a `decision_reason`: operators ask "why not this user?". `best_gain` means
the user got their best action; `capacity_reached` that their best action was full;
`budget_exhausted` that the budget went to users where it earned more per unit spent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from serving.decisions.actions import NO_ACTION, ActionCatalogue
from serving.decisions.allocation import Allocation, Duals, allocate
from serving.decisions.contacts import ContactBlocks
from serving.decisions.decision_summary import DecisionRun, DecisionSummary
from serving.decisions.segments import STAGES, TIERS

DECISIONS_ATTR = "retain_decisions"  # where a score table carries its DecisionSummary (attrs)
USER_COLUMNS = ("user_id", "churn_probability", "value_at_stake", "lifecycle_stage", "value_tier")
DECISION_COLUMNS = ("user_id", "action", "expected_gain", "action_cost", "decision_reason")
DECISION_REASONS = (
    "best_gain",  # got the action with the highest expected gain
    "capacity_reached",  # the best action was full; got the next best that fitted, or none
    "budget_exhausted",  # the budget went where it earned more per unit; next best, or none
    "no_action_not_worth_cost",  # eligible actions exist, none gains more than it costs
    "frequency_capped",  # the user had as many contacts as the catalogue's cap allows
    "in_cooldown",  # every eligible action was used on this user too recently
    "no_eligible_action",  # no action in the catalogue targets this segment and risk
    "missing_scores",  # churn probability or value at stake is missing
)


def _codes(values: pd.Series, allowed: tuple[str, ...], column: str) -> np.ndarray:
    """Integer codes of segment names; unknown names are an error, not a silent no_action."""
    codes = pd.Index(allowed).get_indexer(values.astype(object))
    if (codes < 0).any():
        bad = sorted({str(v) for v in values[codes < 0]})
        raise ValueError(f"users.{column} has unknown values {bad[:10]}; allowed: {list(allowed)}")
    return np.asarray(codes, dtype=np.intp)


def expected_gains(
    catalogue: ActionCatalogue,
    prob: np.ndarray,
    value_at_stake: np.ndarray,
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
    cost = catalogue.costs
    p = prob[:, None]
    eligible = allowed[stage, tier] & (p >= min_risk) & (p <= max_risk)
    gain = p * effect[stage, tier] * value_at_stake[:, None] - cost
    return eligible, gain


def _check_users(users: pd.DataFrame, budget: float | None) -> None:
    missing = [c for c in USER_COLUMNS if c not in users.columns]
    if missing:
        raise KeyError(f"users lacks columns {missing}; needs {list(USER_COLUMNS)}")
    if budget is not None and not budget >= 0:
        raise ValueError(f"budget must be >= 0 or None; got {budget}")
    user_ids = pd.Index(users["user_id"].astype(str))
    if user_ids.has_duplicates:
        dupes = user_ids[user_ids.duplicated()].unique()[:5].tolist()
        raise ValueError(f"users has duplicate user_id values, e.g. {dupes}")


def _reasons(
    allocation: Allocation,
    gain: np.ndarray,
    candidate: np.ndarray,
    eligible: np.ndarray,
    blocks: ContactBlocks,
    missing: np.ndarray,
    capacity: np.ndarray,
) -> np.ndarray:
    """Why each user got what they got (see DECISION_REASONS), first match wins."""
    n_users, n_actions = gain.shape
    masked = np.where(candidate, gain, -np.inf)
    best = masked.argmax(axis=1) if n_actions else np.zeros(n_users, dtype=np.intp)
    has_best = candidate.any(axis=1)
    used = np.bincount(allocation.choice[allocation.choice >= 0], minlength=n_actions)
    full = np.append(used >= capacity, False)
    best_full = full[np.where(has_best, best, n_actions)]
    open_pairs = eligible & ~blocks.cooldown & ~blocks.capped[:, None]
    return np.select(
        [
            missing,
            has_best & (allocation.choice == best),
            has_best & best_full,
            has_best,
            open_pairs.any(axis=1),
            eligible.any(axis=1) & blocks.capped,
            eligible.any(axis=1),
        ],
        [
            "missing_scores",
            "best_gain",
            "capacity_reached",
            "budget_exhausted",
            "no_action_not_worth_cost",
            "frequency_capped",
            "in_cooldown",
        ],
        default="no_eligible_action",
    )


@dataclass(frozen=True)
class DecisionInputs:
    """Per user and action (n × k): expected gain, eligibility and the pairs that may be chosen.

    What every decision run computes before it allocates: `decide_run` for a whole population,
    a streamed run (serving/decisions/allocation_stream.py) for each batch at fixed prices.
    """

    gain: np.ndarray
    eligible: np.ndarray
    candidate: np.ndarray  # eligible, not blocked, scores present and gain > 0
    missing: np.ndarray  # (n,) churn probability or value at stake missing
    blocks: ContactBlocks


def decision_inputs(
    users: pd.DataFrame,
    catalogue: ActionCatalogue,
    budget: float | None,
    blocks: ContactBlocks | None,
) -> DecisionInputs:
    """Gains, eligibility and candidates of `users` (USER_COLUMNS) under `catalogue`."""
    _check_users(users, budget)
    n_users = len(users)
    prob = users["churn_probability"].to_numpy(dtype=float, na_value=np.nan)
    stake = users["value_at_stake"].to_numpy(dtype=float, na_value=np.nan)
    stage = _codes(users["lifecycle_stage"], STAGES, "lifecycle_stage")
    tier = _codes(users["value_tier"], TIERS, "value_tier")
    eligible, gain = expected_gains(catalogue, prob, stake, stage, tier)
    if blocks is None:
        blocks = ContactBlocks(
            cooldown=np.zeros_like(eligible),
            capped=np.zeros(n_users, dtype=bool),
            contacts_matched=0,
            contacts_unknown_user=0,
            contacts_after_as_of=0,
        )
    elif blocks.cooldown.shape != eligible.shape or blocks.capped.shape != (n_users,):
        raise ValueError("contact blocks do not match the users and the catalogue's actions")
    missing = np.isnan(prob) | np.isnan(stake)
    candidate = eligible & ~blocks.cooldown & ~blocks.capped[:, None] & (gain > 0)
    candidate &= ~missing[:, None]
    return DecisionInputs(gain, eligible, candidate, missing, blocks)


def decision_frame(
    users: pd.DataFrame,
    catalogue: ActionCatalogue,
    inputs: DecisionInputs,
    allocation: Allocation,
    capacity: np.ndarray,
) -> pd.DataFrame:
    """DECISION_COLUMNS of an allocation, with the reasons operators read.

    `capacity` is what `decision_reason` calls full: the room the allocation had per action.
    """
    actions = catalogue.actions
    choice = allocation.choice
    got = choice >= 0
    rows = np.flatnonzero(got)
    expected = np.zeros(len(users))
    expected[rows] = inputs.gain[rows, choice[rows]]
    cost = catalogue.costs
    names = np.array([a.id for a in actions] + [NO_ACTION], dtype=object)
    action_index = np.where(got, choice, len(actions))
    reason = _reasons(
        allocation,
        inputs.gain,
        inputs.candidate,
        inputs.eligible,
        inputs.blocks,
        inputs.missing,
        capacity,
    )
    return pd.DataFrame(
        {
            "user_id": users["user_id"].to_numpy(),
            "action": pd.Series(names[action_index], dtype="str"),
            "expected_gain": expected,
            "action_cost": np.append(cost, 0.0)[action_index],
            "decision_reason": pd.Series(reason.astype(object), dtype="str"),
        }
    )


def decide_run(
    users: pd.DataFrame,
    catalogue: ActionCatalogue,
    *,
    budget: float | None = None,
    blocks: ContactBlocks | None = None,
) -> DecisionRun:
    """Decide for every user and summarise the run (see the module docstring).

    `users` needs USER_COLUMNS (one row per user_id); the decisions keep their order. `budget`
    caps the summed cost; `blocks` (from `serving.decisions.contacts`) removes cooldown pairs and
    capped users.
    """
    inputs = decision_inputs(users, catalogue, budget, blocks)
    actions = catalogue.actions
    cost, capacity = catalogue.costs, catalogue.capacities
    if actions:
        allocation = allocate(
            np.where(inputs.candidate, inputs.gain, 0.0),
            inputs.candidate,
            cost,
            capacity,
            np.inf if budget is None else float(budget),
        )
    else:  # an empty playbook: nothing to allocate
        none = np.full(len(users), -1, dtype=np.int64)
        allocation = Allocation(none, 0.0, 0.0, Duals(0.0, np.zeros(0)), "unconstrained")
    frame = decision_frame(users, catalogue, inputs, allocation, capacity)
    got = allocation.choice >= 0
    achieved = float(frame["expected_gain"].sum())
    counts = np.bincount(allocation.choice[got], minlength=len(actions))
    summary = DecisionSummary(
        users=len(users),
        contacted=int(got.sum()),
        cost=float(frame["action_cost"].sum()),
        achieved_gain=achieved,
        upper_bound=max(float(allocation.upper_bound), achieved),
        method=allocation.method,
        budget=budget,
        by_action={a.id: int(n) for a, n in zip(actions, counts, strict=True) if n},
    )
    return DecisionRun(frame=frame, summary=summary)


def decide(
    users: pd.DataFrame,
    catalogue: ActionCatalogue,
    *,
    budget: float | None = None,
    blocks: ContactBlocks | None = None,
) -> pd.DataFrame:
    """The decisions of `decide_run` without the summary (DECISION_COLUMNS)."""
    return decide_run(users, catalogue, budget=budget, blocks=blocks).frame
