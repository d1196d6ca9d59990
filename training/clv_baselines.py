"""Classical customer-base baselines: BG/NBD for churn and BG/NBD × Gamma-Gamma for value.

Why these: "buy till you die" models (Fader, Hardie & Lee 2005) are what a marketing analyst
would fit to a transaction log before trusting a gradient-boosted model. They need no labels,
only each customer's repeat-purchase count, the timing of the last one and their age, so they
are fitted on the history before the cutoff alone. The models come from PyMC-Marketing's CLV
module (a maintained library, not written by hand here), fitted by maximum a posteriori under
flat priors, which is maximum likelihood: the published CDNOW estimates are reproduced exactly.

Conventions (the ones under which the published CDNOW figures come out):
- A transaction is a calendar day with at least one activity event (same-day events merge).
- Time is in weeks (days / 7). A cutoff T means events strictly before T; the observation
  period ends on the last full day before T, so a customer's age is counted to T − 1 day.

Churn probability, and why it matches Retain's `churned` label: the label is 1 when an active
user has *no activity in [T, T + churn horizon)*. The BG/NBD quantity for that is
P(no transaction in the horizon) = 1 − P(alive at T and ≥ 1 transaction in the horizon)
= 1 − P(alive) · (1 − ((α + T) / (α + T + t))^(r + x)),
because a customer who is alive at T buys within t exactly when the Poisson clock fires (dropout
only happens right after a purchase) and, given alive, λ ~ Gamma(r + x, α + T). Plain
1 − P(alive) would be the wrong target: most alive CDNOW customers do not buy within 30 days.
We compute it from the library's `expected_probability_alive` rather than its
`expected_probability_no_purchase`, whose closed form (0.19.2) omits Hardie's δ(x > 0) term and so
gives customers without a repeat purchase a phantom chance of having dropped out at their first
purchase (0.989 instead of 0.979 for an x = 0, T = 39 weeks CDNOW customer).

Value: expected transactions in the value horizon × Gamma-Gamma expected spend per transaction.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

DAYS_PER_UNIT = 7.0  # weeks, as in the BG/NBD literature
BGNBD_PARAMETERS: tuple[str, ...] = ("r", "alpha", "a", "b")
GAMMA_GAMMA_PARAMETERS: tuple[str, ...] = ("p", "q", "v")


def rfm_at_cutoff(
    transactions: pd.DataFrame,
    cutoff: datetime,
    *,
    user_col: str = "user_id",
    time_col: str = "event_time",
    amount_col: str = "amount",
) -> pd.DataFrame:
    """Per customer seen before `cutoff`: frequency, recency, T (weeks) and mean repeat spend.

    `customer_id` is the user id as a string. Built with PyMC-Marketing's `rfm_summary`, so the
    summary is the library's own (same-day merging, repeat transactions only).
    """
    _quiet()  # the first import of PyMC-Marketing may be this one
    from pymc_marketing.clv import rfm_summary

    before = transactions[transactions[time_col] < pd.Timestamp(cutoff)]
    if before.empty:
        raise ValueError(f"no transactions before {cutoff:%Y-%m-%d} to fit BG/NBD on")
    frame = pd.DataFrame(
        {
            "customer_id": before[user_col].astype(str).to_numpy(),
            "date": pd.to_datetime(before[time_col]).dt.floor("D").to_numpy(),
            "amount": before[amount_col].fillna(0.0).astype(float).to_numpy(),
        }
    )
    summary = rfm_summary(
        frame,
        "customer_id",
        "date",
        monetary_value_col="amount",
        observation_period_end=pd.Timestamp(cutoff) - timedelta(days=1),
        time_unit="D",
        time_scaler=DAYS_PER_UNIT,
    )
    summary["customer_id"] = summary["customer_id"].astype(str)
    return summary.reset_index(drop=True)


def _quiet() -> None:
    """PyMC's optimiser chatter (progress, compile notes) is noise in a command's output.

    Called before the first import of PyMC-Marketing too: importing it imports ArviZ, whose
    FutureWarning about its own coming refactor is attributed to the importer, not to `arviz`,
    so only its message can filter it.
    """
    for name in ("pymc", "pytensor", "pymc_marketing"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"(pymc|pytensor|arviz|pymc_marketing)(\..*)?")
    warnings.filterwarnings(
        "ignore", message=r"\s*ArviZ is undergoing a major refactor", category=FutureWarning
    )


def _point(idata: Any, names: tuple[str, ...]) -> dict[str, float]:
    """The single MAP draw of each named parameter as a float."""
    return {name: float(np.asarray(idata.posterior[name]).squeeze()) for name in names}


def bgnbd_log_likelihood(params: dict[str, float], rfm: pd.DataFrame) -> float:
    """Total BG/NBD log-likelihood of `rfm` at `params`, from the library's own distribution."""
    _quiet()
    import pymc as pm
    from pymc_marketing.clv.distributions import BetaGeoNBD

    dist = BetaGeoNBD.dist(
        a=params["a"],
        b=params["b"],
        r=params["r"],
        alpha=params["alpha"],
        T=rfm["T"].to_numpy(dtype=float),
    )
    observed = np.column_stack([rfm["recency"].to_numpy(float), rfm["frequency"].to_numpy(float)])
    return float(pm.logp(dist, observed).eval().sum())


