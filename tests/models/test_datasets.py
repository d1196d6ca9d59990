"""Training sets over time: the cutoff schedule, the embargo and the out-of-time split."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

from features import WindowConfig
from training.config import CutoffConfig
from training.datasets import (
    LABELS,
    TrainingData,
    cutoff_schedule,
    data_fingerprint,
    labelled_rows,
    latest_labelled_cutoff,
    lost_outcome,
    report_half,
    training_cutoffs,
)

WINDOWS = WindowConfig(churn_horizon_days=30, value_horizon_days=90)


def test_latest_labelled_cutoff_leaves_a_full_label_window() -> None:
    # Events end 2024-12-31 12:00; the 90-day label window must end by then.
    last = datetime(2024, 12, 31, 12)
    assert latest_labelled_cutoff(last, 90) == datetime(2024, 10, 2)
    assert latest_labelled_cutoff(datetime(2024, 12, 31), 90) == datetime(2024, 10, 2)


def test_schedule_counts_back_in_steps_from_the_out_of_time_cutoff() -> None:
    schedule = cutoff_schedule(
        datetime(2024, 1, 1), datetime(2024, 12, 31), WINDOWS, CutoffConfig(step_days=30, count=4)
    )
    assert schedule == [
        datetime(2024, 7, 4),
        datetime(2024, 8, 3),
        datetime(2024, 9, 2),
        datetime(2024, 10, 2),
    ]


def test_schedule_respects_minimum_history_and_explicit_dates() -> None:
    short = CutoffConfig(step_days=30, count=12, min_history_days=200)
    schedule = cutoff_schedule(datetime(2024, 1, 1), datetime(2024, 12, 31), WINDOWS, short)
    assert schedule[0] >= datetime(2024, 7, 19) and schedule[-1] == datetime(2024, 10, 2)
    explicit = CutoffConfig(explicit=(date(2024, 11, 1), date(2024, 6, 1), date(2024, 8, 1)))
    schedule = cutoff_schedule(datetime(2024, 1, 1), datetime(2024, 12, 31), WINDOWS, explicit)
    assert schedule == [datetime(2024, 6, 1), datetime(2024, 8, 1)]  # Nov 1 is not labelled


def test_too_little_history_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="need at least two"):
        cutoff_schedule(datetime(2024, 1, 1), datetime(2024, 5, 1), WINDOWS, CutoffConfig())


def test_training_cutoffs_are_embargoed_by_the_label_horizon() -> None:
    schedule = [datetime(2024, 6, 1), datetime(2024, 7, 1), datetime(2024, 8, 1)]
    oot = datetime(2024, 8, 1)
    assert training_cutoffs(schedule, oot, 30) == schedule[:2]
    assert training_cutoffs(schedule, oot, 45) == schedule[:1]
    assert training_cutoffs(schedule, oot, 90) == []


def test_report_half_is_stable_and_splits_about_half() -> None:
    users = pd.Series([f"u{i}" for i in range(10_000)])
    first, second = report_half(users), report_half(users.sample(frac=1.0, random_state=1))
    assert 0.45 < first.mean() < 0.55
    by_user = dict(zip(users, first, strict=True))
    shuffled = users.sample(frac=1.0, random_state=1)
    assert all(by_user[u] == flag for u, flag in zip(shuffled, second, strict=True))


@pytest.mark.parametrize("kind", ["churn", "recall", "value"])
def test_split_never_trains_on_labels_that_reach_the_out_of_time_cutoff(
    training_data: TrainingData, kind: str
) -> None:
    data = training_data.for_model(kind)  # type: ignore[arg-type]
    horizon = training_data.horizon(kind)  # type: ignore[arg-type]
    assert data.oot_cutoff == training_data.schedule[-1]
    assert data.train_cutoffs and all(
        (data.oot_cutoff - t).days >= horizon for t in data.train_cutoffs
    )
    frame = training_data.frame
    trained_on = frame[frame["as_of"].isin(data.train_cutoffs)]
    label = LABELS[kind]  # type: ignore[index]
    assert len(data.X_train) == trained_on[label].notna().sum()
    # The OOT rows split into two halves that share no user and together are every OOT user
    # the model has a label for (counted here from the frame, not by the split code).
    fit_users, report_users = set(data.fit_keys["user_id"]), set(data.report_keys["user_id"])
    assert fit_users and report_users and not fit_users & report_users
    oot = frame[(frame["as_of"] == data.oot_cutoff) & frame[label].notna()]
    if kind == "recall":
        oot = oot[oot["active_at_cutoff"] == 0]
    assert fit_users | report_users == set(oot["user_id"])
    assert len(data.fit_keys) == len(data.X_fit) and len(data.report_keys) == len(data.X_report)
    labels = {"churned", "future_value", "returned", "lost", "user_id", "as_of"}
    assert not set(data.X_train.columns) & labels
    assert (data.lost_train is not None) == (kind == "value")


def test_recall_rows_are_the_lapsed_users(training_data: TrainingData) -> None:
    data = training_data.for_model("recall")
    frame = training_data.frame
    lapsed = frame[(frame["as_of"] == data.oot_cutoff) & (frame["active_at_cutoff"] == 0)]
    assert len(data.X_fit) + len(data.X_report) == len(lapsed)
    assert set(data.y_train.unique()) <= {0.0, 1.0}
    assert training_data.horizon("recall") == training_data.windows.churn_horizon_days


def test_lost_is_churned_for_active_users_and_not_returned_for_lapsed_ones() -> None:
    frame = pd.DataFrame(
        {
            "churned": [1.0, 0.0, None, None, None],
            "returned": [None, None, 1.0, 0.0, None],
            "future_value": [0.0, 5.0, 3.0, 0.0, 1.0],
        }
    )
    assert lost_outcome(frame).tolist()[:4] == [1.0, 0.0, 0.0, 1.0]
    rows, dropped = labelled_rows(frame, "value")
    assert dropped == 1 and len(rows) == 4  # the row with neither label is counted, not kept
    assert rows["lost"].tolist() == [1.0, 0.0, 0.0, 1.0]
    assert labelled_rows(frame, "recall")[0]["returned"].tolist() == [1.0, 0.0]
    without_returned = frame.drop(columns="returned")  # an older frame: lapsed users drop out
    assert labelled_rows(without_returned, "value")[1] == 3


def test_fingerprint_changes_with_content_not_with_location(tmp_path: Path) -> None:
    first = tmp_path / "a" / "events.csv"
    first.parent.mkdir()
    first.write_text("user_id,event_time,event_type\nu1,2024-01-01,visit\n")
    copy = tmp_path / "b" / "events.csv"
    copy.parent.mkdir()
    copy.write_bytes(first.read_bytes())
    assert data_fingerprint(first) == data_fingerprint(copy)
    copy.write_text("user_id,event_time,event_type\nu2,2024-01-01,visit\n")  # same size
    assert data_fingerprint(first) != data_fingerprint(copy)
    assert len(data_fingerprint(tmp_path / "a")) == 64
