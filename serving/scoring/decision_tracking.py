"""Every `retain score` leaves a record in MLflow: what its decisions achieved, against a bound.

Why: "is the plan any good" must be answerable after the fact, next to the models that made it.
The run (experiment `retain-scoring`) holds the cutoff, the champion versions, where the scores
were written, and the decision summary: users contacted, cost, expected gain achieved, the
upper bound on any plan under the same limits and the share of it reached, contacts by action.
The scores themselves stay where they were written.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from serving.decisions import DecisionSummary

SCORING_EXPERIMENT = "retain-scoring"


def log_decision_run(
    summary: DecisionSummary,
    *,
    as_of: datetime,
    versions: dict[str, str],
    output: str | Path,
    engine: str,
) -> str:
    """Log one scoring run's decisions to the tracking store MLflow points at; its run id.

    The store is the one the champions were loaded from (`serving.scoring.champions.point_mlflow_at`
    has set it), so the record lands beside the models that made the decisions.
    """
    import mlflow

    mlflow.set_experiment(SCORING_EXPERIMENT)
    params = {
        "as_of": f"{as_of:%Y-%m-%d %H:%M:%S}",
        "output": str(output),
        "engine": engine,
        "budget": "none" if summary.budget is None else summary.budget,
        "allocation_method": summary.method,
        **{f"model_version.{kind}": version for kind, version in versions.items()},
    }
    metrics = {
        "users": float(summary.users),
        "contacted": float(summary.contacted),
        "cost": summary.cost,
        "achieved_gain": summary.achieved_gain,
        "upper_bound": summary.upper_bound,
        "share_of_bound": summary.share_of_bound,
        **{f"contacts.{action}": float(n) for action, n in summary.by_action.items()},
    }
    with mlflow.start_run(run_name=f"score-{as_of:%Y-%m-%d}") as run:
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        return run.info.run_id
