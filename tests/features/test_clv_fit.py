"""BG/NBD and Gamma-Gamma as fitted for behavioural_v2, checked against independent answers.

Independent of features/clv_fit.py's own formulas: values worked out by hand, the numbers
published for CDNOW (Fader, Hardie & Lee 2005; Fader & Hardie 2013), the closed form with ₂F₁
as lifetimes computes it, finite differences, and parameters recovered from data simulated
from the model itself.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special

from features import WindowConfig, feature_frame, from_frame
from features import clv_fit as f
from features.behavioural_v2_set import BEHAVIOURAL_V2
from features.engines import connect
from tests.conftest import shared_file

CDNOW = f.BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)  # FHL 2005, weeks 1–39


def test_probabilities_and_spend_match_hand_computation():
    params = f.BgNbdParams(r=1.0, alpha=1.0, a=1.0, b=2.0)
    # P(alive) = 1 / (1 + a/(b+x−1) · ((α+T)/(α+t_x))^(r+x)) = 1 / (1 + ½ · (4/2)²) = 1/3
    assert f.probability_alive(params, 1, 1.0, 3.0) == pytest.approx(1 / 3)
    assert f.probability_alive(params, 0, 0.0, 3.0) == pytest.approx(1.0)  # no repeat: alive
    # P(no purchase in 4) = 1 − ⅓ · (1 − (4/8)²) = 0.75
    assert f.probability_no_purchase(params, 1, 1.0, 3.0, 4.0) == pytest.approx(0.75)
    # Gamma-Gamma: p(v + x·m̄)/(p·x + q − 1) = 2·(10 + 2·20)/(2·2 + 3 − 1) = 100/6
    spend = f.GammaGammaParams(p=2.0, q=3.0, v=10.0)
    assert f.expected_spend(spend, [2, 0], [20.0, 0.0]) == pytest.approx([100 / 6, 2 * 10 / 2])


def test_expected_purchases_match_the_published_cdnow_example():
    """FHL 2005: x = 2, t_x = 30.43, T = 38.86 weeks → 1.226 purchases in the next 39 weeks."""
    params = f.BgNbdParams(r=0.2426, alpha=4.4136, a=0.7929, b=2.4259)  # unrounded estimates
    assert f.expected_purchases(params, 2, 30.43, 38.86, 39.0) == pytest.approx(1.226, abs=5e-4)


def _closed_form(params: f.BgNbdParams, x, t_x, age, t):
    """FHL 2005 eq. 10 with scipy's ₂F₁, as lifetimes writes it (no transformation)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    z = t / (alpha + age + t)
    tail = ((alpha + age) / (alpha + age + t)) ** (r + x) * special.hyp2f1(
        r + x, b + x, a + b + x - 1, z
    )
    return (a + b + x - 1) / (a - 1) * (1 - tail) * f.probability_alive(params, x, t_x, age)


@pytest.mark.parametrize(
    "params", [CDNOW, f.BgNbdParams(0.5, 5.0, 0.8, 2.5), f.BgNbdParams(2.0, 1.0, 3.0, 10.0)]
)
def test_expected_purchases_equal_the_closed_form(params):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 25, 400).astype(float)
    age = rng.uniform(0.5, 80, 400)
    t_x = np.where(x > 0, rng.uniform(0, 1, 400) * age, 0.0)
    for horizon in (30 / 7, 90 / 7, 52.0):
        np.testing.assert_allclose(
            f.expected_purchases(params, x, t_x, age, horizon),
            _closed_form(params, x, t_x, age, horizon),
            rtol=1e-9,
        )


def test_a_fit_without_dropout_still_gives_bounded_expectations():
    """a → 0, b and r in the thousands (what a log without churn fits to): ₂F₁ gives NaN;
    the expectation must be the no-dropout limit, P(alive)·(r+x)·t/(α+T)."""
    params = f.BgNbdParams(r=2e4, alpha=1.6e5, a=3e-4, b=2e3)
    x, t_x, age = np.array([0.0, 3, 10]), np.array([0.0, 20, 40]), np.array([30.0, 40, 45])
    got = f.expected_purchases(params, x, t_x, age, 13.0)
    limit = f.probability_alive(params, x, t_x, age) * (params.r + x) * 13.0 / (params.alpha + age)
    np.testing.assert_allclose(got, limit, rtol=1e-3)


