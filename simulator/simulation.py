"""A synthetic event log that behaves like a real product (`retain simulate`).

Why: the pipeline needs data with known structure at any scale, for demos, tests and benchmarks:
users acquired over time through channels (growth), an onboarding phase in which a habit forms
or not, engagement that drifts up or down, busier weekends, an evening-heavy hour-of-day
pattern, a December lift, a churn hazard driven by engagement, recency and satisfaction (support
tickets and refunds raise it), dormant users who come back, purchases whose value is
heterogeneous and heavy-tailed, and refunds. Optionally randomised campaigns with known
per-segment effects (`simulator.campaigns`).

The output follows DESIGN.md §2: `user_id` (string, `u0000001`), `event_time`
(timestamp[us, UTC]), `event_type` (login, view, add_to_cart, purchase, refund, support_ticket),
`amount` (float64: > 0 for purchases, < 0 for refunds, else 0.0), plus `channel` and `platform`.

Plausibility on the defaults (asserted in `tests/data/test_simulation.py` on 3,000 users × 365
days; typical values in brackets): ~24 events per user over a year (12 M for 500k users); of the
users active in the 90 days before a mid-period cutoff, 10-50 % have no event in the next 30
days [~39 %]; users seen in the last 7 days churn at under half the rate of those last seen
30-90 days ago [~15 % vs ~77 %]; the top 10 % of buyers bring ≥ 40 % of revenue [~56 %]; refunds
are > 0 and < 15 % of purchase value [~3.5 %]; weekends are > 10 % busier than weekdays [~32 %];
some users return after ≥ 90 silent days [~4 % of users].

Determinism: users are simulated in chunks of `chunk_users`; chunk i draws from
`SeedSequence(seed).spawn(n_chunks)[i]`, so the same config gives the identical table (the chunk
size is part of the config: another size deals the luck differently), and memory stays bounded
by one chunk whatever the number of users.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field

from simulator.campaigns import (
    CAMPAIGN_SCHEMA,
    CampaignPlan,
    TruthTally,
    assign_campaign,
    campaign_table,
    no_event_in_window,
    replay_flipped,
    start_treatment,
    truth_path,
    write_truth,
)
from simulator.drift import DriftConfig, apply_drift
from simulator.dynamics import (
    DayActivity,
    Population,
    UserState,
    calendar_factors,
    draw_population,
    initial_state,
    step_day,
)
from simulator.events import EVENT_SCHEMA, events_table, start_microseconds, user_ids


class SimulationConfig(BaseModel):
    """What to simulate. The same config (chunk size included) always gives the same log."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    users: int = Field(10_000, gt=0, description="Users acquired over the period.")
    days: int = Field(365, gt=0, le=3650, description="Length of the simulated period.")
    seed: int = Field(7, ge=0)
    start: date = Field(date(2024, 1, 1), description="First simulated day (UTC).")
    chunk_users: int = Field(50_000, gt=0, description="Users simulated together in memory.")
    campaigns: CampaignPlan | None = Field(None, description="Run randomised campaigns if set.")
    drift: DriftConfig | None = Field(None, description="Shift behaviour from a day on if set.")

    @property
    def n_chunks(self) -> int:
        return math.ceil(self.users / self.chunk_users)

    @property
    def end(self) -> date:
        """The first day after the simulated period (exclusive)."""
        return self.start + timedelta(days=self.days)


@dataclass(frozen=True)
class SimulatedChunk:
    """One chunk of users: its events, its campaign-log rows and its campaign truth."""

    index: int
    events: pa.Table
    campaign_log: pa.Table | None
    truth: TruthTally


@dataclass(frozen=True)
class SimulationSummary:
    """What `write_simulation` produced, for the CLI summary and for callers."""

    users: int
    events: int
    purchases: int
    revenue: float
    refunds: float
    first_event: datetime | None
    last_event: datetime | None
    path: Path
    campaign_rows: int = 0
    campaigns_path: Path | None = None


