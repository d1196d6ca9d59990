"""The README's `retain serve --port N` on the score file it finds, refreshed and stopped.

One server, started as the README says in a folder holding `scores.parquet` (the starter only
adds `--host 127.0.0.1`): it serves the file it found; a copy changed by hand (one user +0.30,
one +0.10, one −0.20, one removed, one added) written in its place is picked up by /refresh, so
every figure of the change in risk (compared, risen, fallen, mean change, largest rises, the
previous distribution) is known before the service answers, over HTTP and on the operator page;
and SIGTERM to `retain` alone stops its whole process tree. That last test ends the module's
server, so it stays last (one start-up, ~10 s of the suite, instead of two).

Why real processes for the signal: the bug was a child (`bentoml serve` and its workers) that
outlived `retain` and kept answering; only a real process tree shows it.
"""

from __future__ import annotations

import shlex
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import psutil
import pytest

from features import write_frame
from tests.serving.conftest import (
    RunningService,
    assert_stops_whole,
    clone_store,
    is_bentoml_worker,
    running_service,
)
from tests.serving.operator_browser import (
    browser_fixture,  # noqa: F401  (the `browser` fixture)
    needs_chromium,
    open_tab,
)
from tests.serving.risk_bands import risk_bands

pytestmark = pytest.mark.slow
NEW_USER = "hand-made-new-user"
README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_serve_args() -> list[str]:
    """The README's `retain serve` example, as arguments after `retain`."""
    line = next(line for line in README.read_text().splitlines() if "retain serve --port" in line)
    words = shlex.split(line.split("#", 1)[0])
    return words[words.index(next(w for w in words if w.endswith("retain"))) + 1 :]


def test_the_readme_example_names_no_source():
    """What the fixture below runs is the README's example (the port aside): no --events or
    --scores, so it serves the score file it finds in its folder."""
    assert _readme_serve_args() == ["serve", "--port", "3000"]


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
    server: RunningService


@pytest.fixture(scope="module")
def refreshed(serving_store, scored, tmp_path_factory) -> Iterator[Refreshed]:
    """The README's `retain serve --port N` in a folder holding `scores.parquet`, then a score
    file changed by hand written in its place and picked up by /refresh."""
    root = tmp_path_factory.mktemp("readme_folder")
    store = clone_store(serving_store, root / "store")  # the shared store stays untouched
    before = scored.scores.reset_index(drop=True)
    path = root / "scores.parquet"  # where the README's `retain score` writes
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
    # The README's form: no --events or --scores (the starter adds --host 127.0.0.1).
    service = running_service(store, cwd=root, RETAIN_REFRESH_SECONDS="0")
    with service as running, httpx.Client(base_url=running.base, timeout=60) as client:
        served = f"users as of {before['as_of'].iloc[0]:%Y-%m-%d} from {path} ("
        assert served in running.log(), running.log()[-2000:]  # the worker's line
        assert client.post("/segment_summary").json()["users"] == len(before)
        write_frame(after, path)  # a new scoring run lands where the service reads
        outcome = client.post("/refresh").json()
        assert outcome["status"] == "reloaded", outcome
        yield Refreshed(client, before, after, riser, small_riser, faller, gone, running)


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
    assert body["previous_counts"] == risk_bands(r.before["churn_probability"])
    now = [0] * 20
    for stage in body["by_stage"]:
        now = [a + b for a, b in zip(now, stage["counts"], strict=True)]
    assert now == risk_bands(r.after["churn_probability"])


def test_the_what_if_on_a_served_score_file_says_what_it_decides_with(refreshed):
    response = refreshed.client.post("/what_if", json={"budget": None, "top": 5})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert "score file" in answer["basis"] and "does not know" in answer["basis"]
    assert answer["plan"]["users"] == len(refreshed.after)


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
        assert previous == [risk_bands(r.before["churn_probability"])]

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


def test_sigterm_to_retain_alone_stops_the_whole_tree(refreshed):
    """The last test here: it stops the module's server, as `kill <pid>` or a supervisor would."""
    running = refreshed.server
    assert running.process.poll() is None, "the server stopped before the signal"
    port = int(running.base.rsplit(":", 1)[1])
    tree = psutil.Process(running.process.pid).children(recursive=True)
    assert any(is_bentoml_worker(p) for p in tree), "no worker in the tree"
    assert_stops_whole(running.process, port, signal.SIGTERM, tree, running.log)
