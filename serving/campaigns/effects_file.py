"""The versioned effects file `retain effects` writes and `--effects` reads back.

Why a file and not only an MLflow run: decisions must be reproducible from what an operator can
see, review and pin (like the action catalogue), and serving must not need a tracking server.
The file says which campaign log and event log it was learned from (content fingerprints),
with which horizons, and carries its own `version` (creation time + content hash) and the MLflow
run id, so a decision can be traced to the experiment that justified it.

Applying it does not change the policy's rule, only its inputs: each measured (action, segment)
becomes an exact `by_segment` entry of a copy of the catalogue (exact keys win over wildcards,
so unmeasured segments keep their priors). Effects are clipped to the catalogue's [-1, 1]: an
action that more than doubles churn is as firmly ruled out at −1 as at −1.2.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from serving.campaigns.estimates import NOT_MEASURABLE
from serving.decisions import ActionCatalogue, EffectSpec

SCHEMA = "retain-effects/v1"


class EffectsFileError(ValueError):
    """An effects file that cannot be used; the message names the file and the problem."""


class LearnedEffect(BaseModel):
    """One action × segment cell; the estimates beside `learned_effect` are kept for review."""

    model_config = ConfigDict(extra="allow", frozen=True)

    action_id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    segment: str = Field(pattern=r"^[a-z_]+/[a-z_]+$")
    n_treated: int = Field(ge=0)
    n_control: int = Field(ge=0)
    prior_effect: float
    learned_effect: float = Field(allow_inf_nan=False)
    learned_effect_se: float | None = None
    verdict: str


class EffectsFile(BaseModel):
    """The whole file: provenance, settings, one entry per cell, uplift quality per action."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: str = Field(SCHEMA, alias="schema")
    version: str
    created_at: str
    mlflow_run_id: str | None = None
    source: dict[str, str] = Field(default_factory=dict)
    windows: dict[str, Any] = Field(default_factory=dict)
    estimation: dict[str, float | str] = Field(default_factory=dict)
    effects: list[LearnedEffect]
    uplift: list[dict[str, Any]] = Field(default_factory=list)

    def table(self) -> pd.DataFrame:
        """The cells as a frame (one row per action × segment)."""
        return pd.DataFrame([cell.model_dump() for cell in self.effects])


def _plain(value: Any) -> Any:
    """numpy scalars and NaN → YAML-friendly Python values (NaN → null)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def build_effects_file(
    effects: pd.DataFrame,
    *,
    source: dict[str, str],
    windows: dict[str, Any],
    estimation: dict[str, float | str],
    uplift: list[dict[str, Any]] | None = None,
    mlflow_run_id: str | None = None,
    created_at: datetime | None = None,
) -> EffectsFile:
    """Assemble the file; `version` = UTC creation time + a hash of the learned content."""
    cells = [{k: _plain(v) for k, v in row.items()} for row in effects.to_dict("records")]
    uplift_rows = [{k: _plain(v) for k, v in row.items()} for row in uplift or []]
    content = json.dumps([cells, uplift_rows, source, windows], sort_keys=True, default=str)
    moment = created_at or datetime.now(UTC)
    version = f"{moment:%Y%m%dT%H%M%SZ}-{hashlib.sha256(content.encode()).hexdigest()[:8]}"
    return EffectsFile.model_validate(
        {
            "schema": SCHEMA,
            "version": version,
            "created_at": moment.isoformat(timespec="seconds"),
            "mlflow_run_id": mlflow_run_id,
            "source": source,
            "windows": windows,
            "estimation": estimation,
            "effects": cells,
            "uplift": uplift_rows,
        }
    )


def dump_effects(effects_file: EffectsFile) -> str:
    """The file's YAML text (keys in a stable, readable order)."""
    data = effects_file.model_dump(by_alias=True, mode="json")
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def load_effects(path: str | Path) -> EffectsFile:
    """Read and validate an effects file; errors name the file and every problem."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise EffectsFileError(f"{path}: cannot read effects file: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise EffectsFileError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        got = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise EffectsFileError(f"{path}: not a `retain effects` file (schema {got!r}, "
                               f"expected {SCHEMA!r})")  # fmt: skip
    try:
        return EffectsFile.model_validate(data)
    except ValidationError as error:
        lines = [
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors(include_url=False)
        ]
        raise EffectsFileError(f"{path}: invalid effects file:\n" + "\n".join(lines)) from None


def learned_catalogue(
    catalogue: ActionCatalogue, effects_file: EffectsFile
) -> tuple[ActionCatalogue, list[str]]:
    """A copy of the catalogue whose measured segments use the learned effects.

    Returns the copy and a list of cells that could not be applied (action not in the
    catalogue), so a renamed action shows up instead of silently keeping its prior.
    """
    by_action: dict[str, dict[str, float]] = {}
    skipped: list[str] = []
    for cell in effects_file.effects:
        if cell.verdict == NOT_MEASURABLE:
            continue
        if cell.action_id not in catalogue.ids:
            skipped.append(f"{cell.action_id} {cell.segment}")
            continue
        clipped = min(1.0, max(-1.0, cell.learned_effect))
        by_action.setdefault(cell.action_id, {})[cell.segment] = clipped
    actions = []
    for action in catalogue.actions:
        learned = by_action.get(action.id)
        if learned:
            merged = {**action.effect.by_segment, **learned}
            try:  # validated, so a segment the catalogue cannot name fails here
                effect = EffectSpec(default=action.effect.default, by_segment=merged)
            except ValidationError as error:
                message = error.errors(include_url=False)[0]["msg"]
                raise EffectsFileError(f"learned effects for {action.id!r}: {message}") from None
            action = action.model_copy(update={"effect": effect})
        actions.append(action)
    return catalogue.model_copy(update={"actions": actions}), skipped
