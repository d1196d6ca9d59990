"""BG/NBD and Gamma-Gamma fitted by maximum likelihood with scipy, for point-in-time features.

Why here and not PyMC-Marketing: the behavioural_v2 feature set refits both models at every
cutoff (training stacks many), and PyMC-Marketing's MAP fit costs tens of seconds per fit plus
a ~20 s import. The likelihoods are closed-form (Fader, Hardie & Lee 2005; Fader & Hardie
2013), so scipy maximises them in well under a second on a grouped summary. Pure numpy: no
engine, no clock; the inputs are per-customer (or per distinct summary, with `weights`)
arrays of repeat transactions `x`, recency `t_x` and age `T` in one time unit (weeks here).

`training/clv_baselines.py` keeps its PyMC-Marketing fit: it is the *baseline* the models must
beat, and an independent implementation of these same formulas (the tests compare the two).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from scipy import special  # optimize and linalg: imported where fitted (see `fit_bgnbd`)

# Fewer customers than this cannot identify four BG/NBD parameters (or three Gamma-Gamma ones):
# the fit returns None and the features are missing rather than noise.
MIN_CUSTOMERS = 20
MIN_REPEAT_CUSTOMERS = 10
_QUADRATURE_NODES = 64
_LOG_BOUND = 12.0  # parameters live in [e^-12, e^12]: wide, but keeps the optimiser finite


@dataclass(frozen=True)
class BgNbdParams:
    """BG/NBD: purchase rates λ ~ Gamma(r, α); dropout after each purchase p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class GammaGammaParams:
    """Gamma-Gamma: spend per transaction ~ Gamma(p, ν), customer scale ν ~ Gamma(q, v)."""

    p: float
    q: float
    v: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _arrays(*values: object) -> list[np.ndarray]:
    return [np.asarray(v, dtype=float) for v in values]


def _bgnbd_terms(
    params: BgNbdParams, x: np.ndarray, t_x: np.ndarray, age: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-customer log-likelihood and its gradient in (r, α, a, b), one row per customer.

    log L = G + log(e^A + e^D), the two terms being "alive at T" and "dropped out at t_x":
    G = ln Γ(r+x) − ln Γ(r) + r ln α + ln B(a, b+x) − ln B(a, b), A = −(r+x) ln(α+T),
    D = ln a − ln(b+x−1) − (r+x) ln(α+t_x) for x > 0 (no dropout without a repeat purchase).
    The analytic gradient makes a fit on a million distinct summaries take seconds, not minutes.
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    log_alive_age, log_last_age = np.log(alpha + age), np.log(alpha + t_x)
    common = (
        special.gammaln(r + x)
        - special.gammaln(r)
        + r * np.log(alpha)
        + special.betaln(a, b + x)
        - special.betaln(a, b)
    )
    alive = -(r + x) * log_alive_age
    with np.errstate(divide="ignore", invalid="ignore"):
        dropped = np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * log_last_age,
            -np.inf,
        )
        total = np.logaddexp(alive, dropped)
        share_dropped = np.exp(dropped - total)  # posterior weight of the dropout term
        inv_b = np.where(x > 0, 1.0 / (b + x - 1), 0.0)
    share_alive = 1.0 - share_dropped
    psi_ab, psi_abx = special.digamma(a + b), special.digamma(a + b + x)
    gradient = np.column_stack(
        [
            special.digamma(r + x)
            - special.digamma(r)
            + np.log(alpha)
            - share_alive * log_alive_age
            - share_dropped * log_last_age,
            r / alpha - (r + x) * (share_alive / (alpha + age) + share_dropped / (alpha + t_x)),
            psi_ab - psi_abx + share_dropped / a,
            special.digamma(b + x) - special.digamma(b) + psi_ab - psi_abx - share_dropped * inv_b,
        ]
    )
    return common + total, gradient


