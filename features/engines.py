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


def connect(engine: str = "duckdb") -> BaseBackend:
    """An Ibis backend for `engine`; Spark runs in local mode unless SPARK_MASTER says otherwise."""
    if engine == "duckdb":
        backend = ibis.duckdb.connect()
        # Casting a zoned timestamp to a naive one uses the session zone: pin it to UTC.
        backend.raw_sql("SET TimeZone = 'UTC'")
        return backend
    check_engine(engine)
    return ibis.pyspark.connect(spark_session())


def spark_session():  # -> pyspark.sql.SparkSession (imported lazily: Spark is optional at runtime)
    """A Spark session whose clock is UTC, so timestamps mean the same as on DuckDB."""
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
