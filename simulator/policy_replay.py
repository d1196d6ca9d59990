"""Replay the window after a cutoff under a decision table, with the actions' true effects.

Why: "decisions that pay" can only be proven where the counterfactual is known. The simulator
knows it: the state of every user at a cutoff is exact, and the days after it can be run again
under any contact table with the *same random numbers per user whatever the arm* (each day's
draws are fixed-size arrays, as for the campaign truth in `simulator.campaigns`), so the
difference between two tables is the tables' effect, not luck.

`replay(config, cutoff, tables)` simulates the history up to `cutoff` exactly as the event log
did (campaigns included; those starting at or after the cutoff are left out, so the window is
the policies' alone), then, per table, contacts its users at the cutoff and runs `horizon_days`
(default 90, the value horizon). Per user seen before the cutoff it returns the window's
realised `revenue` (purchases minus refunds landing in the window, as the `future_value` label),
`purchases`, and `churned` (no event in the first 30 days). Every call also replays the
baseline `nobody` (no one contacted); incremental profit = Σ revenue − Σ revenue of `nobody` −
Σ contact cost (`policy_profit`).

True effects. A contact sets the simulator's treatment lift for `effect_days` (30): hazard ×
exp(−lift), usage × exp(lift / 2), return from dormancy × exp(1.5 lift). The lift comes from
`simulator.campaigns.TRUE_LIFT` by the user's true segment at the cutoff: the simulator's stage
(new, active, at_risk, dormant from recency; `gone` after 365 silent days) and latent value tier.
Cells the campaigns never target get documented values: in any stage other than its home stage
an action works at `OFF_STAGE_FACTOR` (half) of its home-stage lift for the tier (a lever pulled
at the wrong moment); home-stage tiers absent from TRUE_LIFT have lift 0. Catalogue actions the
simulator lacks map onto one it has (`ACTION_TRUTH`): `retention_email` is a fifth of
`vip_care`, `retention_discount` half of it, `onboarding_call` 1.5 × `welcome_offer`.

Revenue. The log draws order values in one pass over a chunk's whole activity (so one extra
purchase would shift every later draw); the replay instead draws them per user and day from
streams of their own, so arms share that luck too. Activity, purchases and churn of the table
that contacts nobody equal the event log's exactly; its revenue has the log's distribution but
not its cents. `futures` other than 0 replace the window's daily draws with independent ones
(alternative futures from the same state), for expected effects and noise estimates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime

import numpy as np
import pandas as pd

from simulator.campaigns import (
    LIFECYCLE_STAGES,
    TRUE_LIFT,
    assign_campaign,
    observed_stage,
    start_treatment,
)
from simulator.dynamics import (
    VALUE_SEGMENTS,
    DayActivity,
    UserState,
    has_been_seen,
    initial_state,
    step_day,
)
from simulator.events import _FULL_REFUND_CHANCE, _ORDER_VALUE_SPREAD
from simulator.simulation import ChunkWorld, SimulationConfig, chunk_world

NO_ACTION = "no_action"
BASELINE = "nobody"
STAGES: tuple[str, ...] = (*LIFECYCLE_STAGES, "gone")
OFF_STAGE_FACTOR = 0.5
EFFECT_DAYS = 30  # how long a contact's lift lasts, as for the simulator's campaigns
CHURN_DAYS = 30  # `churned`: no event in [cutoff, cutoff + CHURN_DAYS)
# Catalogue action id → (simulator action whose lifts it has, scale on those lifts).
ACTION_TRUTH: dict[str, tuple[str, float]] = {
    "welcome_offer": ("welcome_offer", 1.0),
    "onboarding_call": ("welcome_offer", 1.5),  # a stronger welcome offer
    "habit_nudge": ("habit_nudge", 1.0),
    "referral_incentive": ("referral_incentive", 1.0),
    "retention_email": ("vip_care", 0.2),  # a light touch: a fifth of VIP care
    "retention_discount": ("vip_care", 0.5),  # a weaker VIP care
    "vip_care": ("vip_care", 1.0),
    "winback_offer": ("winback_offer", 1.0),
}
_REFUND_DAYS = 8  # refunds land 1-7 days after their purchase (simulation_dynamics)
_ORDERS, _FUTURES = 4, 5  # stream keys below a chunk's seed (see ChunkWorld)
Table = Mapping[str, str] | str  # {user_id: action_id}, or one action for everyone seen


def true_lift(action_id: str) -> np.ndarray:
    """(stage × tier) true lift of a catalogue action, stages as in STAGES."""
    if action_id not in ACTION_TRUTH:
        raise ValueError(f"no true effect for action {action_id!r}; known: {sorted(ACTION_TRUTH)}")
    base, scale = ACTION_TRUTH[action_id]
    table = np.zeros((len(STAGES), len(VALUE_SEGMENTS)))
    homes = {segment.split("/")[0] for action, segment in TRUE_LIFT if action == base}
    (home,) = homes  # every simulator action targets one stage
    for (action, segment), lift in TRUE_LIFT.items():
        if action == base:
            table[STAGES.index(home), VALUE_SEGMENTS.index(segment.split("/")[1])] = lift
    for stage in range(len(STAGES)):
        if STAGES[stage] != home:
            table[stage] = OFF_STAGE_FACTOR * table[STAGES.index(home)]
    return scale * table


def cutoff_day(config: SimulationConfig, cutoff: int | date | datetime | str) -> int:
    """Days from the simulation start to `cutoff` (a day index, or a date at midnight UTC)."""
    if isinstance(cutoff, int | np.integer):
        return int(cutoff)
    moment = pd.Timestamp(cutoff)
    moment = moment.tz_convert("UTC").tz_localize(None) if moment.tz else moment
    if moment != moment.normalize():
        raise ValueError(f"cutoff {cutoff} is not at midnight UTC")
    return (moment - pd.Timestamp(config.start)).days


def _advance(world: ChunkWorld, state: UserState, day: int, future: int) -> DayActivity:
    """Future 0 is the simulated one; others draw each window day from their own stream."""
    if future == 0:
        return world.advance(state, day)
    rng = np.random.Generator(np.random.PCG64(world.stream(_FUTURES, future, day)))
    return step_day(world.population, state, day, float(world.calendar[day]), rng)


def _add_revenue(
    world: ChunkWorld, act: DayActivity, future: int, window: tuple[int, int], out: np.ndarray
) -> None:
    """Add one day's purchases in the window, minus their refunds that land in it, to `out`."""
    buyer = act.user[act.purchase]
    if not buyer.size:
        return
    rng = np.random.Generator(np.random.PCG64(world.stream(_ORDERS, future, act.day)))
    draws = rng.random((3, world.population.size))  # fixed size: the same luck in every arm
    normal = np.sqrt(-2.0 * np.log1p(-draws[0])) * np.cos(2.0 * np.pi * draws[1])
    mu = world.population.spend_mu[buyer]
    value = np.maximum(np.round(np.exp(mu + _ORDER_VALUE_SPREAD * normal[buyer]), 2), 0.5)
    share = np.where(draws[2][buyer] < _FULL_REFUND_CHANCE, 1.0, 0.2 + 0.6 * draws[2][buyer])
    start, end = window
    if start <= act.day < end:
        out[buyer] += value
    lands = act.day + act.refund_delay[act.purchase].astype(int)
    refunded = (act.refund_delay[act.purchase] > 0) & (lands >= start) & (lands < end)
    out[buyer[refunded]] -= np.round(value * share, 2)[refunded]


