"""The budget what-if (`/what_if`) and the change in risk (`/risk_change`), over HTTP and on the
operator page in Chromium.

Known answers, not the code's own: each what-if row's expected gain is priced by hand from the
playbook YAML (churn probability × effect of the segment × value at stake − cost); the LP upper
bound must be at least the gain of a plan made by hand (the served contacts, best gain per unit
of cost first, while the budget lasts); without a budget the what-if is the served plan, made
by the scoring pipeline. Without a previous run, the change in risk says so and counts the
served risks by hand; after a refresh it is tested in test_score_file_service.py, on a service
whose score file is replaced by a copy changed by hand.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

from tests.serving.operator_browser import (
    browser_fixture,  # noqa: F401  (the `browser` fixture)
    needs_chromium,
    open_with_key,
    page_fixture,  # noqa: F401  (the `page` fixture)
    shown,
)
from tests.serving.risk_bands import risk_bands

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = yaml.safe_load((ROOT / "serving" / "decisions" / "actions.yaml").read_text())
ACTIONS = {action["id"]: action for action in PLAYBOOK["actions"]}


def _effect(action_id: str, stage: str, tier: str) -> float:
    """The playbook's documented lookup: exact `stage/tier`, `stage/*`, `*/tier`, default."""
    spec = ACTIONS[action_id]["effect"]
    if not isinstance(spec, dict):
        return float(spec)
    by_segment = spec.get("by_segment", {})
    for key in (f"{stage}/{tier}", f"{stage}/*", f"*/{tier}"):
        if key in by_segment:
            return float(by_segment[key])
    return float(spec["default"])


def _what_if(client: httpx.Client, **body) -> dict:
    response = client.post("/what_if", json=body)
    assert response.status_code == 200, response.text
    return response.json()


# ---- the what-if over HTTP -------------------------------------------------------------------


def test_without_a_budget_the_what_if_is_the_served_plan(service):
    served = service.post("/action_plan", json={"top": 20}).json()
    answer = _what_if(service, budget=None, top=20)
    plan, run = answer["plan"], served["decisions"]
    assert plan["budget"] is None and run["budget"] is None  # the shared service has none
    assert (plan["users"], plan["contacted"], plan["by_action"]) == (
        run["users"],
        run["contacted"],
        run["by_action"],
    )
    for key in ("cost", "achieved_gain", "upper_bound"):
        assert plan[key] == pytest.approx(run[key], rel=1e-9), key
    assert answer["served"] == run
    pairs = [(row["user_id"], row["action"]) for row in answer["rows"]]
    assert pairs == [(row["user_id"], row["action"]) for row in served["rows"]]
    assert "served playbook" in answer["basis"]
    for row in answer["by_action"]:
        assert row["label"] == ACTIONS[row["action"]]["label"]
        assert (row["users"], row["cost"]) == (row["served_users"], row["served_cost"])


def test_a_smaller_budget_is_kept_and_every_row_is_priced_by_hand(service, scored):
    served = service.post("/action_plan", json={"top": 1}).json()["decisions"]
    budget = round(served["cost"] / 4, 2)
    answer = _what_if(service, budget=budget, top=50)
    plan = answer["plan"]
    assert plan["budget"] == budget and plan["cost"] <= budget + 1e-9
    assert plan["contacted"] == sum(row["users"] for row in answer["by_action"])
    assert plan["contacted"] == sum(plan["by_action"].values()) < served["contacted"]
    assert plan["cost"] == pytest.approx(sum(row["cost"] for row in answer["by_action"]))
    assert len(answer["rows"]) == 50
    for row in answer["rows"]:
        action = ACTIONS[row["action"]]
        effect = _effect(row["action"], row["lifecycle_stage"], row["value_tier"])
        by_hand = row["churn_probability"] * effect * row["value_at_stake"] - action["cost"]
        assert row["expected_gain"] == pytest.approx(by_hand, rel=1e-9, abs=1e-9), row
        assert row["action_cost"] == action["cost"]
    gains = [row["expected_gain"] for row in answer["rows"]]
    assert gains == sorted(gains, reverse=True)
    # a plan made by hand within the budget: no plan beats the upper bound, and the allocation
    # (99.99% of the bound on the served run) does at least about as well
    contacted = scored.scores.loc[scored.scores["action"] != "no_action"]
    ratio = contacted["expected_gain"] / contacted["action_cost"]
    spent = by_hand_gain = 0.0
    for index in ratio.sort_values(ascending=False, kind="stable").index:
        cost = float(contacted.at[index, "action_cost"])
        if spent + cost <= budget:
            spent += cost
            by_hand_gain += float(contacted.at[index, "expected_gain"])
    assert plan["upper_bound"] >= by_hand_gain - 1e-6
    assert plan["achieved_gain"] >= 0.99 * by_hand_gain
    assert plan["achieved_gain"] <= plan["upper_bound"] + 1e-9


