"""Every `retain monitor` leaves an MLflow run (experiment `retain-monitoring`) with its figures.

Why: the exit code tells a scheduler what to do today; the runs let a person see a decay or a
drift build up over weeks, in the same store as the models and the scoring runs they judge.
Per run: the verdict (`status`, `exit_code` as a metric and a tag), each column's PSI
(`psi.<column>`), each data-health figure (`health.<check>`), each judged scoring run's realised
figures (`realised.<scored as-of>.<figure>`), the thresholds as YAML and the whole report as
`monitor.json`, the exact object `retain monitor --json` prints.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from monitoring.config import MonitorThresholds
from monitoring.report import MonitorReport

MONITORING_EXPERIMENT = "retain-monitoring"
REPORT_ARTIFACT = "monitor.json"


def monitor_metrics(report: MonitorReport) -> dict[str, float]:
    """The report's figures as flat MLflow metrics (unmeasurable ones left out)."""
    metrics: dict[str, float] = {
        "exit_code": float(report.exit_code),
        "realised_runs": float(len(report.realised)),
        "pending_runs": float(len(report.pending)),
        **{
            f"drift_{level}": float(sum(d.status == level for d in report.drift))
            for level in ("warning", "critical")
        },
    }
    metrics.update({f"psi.{column.feature}": column.psi for column in report.drift})
    metrics.update({f"health.{c.name}": c.value for c in report.health if c.value is not None})
    for run in report.realised:
        when = (run.scored_as_of or "unknown")[:10]
        metrics.update({f"realised.{when}.{name}": v for name, v in run.metrics.items()})
    return {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(v)}


def log_monitor_run(
    report: MonitorReport,
    thresholds: MonitorThresholds,
    params: Mapping[str, str],
) -> str:
    """Log one monitoring run to the store MLflow points at; its run id.

    `params` are the caller's facts (events, champion versions); the experiment is created the
    way training creates its own (artifacts beside a SQLite store).
    """
    import mlflow

    from training import configure

    configure(mlflow.get_tracking_uri(), MONITORING_EXPERIMENT)
    tags = {"status": report.status}
    with mlflow.start_run(run_name=f"monitor-{report.as_of[:10]}", tags=tags) as run:
        mlflow.log_params({"as_of": report.as_of, **{k: str(v)[:6000] for k, v in params.items()}})
        mlflow.log_metrics(monitor_metrics(report))
        mlflow.log_text(thresholds.to_yaml(), "thresholds.yaml")
        mlflow.log_text(report.to_json(), REPORT_ARTIFACT)
        return run.info.run_id
