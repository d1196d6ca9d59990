"""Serving fixtures: one simulated log, both models trained once into a temporary MLflow store,
and one real `retain serve` over it.

Why session scope: training takes ~10 s and every scoring and HTTP test needs the same
champions; the store lives in a temporary folder (never the repository's mlflow.db), and the
tracking URI is passed explicitly (in-process) or through the environment (subprocesses). The
server is read-only, so the API tests and the operator-page tests share one (start-up is the
slow part).
"""

from __future__ import annotations

import functools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import built_once
from tests.stores import copy_mlflow_store, new_mlflow_store

SIM_USERS = 3_000
SIM_DAYS = 400
SIM_SEED = 3
ROOT = Path(__file__).resolve().parents[2]
API_KEY = "test-key-123"
START_TIMEOUT_S = 150
STOPPED_WITHIN_S = 10  # a signalled `retain serve` and its whole tree are gone within


@dataclass(frozen=True)
class ServingStore:
    """Where the fixture log and the MLflow store are."""

    root: Path
    events: Path
    tracking_uri: str

    def env(self, **extra: str) -> dict[str, str]:
        """The environment for a subprocess that should use this store (and nothing stale)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("RETAIN_")}
        env["MLFLOW_TRACKING_URI"] = self.tracking_uri
        env["BENTOML_HOME"] = str(self.root / "bentoml")
        env["BENTOML_DO_NOT_TRACK"] = "True"
        env.update(extra)
        return env


def _build_store(root: Path, empty_db: Path) -> None:
    """Simulate the fixture log into `root` and train every model on it into a new store there
    (first versions are champions)."""
    from simulator.simulation import SimulationConfig, write_simulation
    from training.config import ExperimentConfig
    from training.train import train_models

    events = root / "events.parquet"
    write_simulation(SimulationConfig(users=SIM_USERS, days=SIM_DAYS, seed=SIM_SEED), events)
    train_models(ExperimentConfig(), events, tracking_uri=new_mlflow_store(root, empty_db))


def _store_in(root: Path) -> ServingStore:
    return ServingStore(
        root=root, events=root / "events.parquet", tracking_uri=f"sqlite:///{root / 'mlflow.db'}"
    )


@pytest.fixture(scope="session")
def serving_store(
    tmp_path_factory: pytest.TempPathFactory, worker_id: str, empty_mlflow_db: Path
) -> ServingStore:
    """A 3,000-user simulated log and champions trained on it, private to this test process.

    Why built once and cloned: training costs ~50 s of CPU. The first worker to get here builds
    a pristine store (tests/conftest.py: `built_once`), and every worker then works on its own
    copy, because scoring runs and promotions write to the MLflow database and the workers must
    not see each other's runs.
    """
    build = functools.partial(_build_store, empty_db=empty_mlflow_db)
    pristine = _store_in(built_once(tmp_path_factory, worker_id, "serving_store", build))
    if worker_id == "master":  # not distributed: this process is the only user
        return pristine
    return clone_store(pristine, tmp_path_factory.mktemp("serving_store") / "store")


@pytest.fixture(scope="session")
def champions(serving_store: ServingStore):
    from serving.scoring.champions import load_champions

    return load_champions(serving_store.tracking_uri)


@pytest.fixture(scope="session")
def loaded_events(serving_store: ServingStore):
    from features.loading import load_events

    return load_events(serving_store.events)


@pytest.fixture(scope="session")
def scored(loaded_events, champions):
    """Every user scored at the latest cutoff with the default playbook: what the service serves."""
    from serving.scoring.pipeline import score_events

    return score_events(loaded_events, champions)


def stop_with_parent() -> None:
    """In the child before exec: SIGTERM it when the test process dies (Linux prctl).

    Why: a run stopped by a timeout or a killed xdist worker never reaches the fixture's
    teardown; `retain serve` then lived on, holding a port and CPU, until someone killed it.
    On SIGTERM `retain serve` stops its whole process tree, as it does for an operator.
    """
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fresh_connections(base: str, timeout: float = 60) -> httpx.Client:
    """A client of `base` that opens a new connection for every request.

    Why a new connection: on a server with several workers each connection may land on either
    worker, where a kept-alive one would keep asking the same worker. Why one client rather
    than `httpx.get` per request: each of those builds a TLS context (~16 ms of CPU reading the
    CA bundle) that plain HTTP on loopback never uses, and a test under load asks thousands
    of times.
    """
    limits = httpx.Limits(max_keepalive_connections=0)
    return httpx.Client(base_url=base, limits=limits, timeout=timeout)


def _stop(process: subprocess.Popen) -> None:
    """Stop the server and its workers (their own process group, started by this fixture)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def api_key() -> str:
    """The key the shared service requires (X-API-Key)."""
    return API_KEY


