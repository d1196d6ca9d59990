"""`retain features --engine spark` end to end: a partitioned Parquet event folder in, a
partitioned Parquet feature table out (written by Spark), equal to DuckDB's features."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pandas.testing as pdt
import pytest
from typer.testing import CliRunner

from features import WindowConfig, feature_frame, load_events
from features.engines import connect
from retain.cli import app

pytestmark = [pytest.mark.spark, pytest.mark.slow]
runner = CliRunner()
CUTOFF = datetime(2024, 11, 1)  # its 90 label days end before the log does (2025-02-03)


@pytest.fixture(scope="module")
def monthly_events(tmp_path_factory):
    """A simulated log of ~109k events (4,000 users, 400 days), one folder per month."""
    from simulator.simulation import SimulationConfig, simulate_events

    events = simulate_events(SimulationConfig(users=4000, days=400, seed=5))
    assert len(events) >= 100_000
    folder = tmp_path_factory.mktemp("monthly_events")
    for month, part in events.groupby(events["event_time"].dt.strftime("%Y-%m")):
        (folder / f"month={month}").mkdir()
        part.to_parquet(folder / f"month={month}" / "part-0.parquet", index=False)
    return folder


def _features(out, as_of: str, events) -> None:
    args = ["features", "--engine", "spark", "--events", str(events), "--as-of", as_of]
    result = runner.invoke(app, [*args, "--out", str(out), "--labels"])
    assert result.exit_code == 0, result.output


def test_spark_writes_a_partitioned_table_equal_to_duckdb(monthly_events, spark_backend, tmp_path):
    table = tmp_path / "features"
    _features(table, "2024-11-01", monthly_events)
    _features(table, "2024-10-01", monthly_events)  # a second cutoff keeps the first
    assert sorted(p.name for p in table.iterdir() if p.is_dir()) == [
        "cutoff=2024-10-01",
        "cutoff=2024-11-01",
    ]
    assert list((table / "cutoff=2024-11-01").glob("*.parquet")), "no part files written"

    spark = pd.read_parquet(table / "cutoff=2024-11-01").sort_values("user_id")
    duck = feature_frame(
        load_events(monthly_events, "duckdb", backend=connect("duckdb")),
        CUTOFF,
        WindowConfig(),
        labels=True,
    )
    assert len(duck) > 2000
    assert set(spark.columns) == set(duck.columns)
    spark = spark[duck.columns].reset_index(drop=True)
    spark["as_of"] = pd.to_datetime(spark["as_of"])
    pdt.assert_frame_equal(duck, spark, check_dtype=False, check_exact=False, rtol=1e-9, atol=1e-9)


def test_a_folder_output_needs_spark(monthly_events, tmp_path):
    args = ["features", "--events", str(monthly_events), "--as-of", "2024-12-01"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "table")])
    assert result.exit_code == 2
    assert "--engine spark" in result.output
