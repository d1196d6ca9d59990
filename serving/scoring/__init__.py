"""Turning events into scored users: the champions from the registry, the scoring pipeline on
DuckDB and Spark, contributions and path attribution, score files, re-deciding from them, the
snapshot the service serves, and the MLflow record (manifest) of every scoring run.

Why: it is the one pipeline from features to decisions; the CLI, the service and the report all
read its output instead of recomputing it.
"""

from __future__ import annotations

from serving.scoring.champions import (
    MODEL_KINDS,
    Champions,
    ChampionsUnavailableError,
    load_champions,
    point_mlflow_at,
    refuse_window_flags,
)
from serving.scoring.decision_tracking import (
    SCORING_EXPERIMENT,
    RecordedRuns,
    log_decision_run,
    record_scoring_run,
    record_snapshot,
    recorded_scoring_runs,
)
from serving.scoring.manifest import (
    MANIFEST_ARTIFACT,
    SERVICE_SNAPSHOT,
    ManifestError,
    ScoringManifest,
    build_manifest,
)
from serving.scoring.pipeline import VERSION_COLUMNS, ScoringConfig, latest_cutoff, score_events
from serving.scoring.redecide import redecide
from serving.scoring.score_files import read_scores
from serving.scoring.snapshot import Snapshot, decisions_from_attrs, split_reasons
from serving.scoring.spark import (
    SCORING_DAEMON,
    SparkScored,
    score_spark,
    score_summary,
    write_scores,
)
from serving.scoring.stream_output import narrow_scores
from serving.scoring.stream_run import StreamedRun, score_streamed
from serving.scoring.streaming import StreamPlan, check_streamable, choose_plan, count_users

__all__ = [
    "MANIFEST_ARTIFACT",
    "MODEL_KINDS",
    "SCORING_DAEMON",
    "SCORING_EXPERIMENT",
    "SERVICE_SNAPSHOT",
    "VERSION_COLUMNS",
    "Champions",
    "ChampionsUnavailableError",
    "ManifestError",
    "RecordedRuns",
    "ScoringConfig",
    "ScoringManifest",
    "Snapshot",
    "SparkScored",
    "StreamPlan",
    "StreamedRun",
    "build_manifest",
    "check_streamable",
    "choose_plan",
    "count_users",
    "decisions_from_attrs",
    "latest_cutoff",
    "load_champions",
    "log_decision_run",
    "narrow_scores",
    "point_mlflow_at",
    "read_scores",
    "record_scoring_run",
    "record_snapshot",
    "recorded_scoring_runs",
    "redecide",
    "refuse_window_flags",
    "score_events",
    "score_spark",
    "score_streamed",
    "score_summary",
    "split_reasons",
    "write_scores",
]
