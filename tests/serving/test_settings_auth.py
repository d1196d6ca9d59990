"""Service configuration from the environment, and the API-key middleware, in process."""

from __future__ import annotations

import warnings

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from serving.auth import ApiKeyMiddleware
from serving.settings import ServiceSettings, SettingsError


def test_settings_need_exactly_one_source():
    with pytest.raises(SettingsError, match="exactly one of RETAIN_EVENTS"):
        ServiceSettings.from_env({})
    with pytest.raises(SettingsError, match="exactly one"):
        ServiceSettings.from_env({"RETAIN_EVENTS": "e.parquet", "RETAIN_SCORES": "s.parquet"})
    settings = ServiceSettings.from_env(
        {"RETAIN_EVENTS": "e.parquet", "RETAIN_SCORES": "", "RETAIN_BUDGET": "50"}
    )
    assert settings.budget == 50 and settings.scores is None


def test_settings_name_the_bad_variable():
    with pytest.raises(SettingsError, match="RETAIN_BUDGET"):
        ServiceSettings.from_env({"RETAIN_EVENTS": "e.parquet", "RETAIN_BUDGET": "-1"})
    with pytest.raises(SettingsError, match="RETAIN_AS_OF"):
        ServiceSettings.from_env({"RETAIN_EVENTS": "e.parquet", "RETAIN_AS_OF": "yesterday"})
    with pytest.raises(SettingsError, match="RETAIN_REASONS"):
        ServiceSettings.from_env({"RETAIN_EVENTS": "e.parquet", "RETAIN_REASONS": "magic"})
    with pytest.raises(SettingsError, match="apply to RETAIN_EVENTS only"):
        ServiceSettings.from_env({"RETAIN_SCORES": "s.parquet", "RETAIN_BUDGET": "5"})


def _test_client(app):
    with warnings.catch_warnings():  # starlette nags about httpx vs httpx2 on import
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    return TestClient(app)


def _client(api_key: str | None):
    async def ok(request):
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/score", ok, methods=["POST"]), Route("/readyz", ok)])
    return _test_client(ApiKeyMiddleware(app, api_key=api_key))


def test_no_key_configured_lets_everything_through(monkeypatch):
    monkeypatch.delenv("RETAIN_API_KEY", raising=False)
    assert _client(None).post("/score").status_code == 200


def test_a_configured_key_is_required_except_on_probes():
    client = _client("s3cret")
    missing = client.post("/score")
    assert missing.status_code == 401
    assert "missing API key" in missing.json()["error"]
    wrong = client.post("/score", headers={"X-API-Key": "guess"})
    assert wrong.status_code == 401 and "wrong API key" in wrong.json()["error"]
    assert client.post("/score", headers={"X-API-Key": "s3cret"}).status_code == 200
    assert client.get("/readyz").status_code == 200


def test_the_key_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("RETAIN_API_KEY", "from-env")
    app = ApiKeyMiddleware(Starlette(), api_key=None)
    assert _test_client(app).post("/score").status_code == 401
