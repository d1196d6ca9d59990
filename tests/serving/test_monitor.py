"""`retain monitor` end to end: recorded scoring runs judged on real labels, drift, exit codes.

The world is the serving fixtures' simulated log and champions, in a private copy of the MLflow
store. Three `retain score` runs are recorded in it: one whose horizons have passed by the end of
the log (judged), one scored ten days before the end (pending), and one whose score file was
deleted (reported, not fatal); a service snapshot is recorded too (listed, not judged). The
labels the realised figures are checked against are built here with pandas from the raw events
(DESIGN.md §3), not with the features package.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from retain.cli import app
from tests.serving.conftest import ServingStore, clone_store

pytestmark = pytest.mark.slow
runner = CliRunner()
CHURN_DAYS, VALUE_DAYS, ACTIVE_DAYS = 30, 90, 90  # the champions' windows (ExperimentConfig())
# Amount-driven features a ×3 spend shift moves, and activity features it cannot move.
SHIFTED = ("revenue_90d", "revenue_total", "avg_purchase_value")
UNTOUCHED = (
    "events_7d", "events_30d", "events_90d", "events_total", "active_days_30d",
    "active_days_90d", "days_since_last_event", "days_since_first_event",
)  # fmt: skip


@dataclass(frozen=True)
class World:
    store: ServingStore
    events: pd.DataFrame  # the raw log, naive UTC
    end: pd.Timestamp  # midnight after the last event: the monitor's default as-of
    judged_at: pd.Timestamp
    judged_file: Path
    pending_at: pd.Timestamp
    gone_file: Path

    def invoke(self, *args: str):
        return runner.invoke(app, [*args, "--tracking-uri", self.store.tracking_uri])


def _score(store: ServingStore, as_of: pd.Timestamp, out: Path) -> None:
    result = runner.invoke(
        app,
        ["score", "--events", str(store.events), "--as-of", f"{as_of:%Y-%m-%d}",
         "--out", str(out), "--reasons", "path", "--tracking-uri", store.tracking_uri],
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def _forget_scoring_runs(store) -> None:
    """Delete the scoring runs other tests logged to the shared store before it was copied, so
    the monitor below judges exactly this module's runs whatever ran earlier on the worker."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=store.tracking_uri)
    experiment = client.get_experiment_by_name("retain-scoring")
    if experiment is not None:
        for run in client.search_runs([experiment.experiment_id], max_results=10_000):
            client.delete_run(run.info.run_id)


@pytest.fixture(scope="module")
def world(serving_store, champions, scored, tmp_path_factory) -> World:
    from serving.scoring import Snapshot, point_mlflow_at, record_snapshot

    root = tmp_path_factory.mktemp("monitor")
    store = clone_store(serving_store, root / "store")
    _forget_scoring_runs(store)
    events = pd.read_parquet(store.events)
    events["event_time"] = events["event_time"].dt.tz_convert("UTC").dt.tz_localize(None)
    end = events["event_time"].max().normalize() + pd.Timedelta(days=1)
    judged_at, pending_at = end - pd.Timedelta(days=110), end - pd.Timedelta(days=10)
    judged_file, gone_file = root / "judged.parquet", root / "gone.csv"
    _score(store, judged_at, judged_file)
    _score(store, pending_at, root / "pending.parquet")
    _score(store, judged_at, gone_file)
    gone_file.unlink()
    point_mlflow_at(store.tracking_uri)  # the champions are the copy's too (same versions)
    record_snapshot(Snapshot.from_scored(scored, "events"), store.events, champions.windows())
    return World(store, events, end, judged_at, judged_file, pending_at, gone_file)


@pytest.fixture(scope="module")
def stable(world: World) -> tuple[int, dict]:
    """`retain monitor --json` on the unchanged log: exit code and the parsed object."""
    result = world.invoke("monitor", "--events", str(world.store.events), "--json")
    return result.exit_code, json.loads(result.stdout)


