"""How churn risk moved since the snapshot this worker served before the current one.

Why in memory, at the swap: the service knows only the snapshot it serves. When a refresh
replaces it (a promoted champion, a grown event log, a new score file), the old churn
probabilities are about to be dropped; keeping them, aligned to the new snapshot's rows, costs
one float per user and makes "who got riskier since the last run" a lookup. Only the numbers
are kept (no user ids, no old snapshot), so memory stays one array beside the new snapshot.
A worker that has not swapped since it started has no previous run: the answer says so
(`previous` null) instead of inventing one. Each worker keeps its own, so replicas that
refreshed at different times compare against what each of them served.

Risk is binned in RISK_BINS (20 bins of 0.05) for the distribution chart; a user's risk has
"risen" or "fallen" when it moved by at least NOTABLE_CHANGE. Users with a missing churn
probability are counted (`unscored`), never silently left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from serving.decisions import STAGES
from serving.scoring import Snapshot

if TYPE_CHECKING:
    from serving.api.state import ServingState

RISK_BINS = np.round(np.linspace(0.0, 1.0, 21), 2)
NOTABLE_CHANGE = 0.05  # five percentage points of churn probability


@dataclass(frozen=True)
class PreviousRun:
    """The snapshot served before the current one: its facts and its risks, aligned.

    `churn_probability[i]` is the previous risk of the current snapshot's row i (NaN: the user
    was not in the previous run, or had no risk there); `gone` counts previous users that are
    not in the current run, `new` current users that were not in the previous one.
    """

    as_of: datetime | None
    source: str
    loaded_at: datetime
    model_versions: dict[str, str | None]
    users: int
    gone: int
    new: int
    churn_probability: np.ndarray
    counts: list[int]


def _risk(snapshot: Snapshot) -> np.ndarray:
    return snapshot.scores["churn_probability"].to_numpy(dtype=float, na_value=np.nan)


def _histogram(risk: np.ndarray) -> list[int]:
    counts, _ = np.histogram(risk[~np.isnan(risk)], bins=RISK_BINS)
    return counts.astype(int).tolist()


def previous_run(old: Snapshot, loaded_at: datetime, new: Snapshot) -> PreviousRun:
    """What to keep of `old` (served since `loaded_at`) when `new` replaces it."""
    old_ids = pd.Index(old.scores["user_id"].astype("str"))
    where = old_ids.get_indexer(pd.Index(new.scores["user_id"].astype("str")))
    old_risk = _risk(old)
    aligned = np.full(len(where), np.nan)
    found = where >= 0
    aligned[found] = old_risk[where[found]]
    return PreviousRun(
        as_of=old.as_of,
        source=Path(old.source).name,  # which file or folder, not where it is on the server
        loaded_at=loaded_at,
        model_versions=old.model_versions,
        users=len(old),
        gone=len(old) - int(found.sum()),
        new=len(new) - int(found.sum()),
        churn_probability=aligned,
        counts=_histogram(old_risk),
    )


def _plain(value: float) -> float | None:
    """NaN (not scored, or not in the other run) → None (JSON null)."""
    return None if np.isnan(value) else float(value)


def _mean(values: np.ndarray) -> float | None:
    return float(values.mean()) if len(values) else None


def _moves(
    scores: pd.DataFrame, rows: np.ndarray, now: np.ndarray, before: np.ndarray
) -> list[dict[str, Any]]:
    """One item per row: the user's risk now, before (null when not compared) and the change."""
    ids = scores["user_id"].astype("str").to_numpy()[rows]
    stages = scores["lifecycle_stage"].astype("str").to_numpy()[rows]
    return [
        {
            "user_id": user_id,
            "status": "ok",
            "lifecycle_stage": stage,
            "churn_probability": _plain(now[row]),
            "previous_churn_probability": _plain(before[row]),
            "change": _plain(now[row] - before[row]),
        }
        for user_id, stage, row in zip(ids, stages, rows, strict=True)
    ]


def _message(previous: PreviousRun | None, compared: int) -> str:
    if previous is None:
        return (
            "No previous scoring run: this worker has served only the current snapshot since "
            "it started, so there is nothing to compare with yet. The change appears after the "
            "next refresh (a promoted model, new events or a new score file)."
        )
    when = f"as of {previous.as_of:%Y-%m-%d}" if previous.as_of else "(empty)"
    return (
        f"Compared with the previous snapshot {when} from {previous.source}: "
        f"{compared:,} users scored in both runs."
    )


def compare_risk(state: ServingState, user_ids: list[str], top: int) -> dict[str, Any]:
    """The RiskChangeResponse of one state: distributions, movers, and the asked users."""
    snapshot, previous = state.snapshot, state.previous
    scores = snapshot.scores
    now = _risk(snapshot)
    before = np.full(len(now), np.nan) if previous is None else previous.churn_probability
    both = ~np.isnan(now) & ~np.isnan(before)
    change = now - before  # NaN wherever either run lacks the user's risk
    stages = scores["lifecycle_stage"].astype("str").to_numpy()
    by_stage = []
    for stage in STAGES:
        mine = stages == stage
        by_stage.append(
            {
                "stage": stage,
                "users": int(mine.sum()),
                "counts": _histogram(now[mine]),
                "mean_risk": _mean(now[mine & ~np.isnan(now)]),
                "compared": int((mine & both).sum()),
                "mean_change": _mean(change[mine & both]),
            }
        )
    rising = np.flatnonzero(both & (change > 0))
    order = np.lexsort((scores["user_id"].astype("str").to_numpy()[rising], -change[rising]))
    asked = [snapshot.position(user_id) for user_id in user_ids]
    found = iter(_moves(scores, np.array([r for r in asked if r is not None], int), now, before))
    items = [
        next(found) if row is not None else {"user_id": user_id, "status": "unknown_user"}
        for user_id, row in zip(user_ids, asked, strict=True)
    ]
    compared = int(both.sum())
    return {
        "as_of": snapshot.as_of,
        "previous": None
        if previous is None
        else {
            "as_of": previous.as_of,
            "source": previous.source,
            "loaded_at": previous.loaded_at,
            "model_versions": previous.model_versions,
            "users": previous.users,
        },
        "message": _message(previous, compared),
        "bins": RISK_BINS.tolist(),
        "users": len(scores),
        "unscored": int(np.isnan(now).sum()),
        "by_stage": by_stage,
        "previous_counts": None if previous is None else previous.counts,
        "compared": compared,
        "new_users": 0 if previous is None else previous.new,
        "gone_users": 0 if previous is None else previous.gone,
        "notable_change": NOTABLE_CHANGE,
        "risen": int((change[both] >= NOTABLE_CHANGE).sum()),
        "fallen": int((change[both] <= -NOTABLE_CHANGE).sum()),
        "mean_change": _mean(change[both]),
        "largest_increases": _moves(scores, rising[order][:top], now, before),
        "items": items,
    }
