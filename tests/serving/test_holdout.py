"""Holdout assignment: deterministic by seed and cutoff, exact share per action, in the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from retain.cli import app
from serving.decisions.campaign_log import validate_campaigns
from serving.decisions.holdout import HoldoutConfig, assign_holdout, with_holdout
from serving.scoring.pipeline import SCORE_COLUMNS

ACTIONS = ("vip_care", "habit_nudge", "winback_offer", "no_action")


def _scores(n: int = 2_000, seed: int = 0) -> pd.DataFrame:
    """A score table in SCORE_COLUMNS (no models needed for holdouts or lists)."""
    rng = np.random.default_rng(seed)
    action = rng.choice(ACTIONS, n, p=[0.1, 0.4, 0.2, 0.3])
    return pd.DataFrame(
        {
            "user_id": [f"u{i:05d}" for i in range(n)],
            "as_of": pd.Timestamp("2024-06-01"),
            "churn_probability": rng.uniform(0, 1, n),
            "return_probability": np.nan,
            "predicted_value": rng.gamma(2, 50, n),
            "value_if_retained": rng.gamma(2, 60, n),
            "value_at_stake": rng.gamma(2, 40, n),
            "lifecycle_stage": "active",
            "value_tier": "mid",
            "action": action,
            "expected_gain": np.where(action == "no_action", 0.0, rng.uniform(0, 10, n)),
            "action_cost": 0.1,
            "decision_reason": "best_gain",
            "reasons": "recent activity",
            "churn_model_version": "1",
            "recall_model_version": "1",
            "value_model_version": "1",
            "feature_set_id": "behavioural_v1",
        }
    )[list(SCORE_COLUMNS)]


def test_each_actions_share_is_exact_and_untargeted_users_are_none():
    scores = _scores()
    assignment = assign_holdout(scores, HoldoutConfig(share=0.2, seed=1))
    assert (assignment[scores["action"] == "no_action"] == "none").all()
    for action in ACTIONS[:-1]:
        arms = assignment[scores["action"] == action]
        assert set(arms) == {"treated", "control"}
        assert (arms == "control").sum() == int(np.floor(0.2 * len(arms) + 0.5))


def test_the_draw_is_deterministic_and_independent_of_row_order():
    scores = _scores()
    config = HoldoutConfig(share=0.3, seed=7)
    first = assign_holdout(scores, config)
    assert first.equals(assign_holdout(scores, config))
    shuffled = scores.sample(frac=1.0, random_state=3)
    again = assign_holdout(shuffled, config)
    assert again.sort_index().equals(first)


def test_seed_and_cutoff_each_draw_fresh_controls():
    scores = _scores()
    base = assign_holdout(scores, HoldoutConfig(share=0.3, seed=7))
    other_seed = assign_holdout(scores, HoldoutConfig(share=0.3, seed=8))
    later = assign_holdout(scores.assign(as_of=pd.Timestamp("2024-07-01")), HoldoutConfig(0.3, 7))
    for other in (other_seed, later):
        both_control = ((base == "control") & (other == "control")).sum()
        assert both_control < 0.5 * (base == "control").sum()  # ~30 % overlap by chance


def test_no_share_treats_every_target_and_bad_settings_fail():
    scores = _scores(200)
    assignment = assign_holdout(scores, HoldoutConfig(share=0.0))
    assert set(assignment[scores["action"] != "no_action"]) == {"treated"}
    assert with_holdout(scores, None) is scores
    with pytest.raises(ValueError, match=r"holdout share must be in \[0, 1\)"):
        HoldoutConfig(share=1.0)
    with pytest.raises(ValueError, match="several cutoffs"):
        assign_holdout(
            scores.assign(
                as_of=[pd.Timestamp("2024-01-01")] * 100 + [pd.Timestamp("2024-02-01")] * 100
            ),
            HoldoutConfig(share=0.1),
        )


def test_churn_list_records_the_arms_and_is_a_valid_campaign_log(tmp_path):
    score_file = tmp_path / "scores.parquet"
    _scores().to_parquet(score_file, index=False)
    out = tmp_path / "list.csv"
    args = ["churn-list", "--scores", str(score_file), "--top", "5000", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--holdout-share", "0.25", "--holdout-seed", "3"])
    assert result.exit_code == 0, result.output
    assert "holdout: " in result.output
    listed = pd.read_csv(out, dtype={"user_id": str})
    assert {"assignment", "as_of"} <= set(listed.columns)
    targeted = listed[listed["action"] != "no_action"]
    assert (targeted.groupby("action")["assignment"].apply(lambda s: (s == "control").mean())
            .between(0.24, 0.26).all())  # fmt: skip
    log = validate_campaigns(listed, str(out))
    assert log.report.rows_accepted == len(targeted)
    assert log.report.rejected == {}

    # The arms are drawn over all scored users, before filters: a shorter list agrees.
    short = tmp_path / "short.csv"
    again = CliRunner().invoke(
        app,
        ["churn-list", "--scores", str(score_file), "--top", "50", "--out", str(short),
         "--holdout-share", "0.25", "--holdout-seed", "3"],
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    top = pd.read_csv(short, dtype={"user_id": str}).set_index("user_id")["assignment"]
    assert top.equals(listed.set_index("user_id")["assignment"].loc[top.index])


def test_effects_on_a_score_file_decide_again_and_a_missing_file_is_named(tmp_path):
    score_file = tmp_path / "scores.parquet"
    _scores(50).to_parquet(score_file, index=False)
    missing = tmp_path / "e.yaml"
    result = CliRunner().invoke(
        app, ["churn-list", "--scores", str(score_file), "--effects", str(missing)]
    )
    assert result.exit_code == 2
    assert str(missing) in result.output and "Traceback" not in result.output


def test_a_holdout_on_a_score_file_decided_again_spends_nothing_on_controls(tmp_path):
    """Re-deciding with a budget and a holdout: the treated arm alone fits the budget."""
    score_file = tmp_path / "scores.parquet"
    _scores(400).assign(lifecycle_stage="at_risk", value_tier="high").to_parquet(score_file)
    out = tmp_path / "plan.csv"
    result = CliRunner().invoke(
        app,
        ["action-plan", "--scores", str(score_file), "--budget", "100", "--all",
         "--holdout-share", "0.2", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    plan = pd.read_csv(out, dtype={"user_id": str})
    treated = plan[plan["assignment"] == "treated"]
    assert 0 < treated["action_cost"].sum() <= 100 + 1e-9
    assert (plan["assignment"] == "control").sum() > 0