def _hand_labels(events: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """DESIGN.md §3 with pandas: churned for users active at the cutoff, future value for all."""
    t = events["event_time"]
    seen = events.loc[t < cutoff, "user_id"].unique()
    active = set(events.loc[(t < cutoff) & (t >= cutoff - timedelta(ACTIVE_DAYS)), "user_id"])
    came_back = set(events.loc[(t >= cutoff) & (t < cutoff + timedelta(CHURN_DAYS)), "user_id"])
    future = events[(t >= cutoff) & (t < cutoff + timedelta(VALUE_DAYS))]
    spend = future["amount"].fillna(0).groupby(future["user_id"]).sum()
    labels = pd.DataFrame({"user_id": seen})
    labels["churned"] = [
        (0.0 if u in came_back else 1.0) if u in active else np.nan for u in labels["user_id"]
    ]
    labels["future_value"] = labels["user_id"].map(spend).fillna(0.0)
    return labels


def _expected_exit(data: dict) -> int:
    """0 when nothing is flagged; 1 (warning) when the only flag is the recall score's drift.

    Why that one may warn in an unchanged world: the fixture's recall champion is the RFM
    logistic regression, which the stack chose out of time (report ROC-AUC 0.73 against
    LightGBM's 0.61). Its return probability moves smoothly with recency, and the lapsed
    population really does age as the simulated log grows (long-dormant users pile up), which
    LightGBM's near-constant scores hid. Features, the churn score, the value heads and every
    realised figure must still be ok.
    """
    flagged = {d["feature"] for d in data["drift"] if d["status"] != "ok"}
    assert flagged <= {"return_probability"}, flagged
    assert all(r["status"] in ("ok", "pending") for r in data["realised"]), data["realised"]
    return 1 if flagged else 0


def _runs(data: dict, status: str | None = None) -> list[dict]:
    return [r for r in data["realised"] if status is None or r["status"] == status]


def test_the_stable_world_is_judged_on_real_labels_and_exits_zero(world, stable) -> None:
    code, data = stable
    assert code == _expected_exit(data), data
    assert data["status"] == ("ok" if code == 0 else "warning")
    assert {"status", "as_of", "realised", "drift", "data_health"} <= set(data)
    assert data["as_of"] == f"{world.end:%Y-%m-%d}"
    judged = [r for r in _runs(data) if r.get("scores") == str(world.judged_file)]
    assert len(judged) == 1
    run = judged[0]
    assert run["scored_as_of"] == f"{world.judged_at:%Y-%m-%d}" and run["status"] == "ok"
    scores = pd.read_parquet(world.judged_file)
    joined = scores.merge(_hand_labels(world.events, world.judged_at), on="user_id")
    assert len(joined) == len(scores) == run["matched_rows"]
    known = joined[joined["churned"].notna()]
    expected_auc = roc_auc_score(known["churned"], known["churn_probability"])
    assert run["churn_roc_auc"] == pytest.approx(expected_auc, abs=0.03)
    assert run["churn_roc_auc"] == pytest.approx(expected_auc, abs=1e-9)  # same labels exactly
    assert run["churn_rows"] == len(known)
    rho = spearmanr(joined["future_value"], joined["predicted_value"]).statistic
    # Sums in DuckDB and pandas differ in the last bits (a refund cancelling a purchase is 0 in
    # one and 1e-14 in the other), which reorders a few tied ranks: equal to 1e-4, not 1e-9.
    assert run["value_spearman"] == pytest.approx(rho, abs=1e-4)
    references = {c["name"]: c["reference"] for c in run["checks"]}
    assert references["churn_roc_auc"] is not None  # shown beside training's OOT figure
    assert {"feature", "psi", "status"} <= set(data["drift"][0])
    assert {d["feature"] for d in data["drift"]} >= {*SHIFTED, *UNTOUCHED, "churn_probability"}


def test_a_run_whose_horizon_has_not_passed_is_pending(world, stable) -> None:
    _, data = stable
    pending = _runs(data, "pending")
    assert [r["scored_as_of"] for r in pending] == [f"{world.pending_at:%Y-%m-%d}"]
    complete = world.pending_at + pd.Timedelta(days=CHURN_DAYS)
    assert pending[0]["labels_complete_on"] == f"{complete:%Y-%m-%d}"
    assert "churn_roc_auc" not in pending[0]


def test_a_missing_score_file_and_a_snapshot_are_reported_not_fatal(world, stable) -> None:
    code, data = stable
    gone = [r for r in _runs(data) if r.get("scores") == str(world.gone_file)]
    assert len(gone) == 1 and gone[0]["status"] == "ok"
    assert "cannot be read" in gone[0]["checks"][0]["detail"]
    # Every snapshot in the store (this module's, and any other server's on the shared store
    # before it was copied), counted here from MLflow directly.
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=world.store.tracking_uri)
    experiment = client.get_experiment_by_name("retain-scoring")
    snapshots = client.search_runs([experiment.experiment_id], "params.engine = 'service'")
    assert len(snapshots) >= 1
    expected = f"{len(snapshots)} service snapshot run(s) not judged"
    assert any(expected in note for note in data["notes"]), data["notes"]
    assert code == _expected_exit(data)


def test_the_monitoring_run_is_in_mlflow(world, stable) -> None:
    import mlflow

    _, data = stable
    client = mlflow.MlflowClient(tracking_uri=world.store.tracking_uri)
    experiment = client.get_experiment_by_name("retain-monitoring")
    run = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])[0]
    assert run.data.tags["status"] == data["status"]
    psi = {k[len("psi.") :]: v for k, v in run.data.metrics.items() if k.startswith("psi.")}
    assert psi == pytest.approx({d["feature"]: d["psi"] for d in data["drift"]})
    assert run.data.metrics["pending_runs"] == 1


