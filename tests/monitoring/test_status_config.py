"""Statuses, exit codes, the aggregate report and the thresholds file."""

from __future__ import annotations

import json

import pytest

from monitoring import (
    Check,
    MonitorConfigError,
    MonitorReport,
    MonitorThresholds,
    PendingRun,
    RealisedQuality,
    exit_code,
    grade,
    load_thresholds,
    worst_status,
)
from monitoring.drift import ColumnDrift


def test_exit_codes() -> None:
    assert [exit_code(s) for s in ("ok", "warning", "critical")] == [0, 1, 2]
    with pytest.raises(ValueError, match="unknown status"):
        exit_code("pending")  # type: ignore[arg-type]


def test_worst_status_and_grade() -> None:
    assert worst_status([]) == "ok"
    assert worst_status(["ok", "warning", "ok"]) == "warning"
    assert worst_status(["warning", "critical", "ok"]) == "critical"
    assert [grade(v, 0.1, 0.25) for v in (0.0, 0.1, 0.2, 0.25, 3.0)] == [
        "ok",
        "warning",
        "warning",
        "critical",
        "critical",
    ]
    with pytest.raises(ValueError, match="NaN"):
        grade(float("nan"), 0.1, 0.25)


def _drift(status: str) -> ColumnDrift:
    return ColumnDrift("revenue_90d", "feature", 0.3, status, 10, 0.0, 0.0)  # type: ignore[arg-type]


def test_report_takes_the_worst_component_and_lists_pending_runs() -> None:
    realised = RealisedQuality(
        "2024-01-01",
        {"churn_roc_auc": 0.74, "churn_rows": 900.0},
        (Check("churn_roc_auc", 0.74, "warning", "", reference=0.78),),
    )
    report = MonitorReport(
        as_of="2024-03-01",
        realised=(realised,),
        pending=(PendingRun.of("2024-02-15", 30),),
        drift=(_drift("ok"),),
        health=(Check("freshness_days", 0.5, "ok"),),
    )
    assert (report.status, report.exit_code) == ("warning", 1)
    data = json.loads(report.to_json())
    assert data["status"] == "warning"
    assert data["realised"][0]["churn_roc_auc"] == 0.74
    assert data["realised"][1] == {
        "scored_as_of": "2024-02-15",
        "run_id": None,
        "status": "pending",
        "labels_complete_on": "2024-03-16",
    }
    assert data["drift"][0]["feature"] == "revenue_90d"
    critical = MonitorReport("2024-03-01", drift=(_drift("critical"),))
    assert critical.exit_code == 2
    assert MonitorReport("2024-03-01", pending=report.pending).exit_code == 0


def test_default_thresholds() -> None:
    t = MonitorThresholds()
    assert (t.psi.warning, t.psi.critical) == (0.1, 0.25)
    assert (t.roc_auc_decay.warning, t.roc_auc_decay.critical) == (0.03, 0.07)


def test_thresholds_from_yaml_keep_defaults_for_keys_left_out(tmp_path) -> None:
    path = tmp_path / "monitor.yaml"
    path.write_text(
        "psi: {warning: 0.2, critical: 0.4}\nfreshness_days:\n  warning: 1\n  critical: 3\n"
    )
    t = load_thresholds(path)
    assert (t.psi.warning, t.freshness_days.critical) == (0.2, 3.0)
    assert t.roc_auc_decay == MonitorThresholds().roc_auc_decay
    assert load_thresholds(path).to_yaml() == t.to_yaml()
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_thresholds(empty) == MonitorThresholds()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("psi_threshold: 0.2\n", "psi_threshold"),
        ("psi: {warning: 0.3, critical: 0.2}\n", "must not exceed"),
        ("rejected_share: {warning: 0.5, critical: 2}\n", "at most 1"),
        ("psi: [0.1\n", "not valid YAML"),
        ("- 1\n", "mapping"),
    ],
)
def test_bad_threshold_files_name_the_problem(tmp_path, text: str, message: str) -> None:
    path = tmp_path / "monitor.yaml"
    path.write_text(text)
    with pytest.raises(MonitorConfigError, match=message):
        load_thresholds(path)


def test_a_missing_file_is_a_config_error(tmp_path) -> None:
    with pytest.raises(MonitorConfigError, match="cannot read"):
        load_thresholds(tmp_path / "absent.yaml")
