"""Service configuration from the environment, and the API-key middleware, in process."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from serving.api.auth import ApiKeyMiddleware
from serving.api.settings import ServiceSettings, SettingsError


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
    with pytest.raises(SettingsError, match="RETAIN_AT_RISK_THRESHOLD"):
        ServiceSettings.from_env({"RETAIN_EVENTS": "e.parquet", "RETAIN_AT_RISK_THRESHOLD": "2"})


def test_decision_settings_are_read_and_apply_to_events_only():
    settings = ServiceSettings.from_env(
        {
            "RETAIN_EVENTS": "e.parquet",
            "RETAIN_CONTACTS": "contacts.csv",
            "RETAIN_EFFECTS": "effects.yaml",
            "RETAIN_SEGMENTS": "segments.yaml",
            "RETAIN_AT_RISK_THRESHOLD": "0.3",
        }
    )
    assert settings.contacts == Path("contacts.csv") and settings.effects == Path("effects.yaml")
    assert settings.segments == Path("segments.yaml") and settings.at_risk_threshold == 0.3
    for name, value in (
        ("RETAIN_CONTACTS", "c.csv"),
        ("RETAIN_EFFECTS", "e.yaml"),
        ("RETAIN_SEGMENTS", "s.yaml"),
        ("RETAIN_AT_RISK_THRESHOLD", "0.4"),
    ):
        with pytest.raises(SettingsError, match=f"{name} apply to RETAIN_EVENTS only"):
            ServiceSettings.from_env({"RETAIN_SCORES": "s.parquet", name: value})


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("variable", "content", "message"),
    [
        ("segments", "stages:\n  at_risk_threshold: 1.5\n", "at_risk_threshold"),
        ("segments", "stages: [1, 2]\n", "segments.yaml"),
        ("effects", "schema: something-else\n", "not a `retain effects` file"),
        ("contacts", None, "no such contact history"),
        ("contacts", "user_id,action_id\nu1,habit_nudge\n", "contacts.csv"),
        ("catalogue", "actions: 3\n", "catalogue.yaml"),
    ],
)
def test_a_bad_decision_file_stops_the_service_at_start_with_the_reason(
    tmp_path, variable, content, message
):
    """preflight (run before any worker) reads every decision file; no champion is needed."""
    from serving.api.state import ServiceStartupError, preflight

    events = _write(tmp_path / "events.csv", "user_id,event_time,event_type\n")
    names = {
        "segments": "segments.yaml",
        "effects": "effects.yaml",
        "contacts": "contacts.csv",
        "catalogue": "catalogue.yaml",
    }
    path = tmp_path / names[variable]
    if content is not None:
        _write(path, content)
    settings = ServiceSettings(
        events=events, tracking_uri=f"sqlite:///{tmp_path / 'none.db'}", **{variable: path}
    )
    with pytest.raises(ServiceStartupError, match="cannot start the service") as error:
        preflight(settings)
    assert message in str(error.value)


def test_retain_serve_checks_the_decision_files_before_starting(tmp_path):
    """`retain serve` fails in one line, before BentoML starts, on a bad decision file."""
    from typer.testing import CliRunner

    from retain.cli import app

    events = _write(tmp_path / "events.csv", "user_id,event_time,event_type\n")
    segments = _write(tmp_path / "segments.yaml", "stages:\n  new_days: -1\n")
    result = CliRunner().invoke(
        app, ["serve", "--events", str(events), "--segments", str(segments), "--port", "3999"]
    )
    assert result.exit_code != 0
    assert "new_days" in result.output and "Traceback" not in result.output
    missing = tmp_path / "nowhere.csv"
    result = CliRunner().invoke(app, ["serve", "--events", str(events), "--contacts", str(missing)])
    assert result.exit_code != 0 and "no such contact history" in result.output


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
