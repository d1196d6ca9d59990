"""The operator lists and the reads over HTTP (issue 19, item 4): the CLI's filter names, GET as
well as POST, and paging, on the shared `retain serve` (API key required).

Known answers: the rows are checked against an order computed here from the batch scores
(`scored`, the same users the service scored) with Python's own sort on the documented keys,
and GET answers against the POST answers of the same query.
"""

from __future__ import annotations

import io

import httpx
import pandas as pd
import pytest

from serving.api.settings import DEFAULT_MAX_BODY_BYTES

pytestmark = pytest.mark.slow
CHURN_KEYS = ("value_at_risk", "churn_probability", "expected_gain")
PLAN_KEYS = ("expected_gain", "value_at_risk", "churn_probability")


def _by_hand(scores: pd.DataFrame, keys: tuple[str, ...]) -> list[str]:
    """Each key highest first, then the user id (the lists' documented order)."""
    records = scores.assign(value_at_risk=scores["churn_probability"] * scores["value_at_stake"])
    rows = records.to_dict(orient="records")
    rows.sort(key=lambda row: (*(-row[key] for key in keys), row["user_id"]))
    return [row["user_id"] for row in rows]


def _ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [row["user_id"] for row in response.json()["rows"]]


def test_the_filters_have_the_clis_names_in_every_form(service, scored):
    """`stage`/`tier`/`action` as a list, a comma-separated string (as `--stage a,b`) or over
    GET give the same rows; the deprecated plural aliases too; both names together is a 400."""
    scores = scored.scores
    kept = scores[
        scores["lifecycle_stage"].isin(["at_risk", "active"])
        & scores["value_tier"].isin(["high", "mid"])
        & (scores["churn_probability"] >= 0.1)
    ]
    expected = _by_hand(kept, CHURN_KEYS)[:60]
    assert len(expected) == 60
    common = {"min_risk": 0.1, "top": 60}
    forms = [
        {"stage": ["at_risk", "active"], "tier": ["high", "mid"]},
        {"stage": "at_risk,active", "tier": "high, mid"},
        {"stages": ["at_risk", "active"], "tiers": ["high", "mid"]},  # deprecated aliases
    ]
    for form in forms:
        assert _ids(service.post("/churn_list", json={**form, **common})) == expected, form
    query = {"stage": ["at_risk", "active"], "tier": "high,mid", **common}
    assert _ids(service.get("/churn_list", params=query)) == expected
    for endpoint in ("/churn_list", "/action_plan_csv"):
        both = service.post(endpoint, json={"stage": "active", "stages": ["active"]})
        assert both.status_code == 400
        assert "`stage` or its deprecated alias `stages`, not both" in both.json()["error"]
    typo = service.post("/action_plan", json={"stage": "active", "tier": "hgh"})
    assert typo.status_code == 400
    assert typo.json()["error"].startswith("invalid request: tier: unknown tier ['hgh']")


@pytest.mark.parametrize(
    ("path", "params", "body"),
    [
        ("/model_info", {}, {}),
        ("/segment_summary", {}, {}),
        (
            "/churn_list",
            {"stage": ["at_risk", "dormant"], "sort_by": "gain", "top": 300, "limit": 70},
            {"stage": ["at_risk", "dormant"], "sort_by": "gain", "top": 300, "limit": 70},
        ),
        (
            "/action_plan",
            {"tier": "high,mid", "min_risk": "0.25", "offset": "10", "limit": "40"},
            {"tier": ["high", "mid"], "min_risk": 0.25, "offset": 10, "limit": 40},
        ),
    ],
)
def test_get_answers_exactly_what_post_does(service, path, params, body):
    posted = service.post(path, json=body)
    got = service.get(path, params=params)
    assert posted.status_code == got.status_code == 200, got.text
    assert got.json() == posted.json()


@pytest.mark.parametrize("path", ["/churn_list_csv", "/action_plan_csv"])
def test_the_csv_lists_answer_get_byte_for_byte(service, path):
    query = {"stage": ["at_risk", "active"], "offset": 5, "limit": 50}
    posted, got = service.post(path, json=query), service.get(path, params=query)
    assert posted.status_code == got.status_code == 200
    assert got.content == posted.content and got.headers["content-type"].startswith("text/csv")
    for header in ("X-Total-Count", "X-Next-Offset", "X-Snapshot-Id"):
        assert got.headers[header] == posted.headers[header], header


