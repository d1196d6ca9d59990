"""Where the service reads its snapshot and models from: the environment, parsed once.

Why environment variables: `bentoml serve` starts the service in worker processes, and a
deployed Bento is configured by its environment, not by command-line flags. `retain serve`
turns its flags into these variables. Nothing here is read at import time.

| variable            | meaning                                                          |
|---------------------|------------------------------------------------------------------|
| RETAIN_EVENTS       | event file or folder; scored at RETAIN_AS_OF (default: latest)   |
| RETAIN_SCORES       | a `retain score` output to serve instead of scoring events       |
| RETAIN_AS_OF        | cutoff for RETAIN_EVENTS (YYYY-MM-DD or ISO timestamp)           |
| RETAIN_CATALOGUE    | action catalogue YAML (default: the packaged one)                |
| RETAIN_BUDGET       | total budget for the decisions (default: none)                   |
| RETAIN_REASONS      | reason-code attribution for RETAIN_EVENTS: treeshap or path       |
| RETAIN_API_KEY      | when set, required (X-API-Key) everywhere but /livez, /readyz, /ui/ |
| MLFLOW_TRACKING_URI | the registry the champions load from                             |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

ENV_PREFIX = "RETAIN_"
API_KEY_ENV = "RETAIN_API_KEY"
API_KEY_HEADER = "X-API-Key"
DEFAULT_REFRESH_SECONDS = 60.0
# The largest valid /score body is 10,000 ids of up to 256 characters: ~2.6 MB of ASCII ids.
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024


class SettingsError(ValueError):
    """The environment does not describe a servable snapshot."""


class ServiceSettings(BaseModel):
    """The service's configuration, validated as a whole so it fails at start, not per request."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    events: Path | None = None
    scores: Path | None = None
    as_of: datetime | None = None
    catalogue: Path | None = None
    budget: float | None = Field(None, ge=0)
    reasons: Literal["treeshap", "path"] = "treeshap"
    api_key: str | None = Field(None, min_length=1, repr=False)
    refresh_seconds: float = Field(DEFAULT_REFRESH_SECONDS, ge=0, le=86_400)
    max_body_bytes: int = Field(DEFAULT_MAX_BODY_BYTES, ge=1024)
    tracking_uri: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ServiceSettings:
        if (self.events is None) == (self.scores is None):
            raise ValueError(
                "set exactly one of RETAIN_EVENTS (an event log to score at start-up) "
                "or RETAIN_SCORES (a `retain score` output)"
            )
        if self.scores is not None and (self.as_of or self.catalogue or self.budget is not None):
            raise ValueError(
                "RETAIN_AS_OF, RETAIN_CATALOGUE and RETAIN_BUDGET apply to RETAIN_EVENTS only; "
                "a score file was already decided"
            )
        return self

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceSettings:
        """Read RETAIN_* (empty values count as unset) and MLFLOW_TRACKING_URI."""
        env = os.environ if environ is None else environ
        values = {
            name: env.get(f"{ENV_PREFIX}{name.upper()}") or None
            for name in (
                *("events", "scores", "as_of", "catalogue", "budget", "reasons", "api_key"),
                *("refresh_seconds", "max_body_bytes"),
            )
        }
        values = {name: value for name, value in values.items() if value is not None}
        values["tracking_uri"] = env.get("MLFLOW_TRACKING_URI") or None
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            problems = "; ".join(
                (f"{ENV_PREFIX}{str(e['loc'][0]).upper()}: " if e["loc"] else "")
                + e["msg"].removeprefix("Value error, ")
                for e in error.errors(include_url=False)
            )
            raise SettingsError(f"service configuration: {problems}") from None
