"""Randomised retention campaigns inside the simulator, with effects that are known exactly.

Why: `retain effects` must learn per-segment action effects from campaign logs with control
groups; that can only be tested against data whose true effects are known, and whose effects
differ by segment (including one action that backfires).

Campaign log contract (Parquet, one row per targeted user and campaign):
- `user_id` (string): the user, as in the event log.
- `action_id` (string): welcome_offer, habit_nudge, vip_care, referral_incentive, winback_offer.
- `assigned_at` (timestamp[us, UTC]): when the action went out, the morning of the cutoff day.
- `group` (string): `treated` (received it) or `control` (randomly held out).
- `cutoff` (timestamp[us, UTC]): midnight of the day whose state drove the assignment; the
  outcome window is `[cutoff, cutoff + 30 days)`.
- `segment` (string): `"<lifecycle_stage>/<value_tier>"`, the action catalogue's `by_segment`
  key (e.g. `at_risk/high`); `lifecycle_stage` and `value_tier` (strings) are its two halves.

`lifecycle_stage` is observable from events before the cutoff: `new` (first event ≤ 14 days
ago), `active` (last event ≤ 14 days ago), `at_risk` (15-90 days), `dormant` (91-365 days).
`value_tier` is the simulator's latent value segment (high 15 %, mid 35 %, low 50 % of users),
standing in for a predicted tier. Eligibility: `new` → welcome_offer; `active` → habit_nudge
(high) or, at random, habit_nudge / referral_incentive (mid, low); `at_risk` → vip_care (every
tier, so its heterogeneity is learnable); `dormant` → winback_offer. Of the eligible users
`target_share` are targeted, and of those `treated_share` treated. A treated user's churn hazard
is multiplied by exp(-lift), usage by exp(lift / 2) and the chance of returning from dormancy by
exp(1.5 lift), for 30 days.

The truth file (`<stem>.truth.json`) lists per action and segment: `lift`, `n_targeted`,
`churn_if_control` and `churn_if_treated` (share of targeted users with no event in the 30-day
window under each arm, both computed for every targeted user by replaying the window with the
same random numbers), `true_effect` = their difference (negative: the action prevents churn), and
`relative_effect` = −true_effect / churn_if_control (the catalogue's "share of churn removed").
`habit_nudge` backfires on `active/high` (nagging engaged VIPs); `vip_care` helps `at_risk/high`
a lot and does nothing for `at_risk/low`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from simulator.dynamics import VALUE_SEGMENTS, UserState, has_been_seen
from simulator.events import start_microseconds

ACTIONS: tuple[str, ...] = (
    "welcome_offer",
    "habit_nudge",
    "vip_care",
    "referral_incentive",
    "winback_offer",
)
LIFECYCLE_STAGES: tuple[str, ...] = ("new", "active", "at_risk", "dormant")
_NEW, _ACTIVE, _AT_RISK, _DORMANT = range(len(LIFECYCLE_STAGES))
_WELCOME, _HABIT, _VIP, _REFERRAL, _WINBACK = range(len(ACTIONS))
_HIGH = 0

# True lift per (action, "stage/tier"); segments not listed are never targeted by that action.
TRUE_LIFT: dict[tuple[str, str], float] = {
    ("welcome_offer", "new/high"): 0.6,
    ("welcome_offer", "new/mid"): 0.5,
    ("welcome_offer", "new/low"): 0.3,
    ("habit_nudge", "active/high"): -1.5,  # backfires: engaged VIPs resent the nagging
    ("habit_nudge", "active/mid"): 0.6,
    ("habit_nudge", "active/low"): 0.4,
    ("vip_care", "at_risk/high"): 1.8,
    ("vip_care", "at_risk/mid"): 0.6,
    ("vip_care", "at_risk/low"): 0.0,
    ("referral_incentive", "active/mid"): 0.3,
    ("referral_incentive", "active/low"): 0.7,
    ("winback_offer", "dormant/high"): 1.5,
    ("winback_offer", "dormant/mid"): 0.8,
    ("winback_offer", "dormant/low"): 0.3,
}


def _cell(action: str, segment: str) -> tuple[int, int, int]:
    """(action, stage, tier) indices of a TRUE_LIFT key."""
    stage, tier = segment.split("/")
    return ACTIONS.index(action), LIFECYCLE_STAGES.index(stage), VALUE_SEGMENTS.index(tier)


def _lift_table() -> np.ndarray:
    table = np.zeros((len(ACTIONS), len(LIFECYCLE_STAGES), len(VALUE_SEGMENTS)))
    for key, lift in TRUE_LIFT.items():
        table[_cell(*key)] = lift
    return table


class CampaignPlan(BaseModel):
    """When campaigns run and how many users they reach (days count from the simulation start)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    first_day: int = Field(120, ge=0)
    every_days: int = Field(60, gt=0)
    window_days: int = Field(30, gt=0)
    target_share: float = Field(0.5, gt=0.0, le=1.0)
    treated_share: float = Field(0.5, gt=0.0, lt=1.0)
    last_day: int | None = Field(
        None, gt=0, description="Outcome windows end by this day (default: the simulated end)."
    )

    @model_validator(mode="after")
    def _windows_do_not_overlap(self) -> CampaignPlan:
        """One treatment at a time per user keeps each campaign's effect separable."""
        if self.window_days > self.every_days:
            raise ValueError("window_days must not exceed every_days (windows would overlap)")
        return self

    def assignment_days(self, days: int) -> list[int]:
        """Cutoff days whose whole outcome window fits inside the simulated period.

        `last_day` ends campaigns earlier, so that a later stretch (a policy replay's window,
        `simulator.policy_replay`) is free of them.
        """
        end = days if self.last_day is None else min(days, self.last_day)
        return list(range(self.first_day, end - self.window_days + 1, self.every_days))


