"""The scheduled command in docs/operations.md works as written (cron and systemd alike).

Why read the command from the document: a runbook that drifts from the CLI fails at 02:30 with
nobody watching. The test takes the systemd unit's `ExecStart` line, swaps only the paths for a
temporary store and log, runs it twice, and checks the outcome a scheduler sees each time.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.stores import new_mlflow_store

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _documented() -> list[str]:
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    found = re.search(r"^ExecStart=(.+)$", text, flags=re.MULTILINE)
    assert found, "docs/operations.md has no systemd ExecStart line"
    cron = [line for line in text.splitlines() if re.match(r"^\d+ \d+ \* \* \* ", line)]
    assert cron and shlex.split(found.group(1))[1:] == shlex.split(cron[0])[9:-3], (
        "the cron line and the systemd unit run different commands"
    )
    return shlex.split(found.group(1))


def test_the_documented_retrain_command_runs_as_written(events_path, tmp_path, empty_mlflow_db):
    """Trained once in process (the expensive part); the documented command, run as a
    scheduler would, then finds nothing new and exits 0 with `up_to_date`."""
    from monitoring import retrain
    from training import load_config

    command = _documented()
    assert Path(command[0]).name == "retain" and command[1] == "retrain"
    config = tmp_path / "small.yaml"
    config.write_text(
        "name: nightly\nmodels: [churn]\ncutoffs: {step_days: 30, count: 3}\n"
        "churn: {num_boost_round: 60, early_stopping_rounds: 10}\n"
    )
    store = new_mlflow_store(tmp_path, empty_mlflow_db)
    assert retrain(events_path, load_config(config), tracking_uri=store).outcome == "retrained"
    swap = {"--events": str(events_path), "--config": str(config), "--tracking-uri": store}
    args = [str(Path(sys.executable).with_name("retain")), "retrain"]
    rest = command[2:]
    for flag in rest[::2]:
        assert flag in swap, f"a documented flag the test does not swap: {flag}"
        args += [flag, swap[flag]]
    again = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert "up_to_date" in again.stdout
