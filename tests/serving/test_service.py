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

from serving.decisions.churn_list import ChurnListQuery, churn_list
from tests.serving.conftest import running_service

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
    assert ghost["value_at_stake"] is None and ghost["return_probability"] is None
    batch = _by_id(scored)
    for item in (body["items"][0], body["items"][2]):
        _assert_scores_match(item, batch.loc[item["user_id"]])
    assert body["model_versions"] == {
        "churn": batch["churn_model_version"].iloc[0],
        "recall": batch["recall_model_version"].iloc[0],
        "value": batch["value_model_version"].iloc[0],
    }


def _assert_scores_match(item: dict, row: pd.Series) -> None:
    """One answered item against the batch row: scores, values, segments."""
    for name in ("churn_probability", "predicted_value", "value_if_retained", "value_at_stake"):
        assert item[name] == pytest.approx(row[name], rel=1e-12, abs=1e-12), name
    if pd.isna(row["return_probability"]):  # active users: the churn model scored them
        assert item["return_probability"] is None
    else:
        assert item["return_probability"] == pytest.approx(row["return_probability"], rel=1e-12)
    assert item["lifecycle_stage"] == row["lifecycle_stage"]
    assert item["value_tier"] == row["value_tier"]


def test_score_carries_both_populations_and_the_value_at_stake(service, scored):
    """Active users have no return probability; lapsed ones have churn = 1 − return."""
    scores = scored.scores
    lapsed = scores["return_probability"].notna()
    assert lapsed.any() and (~lapsed).any(), "the fixture should have both populations"
    ids = [*scores.loc[lapsed, "user_id"].head(20), *scores.loc[~lapsed, "user_id"].head(20)]
    items = service.post("/score", json={"user_ids": ids}).json()["items"]
    batch = _by_id(scored)
    for item in items:
        _assert_scores_match(item, batch.loc[item["user_id"]])
        if item["return_probability"] is not None:
            assert item["churn_probability"] == pytest.approx(1 - item["return_probability"])
            assert item["lifecycle_stage"] in ("dormant", "churned", "new")
        assert item["value_at_stake"] >= 0


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
        _assert_scores_match(item, row)
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
    """The message names the field (or says the body is not JSON), in the client's words: no
    class of BentoML's making; `detail` keeps pydantic's error types for programs."""
    for endpoint in ("/score", "/recommend"):
        response = service.post(
            endpoint, content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, response.text
        payload = response.json()
        assert payload["error"].startswith("invalid request: "), payload
        named = "the body is not valid JSON" if where == "json_invalid" else "user_ids"
        if where == "extra_forbidden":
            named = "limit: Extra inputs are not permitted"
        assert named in payload["error"], payload
        assert "IODescriptor" not in response.text and "validation error for" not in response.text
        assert where in response.text  # pydantic's error type (or the field) in `detail`


def test_a_missing_or_wrong_api_key_is_401(service):
    url = _url(service, "/score")
    for headers in ({}, {"X-API-Key": "wrong"}):
        response = httpx.post(url, json={"user_ids": ["u0000001"]}, headers=headers)
        assert response.status_code == 401
        assert "API key" in response.json()["error"]


def _first_active_row(scored) -> int:
    """Position of the first user scored by the churn model (active at the cutoff)."""
    from features.definitions import ACTIVE_FLAG

    return int(np.flatnonzero(scored.features[ACTIVE_FLAG].to_numpy() == 1)[0])


def test_explain_matches_the_churn_models_contributions_for_an_active_user(
    service, scored, champions
):
    row = _first_active_row(scored)
    user_id = scored.scores["user_id"].iloc[row]
    response = service.post("/explain", json={"user_id": user_id, "top_k": 4})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok" and body["model"] == "churn"
    assert body["return_probability"] is None
    features = scored.features.iloc[[row]]
    from serving.scoring.pipeline import feature_matrix

    contributions = champions.churn.contributions(feature_matrix(features)).iloc[0]
    ranked = contributions.drop("bias").abs().sort_values(ascending=False, kind="stable")
    expected = ranked.index[:4].tolist()
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


def test_explain_turns_the_recall_models_signs_for_a_lapsed_user(service, scored, champions):
    """A lapsed user's churn probability is 1 − the return probability, so each feature's
    contribution to the churn log-odds is minus its contribution to the return log-odds: what
    makes a return likelier lowers the risk. The labels follow the turned sign."""
    from features.definitions import ACTIVE_FLAG
    from serving.scoring.pipeline import feature_matrix

    # the lapsed user the recall model explains most strongly (a small model has many zeros)
    lapsed = np.flatnonzero(scored.features[ACTIVE_FLAG].to_numpy() != 1)
    strength = champions.recall.contributions(feature_matrix(scored.features.iloc[lapsed]))
    row = int(lapsed[strength.drop(columns="bias").abs().max(axis=1).to_numpy().argmax()])
    user_id = scored.scores["user_id"].iloc[row]
    body = service.post("/explain", json={"user_id": user_id, "top_k": 6}).json()
    assert body["status"] == "ok" and body["model"] == "recall"
    assert body["lifecycle_stage"] == scored.scores["lifecycle_stage"].iloc[row]
    returning = scored.scores["return_probability"].iloc[row]
    assert body["return_probability"] == pytest.approx(returning)
    assert body["churn_probability"] == pytest.approx(1 - returning)
    towards_return = champions.recall.contributions(feature_matrix(scored.features.iloc[[row]]))
    towards_return = towards_return.iloc[0]
    churn_side = -towards_return.drop("bias")
    expected = churn_side.abs().sort_values(ascending=False, kind="stable").index[:6].tolist()
    assert [c["feature"] for c in body["contributions"]] == expected
    for item in body["contributions"]:
        assert item["contribution"] == pytest.approx(-towards_return[item["feature"]])
        assert item["effect"] == ("raises risk" if item["contribution"] > 0 else "lowers risk")
    assert body["bias"] == pytest.approx(-towards_return["bias"])
    assert "; ".join(body["reasons"]) == scored.scores["reasons"].iloc[row]


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


def test_the_churn_list_is_ranked_by_value_at_risk_by_default(service, scored):
    """value_at_risk = churn probability × value at stake, highest first."""
    body = service.post("/churn_list", json={"top": 200}).json()
    rows = body["rows"]
    expected = churn_list(scored.scores, ChurnListQuery(top=200))
    assert [r["user_id"] for r in rows] == expected["user_id"].tolist()
    batch = _by_id(scored)
    at_risk = [r["value_at_risk"] for r in rows]
    assert at_risk == sorted(at_risk, reverse=True)
    for row in rows:
        user = batch.loc[row["user_id"]]
        assert row["value_at_stake"] == pytest.approx(user["value_at_stake"])
        assert row["value_at_risk"] == pytest.approx(
            user["churn_probability"] * user["value_at_stake"]
        )
    assert body["matched"] == len(scored.scores)


def _assert_decisions(answered: dict, summary) -> None:
    """The decision facts answered over HTTP are the run's DecisionSummary."""
    expected = summary.as_dict()
    assert answered["by_action"] == expected.pop("by_action")
    assert answered["method"] == expected.pop("method")
    assert answered["budget"] == expected.pop("budget")
    for name, value in expected.items():
        assert answered[name] == pytest.approx(value), name
    assert answered["achieved_gain"] <= answered["upper_bound"] + 1e-9


def test_the_action_plan_lists_only_contacted_users_by_expected_gain(service, scored):
    """/action_plan agrees with serving.decisions.churn_list.action_plan on the same snapshot: only
    users with an action, highest expected gain first; totals over every matching contacted user."""
    from serving.decisions.churn_list import action_plan

    scores = scored.scores
    for query in ({"top": 10_000}, {"stages": ["at_risk", "dormant"], "min_risk": 0.3, "top": 25}):
        response = service.post("/action_plan", json=query)
        assert response.status_code == 200, response.text
        body = response.json()
        expected = action_plan(scores, ChurnListQuery(**query))
        assert [r["user_id"] for r in body["rows"]] == expected["user_id"].tolist()
        assert [r["action"] for r in body["rows"]] == expected["action"].tolist()
        assert all(r["action"] != "no_action" for r in body["rows"])
        gains = [r["expected_gain"] for r in body["rows"]]
        assert gains == sorted(gains, reverse=True) and all(g > 0 for g in gains)
        for row, (_, want) in zip(body["rows"], expected.iterrows(), strict=True):
            assert row["action_cost"] == pytest.approx(want["action_cost"])
            assert row["expected_gain"] == pytest.approx(want["expected_gain"])
            assert row["value_at_stake"] == pytest.approx(want["value_at_stake"])
            assert row["decision_reason"] == want["decision_reason"]
        contacted = scores[
            (scores["action"] != "no_action")
            & (scores["churn_probability"] >= query.get("min_risk", 0))
            & (scores["lifecycle_stage"].isin(query.get("stages", scores["lifecycle_stage"])))
        ]
        assert body["matched"] == len(contacted)
        assert body["cost"] == pytest.approx(contacted["action_cost"].sum())
        assert body["expected_gain"] == pytest.approx(contacted["expected_gain"].sum())
        _assert_decisions(body["decisions"], scored.decisions)

    csv = service.post("/action_plan_csv", json={"top": 30})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    table = pd.read_csv(io.StringIO(csv.text), dtype={"user_id": "str"})
    expected = action_plan(scores, ChurnListQuery(top=30))
    assert table["user_id"].tolist() == expected["user_id"].tolist()
    assert table["expected_gain"].to_numpy() == pytest.approx(expected["expected_gain"].to_numpy())
    assert set(table.columns) >= {"action", "action_cost", "expected_gain", "decision_reason"}


def test_action_plan_requests_are_checked_like_the_churn_list(service):
    for body, where in (
        ({"stages": ["at-risk"]}, "unknown stage"),
        ({"actions": ["free_pony"]}, "unknown action"),
        ({"stage": "active,at-risk"}, "unknown stage"),
        ({"sort_by": "risk"}, "extra_forbidden"),  # the plan is always ranked by gain
        ({"limit": 10_001}, "less_than_equal"),  # one answer's cap; longer lists are paged
    ):
        for endpoint in ("/action_plan", "/action_plan_csv"):
            response = service.post(endpoint, json=body)
            assert response.status_code == 400, (endpoint, body, response.text)
            assert where in response.text, (endpoint, body, response.text)


def test_churn_list_filter_typos_are_400(service, scored):
    bad_action = service.post("/churn_list", json={"actions": ["free_pony"]})
    assert bad_action.status_code == 400 and "unknown action" in bad_action.json()["error"]
    bad_stage = service.post("/churn_list_csv", json={"stages": ["at-risk"]})
    assert bad_stage.status_code == 400 and "unknown stage" in bad_stage.text
    too_many = service.post("/churn_list", json={"limit": 10_001})
    assert too_many.status_code == 400 and "limit: " in too_many.json()["error"]
    longer = service.post("/churn_list", json={"top": 10_001, "limit": 5})  # paged, not refused
    assert longer.status_code == 200 and longer.json()["total"] == len(scored.scores)


def test_model_info_matches_the_registry(service, serving_store, scored):
    import mlflow

    client = mlflow.MlflowClient(
        tracking_uri=serving_store.tracking_uri, registry_uri=serving_store.tracking_uri
    )
    body = service.post("/model_info").json()
    kinds = (("churn", "retain-churn"), ("recall", "retain-recall"), ("value", "retain-value"))
    for kind, name in kinds:
        registered = client.get_model_version_by_alias(name, "champion")
        assert body[kind]["name"] == name
        assert body[kind]["version"] == str(registered.version)
        assert body[kind]["run_id"] == registered.run_id
        assert "champion" in body[kind]["aliases"]
        assert body[kind]["metrics"]
    assert body["churn"]["metrics"]["roc_auc"] > 0.6
    assert body["feature_set_id"] == "behavioural_v1"
    assert body["snapshot"]["users"] == len(scored.scores)
    assert set(body["snapshot"]["model_versions"]) == {"churn", "recall", "value"}
    decisions = body["decisions"]
    _assert_decisions(decisions, scored.decisions)
    assert decisions["contacted"] == int((scored.scores["action"] != "no_action").sum())
    assert 0 < decisions["share_of_bound"] <= 1
    # what is served, not where the server keeps it (issue 19): names, no paths, no process ids
    assert body["snapshot"]["source"] == serving_store.events.name
    assert body["snapshot"]["source_kind"] == "events"
    assert body["registry"] == "sqlite (local file)"
    assert set(body["worker"]) == {"index"}
    text = service.get("/model_info").text
    assert str(serving_store.root) not in text and "sqlite:" not in text


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
        "serving/api/service.py",
        "serving/decisions/actions.yaml",
        "serving/api/static/index.html",
        "serving/api/static/app.js",
    ):
        assert (sources[0] / needed).exists(), needed
    for left_out in ("retain", "simulator"):  # the CLI and the test bed are not the service
        assert not (sources[0] / left_out).exists(), left_out


