"""The simulator's known shift: the log is unchanged before the day, shifted as asked after it.

Why: `retain monitor` must be tested against a shift whose size and date are known. The checks
compare a shifted run with the same seed's unshifted run, so the expected numbers follow from
the configuration alone (amounts × factor, the kept share of activity, the relabelled views).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from simulator.drift import DriftConfig
from simulator.simulation import SimulationConfig, simulate_events

BASE = SimulationConfig(users=3_000, days=200, seed=5)
SHIFT_DAY = 120
CUT = pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(days=SHIFT_DAY)


@pytest.fixture(scope="module")
def runs() -> tuple[pd.DataFrame, pd.DataFrame]:
    drift = DriftConfig(
        from_day=SHIFT_DAY, spend_factor=3.0, activity_factor=0.5, new_event_type="wishlist"
    )
    return simulate_events(BASE), simulate_events(BASE.model_copy(update={"drift": drift}))


def test_before_the_shift_the_log_is_identical(runs) -> None:
    plain, shifted = runs
    before = [frame[frame["event_time"] < CUT].reset_index(drop=True) for frame in runs]
    pd.testing.assert_frame_equal(before[0], before[1])
    assert len(before[0]) > 10_000 and len(plain) > len(shifted)


def test_after_the_shift_spend_triples_activity_halves_and_a_new_type_appears(runs) -> None:
    plain, shifted = (frame[frame["event_time"] >= CUT] for frame in runs)
    spend = ("purchase", "refund")
    # Purchases are never dropped and their amounts are tripled (to the cent).
    p_plain = plain[plain["event_type"].isin(spend)].reset_index(drop=True)
    p_shift = shifted[shifted["event_type"].isin(spend)].reset_index(drop=True)
    assert len(p_plain) == len(p_shift) > 500
    np.testing.assert_allclose(p_shift["amount"], np.round(p_plain["amount"] * 3, 2), atol=1e-9)
    # Other events: about half kept (binomial: 4 standard deviations).
    n_other = int((~plain["event_type"].isin(spend)).sum())
    kept = int((~shifted["event_type"].isin(spend)).sum())
    assert abs(kept - 0.5 * n_other) < 4 * np.sqrt(n_other * 0.25)
    # The new type exists only after the shift, taken from views (default share 0.3).
    assert (shifted["event_type"] == "wishlist").sum() > 100
    assert not (runs[0]["event_type"] == "wishlist").any()
    views = (shifted["event_type"] == "view").sum()
    share = (shifted["event_type"] == "wishlist").sum() / (
        views + (shifted["event_type"] == "wishlist").sum()
    )
    assert abs(share - 0.3) < 0.03


def test_a_drift_that_changes_nothing_is_the_plain_log_and_bad_values_are_refused(runs) -> None:
    same = simulate_events(BASE.model_copy(update={"drift": DriftConfig(from_day=10)}))
    pd.testing.assert_frame_equal(same, runs[0])
    for bad in (
        {"from_day": -1},
        {"from_day": 1, "activity_factor": 0},
        {"from_day": 1, "new_event_type": "Bad Type"},
    ):
        with pytest.raises(ValidationError):
            DriftConfig(**bad)


def test_retain_simulate_takes_the_shift_and_refuses_a_shift_without_a_day(tmp_path) -> None:
    from typer.testing import CliRunner

    from retain.cli import app

    out = tmp_path / "events.parquet"
    args = ["simulate", "--users", "500", "--days", "90", "--out", str(out)]
    shifted = CliRunner().invoke(
        app, [*args, "--drift-from", "2024-03-01", "--drift-new-type", "wishlist"]
    )
    assert shifted.exit_code == 0, shifted.output
    events = pd.read_parquet(out)
    wishlist = events.loc[events["event_type"] == "wishlist", "event_time"]
    assert len(wishlist) > 0 and wishlist.min() >= pd.Timestamp("2024-03-01", tz="UTC")
    refused = CliRunner().invoke(app, [*args, "--drift-spend", "2"])
    assert (
        refused.exit_code == 2
        and "--drift-spend cannot apply without --drift-from" in refused.output
    )
