"""behavioural_v2 end to end (issue 17 item 1): trained from a YAML, recorded with its event
types, scored through `retain score` on DuckDB with exactly the columns it was trained on,
mixed champions refused, and a v1 champion compared with a v2 challenger on the same rows.

One small simulated log and one real MLflow store serve the module; the expected event types
are counted here with pandas and the per-type column names written out by the naming rule.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from features import FEATURE_SET, load_events
from features.cadence import CADENCE_COLUMNS
from features.clv_summary import CLV_COLUMNS
from retain.cli import app
from serving.scoring.champions import FeatureSetMismatchError, load_champions
from serving.scoring.pipeline import score_events
from simulator.simulation import SimulationConfig, write_simulation
from tests.stores import new_mlflow_store
from training.config import ExperimentConfig, parse_config
from training.promotion import promote, rollback
from training.registry import champion_version, model_info
from training.runs import TrainResult
from training.train import train_models

pytestmark = pytest.mark.slow
runner = CliRunner()
# The columns v2 adds before its per-type ones, as their modules declare them.
V2_ADDED = (*CADENCE_COLUMNS, *CLV_COLUMNS)
PER_TYPE = ("count_total", "count_30d", "count_prev_30d", "trend_30d", "days_since_last")


def _config(feature_set: str, models: list[str]) -> ExperimentConfig:
    return parse_config(
        {
            "name": f"wiring-{feature_set}",
            "feature_set": feature_set,
            "models": models,
            "cutoffs": {"step_days": 30, "count": 5},
            "churn": {"num_boost_round": 120, "early_stopping_rounds": 20},
            "value": {"num_boost_round": 120, "early_stopping_rounds": 20},
        }
    )


@dataclass(frozen=True)
class Store:
    events: Path
    uri: str
    results: dict[str, TrainResult]
    frame: pd.DataFrame  # the raw events, read with pandas


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, empty_mlflow_db: Path) -> Iterator[Store]:
    root = tmp_path_factory.mktemp("wiring")
    events = root / "events.parquet"
    write_simulation(SimulationConfig(users=1_500, days=400, seed=21), events)
    uri = new_mlflow_store(root, empty_mlflow_db)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        results = train_models(_config("behavioural_v2", ["churn", "value"]), events, figures=False)
        frame = pd.read_parquet(events)
        frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True).dt.tz_localize(None)
        yield Store(events, uri, {r.kind: r for r in results}, frame)


def _top_types(frame: pd.DataFrame, before: datetime, k: int = 4) -> list[str]:
    """The k most frequent types before `before`, ties by name: pandas, not the feature code."""
    counts = frame.loc[frame["event_time"] < before, "event_type"].value_counts()
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [name for name, _ in ranked[:k]]


def _v2_columns(types: list[str]) -> list[str]:
    typed = [f"type_{t.lower()}_{suffix}" for t in types for suffix in PER_TYPE]
    return [*FEATURE_SET.columns, *V2_ADDED, *typed]


def test_the_run_records_the_feature_set_and_the_event_types_it_used(store: Store) -> None:
    churn = store.results["churn"]
    oot = datetime.fromisoformat(str(churn.params["oot_cutoff"]))
    expected = _top_types(store.frame, oot)
    requested = _config("behavioural_v2", ["churn", "value"])
    for result in store.results.values():
        assert result.params["feature_set_id"] == "behavioural_v2"
        assert json.loads(str(result.params["feature_event_types"])) == expected
        # `retain retrain` recognises the request; the resolved config adds the chosen types
        assert result.params["config_digest"] == requested.digest
        resolved = requested.model_copy(update={"event_types": tuple(expected)})
        assert result.params["resolved_config_digest"] == resolved.digest
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store.uri)
        info = model_info("churn")
    assert info.feature_set_id == "behavioural_v2" and list(info.event_types) == expected


def test_retain_score_on_duckdb_builds_the_v2_columns(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "scores.parquet"
    args = ["score", "--events", str(store.events), "--out", str(out), "--with-features"]
    result = runner.invoke(app, args, env={"MLFLOW_TRACKING_URI": store.uri})
    assert result.exit_code == 0, result.output
    scores = pd.read_parquet(out)
    oot = datetime.fromisoformat(str(store.results["churn"].params["oot_cutoff"]))
    expected = _v2_columns(_top_types(store.frame, oot))
    assert set(expected) <= set(scores.columns)
    typed = [c for c in scores.columns if c.startswith("type_")]
    assert typed == [c for c in expected if c.startswith("type_")]
    assert set(scores["feature_set_id"]) == {"behavioural_v2"}
    # One per-type value against pandas: logins before the scoring cutoff, per user.
    cutoff = pd.Timestamp(scores["as_of"].iloc[0]).tz_localize(None)
    logins = store.frame[
        (store.frame["event_type"] == "login") & (store.frame["event_time"] < cutoff)
    ]
    by_user = logins.groupby("user_id").size()
    got = scores.set_index("user_id")["type_login_count_total"]
    assert (got.reindex(by_user.index) == by_user.astype(float)).all()


def test_scoring_uses_the_recorded_types_when_the_log_ranks_others_first(
    store: Store, tmp_path: Path
) -> None:
    """Add enough `promo_click` events that they top the scoring log: scoring still builds the
    recorded types' columns, and none for promo_click."""
    frame = store.frame
    users = frame["user_id"].drop_duplicates().head(400)
    last = frame["event_time"].max()
    clicks = pd.DataFrame(
        {
            "user_id": users.repeat(200).to_numpy(),
            "event_time": last - pd.Timedelta(days=3),
            "event_type": "promo_click",
            "amount": None,
        }
    )
    shifted = pd.concat([frame[["user_id", "event_time", "event_type", "amount"]], clicks])
    path = tmp_path / "shifted.parquet"
    shifted.to_parquet(path)
    assert _top_types(shifted, last + pd.Timedelta(days=1))[0] == "promo_click"
    champions = load_champions(store.uri)
    scored = score_events(load_events(path), champions)
    typed = [c for c in scored.features.columns if c.startswith("type_")]
    oot = datetime.fromisoformat(str(store.results["churn"].params["oot_cutoff"]))
    recorded = _top_types(frame, oot)
    assert typed == [f"type_{t}_{suffix}" for t in recorded for suffix in PER_TYPE]
    assert not any("promo_click" in column for column in scored.features.columns)


