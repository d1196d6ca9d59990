"""The `/model_info` answer: what the service serves, without how the server is laid out.

Why it leaves things out: the answer goes to any client holding the key (and to the operator
page), so it says which champions, which snapshot and what kind of registry, but not the
server's paths (the event log's folder, the SQLite file), the registry's credentials or the
worker's process id; an operator who needs those has the server's log. A remote registry is
named by scheme, host and port (`http://mlflow:5000`), a local one by its kind
(`sqlite (local file)`), so a client can still tell a shared store from a laptop's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import bentoml

from serving.api.list_answers import decision_facts, snapshot_id
from serving.api.models import ModelFacts, ModelInfoResponse, SnapshotInfo, WorkerInfo
from serving.api.state import ServingState
from training import resolve_tracking_uri

_LOCAL_STORES = {"sqlite": "sqlite (local file)", "file": "file store (local folder)"}
_NAMED_STORES = ("databricks", "databricks-uc")  # MLflow's bare URIs that are not paths


def describe_registry(tracking_uri: str | None) -> str:
    """The MLflow store's kind and, when remote, its host: never a path or a password."""
    uri = resolve_tracking_uri(tracking_uri)
    if uri in _NAMED_STORES:
        return uri
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme in _LOCAL_STORES:
        return _LOCAL_STORES[scheme]
    if len(scheme) <= 1:  # a bare path, or a Windows drive letter: a local folder
        return _LOCAL_STORES["file"]
    try:
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a malformed port: say no more than the scheme
        host, port = "", ""
    return f"{scheme}://{host}{port}" if host else scheme


def facts(info: Any) -> ModelFacts | None:
    """A registered model version as the answer shows it (None: no such champion)."""
    if info is None:
        return None
    return ModelFacts(
        name=info.name,
        version=info.version,
        run_id=info.run_id,
        trained_at=info.trained_at,
        feature_set_id=info.feature_set_id,
        aliases=list(info.aliases),
        metrics=dict(info.metrics),
    )


def worker() -> WorkerInfo:
    """Which worker answers (its index among the service's workers)."""
    return WorkerInfo(index=bentoml.server_context.worker_index)


def model_info(
    state: ServingState, tracking_uri: str | None, scores_file: bool
) -> ModelInfoResponse:
    """The champions, the snapshot (by name, not path) and the decisions' share of the bound."""
    return ModelInfoResponse(
        feature_set_id=state.champions.feature_set.id,  # what the champions were trained on
        registry=describe_registry(tracking_uri),
        churn=facts(state.champions.churn_info),  # type: ignore[arg-type]
        recall=facts(state.champions.recall_info),
        value=facts(state.champions.value_info),  # type: ignore[arg-type]
        notes=state.champions.notes,
        snapshot=SnapshotInfo(
            snapshot_id=snapshot_id(state),
            as_of=state.snapshot.as_of,
            users=len(state.snapshot),
            source=Path(state.snapshot.source).name,
            source_kind="scores" if scores_file else "events",
            model_versions=state.snapshot.model_versions,
        ),
        decisions=decision_facts(state),
        loaded_at=state.loaded_at,
        worker=worker(),
    )
