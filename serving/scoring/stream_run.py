"""One streamed scoring run, pass by pass (the passes are described in streaming.py).

Why a class: the three passes share the run's state (the spill folder, the allocation, the
reason reference) and each is a loop over batches; apart they stay short and readable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from features import LoadedEvents, WindowConfig, feature_frame, private_folder
from serving.decisions import (
    DECISIONS_ATTR,
    SEGMENTATION_ATTR,
    USER_COLUMNS,
    DecisionSummary,
    StreamedAllocation,
)
from serving.scoring.champions import Champions
from serving.scoring.pipeline import (
    ScoringConfig,
    active_mask,
    churn_contributions,
    feature_matrix,
    latest_cutoff,
    score_table,
    user_scores,
)
from serving.scoring.reason_inputs import reason_lines
from serving.scoring.stream_output import ScoreWriter
from serving.scoring.streaming import (
    SCORE_PREFIX,
    StreamPlan,
    batch_events,
    cap_engine_memory,
    check_streamable,
    reason_reference,
)

WRITE_CHUNK_USERS = 250_000  # users per contributions-reasons-output step of pass 3


@dataclass(frozen=True)
class StreamedRun:
    """What a streamed run did: the cutoff, the plan, the decisions and the largest batch."""

    as_of: datetime
    plan: StreamPlan
    decisions: DecisionSummary
    users: int
    largest_batch: int
    output: Path | None


class _Run:
    """The state the passes share; `spill` is a temporary folder the run owns."""

    def __init__(
        self, champions: Champions, config: ScoringConfig, spill: Path, chunk_users: int
    ) -> None:
        self.champions, self.config, self.spill = champions, config, spill
        self.chunk_users = chunk_users
        self.segmentation = config.segmentation.for_windows(champions.windows())
        self.allocation = StreamedAllocation(config.catalogue, config.budget, spill)
        self.batches: list[int] = []
        self.largest = 0

    def _path(self, kind: str, batch: int) -> Path:
        return self.spill / f"{kind}_{batch:05d}.parquet"

    def _blocks(self, users: pd.DataFrame, as_of: datetime):
        contacts = self.config.contacts
        if contacts is None:
            return None
        return contacts.blocks(
            pd.Index(users["user_id"]), self.config.catalogue, pd.Timestamp(as_of)
        )

    def score(self, batch: int, features: pd.DataFrame) -> None:
        """Pass 1: scores, stage and tier of one batch; spilled, and its gains to the allocation."""
        fs = self.champions.feature_set
        matrix, active = feature_matrix(features, fs), active_mask(features)
        users = user_scores(features, matrix, active, self.champions, self.segmentation)
        self.allocation.add(batch, users, self._blocks(users, features["as_of"].iloc[0]))
        scores = users.drop(columns="user_id").add_prefix(SCORE_PREFIX)
        pd.concat([features, scores], axis=1).to_parquet(self._path("batch", batch), index=False)
        self.batches.append(batch)
        self.largest = max(self.largest, len(features))

    def _users(self, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        """A spilled batch split back into its features and its users' scores."""
        scored = [c for c in frame.columns if c.startswith(SCORE_PREFIX)]
        users = frame[scored].rename(columns=lambda c: c.removeprefix(SCORE_PREFIX))
        users.insert(0, "user_id", frame["user_id"].astype("str"))
        return frame.drop(columns=scored), users

    def decide(self, as_of: datetime) -> DecisionSummary:
        """Pass 2: prices for everyone, then every batch's decisions (spilled), in batch order."""
        self.allocation.solve()
        columns = ["user_id", *(SCORE_PREFIX + c for c in USER_COLUMNS if c != "user_id")]
        for batch in self.batches:
            _, users = self._users(pd.read_parquet(self._path("batch", batch), columns=columns))
            decisions = self.allocation.decide(batch, users, self._blocks(users, as_of))
            decisions.to_parquet(self._path("decisions", batch), index=False)
        return self.allocation.summary()

    def write(self, writer: ScoreWriter | None, with_features: bool, each_batch) -> None:
        """Pass 3: contributions and reasons against the whole population's reference.

        Each batch goes in chunks of `chunk_users`: every step here is per user (the reference
        and the decisions are fixed), and its contributions, reason texts and output rows took
        ~2.5 GiB per million users, more than pass 1 (measured at 10M users, 1.1M per batch), so
        chunking keeps this pass's memory independent of the batch size.
        """
        spills = [self._path("batch", batch) for batch in self.batches]
        reference = reason_reference(spills, self.champions.feature_set.columns)
        for batch, path in zip(self.batches, spills, strict=True):
            spilled, decided = pq.read_table(path), pq.read_table(self._path("decisions", batch))
            for start in range(0, spilled.num_rows, self.chunk_users):
                part = spilled.slice(start, self.chunk_users).to_pandas()
                decisions = decided.slice(start, self.chunk_users).to_pandas()
                table = self._table(part, decisions, reference, with_features)
                if writer is not None:
                    writer.write(table)
                if each_batch is not None:
                    each_batch(table)

    def _table(
        self,
        spilled: pd.DataFrame,
        decisions: pd.DataFrame,
        reference: pd.DataFrame,
        with_features: bool,
    ) -> pd.DataFrame:
        """The score table of some spilled users, with their decisions from pass 2."""
        features, users = self._users(spilled)
        matrix = feature_matrix(features, self.champions.feature_set)
        active = active_mask(features)
        contributions = churn_contributions(self.champions, matrix, active, self.config)
        top_k = self.config.reasons_top_k
        reasons = reason_lines(matrix, contributions, active, self.champions, top_k, reference)
        table = score_table(users, features, decisions, reasons, self.champions)
        if with_features:
            table = table.join(features[[c for c in features.columns if c not in table.columns]])
        return table


