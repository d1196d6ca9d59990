"""Running a server as a child process tree that stops, whole, when `retain` is told to stop.

Why: `retain serve` runs `bentoml serve`, which starts its own workers. With a bare
`subprocess.call`, SIGTERM to `retain` (`kill PID`, a service manager, a container stop) ended
`retain` alone and left the server running, still answering on its port. Here the server gets a
process group of its own; SIGTERM, SIGINT (Ctrl-C) and SIGHUP received by `retain` are passed
to that whole group; after a grace period (or a second signal) the group is killed. Whatever
the server left behind in its group is killed when it exits. SIGKILL to `retain` itself cannot
be passed on: stop it with SIGTERM.

BentoML's process manager (circus) starts each worker in a session of its own, outside that
group, and the worker holds the listening socket it inherited. The server normally stops its
workers itself; but when it is killed first (the grace period ran out, say during a slow
start on a busy machine) its workers would live on, orphaned, still bound to the port. So the
tree's descendants are noted while it runs and any still alive at the end are killed too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence

import psutil

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
GRACE_SECONDS = 6.0  # BentoML drains in-flight requests in well under this
POLL_SECONDS = 0.2
NOTE_SECONDS = 2.0  # how often the tree's descendants are noted (a /proc walk each time)


def _signal_group(group: int, signum: int) -> None:
    """Send `signum` to every process in `group` (gone already: nothing to do)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signum)


def _descendants(pid: int) -> list[psutil.Process]:
    """The processes below `pid` now (none once it is gone)."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _kill_survivors(noted: dict[int, psutil.Process]) -> None:
    """SIGKILL every noted descendant still running (the same process: psutil checks its
    start time, so a reused PID is left alone)."""
    for process in noted.values():
        with contextlib.suppress(psutil.Error):
            if process.is_running():
                process.kill()


def run_process_tree(
    command: Sequence[str], env: Mapping[str, str], *, grace_seconds: float = GRACE_SECONDS
) -> int:
    """Run `command` in its own process group until it exits; return an exit status.

    The status is the command's own, or 128 + the signal number when `retain` was told to stop
    (130 for Ctrl-C, 143 for SIGTERM), as a shell reports a process ended by a signal.
    """
    child = subprocess.Popen(list(command), env=dict(env), start_new_session=True)
    received: list[int] = []

    def pass_on(signum: int, _frame: object) -> None:
        received.append(signum)
        _signal_group(child.pid, signal.SIGKILL if len(received) > 1 else signum)

    previous = {signum: signal.signal(signum, pass_on) for signum in STOP_SIGNALS}
    noted: dict[int, psutil.Process] = {}
    next_note = time.monotonic()
    try:
        deadline: float | None = None
        while True:
            try:
                status = child.wait(timeout=POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                pass
            now = time.monotonic()
            if now >= next_note or (received and deadline is None):
                noted.update((p.pid, p) for p in _descendants(child.pid))
                next_note = now + NOTE_SECONDS
            if received and deadline is None:
                deadline = now + grace_seconds
            if deadline is not None and now > deadline:
                _signal_group(child.pid, signal.SIGKILL)
                _kill_survivors(noted)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _signal_group(child.pid, signal.SIGKILL)  # workers the server left behind, if any
        _kill_survivors(noted)  # and those in sessions of their own
        if child.returncode is None:  # left by an exception: reap it, leave no zombie behind
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=POLL_SECONDS * 10)
    if received:
        return 128 + received[0]
    return 128 - status if status < 0 else status