def bgnbd_log_likelihood(params: BgNbdParams, x: object, t_x: object, age: object) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood (FHL 2005, eq. 6), in log space so large x cannot
    overflow. L = B(a, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+T)^(r+x))
    + δ(x>0) · a/(b+x−1) · B(a, b+x)/B(a, b) · Γ(r+x) α^r / (Γ(r) (α+t_x)^(r+x))."""
    return _bgnbd_terms(params, *_arrays(x, t_x, age))[0]


def _maximise(
    terms: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], weights: np.ndarray, n: int
) -> np.ndarray:
    """Maximise the weighted mean log-likelihood over log-parameters, from e^0 = 1 (the usual
    start); bounded so that a parameter running off to 0 or ∞ stays finite."""
    total = weights.sum()

    def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        values = np.exp(log_params)
        ll, gradient = terms(values)
        value = -float(weights @ ll) / total
        if not np.isfinite(value):
            return 1e300, np.zeros(n)
        return value, -(weights @ gradient) * values / total  # chain rule: d/d log θ = θ d/dθ

    from scipy import optimize  # ~0.5 CPU s: only fitting needs it, not declaring v2's columns

    result = optimize.minimize(
        objective,
        x0=np.zeros(n),
        jac=True,
        method="L-BFGS-B",
        bounds=[(-_LOG_BOUND, _LOG_BOUND)] * n,
        options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10},
    )
    return np.exp(result.x)


def fit_bgnbd(
    x: object, t_x: object, age: object, weights: object | None = None
) -> BgNbdParams | None:
    """Maximum-likelihood BG/NBD; None when there are too few customers or no repeat buyer."""
    x, t_x, age = _arrays(x, t_x, age)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    if w.sum() < MIN_CUSTOMERS or not np.any((x > 0) & (w > 0)):
        return None
    fitted = _maximise(lambda v: _bgnbd_terms(BgNbdParams(*v), x, t_x, age), w, 4)
    return BgNbdParams(*(float(v) for v in fitted))


def probability_alive(params: BgNbdParams, x: object, t_x: object, age: object) -> np.ndarray:
    """P(still alive at the end of the observation period); 1 for customers with x = 0."""
    x, t_x, age = _arrays(x, t_x, age)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    with np.errstate(divide="ignore", invalid="ignore"):
        log_odds = (
            np.log(a)
            - np.log(np.maximum(b + x - 1, 1e-300))
            + (r + x) * (np.log(alpha + age) - np.log(alpha + t_x))
        )
    return np.where(x > 0, special.expit(-log_odds), 1.0)


def probability_no_purchase(
    params: BgNbdParams, x: object, t_x: object, age: object, horizon: float
) -> np.ndarray:
    """P(no transaction in the next `horizon`) = 1 − P(alive)·(1 − ((α+T)/(α+T+t))^(r+x)).

    Alive customers buy within t exactly when their Poisson clock fires, with λ | data ~
    Gamma(r + x, α + T); dropped-out customers never do (see training/clv_baselines.py).
    """
    x, t_x, age = _arrays(x, t_x, age)
    r, alpha = params.r, params.alpha
    buys_if_alive = -np.expm1((r + x) * (np.log(alpha + age) - np.log(alpha + age + horizon)))
    return np.clip(1.0 - probability_alive(params, x, t_x, age) * buys_if_alive, 0.0, 1.0)


def _beta_quadrature(a: float, b: float, n: int = _QUADRATURE_NODES) -> tuple[np.ndarray, ...]:
    """Gauss nodes and weights for E[f(p)], p ~ Beta(a, b): exact for polynomials of degree
    < 2n. Golub-Welsch on the Jacobi recurrence (u = 2p − 1, weight (1−u)^(b−1) (1+u)^(a−1));
    weights are normalised here, because scipy's `roots_jacobi` overflows for b in the
    thousands, which is where degenerate fits (no dropout) put it."""
    al, be = b - 1.0, a - 1.0
    k = np.arange(n, dtype=float)
    s = 2 * k + al + be
    with np.errstate(divide="ignore", invalid="ignore"):
        diag = (be**2 - al**2) / (s * (s + 2))
        m = k[1:]
        off = 4 * m * (m + al) * (m + be) * (m + al + be) / (s[1:] ** 2 * (s[1:] + 1) * (s[1:] - 1))
    # The k = 0 and k = 1 terms with their 0/0 cancelled (a + b = 2, resp. a + b = 1).
    diag[0] = (be - al) / (al + be + 2)
    off[0] = 4 * (1 + al) * (1 + be) / ((2 + al + be) ** 2 * (3 + al + be))
    from scipy import linalg

    nodes, vectors = linalg.eigh_tridiagonal(diag, np.sqrt(off))
    weights = vectors[0] ** 2
    return (1 + nodes) / 2, weights / weights.sum()


def expected_purchases(
    params: BgNbdParams, x: object, t_x: object, age: object, horizon: float
) -> np.ndarray:
    """E[transactions in the next `horizon` | x, t_x, T] = P(alive) · E[(1 − e^(−λpt))/p].

    Given alive, λ ~ Gamma(r+x, α+T) and p ~ Beta(a, b+x) independently, and an alive customer
    with (λ, p) buys (1 − e^(−λpt))/p times in t on average; integrating λ out leaves
    E_p[(1 − (1 + p·t/(α+T))^−(r+x)) / p], a bounded smooth function of p averaged by Gauss
    quadrature. Why not FHL 2005's closed form (eq. 10, with ₂F₁): it is the same number
    (tests/features/test_clv_fit.py checks both agree to 1e-9), but ₂F₁ turns to NaN or noise
    when the fit runs to extreme parameters (no dropout: a → 0, b and r in the thousands),
    while a quadrature of a bounded integrand with positive weights cannot leave its range.
    """
    x, t_x, age = _arrays(x, t_x, age)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    scale = horizon / (alpha + age)
    conditional = np.empty_like(x)
    for repeat in np.unique(x):
        nodes, weights = _beta_quadrature(a, b + repeat)
        rows = x == repeat
        grows = np.log1p(np.outer(scale[rows], nodes))
        conditional[rows] = (-np.expm1(-(r + repeat) * grows) / nodes) @ weights
    return conditional * probability_alive(params, x, t_x, age)


def _gamma_gamma_terms(
    params: GammaGammaParams, x: np.ndarray, m: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-customer log-likelihood of the mean spend m̄ of x ≥ 1 transactions (Fader-Hardie
    2013) and its gradient in (p, q, v)."""
    p, q, v = params.p, params.q, params.v
    log_scale = np.log(v + m * x)
    psi_total = special.digamma(p * x + q)
    ll = (
        special.gammaln(p * x + q)
        - special.gammaln(p * x)
        - special.gammaln(q)
        + q * np.log(v)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * log_scale
    )
    gradient = np.column_stack(
        [
            x * (psi_total - special.digamma(p * x) + np.log(m) + np.log(x) - log_scale),
            psi_total - special.digamma(q) + np.log(v) - log_scale,
            q / v - (p * x + q) / (v + m * x),
        ]
    )
    return ll, gradient


