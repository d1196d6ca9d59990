"""`retain serve` stops whole: SIGTERM to `retain` alone while it serves, or Ctrl-C while its
worker is still starting, closes the port and leaves no process behind; and the README's
`retain serve --port 3000` works as written.

Why these are real processes: the bug was a child (`bentoml serve` and its workers) that
outlived `retain` and kept answering; only a real process tree shows it.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import time
from pathlib import Path

import psutil
import pytest

from tests.serving import conftest

pytestmark = pytest.mark.slow
README = Path(__file__).resolve().parents[2] / "README.md"
STOPPED_WITHIN_S = 10


def _readme_serve_args() -> list[str]:
    """The README's `retain serve` example, as arguments after `retain`."""
    line = next(line for line in README.read_text().splitlines() if "retain serve --port" in line)
    words = shlex.split(line.split("#", 1)[0])
    return words[words.index(next(w for w in words if w.endswith("retain"))) + 1 :]


def _port_closed(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture(scope="module")
def folder_with_scores(scored, tmp_path_factory) -> Path:
    """A working folder holding `scores.parquet`, as after the README's `retain score`."""
    from features.output import write_frame

    folder = tmp_path_factory.mktemp("readme")
    write_frame(scored.scores, folder / "scores.parquet")
    return folder


def test_the_readme_example_names_no_source():
    """What the next test runs is the README's example (the port aside): no --events/--scores."""
    assert _readme_serve_args() == ["serve", "--port", "3000"]


def _is_worker(process: psutil.Process) -> bool:
    try:
        return "_bentoml_impl.worker" in " ".join(process.cmdline())
    except psutil.Error:  # gone between listing and asking
        return False


def _stops_whole(process, port: int, signum: int, tree: list, log) -> None:
    """Signal `retain` alone (not its group); the port closes and no process of `tree` lives."""
    os.kill(process.pid, signum)
    deadline = time.monotonic() + STOPPED_WITHIN_S
    while not _port_closed(port):
        assert time.monotonic() < deadline, f"port {port} still open:\n{log()[-2000:]}"
        time.sleep(0.2)
    assert process.wait(timeout=STOPPED_WITHIN_S) == 128 + signum
    _, alive = psutil.wait_procs(tree, timeout=STOPPED_WITHIN_S)
    assert not alive, f"left running: {[p.pid for p in alive]}"


def test_sigterm_to_retain_alone_stops_the_whole_tree(
    serving_store, folder_with_scores, monkeypatch
):
    # The README's form: `retain serve --port N` in a folder with scores.parquet (the shared
    # starter adds --host 127.0.0.1 and runs from its ROOT, here the folder).
    monkeypatch.setattr(conftest, "ROOT", folder_with_scores)
    # Live, not ready: the whole tree (retain, bentoml serve, its worker) exists once /livez
    # answers; waiting for the snapshot too only spent CPU.
    with conftest.running_service(serving_store, wait_ready=False) as running:
        assert "serving" in running.log() and "scores.parquet" in running.log()
        port = int(running.base.rsplit(":", 1)[1])
        tree = psutil.Process(running.process.pid).children(recursive=True)
        assert tree, "bentoml serve runs as a child of retain"
        _stops_whole(running.process, port, signal.SIGTERM, tree, running.log)


def test_ctrl_c_while_the_worker_starts_stops_the_whole_tree(serving_store, tmp_path):
    """Ctrl-C (SIGINT) once the port is bound and the worker exists, before it has loaded the
    models: an operator who gives up on a slow start gets every process back too."""
    port = conftest.free_port()
    log_path = tmp_path / "serve.log"
    args = ("--events", str(serving_store.events))
    process = conftest.spawn_serve(serving_store, port, log_path, *args)
    try:
        deadline = time.monotonic() + conftest.START_TIMEOUT_S
        while True:
            assert process.poll() is None, log_path.read_text()[-2000:]
            assert time.monotonic() < deadline, log_path.read_text()[-2000:]
            tree = psutil.Process(process.pid).children(recursive=True)
            starting = any(_is_worker(p) for p in tree)
            if starting and not _port_closed(port):
                break
            time.sleep(0.1)
        loaded = re.search(r"serving [\d,]+ users", log_path.read_text())
        assert loaded is None, "the worker finished loading before the signal"
        _stops_whole(process, port, signal.SIGINT, tree, log_path.read_text)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