@dataclass(frozen=True)
class Assignment:
    """One campaign in one chunk: who was targeted, with what, and in which arm."""

    day: int
    user: np.ndarray
    action: np.ndarray
    stage: np.ndarray
    tier: np.ndarray
    treated: np.ndarray
    lift: np.ndarray
    send_second: np.ndarray


def observed_stage(state: UserState, day: int) -> np.ndarray:
    """Lifecycle stage at the cutoff from event history alone; -1 for unseen or long gone."""
    recency = day - state.last_event_day
    tenure = day - state.first_event_day
    seen = has_been_seen(state)
    return np.select(
        [
            seen & (tenure <= 14),
            seen & (recency <= 14),
            seen & (recency <= 90),
            seen & (recency <= 365),
        ],
        [_NEW, _ACTIVE, _AT_RISK, _DORMANT],
        default=-1,
    ).astype(np.int8)


def assign_campaign(
    value_segment: np.ndarray,
    state: UserState,
    day: int,
    plan: CampaignPlan,
    rng: np.random.Generator,
) -> Assignment:
    """Pick eligible users at random, give each the action of their stage, split the arms."""
    stage = observed_stage(state, day)
    unit = rng.random((4, stage.size))
    habit = (stage == _ACTIVE) & ((value_segment == _HIGH) | (unit[1] < 0.5))
    action = np.select(
        [stage == _NEW, habit, stage == _ACTIVE, stage == _AT_RISK, stage == _DORMANT],
        [_WELCOME, _HABIT, _REFERRAL, _VIP, _WINBACK],
        default=-1,
    ).astype(np.int8)
    user = ((action >= 0) & (unit[0] < plan.target_share)).nonzero()[0]
    treated = unit[2][user] < plan.treated_share
    lift = _lift_table()[action[user], stage[user], value_segment[user]]
    return Assignment(
        day=day,
        user=user,
        action=action[user],
        stage=stage[user],
        tier=value_segment[user],
        treated=treated,
        lift=lift,
        send_second=6 * 3600 + np.round(unit[3][user] * 3 * 3600),
    )


def start_treatment(
    state: UserState, assignment: Assignment, window_days: int, flipped: bool = False
) -> None:
    """Switch the true effect on for the treated arm (or, flipped, for the control arm)."""
    arm = assignment.treated != flipped
    state.treatment_lift[assignment.user] = np.where(arm, assignment.lift, 0.0)
    state.treated_until[assignment.user] = np.where(arm, assignment.day + window_days, 0)


