"""The real service over HTTP: `retain serve` (→ `bentoml serve`) on a free port, with an API key
(the `service` fixture of conftest.py, shared with the operator-page tests).

Every answer is checked against the in-process batch pipeline (`scored`), so the service and
`retain score` are shown to give the same numbers for the same users.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from serving.churn_list import ChurnListQuery, churn_list

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _url(client: httpx.Client, path: str) -> str:
    return f"{str(client.base_url).rstrip('/')}{path}"


def _by_id(scored) -> pd.DataFrame:
    return scored.scores.set_index("user_id")


def test_health_probes_are_open_and_metrics_need_the_key(service):
    assert httpx.get(_url(service, "/livez")).status_code == 200
    assert httpx.get(_url(service, "/readyz")).status_code == 200
    assert httpx.get(_url(service, "/metrics")).status_code == 401
    metrics = service.get("/metrics")
    assert metrics.status_code == 200 and "bentoml" in metrics.text


def test_score_answers_each_id_in_order_with_unknown_ids_marked(service, scored):
    known = scored.scores["user_id"].tolist()
    ids = [known[5], "no-such-user", known[0], known[5]]
    response = service.post("/score", json={"user_ids": ids})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["user_id"] for item in body["items"]] == ids
    assert [item["status"] for item in body["items"]] == ["ok", "unknown_user", "ok", "ok"]
    ghost = body["items"][1]
    assert ghost["churn_probability"] is None and ghost["lifecycle_stage"] is None
    batch = _by_id(scored)
    for item in (body["items"][0], body["items"][2]):
        row = batch.loc[item["user_id"]]
        assert item["churn_probability"] == pytest.approx(row["churn_probability"], rel=1e-12)
        assert item["predicted_value"] == pytest.approx(row["predicted_value"], rel=1e-12)
        assert item["lifecycle_stage"] == row["lifecycle_stage"]
        assert item["value_tier"] == row["value_tier"]
    assert body["model_versions"] == {
        "churn": batch["churn_model_version"].iloc[0],
        "value": batch["value_model_version"].iloc[0],
    }


def test_recommend_gives_the_batch_decisions(service, scored):
    rng = np.random.default_rng(0)
    ids = rng.choice(scored.scores["user_id"].to_numpy(), size=300, replace=False).tolist()
    response = service.post("/recommend", json={"user_ids": ids})
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    batch = _by_id(scored)
    assert [item["user_id"] for item in items] == ids
    for item in items:
        row = batch.loc[item["user_id"]]
        assert item["action"] == row["action"]
        assert item["expected_gain"] == pytest.approx(row["expected_gain"], rel=1e-12, abs=1e-12)
        assert item["action_cost"] == row["action_cost"]
        assert "; ".join(item["reasons"]) == row["reasons"]


def test_the_largest_allowed_request_is_answered(service, scored):
    ids = [f"u{i:07d}" for i in range(1, 10_001)]
    response = service.post("/score", json={"user_ids": ids})
    assert response.status_code == 200
    items = response.json()["items"]
    assert len(items) == 10_000
    known = sum(item["status"] == "ok" for item in items)
    assert known == len(scored.scores)  # the simulator's ids are u0000001 … u0003000


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b'{"user_ids": ["u1",', "json_invalid"),
        (b"", "user_ids"),
        (b'{"user_ids": []}', "too_short"),
        (b'{"user_ids": "u0000001"}', "list_type"),
        (b'{"user_ids": [1, 2]}', "string_type"),
        (b'{"user_ids": [""]}', "string_too_short"),
        (b'{"user_ids": ["' + b"x" * 257 + b'"]}', "string_too_long"),
        (b'{"user_ids": ["u1"], "limit": 3}', "extra_forbidden"),
        (b'{"user_ids": [' + b",".join([b'"u"'] * 10_001) + b"]}", "too_long"),
    ],
    ids=[
        "malformed",
        "empty-body",
        "empty-list",
        "not-a-list",
        "ints",
        "empty-id",
        "long-id",
        "extra-field",
        "oversized",
    ],
)
def test_bad_requests_get_400_with_a_message(service, body, where):
    for endpoint in ("/score", "/recommend"):
        response = service.post(
            endpoint, content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, response.text
        payload = response.json()
        assert "validation error" in payload["error"]
        assert where in response.text


def test_a_missing_or_wrong_api_key_is_401(service):
    url = _url(service, "/score")
    for headers in ({}, {"X-API-Key": "wrong"}):
        response = httpx.post(url, json={"user_ids": ["u0000001"]}, headers=headers)
        assert response.status_code == 401
        assert "API key" in response.json()["error"]


def test_explain_matches_the_models_contributions(service, scored, champions):
    row = 7
    user_id = scored.scores["user_id"].iloc[row]
    response = service.post("/explain", json={"user_id": user_id, "top_k": 4})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    features = scored.features.iloc[[row]]
    from serving.scoring import feature_matrix

    contributions = champions.churn.contributions(feature_matrix(features)).iloc[0]
    expected = contributions.drop("bias").abs().sort_values(ascending=False).index[:4].tolist()
    assert [c["feature"] for c in body["contributions"]] == expected
    for item in body["contributions"]:
        assert item["contribution"] == pytest.approx(contributions[item["feature"]])
        assert item["effect"] == ("raises risk" if item["contribution"] > 0 else "lowers risk")
        assert item["text"]
    assert body["bias"] == pytest.approx(contributions["bias"])
    assert "; ".join(body["reasons"]) == scored.scores["reasons"].iloc[row]
    ghost = service.post("/explain", json={"user_id": "ghost"}).json()
    assert ghost["status"] == "unknown_user" and ghost["contributions"] == []
    assert service.post("/explain", json={"user_id": user_id, "top_k": 0}).status_code == 400


def test_churn_list_json_and_csv_agree_with_the_batch_list(service, scored):
    query = {"stages": ["at_risk", "active"], "min_risk": 0.2, "top": 40, "sort_by": "gain"}
    response = service.post("/churn_list", json=query)
    assert response.status_code == 200, response.text
    body = response.json()
    expected = churn_list(scored.scores, ChurnListQuery(**query))
    assert [r["user_id"] for r in body["rows"]] == expected["user_id"].tolist()
    assert [r["rank"] for r in body["rows"]] == list(range(1, len(expected) + 1))
    stage_ok = scored.scores["lifecycle_stage"].isin(["at_risk", "active"])
    assert body["matched"] == int((stage_ok & (scored.scores["churn_probability"] >= 0.2)).sum())

    csv = service.post("/churn_list_csv", json=query)
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    table = pd.read_csv(io.StringIO(csv.text), dtype={"user_id": "str"})
    assert table["user_id"].tolist() == expected["user_id"].tolist()
    assert table["expected_gain"].to_numpy() == pytest.approx(expected["expected_gain"].to_numpy())


def test_churn_list_filter_typos_are_400(service):
    bad_action = service.post("/churn_list", json={"actions": ["free_pony"]})
    assert bad_action.status_code == 400 and "unknown action" in bad_action.json()["error"]
    bad_stage = service.post("/churn_list_csv", json={"stages": ["at-risk"]})
    assert bad_stage.status_code == 400 and "unknown stage" in bad_stage.text
    too_many = service.post("/churn_list", json={"top": 10_001})
    assert too_many.status_code == 400


def test_model_info_matches_the_registry(service, serving_store, scored):
    import mlflow

    client = mlflow.MlflowClient(
        tracking_uri=serving_store.tracking_uri, registry_uri=serving_store.tracking_uri
    )
    body = service.post("/model_info").json()
    for kind, name in (("churn", "retain-churn"), ("value", "retain-value")):
        registered = client.get_model_version_by_alias(name, "champion")
        assert body[kind]["name"] == name
        assert body[kind]["version"] == str(registered.version)
        assert body[kind]["run_id"] == registered.run_id
        assert "champion" in body[kind]["aliases"]
        assert body[kind]["metrics"]
    assert body["churn"]["metrics"]["roc_auc"] > 0.6
    assert body["feature_set_id"] == "behavioural_v1"
    assert body["snapshot"]["users"] == len(scored.scores)


def test_bentoml_build_succeeds(serving_store):
    result = subprocess.run(
        [str(Path(sys.executable).with_name("bentoml")), "build", "--output", "tag"],
        cwd=ROOT,
        env=serving_store.env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    bentos = Path(serving_store.env()["BENTOML_HOME"]) / "bentos" / "retain"
    sources = list(bentos.glob("*/src"))
    assert sources, f"no bento under {bentos}"
    for needed in (
        "features/definitions.py",
        "training/estimators.py",
        "serving/service.py",
        "serving/actions.yaml",
        "serving/static/index.html",
        "serving/static/app.js",
    ):
        assert (sources[0] / needed).exists(), needed
