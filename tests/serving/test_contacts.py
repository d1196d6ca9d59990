"""Contact history: cooldown and frequency-cap edges, what counts as a contact, bad input.

Every expected value is worked out by hand from the rows in the test, not from the code: the
catalogue below has `call` (cooldown 30 days) and `nudge` (cooldown 7 days) and, where a test
says so, a cap of 2 contacts in 10 days.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from serving.decisions.actions import ActionCatalogue, parse_catalogue
from serving.decisions.contacts import ContactHistory, ContactHistoryError, load_contacts

AS_OF = pd.Timestamp("2024-03-31")
US = pd.Timedelta(microseconds=1)


def _catalogue(cap: dict | None = None) -> ActionCatalogue:
    base = {"channel": "push", "cost": 1.0, "stages": ["active"], "tiers": ["low"], "effect": 0.1}
    actions = [
        base | {"id": "call", "label": "Call", "cooldown_days": 30},
        base | {"id": "nudge", "label": "Nudge", "cooldown_days": 7},
    ]
    return parse_catalogue({"actions": actions, "frequency_cap": cap})


CAP = _catalogue({"max_contacts": 2, "days": 10})
NO_CAP = _catalogue()


def _log(*rows: tuple) -> pd.DataFrame:
    """Rows of (user_id, action_id, assigned_at, group) in the campaign-log contract."""
    return pd.DataFrame(rows, columns=["user_id", "action_id", "assigned_at", "group"])


def _blocks(frame: pd.DataFrame, users: list[str], catalogue=NO_CAP, as_of=AS_OF):
    history = ContactHistory.from_frame(frame, catalogue)
    return history.blocks(pd.Index(users), catalogue, as_of)


def test_cooldown_blocks_until_exactly_cooldown_days_have_passed():
    edge = AS_OF - pd.Timedelta(days=30)  # 2024-03-01: call's cooldown is 30 days
    frame = _log(
        ("free", "call", edge, "treated"),
        ("inside", "call", edge + US, "treated"),
        ("nudged", "nudge", AS_OF - pd.Timedelta(days=7) + US, "treated"),
        ("nudge_free", "nudge", AS_OF - pd.Timedelta(days=7), "treated"),
    )
    blocks = _blocks(frame, ["free", "inside", "nudged", "nudge_free"])
    expected = np.array([[False, False], [True, False], [False, True], [False, False]])
    np.testing.assert_array_equal(blocks.cooldown, expected)
    assert blocks.contacts_matched == 4


def test_contacts_after_as_of_are_ignored_and_counted_but_one_at_as_of_blocks():
    frame = _log(
        ("later", "call", AS_OF + US, "treated"),
        ("now", "call", AS_OF, "treated"),
    )
    blocks = _blocks(frame, ["later", "now"], CAP)
    np.testing.assert_array_equal(blocks.cooldown, [[False, False], [True, False]])
    assert (blocks.contacts_after_as_of, blocks.contacts_matched) == (1, 1)
    assert blocks.capped.tolist() == [False, False]


def test_controls_untargeted_and_no_action_are_not_contacts():
    day = AS_OF - pd.Timedelta(days=1)
    frame = _log(
        ("u", "call", day, "control"),
        ("u", "nudge", day, " Control"),  # case and blanks are forgiven
        ("u", "call", day - US, "none"),
        ("u", "no_action", day, "treated"),
    )
    history = ContactHistory.from_frame(frame, CAP)
    assert history.report.contacts == 0
    assert history.report.not_contacts == {"control": 2, "untargeted": 1, "no_action": 1}
    assert (history.report.rows_read, history.report.rows_accepted) == (4, 4)
    blocks = history.blocks(pd.Index(["u"]), CAP, AS_OF)
    assert not blocks.cooldown.any() and not blocks.capped.any()
    assert blocks.contacts_matched == 0


def test_frequency_cap_binds_at_max_contacts_within_days():
    day = pd.Timedelta(days=1)
    window_edge = AS_OF - pd.Timedelta(days=10)  # cap: 2 contacts in 10 days
    frame = _log(
        ("one", "nudge", AS_OF - 9 * day, "treated"),  # 1 contact: N-1
        ("two", "nudge", AS_OF - 9 * day, "treated"),  # 2 contacts: N
        ("two", "call", AS_OF - 2 * day, "treated"),
        ("edge", "call", window_edge, "treated"),  # exactly 10 days old: out of the window
        ("edge", "nudge", AS_OF - day, "treated"),
        ("inside", "call", window_edge + US, "treated"),  # 1 µs younger: in the window
        ("inside", "nudge", AS_OF - day, "treated"),
    )
    users = ["one", "two", "edge", "inside", "nobody"]
    blocks = _blocks(frame, users, CAP)
    assert blocks.capped.tolist() == [False, True, False, True, False]
    np.testing.assert_array_equal(blocks.blocked[1], [True, True])
    np.testing.assert_array_equal(blocks.blocked[0], [False, False])  # nudge 9 days ago: free
    assert not _blocks(frame, users, NO_CAP).capped.any()  # no cap in the catalogue


def test_unknown_actions_count_toward_the_cap_but_not_cooldowns():
    frame = _log(
        ("u", "sms_blast", AS_OF - pd.Timedelta(days=1), "treated"),
        ("u", "nudge", AS_OF - pd.Timedelta(days=20), "treated"),  # out of both windows
        ("v", "sms_blast", AS_OF - pd.Timedelta(days=1), "treated"),
        ("v", "call", AS_OF - pd.Timedelta(days=3), "treated"),
    )
    history = ContactHistory.from_frame(frame, CAP)
    assert history.report.unknown_action_contacts == 2
    blocks = history.blocks(pd.Index(["u", "v"]), CAP, AS_OF)
    np.testing.assert_array_equal(blocks.cooldown, [[False, False], [True, False]])
    assert blocks.capped.tolist() == [False, True]


def test_users_outside_the_population_are_counted_not_fatal():
    frame = _log(
        ("ghost", "call", AS_OF - pd.Timedelta(days=1), "treated"),
        ("ghost", "nudge", AS_OF + pd.Timedelta(days=1), "treated"),  # future counts as such
        ("u", "call", AS_OF - pd.Timedelta(days=1), "treated"),
    )
    blocks = _blocks(frame, ["u", "w"], CAP)
    assert (blocks.contacts_matched, blocks.contacts_unknown_user) == (1, 1)
    assert blocks.contacts_after_as_of == 1
    np.testing.assert_array_equal(blocks.cooldown, [[True, False], [False, False]])
    assert blocks.summary() == (
        "contact history: 1 contacts of scored users, 1 of users not scored, 1 after as_of "
        "ignored; 1 users with an action in cooldown, 0 at the frequency cap"
    )


def test_bad_rows_are_rejected_by_reason_with_a_summary_line():
    day = AS_OF - pd.Timedelta(days=1)
    frame = _log(
        ("", "call", day, "treated"),  # missing_user_id
        ("u", None, day, "treated"),  # missing_action_id
        ("u", "call", "yesterday-ish", "treated"),  # unparseable_assigned_at
        ("u", "call", day, "sent"),  # unknown_group
        ("u", "call", day, "treated"),
        ("u", "call", day, "treated"),  # duplicate_contact
        ("u", "mystery", day, "control"),
    )
    report = ContactHistory.from_frame(frame, CAP, source="log.csv").report
    assert report.rejected == {
        "missing_user_id": 1,
        "missing_action_id": 1,
        "unparseable_assigned_at": 1,
        "unknown_group": 1,
        "duplicate_contact": 1,
    }
    assert report.summary() == (
        "log.csv: 2 of 7 rows accepted; rejected 5 (1 missing_user_id, 1 missing_action_id, "
        "1 unparseable_assigned_at, 1 unknown_group, 1 duplicate_contact) "
        "[1 contacts; not contacts: 1 control; group values not read: 'sent' (1); "
        "expected treated, control or none]"
    )


def test_a_missing_column_is_named_with_the_columns_found():
    frame = _log(("u", "call", AS_OF, "treated")).drop(columns="group")
    with pytest.raises(ContactHistoryError) as caught:
        ContactHistory.from_frame(frame, CAP, source="sent.parquet")
    message = str(caught.value)
    assert message.startswith("sent.parquet: missing required column 'group'")
    assert "found columns: user_id, action_id, assigned_at" in message


def test_csv_and_parquet_files_read_alike_with_times_in_utc(tmp_path):
    frame = _log(
        ("u", "call", "2024-03-01T02:00:00+02:00", "treated"),  # 2024-03-01 00:00 UTC: free
        ("v", "call", "2024-03-01T00:00:00.000001", "treated"),  # naive = UTC: blocked
        ("w", "nudge", "2024-03-30T12:00:00", "control"),
    )
    frame["cutoff"] = "2024-02-29"  # extra contract columns are ignored
    frame.to_csv(tmp_path / "log.csv", index=False)
    frame.to_parquet(tmp_path / "log.parquet")
    for name in ("log.csv", "log.parquet"):
        history = load_contacts(tmp_path / name, CAP)
        assert history.report.source == str(tmp_path / name)
        assert (history.report.contacts, history.report.not_contacts) == (2, {"control": 1})
        blocks = history.blocks(pd.Index(["u", "v", "w"]), CAP, "2024-03-31T00:00:00Z")
        np.testing.assert_array_equal(blocks.cooldown, [[False, False], [True, False], [0, 0]])


def test_a_holdout_score_file_is_a_contact_history(tmp_path):
    scores = pd.DataFrame(
        {
            "user_id": ["a", "b", "c", "d"],
            "churn_probability": [0.9, 0.8, 0.2, 0.7],
            "action": ["call", "call", "no_action", "nudge"],
            "assignment": ["treated", "control", "none", "treated"],
            "as_of": [pd.Timestamp("2024-03-25")] * 4,
        }
    )
    scores.to_parquet(tmp_path / "scores.parquet")
    history = load_contacts(tmp_path / "scores.parquet", CAP)
    assert history.report.contacts == 2
    assert history.report.not_contacts == {"control": 1, "untargeted": 1}
    assert "read as a holdout decision list" in history.report.summary()
    blocks = history.blocks(pd.Index(["a", "b", "c", "d"]), CAP, AS_OF)
    # Sent on 03-25, six days before as_of: inside call's 30 and nudge's 7 days.
    np.testing.assert_array_equal(
        blocks.cooldown, [[True, False], [False, False], [False, False], [False, True]]
    )


def test_file_errors_are_contact_history_errors(tmp_path):
    with pytest.raises(ContactHistoryError, match="no such contact history"):
        load_contacts(tmp_path / "missing.parquet", CAP)
    (tmp_path / "log.txt").write_text("user_id\n")
    with pytest.raises(ContactHistoryError, match="unsupported"):
        load_contacts(tmp_path / "log.txt", CAP)
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(ContactHistoryError, match="cannot read contact history"):
        load_contacts(tmp_path / "bad.parquet", CAP)


def test_blocks_needs_a_time_and_unique_users():
    history = ContactHistory.from_frame(_log(("1", "call", AS_OF, "treated")), CAP)
    with pytest.raises(ValueError, match="as_of is required"):
        history.blocks(pd.Index(["1"]), CAP, None)
    with pytest.raises(ValueError, match="duplicate"):
        history.blocks(pd.Index(["1", "1"]), CAP, AS_OF)
    numeric = history.blocks(pd.Index([1, 2]), CAP, AS_OF)  # ids compare as strings
    np.testing.assert_array_equal(numeric.cooldown, [[True, False], [False, False]])
    # 01:00+02:00 is 2024-03-30 23:00 UTC: the contact at 03-31 00:00 has not happened yet.
    aware = history.blocks(pd.Index(["1"]), CAP, "2024-03-31T01:00:00+02:00")
    assert (aware.contacts_after_as_of, aware.contacts_matched) == (1, 0)