# ---- the decision settings of `retain score`, on a second server ------------------------------


@pytest.fixture(scope="module")
def cooldown_user(scored) -> pd.Series:
    """A lapsed user the default run sends a win-back offer (the only action for lapsed users)."""
    from serving.decisions.actions import load_catalogue

    scores = scored.scores
    chosen = scores[(scores["action"] == "winback_offer") & scores["return_probability"].notna()]
    assert not chosen.empty, "the fixture run sends no win-back offer; pick another case"
    user = chosen.iloc[0]
    eligible = [
        action.id
        for action in load_catalogue().actions
        if user["lifecycle_stage"] in action.stages and user["value_tier"] in action.tiers
    ]
    assert eligible == ["winback_offer"], eligible  # the hand computation below relies on it
    return user


@pytest.fixture(scope="module")
def at_risk_threshold(scored) -> float:
    """A threshold below the default 0.5 that moves active users to at_risk: their median risk."""
    scores = scored.scores
    active = scores.loc[scores["lifecycle_stage"].isin(["active", "reactivated"])]
    threshold = round(float(active["churn_probability"].median()), 2)
    assert 0 < threshold < 0.5, threshold
    return threshold


@pytest.fixture(scope="module")
def decided_service(serving_store, scored, cooldown_user, at_risk_threshold, tmp_path_factory):
    """`retain serve` with a contact history (one win-back contact a day before the cutoff) and
    a segmentation file that lowers the at-risk threshold; no API key."""
    from datetime import timedelta

    folder = tmp_path_factory.mktemp("decided")
    contacts = folder / "contacts.csv"
    pd.DataFrame(
        {
            "user_id": [cooldown_user["user_id"]],
            "action_id": ["winback_offer"],
            "assigned_at": [(scored.as_of - timedelta(days=1)).isoformat()],
            "group": ["treated"],
        }
    ).to_csv(contacts, index=False)
    segments = folder / "segments.yaml"
    segments.write_text(f"stages:\n  at_risk_threshold: {at_risk_threshold}\n", encoding="utf-8")
    args = ("--events", str(serving_store.events), "--contacts", str(contacts))
    with (
        running_service(serving_store, *args, "--segments", str(segments)) as running,
        httpx.Client(base_url=running.base, timeout=60) as client,
    ):
        yield client


