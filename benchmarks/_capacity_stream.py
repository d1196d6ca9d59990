"""The streamed `retain score` path at one size, in the child process `bench_capacity.py
--stream-users` starts (its peak memory is the run's own).

Why a module of its own: the capacity benchmark's other steps (whole-population features,
training and scoring, Spark) hold every user at once; this one never does, training included
(the models learn from one hash bucket of ~50k users of the same log, at the cutoff 90 days
before its end; scoring is at the latest cutoff, as `retain score` does by default).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, record, reset_peak, simulated_events, step_peak_gb
from bench_capacity import DAYS, _champions, _cutoff, _timed, _uptime, train_pair

TRAIN_SAMPLE_USERS = 50_000  # the streamed runs train on about this many users of the log


def _sample_champions(loaded, cutoff, users: int):
    """Champions trained on a hash sample of the log's users (one bucket of the streamed run's
    own split), so that no step before scoring holds the whole population."""
    import numpy as np

    from features import WindowConfig, feature_frame
    from serving.scoring.pipeline import feature_matrix
    from serving.scoring.streaming import batch_events

    buckets = max(1, users // TRAIN_SAMPLE_USERS)
    frame = feature_frame(batch_events(loaded, buckets, 0), cutoff, WindowConfig(), labels=True)
    labelled = frame[frame["churned"].notna()].reset_index(drop=True)
    valid = np.random.default_rng(0).random(len(labelled)) < 0.2
    churn, value = train_pair(feature_matrix(labelled), labelled, valid)
    return _champions(churn, value), int((~valid).sum())


TARGET_USERS = 10_000_000  # issue 20: >= 1M users/min and <= 4 GB at this size


def stream_worker(users: int, batch_users: int, memory_gb: float, reasons: str) -> None:
    """`retain score`'s streamed path end to end (load, count, features, scores, reasons,
    decisions under the default playbook's capacities, the Parquet output) at one size."""
    import pyarrow.parquet as pq

    from features import load_events
    from serving.scoring.pipeline import ScoringConfig, latest_cutoff
    from serving.scoring.stream_run import score_streamed
    from serving.scoring.streaming import choose_plan, count_users

    results: dict = {"stream_users": users, "uptime_start": _uptime(), "reasons": reasons}
    started = time.perf_counter()
    events = simulated_events(users, DAYS)
    results["simulate_or_cache_s"] = round(time.perf_counter() - started, 1)
    results["events"] = pq.ParquetFile(events).metadata.num_rows
    loaded = load_events(events)
    champions, results["train_rows"] = _timed(
        results, "train_sample", lambda: _sample_champions(loaded, _cutoff(events), users)
    )
    cutoff = latest_cutoff(loaded)  # what `retain score` scores at by default: every user
    out = DATA / f"capacity_stream_{users}u.parquet"
    config = ScoringConfig(attribution=reasons)  # type: ignore[arg-type]

    def score():
        loaded_now = load_events(events)  # `retain score` loads, counts, then streams
        count = count_users(loaded_now, cutoff)
        plan = choose_plan(count, batch_users or None, None if batch_users else memory_gb)
        plan = plan or choose_plan(count, batch_users=count)  # small: one batch
        return score_streamed(loaded_now, champions, out, plan, as_of=cutoff, config=config)

    # The sample's training above is set-up (`retain score` runs in a process that trained
    # nothing): its peak is kept apart, and the count starts again for the scoring alone.
    results["setup_peak_gb"] = round(step_peak_gb(), 2)
    reset_peak()
    results["rss_before_stream_gb"] = round(step_peak_gb(), 2)
    run = _timed(results, "stream_score", score)
    results["stream_peak_gb"] = round(step_peak_gb(), 2)
    results["scored_users"] = run.users
    results["batches"] = run.plan.batches
    results["largest_batch"] = run.largest_batch
    results["users_per_min"] = round(run.users / results["stream_score_s"] * 60)
    results["decisions"] = run.decisions.as_dict()
    results["output_mb"] = round(out.stat().st_size / 1e6, 1)
    results["peak_gb"] = max(results["setup_peak_gb"], results["stream_peak_gb"])  # the process
    _record(results)
    out.unlink()
    results["uptime_end"] = _uptime()
    print(json.dumps(results))


def _record(results: dict) -> None:
    """The run's headline figures for `run_all.py`; issue 20's targets are for 10M users, so
    a smaller run's figures are printed without a verdict."""
    users = results["stream_users"]
    at_scale = users >= TARGET_USERS
    rate = results["users_per_min"] / 1e6
    peak = results["stream_peak_gb"]
    share = results["decisions"]["share_of_bound"]
    what = f"{users:,} users streamed, features + {results['reasons']} reasons + decisions"
    record(f"{what}: rate", rate, "M users/min", ">= 1M/min", rate >= 1.0 if at_scale else None)
    record(f"{what}: peak RSS", peak, "GiB", "<= 4 GB", peak <= 4.0 if at_scale else None)
    record(f"{what}: gain / LP bound", share * 100, "%", ">= 99%", share >= 0.99)


if __name__ == "__main__":
    if sys.argv[1:2] != ["--worker"] or len(sys.argv) != 6:
        raise SystemExit("usage: _capacity_stream.py --worker USERS BATCH_USERS MEMORY_GB REASONS")
    users, batch, memory, reasons = sys.argv[2:]
    stream_worker(int(users), int(batch), float(memory), reasons)
