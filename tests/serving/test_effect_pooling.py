"""Revenue-basis effects: each cell's churn-basis effect plus the revenue its action adds beyond
it, pooled across the action's segments (serving/campaigns/pooling.py, estimates.py).

The logs below are built so that each cell's revenue effect and its Welch standard error are
known by construction; every expected number is derived by hand in the comments (exact
fractions), not taken from the code under test.

Every cell churns alike in both arms (1 in 4), so its churn-basis effect is its prior shrunk
toward a measured 0: Agresti–Caffo variances (1 + 1)/(4 + 2) = 1/3 → 1/3 · 2/3 / 6 = 1/27 per
arm, a relative-effect variance of 16/27 + 16/27 = 32/27, and with the prior's sd 0.3 the
churn-basis effect is prior · (100/9) / (100/9 + 27/32) = prior · 3200/3443.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from serving.campaigns.effects_file import (
    build_effects_file,
    dump_effects,
    learned_catalogue,
    load_effects,
)
from serving.campaigns.estimates import EstimationConfig, estimate_effects
from serving.campaigns.pooling import pool_cells
from serving.decisions.actions import load_catalogue
from serving.decisions.policy import decide

REVENUE = EstimationConfig(effect_basis="revenue")
CHURN_SHARE = 3200 / 3443  # share of the prior a cell's churn-basis effect keeps (docstring)


def _cell(
    action: str,
    segment: str,
    treated: list[float],
    control: list[float],
    churned: list[float] | None = None,
) -> pd.DataFrame:
    """One randomised cell; churn_probability × value_at_stake = 0.5 × 2 = 1 for every row, so
    the revenue effect is the plain difference in mean future value. By default 1 in 4 churn
    in each arm."""
    values = control + treated
    return pd.DataFrame(
        {
            "action_id": action,
            "segment": segment,
            "group": ["control"] * len(control) + ["treated"] * len(treated),
            "churned": churned or [1.0, 0.0, 0.0, 0.0] * (len(values) // 4),
            "future_value": values,
            "churn_probability": 0.5,
            "value_at_stake": 2.0,
        }
    )


def test_equal_errors_pool_by_hand():
    # Three cells 0, 1, 2 with se² = 2/3 each: the weights are equal, so the pooled mean is 1,
    # Q = 1.5 · (1 + 0 + 1) = 3 and Σw − Σw²/Σw = 4.5 − 1.5 = 3: τ² = (3 − 2) / 3 = 1/3.
    # Each cell keeps τ² / (τ² + se²) = 1/3 of its deviation: 2/3, 1, 4/3.
    pooled = pool_cells(np.array([0.0, 1.0, 2.0]), np.full(3, np.sqrt(2 / 3)))
    assert pooled.mean == pytest.approx(1.0)
    assert pooled.spread == pytest.approx(np.sqrt(1 / 3))
    assert pooled.learned == pytest.approx([2 / 3, 1.0, 4 / 3])
    # var(μ) = 1 / Σ 1/(se² + τ²) = 1/3; var = 1/3 · 2/3 + (2/3)² · 1/3 = 2/9 + 4/27 = 10/27.
    assert pooled.mean_se == pytest.approx(np.sqrt(1 / 3))
    assert pooled.learned_se == pytest.approx(np.full(3, np.sqrt(10 / 27)))


def test_cells_that_agree_within_their_noise_all_get_the_pooled_effect():
    # 1.0 and 1.1 with se 1: Q = 2 · 0.05² = 0.005 < k − 1 = 1, so τ² = 0 and both cells are the
    # plain mean 1.05, with the mean's error (1/2)^½.
    pooled = pool_cells(np.array([1.0, 1.1]), np.array([1.0, 1.0]))
    assert pooled.spread == 0.0
    assert pooled.learned == pytest.approx([1.05, 1.05])
    assert pooled.learned_se == pytest.approx([np.sqrt(0.5)] * 2)


def test_pooling_refuses_what_it_cannot_weigh():
    with pytest.raises(ValueError, match="at least two cells"):
        pool_cells(np.array([1.0]), np.array([0.5]))
    with pytest.raises(ValueError, match="positive, finite standard errors"):
        pool_cells(np.array([1.0, 2.0]), np.array([0.5, 0.0]))


def _vip_log() -> pd.DataFrame:
    # Control [0, 2, 0, 2] (mean 1, variance 4/3); treated the same spread around m = 1, 2, 3:
    # revenue effects 0, 1, 2, each with Welch se² = 4/3 / 4 · 2 = 2/3 (the first test's cells).
    return pd.concat(
        [
            _cell("vip_care", segment, [m - 1, m + 1] * 2, [0.0, 2.0] * 2)
            for segment, m in (("at_risk/low", 1.0), ("at_risk/mid", 2.0), ("at_risk/high", 3.0))
        ],
        ignore_index=True,
    )


def test_estimates_pool_an_actions_revenue_cells_and_the_file_carries_them(tmp_path):
    cells = estimate_effects(_vip_log(), load_catalogue(), REVENUE).set_index("segment")
    assert cells["revenue_effect"].tolist() == pytest.approx([2.0, 0.0, 1.0])  # high, low, mid
    assert cells["revenue_effect_se"].tolist() == pytest.approx([np.sqrt(2 / 3)] * 3)
    # The churn basis is the same c = 0.35 · 3200/3443 in every cell, so the parts beyond churn
    # are r − c: the first test's cells shifted by c. They pool to 1 − c with τ² = 1/3, and
    # each cell's effect c + (1 − c) + 1/3 · (r − 1) is 2/3, 1, 4/3 as before.
    churn_basis = 0.35 * CHURN_SHARE
    assert cells["churn_basis_effect"].tolist() == pytest.approx([churn_basis] * 3)
    assert cells["beyond_churn_pooled"].tolist() == pytest.approx([1.0 - churn_basis] * 3)
    assert cells["beyond_churn_sd"].tolist() == pytest.approx([np.sqrt(1 / 3)] * 3)
    assert cells["learned_effect"].tolist() == pytest.approx([4 / 3, 2 / 3, 1.0])

    # Round trip: the YAML file keeps the pooled numbers, and applying it gives the policy the
    # learned effect, clipped to the catalogue's [-1, 1] (4/3 → 1).
    effects_file = build_effects_file(cells.reset_index(), source={}, windows={}, estimation={})
    path = tmp_path / "effects.yaml"
    path.write_text(dump_effects(effects_file))
    loaded = load_effects(path).table().set_index("segment")
    assert loaded["beyond_churn_pooled"].tolist() == pytest.approx([1.0 - churn_basis] * 3)
    assert loaded["learned_effect"].tolist() == pytest.approx([4 / 3, 2 / 3, 1.0])
    catalogue, skipped = learned_catalogue(load_catalogue(), load_effects(path))
    assert skipped == []
    vip = catalogue.get("vip_care").effect
    assert vip.for_segment("at_risk", "low") == pytest.approx(2 / 3)
    assert vip.for_segment("at_risk", "mid") == pytest.approx(1.0)
    assert vip.for_segment("at_risk", "high") == 1.0


def test_a_noisy_positive_cell_of_a_precisely_harmful_action_gets_no_action():
    # Two precise cells lose revenue (−0.5 and −0.4, se² = 1/150: treated 0.4/0.6 or 0.5/0.7
    # against control 0.9/1.1), one noisy cell seems to gain +0.5 (se² = 2/3, interval
    # ±1.6 crosses zero). The churn basis is one c = 0.04 · 3200/3443 for all three, so the parts
    # beyond churn are these minus c and pool like them. By hand: w = 150, 150, 1.5; fixed mean
    # −179/402; Q − 2 = 0.0970 over Σw − Σw²/Σw = 152.24, so τ² = 13/20400 and the noisy cell
    # keeps 0.1 % of its deviation: c + (μ − c) + 0.001 · (0.5 − μ) with μ = −0.44483.
    log = pd.concat(
        [
            _cell("habit_nudge", "active/high", [0.4, 0.6] * 2, [0.9, 1.1] * 2),
            _cell("habit_nudge", "active/mid", [0.5, 0.7] * 2, [0.9, 1.1] * 2),
            _cell("habit_nudge", "active/low", [0.5, 2.5] * 2, [0.0, 2.0] * 2),
        ],
        ignore_index=True,
    )
    cells = estimate_effects(log, load_catalogue(), REVENUE).set_index("segment")
    assert cells.loc["active/low", "revenue_effect"] == pytest.approx(0.5)
    assert cells["beyond_churn_sd"].iloc[0] == pytest.approx(np.sqrt(13 / 20400))
    assert cells.loc["active/low", "learned_effect"] == pytest.approx(-0.44393, abs=1e-4)

    def plan(effects: pd.DataFrame) -> list[str]:
        effects_file = build_effects_file(effects.reset_index(), source={}, windows={},
                                          estimation={})  # fmt: skip
        catalogue, _ = learned_catalogue(load_catalogue(), effects_file)
        users = pd.DataFrame(
            {
                "user_id": ["a", "b"],
                "churn_probability": 0.4,
                "value_at_stake": 2.0,
                "lifecycle_stage": "active",
                "value_tier": "low",
            }
        )
        return decide(users, catalogue)["action"].tolist()

    # Pooled, the nudge loses 0.4 · (−0.444) · 2 − 0.05 = −0.41 per user, and the referral
    # incentive (prior 0.1) gains 0.4 · 0.1 · 2 − 0.1 = −0.02: nobody is contacted. Taken alone,
    # the cell's +0.5 would have nudged them: 0.4 · 0.5 · 2 − 0.05 = +0.35.
    assert plan(cells) == ["no_action", "no_action"]
    alone = cells.assign(learned_effect=cells["revenue_effect"])
    assert plan(alone) == ["habit_nudge", "habit_nudge"]


def test_a_lone_revenue_cell_shrinks_its_part_beyond_churn_toward_zero():
    # One vip_care cell: nothing to pool with. Its part beyond churn, 2 − c (se² 2/3), is
    # shrunk toward 0 with the prior's sd 0.3: it keeps 0.09 / (0.09 + 2/3) = 27/227 of it.
    log = _vip_log()
    cell = estimate_effects(log[log["segment"] == "at_risk/high"], load_catalogue(), REVENUE)
    cell = cell.iloc[0]
    churn_basis = 0.35 * CHURN_SHARE
    assert np.isnan(cell["beyond_churn_pooled"]) and np.isnan(cell["beyond_churn_sd"])
    assert cell["churn_basis_effect"] == pytest.approx(churn_basis)
    assert cell["learned_effect"] == pytest.approx(churn_basis + 27 / 227 * (2.0 - churn_basis))


def test_borrowed_spending_never_lifts_a_measured_backfire():
    # active/high: churn 10 % → 40 % (200 per arm), and a revenue effect of −1 too noisy to
    # count (values 0/40 against −1/39: se 2). active/mid and active/low churn alike in both
    # arms and gain a precise +0.5 (0.9/1.1 against 1.4/1.6, se 0.01). The part beyond churn
    # pools to about +0.49 (the noisy cell has almost no weight, and τ² = 0), which would lift
    # active/high above zero; its own churn rate says the nudge harms, so it keeps its
    # churn-basis effect, below zero.
    n = 200
    high = _cell("habit_nudge", "active/high", [-1.0, 39.0] * (n // 2), [0.0, 40.0] * (n // 2),
                 churned=[1.0] * 20 + [0.0] * 180 + [1.0] * 80 + [0.0] * 120)  # fmt: skip
    alike = [
        _cell("habit_nudge", segment, [1.4, 1.6] * (n // 2), [0.9, 1.1] * (n // 2))
        for segment in ("active/mid", "active/low")
    ]
    cells = estimate_effects(pd.concat([high, *alike]), load_catalogue(), REVENUE)
    cells = cells.set_index("segment")
    assert cells.loc["active/high", "verdict"] == "backfires"
    assert cells.loc["active/high", "revenue_effect"] == pytest.approx(-1.0)
    assert cells.loc["active/high", "beyond_churn_pooled"] == pytest.approx(0.49, abs=0.01)
    churn_basis = cells.loc["active/high", "churn_basis_effect"]
    assert churn_basis + 0.49 > 0 > churn_basis
    assert cells.loc["active/high", "learned_effect"] == churn_basis
    assert (cells.loc[["active/mid", "active/low"], "learned_effect"] > 0.45).all()