def fit_bgnbd(rfm: pd.DataFrame) -> tuple[Any, dict[str, float]]:
    """A BG/NBD model fitted by MAP under flat priors (= maximum likelihood); (model, params)."""
    from pymc_extras.prior import Prior
    from pymc_marketing.clv import BetaGeoModel

    _quiet()
    flat = {name: Prior("HalfFlat") for name in BGNBD_PARAMETERS}
    model = BetaGeoModel(model_config=flat)
    model.fit(
        data=rfm[["customer_id", "frequency", "recency", "T"]], method="map", progressbar=False
    )
    return model, _point(model.idata, BGNBD_PARAMETERS)


def fit_gamma_gamma(rfm: pd.DataFrame) -> tuple[Any, dict[str, float]] | None:
    """Gamma-Gamma spend model on repeat buyers with positive mean spend (None if too few)."""
    from pymc_marketing.clv import GammaGammaModel

    _quiet()
    repeat = rfm[(rfm["frequency"] > 0) & (rfm["monetary_value"] > 0)]
    if len(repeat) < 10:
        return None
    model = GammaGammaModel()  # its default priors are already flat (HalfFlat p, q, v)
    model.fit(
        data=repeat[["customer_id", "monetary_value", "frequency"]], method="map", progressbar=False
    )
    return model, _point(model.idata, GAMMA_GAMMA_PARAMETERS)


@dataclass
class ClvBaseline:
    """BG/NBD (+ Gamma-Gamma) fitted on the history before one cutoff, scoring its customers.

    Not a scikit-learn estimator on Retain's feature matrix on purpose: the model's inputs are
    the RFM summary of raw transactions, not features, and it learns from no label.
    """

    rfm: pd.DataFrame
    model: Any
    params: dict[str, float]
    spend_model: Any | None
    spend_params: dict[str, float] | None
    log_likelihood: float

    @classmethod
    def fit(cls, transactions: pd.DataFrame, cutoff: datetime) -> ClvBaseline:
        """Summarise `transactions` before `cutoff`, fit BG/NBD and Gamma-Gamma."""
        rfm = rfm_at_cutoff(transactions, cutoff)
        model, params = fit_bgnbd(rfm)
        spend = fit_gamma_gamma(rfm)
        return cls(
            rfm=rfm,
            model=model,
            params=params,
            spend_model=spend[0] if spend else None,
            spend_params=spend[1] if spend else None,
            log_likelihood=bgnbd_log_likelihood(params, rfm),
        )

    def probability_alive(self) -> np.ndarray:
        """P(alive at the cutoff) per customer of `rfm` (1 for customers with no repeat buy)."""
        alive = self.model.expected_probability_alive(data=self.rfm)
        return np.asarray(alive).reshape(-1)

    def churn_probability(self, horizon_days: float) -> np.ndarray:
        """P(no transaction in the next `horizon_days`) per customer (see the module docstring)."""
        t = horizon_days / DAYS_PER_UNIT
        r, alpha = self.params["r"], self.params["alpha"]
        x = self.rfm["frequency"].to_numpy(float)
        age = self.rfm["T"].to_numpy(float)
        buys_if_alive = 1.0 - np.exp((r + x) * (np.log(alpha + age) - np.log(alpha + age + t)))
        return np.clip(1.0 - self.probability_alive() * buys_if_alive, 0.0, 1.0)

    def expected_transactions(self, horizon_days: float) -> np.ndarray:
        """Expected transactions in the next `horizon_days` per customer."""
        purchases = self.model.expected_purchases(
            data=self.rfm, future_t=horizon_days / DAYS_PER_UNIT
        )
        return np.asarray(purchases).reshape(-1)

    def expected_spend(self) -> np.ndarray:
        """Gamma-Gamma expected spend per transaction; the observed mean if no spend model."""
        observed = self.rfm["monetary_value"].clip(lower=0.0)
        if self.spend_model is None:
            positive = observed[observed > 0]
            return np.full(len(self.rfm), float(positive.mean()) if len(positive) else 0.0)
        data = self.rfm.assign(monetary_value=observed)[
            ["customer_id", "monetary_value", "frequency"]
        ]
        return np.asarray(self.spend_model.expected_customer_spend(data=data)).reshape(-1)

    def expected_value(self, horizon_days: float) -> np.ndarray:
        """Expected spend over the next `horizon_days`: transactions × spend per transaction."""
        return self.expected_transactions(horizon_days) * self.expected_spend()

    def scores(self, churn_horizon_days: float, value_horizon_days: float) -> pd.DataFrame:
        """One row per customer: `user_id`, `p_alive`, `churn_probability`, `predicted_value`."""
        return pd.DataFrame(
            {
                "user_id": self.rfm["customer_id"].to_numpy(),
                "p_alive": self.probability_alive(),
                "churn_probability": self.churn_probability(churn_horizon_days),
                "predicted_value": self.expected_value(value_horizon_days),
            }
        )
