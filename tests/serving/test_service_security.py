"""Security of the service (issue 6, item 5): key check, body limits, quiet logs, no paths.

Runs against the shared `retain serve` (API key required) and its log file.
"""

from __future__ import annotations

import hmac
import typing
from pathlib import Path

import httpx
import pytest
from pydantic import BaseModel

from serving.api import auth
from serving.api.list_requests import ActionPlanRequest, ChurnListRequest
from serving.api.models import ExplainRequest, NoParameters, UserIdsRequest
from serving.api.operator_models import RiskChangeRequest, WhatIfRequest
from serving.api.settings import DEFAULT_MAX_BODY_BYTES

pytestmark = pytest.mark.slow


def test_the_key_is_compared_in_constant_time(monkeypatch):
    import warnings

    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    with warnings.catch_warnings():  # starlette nags about httpx vs httpx2 on import
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    calls = []
    real = hmac.compare_digest

    def spy(given, expected):
        calls.append((given, expected))
        return real(given, expected)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    app = Starlette(routes=[Route("/x", lambda request: PlainTextResponse("ok"))])
    client = TestClient(auth.ApiKeyMiddleware(app, api_key="s3cret"))
    assert client.get("/x", headers={"X-API-Key": "s3cret"}).status_code == 200
    assert client.get("/x", headers={"X-API-Key": "guess"}).status_code == 401
    assert calls == [(b"s3cret", b"s3cret"), (b"guess", b"s3cret")]


def test_an_oversized_body_gets_413_declared_or_chunked(service):
    big = b'{"user_ids": ["' + b"x" * (DEFAULT_MAX_BODY_BYTES + 10) + b'"]}'
    headers = {"Content-Type": "application/json"}
    declared = service.post("/score", content=big, headers=headers)
    assert declared.status_code == 413 and "too large" in declared.json()["error"]

    def chunks():
        for start in range(0, len(big), 1 << 20):
            yield big[start : start + (1 << 20)]

    chunked = service.post("/score", content=chunks(), headers=headers)
    assert chunked.status_code == 413 and "too large" in chunked.json()["error"]
    assert service.post("/score", json={"user_ids": ["u0000001"]}).status_code == 200


def test_a_non_json_body_gets_415(service):
    response = service.post(
        "/score", content=b"user_ids=u1", headers={"Content-Type": "multipart/form-data"}
    )
    assert response.status_code == 415 and "application/json" in response.json()["error"]


def test_no_user_ids_or_feature_values_in_the_log(service, running_shared_service, scored):
    known = scored.scores["user_id"].iloc[17]
    secret = "zz-secret-user-4711"
    assert service.post("/score", json={"user_ids": [known, secret]}).status_code == 200
    assert service.post("/recommend", json={"user_ids": [known, secret]}).status_code == 200
    explained = service.post("/explain", json={"user_id": known, "top_k": 5})
    assert explained.status_code == 200
    assert service.post("/score", json={"user_ids": [secret], "oops": 1}).status_code == 400
    assert service.post("/explain", json={"user_id": [secret]}).status_code == 400
    log = running_shared_service.log()
    assert "serving 3000 users" in log  # our INFO lines are in this log
    assert known not in log and secret not in log
    for contribution in explained.json()["contributions"]:
        assert contribution["text"] not in log


def _field_types(model: type[BaseModel]) -> list[typing.Any]:
    found = []
    for field in model.model_fields.values():
        stack = [field.annotation]
        while stack:
            annotation = stack.pop()
            found.append(annotation)
            stack.extend(typing.get_args(annotation))
    return found


def test_no_request_takes_a_file_path(service):
    requests = (UserIdsRequest, ExplainRequest, ChurnListRequest, ActionPlanRequest, NoParameters)
    for model in (*requests, RiskChangeRequest, WhatIfRequest):
        assert not any(isinstance(t, type) and issubclass(t, Path) for t in _field_types(model)), (
            model
        )
    body = service.post("/score", json={"user_ids": ["../../etc/passwd"]}).json()
    assert body["items"][0]["status"] == "unknown_user"
    for path in ("/ui/../../etc/passwd", "/ui/%2e%2e/%2e%2e/etc/passwd"):
        response = httpx.get(f"{service.base_url}{path}")
        assert "root:" not in response.text