def test_a_zero_budget_contacts_nobody(service):
    answer = _what_if(service, budget=0, top=10)
    plan = answer["plan"]
    assert (plan["contacted"], plan["cost"], plan["achieved_gain"]) == (0, 0.0, 0.0)
    assert answer["rows"] == [] and plan["by_action"] == {}
    assert all(row["users"] == 0 < row["served_users"] for row in answer["by_action"])


def test_a_bad_what_if_request_gets_a_4xx_that_names_the_field(service):
    for body, field in (
        ({"budget": -1}, "budget"),
        ({"budget": "100"}, "budget"),
        ({"budget": True}, "budget"),
        ({}, "budget"),
        ({"budget": 10, "top": 0}, "top"),
        ({"budget": 10, "spend": 5}, "spend"),
    ):
        response = service.post("/what_if", json=body)
        assert response.status_code in (400, 422), (body, response.status_code)
        assert field in response.text, (body, response.text)
    infinite = service.post(
        "/what_if", content=b'{"budget": Infinity}', headers={"Content-Type": "application/json"}
    )
    assert infinite.status_code in (400, 422), infinite.text


# ---- the change in risk over HTTP ------------------------------------------------------------


def test_without_a_previous_run_the_risk_change_says_so(service, scored):
    scores = scored.scores
    first = str(scores["user_id"].iloc[0])
    body = service.post("/risk_change", json={"user_ids": [first, "nobody"], "top": 5}).json()
    assert body["previous"] is None and body["previous_counts"] is None
    assert body["message"].startswith("No previous scoring run")
    assert (body["compared"], body["risen"], body["fallen"]) == (0, 0, 0)
    assert body["largest_increases"] == [] and body["mean_change"] is None
    for stage in body["by_stage"]:
        mine = scores.loc[scores["lifecycle_stage"] == stage["stage"], "churn_probability"]
        assert stage["users"] == len(mine), stage["stage"]
        assert stage["counts"] == risk_bands(mine), stage["stage"]
    asked, unknown = body["items"]
    assert asked["churn_probability"] == pytest.approx(scores["churn_probability"].iloc[0])
    assert asked["previous_churn_probability"] is None and asked["change"] is None
    assert unknown == {
        "user_id": "nobody",
        "status": "unknown_user",
        "lifecycle_stage": None,
        "churn_probability": None,
        "previous_churn_probability": None,
        "change": None,
    }


# ---- on the page -----------------------------------------------------------------------------


@needs_chromium
def test_the_page_re_decides_with_another_budget(page, service, api_key):
    open_with_key(page, api_key)
    served = service.post("/action_plan", json={"top": 1}).json()["decisions"]
    budget = round(served["cost"] / 4, 2)
    page.get_by_label("Total budget").fill(str(budget))
    page.get_by_role("button", name="Re-decide with this budget").click()
    result = "#what-if-result[data-state=ready]"
    page.wait_for_function(
        "b => { const r = document.querySelector('#what-if-result');"
        " return r.dataset.state === 'ready' && Number(r.dataset.budget) === b; }",
        arg=budget,
    )
    answer = _what_if(service, budget=budget, top=20)
    plan = answer["plan"]
    assert shown_rows(page) == [row["user_id"] for row in answer["rows"]]
    totals = page.inner_text("#what-if-totals")
    assert f"{plan['contacted']:,} of {plan['users']:,} users contacted" in totals
    assert f"cost {plan['cost']:,.2f}" in totals and f"budget {budget:,.2f}" in totals
    assert f"{served['contacted']:,} of" in page.inner_text("#what-if-served")
    labels = page.eval_on_selector_all(
        "#what-if-actions tbody tr", "rows => rows.map(r => r.cells[0].innerText)"
    )
    assert labels == [ACTIONS[row["action"]]["label"] for row in answer["by_action"]]
    assert shown(page) and page.locator(result).is_visible()  # the lists stay as served

    page.get_by_label("Total budget").fill("")  # empty: no budget, the served plan again
    page.get_by_role("button", name="Re-decide with this budget").click()
    page.wait_for_selector("#what-if-result[data-budget=none][data-state=ready]")
    assert "no budget" in page.inner_text("#what-if-totals")
    assert f"{served['contacted']:,} of" in page.inner_text("#what-if-totals")


def shown_rows(page) -> list[str]:
    return page.eval_on_selector_all(
        "#what-if-rows tbody tr", "rows => rows.map(r => r.dataset.userId)"
    )