@dataclass
class RunningService:
    """A `retain serve` started by `running_service`: where it listens and where it logs."""

    base: str
    log_path: Path
    process: subprocess.Popen

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def serve_command(port: int, *args: str) -> list[str]:
    """`retain serve` on loopback at `port`, with extra arguments (--events, --scores, …)."""
    return [
        str(Path(sys.executable).with_name("retain")),
        *("serve", "--port", str(port), "--host", "127.0.0.1"),
        *args,
    ]


def spawn_serve(
    store: ServingStore, port: int, log_path: Path, *args: str, cwd: Path = ROOT, **env: str
) -> subprocess.Popen:
    """`retain serve` on `port` over `store`, run in `cwd`, logging to `log_path`, in a session
    of its own (the test signals `retain` alone, as a terminal would) and stopped if the test
    process dies. The caller waits for what it needs and stops it."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            serve_command(port, *args),
            cwd=cwd,
            env=store.env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=stop_with_parent,
        )


@contextmanager
def running_service(
    store: ServingStore, *args: str, wait_ready: bool = True, cwd: Path = ROOT, **env: str
) -> Iterator[RunningService]:
    """Start `retain serve` in `cwd` with `args` and extra environment; stop it (and its
    workers) after.

    With `wait_ready`, waits for /readyz 200; otherwise only until /livez answers. Fails with
    the server log if the server exits or does not get there in time.
    """
    port = free_port()
    log_path = store.root / f"serve-{port}.log"
    process = spawn_serve(store, port, log_path, *args, cwd=cwd, **env)
    base = f"http://127.0.0.1:{port}"
    probe = "/readyz" if wait_ready else "/livez"
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        with fresh_connections(base, timeout=2) as http:
            while not answers_ok(http, probe):
                if process.poll() is not None:
                    tail = log_path.read_text()[-3000:]
                    pytest.fail(f"server exited ({process.returncode}):\n{tail}")
                if time.monotonic() > deadline:
                    tail = log_path.read_text()[-3000:]
                    pytest.fail(f"server not ready in {START_TIMEOUT_S}s:\n{tail}")
                time.sleep(0.5)
        yield RunningService(base=base, log_path=log_path, process=process)
    finally:
        _stop(process)


def answers_ok(http: httpx.Client, probe: str) -> bool:
    """Whether the server answers `probe` with 200 (False while it is not listening yet)."""
    try:
        return http.get(probe).status_code == 200
    except httpx.TransportError:
        return False


def is_bentoml_worker(process: Any) -> bool:
    """Whether a psutil process is a BentoML worker (False if it is gone by the time we ask)."""
    import psutil

    try:
        return "_bentoml_impl.worker" in " ".join(process.cmdline())
    except psutil.Error:
        return False


def port_closed(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def assert_stops_whole(
    process: subprocess.Popen, port: int, signum: int, tree: list, log: Callable[[], str]
) -> None:
    """Signal `retain` alone (not its group), as a terminal or a supervisor does: the port
    closes, `retain` exits with 128 + signum and no process of `tree` lives on."""
    import psutil

    os.kill(process.pid, signum)
    deadline = time.monotonic() + STOPPED_WITHIN_S
    while not port_closed(port):
        assert time.monotonic() < deadline, f"port {port} still open:\n{log()[-2000:]}"
        time.sleep(0.2)
    assert process.wait(timeout=STOPPED_WITHIN_S) == 128 + signum
    _, alive = psutil.wait_procs(tree, timeout=STOPPED_WITHIN_S)
    assert not alive, f"left running: {[p.pid for p in alive]}"


def clone_store(store: ServingStore, root: Path) -> ServingStore:
    """A private copy of the store (database and artefacts) that a test may change.

    The shared store stays untouched for the read-only server and the other tests.
    """
    copy_mlflow_store(store.root, root, "serve-*.log", "bentoml")
    return _store_in(root)


@pytest.fixture(scope="session")
def running_shared_service(serving_store, api_key) -> Iterator[RunningService]:
    """The shared read-only `retain serve` (API key required), with its log file."""
    args = ("--events", str(serving_store.events))
    with running_service(serving_store, *args, RETAIN_API_KEY=api_key) as running:
        yield running


@pytest.fixture(scope="session")
def service(running_shared_service, api_key):
    """A client (key preset) of a running `retain serve` on a free port, with an API key.

    Fails with the server log if the server exits or does not become ready in time.
    """
    base = running_shared_service.base
    with httpx.Client(base_url=base, headers={"X-API-Key": api_key}, timeout=30) as client:
        yield client
