"""Writing tables atomically: a reader sees the old file or the complete new one, never half.

Why: an interrupted `retain features` or `retain score` must not leave a truncated file that a
later job would read as if it were complete.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

SUPPORTED_SUFFIXES = (".parquet", ".csv")


def check_output_path(path: Path) -> None:
    """Fail early (before any work) on an output name whose format we cannot write."""
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise ValueError(
            f"{path}: unsupported output type {path.suffix or '(none)'!r}; "
            f"use one of {', '.join(SUPPORTED_SUFFIXES)}"
        )


def write_frame(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write Parquet or CSV (by extension) to a temporary file beside `path`, then rename."""
    target = Path(path)
    check_output_path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    os.close(handle)
    try:
        if target.suffix.lower() == ".parquet":
            frame.to_parquet(temporary, index=False)
        else:
            frame.to_csv(temporary, index=False)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
