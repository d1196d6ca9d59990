"""Loopback load test of `POST /score`: a fixed request rate for a fixed time, against a real
`retain serve` with trained champions. Prints the achieved rate, errors, latency percentiles and
the ratio of HTTP latency to the same lookup in process.

Why open loop (requests are sent on a fixed schedule, whatever the answers do): a closed loop
slows down with the server and hides queueing, so its percentiles flatter a slow server. Each
request carries `--ids` user ids drawn from the snapshot (some unknown). Latency is measured
from the scheduled send time, so time spent waiting for a free connection counts too (a
backlog shows as growing latency, not as a lower rate hidden from the numbers). Not part
of the test suite: `python benchmarks/bench_load.py [--rate 200 --seconds 60]`.

By default a 3,000-user log is simulated and both models trained into a temporary MLflow store
(about a minute); `--events` and `--tracking-uri` reuse existing ones.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._common import record, simulated_events, verdict  # noqa: E402

TARGET_RATE = 200.0
CONNECTIONS = 32
SLOW_MS = 50.0  # slow requests bunched in a few seconds point at pauses, not steady load


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _trained_store(events: Path, root: Path) -> str:
    from training.config import ExperimentConfig
    from training.train import train_models

    uri = f"sqlite:///{root / 'mlflow.db'}"
    train_models(ExperimentConfig(), events, tracking_uri=uri)
    return uri


def _start(
    events: Path, uri: str, root: Path, workers: int, access_log: bool
) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETAIN_")}
    env |= {
        "MLFLOW_TRACKING_URI": uri,
        "BENTOML_HOME": str(root / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "True",
        "RETAIN_REFRESH_SECONDS": "0",
    }
    command = [
        str(Path(sys.executable).with_name("retain")),
        *("serve", "--port", str(port), "--host", "127.0.0.1", "--events", str(events)),
        *("--workers", str(workers), "--access-log" if access_log else "--no-access-log"),
    ]
    log = open(root / "serve.log", "wb")  # noqa: SIM115 (lives as long as the server)
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited:\n{(root / 'serve.log').read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit("server not ready in 300 s")


def _bodies(ids: list[str], per_request: int, count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    pool = [*ids, *(f"nobody-{i}" for i in range(len(ids) // 20))]
    return [json.dumps({"user_ids": rng.sample(pool, per_request)}).encode() for _ in range(count)]


async def _connection(
    host: str,
    port: int,
    queue: asyncio.Queue,
    latencies: list[tuple[float, float]],
    errors: list[str],
) -> None:
    """One keep-alive HTTP/1.1 connection taking (request bytes, due time) off the queue."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            item = await queue.get()
            if item is None:
                return
            request, due = item
            try:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                if status != 200:
                    errors.append(str(status))
            except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                errors.append(type(error).__name__)
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
            latencies.append((due, time.perf_counter() - due))
    finally:
        writer.close()


