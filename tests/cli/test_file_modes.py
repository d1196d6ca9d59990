"""Output files honour the umask, as files written with `open()` do (they were always 0600)."""

from __future__ import annotations

import os
import stat

import pandas as pd
import pytest

from features.output import write_frame, write_text


@pytest.fixture(params=[0o022, 0o027, 0o077])
def umask(request):
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("name", ["table.csv", "table.parquet", "report.html"])
def test_written_files_get_the_mode_open_would_give(tmp_path, umask, name):
    expected = {0o022: 0o644, 0o027: 0o640, 0o077: 0o600}[umask]  # 0666 less the umask
    target = tmp_path / name
    if name.endswith(".html"):
        write_text("<p>report</p>", target)
    else:
        write_frame(pd.DataFrame({"user_id": ["u1"], "risk": [0.5]}), target)
    assert _mode(target) == expected
    reference = tmp_path / "reference.txt"
    reference.write_text("x")  # what any other program writing here would get
    assert _mode(reference) == expected


def test_replacing_a_file_takes_the_current_umask(tmp_path):
    target = tmp_path / "scores.csv"
    frame = pd.DataFrame({"user_id": ["u1"]})
    previous = os.umask(0o077)
    try:
        write_frame(frame, target)
        assert _mode(target) == 0o600
        os.umask(0o002)
        write_frame(frame, target)
        assert _mode(target) == 0o664
    finally:
        os.umask(previous)