def test_p_alive_is_the_share_of_the_likelihood_that_says_alive():
    x, t_x, age = np.array([1.0, 4, 9]), np.array([5.0, 10, 30]), np.array([20.0, 30, 31])
    alive_term = np.exp(
        special.gammaln(CDNOW.r + x)
        - special.gammaln(CDNOW.r)
        + CDNOW.r * np.log(CDNOW.alpha)
        + special.betaln(CDNOW.a, CDNOW.b + x)
        - special.betaln(CDNOW.a, CDNOW.b)
        - (CDNOW.r + x) * np.log(CDNOW.alpha + age)
    )
    likelihood = np.exp(f.bgnbd_log_likelihood(CDNOW, x, t_x, age))
    np.testing.assert_allclose(f.probability_alive(CDNOW, x, t_x, age), alive_term / likelihood)


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 6, 50).astype(float)
    age = rng.uniform(5, 50, 50)
    t_x = np.where(x > 0, rng.uniform(0, 1, 50) * age, 0.0)
    point = np.array([0.4, 3.0, 0.9, 2.2])
    gradient = f._bgnbd_terms(f.BgNbdParams(*point), x, t_x, age)[1].sum(axis=0)
    numeric = optimize.approx_fprime(
        point, lambda v: f.bgnbd_log_likelihood(f.BgNbdParams(*v), x, t_x, age).sum(), 1e-7
    )
    np.testing.assert_allclose(gradient, numeric, rtol=1e-5)
    spend, m = np.array([3.0, 2.5, 12.0]), rng.uniform(5, 50, 50)
    gradient = f._gamma_gamma_terms(f.GammaGammaParams(*spend), x + 1, m)[1].sum(axis=0)
    numeric = optimize.approx_fprime(
        spend, lambda v: f.gamma_gamma_log_likelihood(f.GammaGammaParams(*v), x + 1, m).sum()
    )
    np.testing.assert_allclose(gradient, numeric, rtol=1e-5)


def simulate_bgnbd(params: f.BgNbdParams, n: int, seed: int) -> pd.DataFrame:
    """Customers drawn from the model itself: first purchase at week 0, observed 26–52 weeks."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(params.r, 1 / params.alpha, n)
    dropout = rng.beta(params.a, params.b, n)
    age = rng.uniform(26, 52, n)
    x, t_x, clock = np.zeros(n), np.zeros(n), np.zeros(n)
    alive = np.ones(n, dtype=bool)
    while alive.any():
        clock[alive] += rng.exponential(1 / rate[alive])
        alive &= clock <= age
        x[alive] += 1
        t_x[alive] = clock[alive]
        alive &= rng.random(n) >= dropout  # dropout only right after a repeat purchase
    return pd.DataFrame({"x": x, "t_x": t_x, "age": age})


def test_fit_recovers_the_parameters_of_simulated_customers():
    truth = f.BgNbdParams(r=0.5, alpha=5.0, a=0.8, b=2.5)
    data = simulate_bgnbd(truth, 10_000, seed=3)
    # As the features fit it: whole days, grouped, weighted by how many customers share them.
    days = data.assign(t_x=np.floor(data["t_x"] * 7), age=np.floor(data["age"] * 7))
    grouped = days.groupby(["x", "t_x", "age"], as_index=False).size()
    fitted = f.fit_bgnbd(grouped["x"], grouped["t_x"] / 7, grouped["age"] / 7, grouped["size"])
    assert fitted is not None
    for name, value in truth.as_dict().items():
        assert fitted.as_dict()[name] == pytest.approx(value, rel=0.2), name
    loglik = f.bgnbd_log_likelihood  # the maximum is at least as likely as the truth
    weights = grouped["size"].to_numpy()
    at_fit = weights @ loglik(fitted, grouped["x"], grouped["t_x"] / 7, grouped["age"] / 7)
    at_truth = weights @ loglik(truth, grouped["x"], grouped["t_x"] / 7, grouped["age"] / 7)
    assert at_fit >= at_truth


def test_too_little_data_gives_no_fit():
    assert f.fit_bgnbd([0, 1, 2], [0, 1, 2], [3, 3, 3]) is None
    assert f.fit_bgnbd(np.zeros(50), np.zeros(50), np.full(50, 10.0)) is None  # no repeat buyer
    assert f.fit_gamma_gamma([1, 2], [10.0, 20.0]) is None


def _cdnow_calibration_summary() -> pd.DataFrame:
    """The CDNOW sample's weeks 1–39 summarised in pandas (same-day transactions merged)."""
    from features.adapters import read_cdnow

    events = read_cdnow(shared_file("CDNOW_sample.txt.gz")).events
    events = events.assign(
        event_time=pd.to_datetime(events["event_time"]), amount=events["amount"].astype(float)
    )
    calibration = events[events["event_time"] < "1997-10-01"]
    days = calibration.groupby(["user_id", "event_time"], as_index=False)["amount"].sum()
    per_user = days.sort_values("event_time").groupby("user_id")
    first, last = per_user["event_time"].first(), per_user["event_time"].last()
    x = per_user.size() - 1
    repeat_spend = per_user["amount"].sum() - per_user["amount"].first()
    return pd.DataFrame(
        {
            "x": x,
            "t_x": (last - first).dt.days / 7,
            "age": (pd.Timestamp("1997-09-30") - first).dt.days / 7,
            "mean_spend": (repeat_spend / x.where(x > 0)).fillna(0.0),
        }
    )


