"""Execution engines for the Ibis feature definitions: DuckDB embedded, Spark for scale-out.

Why a module of its own: the feature definitions are engine-agnostic; only connecting (and the
Spark session's settings that make results identical to DuckDB's) differs per engine.
"""

from __future__ import annotations

import os
import sys
from typing import Literal

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

Engine = Literal["duckdb", "spark"]
ENGINES: tuple[str, ...] = ("duckdb", "spark")


def check_engine(engine: str) -> None:
    """Raise ValueError naming the choices unless `engine` is one Retain runs on."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of: {', '.join(ENGINES)}")


def connect(engine: str = "duckdb", python_daemon: str | None = None) -> BaseBackend:
    """An Ibis backend for `engine`; Spark runs in local mode unless SPARK_MASTER says otherwise.

    `python_daemon`: see `spark_session` (refused for DuckDB, which runs no Python workers).
    """
    if python_daemon is not None and engine != "spark":
        raise ValueError(f"python_daemon applies to Spark only, not to {engine!r}")
    if engine == "duckdb":
        backend = ibis.duckdb.connect()
        # Casting a zoned timestamp to a naive one uses the session zone: pin it to UTC.
        backend.raw_sql("SET TimeZone = 'UTC'")
        return backend
    check_engine(engine)
    return ibis.pyspark.connect(spark_session(python_daemon))


def spark_session(python_daemon: str | None = None):  # -> pyspark.sql.SparkSession (lazy import)
    """A Spark session whose clock is UTC, so timestamps mean the same as on DuckDB.

    `python_daemon` names the module Spark forks its Python UDF workers from (PySpark's own
    daemon by default), so that a caller can have the imports its UDFs need done once per
    executor (serving's scoring does). It applies when this call starts the session; a running
    session keeps its own (Spark reads it once).
    """
    from pyspark.sql import SparkSession

    # Python UDFs (the models' `spark_udf`, scoring's row-wise steps) run in worker processes:
    # in local mode they must use this interpreter (its packages), not whatever `python3` is.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.appName("retain")
        .master(os.environ.get("SPARK_MASTER", "local[2]"))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")  # no stage bars over the CLI's output
        .config("spark.sql.shuffle.partitions", os.environ.get("SPARK_SHUFFLE_PARTITIONS", "8"))
        .config("spark.driver.memory", os.environ.get("SPARK_DRIVER_MEMORY", "2g"))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
    )
    if python_daemon is not None:
        builder = builder.config("spark.python.daemon.module", python_daemon)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def to_frame(backend: BaseBackend, expr: ir.Table) -> pd.DataFrame:
    """Run `expr` and return a pandas frame.

    Why not `backend.execute` on DuckDB: Ibis converts every column that holds a null through a
    Python list, about a fifth of a 500k-user feature build; Arrow's own conversion gives
    the same dtypes and values without it. Other engines keep Ibis's conversion.
    """
    if backend.name == "duckdb":
        return backend.to_pyarrow(expr).to_pandas()
    return backend.execute(expr)


def register_frame(backend: BaseBackend, name: str, frame: pd.DataFrame) -> ir.Table:
    """Make an in-memory frame a table on the backend (Spark has no Ibis temp tables).

    Timestamps are truncated to microseconds, the engines' precision, instead of failing. A
    column that is entirely missing (a log of logins with an empty `amount`) has no type an
    engine can infer, so it becomes text: the loader parses every contract column from text.
    """
    frame = frame.astype({col: "str" for col in frame.columns if frame[col].isna().all()})
    frame = frame.assign(
        **{
            col: frame[col].dt.floor("us").astype(str(frame[col].dtype).replace("[ns", "[us"))
            for col in frame.columns
            if pd.api.types.is_datetime64_any_dtype(frame[col]) and "[ns" in str(frame[col].dtype)
        }
    )
    if backend.name == "pyspark":
        session = backend._session
        plain = frame.astype({col: object for col in frame.columns if frame[col].dtype == "str"})
        session.createDataFrame(plain).createOrReplaceTempView(name)
        return backend.table(name)
    return backend.create_table(name, frame, temp=True)
