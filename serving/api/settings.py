"""Where the service reads its snapshot and models from: the environment, parsed once.

Why environment variables: `bentoml serve` starts the service in worker processes, and a
deployed Bento is configured by its environment, not by command-line flags. `retain serve`
turns its flags into these variables. Nothing here is read at import time.
The decision settings (catalogue, effects, budget, contacts, segments, threshold) are read the
way `retain score` reads its flags, so the service decides with the same economics; they apply
to RETAIN_EVENTS only: a score file was already segmented and decided.

| variable                 | meaning                                                             |
|--------------------------|---------------------------------------------------------------------|
| RETAIN_EVENTS            | event file or folder; scored at RETAIN_AS_OF (default: latest)      |
| RETAIN_SCORES            | a `retain score` output to serve instead of scoring events          |
| RETAIN_AS_OF             | cutoff for RETAIN_EVENTS (YYYY-MM-DD or ISO timestamp)              |
| RETAIN_CATALOGUE         | action catalogue YAML (default: the packaged one)                   |
| RETAIN_EFFECTS           | a `retain effects` file: learned effects replace the priors         |
| RETAIN_BUDGET            | total budget for the decisions (default: none)                      |
| RETAIN_CONTACTS          | contact history (campaign-log contract): cooldowns, frequency cap   |
| RETAIN_SEGMENTS          | segmentation YAML: stage thresholds, value-tier rules               |
| RETAIN_AT_RISK_THRESHOLD | churn probability from which an active user is `at_risk`            |
| RETAIN_REASONS           | reason-code attribution for RETAIN_EVENTS: treeshap or path         |
| RETAIN_API_KEY           | when set, required (X-API-Key) everywhere but /livez, /readyz, /ui/ |
| RETAIN_REFRESH_SECONDS   | how often a worker polls `@champion` and the files (0: never)       |
| RETAIN_MAX_BODY_BYTES    | the largest request body accepted (default 8 MiB)                   |
| RETAIN_API_CONTACT       | the OpenAPI document's contact: an e-mail address or a URL          |
| MLFLOW_TRACKING_URI      | the registry the champions load from                                |
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
# Settings that shape a scoring run (cutoff, decisions, segments): refused beside RETAIN_SCORES.
EVENTS_ONLY: tuple[str, ...] = (
    "as_of",
    "catalogue",
    "effects",
    "budget",
    "contacts",
    "segments",
    "at_risk_threshold",
)


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
    contacts: Path | None = None
    effects: Path | None = None
    segments: Path | None = None
    at_risk_threshold: float | None = Field(None, ge=0, le=1)
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
        if self.scores is not None:
            given = [
                f"{ENV_PREFIX}{name.upper()}"
                for name in EVENTS_ONLY
                if getattr(self, name) is not None
            ]
            if given:
                raise ValueError(
                    f"{', '.join(given)} apply to RETAIN_EVENTS only; a score file was already "
                    "segmented and decided (score it again with those settings)"
                )
        return self

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceSettings:
        """Read RETAIN_* (empty values count as unset) and MLFLOW_TRACKING_URI."""
        env = os.environ if environ is None else environ
        values = {
            name: env.get(f"{ENV_PREFIX}{name.upper()}") or None
            for name in (
                *("events", "scores", "as_of", "catalogue", "budget", "contacts", "effects"),
                *("segments", "at_risk_threshold", "reasons", "api_key"),
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
