"""The budget what-if (`/what_if`) and the change in risk (`/risk_change`), over HTTP and on the
operator page in Chromium.

Known answers, not the code's own: each what-if row's expected gain is priced by hand from the
playbook YAML (churn probability × effect of the segment × value at stake − cost); the LP upper
bound must be at least the gain of a plan made by hand (the served contacts, best gain per unit
of cost first, while the budget lasts); without a budget the what-if is the served plan, made
by the scoring pipeline. The change in risk is tested on a service whose score file is replaced
by a copy changed by hand (one user +0.30, one +0.10, one −0.20, one removed, one added) and
refreshed, so every figure (compared, risen, fallen, mean change, largest rises, the previous
distribution) is known before the service answers.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest
import yaml

from features import write_frame
from tests.serving.conftest import clone_store, running_service
from tests.serving.operator_browser import (
    browser_fixture,  # noqa: F401  (the `browser` fixture)
    needs_chromium,
    open_tab,
    open_with_key,
    page_fixture,  # noqa: F401  (the `page` fixture)
    shown,
)

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = yaml.safe_load((ROOT / "serving" / "decisions" / "actions.yaml").read_text())
ACTIONS = {action["id"]: action for action in PLAYBOOK["actions"]}
NEW_USER = "hand-made-new-user"


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


def _histogram(risks: pd.Series) -> list[int]:
    """Users per 5-point band of churn risk, counted one band at a time (the last includes 1)."""
    edges = [round(i * 0.05, 2) for i in range(21)]
    values = risks.dropna().to_numpy()
    counts = []
    for low, high in itertools.pairwise(edges):
        inside = (values >= low) & ((values < high) if high < 1 else (values <= high))
        counts.append(int(inside.sum()))
    return counts


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
        assert stage["counts"] == _histogram(mine), stage["stage"]
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


@dataclass(frozen=True)
class Refreshed:
    """A service that served `before`, then `after` (changed by hand) after a refresh."""

    client: httpx.Client
    before: pd.DataFrame
    after: pd.DataFrame
    riser: str  # +0.30
    small_riser: str  # +0.10
    faller: str  # -0.20
    gone: str


@pytest.fixture(scope="module")
def refreshed(serving_store, scored, tmp_path_factory):
    root = tmp_path_factory.mktemp("risk_change")
    store = clone_store(serving_store, root / "store")  # the shared store stays untouched
    before = scored.scores.reset_index(drop=True)
    path = root / "scores.parquet"
    write_frame(before, path)
    risk = before.set_index("user_id")["churn_probability"]
    riser = str(risk[risk < 0.6].index[0])
    small_riser = str(risk[(risk < 0.85) & (risk.index != riser)].index[0])
    faller = str(risk[(risk > 0.3) & ~risk.index.isin([riser, small_riser])].index[0])
    gone = str(risk[~risk.index.isin([riser, small_riser, faller])].index[-1])
    after = before.loc[before["user_id"] != gone].copy()
    for user, change in ((riser, 0.3), (small_riser, 0.1), (faller, -0.2)):
        after.loc[after["user_id"] == user, "churn_probability"] += change
    newcomer = after.iloc[[0]].assign(user_id=NEW_USER)
    after = pd.concat([after, newcomer], ignore_index=True)
    service = running_service(store, "--scores", str(path), RETAIN_REFRESH_SECONDS="0")
    with service as running, httpx.Client(base_url=running.base, timeout=60) as client:
        write_frame(after, path)  # a new scoring run lands where the service reads
        outcome = client.post("/refresh").json()
        assert outcome["status"] == "reloaded", outcome
        yield Refreshed(client, before, after, riser, small_riser, faller, gone)


def test_after_a_refresh_the_risk_change_is_the_hand_made_change(refreshed):
    r = refreshed
    asked = [r.riser, r.faller, NEW_USER, r.gone]
    body = r.client.post("/risk_change", json={"user_ids": asked, "top": 5}).json()
    as_of = pd.Timestamp(r.before["as_of"].iloc[0])
    assert body["previous"]["users"] == len(r.before)
    assert pd.Timestamp(body["previous"]["as_of"]).tz_convert(None) == as_of
    assert f"as of {as_of:%Y-%m-%d}" in body["message"]
    compared = len(r.before) - 1
    assert (body["compared"], body["new_users"], body["gone_users"]) == (compared, 1, 1)
    assert (body["risen"], body["fallen"]) == (2, 1)
    assert body["mean_change"] == pytest.approx((0.3 + 0.1 - 0.2) / compared)
    was = r.before.set_index("user_id")["churn_probability"]
    rises = [
        (m["user_id"], m["previous_churn_probability"], m["change"])
        for m in body["largest_increases"]
    ]
    assert [user for user, _, _ in rises] == [r.riser, r.small_riser]  # nobody else moved up
    assert rises[0][1] == pytest.approx(was[r.riser]) and rises[0][2] == pytest.approx(0.3)
    assert rises[1][2] == pytest.approx(0.1)
    riser, faller, newcomer, gone = body["items"]
    assert riser["churn_probability"] == pytest.approx(was[r.riser] + 0.3)
    assert faller["change"] == pytest.approx(-0.2)
    assert newcomer["status"] == "ok" and newcomer["previous_churn_probability"] is None
    assert gone["status"] == "unknown_user"
    assert body["previous_counts"] == _histogram(r.before["churn_probability"])
    now = [0] * 20
    for stage in body["by_stage"]:
        now = [a + b for a, b in zip(now, stage["counts"], strict=True)]
    assert now == _histogram(r.after["churn_probability"])


def test_the_what_if_on_a_served_score_file_says_what_it_decides_with(refreshed):
    answer = _what_if(refreshed.client, budget=None, top=5)
    assert "score file" in answer["basis"] and "does not know" in answer["basis"]
    assert answer["plan"]["users"] == len(refreshed.after)


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


@needs_chromium
def test_the_page_shows_the_change_in_risk_since_the_previous_run(browser, refreshed):
    r = refreshed
    context, tab, problems = open_tab(browser, str(r.client.base_url))
    try:
        tab.goto("/ui/")
        tab.wait_for_selector("#risk-change[data-state=ready][data-previous=yes]")
        as_of = pd.Timestamp(r.before["as_of"].iloc[0])
        assert f"as of {as_of:%Y-%m-%d}" in tab.inner_text("#risk-message")
        figures = tab.eval_on_selector_all(
            "#risk-figures div",
            "ds => Object.fromEntries(ds.map(d => [d.children[0].innerText,"
            " d.children[1].innerText]))",
        )
        assert figures["Users in both runs"] == f"{len(r.before) - 1:,}"
        assert figures["Risk up ≥ 5.0 pts"] == "2" and figures["Risk down ≥ 5.0 pts"] == "1"
        assert (figures["New users"], figures["Users gone"]) == ("1", "1")
        rows = tab.eval_on_selector_all(
            "#risk-table tbody tr",
            "rows => rows.map(r => [r.dataset.userId, r.cells[4].innerText])",
        )
        assert rows == [[r.riser, "+30.0 pts"], [r.small_riser, "+10.0 pts"]]
        previous = tab.evaluate(
            """() => Chart.getChart(document.getElementById('chart-risk')).data.datasets
                 .filter(d => d.label.startsWith('Previous run')).map(d => d.data)"""
        )
        assert previous == [_histogram(r.before["churn_probability"])]

        tab.locator(f"#risk-table button[data-user-id='{r.riser}']").click()
        tab.wait_for_selector("#explain-body[data-state=ready]")
        was = float(r.before.set_index("user_id").at[r.riser, "churn_probability"])
        facts = tab.inner_text("#explain-facts")
        assert f"+30.0 pts (was {was * 100:.1f}%)" in facts, facts
        explained = r.client.post("/explain", json={"user_id": r.riser})
        if explained.status_code == 409:  # a score file without features: said, not hidden
            assert "could not be loaded" in tab.inner_text("#explain-raises")
        assert tab.inner_text("#explain-decision")  # the decision is shown either way
    finally:
        context.close()
    assert not problems, problems