@pytest.mark.real_data
def test_fit_reproduces_the_published_cdnow_estimates():
    summary = _cdnow_calibration_summary()
    assert (len(summary), int(summary["x"].sum())) == (2357, 2457)
    fitted = f.fit_bgnbd(summary["x"], summary["t_x"], summary["age"])
    assert fitted is not None
    for name, published in CDNOW.as_dict().items():
        assert fitted.as_dict()[name] == pytest.approx(published, rel=0.005), name
    loglik = f.bgnbd_log_likelihood(fitted, summary["x"], summary["t_x"], summary["age"]).sum()
    assert loglik == pytest.approx(-9582.4, abs=0.5)
    spend = f.fit_gamma_gamma(summary["x"], summary["mean_spend"])
    assert spend is not None
    for name, published in {"p": 6.25, "q": 3.74, "v": 15.44}.items():
        assert spend.as_dict()[name] == pytest.approx(published, rel=0.01), name


def test_clv_features_are_the_fit_applied_to_each_buyer():
    """The Ibis-built columns equal the formulas on a summary made here, in pandas."""
    cutoff = datetime(2024, 1, 1)
    customers = simulate_bgnbd(f.BgNbdParams(0.6, 4.0, 0.9, 3.0), 600, seed=4)
    rng = np.random.default_rng(5)
    rows = []
    for i, (x, t_x, age) in enumerate(customers[["x", "t_x", "age"]].itertuples(index=False)):
        first = pd.Timestamp(cutoff) - pd.Timedelta(weeks=age)
        middle = np.sort(rng.uniform(0, t_x, max(int(x) - 1, 0)))
        times = [0.0, *middle, t_x] if x > 0 else [0.0]
        for weeks in times:
            amount = round(float(rng.gamma(4.0, 8.0)), 2)
            rows.append((f"c{i:04d}", first + pd.Timedelta(weeks=weeks), "purchase", amount))
    events = pd.DataFrame(rows, columns=["user_id", "event_time", "event_type", "amount"])
    frame = feature_frame(
        from_frame(events, backend=connect("duckdb")),
        cutoff,
        WindowConfig(),
        feature_set=BEHAVIOURAL_V2,
    ).set_index("user_id")

    day = events["event_time"].dt.floor("D")
    days = events.assign(day=day).groupby(["user_id", "day"])["amount"].sum().reset_index()
    per_user = days.groupby("user_id")
    x = per_user.size() - 1
    first = per_user["day"].min()
    t_x = (per_user["day"].max() - first).dt.days / 7
    age = (pd.Timestamp("2023-12-31") - first).dt.days / 7
    mean_spend = ((per_user["amount"].sum() - per_user["amount"].first()) / x.where(x > 0)).fillna(
        0
    )
    bgnbd = f.fit_bgnbd(x, t_x, age)
    spend = f.fit_gamma_gamma(x, mean_spend)
    assert bgnbd is not None and spend is not None
    frame = frame.loc[x.index]
    np.testing.assert_allclose(
        frame["clv_p_alive"], f.probability_alive(bgnbd, x, t_x, age), rtol=1e-5
    )
    np.testing.assert_allclose(
        frame["clv_expected_purchases"],
        f.expected_purchases(bgnbd, x, t_x, age, 90 / 7),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        frame["clv_churn_probability"],
        f.probability_no_purchase(bgnbd, x, t_x, age, 30 / 7),
        rtol=1e-5,
    )
    expected_spend = f.expected_spend(spend, x, mean_spend)
    np.testing.assert_allclose(frame["clv_expected_spend"], expected_spend, rtol=1e-5)
    np.testing.assert_allclose(
        frame["clv_expected_value"],
        f.expected_purchases(bgnbd, x, t_x, age, 90 / 7) * expected_spend,
        rtol=1e-5,
    )
