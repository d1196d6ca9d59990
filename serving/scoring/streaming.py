"""Scoring a population too large for memory: users in bounded batches, limits still global.

Why: the whole-population pipeline (serving/scoring/pipeline.py) holds every user's features,
scores, contributions and the allocator's matrices at once, ~1.7 GB per million users
(docs/capacity.md); ten million users do not fit a small machine. Here users are split into
`batches` buckets by a hash of their id, and each batch reads only its users' events (a filter
DuckDB applies in the scan), so memory follows the batch size, not the population.

Three passes, each batch by batch (serving/scoring/stream_run.py runs them; this module plans
the batches and holds what they share):

1. features, model scores, stage and tier; the batch is spilled to a temporary Parquet file and
   its gains handed to `serving.decisions.StreamedAllocation` (stored on disk);
2. the allocation's prices, solved once for the whole population, then every batch's decisions
   at those prices, within what the earlier batches left of the budget and capacities; the run's
   decision summary (gain, bound) is then known before anything is written;
3. the reason reference (the median features of active and of lapsed users, computed by DuckDB
   over the spill, so a user's reasons do not depend on their batch), then contributions and
   reasons, appended with the scores and decisions to the output file.

Per user the result is the whole-population pipeline's: features, scores, stages, tiers and
reasons are per user given the reference; decisions are identical when no limit binds (every
user gets their best action) and, when one does, come from prices of the same kind and are
reported next to the same kind of bound (tests/serving/test_streaming.py checks both). The
output's rows are in batch order (by user id within one).

Not streamed (refused with a message): a holdout (it draws exactly round(share × n) of each
action's targets over the whole population) and feature sets fitted on the population at the
cutoff (`behavioural_v2` fits its CLV models on all buyers; a batch would refit on its own).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import duckdb
import ibis
import ibis.expr.datatypes as dt
import pandas as pd

from features import ACTIVE_FLAG, FEATURE_SET, LoadedEvents, as_naive_utc
from serving.decisions import (
    typical_values,
)
from serving.scoring.champions import Champions
from serving.scoring.pipeline import (
    ScoringConfig,
)
from serving.scoring.reason_inputs import ACTIVE_POPULATION, LAPSED_POPULATION

STREAM_ABOVE_USERS = 1_000_000  # `retain score` streams by itself above this many users
DEFAULT_MEMORY_GB = 4.0  # the memory target of a run that streams by itself
BASE_GB = 0.8  # the process before any batch: Python, the models, DuckDB (0.53 GB measured)
BATCH_GB_PER_MILLION = 1.8  # pass 1 per 1M users of batch (1.2-1.3 measured; capacity.md)
MIN_BATCH_USERS = 10_000
SCORE_PREFIX = "_score_"  # the spill's copy of a user's scores, beside their features


@dataclass(frozen=True)
class StreamPlan:
    """How a population is cut: users with an event before the cutoff, and batches."""

    users: int
    batches: int
    memory_gb: float | None = None  # the memory target the batches were sized for, if any

    @property
    def batch_users(self) -> int:
        """The expected users per batch (hash buckets are equal in expectation)."""
        return math.ceil(self.users / self.batches)


def batch_size_for(memory_gb: float) -> int:
    """Users per batch that keep the process near `memory_gb` (BASE_GB + BATCH_GB_PER_MILLION
    per million users, measured by benchmarks/bench_capacity.py)."""
    if memory_gb <= BASE_GB:
        raise ValueError(f"--memory-gb {memory_gb:g} leaves nothing for a batch (base {BASE_GB})")
    return max(MIN_BATCH_USERS, int((memory_gb - BASE_GB) / BATCH_GB_PER_MILLION * 1e6))


def count_users(events: LoadedEvents, as_of: datetime) -> int:
    """Users with an event before `as_of`: those a feature build at `as_of` has a row for."""
    table = events.table
    cutoff = ibis.literal(as_naive_utc(as_of), type=dt.Timestamp())
    return int(table.filter(table.event_time < cutoff).user_id.nunique().execute())


def choose_plan(
    users: int, batch_users: int | None = None, memory_gb: float | None = None
) -> StreamPlan | None:
    """The plan for `users` (None: score them all at once).

    `batch_users` streams in batches of at most that many users, however few there are;
    `memory_gb` sizes the batches (streaming only when the users exceed one batch); with
    neither, runs above STREAM_ABOVE_USERS stream with batches sized for DEFAULT_MEMORY_GB.
    """
    if batch_users is not None and memory_gb is not None:
        raise ValueError("give --batch-users or --memory-gb, not both (one sets the other)")
    if batch_users is not None:
        return plan_batches(users, batch_users)
    if memory_gb is None and users <= STREAM_ABOVE_USERS:
        return None
    target = DEFAULT_MEMORY_GB if memory_gb is None else memory_gb
    size = batch_size_for(target)
    return replace(plan_batches(users, size), memory_gb=target) if users > size else None


def cap_engine_memory(events: LoadedEvents, plan: StreamPlan) -> None:
    """Hold DuckDB to half the plan's memory target (it spills past it), so a scan's buffers
    cannot take what the batches were sized to use. Spark and unsized plans are left alone."""
    if plan.memory_gb is not None and events.backend.name == "duckdb":
        events.backend.raw_sql(f"SET memory_limit = '{plan.memory_gb / 2:.3f}GB'")


def plan_batches(users: int, batch_users: int) -> StreamPlan:
    """The fewest hash buckets that keep every batch within `batch_users`.

    A bucket's size is binomial (standard deviation below the square root of its expected
    size), so buckets are planned four deviations smaller than `batch_users`: a batch over the
    limit is then a 1-in-30,000 event per batch, and a small overshoot at worst.
    """
    if batch_users < 1:
        raise ValueError(f"batch size must be at least 1 user; got {batch_users}")
    expected = max(1.0, batch_users - 4 * math.sqrt(batch_users))
    return StreamPlan(users=users, batches=max(1, math.ceil(users / expected)))


def batch_events(events: LoadedEvents, batches: int, batch: int) -> LoadedEvents:
    """The events of the users whose id hashes into bucket `batch` of `batches`."""
    table = events.table
    bucket = (table.user_id.hash() % batches + batches) % batches  # hash() may be negative
    return replace(events, table=table.filter(bucket == batch))


def check_streamable(champions: Champions, config: ScoringConfig) -> None:
    """Refuse what streaming cannot reproduce (module docstring), with the reason."""
    if config.holdout is not None:
        raise ValueError(
            "a holdout draws exactly round(share × n) of each action's targets over the whole "
            "population, which a streamed run never holds; score without --holdout-share, "
            "then draw it with `retain action-plan --scores FILE --holdout-share …`"
        )
    if champions.feature_set.id != FEATURE_SET.id:
        raise ValueError(
            f"feature set {champions.feature_set.id} fits models on every user at the cutoff; "
            f"a batch would refit on its own users, so it is not streamed (only {FEATURE_SET.id})"
        )


def reason_reference(spills: list[Path], columns: tuple[str, ...]) -> pd.DataFrame:
    """`reason_inputs.reason_reference` of every spilled user: medians by DuckDB, from disk.

    DuckDB's `quantile_cont(…, 0.5)` interpolates as numpy's median does and skips missing
    values as `typical_values` does; the result goes through `typical_values` (the median of one
    value is that value) so that it is rounded exactly as the whole-population reference.

    One column per query: an exact median holds every value of its group, so all columns at
    once held the whole population's features (5 GB at 10M users, the streamed run's peak);
    one column holds 8 bytes per user, and the columnar scan reads only that column.
    """
    population = (
        f"CASE WHEN {ACTIVE_FLAG} = 1 THEN '{ACTIVE_POPULATION}' ELSE '{LAPSED_POPULATION}' END"
    )
    files = [str(path) for path in spills]
    medians: dict[str, pd.Series] = {}
    with duckdb.connect() as connection:
        for column in columns:
            query = (
                f'SELECT {population} AS _population, quantile_cont(CAST("{column}" AS DOUBLE), '
                f"0.5) AS median FROM read_parquet(?) GROUP BY 1"
            )
            found = connection.execute(query, [files]).df()
            medians[column] = found.set_index("_population")["median"]
    table = pd.DataFrame(medians).sort_index().rename_axis("_population").reset_index()
    values = table[list(columns)].astype("float64")
    return typical_values(values, table["_population"].to_numpy())
