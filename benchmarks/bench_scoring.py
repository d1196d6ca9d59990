"""Scoring benchmark: batch scoring vs a naive per-user loop, and the service's HTTP latency.

One invocation measures, on the same machine and data:
  1. batch scoring with decisions and reason codes (`serving.scoring.pipeline.score_features`), users/s;
  2. a naive per-user loop doing the same work one user at a time (baseline, same run);
  3. in-process LightGBM churn prediction for one user (p50/p99);
  4. HTTP latency of a real `retain serve` (from the batch's score file): `/score` and
     `/recommend` with 1 id (p50/p99 over --requests sequential calls) and with 100 and 1,000 ids.

    .venv/bin/python benchmarks/bench_scoring.py --users 200000

Targets (issue 4, 2 cores): single-user p50 <= 2 ms and p99 <= 10 ms over HTTP; batch scoring
with decisions >= 1M users per minute. Data and the model store are cached in benchmarks/.data.
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


def _naive_per_user(features, champions, config, n: int) -> float:
    """The same work, one user at a time (tier cut points fixed from the batch): users/s."""
    import pandas as pd

    from serving.decisions.policy import decide
    from serving.decisions.reasons import reason_codes
    from serving.decisions.segments import assign_stages
    from serving.scoring.pipeline import feature_matrix

    matrix = feature_matrix(features)
    tiers = config.tiers.build().fit(champions.value.predict(matrix))
    started = time.perf_counter()
    for i in range(n):
        one = matrix.iloc[[i]]
        p = champions.churn.churn_probability(one)
        v = champions.value.predict(one)
        user = {
            "user_id": [features["user_id"].iloc[i]],
            "churn_probability": p,
            "predicted_value": v,
            "lifecycle_stage": assign_stages(features.iloc[[i]], p, config.segments).to_numpy(),
            "value_tier": tiers.transform(v).to_numpy(),
        }
        decide(pd.DataFrame(user), config.catalogue)
        reason_codes(one, champions.churn.contributions(one), config.reasons_top_k)
    return n / (time.perf_counter() - started)


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
    started = time.perf_counter()
    features = feature_frame(loaded, latest_cutoff(loaded), champions.windows())
    feature_s = time.perf_counter() - started
    config = ScoringConfig(attribution="path")
    score_features(features.head(1000), champions, config)  # warm-up
    started = time.perf_counter()
    scored = score_features(features, champions, config)
    batch_s = time.perf_counter() - started
    batch_rate = len(features) / batch_s
    exact = features.head(args.treeshap_users)
    started = time.perf_counter()
    score_features(exact, champions, ScoringConfig(attribution="treeshap"))
    treeshap_rate = len(exact) / (time.perf_counter() - started)
    naive_rate = _naive_per_user(features, champions, ScoringConfig(), args.naive_users)

    one = feature_matrix(features).iloc[[0]]
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

    n = len(features)
    print(f"\nusers scored: {n:,} (features built in {feature_s:.1f}s, not in the rates below)")
    verdict = "met" if batch_rate * 60 >= TARGET_USERS_PER_MIN else "NOT met"
    print(
        f"batch scoring + decisions + reasons (path attribution): {batch_s:.2f}s = "
        f"{batch_rate:,.0f} users/s = {batch_rate * 60 / 1e6:.2f}M users/min "
        f"(target >= {TARGET_USERS_PER_MIN / 1e6:.0f}M/min: {verdict})"
    )
    print(
        f"batch with exact TreeSHAP reasons ({len(exact):,} users): {treeshap_rate:,.0f} users/s "
        f"= {treeshap_rate * 60 / 1e6:.2f}M users/min"
    )
    print(
        f"naive per-user loop, TreeSHAP ({args.naive_users:,} users): {naive_rate:,.0f} users/s; "
        f"batch is {batch_rate / naive_rate:,.0f}x faster (path) and "
        f"{treeshap_rate / naive_rate:,.1f}x (TreeSHAP)"
    )
    print(f"end to end incl. features: {n / (feature_s + batch_s):,.0f} users/s")
    record(f"batch scoring, path reasons ({n:,} users)", batch_rate * 60 / 1e6, "M users/min",
           ">= 1M/min", batch_rate * 60 >= TARGET_USERS_PER_MIN)  # fmt: skip
    record("batch scoring, TreeSHAP reasons", treeshap_rate * 60 / 1e6, "M users/min",
           ">= 1M/min", treeshap_rate * 60 >= TARGET_USERS_PER_MIN)  # fmt: skip
    record("batch vs naive per-user loop (path)", batch_rate / naive_rate, "x")
    record("in-process predict, 1 user, p50", predict_p50, "ms")
    print(f"in-process churn predict, 1 user: p50 {predict_p50:.3f} ms, p99 {predict_p99:.3f} ms")
    print(
        f"in-process snapshot lookup (what /recommend does), 1 user: p50 {lookup_p50 * 1000:.1f} µs"
    )
    if args.no_http:
        return
    scores_path = write_frame(
        scored.scores.join(features[list(feature_matrix(features).columns)]),
        DATA / f"scoring-scores-{args.users}.parquet",
    )
    http = _http(scored.scores, uri, scores_path, args.requests)
    for name, (p50, p99) in http.items():
        print(f"HTTP {name:<15} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms")
    p50, p99 = http["/score x1"]
    print(
        f"single-user /score: p50 {p50:.2f} ms (target <= {TARGET_P50_MS}: "
        f"{'met' if p50 <= TARGET_P50_MS else 'NOT met'}), p99 {p99:.2f} ms (target <= "
        f"{TARGET_P99_MS}: {'met' if p99 <= TARGET_P99_MS else 'NOT met'})"
    )
    record("HTTP /score 1 id p50", p50, "ms", f"<= {TARGET_P50_MS}", p50 <= TARGET_P50_MS)
    record("HTTP /score 1 id p99", p99, "ms", f"<= {TARGET_P99_MS}", p99 <= TARGET_P99_MS)
    record("HTTP / in-process predict, 1 user", p50 / predict_p50, "x")
    print(
        f"HTTP / in-process ratio, 1 user: {p50 / predict_p50:,.1f}x the LightGBM predict, "
        f"{p50 / lookup_p50:,.0f}x the snapshot lookup"
    )


if __name__ == "__main__":
    main()
