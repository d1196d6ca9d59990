"""Statuses, their order, and the exit codes a scheduler acts on.

Why a module of its own: drift, data health and realised quality each grade their own figures,
but `retain monitor` (and `retain retrain`, which refuses on critical data health) must fold them
into one status and one exit code the same way. Keeping the order here means a new component
cannot invent a fourth level or map it to a different exit code.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "warning", "critical"]
STATUSES: tuple[Status, ...] = ("ok", "warning", "critical")  # from best to worst
EXIT_CODES: dict[Status, int] = {"ok": 0, "warning": 1, "critical": 2}


def exit_code(status: Status) -> int:
    """0 when ok, 1 on warning, 2 on critical: what cron, systemd and CI understand."""
    if status not in EXIT_CODES:
        raise ValueError(f"unknown status {status!r}; choose one of: {', '.join(STATUSES)}")
    return EXIT_CODES[status]


def worst_status(statuses: Iterable[Status]) -> Status:
    """The most severe status; "ok" when there is nothing to judge (no component complained)."""
    worst: Status = "ok"
    for status in statuses:
        if status not in EXIT_CODES:
            raise ValueError(f"unknown status {status!r}; choose one of: {', '.join(STATUSES)}")
        if EXIT_CODES[status] > EXIT_CODES[worst]:
            worst = status
    return worst


def grade(value: float, warning: float, critical: float) -> Status:
    """Grade a figure where larger is worse: ≥ critical is critical, ≥ warning is warning.

    Every threshold in `MonitorThresholds` is phrased so that larger is worse (a PSI, a drop in
    ROC-AUC, a share of volume lost), so this one rule grades all of them. A NaN figure cannot
    be judged here; callers decide what an unmeasurable figure means for them.
    """
    if math.isnan(value):
        raise ValueError("cannot grade NaN; decide what an unmeasurable figure means first")
    if value >= critical:
        return "critical"
    if value >= warning:
        return "warning"
    return "ok"


@dataclass(frozen=True)
class Check:
    """One graded figure: what was measured, its value, its status and a sentence why.

    `reference` is what the value was compared with (a trailing average, a training figure),
    None where the comparison is with a fixed threshold only.
    """

    name: str
    value: float | None
    status: Status
    detail: str = ""
    reference: float | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready (NaN becomes None, since strict JSON has no NaN)."""
        return {
            "name": self.name,
            "value": json_float(self.value),
            "reference": json_float(self.reference),
            "status": self.status,
            "detail": self.detail,
        }


def json_float(value: float | None) -> float | None:
    """A figure for strict JSON: None for missing, NaN or infinite figures, the float otherwise."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)
