"""A partitioned Parquet feature table written and read by Spark itself (DESIGN.md §6).

Why a module of its own: at scale the feature table never passes through one process. The
Ibis expression from `features.pipeline.feature_table` is compiled to Spark SQL and written by
the executors (no pandas collect), one partition folder per cutoff: `<table>/cutoff=<date>/`.
Rewriting a cutoff replaces only its folder (dynamic partition overwrite), so one table can
hold the features of many cutoffs, e.g. a training set's backtest cutoffs.

Readers take one cutoff at a time (`read_feature_table`), because tiers and decisions are
properties of one batch (serving/scoring/pipeline.py).

Atomicity: Spark's file committer writes task output under `_temporary/` and moves it into
place when the job commits, then writes `_SUCCESS`; a failed job leaves the previous
partition untouched. That is the guarantee `features.output` gives single files, per cutoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
from ibis.backends import BaseBackend

from features import contract as c
from features.config import WindowConfig
from features.definitions import FEATURE_SET, FeatureSet
from features.loading import LoadedEvents
from features.pipeline import feature_table

PARTITION_COLUMN = "cutoff"


@dataclass(frozen=True)
class WrittenTable:
    """What `write_feature_table` wrote: where, for which cutoff, how many rows and columns."""

    path: Path
    cutoff: str
    rows: int
    columns: int
    labels: dict[str, float] | None = None  # labelled users, churn rate, future value total


def cutoff_label(as_of: datetime) -> str:
    """The partition value of a cutoff: `2024-03-15`, or `2024-03-15T06-00-00` off midnight."""
    if as_of.time() == datetime.min.time():
        return f"{as_of:%Y-%m-%d}"
    return f"{as_of:%Y-%m-%dT%H-%M-%S}"


def spark_frame(backend: BaseBackend, expr: ir.Table) -> Any:
    """The Spark DataFrame of an Ibis expression on the pyspark backend (lazy, nothing runs).

    The same two steps Ibis's own `to_parquet` takes on Spark: register what the expression
    needs (UDFs, in-memory tables), then hand its compiled SQL to the session.
    """
    if backend.name != "pyspark":
        raise ValueError(f"a Spark DataFrame needs the Spark engine, not {backend.name!r}")
    backend._run_pre_execute_hooks(expr)
    return backend._session.sql(backend.compile(expr))


def spark_features(
    events: LoadedEvents,
    as_of: datetime,
    windows: WindowConfig,
    *,
    labels: bool = False,
    feature_set: FeatureSet | str = FEATURE_SET,
) -> Any:
    """The features at `as_of` as a lazy Spark DataFrame (events loaded on the Spark engine);
    `feature_set` as in `feature_table` (scoring passes the champions' set)."""
    expr = feature_table(events, as_of, windows, labels=labels, feature_set=feature_set)
    # The ORDER BY of `feature_table` is for single files; a partitioned write needs no order.
    return _as_doubles(spark_frame(events.backend, _without_order(expr)), expr)


def write_feature_table(
    events: LoadedEvents,
    as_of: datetime,
    windows: WindowConfig,
    out: str | Path,
    *,
    labels: bool = False,
    feature_set: FeatureSet | str = FEATURE_SET,
) -> WrittenTable:
    """Build the features at `as_of` on Spark and write them into `out`, partition `cutoff=`
    (`feature_set` as in `spark_features`)."""
    from pyspark.sql import functions as sf

    label = cutoff_label(as_of)
    frame = spark_features(events, as_of, windows, labels=labels, feature_set=feature_set)
    frame = frame.withColumn(PARTITION_COLUMN, sf.lit(label))
    target = Path(out)
    (
        frame.write.mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")
        .partitionBy(PARTITION_COLUMN)
        .parquet(str(target))
    )
    written = read_feature_table(target, as_of, session=events.backend._session)
    summary = written.agg(sf.count(sf.lit(1)).alias("rows"), *_label_aggregates(written, labels))
    row = summary.collect()[0].asDict()
    label_summary = None
    if labels and "churned" in written.columns:
        label_summary = {
            "labelled": float(row["labelled"] or 0),
            "churn_rate": float(row["churn_rate"]) if row["churn_rate"] is not None else 0.0,
            "future_value": float(row["future_value"] or 0.0),
        }
    return WrittenTable(
        path=target,
        cutoff=label,
        rows=int(row["rows"]),
        columns=len(written.columns),
        labels=label_summary,
    )


def _without_order(expr: ir.Table) -> ir.Table:
    """`expr` without its final ORDER BY (a global sort costs a shuffle and buys nothing here)."""
    import ibis.expr.operations as ops

    node = expr.op()
    return node.parent.to_expr() if isinstance(node, ops.Sort) else expr


def _as_doubles(frame: Any, expr: ir.Table) -> Any:
    """Floating columns as doubles: Spark computes some day counts as exact decimals.

    Why: Ibis types them float64 (DuckDB's result), and a Parquet decimal column would read
    back as Python `Decimal` objects; the cast keeps the table's types the engines' common ones.
    """
    from pyspark.sql import functions as sf

    floating = {name for name, dtype in expr.schema().items() if dtype.is_floating()}
    return frame.select(
        *(
            sf.col(name).cast("double").alias(name)
            if name in floating and kind.startswith("decimal")
            else sf.col(name)
            for name, kind in frame.dtypes
        )
    )


def _label_aggregates(frame: Any, labels: bool) -> list[Any]:
    from pyspark.sql import functions as sf

    if not labels or "churned" not in frame.columns:
        return []
    return [
        sf.count("churned").alias("labelled"),
        sf.avg(sf.col("churned").cast("double")).alias("churn_rate"),
        sf.sum("future_value").alias("future_value"),
    ]


def read_feature_table(
    path: str | Path, as_of: datetime | None = None, *, session: Any = None
) -> Any:
    """One cutoff of a partitioned feature table as a Spark DataFrame (the `cutoff` column dropped).

    Without `as_of` the table must hold exactly one cutoff; with several, say which to read.
    """
    from features.engines import spark_session

    session = session or spark_session()
    root = Path(path)
    if not root.is_dir():
        raise c.EventContractError(f"{root}: not a feature-table folder (`retain features --out`)")
    cutoffs = sorted(
        p.name.split("=", 1)[1]
        for p in root.iterdir()
        if p.is_dir() and p.name.startswith(f"{PARTITION_COLUMN}=")
    )
    if not cutoffs:
        raise c.EventContractError(f"{root}: no `{PARTITION_COLUMN}=` partitions found")
    if as_of is None:
        if len(cutoffs) > 1:
            raise c.EventContractError(
                f"{root} holds {len(cutoffs)} cutoffs ({', '.join(cutoffs)}); give --as-of"
            )
        wanted = cutoffs[0]
    else:
        wanted = cutoff_label(as_of)
        if wanted not in cutoffs:
            raise c.EventContractError(
                f"{root} has no cutoff {wanted}; it holds {', '.join(cutoffs)}"
            )
    # Partition values stay text: '2024-03-15' must not be re-inferred as a date.
    frame = (
        session.read.option("basePath", str(root))
        .option("mergeSchema", "false")
        .parquet(str(root / f"{PARTITION_COLUMN}={wanted}"))
    )
    if PARTITION_COLUMN in frame.columns:
        frame = frame.drop(PARTITION_COLUMN)
    return frame
