"""The campaign log contract: the simulator's log fits it; bad files fail, bad rows are counted."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from serving.decisions.campaign_log import (
    CAMPAIGN_COLUMNS,
    CampaignLogError,
    load_campaigns,
    validate_campaigns,
)
from simulator.campaigns import CampaignPlan
from simulator.simulation import SimulationConfig, write_simulation


def _row(**changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "user_id": "u1",
        "action_id": "vip_care",
        "assigned_at": "2024-05-01T08:00:00",
        "group": "treated",
        "cutoff": "2024-05-01",
        "segment": "at_risk/high",
    }
    return row | changes


def test_the_simulators_log_fits_the_contract(tmp_path):
    campaigns = tmp_path / "campaigns.parquet"
    config = SimulationConfig(users=1_500, days=200, seed=4, campaigns=CampaignPlan())
    write_simulation(config, tmp_path / "events.parquet", campaigns)
    log = load_campaigns(campaigns)
    assert log.report.rows_read > 100
    assert log.report.rejected == {}
    assert log.report.rows_accepted == log.report.rows_read
    assert list(log.frame.columns) == list(CAMPAIGN_COLUMNS)
    assert set(log.frame["group"]) == {"treated", "control"}
    assert log.frame["cutoff"].dt.tz is None  # naive UTC, like events


def test_bad_rows_are_counted_by_reason_and_dropped():
    rows = [
        _row(user_id="a"),
        _row(user_id="  "),
        _row(user_id="c", action_id="VIP care"),
        _row(user_id="d", assigned_at="yesterday"),
        _row(user_id="e", cutoff=None),
        _row(user_id="f", group="maybe"),
        _row(user_id="g", segment="at_risk/platinum"),
        _row(user_id="h", assigned_at="2024-04-30T23:00:00"),
        _row(user_id="a", group="control"),  # the same user twice in one campaign
        _row(user_id="i", group=" Control "),  # case and blanks are forgiven
    ]
    log = validate_campaigns(pd.DataFrame(rows))
    assert log.report.rejected == {
        "missing_user_id": 1,
        "invalid_action_id": 1,
        "unparseable_assigned_at": 1,
        "unparseable_cutoff": 1,
        "unknown_group": 1,
        "unknown_segment": 1,
        "assigned_before_cutoff": 1,
        "duplicate_assignment": 1,
    }
    assert log.frame["user_id"].tolist() == ["a", "i"]
    assert log.frame["group"].tolist() == ["treated", "control"]
    assert "2 of 10 rows accepted; rejected 8" in log.report.summary()
    # The one unknown group is named, so a log writing `maybe` (or `treatment`) sees the fix.
    assert log.report.note == "group values not read: 'maybe' (1); expected treated or control"


def test_zoned_times_become_naive_utc():
    log = validate_campaigns(
        pd.DataFrame([_row(assigned_at="2024-05-01T10:00:00+02:00", cutoff="2024-05-01")])
    )
    assert log.frame["assigned_at"].iloc[0] == pd.Timestamp("2024-05-01T08:00:00")


def test_segment_halves_may_replace_the_segment_column():
    frame = pd.DataFrame([_row()]).drop(columns="segment")
    log = validate_campaigns(frame.assign(lifecycle_stage="dormant", value_tier="mid"))
    assert log.frame["segment"].tolist() == ["dormant/mid"]


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        (["group"], "missing required column 'group'; found columns: user_id"),
        (["cutoff", "assigned_at"], "missing required columns 'assigned_at', 'cutoff'"),
        (["segment"], "give a 'segment' column ('<stage>/<tier>') or both"),
    ],
)
def test_a_file_missing_a_column_fails_naming_it(drop, message):
    with pytest.raises(CampaignLogError, match=re.escape(message)):
        validate_campaigns(pd.DataFrame([_row()]).drop(columns=drop), "log.csv")


def test_csv_and_jsonl_files_load_and_other_types_fail(tmp_path):
    frame = pd.DataFrame([_row(), _row(user_id="u2", group="control")])
    frame.to_csv(tmp_path / "log.csv", index=False)
    frame.to_json(tmp_path / "log.jsonl", orient="records", lines=True)
    assert load_campaigns(tmp_path / "log.csv").report.rows_accepted == 2
    assert load_campaigns(tmp_path / "log.jsonl").report.rows_accepted == 2
    (tmp_path / "log.xlsx").write_text("x")
    with pytest.raises(CampaignLogError, match=r"unsupported campaign log type '\.xlsx'"):
        load_campaigns(tmp_path / "log.xlsx")
    with pytest.raises(CampaignLogError, match="no such campaign log"):
        load_campaigns(tmp_path / "absent.parquet")


def test_a_holdout_decision_list_reads_as_a_campaign_log():
    listed = pd.DataFrame(
        {
            "user_id": ["a", "b", "c"],
            "action": ["vip_care", "vip_care", "no_action"],
            "assignment": ["treated", "control", "none"],
            "as_of": pd.to_datetime(["2024-05-01"] * 3),
            "lifecycle_stage": ["at_risk", "at_risk", "active"],
            "value_tier": ["high", "high", "low"],
        }
    )
    log = validate_campaigns(listed)
    assert log.frame[["user_id", "action_id", "group"]].values.tolist() == [
        ["a", "vip_care", "treated"],
        ["b", "vip_care", "control"],
    ]
    assert "1 untargeted rows skipped" in log.report.summary()