@dataclass(frozen=True)
class ChunkWorld:
    """One chunk's users, calendar and random streams: where every run over the chunk starts.

    Why an object: the event log and a policy replay (`simulator.policy_replay`) must see the same
    users and the same luck. Streams are `SeedSequence(seed)` children keyed by path, so each is
    addressable on its own: (chunk, 0) population, (chunk, 1) event detail, (chunk, 2) campaign
    assignment, (chunk, 3, day) each day's draws; replays add (chunk, 4, …) and (chunk, 5, …);
    (chunk, 6) is the drift's (simulator.drift).
    """

    config: SimulationConfig
    index: int
    population: Population
    ids: pa.Array
    calendar: np.ndarray

    def stream(self, *key: int) -> np.random.SeedSequence:
        """The seed at `key` below this chunk's seed (the same as spawning down to it)."""
        return chunk_stream(self.config, self.index, *key)

    def advance(self, state: UserState, day: int) -> DayActivity:
        """Simulate `day` for every user of the chunk with that day's own draws."""
        rng = np.random.Generator(np.random.PCG64(self.stream(3, day)))
        return step_day(self.population, state, day, float(self.calendar[day]), rng)


def chunk_stream(config: SimulationConfig, index: int, *key: int) -> np.random.SeedSequence:
    """`SeedSequence(seed).spawn(n_chunks)[index]` then `.spawn(…)[k]` for each k of `key`."""
    return np.random.SeedSequence(config.seed, spawn_key=(index, *key))


def chunk_world(config: SimulationConfig, index: int) -> ChunkWorld:
    """Users [index × chunk_users, …): their traits and calendar, before anything happens."""
    first_user = index * config.chunk_users
    n_users = min(config.chunk_users, config.users - first_user)
    rng = np.random.default_rng(chunk_stream(config, index, 0))
    return ChunkWorld(
        config=config,
        index=index,
        population=draw_population(n_users, config.days, rng),
        ids=user_ids(first_user, n_users, config.users),
        calendar=calendar_factors(
            config.start.weekday(), config.start.timetuple().tm_yday - 1, config.days
        ),
    )


def _simulate_chunk(config: SimulationConfig, index: int) -> SimulatedChunk:
    """Simulate users [index × chunk_users, …) day by day, then expand their events."""
    world = chunk_world(config, index)
    population, ids, advance = world.population, world.ids, world.advance
    state = initial_state(population)

    plan = config.campaigns
    assignment_days = set(plan.assignment_days(config.days)) if plan else set()
    campaign_rng = np.random.default_rng(world.stream(2))
    truth, logs, open_campaign = TruthTally(), [], None
    activity = []
    for day in range(config.days):
        if plan is not None and day in assignment_days:
            assignment = assign_campaign(population.value_segment, state, day, plan, campaign_rng)
            start_treatment(state, assignment, plan.window_days)
            other_arm = replay_flipped(state, assignment, plan.window_days, advance)
            open_campaign = (assignment, other_arm)
            logs.append(campaign_table(assignment, ids, config.start))
        activity.append(advance(state, day))
        if open_campaign is not None and day == open_campaign[0].day + plan.window_days - 1:
            assignment, other_arm = open_campaign
            this_arm = no_event_in_window(state, assignment)
            truth.add(
                assignment,
                churn_treated=np.where(assignment.treated, this_arm, other_arm),
                churn_control=np.where(assignment.treated, other_arm, this_arm),
            )
            open_campaign = None

    events = events_table(
        activity, population, ids, config.start, config.days, np.random.default_rng(world.stream(1))
    )
    if config.drift is not None:
        start = start_microseconds(config.start)
        events = apply_drift(events, config.drift, start, np.random.default_rng(world.stream(6)))
    campaign_log = None
    if plan is not None:
        campaign_log = pa.concat_tables(logs) if logs else CAMPAIGN_SCHEMA.empty_table()
    return SimulatedChunk(index=index, events=events, campaign_log=campaign_log, truth=truth)


