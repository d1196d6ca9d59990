"""`retain serve`'s process tree (retain/commands/process_tree.py): a worker that the server
started in a session of its own, as BentoML's circus starts its workers, and that ignores
SIGTERM does not outlive `retain` once the grace period is over.

Why no BentoML here: the case that left a worker orphaned and bound to its port was a server
killed before it had stopped its workers (a slow start on a busy machine); a stand-in server
that never stops its worker makes that case certain instead of a matter of timing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

WORKER = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"
SERVER = """
import pathlib, subprocess, sys, time
worker = subprocess.Popen([sys.executable, "-c", sys.argv[2]], start_new_session=True)
pathlib.Path(sys.argv[1]).write_text(str(worker.pid))
time.sleep(120)
"""
RETAIN = """
import os, sys
from retain.commands.process_tree import run_process_tree
command = [sys.executable, "-c", sys.argv[1], sys.argv[2], sys.argv[3]]
sys.exit(run_process_tree(command, os.environ, grace_seconds=1.0))
"""


def test_a_worker_in_its_own_session_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    pid_file = tmp_path / "worker.pid"
    retain = subprocess.Popen([sys.executable, "-c", RETAIN, SERVER, str(pid_file), WORKER])
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists() or not pid_file.read_text():
            assert retain.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        worker = psutil.Process(int(pid_file.read_text()))
        assert os.getsid(worker.pid) == worker.pid  # outside the server's process group
        time.sleep(2.5)  # the tree has been noted at least once
        retain.send_signal(signal.SIGTERM)
        assert retain.wait(timeout=20) == 128 + signal.SIGTERM
        _, alive = psutil.wait_procs([worker], timeout=10)
        assert alive == [], "the worker outlived retain"
    finally:
        if retain.poll() is None:
            retain.kill()
        if pid_file.exists() and pid_file.read_text():
            with contextlib.suppress(psutil.Error):
                psutil.Process(int(pid_file.read_text())).kill()
