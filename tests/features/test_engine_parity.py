"""DuckDB and Spark run the same Ibis definitions and must give identical tables."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from features import WindowConfig, feature_frame, load_events
from features.engines import connect

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def event_folder(tmp_path_factory):
    """A partitioned Parquet log: 30k events, 2k users, zoned timestamps, refunds, many types."""
    rng = np.random.default_rng(11)
    n = 30_000
    start = pd.Timestamp("2023-06-01", tz="UTC")
    frame = pd.DataFrame(
        {
            "user_id": rng.choice([f"user{i:05d}" for i in range(2000)], n),
            "event_time": start + pd.to_timedelta(rng.integers(0, 365 * 86400, n), unit="s"),
            "event_type": rng.choice(["login", "view", "add_to_cart", "purchase", "refund"], n),
            "amount": np.where(rng.random(n) < 0.2, np.round(rng.lognormal(3, 1, n), 2), 0.0),
        }
    )
    frame.loc[frame["event_type"] == "refund", "amount"] *= -1
    folder = tmp_path_factory.mktemp("events")
    for month, part in frame.groupby(frame["event_time"].dt.month):
        (folder / f"month={month:02d}").mkdir()
        part.drop(columns=[]).to_parquet(
            folder / f"month={month:02d}" / "part-0.parquet", index=False
        )
    return folder


@pytest.mark.parametrize(
    "windows",
    [WindowConfig(), WindowConfig(activity_events=("login", "purchase"), active_window_days=60)],
    ids=["defaults", "login-purchase-activity"],
)
def test_duckdb_and_spark_agree(event_folder, spark_backend, windows):
    cutoff = datetime(2024, 3, 15)
    duck = load_events(event_folder, "duckdb", backend=connect("duckdb"))
    spark = load_events(event_folder, "spark", backend=spark_backend)
    assert duck.report.rows_accepted == spark.report.rows_accepted == 30_000
    left = feature_frame(duck, cutoff, windows, labels=True)
    right = feature_frame(spark, cutoff, windows, labels=True)
    assert len(left) > 1500
    right = right[left.columns]
    pdt.assert_frame_equal(left, right, check_dtype=False, check_exact=False, rtol=1e-9, atol=1e-9)
