"""Holdout assignment: keep a random share of each action's targets untreated, as a control.

Why: an action's effect can only be measured against comparable users who did not get it, and
only randomisation makes them comparable (the riskiest users are also the ones most likely to
leave whatever is done). The draw is a hash of (seed, cutoff, action, user), not a random
generator's state, so the same scores and seed always give the same arms, on any machine, in any
row order, and a re-run of yesterday's list cannot silently reshuffle who was held out. The
cutoff is part of the key so that each campaign draws fresh controls: no user is held out of an
action forever by accident (use one seed per study to vary it otherwise).

Within an action exactly round(share × targets) users, those with the lowest draws, become
`control`; the rest `treated`; users whose decision is `no_action` are `none`. The `action` is
kept for control users: it is what they would have got, and what the campaign measures.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from serving.decisions.actions import NO_ACTION
from serving.decisions.campaign_log import CONTROL, TREATED

ASSIGNMENT = "assignment"
NOT_TARGETED = "none"
ASSIGNMENTS: tuple[str, ...] = (TREATED, CONTROL, NOT_TARGETED)


@dataclass(frozen=True)
class HoldoutConfig:
    """Share of each action's targets held out (0 ≤ share < 1) and the seed of the draw."""

    share: float
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.share < 1:
            raise ValueError(f"holdout share must be in [0, 1); got {self.share}")
        if self.seed < 0:
            raise ValueError(f"holdout seed must be >= 0; got {self.seed}")


def draws(
    user_ids: pd.Series, actions: pd.Series, cutoff: pd.Timestamp | None, seed: int
) -> np.ndarray:
    """A uniform number in [0, 1) per row from blake2b(seed|cutoff|action|user): reproducible."""
    moment = "" if cutoff is None or pd.isna(cutoff) else pd.Timestamp(cutoff).isoformat()
    prefix = f"{seed}|{moment}|"
    values = [
        int.from_bytes(
            hashlib.blake2b(f"{prefix}{action}|{user}".encode(), digest_size=8).digest(), "big"
        )
        for user, action in zip(user_ids.astype(str), actions.astype(str), strict=True)
    ]
    return np.asarray(values, dtype=np.float64) / 2.0**64


def assign_holdout(decisions: pd.DataFrame, config: HoldoutConfig) -> pd.Series:
    """`treated` / `control` / `none` per row of a decision table (`user_id`, `action`, `as_of`).

    Exactly round(share × n) of an action's n targets are held out, so small campaigns (a VIP
    care capacity of 100) get the control group they were promised, not a binomial surprise.
    """
    missing = [c for c in ("user_id", "action") if c not in decisions.columns]
    if missing:
        raise KeyError(f"decisions lack columns {missing} needed for the holdout")
    cutoffs = decisions["as_of"].dropna().unique() if "as_of" in decisions.columns else []
    if len(cutoffs) > 1:
        raise ValueError("decisions mix several cutoffs; assign holdouts one cutoff at a time")
    cutoff = pd.Timestamp(cutoffs[0]) if len(cutoffs) else None
    action = decisions["action"].astype(str).to_numpy()
    assignment = np.full(len(decisions), NOT_TARGETED, dtype=object)
    targeted = np.flatnonzero(action != NO_ACTION)
    assignment[targeted] = TREATED
    if config.share > 0 and targeted.size:
        u = draws(decisions["user_id"].iloc[targeted], decisions["action"].iloc[targeted],
                  cutoff, config.seed)  # fmt: skip
        for name in np.unique(action[targeted]):
            rows = targeted[action[targeted] == name]
            n_control = int(np.floor(config.share * rows.size + 0.5))
            # Lowest draws first; the user id settles the (astronomically unlikely) ties.
            order = np.lexsort((decisions["user_id"].iloc[rows].astype(str).to_numpy(),
                                u[action[targeted] == name]))  # fmt: skip
            assignment[rows[order[:n_control]]] = CONTROL
    return pd.Series(assignment, index=decisions.index, name=ASSIGNMENT, dtype="str")


def with_holdout(scores: pd.DataFrame, config: HoldoutConfig | None) -> pd.DataFrame:
    """The score table with an `assignment` column (unchanged when no holdout is configured)."""
    if config is None:
        return scores
    return scores.assign(**{ASSIGNMENT: assign_holdout(scores, config)})


def arm_counts(scores: pd.DataFrame) -> pd.DataFrame:
    """Targets per action and arm, for the command's summary line."""
    targeted = scores[scores[ASSIGNMENT] != NOT_TARGETED]
    return targeted.groupby(["action", ASSIGNMENT]).size().unstack(fill_value=0)