def test_a_contact_in_cooldown_changes_that_users_action(
    service, decided_service, cooldown_user, scored
):
    """RETAIN_CONTACTS (here `retain serve --contacts`) enforces the catalogue's cooldowns.

    By hand, for the chosen lapsed user (dormant or churned, tier high or mid) with churn
    probability p = 1 − return probability and value at stake v: the catalogue's only action
    for lapsed users is winback_offer (cost 2, effect e = 0.15 dormant / 0.05 churned,
    cooldown 30 days). Without contacts its gain p × e × v − 2 is positive, so the user gets
    it (reason best_gain). The contact history has one treated winback_offer one day before the
    cutoff: age 1 day < 30 days, so that pair is in cooldown; one contact is under the
    frequency cap (2 in 30 days), so the user is not capped; no other action is eligible for a
    lapsed user. Expected with contacts: no_action, expected gain 0, cost 0, reason
    in_cooldown, and the user leaves the action plan.
    """
    from serving.decisions.actions import load_catalogue

    user_id = cooldown_user["user_id"]
    winback = load_catalogue().get("winback_offer")
    effect = winback.effect.for_segment(
        cooldown_user["lifecycle_stage"], cooldown_user["value_tier"]
    )
    p, v = cooldown_user["churn_probability"], cooldown_user["value_at_stake"]
    by_hand = p * effect * v - winback.cost
    assert by_hand > 0

    without = service.post("/recommend", json={"user_ids": [user_id]}).json()["items"][0]
    assert without["action"] == "winback_offer" and without["decision_reason"] == "best_gain"
    assert without["expected_gain"] == pytest.approx(by_hand)
    assert without["action_cost"] == winback.cost

    with_contacts = decided_service.post("/recommend", json={"user_ids": [user_id]}).json()
    item = with_contacts["items"][0]
    assert item["action"] == "no_action" and item["decision_reason"] == "in_cooldown"
    assert item["expected_gain"] == 0 and item["action_cost"] == 0
    assert item["churn_probability"] == pytest.approx(p)  # the scores themselves do not move

    plan = decided_service.post("/action_plan", json={"top": 10_000}).json()
    assert user_id not in {row["user_id"] for row in plan["rows"]}
    assert plan["decisions"]["contacted"] == plan["matched"]
    baseline = service.post("/action_plan", json={"top": 10_000}).json()
    assert user_id in {row["user_id"] for row in baseline["rows"]}


