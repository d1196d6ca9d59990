"""Every scoring run leaves a record in MLflow: its manifest, and what its decisions achieved.

Why: "is the plan any good" and "did the scores come true" must be answerable after the fact,
next to the models that made them. One run per `retain score` (either engine) and per service
snapshot, in experiment `retain-scoring`, holds:
- the manifest (`serving.scoring.manifest`): cutoff, windows, champion versions, feature set,
  data fingerprint, where the scores were written, users by stage, tier and action, score
  quantiles; as params and metrics, and whole as the artifact `manifest.json`, which
  `retain monitor` reads back to find the scores and judge them once their horizon has passed;
- the decision summary, when there is one: users contacted, cost, expected gain achieved, the
  upper bound on any plan under the same limits and the share of it reached, contacts by action.
The scores themselves stay where they were written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from features import FEATURE_SET, WindowConfig
from serving.decisions import DecisionSummary
from serving.scoring.manifest import (
    MANIFEST_ARTIFACT,
    SERVICE_SNAPSHOT,
    ManifestError,
    ScoringManifest,
    build_manifest,
)
from serving.scoring.snapshot import Snapshot

SCORING_EXPERIMENT = "retain-scoring"


def _decision_figures(summary: DecisionSummary) -> tuple[dict[str, str], dict[str, float]]:
    params = {
        "budget": "none" if summary.budget is None else str(summary.budget),
        "allocation_method": summary.method,
    }
    metrics = {
        "contacted": float(summary.contacted),
        "cost": summary.cost,
        "achieved_gain": summary.achieved_gain,
        "upper_bound": summary.upper_bound,
        "share_of_bound": summary.share_of_bound,
        **{f"contacts.{action}": float(n) for action, n in summary.by_action.items()},
    }
    return params, metrics


def log_decision_run(manifest: ScoringManifest, summary: DecisionSummary | None = None) -> str:
    """Log one scoring run (its manifest, its decisions if any) to MLflow; its run id.

    The store is the one the champions were loaded from (`point_mlflow_at` has set it), so the
    record lands beside the models that made the scores. The experiment is created the way
    training creates its own (artifacts beside a SQLite store), never in the working directory.
    """
    import mlflow

    from training import configure, finite

    configure(mlflow.get_tracking_uri(), SCORING_EXPERIMENT)
    params, metrics = manifest.params(), manifest.metrics()
    if summary is not None:
        extra_params, extra_metrics = _decision_figures(summary)
        params |= extra_params
        metrics |= extra_metrics
    prefix = "snapshot" if not manifest.keeps_scores else "score"
    with mlflow.start_run(run_name=f"{prefix}-{manifest.scored_at:%Y-%m-%d}") as run:
        mlflow.log_params(params)
        mlflow.log_metrics(finite(metrics))
        mlflow.log_text(manifest.to_json(), MANIFEST_ARTIFACT)
        return run.info.run_id


def record_scoring_run(
    scores: Any,
    *,
    as_of: datetime,
    engine: str,
    output: str | Path,
    source: Path,
    model_versions: Mapping[str, str],
    windows: WindowConfig,
    decisions: DecisionSummary | None = None,
) -> str:
    """Build the manifest of a score table (pandas or Spark) and log it with the decisions.

    The data fingerprint is `training.data_fingerprint` of `source` (the event log, the feature
    table or the score file the run read), as training records it for its own data.
    """
    from training import data_fingerprint

    manifest = build_manifest(
        scores,
        as_of=as_of,
        engine=engine,
        output=output,
        source=source.resolve(),
        model_versions=model_versions,
        feature_set_id=_feature_set_of(scores),
        data_fingerprint=data_fingerprint(source),
        windows=windows.model_dump(mode="json"),
    )
    return log_decision_run(manifest, decisions)


def _feature_set_of(scores: Any) -> str:
    """The feature set the scores were computed from (their `feature_set_id` column: the
    champions'); FEATURE_SET for an empty table or one written before the column existed."""
    import pandas as pd

    if "feature_set_id" not in scores.columns:
        return FEATURE_SET.id
    if isinstance(scores, pd.DataFrame):
        return str(scores["feature_set_id"].iloc[0]) if len(scores) else FEATURE_SET.id
    first = scores.select("feature_set_id").first()  # a Spark DataFrame
    return str(first[0]) if first is not None else FEATURE_SET.id


def record_snapshot(snapshot: Snapshot, source: Path, windows: WindowConfig) -> str | None:
    """Record a service snapshot's manifest (output: SERVICE_SNAPSHOT); None when it is empty.

    `source` is the event log it was scored from or the score file it serves. The scores live
    only in the workers' memory, so `retain monitor` lists these runs but cannot judge them;
    a score file served as is keeps its own `retain score` record for that.
    """
    if snapshot.scores.empty:
        return None
    import pandas as pd

    return record_scoring_run(
        snapshot.scores,
        as_of=pd.Timestamp(snapshot.scores["as_of"].iloc[0]).to_pydatetime(),
        engine="service",
        output=SERVICE_SNAPSHOT,
        source=source,
        model_versions=snapshot.model_versions,
        windows=windows,
        decisions=snapshot.decisions,
    )


@dataclass(frozen=True)
class RecordedRuns:
    """The scoring runs found in the store, oldest first, and those that could not be read."""

    runs: tuple[tuple[str, ScoringManifest], ...]  # (run id, manifest)
    unreadable: tuple[tuple[str, str], ...]  # (run id, why)


def recorded_scoring_runs() -> RecordedRuns:
    """Every finished run of `retain-scoring` with its manifest (MLflow already pointed at).

    A run without a readable `manifest.json` (recorded before manifests existed, or damaged) is
    listed in `unreadable` with the reason, never silently left out.
    """
    import mlflow

    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name(SCORING_EXPERIMENT)
    if experiment is None:
        return RecordedRuns((), ())
    found, token = [], None
    while True:  # paged: a daily schedule outgrows one page within a few years
        page = client.search_runs(
            [experiment.experiment_id],
            "attributes.status = 'FINISHED'",
            order_by=["attributes.start_time ASC"],
            page_token=token,
        )
        found += list(page)
        token = page.token
        if not token:
            break
    runs, unreadable = [], []
    for run in found:
        run_id = run.info.run_id
        try:
            text = mlflow.artifacts.load_text(f"runs:/{run_id}/{MANIFEST_ARTIFACT}")
            runs.append((run_id, ScoringManifest.from_json(text)))
        except ManifestError as error:
            unreadable.append((run_id, str(error)))
        except Exception as error:  # MLflow raises several types for a missing artifact
            unreadable.append((run_id, f"no {MANIFEST_ARTIFACT} ({type(error).__name__})"))
    return RecordedRuns(tuple(runs), tuple(unreadable))
