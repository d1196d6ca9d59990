"""The loop through the real commands: score with learned effects and a holdout, report on it.

Uses the session's trained champions (tests/serving/conftest.py); the effects file is written
by hand so that the test says exactly which effect changed.
"""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from retain.cli import app
from serving.campaigns.effects_file import build_effects_file, dump_effects
from serving.campaigns.estimates import EFFECT_COLUMNS

pytestmark = pytest.mark.slow  # the session fixture trains both models once


def _effects_file(path) -> None:
    """habit_nudge measured to backfire on every active tier (prior: +4 % of churn removed)."""
    cells = pd.DataFrame(
        [
            {"action_id": "habit_nudge", "segment": f"active/{tier}", "n_treated": 900,
             "n_control": 900, "prior_effect": 0.04, "relative_effect": -0.8,
             "relative_effect_se": 0.1, "learned_effect": -0.7, "learned_effect_se": 0.1,
             "verdict": "backfires"}
            for tier in ("high", "mid", "low")
        ]
    ).reindex(columns=list(EFFECT_COLUMNS))  # fmt: skip
    path.write_text(dump_effects(build_effects_file(cells, source={}, windows={}, estimation={})))


def test_score_with_learned_effects_and_a_holdout(serving_store, tmp_path):
    effects = tmp_path / "effects.yaml"
    _effects_file(effects)
    env = serving_store.env()
    runner = CliRunner()
    outputs = {}
    for name, extra in (("prior", []), ("learned", ["--effects", str(effects)])):
        out = tmp_path / f"{name}.parquet"
        result = runner.invoke(
            app,
            ["score", "--events", str(serving_store.events), "--out", str(out),
             "--reasons", "path", "--holdout-share", "0.2", "--holdout-seed", "5", *extra],
            env=env,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "holdout: " in result.output
        outputs[name] = pd.read_parquet(out)

    prior, learned = outputs["prior"], outputs["learned"]
    active = prior["lifecycle_stage"] == "active"
    assert (prior.loc[active, "action"] == "habit_nudge").any()
    assert not (learned.loc[active, "action"] == "habit_nudge").any()
    reactivated = prior["lifecycle_stage"] == "reactivated"  # not measured: keeps its prior
    nudged = prior.loc[reactivated, "action"] == "habit_nudge"
    assert (learned.loc[reactivated, "action"][nudged] == "habit_nudge").all()
    for scores in (prior, learned):
        targeted = scores[scores["action"] != "no_action"]
        assert set(targeted["assignment"]) <= {"treated", "control"}
        assert (scores.loc[scores["action"] == "no_action", "assignment"] == "none").all()
        share = (targeted["assignment"] == "control").groupby(targeted["action"]).mean()
        sizes = targeted.groupby("action").size()
        assert ((share - 0.2).abs() <= 0.5 / sizes + 1e-9).all()

    report = tmp_path / "report.html"
    result = runner.invoke(
        app,
        ["report", "--scores", str(tmp_path / "prior.parquet"), "--out", str(report),
         "--effects", str(effects)],
        env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    page = report.read_text()
    assert "Learned effects (campaigns with control groups)" in page
    assert "habit_nudge backfires on active/high" in page
    assert "Change in expected gain" in page
