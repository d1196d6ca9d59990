"""The action catalogue: what operators may do, to whom, at what cost and with what effect.

Why a validated YAML file: the playbook (who gets a welcome offer, who gets VIP care, what a
win-back costs) belongs to operators, not to code. A typo in it must stop the run with a
message that names the file, the action and the field, instead of silently changing decisions.
`no_action` is reserved: it is always available, free and without effect, so it never needs
to be written down (and may not be redefined).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from serving.decisions.segments import STAGES, TIERS

NO_ACTION = "no_action"
Stage = Literal["new", "active", "at_risk", "dormant", "churned", "reactivated"]
Tier = Literal["high", "mid", "low", "none"]
_ID_PATTERN = r"^[a-z][a-z0-9_]*$"
_WILDCARD = "*"


class CatalogueError(ValueError):
    """A catalogue that cannot be used; `problems` holds one readable line per error."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"invalid action catalogue {source}:\n" + "\n".join(problems))


class EffectSpec(BaseModel):
    """Share of a user's churn probability an action removes, by segment.

    `by_segment` keys are `"<stage>/<tier>"`; either half may be `*`. Lookup order: exact key,
    `stage/*`, `*/tier`, then `default`. Negative effects (an action that annoys) are allowed.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: float = Field(ge=-1, le=1)
    by_segment: dict[str, float] = Field(default_factory=dict)

    @field_validator("by_segment")
    @classmethod
    def _segment_keys(cls, value: dict[str, float]) -> dict[str, float]:
        """Reject keys that could never match, and effects outside [-1, 1]."""
        for key, effect in value.items():
            stage, _, tier = key.partition("/")
            if stage not in (*STAGES, _WILDCARD) or tier not in (*TIERS, _WILDCARD):
                raise ValueError(
                    f"unknown segment {key!r}: expected '<stage>/<tier>' with stage in "
                    f"{list(STAGES)} and tier in {list(TIERS)} (or '*')"
                )
            if not -1 <= effect <= 1:
                raise ValueError(f"effect for {key!r} must be in [-1, 1]; got {effect}")
        return value

    def for_segment(self, stage: str, tier: str) -> float:
        """The effect on one segment, most specific key first."""
        for key in (f"{stage}/{tier}", f"{stage}/{_WILDCARD}", f"{_WILDCARD}/{tier}"):
            if key in self.by_segment:
                return self.by_segment[key]
        return self.default


class Action(BaseModel):
    """One treatment: eligibility by stage, tier and churn risk; cost; effect; limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_ID_PATTERN)
    label: str = Field(min_length=1)
    channel: str = Field(min_length=1)
    description: str = ""
    cost: float = Field(ge=0, allow_inf_nan=False, description="Cost per contact.")
    stages: list[Stage] = Field(min_length=1)
    tiers: list[Tier] = Field(min_length=1)
    min_risk: float = Field(0.0, ge=0, le=1)
    max_risk: float = Field(1.0, ge=0, le=1)
    effect: EffectSpec
    cooldown_days: int = Field(0, ge=0, description="Days before the same user may get it again.")
    capacity: int | None = Field(None, ge=0, description="Most users per run; None = unlimited.")

    @field_validator("effect", mode="before")
    @classmethod
    def _bare_effect(cls, value: Any) -> Any:
        """`effect: 0.1` is shorthand for one effect on every segment."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            return {"default": value}
        return value

    @field_validator("max_risk")
    @classmethod
    def _risk_range(cls, value: float, info: ValidationInfo) -> float:
        """An empty risk range would make the action silently unreachable."""
        low = info.data.get("min_risk")
        if low is not None and low > value:
            raise ValueError(f"min_risk ({low}) must be <= max_risk ({value})")
        return value

    def effect_table(self) -> np.ndarray:
        """Effect for every (stage, tier), indexed like STAGES x TIERS, for vectorised lookup."""
        return np.array(
            [[self.effect.for_segment(stage, tier) for tier in TIERS] for stage in STAGES]
        )

    def eligibility_table(self) -> np.ndarray:
        """Whether each (stage, tier) may get the action, indexed like STAGES x TIERS."""
        return np.array(
            [[stage in self.stages and tier in self.tiers for tier in TIERS] for stage in STAGES]
        )


NO_ACTION_SPEC = Action(
    id=NO_ACTION,
    label="No action",
    channel="none",
    description="Deliberately leave the user alone.",
    cost=0.0,
    stages=list(STAGES),  # type: ignore[arg-type]
    tiers=list(TIERS),  # type: ignore[arg-type]
    effect=EffectSpec(default=0.0),
)


class FrequencyCap(BaseModel):
    """At most `max_contacts` contacts per user in `days` days, across all actions.

    Why across actions: each action's cooldown only stops the same message repeating; a user
    eligible for several actions could still get one after another. The window is the `days`
    days before the decision (a contact `days` days old or older no longer counts); controls and
    `no_action` were no contact and never count (serving/decisions/contacts.py applies it).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_contacts: int = Field(ge=1, description="Most contacts per user within the window.")
    days: int = Field(ge=1, description="Length of the window, in days before the decision.")


