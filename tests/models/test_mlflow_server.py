"""MLflow as a shared service: `retain train` logs to an `mlflow server` backed by PostgreSQL,
and serving loads `@champion` from it (docs/scale-out.md).

The test starts its own PostgreSQL from Debian's `postgresql` package (initdb in a temporary
folder, `pg_ctl start` on a free loopback port, trust authentication for the local user only)
and its own `mlflow server` with a local artifact root proxied by the server
(`--artifacts-destination`), so clients need no access to the artifact folder. It skips, saying
why, where the PostgreSQL binaries are missing (`.ci/run` installs them).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import missing_component
from tests.serving.conftest import answers_ok, free_port, fresh_connections

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 90
SMALL_CONFIG = """
name: server-test
cutoffs: {step_days: 30, count: 5, min_history_days: 60}
churn: {num_boost_round: 60, early_stopping_rounds: 10}
value: {num_boost_round: 60, early_stopping_rounds: 10}
"""


def _pg_bin() -> Path | None:
    """The folder with initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/<v>/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _as_owner() -> dict:
    """PostgreSQL refuses to run as root: run its commands as the `postgres` system user then."""
    if os.geteuid() != 0:
        return {}
    import pwd

    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        missing_component("running as root and there is no `postgres` user to run PostgreSQL as")
    return {"user": entry.pw_uid, "group": entry.pw_gid}


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL on 127.0.0.1:<free port>; yields the SQLAlchemy URI of a fresh db."""
    bin_dir = _pg_bin()
    if bin_dir is None:
        missing_component(
            "PostgreSQL binaries not found (apt-get install postgresql; .ci/run does)"
        )
    owner = _as_owner()
    root = Path(tempfile.mkdtemp(prefix="retain-pg-"))  # /tmp: reachable by the postgres user
    data, sockets, log = root / "data", root / "sockets", root / "postgres.log"
    sockets.mkdir()
    if owner:
        for path in (root, sockets):
            os.chown(path, owner["user"], owner["group"])
    port = free_port()
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    user = "retain"
    subprocess.run(
        [str(bin_dir / "initdb"), "-D", str(data), "-U", user, "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
        env=env,
        cwd=root,
        **owner,
    )
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"],
        check=True,
        capture_output=True,
        env=env,
        cwd=root,
        **owner,
    )
    try:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=port, user=user, dbname="postgres", autocommit=True
        ) as connection:
            connection.execute("CREATE DATABASE mlflow")
        yield f"postgresql://{user}@127.0.0.1:{port}/mlflow"
    finally:
        subprocess.run(
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True,
            env=env,
            cwd=root,
            check=False,
            **owner,
        )
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def mlflow_server(backend_uri: str, artifacts: Path) -> Iterator[str]:
    """`mlflow server` on loopback over `backend_uri`, serving artifacts from `artifacts`."""
    port = free_port()
    log_path = artifacts.parent / "mlflow-server.log"
    command = [
        str(Path(sys.executable).with_name("mlflow")),
        "server",
        *("--backend-store-uri", backend_uri),
        *("--artifacts-destination", artifacts.as_uri()),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
    ]
    # As docs/scale-out.md runs it: without MLflow 3's job runner, whose 7 idle huey consumers
    # poll at ~26% of a core each (measured), which slowed this test and its neighbours.
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        with fresh_connections(base, timeout=2) as http:
            while not answers_ok(http, "/health"):
                if process.poll() is not None:
                    pytest.fail(f"mlflow server exited:\n{log_path.read_text()[-3000:]}")
                if time.monotonic() > deadline:
                    log = log_path.read_text()
                    pytest.fail(f"mlflow server not up in {START_TIMEOUT_S}s:\n{log}")
                time.sleep(0.5)
        yield base
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=10)


def test_train_logs_to_a_postgres_backed_server_and_serving_loads_the_champion(tmp_path):
    from features.loading import load_events
    from serving.scoring.champions import load_champions
    from serving.scoring.pipeline import score_events
    from simulator.simulation import SimulationConfig, write_simulation
    from training.tracking import sqlite_path, store_lock

    events = tmp_path / "events.parquet"
    write_simulation(SimulationConfig(users=1500, days=400, seed=4), events)
    config = tmp_path / "small.yaml"  # what is logged matters here, not how good the models are
    config.write_text(SMALL_CONFIG)
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    with postgres() as backend_uri, mlflow_server(backend_uri, artifacts) as server:
        # A server store is not a SQLite file: no lock file is taken (the server locks itself).
        assert sqlite_path(server) is None
        with store_lock(server):
            pass
        env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
        result = subprocess.run(
            [
                str(Path(sys.executable).with_name("retain")),
                *("train", "--events", str(events), "--config", str(config)),
                *("--tracking-uri", server),
                "--no-figures",  # the model and tables still go through the server
            ],
            capture_output=True,
            text=True,
            cwd=tmp_path,  # nothing may be written here: no mlflow.db, no mlruns
            env=env,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "mlruns").exists()
        # The runs' artifacts went through the server into its artifact root.
        assert list(artifacts.rglob("MLmodel")), "no model artifacts under the server's root"

        champions = load_champions(server)
        assert champions.versions == {"churn": "1", "recall": "1", "value": "1"}
        scored = score_events(load_events(events), champions).scores
        assert len(scored) > 1000
        assert scored["churn_probability"].between(0, 1).all()
        assert (scored["churn_model_version"] == "1").all()

        # The metadata really lives in PostgreSQL.
        import psycopg

        with psycopg.connect(backend_uri) as connection:
            aliases = connection.execute(
                "SELECT name, alias FROM registered_model_aliases ORDER BY name, alias"
            ).fetchall()
        for name in ("retain-churn", "retain-recall", "retain-value"):
            assert (name, "champion") in aliases