def test_a_known_spend_shift_is_flagged_and_exits_non_zero(world, tmp_path) -> None:
    shifted = world.events.copy()
    late = shifted["event_time"] >= world.end - pd.Timedelta(days=125)
    shifted.loc[late, "amount"] *= 3
    path = tmp_path / "shifted.parquet"
    shifted.to_parquet(path)
    result = world.invoke("monitor", "--events", str(path), "--json")
    data = json.loads(result.stdout)
    assert result.exit_code in (1, 2) and data["status"] != "ok"
    status = {d["feature"]: d["status"] for d in data["drift"]}
    assert all(status[name] != "ok" for name in SHIFTED), status
    assert all(status[name] == "ok" for name in UNTOUCHED), status
    assert result.exit_code == {"warning": 1, "critical": 2}[data["status"]]


def test_the_manifest_counts_match_the_score_file(world) -> None:
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=world.store.tracking_uri)
    experiment = client.get_experiment_by_name("retain-scoring")
    found = client.search_runs([experiment.experiment_id], f"params.output = '{world.judged_file}'")
    assert len(found) == 1
    run = found[0]
    text = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/manifest.json")
    manifest = json.loads(text)
    scores = pd.read_parquet(world.judged_file)
    assert manifest["users"] == len(scores) == run.data.metrics["users"]
    for column in ("lifecycle_stage", "value_tier", "action"):
        expected = scores[column].value_counts().to_dict()
        assert manifest["counts"][column] == expected
        for value, n in expected.items():
            assert run.data.metrics[f"users.{column}.{value}"] == n
    for column in ("churn_probability", "return_probability", "predicted_value", "value_at_stake"):
        values = scores[column].dropna().to_numpy()
        assert manifest["quantiles"][column]["p50"] == pytest.approx(np.median(values))
        assert manifest["quantiles"][column]["p90"] == pytest.approx(np.quantile(values, 0.9))
        assert manifest["quantiles"][column]["count"] == len(values)
    assert manifest["as_of"] == f"{world.judged_at:%Y-%m-%dT%H:%M:%S}"
    assert manifest["output"] == str(world.judged_file) and Path(manifest["output"]).is_absolute()
    assert manifest["model_versions"] == {
        kind: str(scores[f"{kind}_model_version"].iloc[0]) for kind in ("churn", "recall", "value")
    }
    assert manifest["windows"]["churn_horizon_days"] == CHURN_DAYS
    champion_run = client.get_run(
        client.get_model_version_by_alias("retain-churn", "champion").run_id
    )  # training fingerprinted the same file
    assert manifest["data_fingerprint"] == champion_run.data.tags["data_fingerprint"]


def test_bad_thresholds_exit_2_with_an_error_and_no_json(world, tmp_path) -> None:
    bad = tmp_path / "thresholds.yaml"
    bad.write_text("psi:\n  warning: 0.3\n  critical: 0.1\nunknown_key: 1\n")
    result = world.invoke("monitor", "--events", str(world.store.events), "--thresholds", str(bad))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "error:" in result.stderr and "unknown_key" in result.stderr


def test_the_report_shows_the_monitoring_verdict(world, stable, tmp_path) -> None:
    _, data = stable
    verdict = tmp_path / "monitor.json"
    verdict.write_text(json.dumps(data))
    out = tmp_path / "report.html"
    result = world.invoke(
        "report", "--scores", str(world.judged_file), "--monitor", str(verdict), "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert "Monitoring: do the scores come true" in page
    assert f"{world.pending_at:%Y-%m-%d}" in page and "labels complete on" in page
    assert f"{data['drift'].__len__()} columns compared" in page
    broken = tmp_path / "broken.json"
    broken.write_text('{"status": "ok"}')
    result = world.invoke(
        "report", "--scores", str(world.judged_file), "--monitor", str(broken), "--out", str(out)
    )
    assert result.exit_code == 2 and "needs the keys" in result.stderr


def test_a_service_snapshot_records_its_manifest(running_shared_service, serving_store, scored):
    """A real `retain serve` logs its snapshot to retain-scoring (output "service snapshot")."""
    import re

    import mlflow

    client = mlflow.MlflowClient(tracking_uri=serving_store.tracking_uri)
    log = running_shared_service.log()
    # This server's own runs: other servers on the shared store serve other settings.
    ids = re.findall(r"snapshot manifest logged to MLflow: run (\w+)", log)
    assert ids, log[-3000:]
    runs = [client.get_run(run_id) for run_id in ids]
    assert all(run.data.params["engine"] == "service" for run in runs)
    expected = scored.scores["lifecycle_stage"].value_counts().to_dict()  # the same snapshot
    for run in runs:
        assert run.data.params["output"] == "service snapshot"
        assert run.data.params["source"] == str(serving_store.events.resolve())
        stages = {
            key.removeprefix("users.lifecycle_stage."): value
            for key, value in run.data.metrics.items()
            if key.startswith("users.lifecycle_stage.")
        }
        assert stages == expected
    assert "snapshot manifest logged to MLflow" in running_shared_service.log()
