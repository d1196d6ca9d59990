"""Prometheus gauges on `/metrics`: what the service serves, how old it is, the monitor's verdict.

Why gauges beside BentoML's request metrics: a dashboard or an alert should see without a
request that a worker still serves last week's snapshot, which model versions it serves, how
many users it knows, how risky they look (churn-probability quantiles) and what the latest
`retain monitor` concluded. `bentoml.metrics` is BentoML's drop-in for `prometheus_client` that
sets up its multiprocess mode; each gauge is per worker (`multiprocess_mode="liveall"`: a
`pid` label, dropped when the worker exits).

- `retain_snapshot_age_seconds`: now − the snapshot's as-of, set at every state swap and poll;
- `retain_snapshot_users`: users in the snapshot;
- `retain_model_version{model}`: the version each model kind serves (absent: no champion);
- `retain_churn_probability_quantile{quantile}`: 0.1, 0.25, 0.5, 0.75, 0.9 of the snapshot;
- `retain_monitor_status`: the latest monitoring run's status, 0 ok, 1 warning, 2 critical, -1
  when no run is recorded (read from MLflow experiment `retain-monitoring` at each poll).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from functools import cache
from typing import Any

import numpy as np

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
log = logging.getLogger("retain.service")


@cache
def _gauges() -> dict[str, Any]:
    """Created once per process, on first use (never at import: BentoML sets up the registry)."""
    import bentoml

    def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Any:
        return bentoml.metrics.Gauge(
            name=name, documentation=doc, labelnames=list(labels), multiprocess_mode="liveall"
        )

    return {
        "age": gauge("retain_snapshot_age_seconds", "Seconds since the served snapshot's as-of."),
        "users": gauge("retain_snapshot_users", "Users in the served snapshot."),
        "version": gauge(
            "retain_model_version", "Model version served, by model kind.", ("model",)
        ),
        "quantile": gauge(
            "retain_churn_probability_quantile",
            "Churn-probability quantiles of the served snapshot.",
            ("quantile",),
        ),
        "monitor": gauge(
            "retain_monitor_status",
            "Latest retain monitor status: 0 ok, 1 warning, 2 critical, -1 none recorded.",
        ),
    }


def publish_state(state: Any) -> None:
    """Set the snapshot's gauges (users, versions, risk quantiles, age) after a state swap."""
    gauges = _gauges()
    snapshot = state.snapshot
    gauges["users"].set(len(snapshot))
    for kind, version in state.champions.versions.items():
        if version is not None and str(version).isdigit():
            gauges["version"].labels(model=kind).set(int(version))
    risk = snapshot.scores["churn_probability"].to_numpy(dtype=float)
    risk = risk[np.isfinite(risk)]
    for q in QUANTILES:
        value = float(np.quantile(risk, q)) if risk.size else float("nan")
        gauges["quantile"].labels(quantile=str(q)).set(value)
    publish_age(state)


def publish_age(state: Any, now: datetime | None = None) -> None:
    """Seconds from the snapshot's as-of to now (kept current by the service's poll)."""
    as_of = state.snapshot.as_of
    if as_of is None:
        return
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    _gauges()["age"].set(((now or datetime.now(UTC)) - as_of).total_seconds())


def latest_monitor_status() -> int:
    """The status of the newest `retain-monitoring` run in the store MLflow points at, as a
    code (-1: none recorded, or the store cannot be read: the gauge must never fail a poll)."""
    try:
        import mlflow

        from monitoring import MONITORING_EXPERIMENT, exit_code

        experiment = mlflow.get_experiment_by_name(MONITORING_EXPERIMENT)
        if experiment is None:
            return -1
        runs = mlflow.MlflowClient().search_runs(
            [experiment.experiment_id], order_by=["attributes.start_time DESC"], max_results=1
        )
        if not runs:
            return -1
        status = runs[0].data.tags.get("status", "")
        return exit_code(status) if status in ("ok", "warning", "critical") else -1
    except Exception as error:  # a store hiccup: report unknown, say why once per poll
        log.warning("monitor status unavailable: %s", error)
        return -1


def publish_monitor_status() -> None:
    _gauges()["monitor"].set(latest_monitor_status())