def _contacts(world: ChunkWorld, seen: np.ndarray, table: Table) -> tuple[np.ndarray, int]:
    """Per user of the chunk, the contacted action's name (or NO_ACTION), and users matched."""
    actions = np.full(world.population.size, NO_ACTION, dtype=object)
    if isinstance(table, str):
        actions[seen] = table
        return actions, 0
    if not table:
        return actions, 0
    wanted = pd.Series(table, dtype=object)
    position = pd.Index(world.ids.to_pandas()).get_indexer(wanted.index.astype(str))
    matched = position >= 0
    if not seen[position[matched]].all():
        raise ValueError("the table contacts users not seen before the cutoff")
    actions[position[matched]] = wanted.to_numpy()[matched]
    return actions, int(matched.sum())


def _replay_chunk(
    world: ChunkWorld, day0: int, horizon: int, tables: dict[str, Table], futures: Sequence[int]
) -> tuple[list[pd.DataFrame], dict[str, int]]:
    """One chunk: its history once, then every table × future from a copy of the cutoff state."""
    config, pop = world.config, world.population
    state = initial_state(pop)
    plan = config.campaigns
    campaign_days = set(plan.assignment_days(config.days)) if plan else set()
    campaign_rng = np.random.default_rng(world.stream(2))
    recent: list[DayActivity] = []
    for day in range(day0):
        if plan is not None and day in campaign_days:
            assignment = assign_campaign(pop.value_segment, state, day, plan, campaign_rng)
            start_treatment(state, assignment, plan.window_days)
        recent = [*recent[-(_REFUND_DAYS - 1) :], world.advance(state, day)]
    seen = has_been_seen(state)
    stage = observed_stage(state, day0).astype(int)
    stage = np.where(seen & (stage < 0), STAGES.index("gone"), stage)
    carried = np.zeros(pop.size)  # refunds of pre-cutoff purchases that land in the window
    for act in recent:
        _add_revenue(world, act, 0, (day0, day0 + horizon), carried)

    ids = world.ids.to_numpy(zero_copy_only=False)[seen]
    stage_names = np.asarray(STAGES)[stage[seen]]
    tier_names = np.asarray(VALUE_SEGMENTS)[pop.value_segment[seen]]
    frames, matched = [], {}
    for name, table in {BASELINE: {}, **tables}.items():
        actions, matched[name] = _contacts(world, seen, table)
        lift = np.zeros(pop.size)
        for action_id in set(actions[seen]) - {NO_ACTION}:
            mine = actions == action_id
            lift[mine] = true_lift(str(action_id))[stage[mine], pop.value_segment[mine]]
        contacted = actions != NO_ACTION
        for future in futures:
            branch = state.copy()
            branch.treatment_lift[contacted] = lift[contacted]
            branch.treated_until[contacted] = day0 + EFFECT_DAYS
            revenue, purchases = carried.copy(), np.zeros(pop.size, dtype=np.int32)
            for day in range(day0, day0 + horizon):
                act = _advance(world, branch, day, future)
                _add_revenue(world, act, future, (day0, day0 + horizon), revenue)
                purchases[act.user[act.purchase]] += 1
                if day == day0 + CHURN_DAYS - 1:
                    churned = branch.last_event_day < day0
            frames.append(
                pd.DataFrame(
                    {
                        "policy": name,
                        "future": future,
                        "user_id": ids,
                        "stage": stage_names,
                        "tier": tier_names,
                        "action": actions[seen],
                        "lift": lift[seen],
                        "revenue": np.round(revenue[seen], 2),
                        "purchases": purchases[seen],
                        "churned": churned[seen],
                    }
                )
            )
    return frames, matched


