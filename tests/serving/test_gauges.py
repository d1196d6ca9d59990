"""The Prometheus gauges of a real `retain serve`, against numbers computed here independently.

Why: a dashboard alerting on "snapshot older than a day" or "p90 risk doubled" trusts these
values; each is checked against the same users scored in this process (the `scored` fixture:
the shared service scores the same log with the same champions at the same cutoff).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def _samples(text: str, name: str) -> dict[str, float]:
    """`{labels: value}` of one metric in the Prometheus text format (pid label dropped)."""
    found = {}
    for line in text.splitlines():
        match = re.match(rf"^{name}(?:\{{(.*)\}})? (\S+)$", line)
        if match:
            labels = ",".join(
                part for part in (match.group(1) or "").split(",") if part and "pid=" not in part
            )
            found[labels] = float(match.group(2))
    return found


def test_the_gauges_say_what_the_service_serves(service, scored, champions):
    text = service.get("/metrics").text
    assert _samples(text, "retain_snapshot_users") == {"": float(len(scored.scores))}
    versions = _samples(text, "retain_model_version")
    for kind, version in champions.versions.items():
        assert versions[f'model="{kind}"'] == float(version)
    risk = scored.scores["churn_probability"].to_numpy(dtype=float)
    quantiles = _samples(text, "retain_churn_probability_quantile")
    for q in (0.1, 0.25, 0.5, 0.75, 0.9):
        assert quantiles[f'quantile="{q}"'] == pytest.approx(np.quantile(risk, q), abs=1e-12)
    as_of = scored.as_of.replace(tzinfo=UTC) if scored.as_of.tzinfo is None else scored.as_of
    (age,) = _samples(text, "retain_snapshot_age_seconds").values()
    now = datetime.now(UTC)
    assert (now - as_of).total_seconds() - 3_600 < age <= (now - as_of).total_seconds()
    assert _samples(text, "retain_monitor_status") == {"": -1.0}  # no monitor run in this store
