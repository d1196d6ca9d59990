"""The model registry: `retain-churn`, `retain-recall` and `retain-value`, versions and aliases.

Why aliases, not stages: MLflow deprecated stages; an alias is a movable pointer, so serving
loads `models:/retain-churn@champion` and never needs a version number. Every newly registered
version becomes `challenger`; the very first version of a model also becomes `champion` (there
is nothing to beat). Only `training.promotion` moves `champion` afterwards.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from training.config import ModelKind
from training.model_environment import load_pyfunc

REGISTERED_NAMES: dict[ModelKind, str] = {
    "churn": "retain-churn",
    "recall": "retain-recall",
    "value": "retain-value",
}
CHAMPION = "champion"
CHALLENGER = "challenger"
OOT_PREFIX = "oot_"
# The run parameter holding the event types a behavioural_v2 model has per-type columns for,
# as a JSON list (empty for v1): scoring rebuilds exactly those columns from it.
EVENT_TYPES_PARAM = "feature_event_types"


def registered_name(kind: ModelKind) -> str:
    """`retain-churn`, `retain-recall` or `retain-value`."""
    if kind not in REGISTERED_NAMES:
        raise ValueError(f"unknown model {kind!r}; choose one of: {', '.join(REGISTERED_NAMES)}")
    return REGISTERED_NAMES[kind]


@dataclass(frozen=True)
class ModelInfo:
    """What serving (and operators) need to know about a registered model version."""

    name: str
    version: str
    run_id: str
    trained_at: datetime
    feature_set_id: str
    metrics: dict[str, float] = field(default_factory=dict)  # OOT metrics, without the prefix
    aliases: tuple[str, ...] = ()
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def event_types(self) -> tuple[str, ...]:
        """The event types the run recorded for its per-type columns (empty: none recorded)."""
        raw = self.params.get(EVENT_TYPES_PARAM)
        if not raw:
            return ()
        try:
            values = json.loads(raw)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"{self.name} v{self.version}: run parameter {EVENT_TYPES_PARAM} is not a JSON "
                f"list ({raw[:80]!r})"
            ) from error
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ValueError(f"{self.name} v{self.version}: {EVENT_TYPES_PARAM} must list text")
        return tuple(values)


def _client() -> Any:
    import mlflow

    return mlflow.MlflowClient()


def register(
    model_uri: str, kind: ModelKind, run_id: str, tags: dict[str, str]
) -> tuple[str, list[str]]:
    """Register a logged model as a new version; returns (version, aliases it received)."""
    import mlflow

    from training.tracking import store_lock

    client = _client()
    name = registered_name(kind)
    with store_lock(mlflow.get_registry_uri()):  # one registration at a time on SQLite
        version = str(mlflow.register_model(model_uri, name, tags=tags).version)
        aliases = [CHALLENGER]
        client.set_registered_model_alias(name, CHALLENGER, version)
        if champion_version(kind) is None:
            set_champion(kind, version, "first model registered", None)
            aliases.append(CHAMPION)
    return version, aliases


def set_champion(kind: ModelKind, version: str, reason: str, previous: str | None) -> None:
    """Point `@champion` at `version`, tagging when, why and what it replaced."""
    client = _client()
    name = registered_name(kind)
    client.set_registered_model_alias(name, CHAMPION, version)
    client.set_model_version_tag(name, version, "promoted_at", datetime.now(UTC).isoformat())
    client.set_model_version_tag(name, version, "promotion_reason", reason[:5000])
    client.set_model_version_tag(name, version, "previous_champion", previous or "none")


def _alias_version(kind: ModelKind, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(_client().get_model_version_by_alias(registered_name(kind), alias).version)
    except MlflowException:
        return None


def champion_version(kind: ModelKind) -> str | None:
    """The version behind `@champion`, or None when there is none (or no model at all)."""
    return _alias_version(kind, CHAMPION)


def challenger_version(kind: ModelKind) -> str | None:
    """The version behind `@challenger`, or None."""
    return _alias_version(kind, CHALLENGER)


def versions(kind: ModelKind) -> list[str]:
    """Every registered version of the model, oldest first."""
    found = _client().search_model_versions(f"name='{registered_name(kind)}'")
    return sorted((str(v.version) for v in found), key=int)


def model_info(kind: ModelKind, version: str | None = None, alias: str = CHAMPION) -> ModelInfo:
    """Registry and run facts for a version (by number, else by alias)."""
    client = _client()
    name = registered_name(kind)
    if version is None:
        found = _alias_version(kind, alias)
        if found is None:
            raise LookupError(f"{name} has no version with alias @{alias}; train one first")
        version = found
    model_version = client.get_model_version(name, version)
    run = client.get_run(model_version.run_id)
    metrics = {
        key[len(OOT_PREFIX) :]: value
        for key, value in run.data.metrics.items()
        if key.startswith(OOT_PREFIX)
    }
    return ModelInfo(
        name=name,
        version=str(model_version.version),
        run_id=model_version.run_id,
        trained_at=datetime.fromtimestamp(run.info.start_time / 1000, tz=UTC),
        feature_set_id=run.data.tags.get("feature_set_id", "unknown"),
        metrics=metrics,
        aliases=tuple(model_version.aliases or ()),
        params=dict(run.data.params),
        tags=dict(model_version.tags or {}),
    )


def model_uri(kind: ModelKind, alias: str = CHAMPION, version: str | None = None) -> str:
    """`models:/retain-churn@champion` (or `models:/retain-churn/3` for a version)."""
    name = registered_name(kind)
    return f"models:/{name}/{version}" if version else f"models:/{name}@{alias}"


def load_model(name: str, alias: str = CHAMPION) -> Any:
    """The pyfunc model behind `models:/<name>@<alias>` (`predict` gives one number per row)."""
    return load_pyfunc(f"models:/{name}@{alias}")


def load_estimator(kind: ModelKind, alias: str = CHAMPION, version: str | None = None) -> Any:
    """The fitted ChurnClassifier/RecallClassifier/ValueRegressor inside a registered model."""
    return load_pyfunc(model_uri(kind, alias, version)).unwrap_python_model().estimator


def load_champion(kind: ModelKind) -> tuple[Any, ModelInfo]:
    """Serving's entry point: the champion estimator and its facts, from the same version.

    The version is resolved once and loaded by number, so the estimator and its ModelInfo
    cannot disagree if the alias moves in between.
    """
    info = model_info(kind, alias=CHAMPION)
    estimator = load_estimator(kind, version=info.version)
    return estimator, info
