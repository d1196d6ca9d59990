"""Fixtures shared across test groups: the shared public datasets and a local Spark session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(
    os.environ.get("RETAIN_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def shared_file(name: str) -> Path:
    """A public dataset from ../shared/data, or skip the test saying where it was looked for."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"public dataset {name} not found in {SHARED_DATA} (set RETAIN_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def spark_backend():
    """One local Spark session for the whole run (starting one costs ~10 s)."""
    pytest.importorskip("pyspark")
    from features.engines import connect

    return connect("spark")
