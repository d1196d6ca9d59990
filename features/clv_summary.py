"""BG/NBD and Gamma-Gamma summaries as features, fitted point-in-time at each cutoff.

Why as features: P(alive) and expected purchases encode "how overdue is this buyer given how
buyers like them behave", which a tree model finds hard to rebuild from raw recency and
frequency. The models are fitted on the history before the cutoff only, across all its buyers,
and refitted at every cutoff (training's and scoring's alike), so no feature sees the future.

How, on any engine: the per-buyer summary (repeat purchase days x, recency t_x, age T, mean
repeat spend m̄) is an Ibis expression on the purchase-day table of cadence.py. Only its
*distinct* (x, t_x, T) triples, with counts, leave the engine: they are integers (days), so
both engines hand scipy the same numbers and the fit is the same. Expected purchases need a
numerical integral no SQL engine has, so the BG/NBD quantities are computed per triple in numpy,
sent back as a small table and joined; Gamma-Gamma's expected spend is plain arithmetic, done
in Ibis.
Conventions follow training/clv_baselines.py: time in weeks, age counted to the last day
before T, same-day purchases one transaction, m̄ the mean spend of the repeat transactions.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from features import clv_fit
from features import contract as c
from features.cadence import last_possible_day
from features.config import WindowConfig
from features.engines import register_frame, to_frame

DAYS_PER_UNIT = 7.0  # weeks, as in the BG/NBD literature (conditioning of the fit)
CLV_COLUMNS: tuple[str, ...] = (
    "clv_p_alive",
    "clv_churn_probability",
    "clv_expected_purchases",
    "clv_expected_spend",
    "clv_expected_value",
)
_KEYS = ("_x", "_tx_days", "_age_days")
_TABLE_IDS = itertools.count()
_SPEND_DECIMALS = 6  # engines may differ in a sum's last bit; rounding makes the fit inputs equal


def buyer_summary(buyers: ir.Table, as_of: datetime) -> ir.Table:
    """x, t_x and T in whole days and m̄ per buyer, from cadence.purchase_buyers' table."""
    repeat = buyers.purchase_days_total - 1
    return buyers.select(
        c.USER_ID,
        _x=repeat.cast("int64"),
        _tx_days=(buyers._last_day - buyers._first_day).cast("int64"),
        _age_days=(ibis.literal(last_possible_day(as_of), "int64") - buyers._first_day).cast(
            "int64"
        ),
        _mean_spend=ibis.ifelse(
            repeat > 0,
            (buyers._spend_total - buyers._first_spend) / repeat.cast("float64"),
            ibis.null("float64"),
        ),
    )


def _fit_inputs(backend: BaseBackend, summary: ir.Table) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Distinct (x, t_x, T) with counts, and repeat buyers' (x, m̄) with counts, sorted."""
    triples = to_frame(backend, summary.group_by(list(_KEYS)).aggregate(_n=summary.count()))
    repeat = summary.filter((summary._x > 0) & (summary._mean_spend > 0))
    spends = to_frame(backend, repeat.group_by(["_x", "_mean_spend"]).aggregate(_n=repeat.count()))
    spends = (
        spends.assign(_mean_spend=spends["_mean_spend"].astype(float).round(_SPEND_DECIMALS))
        .groupby(["_x", "_mean_spend"], as_index=False)["_n"]
        .sum()
    )
    triples = triples.astype("int64").sort_values(list(_KEYS), ignore_index=True)
    return triples, spends.sort_values(["_x", "_mean_spend"], ignore_index=True)


def _bgnbd_table(
    triples: pd.DataFrame, params: clv_fit.BgNbdParams, windows: WindowConfig
) -> pd.DataFrame:
    """P(alive), P(no purchase in the churn horizon) and expected purchases per triple."""
    x = triples["_x"].to_numpy(float)
    t_x = triples["_tx_days"].to_numpy(float) / DAYS_PER_UNIT
    age = triples["_age_days"].to_numpy(float) / DAYS_PER_UNIT
    churn_t = windows.churn_horizon_days / DAYS_PER_UNIT
    value_t = windows.value_horizon_days / DAYS_PER_UNIT
    return triples[list(_KEYS)].assign(
        clv_p_alive=clv_fit.probability_alive(params, x, t_x, age),
        clv_churn_probability=clv_fit.probability_no_purchase(params, x, t_x, age, churn_t),
        clv_expected_purchases=clv_fit.expected_purchases(params, x, t_x, age, value_t),
    )


@dataclass(frozen=True)
class ClvFit:
    """What was fitted at one cutoff: the distinct summaries and both models' parameters."""

    triples: pd.DataFrame
    bgnbd: clv_fit.BgNbdParams | None
    spend: clv_fit.GammaGammaParams | None

    def parameters(self) -> dict[str, float | None]:
        """All seven parameters by name (None where a model could not be fitted), for logging."""
        values = self.bgnbd.as_dict() if self.bgnbd else {}
        values.update(self.spend.as_dict() if self.spend else {})
        return {name: values.get(name) for name in ("r", "alpha", "a", "b", "p", "q", "v")}


def fit_clv(backend: BaseBackend, summary: ir.Table) -> ClvFit:
    """Fit BG/NBD and Gamma-Gamma on `buyer_summary` (two small queries run now)."""
    triples, spends = _fit_inputs(backend, summary)
    bgnbd = clv_fit.fit_bgnbd(
        triples["_x"],
        triples["_tx_days"] / DAYS_PER_UNIT,
        triples["_age_days"] / DAYS_PER_UNIT,
        weights=triples["_n"],
    )
    spend = clv_fit.fit_gamma_gamma(spends["_x"], spends["_mean_spend"], spends["_n"])
    return ClvFit(triples=triples, bgnbd=bgnbd, spend=spend)


def clv_features(
    backend: BaseBackend, buyers: ir.Table, as_of: datetime, windows: WindowConfig
) -> ir.Table:
    """`user_id` and CLV_COLUMNS per buyer; the columns are missing where a fit is impossible.

    Fits now; the returned table is lazy like every other feature.
    """
    summary = buyer_summary(buyers, as_of)
    fit = fit_clv(backend, summary)
    missing = ibis.null("float64")
    if fit.bgnbd is None:
        scored = summary.mutate(
            clv_p_alive=missing, clv_churn_probability=missing, clv_expected_purchases=missing
        )
    else:
        name = f"_clv_bgnbd_{next(_TABLE_IDS)}"
        per_triple = register_frame(backend, name, _bgnbd_table(fit.triples, fit.bgnbd, windows))
        scored = summary.left_join(per_triple, list(_KEYS)).select(
            summary, "clv_p_alive", "clv_churn_probability", "clv_expected_purchases"
        )
    spend: ir.FloatingValue = missing
    if fit.spend is not None:  # E[spend | x, m̄] = p(v + x·m̄)/(p·x + q − 1), as clv_fit's
        p, q, v = (ibis.literal(value, "float64") for value in fit.spend.as_dict().values())
        x = scored._x.cast("float64")
        spend = p * (v + x * scored._mean_spend.fill_null(0.0)) / (p * x + q - 1)
    return scored.select(
        c.USER_ID,
        "clv_p_alive",
        "clv_churn_probability",
        "clv_expected_purchases",
        clv_expected_spend=spend,
        clv_expected_value=scored.clv_expected_purchases * spend,
    )
