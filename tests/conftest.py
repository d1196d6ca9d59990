"""Fixtures shared across test groups: the shared public datasets and a local Spark session."""

from __future__ import annotations

import functools
import os
import re
import shutil
from pathlib import Path
from typing import Any, NoReturn

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
# RETAIN_TEST_TIMES (below); order among the rest is the collection order. pyproject's
# `--no-loadscope-reorder` keeps xdist from reordering files by their number of tests, which
# put these last.
SLOW_FIRST = (
    "tests/models/test_mlflow_server.py",
    "tests/serving/test_replicas.py",
    "tests/serving/test_faults.py",
    "tests/serving/test_service.py",
    "tests/serving/test_spark_scoring.py",
    "tests/models/test_feature_set_wiring.py",
    "tests/serving/test_serve_signals.py",
    "tests/notebooks/test_notebooks.py",
    "tests/serving/test_monitor.py",
    "tests/models/test_retrain.py",
    "tests/models/test_operations_doc.py",
    "tests/serving/test_api_errors.py",
    "tests/serving/test_operator_what_if.py",
    "tests/models/test_promotion.py",
    "tests/models/test_cli.py",
    "tests/models/test_real_data.py",
    "tests/features/test_engine_parity.py",
    "tests/serving/test_fuzz.py",
)


# Test files that start Spark: a file naming the session fixture or the engine by name.
_USES_SPARK = re.compile(r"spark_backend|[\"']spark[\"']")


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadfile`, except that every file that starts Spark runs on the same worker.

    Why: each worker that touches Spark starts its own JVM (~8 CPU s) and its own Python UDF
    workers, which import MLflow, LightGBM and Retain (~4 CPU s each) before the first row.
    On one worker the session (`spark_backend`, or `connect("spark")`'s getOrCreate in the
    CLI) and its warm Python workers are shared by all of them, and the other worker's memory
    holds no second JVM. Which files: read from their text, so a new Spark test joins the
    group without being listed.
    """
    from xdist.scheduler import LoadFileScheduling

    root = Path(config.rootpath)

    @functools.cache
    def starts_spark(path: str) -> bool:
        try:
            return bool(_USES_SPARK.search((root / path).read_text(encoding="utf-8")))
        except OSError:
            return False

    class SparkOnOneWorker(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = super()._split_scope(nodeid)
            return "spark-tests" if starts_spark(path) else path

    return SparkOnOneWorker(config, log)


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def pytest_configure(config: pytest.Config) -> None:
    """Split the cores between the xdist workers: each worker's native threads get cores/n.

    Why: LightGBM (OpenMP) and BLAS start one thread per core in every process by default, so
    two workers on two cores ran four busy threads that kept preempting each other; one
    300-round fit took 125 s that way against 8 s on one thread. Set here, in the controller,
    before the workers start, so they and every subprocess they spawn (`retain serve`, the
    CLI) inherit it. A value already in the environment wins.
    """
    workers = getattr(config.option, "numprocesses", None)
    if not isinstance(workers, int) or workers < 2 or "PYTEST_XDIST_WORKER" in os.environ:
        return
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, threads)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: i for i, path in enumerate(SLOW_FIRST)}
    root = Path(__file__).resolve().parents[1]

    def key(item: pytest.Item) -> int:
        return rank.get(item.path.relative_to(root).as_posix(), len(rank))

    items.sort(key=key)  # stable: tests keep their order inside a file


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """With RETAIN_TEST_TIMES=PATH, append each phase's duration as it ends (for suite tuning):
    duration, phase, test, the xdist worker and the end time (epoch seconds), tab-separated, so
    the two workers' timelines (idle gaps, a long tail on one) can be drawn from it.

    Why not `--durations`: it prints only when the run ends, and a run stopped by a timeout
    (the case worth profiling) prints nothing.
    """
    path = os.environ.get("RETAIN_TEST_TIMES")
    if not path or "PYTEST_XDIST_WORKER" in os.environ:  # the controller writes, once
        return
    node = getattr(report, "node", None)  # xdist: the worker that ran it
    worker = getattr(getattr(node, "gateway", None), "id", "-")
    with open(path, "a", encoding="utf-8") as times:
        times.write(
            f"{report.duration:.2f}\t{report.when}\t{report.nodeid}\t{worker}\t{report.stop:.1f}\n"
        )