def test_champions_on_different_feature_sets_are_refused(store: Store, tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store.uri)
        before = champion_version("value")
        (v1_value,) = train_models(
            _config("behavioural_v1", ["value"]), store.events, figures=False
        )
        assert rollback("value", v1_value.version).promoted  # the v1 model is now champion
        try:
            with pytest.raises(FeatureSetMismatchError) as refused:
                load_champions(store.uri)
            message = str(refused.value)
            assert "different feature sets" in message
            assert "retain-churn" in message and "behavioural_v2" in message
            assert f"retain-value v{v1_value.version} on behavioural_v1" in message
            out = tmp_path / "scores.parquet"
            args = ["score", "--events", str(store.events), "--out", str(out)]
            result = runner.invoke(app, args, env={"MLFLOW_TRACKING_URI": store.uri})
            assert result.exit_code != 0 and not out.exists()
            assert "different feature sets" in " ".join(result.output.split())
            assert "Traceback" not in result.output
        finally:
            rollback("value", str(before))


def test_a_v1_champion_and_a_v2_challenger_are_compared_on_the_same_rows(store: Store) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", store.uri)
        v2_churn = champion_version("churn")
        (v1_churn,) = train_models(
            _config("behavioural_v1", ["churn"]), store.events, figures=False
        )
        assert rollback("churn", v1_churn.version).promoted  # v1 champion ...
        train_models(_config("behavioural_v2", ["churn"]), store.events, figures=False)  # ... v2
        try:
            v1_info, v2_info = model_info("churn"), model_info("churn", alias="challenger")
            # Same log, schedule and windows: the same report rows, whatever the feature set.
            for key in ("oot_cutoff", "oot_report_rows", "data_fingerprint"):
                assert v1_info.params[key] == v2_info.params[key], key
            logged = promote("churn", margin_free())
            assert "different out-of-time data" not in logged.reason
            assert logged.basis.startswith("logged metrics on identical OOT data"), logged.reason
            rollback("churn", v1_churn.version)
            rescored = promote("churn", margin_free(), events=store.events)
            assert rescored.basis.startswith("both scored on the OOT report half"), rescored
            assert f"({int(v1_info.params['oot_report_rows']):,} rows)" in rescored.basis
            assert rescored.challenger_score == pytest.approx(v2_info.metrics["pr_auc"], abs=1e-9)
        finally:
            rollback("churn", str(v2_churn))


def margin_free():
    """Promotion settings that promote on any gain: the comparison is what is tested here."""
    from training.config import PromotionConfig

    return PromotionConfig(margin=0.0)


@pytest.mark.spark
def test_retain_score_on_spark_builds_the_same_v2_columns(store: Store, tmp_path: Path) -> None:
    """The Spark path builds the champions' set with the recorded types and scores as DuckDB."""
    duck, spark = tmp_path / "duck.parquet", tmp_path / "spark.parquet"
    env = {"MLFLOW_TRACKING_URI": store.uri}
    for engine, out in (("duckdb", duck), ("spark", spark)):
        args = ["score", "--engine", engine, "--events", str(store.events), "--out", str(out)]
        result = runner.invoke(app, [*args, "--with-features"], env=env)
        assert result.exit_code == 0, result.output
    on_duck = pd.read_parquet(duck).sort_values("user_id").reset_index(drop=True)
    on_spark = pd.read_parquet(spark).sort_values("user_id").reset_index(drop=True)
    typed = [c for c in on_duck.columns if c.startswith("type_")]
    assert typed and typed == [c for c in on_spark.columns if c.startswith("type_")]
    assert set(on_spark["feature_set_id"]) == {"behavioural_v2"}
    assert on_duck["user_id"].tolist() == on_spark["user_id"].tolist()
    for column in ("churn_probability", "predicted_value", *typed):
        ours, theirs = on_duck[column].astype(float), on_spark[column].astype(float)
        assert (ours.isna() == theirs.isna()).all(), column
        assert (ours - theirs).abs().max() < 1e-6, column
