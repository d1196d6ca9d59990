"""The naive per-user baseline of bench_scoring.py, and the CPU clock the benchmark reports.

Why a baseline that does the batch's work: a loop that skipped the allocation (capacities,
budget) or the reasons would look slow for the wrong reason. Here every per-user part runs one
user at a time; what binds across users runs once, as in the batch: the medians reasons
compare with, and the allocation, since capacities and a budget cannot be honoured user by
user. `same_output` checks it answers what the batch answers for the same users.
"""

from __future__ import annotations

import resource
import time

import numpy as np


def _cpu() -> float:
    """CPU seconds of this process (all its threads) and its waited-for children."""
    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(work):
    """`work()`'s result, wall seconds and CPU seconds."""
    wall, cpu = time.perf_counter(), _cpu()
    result = work()
    return result, time.perf_counter() - wall, _cpu() - cpu


def naive_per_user(features, champions, config, n: int):
    """The exact batch's work with every per-user part done one user at a time (see the
    module docstring): the table (user_id, scores, stage, tier, reasons, action), wall s,
    CPU s."""
    import pandas as pd

    from serving.decisions import assign_stages, plan_decisions
    from serving.scoring.pipeline import (
        active_mask,
        churn_contributions,
        feature_matrix,
        model_scores,
        value_tiers,
    )
    from serving.scoring.reason_inputs import reason_lines, reason_reference

    users = features.head(n).reset_index(drop=True)
    segmentation = config.segmentation.for_windows(champions.windows())

    def run():
        matrix = feature_matrix(users, champions.feature_set)
        active = active_mask(users)
        tiers = value_tiers(champions, segmentation)  # cut points stored with the value model
        reference = reason_reference(matrix, active)  # population medians: once, as the batch
        rows = []
        for i in range(n):
            one, is_active = matrix.iloc[[i]], active[i : i + 1]
            scores = model_scores(one, is_active, champions)
            contributions = churn_contributions(champions, one, is_active, config)
            probability = scores["churn_probability"].to_numpy()
            rows.append(
                scores.assign(
                    user_id=users["user_id"].iloc[[i]].astype("str").to_numpy(),
                    lifecycle_stage=assign_stages(
                        users.iloc[[i]], probability, segmentation.stages
                    ).to_numpy(),
                    value_tier=tiers.transform(scores["value_if_retained"]).to_numpy(),
                    reasons=reason_lines(
                        one, contributions, is_active, champions, config.reasons_top_k, reference
                    ),
                )
            )
        table = pd.concat(rows, ignore_index=True)
        decisions, _ = plan_decisions(table, config.catalogue, budget=config.budget)
        return table.assign(action=decisions["action"].to_numpy())

    return timed(run)


def same_output(naive, batch) -> bool:
    """Whether the naive loop answered what the batch answered for the same users."""
    columns = ["user_id", "lifecycle_stage", "value_tier", "reasons", "action"]
    scores = ["churn_probability", "value_if_retained", "value_at_stake"]
    same = all(
        (naive[c].astype(str).to_numpy() == batch[c].astype(str).to_numpy()).all() for c in columns
    )
    return same and all(np.allclose(naive[c], batch[c], rtol=1e-9, atol=1e-12) for c in scores)
