"""Fixtures shared across test groups: the shared public datasets and a local Spark session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

SHARED_DATA = Path(
    os.environ.get("RETAIN_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


IN_CI = os.environ.get("CI", "").lower() == "true"


def missing_component(reason: str) -> NoReturn:
    """A required component (Chromium, PostgreSQL, Java) is absent: skip locally, fail in CI.

    Why: CI (`CI=true`, see .ci/run) installs every component the suite needs; a test that
    skipped there would report green for a check that never ran.
    """
    if IN_CI:
        pytest.fail(f"required in CI but missing: {reason}", pytrace=False)
    pytest.skip(reason)


def shared_file(name: str) -> Path:
    """A public dataset from ../shared/data, or skip the test saying where it was looked for."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"public dataset {name} not found in {SHARED_DATA} (set RETAIN_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def spark_backend():
    """One local Spark session for the whole run (starting one costs ~10 s)."""
    java_home = os.environ.get("JAVA_HOME")
    if shutil.which("java") is None and not (java_home and Path(java_home, "bin", "java").exists()):
        missing_component("no Java for Spark (install a JDK 17 and put `java` on PATH)")
    from features.engines import connect

    return connect("spark")
