"""PSI and column profiles against values worked out by hand in each test."""

from __future__ import annotations

import math

import numpy as np
import pytest

from monitoring import categorical_profile, column_profile, numeric_profile, psi
from training.psi_bins import EPSILON, CategoricalProfile, NumericProfile


def test_psi_formula_by_hand() -> None:
    # Σ (c − r)·ln(c / r) over three bins.
    expected = (0.2 - 0.5) * math.log(0.2 / 0.5) + (0.3 - 0.3) * 0 + (0.5 - 0.2) * math.log(2.5)
    assert psi([0.5, 0.3, 0.2], [0.2, 0.3, 0.5]) == pytest.approx(expected)


def test_identical_shares_give_zero_even_with_empty_bins() -> None:
    assert psi([0.5, 0.0, 0.5], [0.5, 0.0, 0.5]) == 0.0


def test_numeric_psi_by_hand_with_missing_values() -> None:
    # Reference 0..9 in two bins: the median 4.5 cuts it into (−∞, 4.5] and (4.5, ∞), half each.
    profile = numeric_profile(np.arange(10), bins=2)
    assert profile.edges == (4.5,)
    assert profile.shares == (0.5, 0.5)
    assert profile.missing_share == 0.0
    # Current: 1, 2, 3 below, 5..9 above, and two missing values, out of 10 rows.
    current = [1, 2, 3, 5, 6, 7, 8, 9, None, float("nan")]
    expected = (
        (0.3 - 0.5) * math.log(0.3 / 0.5)  # below the median
        + 0.0  # above: 0.5 on both sides
        + (0.2 - EPSILON) * math.log(0.2 / EPSILON)  # missing: none in the reference
    )
    assert profile.psi(current) == pytest.approx(expected)
    assert expected == pytest.approx(1.6216, abs=1e-4)


def test_ties_collapse_into_one_bin_and_shares_are_counted() -> None:
    # Eight zeros and 1, 2: the 10%..70% deciles are all 0 (one cut point); the 80% and 90%
    # deciles interpolate to 0.2 and 1.1.
    profile = numeric_profile([0, 0, 0, 0, 0, 0, 0, 0, 1, 2], bins=10)
    assert profile.edges == pytest.approx((0.0, 0.2, 1.1))
    assert profile.shares == pytest.approx((0.8, 0.0, 0.1, 0.1))
    assert profile.psi([0] * 8 + [1, 2]) == 0.0


def test_constant_column_has_two_bins_and_detects_a_move() -> None:
    profile = numeric_profile([3.0] * 5)
    assert profile.edges == (3.0,)
    assert profile.shares == (1.0, 0.0)
    expected = (0.5 - 1.0) * math.log(0.5) + (0.5 - EPSILON) * math.log(0.5 / EPSILON)
    assert profile.psi([3, 3, 4, 4]) == pytest.approx(expected)


def test_categorical_psi_by_hand_with_an_unseen_category() -> None:
    profile = categorical_profile(["a"] * 6 + ["b"] * 4)
    assert profile.categories == ("a", "b")
    assert profile.shares == (0.6, 0.4, 0.0)  # a, b, every other value
    current = ["a"] * 5 + ["b"] * 3 + ["c"] * 2  # "c" lands in the other bin
    expected = (
        (0.5 - 0.6) * math.log(0.5 / 0.6)
        + (0.3 - 0.4) * math.log(0.3 / 0.4)
        + (0.2 - EPSILON) * math.log(0.2 / EPSILON)
    )
    assert profile.psi(current) == pytest.approx(expected)


def test_categorical_missing_values_are_a_bin() -> None:
    profile = categorical_profile(["a", "a", None, "b"])
    assert profile.missing_share == 0.25
    assert profile.psi(["a", "a", None, "b"]) == 0.0


def test_categories_beyond_the_cap_share_the_other_bin() -> None:
    profile = categorical_profile(list("aaabbc"), max_categories=2)
    assert profile.categories == ("a", "b")
    assert profile.shares == pytest.approx((0.5, 1 / 3, 1 / 6))


def test_identical_samples_give_zero_and_a_shift_is_critical() -> None:
    rng = np.random.default_rng(3)
    reference = rng.normal(size=5_000)
    profile = numeric_profile(reference)
    assert profile.psi(reference) == 0.0
    assert profile.psi(rng.normal(size=5_000)) < 0.1  # a fresh sample: noise only
    assert profile.psi(rng.normal(loc=1.0, size=5_000)) > 0.25  # a one-sd shift


def test_column_profile_picks_the_kind_from_the_dtype() -> None:
    assert isinstance(column_profile(np.array([1.0, 2.0])), NumericProfile)
    assert isinstance(column_profile(np.array([True, False])), CategoricalProfile)
    assert isinstance(column_profile(np.array(["x", "y"], dtype=object)), CategoricalProfile)


def test_all_missing_column_profiles_without_nan() -> None:
    profile = numeric_profile([None, None])
    assert profile.edges == ()
    assert profile.missing_share == 1.0
    assert all(value is None for value in profile.quantiles.values())
    assert math.isnan(profile.psi([]))


def test_fewer_than_two_bins_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        numeric_profile([1.0, 2.0], bins=1)
