"""Batch scoring on Spark (`mlflow.pyfunc.spark_udf`, env_manager="local") agrees with the
DuckDB path user by user: probabilities, values, stages, tiers, actions and reasons."""

from __future__ import annotations

import pandas as pd
import pandas.testing as pdt
import pytest
from typer.testing import CliRunner

from retain.cli import app
from serving.decisions.churn_list import ChurnListQuery, churn_list
from serving.scoring.pipeline import SCORE_COLUMNS, ScoringConfig, score_features

pytestmark = [pytest.mark.spark, pytest.mark.slow]
runner = CliRunner()
_EXACT = ["user_id", "lifecycle_stage", "value_tier", "action", "decision_reason", "reasons"]
_VERSIONS = ["churn_model_version", "value_model_version", "feature_set_id"]
_NUMBERS = ["churn_probability", "predicted_value", "expected_gain", "action_cost"]


def _agree(duck: pd.DataFrame, spark: pd.DataFrame) -> None:
    duck = duck.sort_values("user_id").reset_index(drop=True)
    spark = spark.sort_values("user_id").reset_index(drop=True)
    assert list(spark.columns) == list(duck.columns)
    assert len(spark) == len(duck) > 1000
    for column in _EXACT + _VERSIONS:
        mismatched = (duck[column].astype(str) != spark[column].astype(str)).sum()
        assert mismatched == 0, f"{column}: {mismatched} users differ"
    pdt.assert_frame_equal(
        duck[_NUMBERS], spark[_NUMBERS], check_dtype=False, check_exact=False, rtol=0, atol=1e-9
    )
    assert (pd.to_datetime(duck["as_of"]) == pd.to_datetime(spark["as_of"])).all()


def test_score_command_on_spark_matches_duckdb(serving_store, scored, spark_backend, tmp_path):
    """Capacities in the default playbook bind: the decision runs on the collected columns."""
    out = tmp_path / "scores"
    result = runner.invoke(
        app,
        [
            *("score", "--engine", "spark", "--events", str(serving_store.events)),
            *("--out", str(out), "--tracking-uri", serving_store.tracking_uri),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "decisions on the driver" in result.output
    spark = pd.read_parquet(out)
    assert list(spark.columns) == list(SCORE_COLUMNS)
    _agree(scored.scores, spark)
    assert (spark["action"] != "no_action").any()

    # The operator's list reads the Spark folder as it reads a DuckDB score file.
    listed = tmp_path / "list.csv"
    result = runner.invoke(
        app, ["churn-list", "--scores", str(out), "--top", "25", "--out", str(listed)]
    )
    assert result.exit_code == 0, result.output
    expected = churn_list(scored.scores, ChurnListQuery(top=25))
    assert pd.read_csv(listed)["user_id"].tolist() == expected["user_id"].tolist()


def test_python_workers_fork_from_the_daemon_that_preloaded_scoring(spark_backend):
    """A session started with `SCORING_DAEMON` (as the CLI's is, and the suite's) runs Python
    UDFs in workers forked from serving/scoring/spark_daemon.py, so they start with what a
    scoring task needs already imported; this UDF itself imports nothing of Retain's."""

    def probe(batches):
        import os
        import sys

        with open(f"/proc/{os.getppid()}/cmdline", "rb") as cmdline:
            parent = cmdline.read().replace(b"\0", b" ").decode()
        for batch in batches:
            yield batch.assign(parent=parent, preloaded="serving.scoring.spark" in sys.modules)

    rows = spark_backend._session.range(4).repartition(2)
    seen = rows.mapInPandas(probe, "id long, parent string, preloaded boolean").toPandas()
    assert len(seen) == 4
    assert seen["parent"].str.contains("-m serving.scoring.spark_daemon").all(), seen["parent"]
    assert seen["preloaded"].all()


def test_feature_table_then_score_per_partition(serving_store, scored, champions, tmp_path):
    """`retain features --engine spark` → table → `retain score --engine spark --features`.

    Without a budget or capacities, tiers and decisions run on the executors too; the file
    output (.parquet) is collected and written like the DuckDB path's.
    """
    import yaml

    catalogue = ScoringConfig().catalogue
    assert any(a.capacity is not None for a in catalogue.actions)
    unlimited = catalogue.model_copy(
        update={"actions": [a.model_copy(update={"capacity": None}) for a in catalogue.actions]}
    )
    playbook = tmp_path / "unlimited.yaml"
    playbook.write_text(yaml.safe_dump(unlimited.model_dump(mode="json"), sort_keys=False))
    as_of = f"{scored.as_of:%Y-%m-%d}"
    table, out = tmp_path / "features", tmp_path / "scores.parquet"
    built = runner.invoke(
        app,
        [
            *("features", "--engine", "spark", "--events", str(serving_store.events)),
            *("--as-of", as_of, "--out", str(table)),
        ],
    )
    assert built.exit_code == 0, built.output
    result = runner.invoke(
        app,
        [
            *("score", "--engine", "spark", "--features", str(table), "--out", str(out)),
            *("--catalogue", str(playbook), "--reasons", "path"),
            *("--tracking-uri", serving_store.tracking_uri),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "decisions on the partitions" in result.output
    config = ScoringConfig(catalogue=unlimited, attribution="path")
    duck = score_features(scored.features, champions, config).scores
    _agree(duck, pd.read_parquet(out))