def gamma_gamma_log_likelihood(
    params: GammaGammaParams, x: object, mean_spend: object
) -> np.ndarray:
    """Per-customer Gamma-Gamma log-likelihood of mean spend `mean_spend` over x transactions."""
    return _gamma_gamma_terms(params, *_arrays(x, mean_spend))[0]


def fit_gamma_gamma(
    x: object, mean_spend: object, weights: object | None = None
) -> GammaGammaParams | None:
    """Maximum-likelihood Gamma-Gamma on repeat buyers with positive mean spend.

    None when there are too few of them, or when the fit has q ≤ 1 (the population's mean spend
    would be infinite, so no expected spend exists).
    """
    x, m = _arrays(x, mean_spend)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    keep = (x > 0) & (m > 0) & (w > 0)
    x, m, w = x[keep], m[keep], w[keep]
    if w.sum() < MIN_REPEAT_CUSTOMERS:
        return None
    fitted = _maximise(lambda v: _gamma_gamma_terms(GammaGammaParams(*v), x, m), w, 3)
    params = GammaGammaParams(*(float(v) for v in fitted))
    return params if params.q > 1 else None


def expected_spend(params: GammaGammaParams, x: object, mean_spend: object) -> np.ndarray:
    """E[spend per transaction | x, m̄] = p(v + x·m̄)/(p·x + q − 1): shrinks m̄ to the mean.

    With x = 0 it is the population mean p·v/(q − 1). The features compute the same formula
    in Ibis (clv_summary.py); this is the reference the tests check it against.
    """
    x, m = _arrays(x, mean_spend)
    p, q, v = params.p, params.q, params.v
    return p * (v + x * np.where(x > 0, m, 0.0)) / (p * x + q - 1)
