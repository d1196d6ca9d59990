"""Where MLflow logs, and the provenance every run carries.

Why explicit calls and never import-time setup: the tracking URI is a deployment choice
(`MLFLOW_TRACKING_URI`, default `sqlite:///mlflow.db` in the working directory), tests point
it at a temporary store, and importing this module must not create files or change globals.

For a SQLite store the run artifacts go to `mlartifacts/` beside the database file (an
experiment created here gets that explicit artifact location), so a store is one folder that
can be moved or deleted as a whole. Remote stores keep their server's default.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
DEFAULT_EXPERIMENT = "retain"
ARTIFACT_FOLDER = "mlartifacts"


def resolve_tracking_uri(uri: str | None = None) -> str:
    """An explicit URI, else `MLFLOW_TRACKING_URI`, else a SQLite file in the working directory."""
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def sqlite_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///` URI (relative paths resolved now), else None."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return None
    return Path(uri[len(prefix) :]).resolve()


def quiet_mlflow() -> None:
    """Keep MLflow's own chatter out of command output: warnings and errors still show.

    Progress bars for artifact downloads and the database-migration INFO lines are noise in a
    training log; alembic's INFO lines likewise.
    """
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in ("mlflow", "alembic", "optuna"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*Add type hints to the `predict` method.*")
    warnings.filterwarnings("ignore", category=FutureWarning, module="mlflow")


@contextlib.contextmanager
def store_lock(uri: str | None = None) -> Iterator[None]:
    """Hold an exclusive lock on a SQLite store's lock file; a no-op for server stores.

    Why: two `retain train` processes on one fresh SQLite file race on MLflow's schema
    creation (one dies with "duplicate column"), and two first registrations could both take
    `@champion`. Creating the store and registering a version are short, so they are
    serialised with `flock` on `<store>.lock`; a tracking server does its own locking.
    """
    db_file = sqlite_path(resolve_tracking_uri(uri))
    if db_file is None:
        yield
        return
    db_file.parent.mkdir(parents=True, exist_ok=True)
    with open(db_file.with_name(db_file.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def configure(uri: str | None = None, experiment: str = DEFAULT_EXPERIMENT) -> str:
    """Point MLflow (tracking and registry) at `uri`, make sure `experiment` exists; its id.

    Returns the experiment id. Called by every command before it logs anything.
    """
    import mlflow

    quiet_mlflow()
    resolved = resolve_tracking_uri(uri)
    db_file = sqlite_path(resolved)
    if db_file is not None:
        resolved = f"sqlite:///{db_file}"
    mlflow.set_tracking_uri(resolved)
    mlflow.set_registry_uri(resolved)
    with store_lock(resolved):
        client = mlflow.MlflowClient()
        existing = client.get_experiment_by_name(experiment)
        if existing is None:
            location = (db_file.parent / ARTIFACT_FOLDER).as_uri() if db_file else None
            experiment_id = client.create_experiment(experiment, artifact_location=location)
        else:
            experiment_id = existing.experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def git_commit(cwd: Path | None = None) -> str:
    """The current commit (`git rev-parse HEAD`), or 'unknown' outside a repository."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd or Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and commit else "unknown"


def provenance_tags(
    feature_set_id: str, fingerprint: str, config_name: str, kind: str | None = None
) -> dict[str, str]:
    """The tags every run carries: code version, feature-set version, data fingerprint."""
    tags = {
        "git_commit": git_commit(),
        "feature_set_id": feature_set_id,
        "data_fingerprint": fingerprint,
        "config_name": config_name,
    }
    if kind:
        tags["model_kind"] = kind
    return tags


def flatten(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    """Nested config dicts as dotted MLflow params (`churn.params.learning_rate`)."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            flat.update(flatten(name, value))
        elif isinstance(value, list | tuple):
            flat[name] = ",".join(str(item) for item in value) if value else "none"
        else:
            flat[name] = "none" if value is None else value
    return flat


def finite(metrics: dict[str, float]) -> dict[str, float]:
    """MLflow rejects nothing, but NaN metrics sort badly in the UI: drop them."""
    return {k: float(v) for k, v in metrics.items() if v == v and abs(v) != float("inf")}
