"""`features.engines.connect`: a setting that cannot apply to the engine is refused."""

from __future__ import annotations

import pytest

from features.engines import connect


def test_a_python_daemon_is_refused_for_duckdb() -> None:
    with pytest.raises(ValueError, match="python_daemon applies to Spark only"):
        connect("duckdb", python_daemon="serving.scoring.spark_daemon")


def test_duckdb_still_connects_without_one() -> None:
    assert connect("duckdb").raw_sql("SELECT 1").fetchall() == [(1,)]
