"""Scoring benchmark: batch scoring vs a naive per-user loop, and the service's HTTP latency.

One invocation measures, on the same machine and data (each figure's label says what it times):
  1. batch scoring (`serving.scoring.pipeline.score_features`: scores → stage, tier →
     decisions under the catalogue's capacities → reasons), on features built beforehand
     (not timed), with approximate path reasons (all users) and with exact TreeSHAP reasons
     (--treeshap-users, the issue-20 target); users/min, wall and CPU seconds;
  2. a naive per-user loop doing the same work as the exact batch: scores, stage, tier,
     TreeSHAP contributions and reasons one user at a time; what binds across users is done
     once, as in the batch (the medians reasons compare with, and the allocation, because
     capacities and the budget cannot be honoured user by user). Its table is checked equal
     to the batch's for the same users, else the figure is labelled not comparable;
  3. in-process LightGBM churn prediction for one user (p50/p99);
  4. HTTP latency of a real `retain serve` (from the batch's score file): `/score` and
     `/recommend` with 1 id (p50/p99 over --requests sequential calls) and with 100 and 1,000
     ids. The service answers from a precomputed snapshot: a request is a dictionary lookup
     behind HTTP, no model runs, so these figures are HTTP + lookup, not scoring.

    .venv/bin/python benchmarks/bench_scoring.py --users 200000

Targets (2 cores): single-user p50 <= 2 ms and p99 <= 10 ms over HTTP (issue 4); batch
scoring with decisions >= 1M users per minute (issue 4, path reasons; issue 20, exact TreeSHAP
reasons). Data and the model store are cached in benchmarks/.data.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import record
from _scoring_baseline import naive_per_user, same_output, timed

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / ".data"
TARGET_USERS_PER_MIN = 1_000_000
TARGET_P50_MS, TARGET_P99_MS = 2.0, 10.0
TRAIN_USERS = 10_000


def _events(users: int, days: int, seed: int) -> Path:
    from simulator.simulation import SimulationConfig, write_simulation

    path = DATA / f"scoring-events-{users}-{days}-{seed}.parquet"
    if not path.exists():
        started = time.perf_counter()
        write_simulation(SimulationConfig(users=users, days=days, seed=seed), path)
        print(f"simulated {users:,} users in {time.perf_counter() - started:.0f}s -> {path}")
    return path


def _store(days: int, seed: int) -> str:
    """A store with champions trained on a small log (the benchmark times scoring, not training)."""
    from training.config import ExperimentConfig
    from training.train import train_models

    db = DATA / f"scoring-mlflow-{TRAIN_USERS}-{days}-{seed}.db"
    uri = f"sqlite:///{db}"
    if not db.exists():
        started = time.perf_counter()
        train_models(ExperimentConfig(), _events(TRAIN_USERS, days, seed + 1), tracking_uri=uri)
        print(f"trained champions in {time.perf_counter() - started:.0f}s -> {db}")
    return uri


def _ms(samples: list[float]) -> tuple[float, float]:
    values = np.asarray(samples) * 1000
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def _serve(scores_path: Path, uri: str, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETAIN_")}
    env.update(MLFLOW_TRACKING_URI=uri, BENTOML_DO_NOT_TRACK="True")
    command = [
        str(Path(sys.executable).with_name("retain")),
        *("serve", "--scores", str(scores_path), "--port", str(port), "--host", "127.0.0.1"),
    ]
    log = open(DATA / "bench-serve.log", "wb")  # noqa: SIM115 (lives as long as the server)
    return subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def _http(scores, uri: str, scores_path: Path, requests: int) -> dict[str, tuple[float, float]]:
    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = _serve(scores_path, uri, port)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"server did not start; see {DATA / 'bench-serve.log'}")
            time.sleep(0.5)
        ids = scores["user_id"].to_numpy()
        rng = np.random.default_rng(0)
        results = {}
        with httpx.Client(base_url=base, timeout=60) as client:
            for endpoint, batch, count in (
                ("/score", 1, requests),
                ("/recommend", 1, requests),
                ("/recommend", 100, max(requests // 4, 50)),
                ("/score", 1000, max(requests // 20, 20)),
            ):
                samples = []
                for _ in range(20):  # warm-up
                    client.post(endpoint, json={"user_ids": rng.choice(ids, batch).tolist()})
                for _ in range(count):
                    body = {"user_ids": rng.choice(ids, batch).tolist()}
                    started = time.perf_counter()
                    response = client.post(endpoint, json=body)
                    samples.append(time.perf_counter() - started)
                    assert response.status_code == 200, response.text
                results[f"{endpoint} x{batch}"] = _ms(samples)
        return results
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _rate(users: int, wall: float) -> str:
    return f"{users / wall * 60 / 1e6:.2f}M users/min ({wall:.2f}s wall"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--naive-users", type=int, default=1_000)
    parser.add_argument("--treeshap-users", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=2_000, help="sequential 1-id requests")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP part")
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)

    from features.loading import load_events
    from features.output import write_frame
    from features.pipeline import feature_frame
    from serving.scoring.champions import load_champions
    from serving.scoring.pipeline import (
        ScoringConfig,
        feature_matrix,
        latest_cutoff,
        score_features,
    )
    from serving.scoring.snapshot import Snapshot

    uri = _store(args.days, args.seed)
    events = _events(args.users, args.days, args.seed)
    champions = load_champions(uri)
    loaded = load_events(events)
    cutoff = latest_cutoff(loaded)
    features, feature_s, _ = timed(
        lambda: feature_frame(
            loaded, cutoff, champions.windows(), feature_set=champions.feature_set
        )
    )
    n = len(features)
    path, exact = ScoringConfig(attribution="path"), ScoringConfig(attribution="treeshap")
    for config in (path, exact):  # warm-up: imports, compiled kernels, per-model tables
        score_features(features.head(1000), champions, config)
    scored, batch_s, batch_cpu = timed(lambda: score_features(features, champions, path))
    batch_rate = n / batch_s
    subset = features.head(args.treeshap_users)
    exact_scored, exact_s, exact_cpu = timed(lambda: score_features(subset, champions, exact))
    exact_rate = len(subset) / exact_s
    naive_n = min(args.naive_users, n)
    naive, naive_s, naive_cpu = naive_per_user(features, champions, exact, naive_n)
    naive_rate = naive_n / naive_s
    batch_same = score_features(features.head(naive_n), champions, exact).scores
    comparable = same_output(naive, batch_same)

    print(f"\nusers scored: {n:,} (features built in {feature_s:.1f}s, not in the rates below)")
    met = batch_rate * 60 >= TARGET_USERS_PER_MIN
    print(
        f"batch scoring, decisions + approximate path reasons, {n:,} users: "
        f"{_rate(n, batch_s)}, {batch_cpu:.2f} CPU s) "
        f"(target >= {TARGET_USERS_PER_MIN / 1e6:.0f}M/min: {'met' if met else 'NOT met'})"
    )
    exact_met = exact_rate * 60 >= TARGET_USERS_PER_MIN
    print(
        f"batch scoring, decisions + exact TreeSHAP reasons, {len(subset):,} users: "
        f"{_rate(len(subset), exact_s)}, {exact_cpu:.2f} CPU s) "
        f"(target >= {TARGET_USERS_PER_MIN / 1e6:.0f}M/min: {'met' if exact_met else 'NOT met'})"
    )
    same = "same output as the batch" if comparable else "NOT comparable: its output differs"
    print(
        f"naive per-user loop, exact TreeSHAP, {naive_n:,} users: {naive_rate:,.0f} users/s "
        f"({naive_s:.2f}s wall, {naive_cpu:.2f} CPU s; {same}); the exact batch is "
        f"{exact_rate / naive_rate:,.1f}x faster"
    )
    print(f"end to end incl. features, path reasons: {n / (feature_s + batch_s):,.0f} users/s")
    record(f"batch scoring + decisions, path reasons ({n:,} users, features not timed)",
           batch_rate * 60 / 1e6, "M users/min", ">= 1M/min", met)  # fmt: skip
    record(f"batch scoring + decisions, exact TreeSHAP reasons ({len(subset):,} users, "
           "features not timed)", exact_rate * 60 / 1e6, "M users/min", ">= 1M/min",
           exact_met)  # fmt: skip
    if comparable:
        record("exact batch vs naive per-user loop (same work, same output)",
               exact_rate / naive_rate, "x")  # fmt: skip
    else:
        record("naive per-user loop: NOT comparable (output differs from the batch)", 0.0, "x")
    del exact_scored

    one = feature_matrix(features, champions.feature_set).iloc[[0]]
    samples = []
    for _ in range(2000):
        started = time.perf_counter()
        champions.churn.churn_probability(one)
        samples.append(time.perf_counter() - started)
    predict_p50, predict_p99 = _ms(samples)
    snapshot = Snapshot.from_scored(scored, "bench")
    ids = scored.scores["user_id"].to_numpy()
    samples = []
    for user_id in ids[:2000]:
        started = time.perf_counter()
        snapshot.lookup([user_id], with_action=True)
        samples.append(time.perf_counter() - started)
    lookup_p50, _ = _ms(samples)
    record("in-process LightGBM churn predict, 1 user, p50", predict_p50, "ms")
    print(f"in-process churn predict, 1 user: p50 {predict_p50:.3f} ms, p99 {predict_p99:.3f} ms")
    print(
        f"in-process snapshot lookup (what /recommend does), 1 user: p50 {lookup_p50 * 1000:.1f} µs"
    )
    if args.no_http:
        return
    scores_path = write_frame(
        scored.scores.join(features[list(feature_matrix(features, champions.feature_set).columns)]),
        DATA / f"scoring-scores-{args.users}.parquet",
    )
    http = _http(scored.scores, uri, scores_path, args.requests)
    print("HTTP figures: a dictionary lookup in the precomputed snapshot behind HTTP (no scoring)")
    for name, (p50, p99) in http.items():
        print(f"HTTP {name:<15} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms")
    p50, p99 = http["/score x1"]
    print(
        f"single-user /score (snapshot lookup): p50 {p50:.2f} ms (target <= {TARGET_P50_MS}: "
        f"{'met' if p50 <= TARGET_P50_MS else 'NOT met'}), p99 {p99:.2f} ms (target <= "
        f"{TARGET_P99_MS}: {'met' if p99 <= TARGET_P99_MS else 'NOT met'})"
    )
    lookup = "snapshot lookup behind HTTP, no model run"
    record(f"HTTP /score 1 id p50 ({lookup})", p50, "ms", f"<= {TARGET_P50_MS}",
           p50 <= TARGET_P50_MS)  # fmt: skip
    record(f"HTTP /score 1 id p99 ({lookup})", p99, "ms", f"<= {TARGET_P99_MS}",
           p99 <= TARGET_P99_MS)  # fmt: skip
    record("HTTP /score (lookup) / in-process LightGBM predict, 1 user", p50 / predict_p50, "x")
    print(
        f"HTTP / in-process ratio, 1 user: {p50 / predict_p50:,.1f}x the LightGBM predict, "
        f"{p50 / lookup_p50:,.0f}x the snapshot lookup"
    )


if __name__ == "__main__":
    main()
