"""Faults the service must survive or refuse clearly (issue 6, item 3), each on a real server.

- no champion in the registry: the worker runs (/livez 200) but is not ready (/readyz 503,
  APIs 503) and the log says what is missing; once a champion appears it becomes ready;
- a corrupted model artefact: `retain serve` stops at start-up with the reason (no respawn loop,
  no 500 later);
- the snapshot refreshed while requests flow: no request fails and every answer comes wholly
  from the old or wholly from the new snapshot;
- an interrupted `retain score`: no partial output file (the old one is intact).
Stores that a test changes are private copies (`clone_store`); the shared store stays read-only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from features.output import write_frame
from tests.serving.conftest import ROOT, clone_store, running_service, serve_command

pytestmark = pytest.mark.slow
KINDS = ("retain-churn", "retain-value")


def _mlflow_client(tracking_uri: str):
    import mlflow

    return mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not within {timeout}s")
        time.sleep(0.5)


def test_a_corrupted_model_artefact_stops_start_up_with_the_reason(serving_store, tmp_path):
    store = clone_store(serving_store, tmp_path / "store")
    pickles = list((store.root / "mlartifacts").rglob("estimator.pkl"))
    assert pickles, "no estimator artefacts found in the store copy"
    for path in pickles:
        path.write_bytes(b"this is not a pickle")
    command = serve_command(0, "--events", str(store.events))
    command[command.index("--port") + 1] = "3999"  # never bound: start-up fails before
    started = time.monotonic()
    result = subprocess.run(
        command, cwd=ROOT, env=store.env(), capture_output=True, text=True, timeout=150
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    reason = "cannot start the service: the champion models cannot be loaded"
    assert reason in output, output[-3000:]
    assert "Starting production" not in output  # no worker was ever spawned
    assert time.monotonic() - started < 150


def _truncated_log(events: Path, out: Path, days: int) -> None:
    frame = pd.read_parquet(events)
    cutoff = frame["event_time"].max() - pd.Timedelta(days=days)
    temporary = out.with_name(f".{out.name}.tmp")
    frame[frame["event_time"] < cutoff].to_parquet(temporary, index=False)
    os.replace(temporary, out)  # the service sees the old file or the new one, never half


def _not_ready_until_a_champion_appears(server, client) -> None:
    """No champion: live but not ready, APIs 503, the log names what is missing; once the
    aliases are set, the next poll makes the worker ready."""
    assert httpx.get(f"{server.base}/livez").status_code == 200
    assert httpx.get(f"{server.base}/readyz").status_code == 503
    answer = httpx.post(f"{server.base}/score", json={"user_ids": ["u0000001"]})
    assert answer.status_code == 503 and "not ready" in answer.json()["error"]
    _wait_for(lambda: "not ready:" in server.log(), 30, "the not-ready log line")
    line = next(line for line in server.log().splitlines() if "not ready:" in line)
    assert "retain-churn" in line and "@champion" in line, line

    for name in KINDS:  # a champion appears: the next poll makes the worker ready
        client.set_registered_model_alias(name, "champion", "1")
    ready = lambda: httpx.get(f"{server.base}/readyz").status_code == 200  # noqa: E731
    _wait_for(ready, 90, "ready after a champion was registered")
    answer = httpx.post(f"{server.base}/score", json={"user_ids": ["u0000001"]})
    assert answer.status_code == 200 and answer.json()["items"][0]["status"] == "ok"


def _a_new_log_switches_atomically_under_load(server, source: Path, events: Path) -> None:
    """A shorter log replaces the served one while a client keeps asking: no request fails,
    every answer comes wholly from the old or wholly from the new snapshot, both are seen."""
    ids = [f"u{i:07d}" for i in range(1, 201)]
    http = httpx.Client(base_url=server.base, timeout=60)
    old = http.post("/score", json={"user_ids": ids}).json()
    seen: list[tuple[int, dict | None]] = []
    stop = threading.Event()

    def traffic() -> None:
        with httpx.Client(base_url=server.base, timeout=60) as own:
            while not stop.is_set():
                response = own.post("/score", json={"user_ids": ids})
                ok = response.status_code == 200
                seen.append((response.status_code, response.json() if ok else None))

    worker = threading.Thread(target=traffic)
    worker.start()
    try:
        time.sleep(1.0)
        _truncated_log(source, events, days=45)
        # The worker polls every second: /refresh swaps the snapshot itself, or finds that the
        # poll just did (it waits for a swap in progress rather than building a second one).
        refreshed = http.post("/refresh").json()
        assert refreshed["status"] in {"reloaded", "unchanged"}, refreshed
        time.sleep(1.0)
    finally:
        stop.set()
        worker.join(timeout=120)
    new = http.post("/score", json={"user_ids": ids}).json()
    assert http.post("/refresh").json()["status"] == "unchanged"

    assert old["as_of"] != new["as_of"] and old["items"] != new["items"]
    assert [status for status, _ in seen if status != 200] == []
    by_cutoff = {old["as_of"]: old, new["as_of"]: new}
    for _, body in seen:  # each answer is entirely one snapshot's
        assert body["as_of"] in by_cutoff
        assert body["items"] == by_cutoff[body["as_of"]]["items"]
    cutoffs = [body["as_of"] for _, body in seen]
    assert old["as_of"] in cutoffs and new["as_of"] in cutoffs, "the switch was not observed"
    assert len(seen) >= 10


def test_no_champion_means_not_ready_then_ready_then_a_new_log_switches_atomically(
    serving_store, tmp_path
):
    """One server's life (one start-up, ~10 s, instead of two): it starts before any model is
    a champion, becomes ready when one is, then a new event log lands while requests flow."""
    store = clone_store(serving_store, tmp_path / "store")
    client = _mlflow_client(store.tracking_uri)
    for name in KINDS:
        client.delete_registered_model_alias(name, "champion")
    args = ("--events", str(store.events))
    with running_service(store, *args, wait_ready=False, RETAIN_REFRESH_SECONDS="1") as server:
        _not_ready_until_a_champion_appears(server, client)
        _a_new_log_switches_atomically_under_load(server, serving_store.events, store.events)


_HANGING_WRITER = """
import sys, time
from pathlib import Path
import pandas as pd