def test_the_at_risk_threshold_moves_stages_alike_in_score_and_segment_summary(
    decided_service, scored, at_risk_threshold
):
    """RETAIN_SEGMENTS (here `retain serve --segments`): /score and /segment_summary segment
    with the same threshold; only active users with risk in [threshold, 0.5) move, to at_risk."""
    ids = scored.scores["user_id"].tolist()
    items = decided_service.post("/score", json={"user_ids": ids}).json()["items"]
    served = pd.DataFrame(items)
    summary = decided_service.post("/segment_summary").json()
    assert summary["at_risk_threshold"] == pytest.approx(at_risk_threshold)
    grid = pd.crosstab(served["lifecycle_stage"], served["value_tier"])
    grid = grid.reindex(index=summary["stages"], columns=summary["tiers"], fill_value=0)
    assert summary["counts"] == grid.to_numpy().tolist()

    before = scored.scores["lifecycle_stage"].to_numpy()
    after = served["lifecycle_stage"].to_numpy()
    moved = before != after
    assert moved.any()
    assert set(after[moved]) == {"at_risk"}
    assert set(before[moved]) <= {"active", "reactivated"}
    risk = served["churn_probability"].to_numpy()
    assert ((risk[moved] >= at_risk_threshold) & (risk[moved] < 0.5)).all()
    at_risk = served["lifecycle_stage"] == "at_risk"
    assert (served.loc[at_risk, "churn_probability"] >= at_risk_threshold).all()
