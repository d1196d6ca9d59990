"""The nine core features (DESIGN.md §3) as the fastest single-node engines would compute them.

The peers the feature benchmark races Retain against (issue 20): Polars' lazy API and a
hand-written DuckDB query, each what an engineer fluent in that engine would write, reading the
same Parquet file straight to one row per user. They skip what Retain's loader does besides
(row checks and reject counts), which is part of what the comparison shows. The benchmark
checks both against Retain's values, so the race is over the same answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

_DAY_MICROSECONDS = 86_400_000_000.0


def core_features_polars(events: Path, cutoff: datetime) -> pd.DataFrame:
    """Core features at `cutoff` (naive UTC; all event types are activity), sorted by user."""
    import polars as pl

    def since(days: int) -> pl.Expr:
        return pl.col("event_time") >= cutoff - timedelta(days=days)

    time = pl.col("event_time")
    if pl.read_parquet_schema(events)["event_time"].time_zone is not None:
        time = time.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    amount = pl.col("amount").fill_null(0.0)
    past = (
        pl.scan_parquet(events)
        .select("user_id", time.alias("event_time"), amount.alias("amount"))
        .filter(pl.col("event_time") < cutoff)
    )
    ts, amount = pl.col("event_time"), pl.col("amount")
    frame = (
        past.group_by("user_id")
        .agg(
            _last=ts.max(),
            _first=ts.min(),
            events_7d=since(7).sum().cast(pl.Int64),
            events_30d=since(30).sum().cast(pl.Int64),
            events_90d=since(90).sum().cast(pl.Int64),
            active_days_30d=ts.dt.date().filter(since(30)).n_unique().cast(pl.Int64),
            purchases_90d=((amount > 0) & since(90)).sum().cast(pl.Int64),
            revenue_90d=amount.filter(since(90)).sum(),
            revenue_total=amount.sum(),
        )
        .with_columns(
            days_since_last_event=(pl.lit(cutoff) - pl.col("_last")).dt.total_microseconds()
            / _DAY_MICROSECONDS,
            days_since_first_event=(pl.lit(cutoff) - pl.col("_first")).dt.total_microseconds()
            / _DAY_MICROSECONDS,
        )
        .drop("_last", "_first")
        .sort("user_id")
        .collect()
    )
    return frame.to_pandas()


def core_features_sql(events: Path, cutoff: datetime) -> str:
    """The hand-written DuckDB query for the core features (run it in a UTC session)."""

    def at(days: int) -> str:
        return f"TIMESTAMPTZ '{cutoff - timedelta(days=days):%Y-%m-%d %H:%M:%S}+00'"

    return f"""
        SELECT user_id,
            date_diff('microsecond', max(event_time), {at(0)}) / {_DAY_MICROSECONDS}
                AS days_since_last_event,
            date_diff('microsecond', min(event_time), {at(0)}) / {_DAY_MICROSECONDS}
                AS days_since_first_event,
            count(*) FILTER (WHERE event_time >= {at(7)}) AS events_7d,
            count(*) FILTER (WHERE event_time >= {at(30)}) AS events_30d,
            count(*) FILTER (WHERE event_time >= {at(90)}) AS events_90d,
            count(DISTINCT CAST(event_time AS DATE)) FILTER (WHERE event_time >= {at(30)})
                AS active_days_30d,
            count(*) FILTER (WHERE amount > 0 AND event_time >= {at(90)}) AS purchases_90d,
            coalesce(sum(amount) FILTER (WHERE event_time >= {at(90)}), 0) AS revenue_90d,
            coalesce(sum(amount), 0) AS revenue_total
        FROM read_parquet('{str(events).replace("'", "''")}')
        WHERE event_time < {at(0)}
        GROUP BY user_id
        ORDER BY user_id
    """


def core_features_duckdb_sql(events: Path, cutoff: datetime) -> pd.DataFrame:
    """The same features as one hand-written DuckDB query (UTC session, zoned literals)."""
    import duckdb

    with duckdb.connect() as connection:
        connection.execute("SET TimeZone = 'UTC'")
        return connection.sql(core_features_sql(events, cutoff)).to_arrow_table().to_pandas()