signal_file = Path(sys.argv[1])

def half_then_hang(self, path, *args, **kwargs):
    Path(path).write_bytes(b"PAR1 half a file")
    # Renamed into place so the test never reads a signal file that exists but is still empty.
    pending = signal_file.with_suffix(".pending")
    pending.write_text(str(path))
    pending.rename(signal_file)
    time.sleep(600)

pd.DataFrame.to_parquet = half_then_hang
from retain.cli import main
sys.argv = ["retain", *sys.argv[2:]]
main()
"""


def test_an_interrupted_retain_score_leaves_no_partial_output(serving_store, tmp_path):
    out = tmp_path / "scores.parquet"
    out.write_bytes(b"the previous complete output")
    signal_file = tmp_path / "writing"
    command = [
        *(sys.executable, "-c", _HANGING_WRITER, str(signal_file)),
        *("score", "--events", str(serving_store.events), "--out", str(out)),
    ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=serving_store.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while not signal_file.exists():
            if process.poll() is not None:
                pytest.fail(f"retain score exited early: {process.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("retain score did not reach the writer in time")
            time.sleep(0.2)
        partial = Path(signal_file.read_text())
        assert partial != out and partial.exists()  # it writes beside the target
        os.killpg(process.pid, signal.SIGKILL)  # killed mid-write
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        process.stderr.close()
    assert out.read_bytes() == b"the previous complete output"
    # The killed writer could not remove its temporary; the next write to the output does.
    write_frame(pd.DataFrame({"rerun": [1]}), out)
    assert not partial.exists()
    assert pd.read_parquet(out)["rerun"].tolist() == [1]