def iter_chunks(config: SimulationConfig) -> Iterator[SimulatedChunk]:
    """Chunks in order; each is independent of the others and holds only its own users."""
    for index in range(config.n_chunks):
        yield _simulate_chunk(config, index)


def simulate_events(config: SimulationConfig) -> pd.DataFrame:
    """The whole event log in memory (for small runs: tests, notebooks)."""
    tables = [chunk.events for chunk in iter_chunks(config)]
    return pa.concat_tables(tables).to_pandas()


def _partial(path: Path) -> Path:
    """Where a file is written until it is complete (readers never see half a log)."""
    return path.with_name(f".{path.name}.partial")


def write_simulation(
    config: SimulationConfig,
    out: Path,
    campaigns_out: Path | None = None,
    on_chunk: Callable[[SimulatedChunk], None] | None = None,
) -> SimulationSummary:
    """Write the event log (and campaign log + truth) as Parquet, one row group per chunk.

    Memory holds one chunk at a time. Files appear only once complete (written beside, then
    renamed). `campaigns_out` without `config.campaigns` uses the default `CampaignPlan()`.
    `on_chunk` is called after each chunk is written, for progress.
    """
    if campaigns_out is not None and config.campaigns is None:
        config = config.model_copy(update={"campaigns": CampaignPlan()})
    targets = [out] if campaigns_out is None else [out, campaigns_out]
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
    tally = _Tally()
    try:
        with contextlib.ExitStack() as stack:
            writer = stack.enter_context(pq.ParquetWriter(_partial(out), EVENT_SCHEMA))
            campaign_writer = None
            if campaigns_out is not None:
                campaign_writer = stack.enter_context(
                    pq.ParquetWriter(_partial(campaigns_out), CAMPAIGN_SCHEMA)
                )
            for chunk in iter_chunks(config):
                writer.write_table(chunk.events)
                tally.add(chunk)
                if campaign_writer is not None and chunk.campaign_log is not None:
                    campaign_writer.write_table(chunk.campaign_log)
                if on_chunk is not None:
                    on_chunk(chunk)
        for target in targets:
            os.replace(_partial(target), target)
    finally:
        for target in targets:
            _partial(target).unlink(missing_ok=True)
    if campaigns_out is not None and config.campaigns is not None:
        write_truth(tally.truth, truth_path(campaigns_out), config.campaigns.window_days)
    return tally.summary(config, out, campaigns_out)


@dataclass
class _Tally:
    """Running totals over chunks for the summary (so no chunk has to be kept)."""

    events: int = 0
    purchases: int = 0
    revenue: float = 0.0
    refunds: float = 0.0
    first: datetime | None = None
    last: datetime | None = None
    campaign_rows: int = 0
    truth: TruthTally = field(default_factory=TruthTally)

    def add(self, chunk: SimulatedChunk) -> None:
        amount = chunk.events.column("amount").to_numpy()
        self.events += chunk.events.num_rows
        self.purchases += int((amount > 0).sum())
        self.revenue += float(amount[amount > 0].sum())
        self.refunds += float(-amount[amount < 0].sum())
        if chunk.events.num_rows:
            times = chunk.events.column("event_time")
            low, high = pc.min(times).as_py(), pc.max(times).as_py()
            self.first = low if self.first is None else min(self.first, low)
            self.last = high if self.last is None else max(self.last, high)
        if chunk.campaign_log is not None:
            self.campaign_rows += chunk.campaign_log.num_rows
            self.truth.merge(chunk.truth)

    def summary(
        self, config: SimulationConfig, out: Path, campaigns_out: Path | None
    ) -> SimulationSummary:
        return SimulationSummary(
            users=config.users,
            events=self.events,
            purchases=self.purchases,
            revenue=round(self.revenue, 2),
            refunds=round(self.refunds, 2),
            first_event=self.first,
            last_event=self.last,
            path=out,
            campaign_rows=self.campaign_rows,
            campaigns_path=campaigns_out,
        )
