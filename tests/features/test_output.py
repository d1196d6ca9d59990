"""Atomic writes: the old file or the complete new one, and no temporaries left to pile up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from features.output import sweep_stale_temporaries, write_frame


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_killed_writers_temporary_is_swept_and_a_live_ones_kept(tmp_path) -> None:
    target = tmp_path / "scores.csv"
    dead = tmp_path / f".scores.csv.{_dead_pid()}.abc123.tmp"
    live = tmp_path / f".scores.csv.{os.getpid()}.def456.tmp"
    other = tmp_path / f".other.csv.{_dead_pid()}.ghi789.tmp"  # another output's file
    for path in (dead, live, other):
        path.write_bytes(b"half a file")
    assert sweep_stale_temporaries(target) == [dead]
    assert not dead.exists() and live.exists() and other.exists()


def test_write_frame_replaces_the_file_and_leaves_only_it(tmp_path) -> None:
    target = tmp_path / "features.parquet"
    write_frame(pd.DataFrame({"a": [1, 2]}), target)
    write_frame(pd.DataFrame({"a": [3]}), target)
    assert pd.read_parquet(target)["a"].tolist() == [3]
    assert [p.name for p in tmp_path.iterdir()] == ["features.parquet"]


def test_a_killed_runs_spill_folder_is_removed_by_the_next_run(tmp_path) -> None:
    from features import private_folder

    dead = tmp_path / f".retain-stream-{_dead_pid()}-abc123"
    live = tmp_path / f".retain-stream-{os.getpid()}-def456"  # a concurrent run's: kept
    other = tmp_path / f".other-kind-{_dead_pid()}-ghi789"
    for folder in (dead, live, other):
        folder.mkdir()
        (folder / "batch_00000.parquet").write_bytes(b"spilled")
    with private_folder(tmp_path, "retain-stream") as spill:
        assert Path(spill).parent == tmp_path and Path(spill).name.startswith(
            f".retain-stream-{os.getpid()}-"
        )
        assert not dead.exists() and live.exists() and other.exists()
    assert not Path(spill).exists()  # the run's own folder goes when it ends
