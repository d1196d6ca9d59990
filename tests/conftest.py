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


# The suite runs on two workers by file (pytest-xdist, `--dist loadfile`: a module's fixtures
# are built once, on one worker). Files that take a minute or more go first, so that the two
# workers end together instead of one finishing a long file alone at the end. Measured with
# `--durations`; order among the rest is the collection order.
SLOW_FIRST = (
    "tests/models/test_mlflow_server.py",
    "tests/serving/test_monitor.py",
    "tests/serving/test_replicas.py",
    "tests/serving/test_faults.py",
    "tests/models/test_value_bias.py",
    "tests/notebooks/test_notebooks.py",
    "tests/models/test_real_data.py",
    "tests/models/test_retrain.py",
    "tests/models/test_cli.py",
    "tests/serving/test_service.py",
    "tests/serving/test_fuzz.py",
    "tests/models/test_operations_doc.py",
    "tests/models/test_tune_backtest.py",
    "tests/models/test_tracking.py",
    "tests/models/test_concurrency.py",
    "tests/serving/test_serve_signals.py",
    "tests/serving/test_spark_scoring.py",
    "tests/serving/test_operator_page.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: i for i, path in enumerate(SLOW_FIRST)}
    root = Path(__file__).resolve().parents[1]

    def key(item: pytest.Item) -> int:
        return rank.get(item.path.relative_to(root).as_posix(), len(rank))

    items.sort(key=key)  # stable: tests keep their order inside a file
