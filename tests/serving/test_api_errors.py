"""Error answers over HTTP (issue 19, item 4): every endpoint answers bad bodies with a 400
whose message names the field in the client's words, never a class of BentoML's making.

Runs against the shared `retain serve`. Each endpoint gets a malformed body, a body that is not
a JSON object, a field it does not take and (where it takes fields) a field of the wrong type;
the expected message is written here by hand for each case.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

ENDPOINTS = (
    "/score",
    "/recommend",
    "/explain",
    "/churn_list",
    "/churn_list_csv",
    "/action_plan",
    "/action_plan_csv",
    "/segment_summary",
    "/what_if",
    "/risk_change",
    "/model_info",
    "/refresh",
)
# One field of each endpoint's body, and a value of the wrong type for it (None: takes none).
WRONG_TYPE = {
    "/score": ("user_ids", "u0000001", "user_ids: Input should be a valid array"),
    "/recommend": ("user_ids", [7], "user_ids[0]: Input should be a valid string"),
    "/explain": ("user_id", ["u1"], "user_id: Input should be a valid string"),
    "/churn_list": ("top", "ten", "top: Input should be a valid integer"),
    "/churn_list_csv": ("stage", 3, "stage: should be a string or a list of strings"),
    "/action_plan": ("min_risk", True, "min_risk: Input should be a valid number"),
    "/action_plan_csv": ("offset", -1, "offset: Input should be greater than or equal to 0"),
    "/what_if": ("budget", "lots", "budget: Input should be a valid number"),
    "/risk_change": ("top", 1.5, "top: Input should be a valid integer"),
}
BAD_BODIES = {
    "malformed": (b'{"user_ids": ["u1",', "the body is not valid JSON"),
    "not an object": (b"[1, 2]", "the body must be a JSON object"),
    "unknown field": (b'{"verbose": true}', "verbose: Extra inputs are not permitted"),
}


def _assert_plain_400(response, named: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"].startswith("invalid request: "), body
    assert named in body["error"], body
    assert "IODescriptor" not in response.text and "validation error for" not in response.text
    assert "__Input" not in response.text and "function-after" not in response.text


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_a_bad_body_gets_400_naming_the_problem(service, endpoint, case):
    body, named = BAD_BODIES[case]
    response = service.post(endpoint, content=body, headers={"Content-Type": "application/json"})
    _assert_plain_400(response, named)


@pytest.mark.parametrize("endpoint", sorted(WRONG_TYPE))
def test_a_field_of_the_wrong_type_gets_400_naming_the_field(service, endpoint):
    field, value, named = WRONG_TYPE[endpoint]
    required = {"/explain": {"user_id": "u0000001"}, "/what_if": {"budget": 10.0}}
    body = {**required.get(endpoint, {}), field: value}
    if endpoint in ("/score", "/recommend") and field != "user_ids":
        body["user_ids"] = ["u0000001"]
    _assert_plain_400(service.post(endpoint, json=body), named)


def test_every_problem_is_named_once(service):
    response = service.post("/churn_list", json={"top": 0, "limit": "x", "sort_by": "luck"})
    _assert_plain_400(response, "top: Input should be greater than or equal to 1")
    message = response.json()["error"]
    assert "limit: Input should be a valid integer" in message
    assert "sort_by: Input should be 'value_at_risk', 'risk' or 'gain'" in message
    assert message.count(";") == 2  # three problems, each once
    assert [problem["loc"] for problem in response.json()["detail"]] == [
        ["top"],
        ["limit"],
        ["sort_by"],
    ]
