"""Serving replicas (issue 9, item 4): two workers pick up a promotion with no downtime.

The Bento runs with two workers (BentoML's `workers` setting, here through
BENTOML_CONFIG_OVERRIDES). Each worker polls `@champion` every RETAIN_REFRESH_SECONDS and,
when it moved, builds the new snapshot beside the old one and swaps it in. The test moves
`@champion` with a rollback (to a second registered version) while requests flow, then
polls /model_info over fresh connections until both workers report the new version; every
request in the meantime must succeed.
"""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from tests.serving.conftest import clone_store, running_service
from training import rollback

pytestmark = pytest.mark.slow
WORKERS = 2
SWITCH_TIMEOUT_S = 120


def _register_copy_of_version_1(tracking_uri: str) -> None:
    """A second version of each model (same artefact): something to move `@champion` to."""
    import mlflow

    # MLflow resolves a `models:/m-…` source through the *global* tracking URI, which another
    # test may have pointed elsewhere: make this store the global one too.
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    for name in ("retain-churn", "retain-value"):
        first = client.get_model_version(name, "1")
        second = client.create_model_version(
            name, source=first.source, run_id=first.run_id, tags=dict(first.tags)
        )
        assert second.version in ("2", 2)


def _versions_by_worker(base: str, rounds: int = 12) -> dict[int, tuple[str, str]]:
    """Ask /model_info on fresh connections (each may land on either worker)."""
    seen: dict[int, tuple[str, str]] = {}
    for _ in range(rounds):
        body = httpx.post(f"{base}/model_info", timeout=30).json()
        assert body["snapshot"]["model_versions"]["churn"] == body["churn"]["version"]
        seen[body["worker"]["index"]] = (body["churn"]["version"], body["value"]["version"])
    return seen


def test_two_workers_switch_to_the_promoted_version_without_downtime(serving_store, tmp_path):
    store = clone_store(serving_store, tmp_path / "store")
    _register_copy_of_version_1(store.tracking_uri)
    # The workers come from the flag, merged into the operator's own BentoML overrides.
    overrides = json.dumps({"services": {"retain": {"traffic": {"timeout": 90}}}})
    args = ("--events", str(store.events), "--workers", str(WORKERS), "--no-access-log")
    env = {"RETAIN_REFRESH_SECONDS": "2", "BENTOML_CONFIG_OVERRIDES": overrides}
    with running_service(store, *args, **env) as server:
        deadline = time.monotonic() + 60
        seen: dict[int, tuple[str, str]] = {}
        while len(seen) < WORKERS and time.monotonic() < deadline:
            seen.update(_versions_by_worker(server.base))
        assert set(seen.values()) == {("1", "1")} and len(seen) == WORKERS, seen

        failures: list[str] = []
        answered = [0]
        stop = threading.Event()

        def traffic() -> None:
            while not stop.is_set():
                try:
                    response = httpx.post(
                        f"{server.base}/score", json={"user_ids": ["u0000001"]}, timeout=30
                    )
                    if response.status_code != 200:
                        failures.append(f"{response.status_code}: {response.text[:200]}")
                    answered[0] += 1
                except httpx.HTTPError as error:
                    failures.append(repr(error))

        thread = threading.Thread(target=traffic)
        thread.start()
        try:
            flowing = time.monotonic() + 60
            while answered[0] < 10 and time.monotonic() < flowing:  # traffic before the move
                time.sleep(0.1)
            before_switch = answered[0]
            promoted_at = time.monotonic()
            # In this process (its MLflow already points at the store): two `retain rollback`
            # processes cost ~10 CPU s of imports that the workers' switch waited behind.
            for model in ("churn", "value"):
                assert rollback(model, "2").promoted
            latest: dict[int, tuple[str, str]] = {}
            while time.monotonic() - promoted_at < SWITCH_TIMEOUT_S:
                latest.update(_versions_by_worker(server.base))
                if len(latest) == WORKERS and set(latest.values()) == {("2", "2")}:
                    break
                time.sleep(0.5)
            switched_after = time.monotonic() - promoted_at
            during_switch = answered[0] - before_switch
        finally:
            stop.set()
            thread.join(timeout=60)
    assert set(latest.values()) == {("2", "2")} and len(latest) == WORKERS, latest
    assert failures == [], failures[:5]
    assert before_switch >= 10 and during_switch >= 5, (before_switch, during_switch)
    assert "path=/score" not in server.log()  # --no-access-log: no line per request
    print(
        f"both workers on v2 {switched_after:.1f}s after the first rollback began; "
        f"{answered[0]} requests ({during_switch} during the switch), all 200"
    )
