"""Capacity curves: feature build, training and scoring time against users and events.

One child process per size (so each size's peak memory is its own) on the cached simulated
log (`_common.simulated_events`, 365 days). Per size it measures, on DuckDB:
  * features: load + the full feature set with labels at one cutoff (90 days before the end);
  * training: the churn classifier and the value regressor with the default configs, on the
    labelled users of that cutoff (random 80/20 split: the 20% is the early-stopping set);
  * scoring: `score_features` (predictions, stages, tiers, capacity-limited decisions, path
    reason codes) of every user at that cutoff.
With `--spark-users`, the same feature build and scoring also run on local Spark
(`features.spark_table`, `serving.scoring.spark`) at those sizes. `uptime` is recorded before
each step: the machine is shared, so the load average says how much of it we had.

    .venv/bin/python benchmarks/bench_capacity.py --users 100000 1000000 5000000 \
        --spark-users 100000 --out benchmarks/.data/capacity.jsonl

With `--stream-users`, only the streamed `retain score` path (serving/scoring/stream_run.py)
runs (`_capacity_stream.py`): load, count, features, scores, reasons and capacity-limited decisions in batches sized
for `--memory-gb` (or `--batch-users`), written to Parquet, on models trained on a ~50k-user
hash sample of the same log. It reports users per minute, the batches, the child's CPU seconds
and peak RSS (the kernel's ru_maxrss of the child: what "bounded memory" is about):

    .venv/bin/python benchmarks/bench_capacity.py --stream-users 10000000 --memory-gb 4

Results feed docs/capacity.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, peak_gb, simulated_events

DAYS = 365
STREAM_SCRIPT = Path(__file__).resolve().parent / "_capacity_stream.py"


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _load1() -> float:
    return os.getloadavg()[0]


def _cutoff(events: Path) -> datetime:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    last = pc.max(pq.read_table(events, columns=["event_time"])["event_time"]).as_py()
    return datetime.combine(last.date(), datetime.min.time()) - timedelta(days=90)


def _timed(results: dict, name: str, step):
    results[f"{name}_load1"] = _load1()
    cpu, started = time.process_time(), time.perf_counter()
    value = step()
    results[f"{name}_s"] = round(time.perf_counter() - started, 2)
    results[f"{name}_cpu_s"] = round(time.process_time() - cpu, 2)
    print(json.dumps({**results, "partial": True}), flush=True)  # survives a later timeout
    return value


def _champions(churn, value):
    from datetime import UTC

    from features.definitions import FEATURE_SET
    from serving.scoring.champions import Champions
    from training.registry import ModelInfo

    def info(name: str) -> ModelInfo:
        return ModelInfo(name, "1", "bench", datetime.now(UTC), FEATURE_SET.id)

    return Champions(churn, None, value, info("retain-churn"), None, info("retain-value"))


def _registered(champions, users: int, frame):
    """The same two models logged and registered in a scratch SQLite store (for `spark_udf`)."""
    import dataclasses

    import mlflow

    from serving.scoring.champions import point_mlflow_at
    from training.pyfunc import log_estimator
    from training.registry import register
    from training.tracking import configure

    uri = f"sqlite:///{DATA / f'capacity_mlflow_{users}u' / 'mlflow.db'}"
    configure(uri, experiment="capacity")
    versions = {}
    for kind, model in (("churn", champions.churn), ("value", champions.value)):
        with mlflow.start_run() as run:
            logged = log_estimator(model, frame.head(50), kind)
            versions[kind], _ = register(logged.model_uri, kind, run.info.run_id, {})
    point_mlflow_at(uri)
    return dataclasses.replace(
        champions,
        churn_info=dataclasses.replace(champions.churn_info, version=versions["churn"]),
        value_info=dataclasses.replace(champions.value_info, version=versions["value"]),
    )


def train_pair(X, labelled, valid):  # noqa: N803
    """The churn classifier and the value regressor (with its `lost` outcome, which gives the
    value if retained and if lost) on the rows not in `valid`, stopped early on `valid`."""
    from training.config import ChurnModelConfig, ValueModelConfig
    from training.estimators import ChurnClassifier, ValueRegressor
    from training.model_data import lost_outcome

    lost = lost_outcome(labelled).to_numpy()
    c, v = ChurnModelConfig(), ValueModelConfig()
    churn = ChurnClassifier(
        params=c.params.lightgbm(),
        num_boost_round=c.num_boost_round,
        early_stopping_rounds=c.early_stopping_rounds,
    ).fit(X[~valid], labelled["churned"][~valid], X[valid], labelled["churned"][valid])
    value = ValueRegressor(
        params=v.params.lightgbm(),
        num_boost_round=v.num_boost_round,
        early_stopping_rounds=v.early_stopping_rounds,
    ).fit(
        X[~valid],
        labelled["future_value"][~valid],
        X[valid],
        labelled["future_value"][valid],
        lost=lost[~valid],
        lost_valid=lost[valid],
    )
    return churn, value


def worker(users: int, spark: bool, max_train_users: int) -> None:
    import numpy as np
    import pyarrow.parquet as pq

    from features import WindowConfig, feature_frame, load_events
    from serving.scoring.pipeline import ScoringConfig, feature_matrix, score_features

    results: dict = {"users": users, "uptime_start": _uptime()}
    started = time.perf_counter()
    events = simulated_events(users, DAYS)
    results["simulate_or_cache_s"] = round(time.perf_counter() - started, 1)
    results["events"] = pq.ParquetFile(events).metadata.num_rows
    results["parquet_mb"] = round(events.stat().st_size / 1e6, 1)
    cutoff = _cutoff(events)
    windows = WindowConfig()

    frame = _timed(
        results,
        "duckdb_features",
        lambda: feature_frame(load_events(events), cutoff, windows, labels=True),
    )
    results["feature_rows"] = len(frame)
    labelled = frame[frame["churned"].notna()].reset_index(drop=True)
    if max_train_users and len(labelled) > max_train_users:  # train on a user sample
        labelled = labelled.sample(n=max_train_users, random_state=0).reset_index(drop=True)
    rng = np.random.default_rng(0)
    valid = rng.random(len(labelled)) < 0.2
    X = feature_matrix(labelled)  # noqa: N806
    results["train_rows"] = int((~valid).sum())

    churn, value = _timed(results, "train", lambda: train_pair(X, labelled, valid))
    results["trees"] = [int(churn.best_iteration_), int(value.best_iteration_)]
    champions = _champions(churn, value)
    config = ScoringConfig(attribution="path")
    scored = _timed(results, "duckdb_score", lambda: score_features(frame, champions, config))
    results["scored_users"] = len(scored)
    results["peak_gb_duckdb"] = round(peak_gb(), 2)

    if spark:
        from features.engines import connect
        from features.spark_table import read_feature_table, write_feature_table
        from serving.scoring.spark import score_spark

        backend = _timed(results, "spark_session", lambda: connect("spark"))
        table = DATA / f"capacity_features_{users}u"
        written = _timed(
            results,
            "spark_features",
            lambda: write_feature_table(
                load_events(events, "spark", backend=backend), cutoff, windows, table
            ),
        )
        results["spark_feature_rows"] = written.rows
        registered = _registered(champions, users, frame)

        def spark_score():
            features = read_feature_table(table, cutoff, session=backend._session)
            return score_spark(features, registered, config).scores.count()

        results["spark_scored_users"] = _timed(results, "spark_score", spark_score)
    results["uptime_end"] = _uptime()
    print(json.dumps(results))


def decide_only(users: int) -> None:
    """The driver's share of Spark scoring: tiers + capacity-limited `decide` on n users."""
    import numpy as np
    import pandas as pd

    from serving.decisions.actions import load_catalogue
    from serving.decisions.policy import decide
    from serving.decisions.segments import STAGES, TierConfig

    rng = np.random.default_rng(0)
    value = rng.lognormal(3, 1.5, users)
    frame = pd.DataFrame(
        {
            "user_id": pd.Series([f"u{i:09d}" for i in range(users)], dtype="str"),
            "churn_probability": rng.random(users),
            "predicted_value": value,
            "lifecycle_stage": pd.Series(rng.choice(STAGES, users), dtype="str"),
        }
    )
    results: dict = {"decide_users": users, "uptime_start": _uptime()}
    frame["value_tier"] = _timed(
        results, "tiers", lambda: TierConfig().build().fit_transform(value)
    )
    _timed(results, "decide", lambda: decide(frame, load_catalogue()))
    results["peak_gb"] = round(peak_gb(), 2)
    print(json.dumps(results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--spark-users", type=int, nargs="*", default=[100_000])
    parser.add_argument("--out", type=Path, default=DATA / "capacity.jsonl")
    parser.add_argument(
        "--max-train-users", type=int, default=0, help="Train on a sample of this many users."
    )
    parser.add_argument("--decide-users", type=int, help="Only time tiers + decide on n users.")
    parser.add_argument(
        "--stream-users",
        type=int,
        nargs="+",
        help="Only the streamed `retain score` path at these sizes (e.g. 10000000).",
    )
    parser.add_argument("--memory-gb", type=float, default=4.0, help="Streamed runs' target.")
    parser.add_argument("--batch-users", type=int, default=0, help="Instead of --memory-gb.")
    parser.add_argument("--reasons", default="path", choices=["path", "treeshap"])
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.decide_users:
        decide_only(args.decide_users)
        return
    if args.stream_users:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        for users in args.stream_users:
            flags = [str(users), str(args.batch_users), str(args.memory_gb), args.reasons]
            _child(STREAM_SCRIPT, flags, args.out)
        return
    if args.worker:
        worker(int(args.worker[0]), args.worker[1] == "spark", int(args.worker[2]))
        return
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for users in args.users:
        kind = "spark" if users in args.spark_users else "duckdb"
        print(f"{users:,} users ({kind}) … {_uptime()}", flush=True)
        _child(Path(__file__), [str(users), kind, str(args.max_train_users)], args.out)


def _child(script: Path, flags: list[str], out: Path) -> None:
    """One size in a fresh process (its peak memory is its own); its last JSON line, with the
    child's own CPU seconds and peak RSS from the kernel, is appended to `out`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(
        [sys.executable, str(script), "--worker", *flags],
        capture_output=True,
        text=True,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        print(result.stderr[-3000:], flush=True)
    lines = result.stdout.strip().splitlines()
    if not lines:
        return
    line = json.loads(lines[-1])
    line["child_cpu_s"] = round(
        after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2
    )
    # The largest child so far; a stream worker resets its peak before scoring (setup_peak_gb).
    line["child_peak_gb"] = round(after.ru_maxrss / 1024**2, 2)
    with open(out, "a") as handle:
        handle.write(json.dumps(line) + "\n")
    print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