def test_reads_over_get_need_the_key_and_pass_the_request_guard(service):
    url = f"{str(service.base_url).rstrip('/')}/churn_list"
    for headers in ({}, {"X-API-Key": "wrong"}):
        assert httpx.get(url, headers=headers).status_code == 401
    key = {"X-API-Key": service.headers["X-API-Key"]}
    big = b"x" * (DEFAULT_MAX_BODY_BYTES + 1)
    refused = httpx.request("GET", url, content=big, headers=key, timeout=30)
    assert refused.status_code == 413, refused.text


@pytest.mark.parametrize(
    ("path", "query", "named"),
    [
        ("/churn_list", "stages=at_risk", "stages: not a parameter of this endpoint"),
        ("/churn_list", "limit=abc", "limit: Input should be a valid integer"),
        ("/churn_list", "limit=1&limit=2", "limit: given more than once"),
        ("/action_plan", "stage=at-risk", "stage: unknown stage ['at-risk']"),
        ("/action_plan_csv", "sort_by=risk", "sort_by: not a parameter"),
        ("/churn_list_csv", "min_risk=nan", "min_risk: Input should be a valid number"),
        ("/model_info", "verbose=1", "verbose: not a parameter of this endpoint"),
    ],
)
def test_a_bad_query_is_a_400_naming_the_parameter(service, path, query, named):
    response = service.get(f"{path}?{query}")
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith("invalid request: ")
    assert named in response.json()["error"], response.json()


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/refresh", "POST"),  # acts: POST only
        ("GET", "/score", "POST"),  # takes user ids: never in a URL
        ("PUT", "/churn_list", "GET, POST"),
        ("DELETE", "/model_info", "GET, POST"),
    ],
)
def test_other_methods_get_405_in_json_with_the_allowed_ones(service, method, path, allowed):
    response = service.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert method in response.json()["error"]


def _pages(service, path: str, method: str, **query) -> tuple[list[str], list[dict]]:
    """Every page of a list, following next_offset and sending back the first snapshot id."""
    ids: list[str] = []
    pages: list[dict] = []
    offset, first = 0, None
    while offset is not None:
        params = {**query, "offset": offset, **({"snapshot_id": first} if first else {})}
        if method == "GET":
            response = service.get(path, params=params)
        else:
            response = service.post(path, json=params)
        assert response.status_code == 200, response.text
        page = response.json()
        first = page["snapshot_id"]
        pages.append(page)
        ids += [row["user_id"] for row in page["rows"]]
        offset = page["next_offset"]
    return ids, pages


def test_every_page_of_the_churn_list_makes_the_whole_list(service, scored):
    expected = _by_hand(scored.scores, CHURN_KEYS)
    for method in ("GET", "POST"):
        ids, pages = _pages(service, "/churn_list", method, limit=237)
        assert len(pages) == -(-len(expected) // 237)
        assert len(ids) == len(set(ids)) == len(expected)  # no duplicates, no gaps
        assert ids == expected
        assert {page["total"] for page in pages} == {len(expected)}
        assert len({page["snapshot_id"] for page in pages}) == 1
        ranks = [row["rank"] for page in pages for row in page["rows"]]
        assert ranks == list(range(1, len(expected) + 1))


def test_every_page_of_the_action_plan_csv_makes_the_whole_plan(service, scored):
    scores = scored.scores
    expected = _by_hand(scores[scores["action"] != "no_action"], PLAN_KEYS)
    ids: list[str] = []
    offset: str | None = "0"
    while offset is not None:
        response = service.get("/action_plan_csv", params={"offset": offset, "limit": 400})
        assert response.status_code == 200
        assert int(response.headers["X-Total-Count"]) == len(expected)
        table = pd.read_csv(io.StringIO(response.text), dtype={"user_id": "str"})
        ids += table["user_id"].tolist()
        offset = response.headers.get("X-Next-Offset")
    assert ids == expected and len(set(ids)) == len(expected)


def test_a_page_of_a_snapshot_no_longer_served_is_409(service):
    first = service.get("/churn_list", params={"limit": 10}).json()
    served = first["snapshot_id"]
    assert service.get("/model_info").json()["snapshot"]["snapshot_id"] == served
    again = service.post("/churn_list", json={"offset": 10, "limit": 10, "snapshot_id": served})
    assert again.status_code == 200
    stale = service.get("/churn_list", params={"offset": 10, "snapshot_id": "0123456789abcdef"})
    assert stale.status_code == 409 and "offset 0" in stale.json()["error"]
