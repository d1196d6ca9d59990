"""Flags that cannot apply in a mode are refused by name (exit 2), never silently ignored.

Each row is a combination that an audit of every command found accepted-and-ignored (or one
that an earlier fix refuses, kept here so it stays refused). The refusals come before any
file is read, so the paths need not exist: a refusal that depended on reading them would
show up here as a different error.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from retain.cli import app

runner = CliRunner()
SCORES = ("--scores", "no-such-scores.parquet")
EVENTS = ("--events", "no-such-events.parquet")

CASES = [
    # churn-list / action-plan from a score file: these need the events and the models.
    ("churn-list", [*SCORES, "--as-of", "2024-01-01"], "--as-of"),
    ("churn-list", [*SCORES, "--reasons", "path"], "--reasons"),
    ("churn-list", [*SCORES, "--segments", "segments.yaml"], "--segments"),
    ("churn-list", [*SCORES, "--at-risk-threshold", "0.4"], "--at-risk-threshold"),
    ("churn-list", [*SCORES, "--tracking-uri", "sqlite:///x.db"], "--tracking-uri"),
    ("action-plan", [*SCORES, "--churn-horizon-days", "45"], "--churn-horizon-days"),
    # churn-list / action-plan: options that another option switches off.
    ("churn-list", [*SCORES, "--all", "--top", "5"], "--top"),
    ("churn-list", [*SCORES, "--format", "parquet"], "--format"),
    ("churn-list", [*SCORES, "--holdout-seed", "3"], "--holdout-seed"),
    ("action-plan", [*SCORES, "--sort-by", "risk"], "--sort-by"),
    # score
    ("score", [*EVENTS, "--out", "s.csv", "--features", "table"], "--features"),
    ("score", [*EVENTS, "--out", "s.csv", "--holdout-seed", "1"], "--holdout-seed"),
    # serve from a score file: it was already scored and decided.
    ("serve", [*SCORES, "--as-of", "2024-01-01"], "--as-of"),
    ("serve", [*SCORES, "--reasons", "path"], "--reasons"),
    ("serve", [*SCORES, "--budget", "100"], "--budget"),
    ("serve", [*SCORES, "--catalogue", "playbook.yaml"], "--catalogue"),
    ("serve", [*EVENTS, "--holdout-share", "0.1"], "--holdout-share"),  # the service draws none
    # promote --rollback-to compares nothing.
    ("promote", ["--model", "churn", "--rollback-to", "1", "--margin", "0.1"], "--margin"),
    ("promote", ["--model", "churn", "--rollback-to", "1", *EVENTS], "--events"),
    # report: the window flags shape the cohort curves, the catalogue holds effects' priors.
    ("report", [*SCORES, "--churn-horizon-days", "45"], "--churn-horizon-days"),
    ("report", [*SCORES, "--catalogue", "playbook.yaml"], "--catalogue"),
    # effects: no uplift models, no minimum per arm.
    (
        "effects",
        ["--campaigns", "c.parquet", *EVENTS, "--no-uplift", "--uplift-min-per-arm", "50"],
        "--uplift-min-per-arm",
    ),
    # evaluate --no-log writes nothing to MLflow.
    (
        "evaluate",
        [*EVENTS, "--as-of", "2024-01-01", "--no-log", "--tracking-uri", "sqlite:///x.db"],
        "--tracking-uri",
    ),
    # features: a partitioned table is Spark's.
    (
        "features",
        [*EVENTS, "--as-of", "2024-01-01", "--out", "f", "--partitioned"],
        "--partitioned",
    ),
]


@pytest.mark.parametrize(
    ("command", "args", "flag"), CASES, ids=[f"{c}-{flag}" for c, _, flag in CASES]
)
def test_a_flag_that_cannot_apply_is_refused_by_name(tmp_path, monkeypatch, command, args, flag):
    monkeypatch.chdir(tmp_path)  # nothing here: no default score file, no mlflow.db
    result = runner.invoke(app, [command, *args])
    assert result.exit_code == 2, result.output
    error = [line for line in result.output.splitlines() if "rror" in line]
    assert error and flag in error[-1], result.output
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == [], "a refused command wrote nothing"


def test_every_refusal_names_a_flag_that_exists():
    """A row naming a flag the command does not have would pass for the wrong reason."""
    for command, _, flag in CASES:
        usage = runner.invoke(app, [command, "--help"]).output
        if (command, flag) in {("action-plan", "--sort-by"), ("serve", "--holdout-share")}:
            assert flag not in usage  # not offered at all: the parser refuses it
        else:
            assert flag in usage, (command, flag)