async def _load(
    base: str, bodies: list[bytes], rate: float
) -> tuple[list[tuple[float, float]], list[str], float]:
    """Send `bodies` at `rate` per second over a pool of connections (open loop).

    A hand-written HTTP/1.1 client: on two shared cores httpx itself costs more CPU per
    request than the service, and the generator must not be what limits the rate.
    """
    host, port = base.removeprefix("http://").split(":")
    latencies: list[tuple[float, float]] = []
    errors: list[str] = []
    queue: asyncio.Queue = asyncio.Queue()
    pool = [
        asyncio.create_task(_connection(host, int(port), queue, latencies, errors))
        for _ in range(CONNECTIONS)
    ]
    start = time.perf_counter()
    for i, body in enumerate(bodies):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        request = (
            f"POST /score HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode("ascii") + body
        queue.put_nowait((request, due))
    for _ in pool:
        queue.put_nowait(None)
    await asyncio.gather(*pool)
    return (
        [(due - start, latency) for due, latency in latencies],
        errors,
        time.perf_counter() - start,
    )


def _in_process_ms(events: Path, uri: str, bodies: list[bytes]) -> float:
    """Median time of the handler's work (lookup + response model) without HTTP."""
    from serving.api.models import ScoreResponse, UserIdsRequest
    from serving.api.settings import ServiceSettings
    from serving.api.state import build_state

    state = build_state(ServiceSettings(events=events, tracking_uri=uri))
    times = []
    for body in bodies[:2000]:
        started = time.perf_counter()
        request = UserIdsRequest.model_validate_json(body)
        ScoreResponse.model_validate(
            {
                "as_of": state.snapshot.as_of,
                "model_versions": state.snapshot.model_versions,
                "items": state.snapshot.lookup(request.user_ids, with_action=False),
            }
        ).model_dump_json()
        times.append(time.perf_counter() - started)
    return float(np.median(times)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="requests per second")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--ids", type=int, default=10, help="user ids per request")
    parser.add_argument("--workers", type=int, default=1, help="service workers")
    parser.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="BentoML's per-request log line (off by default here, as for a high-rate service)",
    )
    parser.add_argument("--events", type=Path, help="event log (default: simulated)")
    parser.add_argument("--tracking-uri", help="MLflow store with champions (default: train)")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="retain-load-"))
    events = args.events or simulated_events(3_000, 400, seed=3)
    uri = args.tracking_uri or _trained_store(events, root)
    process, base = _start(events, uri, root, args.workers, args.access_log)
    try:
        known = [f"u{i:07d}" for i in range(1, 3_001)]
        count = int(args.rate * args.seconds)
        bodies = _bodies(known, args.ids, count, seed=1)
        asyncio.run(_load(base, bodies[: int(args.rate * 3)], args.rate))  # warm-up, 3 s
        # This process still holds the training's objects: keep its garbage collector from
        # walking them mid-run, or the client's own pauses would be counted as latency.
        gc.collect()
        gc.freeze()
        timed, errors, elapsed = asyncio.run(_load(base, bodies, args.rate))
        gc.unfreeze()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    in_process = _in_process_ms(events, uri, bodies)
    if not args.tracking_uri:
        shutil.rmtree(root, ignore_errors=True)
    latencies = [latency for _, latency in timed]
    ms = np.array(latencies) * 1000
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    achieved = len(latencies) / elapsed
    log_state = "on" if args.access_log else "off"
    print(
        f"POST /score, {args.ids} ids per request, {args.workers} worker(s), "
        f"access log {log_state}, loopback"
    )
    print(f"requests     {len(latencies):>10,d} in {elapsed:.1f} s")
    print(f"rate         {achieved:>10.1f} /s (asked {args.rate:.0f} /s)")
    print(f"errors       {len(errors):>10d} {sorted(set(errors))}")
    print(f"latency ms   p50 {p50:.2f}  p95 {p95:.2f}  p99 {p99:.2f}  max {ms.max():.2f}")
    print(f"in process   {in_process:.3f} ms (p50); HTTP/in-process ratio {p50 / in_process:.1f}x")
    slow = [sent for sent, latency in timed if latency * 1000 > SLOW_MS]
    seconds = sorted({int(sent) for sent in slow})
    print(
        f"slow (>{SLOW_MS:.0f} ms) {len(slow):>6d} "
        f"requests, sent in {len(seconds)} distinct second(s): {seconds[:20]}"
    )
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    ok = achieved >= 0.95 * TARGET_RATE and not errors and args.seconds >= 60
    print(f"target: >= {TARGET_RATE:.0f} requests/s for 60 s with 0 errors: {verdict(ok)}")
    record("HTTP /score p50", float(p50), "ms")
    record("HTTP /score p99", float(p99), "ms", f">= {TARGET_RATE:.0f}/s, 0 errors", ok)
    record("HTTP/in-process ratio", float(p50 / in_process), "x")


if __name__ == "__main__":
    main()
