"""Driving the operator page (/ui/) in Debian's Chromium: fixtures and helpers the page tests share.

Why a real browser: the page's promise is that it shows exactly what the API answers; only a
browser running the page's JavaScript against a running `retain serve` can show that.
Playwright cannot download browsers here, so it drives `/usr/bin/chromium` (RETAIN_TEST_CHROMIUM
points at another); the browser tests skip, saying so, when it is missing (and fail in CI).
A tab fails its test on any uncaught script error and on any Content-Security-Policy violation
(the page must run under its own strict policy, Chart.js included).
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

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
CHURN_TABLE, PLAN_TABLE = "#churn-table", "#action-plan-table"
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


# Fixtures are defined under other names (`name=`), so a test module can import them without
# its `page` and `browser` arguments shadowing the import.
@pytest.fixture(scope="module", name="browser")
def browser_fixture():
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        missing_component(f"no Chromium at {CHROMIUM} (apt-get install -y chromium; .ci/run does)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_tab(browser, base_url: str):
    """A fresh tab (empty sessionStorage) on `base_url`, and the list its problems go to."""
    context = browser.new_context(
        accept_downloads=True, base_url=base_url, viewport={"width": 1400, "height": 900}
    )
    context.set_default_timeout(WAIT_MS)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(str(error)))
    tab.on(
        "console",
        lambda message: (
            problems.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return context, tab, problems


@pytest.fixture(name="page")
def page_fixture(browser, service):
    """A fresh tab on the shared service that fails the test on a script error or CSP violation."""
    context, tab, problems = open_tab(browser, str(service.base_url))
    yield tab
    context.close()
    assert not problems, problems


def open_with_key(page, key: str) -> None:
    """Open the page, enter the key, wait until the summary and both lists are on screen."""
    page.goto("/ui/")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Use key").click()
    page.wait_for_selector("#summary[data-state=ready]")
    page.wait_for_function(_SHOWN, arg=[CHURN_TABLE, {}])
    page.wait_for_function(_SHOWN, arg=[PLAN_TABLE, {}])


def shown(page, table: str = CHURN_TABLE, **query) -> list[str]:
    """The user ids on screen once the list for (at least) this query is rendered."""
    page.wait_for_function(_SHOWN, arg=[table, query])
    return page.eval_on_selector_all(f"{table} tbody tr", "rows => rows.map(r => r.dataset.userId)")


def api_ids(service: httpx.Client, endpoint: str = "/churn_list", **query) -> list[str]:
    response = service.post(endpoint, json=query)
    assert response.status_code == 200, response.text
    return [row["user_id"] for row in response.json()["rows"]]


def column(page, table: str, index: int) -> list[str]:
    """The texts of one column (1-based, headers included) of a table's body."""
    return page.eval_on_selector_all(
        f"{table} tbody tr > :nth-child({index})", "cells => cells.map(c => c.textContent.trim())"
    )


def hover_bar(page, canvas_id: str, dataset: int, index: int) -> dict:
    """Move the mouse onto one bar of a Chart.js chart; what its tooltip then shows."""
    locator = page.locator(f"#{canvas_id}")
    locator.scroll_into_view_if_needed()
    where = page.evaluate(
        """([id, d, i]) => { const bar = Chart.getChart(document.getElementById(id))
             .getDatasetMeta(d).data[i];
           return { x: bar.x, y: bar.y + Math.max(2, (bar.base - bar.y) / 2) }; }""",
        [canvas_id, dataset, index],
    )
    box = locator.bounding_box()
    page.mouse.move(box["x"] + where["x"], box["y"] + where["y"])
    page.wait_for_function(
        "id => Chart.getChart(document.getElementById(id)).tooltip.getActiveElements().length > 0",
        arg=canvas_id,
    )
    return page.evaluate(
        """id => { const t = Chart.getChart(document.getElementById(id)).tooltip;
           return { title: t.title, lines: t.body.flatMap(b => b.lines), footer: t.footer }; }""",
        canvas_id,
    )