class ActionCatalogue(BaseModel):
    """The operators' playbook: actions with unique ids (`no_action` implied), an optional cap."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    actions: list[Action] = Field(default_factory=list)
    frequency_cap: FrequencyCap | None = None

    @field_validator("actions")
    @classmethod
    def _unique_ids(cls, actions: list[Action]) -> list[Action]:
        """Ids key decisions, cooldowns and campaign logs, so they must be unambiguous."""
        seen: set[str] = set()
        for action in actions:
            if action.id == NO_ACTION:
                raise PydanticCustomError(
                    "reserved_id",
                    "'{action_id}' is reserved and always available; remove it",
                    {"action_id": action.id},
                )
            if action.id in seen:
                raise PydanticCustomError(
                    "duplicate_id",
                    "duplicate action id '{action_id}': ids must be unique",
                    {"action_id": action.id},
                )
            seen.add(action.id)
        return actions

    @property
    def ids(self) -> tuple[str, ...]:
        """Every action id, `no_action` last."""
        return (*(action.id for action in self.actions), NO_ACTION)

    @property
    def costs(self) -> np.ndarray:
        """Each action's cost per contact, in catalogue order (the allocator's columns)."""
        return np.array([action.cost for action in self.actions], dtype=float)

    @property
    def capacities(self) -> np.ndarray:
        """Each action's capacity in catalogue order; infinite where it has none."""
        return np.array(
            [np.inf if action.capacity is None else action.capacity for action in self.actions],
            dtype=float,
        )

    def get(self, action_id: str) -> Action:
        """The action with this id (including `no_action`)."""
        if action_id == NO_ACTION:
            return NO_ACTION_SPEC
        for action in self.actions:
            if action.id == action_id:
                return action
        raise KeyError(f"unknown action {action_id!r}; known: {list(self.ids)}")


def _describe(error: dict[str, Any], raw: Any) -> str:
    """One line for one pydantic error: which action (by id), which field, what is wrong."""
    loc = list(error["loc"])
    where = "catalogue"
    if len(loc) >= 2 and loc[0] == "actions" and isinstance(loc[1], int):
        index = loc[1]
        entries = raw.get("actions") if isinstance(raw, dict) else None
        entry = entries[index] if isinstance(entries, list) and index < len(entries) else None
        action_id = entry.get("id") if isinstance(entry, dict) else None
        where = f"action {action_id!r}" if isinstance(action_id, str) else f"action #{index + 1}"
        loc = loc[2:]
    elif loc and loc[0] == "frequency_cap":
        where, loc = "frequency_cap", loc[1:]
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown key {loc[-1]!r}"
    field = ".".join(str(part) for part in loc)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] in ("reserved_id", "duplicate_id"):
        return f"action {error['ctx']['action_id']!r}: field 'id': {message}"
    got = "" if error["type"] in ("value_error", "missing") else f" (got {error['input']!r})"
    return f"{where}: field {field!r}: {message}{got}" if field else f"{where}: {message}{got}"


def parse_catalogue(data: Any, source: str = "<dict>") -> ActionCatalogue:
    """Validate already-parsed YAML; `source` names it in error messages."""
    if not isinstance(data, dict):
        got = type(data).__name__
        raise CatalogueError(source, [f"expected a mapping with an 'actions' list; got {got}"])
    try:
        return ActionCatalogue.model_validate(data)
    except ValidationError as error:
        problems = [_describe(item, data) for item in error.errors(include_url=False)]
        raise CatalogueError(source, problems) from None


def load_catalogue(path: str | Path | None = None) -> ActionCatalogue:
    """Read and validate a catalogue; the packaged default `serving/decisions/actions.yaml` when no
    path."""
    if path is None:
        resource = resources.files("serving.decisions").joinpath("actions.yaml")
        source, text = (
            "serving/decisions/actions.yaml (packaged default)",
            resource.read_text("utf-8"),
        )
    else:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise CatalogueError(source, [f"cannot read file: {error.strerror}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise CatalogueError(source, [f"not valid YAML: {error}"]) from None
    return parse_catalogue(data, source)
