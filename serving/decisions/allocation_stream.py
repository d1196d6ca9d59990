"""The allocation of a population scored in batches: prices solved once, applied per batch.

Why: at ten million users the allocator's (actions × users) matrices alone outgrow a small
machine, and a scoring run that streams users in bounded batches never holds them all. The
limits are global, though (one budget, one capacity per action), so batches cannot be decided
independently. The Lagrangian prices of `serving.decisions.allocation` are what makes this
possible: a limit's price is one number per limit (k + 1 <= 8), and at the right prices each
user's choice depends on their own gains only.

1. `add` (pass 1, per batch): each user's gains, laid out as the allocator's rows, are written
   to disk; the users and positive pairs per action are counted (which limits can bind).
2. `solve`: nothing binds at zero prices (every user's best fits: exact, as in `allocate`), or
   prices from a seeded sample of at most `sample_users` users with a positive pair (the only
   users held in memory), corrected on the whole population's excess demand by passes over
   the stored gains (`sampled_prices`). The bound is the lowest L evaluated on the population:
   valid whatever the prices, so `achieved / upper_bound` still bounds the distance from the
   optimum.
3. `decide` (per batch, in batch order): pairs with a positive reduced gain are served within
   the capacity and budget the earlier batches left (`allocate_at_prices`): every limit holds
   by construction whatever the prices; how near the prices are decides how much gain is left.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from serving.decisions.actions import ActionCatalogue
from serving.decisions.allocation import Allocation, Duals, allocate_at_prices
from serving.decisions.allocation_prices import sampled_prices
from serving.decisions.allocation_problem import Problem, lagrangian, prepare, priced_limits
from serving.decisions.contacts import ContactBlocks
from serving.decisions.policy import (
    DecisionInputs,
    DecisionSummary,
    decision_frame,
    decision_inputs,
)

SAMPLE_USERS = 50_000  # users whose gains the price solver holds in memory


class StreamedAllocation:
    """The allocation state of one streamed run; spills each batch's gains into `folder`."""

    def __init__(
        self,
        catalogue: ActionCatalogue,
        budget: float | None,
        folder: Path,
        *,
        sample_users: int = SAMPLE_USERS,
        seed: int = 0,
    ) -> None:
        actions = catalogue.actions
        self.catalogue, self.budget, self.folder = catalogue, budget, Path(folder)
        self.cost, self.capacity = catalogue.costs, catalogue.capacities
        self._limit = np.inf if budget is None else float(budget)
        self._order = np.lexsort((np.arange(len(actions)), self.cost))  # the allocator's rows
        self._sample_users, self._seed = sample_users, seed
        self._users_with_pairs = 0
        self._pairs = np.zeros(len(actions), dtype=np.int64)
        self._batches: list[int] = []
        self._layout: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._theta = np.zeros(0)
        self._bound, self._method = 0.0, "unconstrained"
        self._left, self._budget_left = np.zeros(0), self._limit
        self._used = np.zeros(len(actions), dtype=np.int64)
        self._gain, self._spent, self._users = 0.0, 0.0, 0

    def _rows_path(self, batch: int) -> Path:
        return self.folder / f"gains_{batch:05d}.npy"

    def _problem(self, inputs: DecisionInputs) -> Problem:
        """The batch in the allocator's layout, with the whole population's priced limits."""
        gain = np.where(inputs.candidate, inputs.gain, 0.0)
        p = prepare(gain, inputs.candidate, self.cost, self.capacity, self._limit)
        if self._layout is None:
            return p
        use, supply, priced = self._layout
        return replace(p, use=use, supply=supply, priced=priced)

    def add(self, batch: int, users: pd.DataFrame, blocks: ContactBlocks | None) -> None:
        """Pass 1 for one batch: store its gains (the allocator's rows), count its pairs."""
        p = self._problem(decision_inputs(users, self.catalogue, self.budget, blocks))
        np.save(self._rows_path(batch), p.gain)
        positive = np.isfinite(p.gain)
        self._users_with_pairs += int(positive.any(axis=0).sum())
        self._pairs[p.action] += positive.sum(axis=1)
        self._users += p.gain.shape[1]
        self._batches.append(batch)

    def _population(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """L(theta) and the demand on each priced limit, summed over every stored batch."""
        use, supply, priced = self._layout  # type: ignore[misc]
        cost, cap = self.cost[self._order], np.floor(self.capacity[self._order])
        value, demand = float(theta @ supply), np.zeros(len(supply))
        for batch in self._batches:
            rows = np.load(self._rows_path(batch))
            p = Problem(rows, cost, cap, self._limit, self._order, use, np.zeros_like(supply),
                        priced)  # fmt: skip
            part, taken = lagrangian(p, theta, np.empty_like(rows))
            value, demand = value + part, demand + taken
        return value, demand

    def _sample(self) -> np.ndarray:
        """A seeded uniform sample of the users with a positive pair (their gain rows), at most
        `sample_users` of them: drawn from the stored batches, so rare candidates are not
        missed the way a sample drawn before anyone was counted could miss them."""
        rng = np.random.default_rng(self._seed)
        rate = min(1.0, self._sample_users / max(self._users_with_pairs, 1))
        drawn = []
        for batch in self._batches:
            rows = np.load(self._rows_path(batch))
            rows = rows[:, np.isfinite(rows).any(axis=0)]
            drawn.append(rows[:, rng.random(rows.shape[1]) < rate])
        return np.concatenate(drawn, axis=1)

    def duals(self) -> Duals:
        """The prices per limit as the allocator reports them: budget, and per action."""
        _, _, priced = self._layout  # type: ignore[misc]
        capacity = np.zeros(len(self.cost))
        capacity[self._order[priced[priced >= 0]]] = self._theta[priced >= 0]
        budget = float(self._theta[priced < 0][0]) if (priced < 0).any() else 0.0
        return Duals(budget, capacity)

    def solve(self) -> None:
        """Lay out the population's limits and find their prices (module docstring, step 2)."""
        order = self._order
        cost, cap = self.cost[order], np.floor(self.capacity[order])
        self._layout = priced_limits(cost, cap, self._limit, self._users_with_pairs,
                                     self._pairs[order])  # fmt: skip
        use, supply, _ = self._layout
        self._left = cap.copy()
        zero = np.zeros(len(supply))
        value, demand = self._population(zero)
        self._theta, self._bound = zero, value
        if (demand <= supply).all():
            return
        sample = self._sample()
        share = sample.shape[1] / self._users_with_pairs
        self._theta, self._bound = sampled_prices(sample, use, supply, share, self._population)
        self._bound = min(self._bound, value)
        self._method = "streamed_prices"

    def decide(self, batch: int, users: pd.DataFrame, blocks: ContactBlocks | None) -> pd.DataFrame:
        """Pass 2 for one batch: its decisions (DECISION_COLUMNS), within what is left."""
        if self._layout is None:
            raise RuntimeError("solve() the prices before deciding a batch")
        inputs = decision_inputs(users, self.catalogue, self.budget, blocks)
        p = self._problem(inputs)
        if len(self.cost):
            choice, self._budget_left = allocate_at_prices(p, self._theta, self._left,
                                                           self._budget_left)  # fmt: skip
        else:  # an empty playbook: nothing to allocate
            choice = np.full(len(users), -1, dtype=np.int64)
        batch_used = np.bincount(choice[choice >= 0], minlength=len(self.cost))
        self._used += batch_used
        # `_reasons` calls an action full when this batch's count reaches the capacity it was
        # given: what the other batches left plus what this one took.
        room = self.capacity - (self._used - batch_used)
        allocation = Allocation(choice, 0.0, 0.0, self.duals(), self._method)
        frame = decision_frame(users, self.catalogue, inputs, allocation, room)
        self._gain += float(frame["expected_gain"].sum())
        self._spent += float(frame["action_cost"].sum())
        return frame

    def summary(self) -> DecisionSummary:
        """The run's summary once every batch is decided."""
        return DecisionSummary(
            users=self._users,
            contacted=int(self._used.sum()),
            cost=self._spent,
            achieved_gain=self._gain,
            upper_bound=max(self._bound, self._gain),
            method=self._method,
            budget=self.budget,
            by_action={
                a.id: int(n) for a, n in zip(self.catalogue.actions, self._used, strict=True) if n
            },
        )
