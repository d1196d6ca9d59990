"""Running a server as a child process tree that stops, whole, when `retain` is told to stop.

Why: `retain serve` runs `bentoml serve`, which starts its own workers. With a bare
`subprocess.call`, SIGTERM to `retain` (`kill PID`, a service manager, a container stop) ended
`retain` alone and left the server running, still answering on its port. Here the server gets a
process group of its own; SIGTERM, SIGINT (Ctrl-C) and SIGHUP received by `retain` are passed
to that whole group; after a grace period (or a second signal) the group is killed. Whatever
the server left behind in its group is killed when it exits. SIGKILL to `retain` itself cannot
be passed on: stop it with SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
GRACE_SECONDS = 6.0  # BentoML drains in-flight requests in well under this
POLL_SECONDS = 0.2


def _signal_group(group: int, signum: int) -> None:
    """Send `signum` to every process in `group` (gone already: nothing to do)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signum)


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
    try:
        deadline: float | None = None
        while True:
            try:
                status = child.wait(timeout=POLL_SECONDS)
                break
            except subprocess.TimeoutExpired:
                pass
            if received and deadline is None:
                deadline = time.monotonic() + grace_seconds
            if deadline is not None and time.monotonic() > deadline:
                _signal_group(child.pid, signal.SIGKILL)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _signal_group(child.pid, signal.SIGKILL)  # workers the server left behind, if any
    if received:
        return 128 + received[0]
    return 128 - status if status < 0 else status
