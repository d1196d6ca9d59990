"""Fixtures shared across test groups: the shared public datasets and a local Spark session."""

from __future__ import annotations

import atexit
import functools
import os
import re
import resource
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.stores import create_empty_mlflow_db

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


def built_once(
    factory: pytest.TempPathFactory, worker_id: str, name: str, build: Callable[[Path], None]
) -> Path:
    """The folder `name` that `build` filled, built once per run and shared by the workers.

    Under pytest-xdist the first worker to ask builds it in the run's shared temporary folder
    while a file lock keeps the others waiting; they then read the same folder. Callers that
    change what is in it copy it first. Without xdist it is built in this process's own
    temporary folder.
    """
    if worker_id == "master":  # not distributed: this process is the only user
        folder = factory.mktemp(name)
        build(folder)
        return folder
    from filelock import FileLock

    shared = factory.getbasetemp().parent  # the same folder for every worker
    folder = shared / name
    with FileLock(str(shared / f"{name}.lock")):
        built = shared / f"{name}.built"
        if not built.exists():
            folder.mkdir(parents=True, exist_ok=True)
            build(folder)
            built.touch()
    return folder


@pytest.fixture(scope="session")
def empty_mlflow_db(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """An MLflow SQLite database with its schema and nothing else, built once per run: tests
    copy it (tests/stores.new_mlflow_store) instead of migrating a new store each."""

    def build(folder: Path) -> None:
        create_empty_mlflow_db(folder / "mlflow.db")

    return built_once(tmp_path_factory, worker_id, "empty_mlflow_store", build) / "mlflow.db"


@pytest.fixture(scope="session")
def spark_backend():
    """One local Spark session for the whole run (starting one costs ~10 s), started as
    `retain score --engine spark` starts its own: Python workers forked from the scoring daemon
    (serving/scoring/spark_daemon.py)."""
    java_home = os.environ.get("JAVA_HOME")
    if shutil.which("java") is None and not (java_home and Path(java_home, "bin", "java").exists()):
        missing_component("no Java for Spark (install a JDK 17 and put `java` on PATH)")
    from features.engines import connect
    from serving.scoring import SCORING_DAEMON

    return connect("spark", python_daemon=SCORING_DAEMON)


# The suite runs on two workers by file (pytest-xdist, `--dist loadfile`: a module's fixtures
# are built once, on one worker), except for the two groups below. Files that take a minute or
# more go first, so that the two workers end together instead of one finishing a long file
# alone at the end; the first two open the two groups (about 3 minutes each), which xdist then
# hands one to each worker. The Spark group opens with a file that needs no trained store:
# while it starts the JVM, the other worker builds `serving_store` for the service, instead of
# one worker waiting ~20 s on the other's build (the Spark files that need the store, named
# nowhere here, come last in their group, in collection order). Measured with RETAIN_TEST_TIMES
# (below); order among the rest is the collection order. pyproject's `--no-loadscope-reorder`
# keeps xdist from reordering files by their number of tests, which put these last.
SLOW_FIRST = (
    "tests/features/test_engine_parity.py",
    "tests/serving/test_service.py",
    "tests/models/test_mlflow_server.py",
    "tests/serving/test_faults.py",
    "tests/serving/test_score_file_service.py",
    "tests/notebooks/test_notebooks.py",
    "tests/serving/test_monitor.py",
    "tests/models/test_retrain.py",
    "tests/models/test_operations_doc.py",
    "tests/serving/test_api_errors.py",
    "tests/serving/test_operator_what_if.py",
    "tests/models/test_promotion.py",
    "tests/models/test_cli.py",
    "tests/models/test_real_data.py",
    "tests/serving/test_fuzz.py",
    # 10-20 s each: ahead of the many small files, which then fill both workers' last minute.
    "tests/test_demo.py",
    "tests/serving/test_report_presentation.py",
    "tests/models/test_concurrency.py",
    "tests/models/test_tracking.py",
    "tests/models/test_tune_backtest.py",
    "tests/features/test_properties.py",
    "tests/serving/test_report.py",
    "tests/serving/test_effects.py",
    "tests/serving/test_streaming.py",
    "tests/serving/test_serve_signals.py",
)


# Test files that start Spark: a file naming the session fixture or the engine by name.
_USES_SPARK = re.compile(r"spark_backend|[\"']spark[\"']")
# Test files that use the shared `retain serve` (tests/serving/conftest.py): a function taking
# the `service` fixture, or the fixture behind it.
_USES_SHARED_SERVICE = re.compile(r"\bdef \w+\([^)]*\bservice\b[^)]*\)|running_shared_service")


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadfile`, except that every file that starts Spark runs on one worker, and
    every file that uses the shared `retain serve` on one worker.

    Why: each worker that touches Spark starts its own JVM (~8 CPU s) and its own Python UDF
    workers, which import MLflow, LightGBM and Retain (~4 CPU s each) before the first row.
    On one worker the session (`spark_backend`, or `connect("spark")`'s getOrCreate in the
    CLI) and its warm Python workers are shared by all of them, and the other worker's memory
    holds no second JVM. Likewise the shared service (session-scoped, so once per worker that
    needs it) costs ~21 CPU s to start: grouped, it starts once per run. Which files: read
    from their text, so a new test joins its group without being listed.
    """
    from xdist.scheduler import LoadFileScheduling

    root = Path(config.rootpath)

    @functools.cache
    def group(path: str) -> str:
        try:
            text = (root / path).read_text(encoding="utf-8")
        except OSError:
            return path
        if _USES_SPARK.search(text):
            return "spark-tests"
        return "shared-service-tests" if _USES_SHARED_SERVICE.search(text) else path

    class GroupedFiles(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group(super()._split_scope(nodeid))

    return GroupedFiles(config, log)


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# The test JVM (one local Spark session per run, minutes long): C1-only JIT and the serial
# collector. Measured on the Spark group alone (-n 0): 254 -> 210 busy CPU s, wall unchanged;
# C2's compiler threads and G1's parallel collector only pay off in longer-lived JVMs.
TEST_JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


def pytest_configure(config: pytest.Config) -> None:
    """Split the cores between the xdist workers: each worker's native threads get cores/n.

    Why: LightGBM (OpenMP) and BLAS start one thread per core in every process by default, so
    two workers on two cores ran four busy threads that kept preempting each other; one
    300-round fit took 125 s that way against 8 s on one thread. Set here, in the controller,
    before the workers start, so they and every subprocess they spawn (`retain serve`, the
    CLI) inherit it. A value already in the environment wins.
    """
    if hasattr(config, "workerinput"):  # an xdist worker
        atexit.register(_exit_without_interpreter_teardown)
    workers = getattr(config.option, "numprocesses", None)
    if not isinstance(workers, int) or workers < 2 or "PYTEST_XDIST_WORKER" in os.environ:
        return
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, threads)
    os.environ.setdefault("JAVA_TOOL_OPTIONS", TEST_JVM_OPTIONS)


def _exit_without_interpreter_teardown() -> None:
    """An xdist worker's last exit step: flush, then end the process without the interpreter's
    module teardown.

    Why: the worker has sent its results and its session fixtures have stopped every service
    they started, yet the interpreter's teardown (freeing every module and object of a process
    that imported LightGBM, MLflow, Spark and BentoML) took 4-7 s, and the run's end waits for
    the last worker's. Registered when the worker is configured, this runs after every exit
    handler registered later (MLflow's, Spark's, the fixtures' libraries'); the two standard
    ones registered earlier, logging's flush and multiprocessing's child clean-up, are run here.
    """
    import logging
    import multiprocessing.util

    multiprocessing.util._exit_function()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: i for i, path in enumerate(SLOW_FIRST)}
    root = Path(__file__).resolve().parents[1]

    def key(item: pytest.Item) -> int:
        return rank.get(item.path.relative_to(root).as_posix(), len(rank))

    items.sort(key=key)  # stable: tests keep their order inside a file


def _cpu_seconds() -> float:
    """CPU used so far by this process and its reaped children (`retain serve`, the CLI)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """Each phase's CPU seconds (since the previous phase ended) go with its report, for
    RETAIN_TEST_TIMES: on two saturated cores CPU, not wall, is what a test costs the run."""
    report = yield
    if os.environ.get("RETAIN_TEST_TIMES"):
        now = _cpu_seconds()
        report.user_properties.append(("cpu_s", round(now - _cpu_mark[0], 2)))
        _cpu_mark[0] = now
    return report


_cpu_mark = [0.0]  # CPU seconds when the last phase ended (0: the worker's start)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """With RETAIN_TEST_TIMES=PATH, append each phase's duration as it ends (for suite tuning):
    duration, phase, test, the xdist worker, the end time (epoch seconds) and the CPU seconds
    it used, its subprocesses included, tab-separated, so the two workers' timelines (idle
    gaps, a long tail on one) can be drawn from it.

    Why not `--durations`: it prints only when the run ends, and a run stopped by a timeout
    (the case worth profiling) prints nothing.
    """
    path = os.environ.get("RETAIN_TEST_TIMES")
    if not path or "PYTEST_XDIST_WORKER" in os.environ:  # the controller writes, once
        return
    node = getattr(report, "node", None)  # xdist: the worker that ran it
    worker = getattr(getattr(node, "gateway", None), "id", "-")
    cpu = dict(report.user_properties).get("cpu_s", "")
    with open(path, "a", encoding="utf-8") as times:
        times.write(
            f"{report.duration:.2f}\t{report.when}\t{report.nodeid}\t{worker}\t{report.stop:.1f}"
            f"\t{cpu}\n"
        )