def no_event_in_window(state: UserState, assignment: Assignment) -> np.ndarray:
    """The 30-day churn outcome: no event since the cutoff (call at the window's last day)."""
    return state.last_event_day[assignment.user] < assignment.day


def replay_flipped(
    state: UserState,
    assignment: Assignment,
    window_days: int,
    advance: Callable[[UserState, int], object],
) -> np.ndarray:
    """The outcome every targeted user would have had in the other arm (same random numbers)."""
    branch = state.copy()
    start_treatment(branch, assignment, window_days, flipped=True)
    for day in range(assignment.day, assignment.day + window_days):
        advance(branch, day)
    return no_event_in_window(branch, assignment)


@dataclass
class TruthTally:
    """Per action × stage × tier: targeted users and churn outcomes under both arms."""

    sums: np.ndarray = field(
        default_factory=lambda: np.zeros((len(ACTIONS), len(LIFECYCLE_STAGES), 3, 3))
    )

    def add(
        self, assignment: Assignment, churn_treated: np.ndarray, churn_control: np.ndarray
    ) -> None:
        """Count one campaign's targeted users (both arms' potential outcomes)."""
        cell = (assignment.action, assignment.stage, assignment.tier)
        np.add.at(self.sums, (*cell, 0), 1.0)
        np.add.at(self.sums, (*cell, 1), churn_treated.astype(float))
        np.add.at(self.sums, (*cell, 2), churn_control.astype(float))

    def merge(self, other: TruthTally) -> None:
        """Add another chunk's counts (chunks hold disjoint users)."""
        self.sums += other.sums

    def records(self) -> list[dict[str, object]]:
        """One record per (action, segment) in the true-lift table, in catalogue order."""
        out: list[dict[str, object]] = []
        for (action, segment), lift in TRUE_LIFT.items():
            n, treated, control = self.sums[_cell(action, segment)]
            record: dict[str, object] = {
                "action_id": action,
                "segment": segment,
                "lift": lift,
                "n_targeted": int(n),
            }
            if n > 0:
                effect = (treated - control) / n
                record |= {
                    "churn_if_control": control / n,
                    "churn_if_treated": treated / n,
                    "true_effect": effect,
                    "relative_effect": -effect / (control / n) if control > 0 else None,
                }
            out.append(record)
        return out


def truth_path(campaigns_path: Path) -> Path:
    """`campaigns.parquet` → `campaigns.truth.json`, beside the log."""
    return campaigns_path.with_name(f"{campaigns_path.stem}.truth.json")


def write_truth(tally: TruthTally, path: Path, window_days: int) -> None:
    """The known effects, for checking what `retain effects` learns back."""
    payload = {
        "outcome": f"no event in [cutoff, cutoff + {window_days} days)",
        "effects": tally.records(),
    }
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


CAMPAIGN_SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("action_id", pa.string()),
        ("assigned_at", pa.timestamp("us", tz="UTC")),
        ("group", pa.string()),
        ("cutoff", pa.timestamp("us", tz="UTC")),
        ("segment", pa.string()),
        ("lifecycle_stage", pa.string()),
        ("value_tier", pa.string()),
    ]
)


def campaign_table(assignment: Assignment, ids: pa.Array, start: date) -> pa.Table:
    """The campaign log rows of one assignment (see the module docstring for the contract)."""
    a = assignment
    cutoff_us = start_microseconds(start) + a.day * 86_400_000_000
    stage = np.array(LIFECYCLE_STAGES)[a.stage]
    tier = np.array(VALUE_SEGMENTS)[a.tier]
    return pa.Table.from_arrays(
        [
            ids.take(pa.array(a.user)),
            pa.array(np.array(ACTIONS)[a.action]),
            pa.array(
                cutoff_us + a.send_second.astype(np.int64) * 1_000_000, pa.timestamp("us", "UTC")
            ),
            pa.array(np.where(a.treated, "treated", "control")),
            pa.array(np.full(a.user.size, cutoff_us), pa.timestamp("us", "UTC")),
            pa.array(np.char.add(np.char.add(stage, "/"), tier)),
            pa.array(stage),
            pa.array(tier),
        ],
        schema=CAMPAIGN_SCHEMA,
    )
