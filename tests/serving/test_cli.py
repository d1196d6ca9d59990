"""`retain score` and `retain churn-list` end to end through the Typer app."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from retain.cli import app
from serving.churn_list import LIST_COLUMNS, ChurnListQuery, churn_list
from serving.scoring import SCORE_COLUMNS

pytestmark = pytest.mark.slow
runner = CliRunner()


def _invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def score_file(serving_store, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "scores.parquet"
    result = _invoke(
        "score",
        *("--events", str(serving_store.events), "--out", str(out)),
        *("--tracking-uri", serving_store.tracking_uri, "--with-features"),
    )
    assert result.exit_code == 0, result.output
    assert "scoring summary" in result.output
    return out


def test_score_writes_the_same_numbers_as_the_pipeline(score_file, scored):
    written = pd.read_parquet(score_file)
    assert set(SCORE_COLUMNS) <= set(written.columns)
    pd.testing.assert_frame_equal(written[list(SCORE_COLUMNS)], scored.scores)
    assert "events_30d" in written.columns  # --with-features


def test_churn_list_from_a_score_file_as_csv(score_file, scored, tmp_path):
    out = tmp_path / "list.csv"
    result = _invoke(
        "churn-list",
        *("--scores", str(score_file), "--stage", "at_risk,active", "--min-risk", "0.3"),
        *("--top", "25", "--format", "csv", "--out", str(out)),
    )
    assert result.exit_code == 0, result.output
    listed = pd.read_csv(out, dtype={"user_id": "str"})
    assert list(listed.columns) == list(LIST_COLUMNS)
    expected = churn_list(
        scored.scores, ChurnListQuery(stages=("at_risk", "active"), min_risk=0.3, top=25)
    )
    assert listed["user_id"].tolist() == expected["user_id"].tolist()
    assert len(listed) == 25
    assert listed["churn_probability"].min() >= 0.3
    assert listed["expected_gain"].is_monotonic_decreasing


def test_churn_list_prints_when_no_out_is_given(score_file):
    result = _invoke("churn-list", "--scores", str(score_file), "--top", "3", "--sort-by", "risk")
    assert result.exit_code == 0, result.output
    assert "churn list (3 users)" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stage", "at-risk"], "unknown stage"),
        (["--action", "free_pony"], "unknown action"),
        (["--sort-by", "luck"], "--sort-by: Input should be"),
        (["--format", "parquet", "--out", "x.csv"], "does not end in .parquet"),
    ],
)
def test_churn_list_bad_input_is_one_line_exit_2(score_file, args, message):
    result = runner.invoke(app, ["churn-list", "--scores", str(score_file), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_score_bad_input_is_one_line_exit_2(serving_store, tmp_path):
    missing = runner.invoke(
        app, ["score", "--events", str(tmp_path / "nope.parquet"), "--out", str(tmp_path / "s.csv")]
    )
    assert missing.exit_code == 2 and "Traceback" not in missing.output
    no_store = runner.invoke(
        app,
        [
            *("score", "--events", str(serving_store.events), "--out", str(tmp_path / "s.csv")),
            *("--tracking-uri", f"sqlite:///{tmp_path / 'empty.db'}"),
        ],
    )
    assert no_store.exit_code == 2 and "no MLflow store" in no_store.output
    assert not (tmp_path / "s.csv").exists()
