"""The operator page (/ui/) of the real service, over HTTP and in a real headless Chromium.

Why a real browser: the page's promise is that it shows exactly what the API answers (the same
rows for the same filters in both lists, the churn list and the action plan, downloads
byte-identical to `/churn_list_csv` and `/action_plan_csv`) and that it asks for the API key
instead of failing silently; only a browser running the page's JavaScript
against the running service can show that. Chromium is Debian's package (`.ci/run` installs
it); Playwright cannot download browsers here, so it drives `/usr/bin/chromium` and the browser
tests skip, saying so, when it is missing (RETAIN_TEST_CHROMIUM points at another binary).
The server is conftest's shared `service`.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from serving.api.auth import ApiKeyMiddleware
from tests.conftest import IN_CI, missing_component

CHROMIUM = Path(os.environ.get("RETAIN_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 30_000
# decided at collection, so a missing browser does not even start the shared server
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists() and not IN_CI,  # in CI the browser fixture fails instead
    reason=(
        f"no Chromium at {CHROMIUM}: install Debian's package (`apt-get install -y chromium`, "
        "as .ci/run does); Playwright cannot download its own browsers here"
    ),
)
_SHOWN = """([selector, expected]) => {
  const table = document.querySelector(selector);
  if (table.dataset.state !== "ready" || !table.dataset.query) return false;
  const shown = JSON.parse(table.dataset.query);
  return Object.entries(expected).every(([k, v]) => JSON.stringify(shown[k]) === JSON.stringify(v));
}"""


def _url(client: httpx.Client, path: str) -> str:
    return f"{str(client.base_url).rstrip('/')}{path}"


# ---- the open prefix of the API-key middleware, in process -----------------------------------


def _status(app, path: str) -> int:
    """Drive an ASGI app with one raw GET (clients would normalise the dot segments away)."""
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""}
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"]


def test_the_page_prefix_is_open_but_nothing_beside_or_above_it():
    async def ok(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    guarded = ApiKeyMiddleware(ok, api_key="k", open_prefixes=("/ui/",))
    for open_path in ("/ui", "/ui/", "/ui/static/app.js", "/readyz"):
        assert _status(guarded, open_path) == 200, open_path
    for closed in ("/uix", "/churn_list", "/ui/../churn_list", "/ui/static/../../metrics"):
        assert _status(guarded, closed) == 401, closed


# ---- the page over plain HTTP ----------------------------------------------------------------


@pytest.mark.slow
def test_the_page_and_its_files_are_served_but_its_data_needs_the_key(service):
    page = httpx.get(_url(service, "/ui/"))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Churn list — whom we are about to lose" in page.text
    assert "Action plan — whom we contact" in page.text and 'for="min-risk"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "http://" not in page.text and "https://" not in page.text  # no CDN: works offline
    redirect = httpx.get(_url(service, "/ui"))
    assert redirect.status_code == 307 and redirect.headers["location"].endswith("/ui/")
    script = httpx.get(_url(service, "/ui/static/app.js"))
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "X-API-Key" in script.text
    style = httpx.get(_url(service, "/ui/static/page.css"))
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    assert httpx.get(_url(service, "/ui/static/nothing.js")).status_code == 404
    for endpoint in (
        *("/segment_summary", "/churn_list", "/churn_list_csv"),
        *("/action_plan", "/action_plan_csv", "/model_info"),
    ):
        denied = httpx.post(_url(service, endpoint), json={})
        assert denied.status_code == 401, endpoint
        assert "API key" in denied.json()["error"]
        assert service.post(endpoint, json={}).status_code == 200, endpoint


@pytest.mark.slow
def test_the_segment_summary_adds_up_to_the_scores(service, scored):
    body = service.post("/segment_summary").json()
    scores = scored.scores
    assert body["users"] == len(scores)
    grid = pd.crosstab(scores["lifecycle_stage"], scores["value_tier"])
    grid = grid.reindex(index=body["stages"], columns=body["tiers"], fill_value=0)
    assert body["counts"] == grid.to_numpy().tolist()
    at_risk = scores["churn_probability"] * scores["value_at_stake"]
    assert body["value_at_risk"]["total"] == pytest.approx(at_risk.sum())
    by_tier = at_risk.groupby(scores["value_tier"]).sum()
    for tier, value in by_tier.items():
        assert body["value_at_risk"][tier] == pytest.approx(value)
    assert body["at_risk_threshold"] == 0.5  # the shared service runs the default segmentation
    assert sum(row["users"] for row in body["plan"]) == len(scores)
    plan_gain = sum(row["expected_gain"] for row in body["plan"])
    assert plan_gain == pytest.approx(scores["expected_gain"].sum())
    assert [a["id"] for a in body["actions"]][-1] == "no_action"
    assert body["charts_error"] is None
    assert {c["name"] for c in body["charts"]} >= {"stage_tier_grid", "action_plan"}
    for chart in body["charts"]:
        assert chart["data_uri"].startswith("data:image/png;base64,") and chart["title"]


# ---- the page in Chromium --------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        missing_component(f"no Chromium at {CHROMIUM} (apt-get install -y chromium; .ci/run does)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, service):
    """A fresh tab (empty sessionStorage) that fails the test on any uncaught script error."""
    context = browser.new_context(accept_downloads=True, base_url=str(service.base_url))
    context.set_default_timeout(WAIT_MS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert not errors, errors


CHURN_TABLE, PLAN_TABLE = "#churn-table", "#action-plan-table"


def _open_with_key(page, key: str) -> None:
    page.goto("/ui/")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Use key").click()
    page.wait_for_selector("#summary[data-state=ready]")
    page.wait_for_function(_SHOWN, arg=[CHURN_TABLE, {}])
    page.wait_for_function(_SHOWN, arg=[PLAN_TABLE, {}])


def _shown(page, table: str = CHURN_TABLE, **query) -> list[str]:
    """The user ids on screen once the list for (at least) this query is rendered."""
    page.wait_for_function(_SHOWN, arg=[table, query])
    return page.eval_on_selector_all(f"{table} tbody tr", "rows => rows.map(r => r.dataset.userId)")


def _api_ids(service, endpoint: str = "/churn_list", **query) -> list[str]:
    response = service.post(endpoint, json=query)
    assert response.status_code == 200, response.text
    return [row["user_id"] for row in response.json()["rows"]]


@pytest.mark.slow
@needs_chromium
def test_the_page_shows_the_api_list_the_summary_and_labelled_controls(page, service, api_key):
    _open_with_key(page, api_key)
    assert _shown(page) == _api_ids(service)
    matched = service.post("/churn_list", json={}).json()["matched"]
    assert f"of {matched:,} matching users" in page.inner_text("#list-status")
    first = page.locator("#churn-table tbody tr").first
    assert first.locator(".reasons li").count() >= 1  # per-user reasons are shown
    charts = page.locator("#charts img")
    assert charts.count() == len(service.post("/segment_summary").json()["charts"]) >= 4
    for index in range(charts.count()):
        image = charts.nth(index)
        assert image.get_attribute("alt")
        assert image.evaluate("img => img.complete && img.naturalWidth > 0")
    unlabelled = page.eval_on_selector_all(
        "input, select", "els => els.filter(e => e.labels.length === 0).map(e => e.outerHTML)"
    )
    assert unlabelled == []
    assert page.locator("#plan-table tbody tr").count() >= 2


@pytest.mark.slow
@needs_chromium
def test_filters_and_sorting_change_the_rows_exactly_as_the_api_does(page, service, api_key):
    _open_with_key(page, api_key)
    everyone = _shown(page)
    # A tier whose filter visibly changes the list (which one depends on the trained model:
    # the top of the default ranking can be all one tier).
    tier = next(t for t in ("high", "mid", "low") if _api_ids(service, tiers=[t]) != everyone)
    page.get_by_role("group", name="Value tier").get_by_label(tier, exact=True).check()
    in_tier = _shown(page, tiers=[tier])
    assert in_tier == _api_ids(service, tiers=[tier])
    tiers = page.eval_on_selector_all(
        "#churn-table tbody tr td:nth-child(7)", "t => t.map(c => c.textContent)"
    )
    assert set(tiers) == {tier}

    # A risk floor at the median of the rows shown, so that it must drop some of them.
    rows = service.post("/churn_list", json={"tiers": [tier]}).json()["rows"]
    floor = round(float(np.median([row["churn_probability"] for row in rows])), 2)
    page.get_by_label("Minimum churn risk").fill(str(floor))
    page.get_by_label("Minimum churn risk").press("Enter")
    risky = _shown(page, tiers=[tier], min_risk=floor)
    assert risky == _api_ids(service, tiers=[tier], min_risk=floor) and risky != in_tier
    risks = [r["churn_probability"] for r in rows if r["user_id"] in set(risky)]
    assert all(risk >= floor for risk in risks)

    page.get_by_role("button", name="Churn risk").click()
    by_risk = _shown(page, tiers=[tier], min_risk=floor, sort_by="risk")
    assert by_risk == _api_ids(service, tiers=[tier], min_risk=floor, sort_by="risk")
    header = page.locator("#churn-table th[data-sort=risk]")
    assert header.get_attribute("aria-sort") == "descending"

    # the filters apply to the action plan too (which is always ranked by expected gain)
    plan = _shown(page, PLAN_TABLE, tiers=[tier], min_risk=floor)
    assert plan == _api_ids(service, "/action_plan", tiers=[tier], min_risk=floor)

    page.get_by_role("button", name="Clear filters").click()
    assert _shown(page, tiers=[], min_risk=0, sort_by="value_at_risk") == everyone


@pytest.mark.slow
@needs_chromium
def test_the_download_is_the_api_csv_for_the_filters_shown(page, service, api_key):
    _open_with_key(page, api_key)
    page.get_by_role("group", name="Lifecycle stage").get_by_label("at risk").check()
    page.get_by_role("group", name="Lifecycle stage").get_by_label("dormant").check()
    page.get_by_label("Rows to show").fill("40")
    page.get_by_label("Rows to show").press("Enter")  # submits the filters: both lists reload
    page.get_by_label("Rank by").select_option("risk")
    query = {"stages": ["at_risk", "dormant"], "top": 40, "sort_by": "risk"}
    shown = _shown(page, **query)
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download churn list CSV").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    got = Path(download.path()).read_bytes()
    expected = service.post("/churn_list_csv", json=query)
    assert expected.status_code == 200
    assert got == expected.content
    table = pd.read_csv(Path(download.path()), dtype={"user_id": "str"})
    assert table["user_id"].tolist() == shown and len(shown) == 40

    plan_query = {"stages": ["at_risk", "dormant"], "top": 40}
    plan_shown = _shown(page, PLAN_TABLE, **plan_query)
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download action plan CSV").click()
    got = Path(download_info.value.path()).read_bytes()
    expected = service.post("/action_plan_csv", json=plan_query)
    assert expected.status_code == 200 and got == expected.content
    table = pd.read_csv(Path(download_info.value.path()), dtype={"user_id": "str"})
    assert table["user_id"].tolist() == plan_shown


@pytest.mark.slow
@needs_chromium
def test_the_action_plan_shows_the_api_plan_and_its_totals(page, service, api_key):
    """The second list: contacted users by expected gain, with the whole plan's totals
    (contacted, cost, expected gain, share of the upper bound) in one line."""
    _open_with_key(page, api_key)
    assert page.get_by_role("heading", name="Action plan — whom we contact").is_visible()
    assert page.get_by_role("heading", name="Churn list — whom we are about to lose").is_visible()
    body = service.post("/action_plan", json={}).json()
    assert _shown(page, PLAN_TABLE) == [row["user_id"] for row in body["rows"]]
    first = page.locator(f"{PLAN_TABLE} tbody tr").first
    cells = first.locator("td").all_inner_texts()
    assert body["rows"][0]["action"] != "no_action"
    assert any(c.strip() for c in cells)
    totals = page.inner_text("#plan-totals")
    run = body["decisions"]
    assert f"{run['contacted']:,} of {run['users']:,} users contacted" in totals
    assert "of the upper bound" in totals and "expected gain" in totals and "cost" in totals
    share = f"{run['share_of_bound'] * 100:.2f}%"
    assert share in totals, (share, totals)
    status = page.inner_text("#plan-status")
    assert f"of {body['matched']:,} contacted users" in status


@pytest.mark.slow
@needs_chromium
def test_without_the_key_the_page_says_so_and_with_it_works(page, service, api_key):
    page.goto("/ui/")
    page.wait_for_selector("#churn-table[data-state=auth]")
    alert = page.get_by_role("alert")
    assert "needs an API key" in alert.inner_text()
    assert page.locator("#churn-table tbody tr").count() == 0
    assert page.locator("#action-plan-table tbody tr").count() == 0
    assert page.locator("#summary").get_attribute("data-state") == "auth"

    page.get_by_label("API key").fill("not-the-key")
    page.get_by_role("button", name="Use key").click()
    page.wait_for_function(
        "() => document.querySelector('#auth-message').textContent.includes('not accepted')"
    )
    assert page.locator("#churn-table").get_attribute("data-state") == "auth"

    _open_with_key(page, api_key)
    assert page.locator("#auth-message").is_hidden()
    assert _shown(page) == _api_ids(service)
    stored = page.evaluate("() => sessionStorage.getItem('retain.apiKey')")
    assert stored == api_key and api_key not in page.url
    page.reload()  # the key stays for the tab's session
    assert _shown(page) == _api_ids(service)
    page.get_by_role("button", name="Forget key").click()
    page.wait_for_selector("#churn-table[data-state=auth]")
    assert json.loads(page.evaluate("() => JSON.stringify(sessionStorage)")) == {}