def score_streamed(
    events: LoadedEvents,
    champions: Champions,
    out: Path | None,
    plan: StreamPlan,
    *,
    as_of: datetime | None = None,
    config: ScoringConfig | None = None,
    windows: WindowConfig | None = None,
    with_features: bool = False,
    each_batch: Callable[[pd.DataFrame], None] | None = None,
    chunk_users: int = WRITE_CHUNK_USERS,
) -> StreamedRun:
    """Score every user batch by batch and write the score table to `out` (.parquet or .csv).

    `plan` comes from `choose_plan` (or `plan_batches`) on `count_users` at the cutoff.
    `each_batch` sees every part of the score table as it is written, at most `chunk_users`
    rows at a time (the CLI's totals, a churn list's top rows); with `out` None nothing is
    written (a churn list needs only those).
    """
    config = config or ScoringConfig()
    check_streamable(champions, config)
    cap_engine_memory(events, plan)
    cutoff = as_of or latest_cutoff(events)
    windows = windows or champions.windows()
    near = None if out is None else out.parent  # the spill goes beside the output (same disk)
    with private_folder(near, "retain-stream") as folder:
        run = _Run(champions, config, Path(folder), chunk_users)
        for batch in range(plan.batches):
            users = batch_events(events, plan.batches, batch)
            features = feature_frame(users, cutoff, windows, feature_set=champions.feature_set)
            if not features.empty:
                run.score(batch, features)
            del features
        if not run.batches:
            raise ValueError(
                f"no user has an event before {cutoff:%Y-%m-%d %H:%M}; nothing to score"
            )
        summary = run.decide(cutoff)
        attrs = {
            DECISIONS_ATTR: summary.as_dict(),
            SEGMENTATION_ATTR: run.segmentation.model_dump(mode="json"),
        }
        writer = None if out is None else ScoreWriter(out, attrs)
        try:
            run.write(writer, with_features, each_batch)
            if writer is not None:
                writer.close()
        finally:
            if writer is not None:
                writer.abort()
    return StreamedRun(cutoff, plan, summary, summary.users, run.largest, out)
