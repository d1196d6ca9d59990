"""What `retain monitor` measures, gathered from the store, the score files and the events.

Why here, in the command layer: the judging is `monitoring`'s (pure functions on frames), but
gathering its inputs needs every layer below the CLI at once: the scoring runs' manifests and
score files and the champions (`serving.scoring`), the registry's training figures and the
reference profiles (`training`), labels and features (`features`). `monitoring` may not import
`serving`, so the wiring lives beside the command that uses it.

- Realised quality: every recorded scoring run whose churn horizon has passed by as-of is read
  back from the output its manifest names and judged on labels built from the events with the
  run's own windows, against the out-of-time figures of the model versions that scored it.
  Value figures wait for the value horizon. Runs not yet complete are pending.
- Drift: the users at as-of are scored with the champions (`score_events`, path attribution:
  the reasons are not needed), then the features of active users and the churn probability are
  compared with the churn champion's reference profile, the return probability of lapsed users
  with the recall champion's, and the value heads of every user with the value champion's:
  each model against the population it was validated on.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from features import ACTIVE_FLAG, LoadedEvents, WindowConfig, feature_frame
from monitoring import (
    PROFILE_ARTIFACT,
    Check,
    ColumnDrift,
    MonitorThresholds,
    PendingRun,
    ProfileError,
    RealisedQuality,
    ReferenceProfile,
    column_drift,
    drift_report,
    labels_complete,
    realised_quality,
)
from serving import ScoringConfig, ScoringManifest, read_scores, recorded_scoring_runs, score_events
from training import model_info

Step = Callable[[str], None]


def cutoff_text(moment: datetime) -> str:
    """A cutoff as people write it: the date alone at midnight, else the full timestamp."""
    return moment.date().isoformat() if moment.time() == datetime.min.time() else moment.isoformat()


class _TrainingFigures:
    """Out-of-time metrics of registered versions, looked up once each; None when unknown."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], dict[str, float] | None] = {}

    def __call__(self, kind: str, version: str | None) -> dict[str, float] | None:
        key = (kind, version or "")
        if key not in self._cache:
            try:
                self._cache[key] = model_info(kind, version=version or None).metrics  # type: ignore[arg-type]
            except Exception:  # a deleted version or another store: judged without it
                self._cache[key] = None
        return self._cache[key]


def _judge_run(
    loaded: LoadedEvents,
    as_of: datetime,
    run_id: str,
    manifest: ScoringManifest,
    figures: _TrainingFigures,
    thresholds: MonitorThresholds,
) -> RealisedQuality:
    """Realised figures of one complete run (value figures only once its value horizon passed)."""
    windows = WindowConfig.model_validate(manifest.windows)
    scored_at = manifest.scored_at
    try:
        scores = read_scores(manifest.output)
    except (OSError, ValueError) as error:
        why = Check("scores", None, "ok", f"not judged: the scores cannot be read ({error})")
        return RealisedQuality(cutoff_text(scored_at), {}, (why,), run_id, manifest.output)
    labels = feature_frame(loaded, scored_at, windows, labels=True)[
        ["user_id", "churned", "future_value"]
    ]
    value_done = labels_complete(scored_at, windows.value_horizon_days, as_of)
    if not value_done:
        labels = labels.drop(columns=["future_value"])
    versions = manifest.model_versions
    judged = realised_quality(
        scores,
        labels,
        scored_as_of=cutoff_text(scored_at),
        churn_training=figures("churn", versions.get("churn")),
        value_training=figures("value", versions.get("value")) if value_done else None,
        thresholds=thresholds,
        run_id=run_id,
        source=manifest.output,
    )
    if value_done:
        return judged
    pending = PendingRun.of(scored_at, windows.value_horizon_days)
    note = Check("value", None, "ok", f"value figures pending until {pending.labels_complete_on}")
    return RealisedQuality(
        judged.scored_as_of, judged.metrics, (*judged.checks, note), run_id, manifest.output
    )


def realised_runs(
    loaded: LoadedEvents, as_of: datetime, thresholds: MonitorThresholds, step: Step
) -> tuple[list[RealisedQuality], list[PendingRun], list[str]]:
    """Judged runs, pending runs, and notes on the runs left unjudged (with their counts)."""
    records = recorded_scoring_runs()
    figures = _TrainingFigures()
    realised, pending, notes = [], [], []
    snapshots = 0
    for run_id, manifest in records.runs:
        if not manifest.keeps_scores:
            snapshots += 1
            continue
        churn_days = int(manifest.windows.get("churn_horizon_days", 30))
        if not labels_complete(manifest.scored_at, churn_days, as_of):
            pending.append(PendingRun.of(cutoff_text(manifest.scored_at), churn_days, run_id))
            continue
        step(f"judging the scores of {cutoff_text(manifest.scored_at)} (run {run_id[:8]})")
        realised.append(_judge_run(loaded, as_of, run_id, manifest, figures, thresholds))
    if snapshots:
        notes.append(
            f"{snapshots} service snapshot run(s) not judged: a snapshot's scores are not kept "
            "(serve a `retain score` file to have them judged)"
        )
    notes += [f"scoring run {run_id} not judged: {why}" for run_id, why in records.unreadable]
    return realised, pending, notes


def _profile(run_id: str) -> ReferenceProfile:
    import mlflow

    with tempfile.TemporaryDirectory() as folder:
        try:
            path = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=PROFILE_ARTIFACT, dst_path=folder
            )
        except Exception as error:
            raise ProfileError(f"no {PROFILE_ARTIFACT} ({type(error).__name__})") from None
        return ReferenceProfile.read(Path(path))


def drift_rows(
    loaded: LoadedEvents, as_of: datetime, champions: Any, thresholds: MonitorThresholds
) -> tuple[list[ColumnDrift], list[Check]]:
    """PSI of the features and scores at as-of against the champions' reference profiles.

    A champion without a readable profile (trained before profiles were logged) is a warning
    in the returned checks: drift against it cannot be measured until it is retrained. No
    recall champion (a log in which no lapsed user came back trains none) is not a fault of
    the data: the check says so and is ok; scoring already warns that lapsed users fall back.
    """
    scored = score_events(loaded, champions, as_of, ScoringConfig(attribution="path"))
    features, scores = scored.features, scored.scores
    active = features[ACTIVE_FLAG].to_numpy(dtype=float, na_value=0.0) == 1
    populations = {"churn": active, "recall": ~active, "value": np.ones(len(scores), bool)}
    drift: list[ColumnDrift] = []
    problems: list[Check] = []
    for kind, rows in populations.items():
        info = getattr(champions, f"{kind}_info")
        if info is None:
            detail = "no recall champion: lapsed users are scored by the churn model"
            problems.append(Check(f"reference_profile.{kind}", None, "ok", detail))
            continue
        try:
            profile = _profile(info.run_id)
        except ProfileError as error:
            detail = f"{info.name} v{info.version}: {error}; retrain to measure drift against it"
            problems.append(Check(f"reference_profile.{kind}", None, "warning", detail))
            continue
        if kind == "churn":
            drift += drift_report(profile, features[rows], scores[rows], thresholds)
            continue
        for name, reference in profile.scores.items():
            if name in scores.columns:
                values = scores.loc[rows, name]
                drift.append(column_drift(name, reference, values, thresholds, "score"))
    return drift, problems
