"""`retain serve` stops whole: Ctrl-C while its worker is still starting closes the port and
leaves no process behind. (SIGTERM to `retain` alone while it serves, and the README's
`retain serve --port 3000` as written: test_score_file_service.py, on the server it shares.)

Why these are real processes: the bug was a child (`bentoml serve` and its workers) that
outlived `retain` and kept answering; only a real process tree shows it.
"""

from __future__ import annotations

import os
import re
import signal
import time

import psutil
import pytest

from tests.serving import conftest

pytestmark = pytest.mark.slow


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
            starting = any(conftest.is_bentoml_worker(p) for p in tree)
            if starting and not conftest.port_closed(port):
                break
            time.sleep(0.1)
        loaded = re.search(r"serving [\d,]+ users", log_path.read_text())
        assert loaded is None, "the worker finished loading before the signal"
        conftest.assert_stops_whole(process, port, signal.SIGINT, tree, log_path.read_text)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
