"""`--help` lists the choices of every choice option and shows boolean flags as flags.

The choices are compared with the libraries' own lists, so a new engine, model or sort order
added below shows up here until the CLI offers it too.
"""

from __future__ import annotations

import re
import typing

import pytest
from typer.testing import CliRunner

from retain.cli import app
from retain.commands.options import Attribution, Engine, InputFormat, ListOrder, ModelKind

runner = CliRunner()


def _help(command: str) -> str:
    result = runner.invoke(app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize(
    ("command", "flag", "choices"),
    [
        *((c, "--model", "churn|recall|value") for c in ("train", "tune", "backtest")),
        *((c, "--model", "churn|recall|value") for c in ("promote", "rollback")),
        *((c, "--engine", "duckdb|spark") for c in ("features", "validate", "score")),
        *((c, "--reasons", "treeshap|path") for c in ("score", "churn-list", "serve")),
        ("churn-list", "--sort-by", "value_at_risk|risk|gain"),
        ("churn-list", "--format", "csv|parquet"),
        ("features", "--format", "auto|events|cdnow|online_retail"),
        ("effects", "--effect-basis", "churn|revenue"),
    ],
)
def test_choices_are_listed_in_help(command, flag, choices):
    assert re.search(rf"{flag} <{re.escape(choices)}>", _help(command)), _help(command)


@pytest.mark.parametrize(
    ("command", "flag"),
    [
        ("features", "--labels"),
        ("features", "--partitioned"),
        ("train", "--strict"),
        ("score", "--with-features"),
        ("churn-list", "--all"),
        ("validate", "--json"),
        ("rollback", "--force"),
    ],
)
def test_boolean_flags_take_no_value_in_help(command, flag):
    line = next(line for line in _help(command).splitlines() if line.strip().startswith(flag))
    assert "<" not in line.split(flag, 1)[1].split("  ")[0], line
    assert "<bool>" not in _help(command)


def test_the_cli_choices_are_the_libraries_own():
    from features.adapters import ADAPTERS
    from features.engines import ENGINES
    from serving.decisions.churn_list import SortKey
    from serving.scoring.pipeline import ScoringConfig
    from training.config import MODEL_KINDS

    assert typing.get_args(ModelKind) == tuple(MODEL_KINDS)
    assert typing.get_args(Engine) == tuple(ENGINES)
    assert typing.get_args(ListOrder) == typing.get_args(SortKey)
    attribution = typing.get_type_hints(ScoringConfig)["attribution"]
    assert typing.get_args(Attribution) == typing.get_args(attribution)
    assert set(typing.get_args(InputFormat)) == {"auto", "events", *ADAPTERS}


def test_a_value_outside_the_choices_is_refused_naming_the_flag():
    result = runner.invoke(app, ["train", "--model", "loyalty"])
    assert result.exit_code == 2
    assert "'--model'" in result.output and "'loyalty' is not one of" in result.output
