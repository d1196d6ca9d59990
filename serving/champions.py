"""The champion models that scoring uses, checked against the feature set this build computes.

Why a separate step: batch scoring and the service must load the same pair of models the same
way (by the `champion` alias, version resolved once) and refuse the same mistakes. A model
trained on another feature set would read columns by name and silently score nonsense, so the
mismatch is an error here, before any user is scored. The windows the churn model was trained
with are recovered from its run so scoring defines "active" and the horizons the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from features.config import WindowConfig
from features.definitions import FEATURE_SET
from training.registry import ModelInfo

_WINDOW_PARAMS = ("churn_horizon_days", "value_horizon_days", "active_window_days")


class FeatureSetMismatchError(ValueError):
    """A registered model was trained on a feature set other than the one this build computes."""


class ChampionsUnavailableError(LookupError):
    """The registry has no champion for a model (nothing trained yet, or a wrong store)."""


@dataclass(frozen=True)
class Champions:
    """The churn classifier and value regressor behind `@champion`, with their registry facts."""

    churn: Any
    value: Any
    churn_info: ModelInfo
    value_info: ModelInfo

    @property
    def versions(self) -> dict[str, str]:
        """`{"churn": "3", "value": "2"}`: what every scored row records."""
        return {"churn": self.churn_info.version, "value": self.value_info.version}

    def windows(self) -> WindowConfig:
        """The window definitions the churn model was trained with (defaults where unlogged)."""
        return model_windows(self.churn_info)


def check_feature_set(estimator: Any, info: ModelInfo) -> None:
    """Refuse a model whose feature set is not `FEATURE_SET.id`, or that needs unknown columns."""
    declared = getattr(estimator, "feature_set_id", None) or info.feature_set_id
    if declared != FEATURE_SET.id:
        raise FeatureSetMismatchError(
            f"model {info.name} version {info.version} was trained on feature set "
            f"{declared!r}, but this build computes {FEATURE_SET.id!r}; retrain it "
            "(`retain train`) or promote a model trained on this feature set"
        )
    names = list(getattr(estimator, "feature_names_", []))
    unknown = [name for name in names if name not in FEATURE_SET.columns]
    if unknown:
        raise FeatureSetMismatchError(
            f"model {info.name} version {info.version} needs columns absent from "
            f"{FEATURE_SET.id}: {', '.join(unknown)}"
        )


def model_windows(info: ModelInfo) -> WindowConfig:
    """Windows from the run's `windows.*` params; missing or unreadable params keep defaults."""
    values: dict[str, Any] = {}
    for name in _WINDOW_PARAMS:
        raw = info.params.get(f"windows.{name}")
        if raw is not None and str(raw).isdigit():
            values[name] = int(raw)
    events = info.params.get("windows.activity_events")
    if events and events != "none":
        values["activity_events"] = events
    return WindowConfig.model_validate(values)


def point_mlflow_at(tracking_uri: str | None) -> None:
    """Read-only counterpart of `training.tracking.configure`: never creates a store.

    Why: a serving process pointed at a wrong path must say so, not create an empty SQLite
    store and then report that no model is registered.
    """
    import mlflow

    from training.tracking import quiet_mlflow, resolve_tracking_uri, sqlite_path

    quiet_mlflow()
    uri = resolve_tracking_uri(tracking_uri)
    db_file = sqlite_path(uri)
    if db_file is not None:
        if not db_file.exists():
            raise ChampionsUnavailableError(
                f"no MLflow store at {db_file} (set MLFLOW_TRACKING_URI, or train first)"
            )
        uri = f"sqlite:///{db_file}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)


def load_champions(tracking_uri: str | None = None) -> Champions:
    """Both champions from the registry at `tracking_uri` (else MLFLOW_TRACKING_URI / default).

    Raises ChampionsUnavailableError when a champion is missing, FeatureSetMismatchError when
    either model was trained on another feature set.
    """
    from training.registry import load_champion

    point_mlflow_at(tracking_uri)
    loaded = {}
    for kind in ("churn", "value"):
        try:
            estimator, info = load_champion(kind)  # type: ignore[arg-type]
        except LookupError as error:
            raise ChampionsUnavailableError(str(error)) from None
        check_feature_set(estimator, info)
        loaded[kind] = (estimator, info)
    return Champions(
        churn=loaded["churn"][0],
        value=loaded["value"][0],
        churn_info=loaded["churn"][1],
        value_info=loaded["value"][1],
    )