def replay(
    config: SimulationConfig,
    cutoff: int | date | datetime | str,
    tables: Mapping[str, Table],
    *,
    horizon_days: int = 90,
    futures: Sequence[int] = (0,),
) -> pd.DataFrame:
    """Outcomes per policy, future and user seen before the cutoff (see the module docstring).

    `tables` maps a policy name to {user_id: action_id} (absent users and `no_action`: no
    contact) or to one action id for every user seen. Columns: policy, future, user_id, stage,
    tier (true segment), action, lift, revenue, purchases, churned. `nobody` is always included.
    """
    day0 = cutoff_day(config, cutoff)
    if horizon_days < CHURN_DAYS:
        raise ValueError(f"horizon_days must be >= {CHURN_DAYS} (the churn window)")
    if day0 <= 0 or day0 + horizon_days > config.days:
        raise ValueError(
            f"cutoff day {day0} + {horizon_days} days must lie inside the simulated "
            f"{config.days} days"
        )
    if BASELINE in tables:
        raise ValueError(f"policy name {BASELINE!r} is reserved for the no-contact baseline")
    for name, table in tables.items():
        named = {table} if isinstance(table, str) else set(table.values())
        unknown = sorted(named - set(ACTION_TRUTH) - {NO_ACTION})
        if unknown:
            raise ValueError(f"table {name!r}: no true effect for {unknown}; known: "
                             f"{sorted(ACTION_TRUTH)}")  # fmt: skip
    frames, matched = [], dict.fromkeys(tables, 0)
    for index in range(config.n_chunks):
        chunk_frames, chunk_matched = _replay_chunk(
            chunk_world(config, index), day0, horizon_days, dict(tables), futures
        )
        frames += chunk_frames
        for name in tables:
            matched[name] += chunk_matched[name]
    for name, table in tables.items():
        if not isinstance(table, str) and matched[name] != len(table):
            raise ValueError(f"table {name!r}: {len(table) - matched[name]} user ids are not in "
                             "the simulation")  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def policy_profit(outcomes: pd.DataFrame, costs: Mapping[str, float]) -> pd.DataFrame:
    """Per policy and future: contacts, cost, revenue kept vs `nobody`, incremental profit.

    Differences are taken per user before summing, so a table that changes nobody's outcome
    keeps exactly 0 (not a rounding residue of two large sums).
    """
    keys = ["future", "user_id"]
    base = outcomes[outcomes["policy"] == BASELINE].set_index(keys)
    index = pd.MultiIndex.from_frame(outcomes[keys])
    frame = pd.DataFrame(
        {
            "policy": outcomes["policy"],
            "future": outcomes["future"],
            "contacted": outcomes["action"] != NO_ACTION,
            "cost": outcomes["action"].map({**costs, NO_ACTION: 0.0}).astype(float),
            "revenue_kept": outcomes["revenue"] - base["revenue"].reindex(index).to_numpy(),
            "churn_prevented": base["churned"].reindex(index).to_numpy().astype(int)
            - outcomes["churned"].astype(int),
        }
    )
    if frame["cost"].isna().any():
        missing = sorted(set(outcomes["action"][frame["cost"].isna()]))
        raise ValueError(f"no cost given for {missing}")
    totals = frame.groupby(["policy", "future"], sort=False).sum().reset_index()
    totals["incremental_profit"] = totals["revenue_kept"] - totals["cost"]
    return totals


def expected_uplift(
    config: SimulationConfig,
    cutoff: int | date | datetime | str,
    action_ids: Sequence[str],
    futures: Sequence[int],
    *,
    horizon_days: int = 90,
) -> pd.DataFrame:
    """Per user (rows) and action (columns): mean revenue with the contact minus without.

    Every user is contacted with each action in turn (users do not interact, so one replay
    gives everyone's counterfactual) over `futures`; the mean is the user's true expected
    revenue effect given everything the simulator knows at the cutoff.
    """
    tables = {action_id: action_id for action_id in action_ids}
    outcomes = replay(config, cutoff, tables, horizon_days=horizon_days, futures=futures)
    mean = outcomes.groupby(["policy", "user_id"], sort=False)["revenue"].mean().unstack(0)
    return mean[list(action_ids)].sub(mean[BASELINE], axis=0)
