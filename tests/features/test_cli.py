"""`retain features` on the command line: output, printed counts, errors without tracebacks."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from retain.cli import app
from tests.features.tiny_log import tiny_events

runner = CliRunner()


@pytest.fixture
def tiny_csv(tmp_path):
    path = tmp_path / "events.csv"
    frame = tiny_events()
    bad = pd.DataFrame(
        [["", "2024-01-01", "login", None], ["u9", "soon", "login", None]], columns=frame.columns
    )
    pd.concat([frame, bad]).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_features_command_writes_one_row_per_user(tiny_csv, tmp_path, suffix):
    out = tmp_path / f"features{suffix}"
    result = runner.invoke(
        app,
        [
            "features",
            "--events",
            str(tiny_csv),
            "--as-of",
            "2024-04-01",
            "--out",
            str(out),
            "--labels",
        ],
    )
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # Rich wraps at the console width, anywhere
    assert "1 missing_user_id" in said
    assert "1 unparseable_event_time" in said
    frame = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert frame["user_id"].tolist() == ["u1", "u2", "u4", "u5", "u6"]
    assert {"churned", "future_value", "days_since_last_event"} <= set(frame.columns)
    assert not list(tmp_path.glob(".features*.tmp")), "no temporary file left behind"


def test_missing_column_is_a_clear_error_not_a_traceback(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("user,event_time,event_type\na,2024-01-01,login\n")
    out = tmp_path / "f.parquet"
    result = runner.invoke(
        app, ["features", "--events", str(path), "--as-of", "2024-04-01", "--out", str(out)]
    )
    assert result.exit_code == 2
    assert "missing required column 'user_id'" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_bad_cutoff_and_bad_output_type(tiny_csv, tmp_path):
    result = runner.invoke(
        app,
        [
            "features",
            "--events",
            str(tiny_csv),
            "--as-of",
            "next tuesday",
            "--out",
            str(tmp_path / "f.csv"),
        ],
    )
    assert result.exit_code == 2
    assert "not a date" in result.output
    result = runner.invoke(
        app,
        [
            "features",
            "--events",
            str(tiny_csv),
            "--as-of",
            "2024-04-01",
            "--out",
            str(tmp_path / "f.xlsx"),
        ],
    )
    assert result.exit_code == 2
    assert "unsupported output type" in result.output


def test_window_flags_reach_the_labels(tiny_csv, tmp_path):
    out = tmp_path / "f.csv"
    result = runner.invoke(
        app,
        [
            "features",
            "--events",
            str(tiny_csv),
            "--as-of",
            "2024-04-01",
            "--out",
            str(out),
            "--labels",
            "--churn-horizon-days",
            "31",
            "--activity-events",
            "login,view",
        ],
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out).set_index("user_id")
    assert frame.loc["u5", "churned"] == 0.0  # returns at T+30d, inside a 31-day horizon


def test_every_command_has_help():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    commands = [name for name in app.registered_commands]
    assert {"demo", "features"} <= {c.name for c in commands}
    for command in app.registered_commands:
        sub = runner.invoke(app, [command.name, "--help"])
        assert sub.exit_code == 0, f"{command.name} --help failed: {sub.output}"
        assert "Usage" in sub.output


@pytest.mark.parametrize(
    ("as_of", "extra", "warned"),
    [
        # The last event of the tiny log is 2024-06-30 00:00 UTC; the active window 90 days.
        ("2024-09-28", [], False),  # exactly 90 days after: users can still be active
        ("2024-09-29", [], True),  # 91 days after: nobody can be
        ("2024-09-29", ["--active-window-days", "120"], False),  # a longer window reaches it
        ("2024-09-28T02:00:00+02:00", [], False),  # = 2024-09-28 00:00 UTC: exactly 90 days
        ("2024-09-28T03:00:00+02:00", [], True),  # = 01:00 UTC: an hour past the window
    ],
)
def test_an_as_of_far_past_the_data_is_warned_about(tiny_csv, tmp_path, as_of, extra, warned):
    out = tmp_path / "f.csv"
    args = ["features", "--events", str(tiny_csv), "--as-of", as_of, "--out", str(out), *extra]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    if not warned:
        assert warnings == []
        return
    (line,) = warnings  # one line
    days = 91 if as_of == "2024-09-29" else 90  # whole days past the last event
    assert f"is {days} days after the last event (2024-06-30)" in line
    assert "90-day active window" in line
    assert out.exists()  # a warning, not a refusal: the cutoff may be meant


def test_features_builds_the_set_and_event_types_asked_for(tiny_csv, tmp_path):
    """`--feature-set behavioural_v2 --event-types login` adds v2's columns and exactly the
    login per-type columns (names written out by the naming rule, not read from the code)."""
    out = tmp_path / "v2.parquet"
    args = ["features", "--events", str(tiny_csv), "--as-of", "2024-04-01", "--out", str(out)]
    result = runner.invoke(
        app, [*args, "--feature-set", "behavioural_v2", "--event-types", "login"]
    )
    assert result.exit_code == 0, result.output
    assert "behavioural_v2: per-type columns for login" in " ".join(result.output.split())
    columns = set(pd.read_parquet(out).columns)
    per_type = {
        "type_login_count_total",
        "type_login_count_30d",
        "type_login_count_prev_30d",
        "type_login_trend_30d",
        "type_login_days_since_last",
    }
    assert per_type <= columns
    assert {c for c in columns if c.startswith("type_")} == per_type
    assert {"purchase_overdue", "clv_p_alive"} <= columns
    v1 = tmp_path / "v1.parquet"
    assert runner.invoke(app, ["features", *args[1:6], str(v1)]).exit_code == 0
    assert not {"purchase_overdue", "clv_p_alive"} & set(pd.read_parquet(v1).columns)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--feature-set", "behavioural_v9"], "unknown feature set 'behavioural_v9'"),
        (["--event-types", "login"], "has no per-event-type columns"),
        (["--feature-set", "behavioural_v2", "--event-types", " , "], "name at least one"),
    ],
)
def test_a_feature_set_flag_that_cannot_apply_is_refused(tiny_csv, tmp_path, flags, message):
    out = tmp_path / "f.parquet"
    args = ["features", "--events", str(tiny_csv), "--as-of", "2024-04-01", "--out", str(out)]
    result = runner.invoke(app, [*args, *flags])
    assert result.exit_code != 0
    assert message in " ".join(result.output.split())
    assert not out.exists()


def test_labels_whose_horizon_runs_past_the_log_are_refused(tiny_csv, tmp_path):
    """The tiny log ends at 2024-06-30 00:00, exactly 90 days (the value horizon) after
    2024-04-01 (accepted above); a day later the last label day is not in the log, and users
    would look churned and spend nothing there."""
    out = tmp_path / "features.parquet"
    args = ["features", "--events", str(tiny_csv), "--out", str(out), "--labels"]
    result = runner.invoke(app, [*args, "--as-of", "2024-04-02"])
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert "labels at 2024-04-02 need the 90 days after it" in said
    assert "last event (2024-06-30)" in said and "Traceback" not in said
    assert not out.exists()
    without_labels = runner.invoke(app, [*args[:-1], "--as-of", "2024-04-02"])
    assert without_labels.exit_code == 0, without_labels.output
