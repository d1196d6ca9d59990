"""`MonitorReport`: every component's findings, one status, one exit code, one JSON object.

Why a pure aggregate: `retain monitor` prints it as a table, writes it as JSON, logs it to
MLflow and exits with its code; `retain retrain` reads its data-health part. Building it from
already computed parts keeps every one of those consumers agreeing on the verdict.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from monitoring.drift import ColumnDrift
from monitoring.realised import RealisedQuality, labels_complete_on
from monitoring.status import Check, Status, exit_code, worst_status


@dataclass(frozen=True)
class PendingRun:
    """A scoring run whose horizon has not passed by as-of: listed, never scored."""

    scored_as_of: str
    labels_complete_on: str
    run_id: str | None = None

    @classmethod
    def of(
        cls, scored_as_of: date | datetime | str, horizon_days: int, run_id: str | None = None
    ) -> PendingRun:
        """The run scored at `scored_as_of`, complete once `horizon_days` have passed."""
        complete = labels_complete_on(scored_as_of, horizon_days)
        scored = scored_as_of.isoformat() if isinstance(scored_as_of, date) else scored_as_of
        return cls(str(scored), complete.date().isoformat(), run_id)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scored_as_of": self.scored_as_of,
            "run_id": self.run_id,
            "status": "pending",
            "labels_complete_on": self.labels_complete_on,
        }


@dataclass(frozen=True)
class MonitorReport:
    """Realised quality (scored and pending runs), drift and data health at one as-of.

    `notes` are sentences about what was not judged and why (runs whose scores were not kept,
    records that could not be read): nothing is left out without a word.
    """

    as_of: str
    realised: tuple[RealisedQuality, ...] = ()
    pending: tuple[PendingRun, ...] = ()
    drift: tuple[ColumnDrift, ...] = ()
    health: tuple[Check, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def status(self) -> Status:
        """The worst status of any component; pending runs have none (nothing to judge yet)."""
        return worst_status(
            [
                *(run.status for run in self.realised),
                *(column.status for column in self.drift),
                *(check.status for check in self.health),
            ]
        )

    @property
    def exit_code(self) -> int:
        return exit_code(self.status)

    def as_dict(self) -> dict[str, Any]:
        """`{"status", "as_of", "realised": [...], "drift": [...], "data_health": [...], "notes"}`.

        Pending runs are listed in `realised` with status "pending" and no figures.
        """
        return {
            "status": self.status,
            "as_of": self.as_of,
            "realised": [run.as_dict() for run in self.realised]
            + [run.as_dict() for run in self.pending],
            "drift": [column.as_dict() for column in self.drift],
            "data_health": [check.as_dict() for check in self.health],
            "notes": list(self.notes),
        }

    def to_json(self) -> str:
        """Strict JSON (no NaN), as `retain monitor --json` prints it."""
        return json.dumps(self.as_dict(), indent=2, allow_nan=False)
