"""`retain serve --host` (issue 19, item 4): loopback by default, and a warning before it listens
on other interfaces without an API key.

The warning is printed before the server starts, so each case runs `retain serve` only until its
"starting the Retain service on …" line and then stops it (its whole process group); no model
is needed for that (the score file named is never read: the server would fail on it later).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from retain.commands.serve import is_loopback

ROOT = Path(__file__).resolve().parents[2]
STARTING = "starting the Retain service on "
WARNING = "listens beyond this machine and no API key is set"


def _until_start(tmp_path: Path, *args: str, key: str | None = None) -> str:
    """The output of `retain serve ARGS` up to its starting line; the server is stopped then."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETAIN_")}
    env.update(BENTOML_HOME=str(tmp_path / "bentoml"), COLUMNS="200", PYTHONUNBUFFERED="1")
    if key is not None:
        env["RETAIN_API_KEY"] = key
    command = [str(Path(sys.executable).with_name("retain")), "serve", *args]
    command += ["--scores", str(tmp_path / "never-read.parquet"), "--port", "1"]
    seen = []
    with subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            for line in process.stdout:  # type: ignore[union-attr]
                seen.append(line)
                if STARTING in line:
                    break
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
    output = "".join(seen)
    assert STARTING in output, output
    return output


@pytest.mark.slow
def test_serve_listens_on_loopback_by_default_without_a_warning(tmp_path):
    output = _until_start(tmp_path)
    assert f"{STARTING}http://127.0.0.1:1" in output and WARNING not in output


@pytest.mark.slow
def test_every_interface_without_a_key_is_warned_about_before_starting(tmp_path):
    output = _until_start(tmp_path, "--host", "0.0.0.0")
    assert WARNING in output and "RETAIN_API_KEY" in output
    assert output.index(WARNING) < output.index(STARTING)
    keyed = _until_start(tmp_path, "--host", "0.0.0.0", key="k3y")
    assert f"{STARTING}http://0.0.0.0:1" in keyed and WARNING not in keyed


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.53", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("retain.internal", False),
    ],
)
def test_which_hosts_count_as_this_machine_only(host, loopback):
    assert is_loopback(host) is loopback
