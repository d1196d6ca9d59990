"""Policy benchmark: do Retain's decisions pay? Incremental profit against simple rules and an
oracle, measured by replaying the simulated future under each decision table.

Why a replay: the simulator knows each user's state at the cutoff and the actions' true effects
(`simulator.policy_replay`), so every policy is judged on the same users and the same luck; the
difference to "nobody contacted" is the policy's effect, not noise of the draw.

Steps (Retain's own entry points throughout, so a new `decide` or scoring is picked up as is;
details in docs/decisions.md): simulate with randomised campaigns that end before the cutoff;
keep the events before it; train with `train_models` and experiments/demo.yaml (temporary MLflow
SQLite store); score at the cutoff with `score_features` and a fixed budget, (a) with the
catalogue's priors and (b) with effects learned from the campaigns (as `--effects`; by default
from the campaign log as Retain would have logged it, on the revenue basis, see
benchmarks/_policy_learning.py); build (c) top risk, (d) top value, (e) random, each user's
cheapest eligible action until the budget is spent, and (f) an LP-optimal oracle on the true
expected effects (benchmarks/_policy_baselines.py); replay every table.

    .venv/bin/python benchmarks/bench_policy.py [--by-action] [--variants] [--ceiling] [--uplift]

`--ceiling` adds "ceiling (Retain's inputs)": the oracle's plan made on the true
effects as well as Retain's features and scores can predict them (`ceiling_net`), the most any
effect model built on those inputs could earn. Fewer `--users` and `--futures` run faster while
iterating (the documented numbers are at the defaults).

`--uplift` adds "Retain + per-user uplift" (a benchmark-only experiment, not in the product):
Retain's scores and the learned catalogue, but each user's gain from a two-model uplift per
campaign action with enough data (`uplift_table`).

Targets (issue "Decisions that pay"): Retain with learned effects >= 1.5x top risk and >= 80 %
of the oracle, in incremental profit at the fixed budget.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import record, verdict
from _policy_baselines import (
    as_table,
    ceiling_net,
    eligibility,
    oracle,
    ranked_cheapest,
    retain_inputs,
)
from _policy_learning import learned_variants, uplift_table

ROOT = Path(__file__).resolve().parents[1]
TARGET_VS_TOP_RISK, TARGET_SHARE_OF_ORACLE = 1.5, 0.8
ORACLE_FUTURES_FROM = 1000  # the oracle learns on futures disjoint from the evaluated ones
ORACLE, CEILING = "oracle (true effects)", "ceiling (Retain's inputs)"


def simulate(users: int, history: int, horizon: int, seed: int, folder: Path):
    """The world, its campaign log and the events before the cutoff (what Retain may see)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from simulator.campaigns import CampaignPlan
    from simulator.simulation import SimulationConfig, write_simulation

    plan = CampaignPlan(last_day=history)
    config = SimulationConfig(users=users, days=history + horizon, seed=seed, campaigns=plan)
    write_simulation(config, folder / "world.parquet", campaigns_out=folder / "campaigns.parquet")
    cutoff = datetime.combine(config.start, datetime.min.time()) + timedelta(days=history)
    table = pq.read_table(folder / "world.parquet")
    moment = pd.Timestamp(cutoff, tz="UTC")
    pq.write_table(table.filter(pc.less(table["event_time"], moment)), folder / "events.parquet")
    return config, cutoff


def retain_table(scores: pd.DataFrame) -> dict[str, str]:
    """Retain's decisions as a table (no_action rows left out)."""
    contacted = scores[scores["action"] != "no_action"]
    return dict(zip(contacted["user_id"], contacted["action"], strict=True))


def train_and_score(events: Path, campaigns: Path, cutoff: datetime, budget: float, store: Path,
                    chosen: str, variants: bool, uplift: bool = False):  # fmt: skip
    """Train through `train_models`; score with prior and learned effects, with and without
    the budget. Returns the prior catalogue, the score tables (`chosen` learned variant as
    "Retain, learned effects"; with `variants`, every learned variant as a row of its own),
    extra decision tables (with `uplift`: "Retain + per-user uplift") and the feature frame
    scored at the cutoff (same row order as the scores)."""
    from features.loading import load_events
    from features.pipeline import feature_frame
    from serving.decisions.actions import load_catalogue
    from serving.decisions.campaign_log import load_campaigns
    from serving.scoring.champions import load_champions
    from serving.scoring.pipeline import ScoringConfig, score_features
    from training.config import load_config
    from training.train import train_models

    uri = f"sqlite:///{store / 'mlflow.db'}"
    started = time.perf_counter()
    train_models(load_config(ROOT / "experiments" / "demo.yaml"), events, tracking_uri=uri)
    print(f"trained the demo models in {time.perf_counter() - started:.0f}s")
    champions = load_champions(uri)
    loaded = load_events(events)
    features = feature_frame(loaded, cutoff, champions.windows())
    prior = load_catalogue()
    learned, models = learned_variants(load_campaigns(campaigns), loaded, champions, prior,
                                       variants, uplift)  # fmt: skip

    def score(catalogue, limit: float | None) -> pd.DataFrame:
        config = ScoringConfig(catalogue=catalogue, budget=limit, attribution="path")
        return score_features(features, champions, config).scores

    scores = {
        "Retain, prior effects": score(prior, budget),
        "Retain, learned effects": score(learned[chosen], budget),
        "prior, no budget": score(prior, None),
        "learned, no budget": score(learned[chosen], None),
    }
    if variants:
        scores |= {f"learned: {name}": score(c, budget) for name, c in learned.items()}
    extra = {}
    if uplift:
        if [a.id for a in learned[chosen].actions] != [a.id for a in prior.actions]:
            raise SystemExit("the learned catalogue's actions differ from the prior's")
        table = uplift_table(scores["Retain, learned effects"], features, models,
                             learned[chosen], budget)  # fmt: skip
        extra["Retain + per-user uplift"] = table
    return prior, scores, extra, features


def policy_tables(scores, catalogue, net: np.ndarray, budget: float, seed: int, extra=None,
                  ceiling: np.ndarray | None = None):  # fmt: skip
    """Every compared policy's decision table {user_id: action_id}, same budget and rules
    (`extra` tables right after Retain's own; the ceiling, from its net gains, after the
    oracle)."""
    prior = scores["Retain, prior effects"]
    allowed = eligibility(prior, catalogue)
    ids = prior["user_id"]
    risk, value = prior["churn_probability"].to_numpy(), prior["predicted_value"].to_numpy()
    with_action = np.flatnonzero(allowed.any(axis=1))
    orders = {
        "top risk": np.argsort(-risk, kind="stable"),
        "top value": np.argsort(-value, kind="stable"),
        "random": np.random.default_rng(seed).permutation(with_action),
    }
    tables = {name: retain_table(scores[name]) for name in list(scores)[:2]} | (extra or {})
    for name, order in orders.items():
        tables[name] = as_table(ids, ranked_cheapest(order, allowed, catalogue, budget), catalogue)
    tables[ORACLE] = as_table(ids, oracle(net, allowed, catalogue, budget), catalogue)
    if ceiling is not None:
        tables[CEILING] = as_table(ids, oracle(ceiling, allowed, catalogue, budget), catalogue)
    variants = [name for name in scores if name.startswith("learned: ")]
    return tables | {name: retain_table(scores[name]) for name in variants}, allowed


def unbudgeted_costs(scores, catalogue, allowed: np.ndarray, net: np.ndarray) -> str:
    """What each plan would spend without a budget: the budget binds where this exceeds it."""
    cost = catalogue.costs
    cheapest = np.where(allowed, cost, np.inf).min(axis=1)
    best = np.where(allowed, net, -np.inf)
    worth = best.max(axis=1) > 0
    oracle_cost = cost[best.argmax(axis=1)][worth].sum()
    plans = {
        "cheapest action for every eligible user": cheapest[np.isfinite(cheapest)].sum(),
        "Retain, prior effects": scores["prior, no budget"]["action_cost"].sum(),
        "Retain, learned effects": scores["learned, no budget"]["action_cost"].sum(),
        "oracle (every positive expected profit)": oracle_cost,
    }
    return "; ".join(f"{name} {amount:,.0f}" for name, amount in plans.items())


def report(per_future: pd.DataFrame) -> pd.DataFrame:
    """Print the table (means over futures); returns it."""
    summary = per_future.groupby("policy", sort=False).agg(
        contacted=("contacted", "mean"),
        cost=("cost", "mean"),
        revenue_kept=("revenue_kept", "mean"),
        profit=("incremental_profit", "mean"),
        profit_sd=("incremental_profit", "std"),
    )
    summary = summary.drop(index="nobody")
    top_risk = summary.loc["top risk", "profit"]
    best = summary.loc[ORACLE, "profit"]
    summary["vs_top_risk"] = summary["profit"] / top_risk if top_risk > 0 else np.nan
    summary["of_oracle"] = summary["profit"] / best
    header = (f"{'policy':<32}{'contacted':>10}{'cost':>9}{'revenue kept':>14}"
              f"{'profit':>10}{'± sd':>8}{'× top risk':>12}{'of oracle':>11}")  # fmt: skip
    print(header + "\n" + "-" * len(header))
    for name, row in summary.iterrows():
        print(f"{name:<32}{row.contacted:>10,.0f}{row.cost:>9,.0f}{row.revenue_kept:>14,.0f}"
              f"{row.profit:>10,.0f}{row.profit_sd:>8,.0f}{row.vs_top_risk:>11.2f}x"
              f"{row.of_oracle:>10.0%}")  # fmt: skip
    print(
        "\ncontacted: users the table contacts; cost: Σ contact cost; revenue kept: Σ window\n"
        "revenue (purchases − refunds in the horizon) under the table − the same with nobody\n"
        "contacted (same users, same random numbers); profit: revenue kept − cost; ± sd: its\n"
        "spread over the futures; × top risk, of oracle: profit / that policy's profit. Effects\n"
        "are the simulator's true ones (simulator/policy_replay.py), not the catalogue's."
    )
    return summary


def by_action(outcomes: pd.DataFrame, costs: dict[str, float]) -> None:
    """Each policy's contacts, cost and revenue kept per action (means over futures)."""
    from simulator.policy_replay import BASELINE

    base = outcomes[outcomes["policy"] == BASELINE].set_index(["future", "user_id"])["revenue"]
    rows = outcomes[(outcomes["policy"] != BASELINE) & (outcomes["action"] != "no_action")]
    index = pd.MultiIndex.from_frame(rows[["future", "user_id"]])
    kept = rows["revenue"].to_numpy() - base.reindex(index).to_numpy()
    parts = rows.assign(kept=kept, cost=rows["action"].map(costs), users=1)
    sums = parts.groupby(["policy", "action", "future"], sort=False)[["users", "cost", "kept"]]
    table = sums.sum().groupby(level=[0, 1], sort=False).mean()
    table["profit"] = table["kept"] - table["cost"]
    print("\nby action (means over futures):\n" + table.round(0).to_string())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--history-days", type=int, default=365)
    parser.add_argument("--horizon-days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--budget", type=float, default=2_000.0)
    parser.add_argument("--futures", type=int, default=5, help="evaluated futures (0 = the log's)")
    parser.add_argument("--oracle-futures", type=int, default=8)
    parser.add_argument("--by-action", action="store_true", help="also print each action's part")
    parser.add_argument(
        "--campaign-log",
        choices=("retain", "true-tier"),
        default="retain",
        help="segments of the campaign log learned from (default: Retain's)",
    )
    parser.add_argument("--effect-basis", choices=("churn", "revenue"), default="revenue")
    parser.add_argument("--variants", action="store_true", help="also replay every learned "
                        "variant (campaign log × effect basis)")  # fmt: skip
    parser.add_argument("--uplift", action="store_true", help="also replay Retain with per-user "
                        "uplift models (benchmark-only experiment)")  # fmt: skip
    parser.add_argument("--ceiling", action="store_true", help="also replay the oracle's plan on "
                        "the true effects as Retain's inputs predict them")  # fmt: skip
    args = parser.parse_args()
    from simulator.policy_replay import expected_uplift, policy_profit, replay

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-policy-") as tmp:
        folder = Path(tmp)
        config, cutoff = simulate(
            args.users, args.history_days, args.horizon_days, args.seed, folder
        )
        log = "Retain log" if args.campaign_log == "retain" else "true-tier log"
        catalogue, scores, extra, features = train_and_score(
            folder / "events.parquet",
            folder / "campaigns.parquet",
            cutoff,
            args.budget,
            folder,
            f"{log}, {args.effect_basis}",
            args.variants,
            args.uplift,
        )
    replay_started = time.perf_counter()
    oracle_futures = range(ORACLE_FUTURES_FROM, ORACLE_FUTURES_FROM + args.oracle_futures)
    action_ids = [a.id for a in catalogue.actions]
    uplift = expected_uplift(config, cutoff, action_ids, oracle_futures,
                             horizon_days=args.horizon_days)  # fmt: skip
    ids = scores["Retain, prior effects"]["user_id"]
    cost = catalogue.costs
    net = uplift.reindex(ids).to_numpy() - cost
    ceiling = None
    if args.ceiling:
        inputs = retain_inputs(features, scores["Retain, prior effects"])
        ceiling = ceiling_net(inputs, uplift.reindex(ids).to_numpy(), cost)
    tables, allowed = policy_tables(scores, catalogue, net, args.budget, args.seed, extra,
                                    ceiling)  # fmt: skip
    outcomes = replay(config, cutoff, tables, horizon_days=args.horizon_days,
                      futures=range(args.futures))  # fmt: skip
    costs = {a.id: a.cost for a in catalogue.actions}
    per_future = policy_profit(outcomes, costs)
    replay_s = time.perf_counter() - replay_started

    print(
        f"\n{args.users:,} users, cutoff {cutoff:%Y-%m-%d} (day {args.history_days}), window "
        f"{args.horizon_days} days, budget {args.budget:,.0f}; means over {args.futures} futures"
    )
    print(f"unbudgeted plans would cost: {unbudgeted_costs(scores, catalogue, allowed, net)}")
    summary = report(per_future)
    if args.by_action:
        by_action(outcomes, costs)
    vs_risk, vs_oracle = summary.loc["Retain, learned effects", ["vs_top_risk", "of_oracle"]]
    risk_ok, oracle_ok = vs_risk >= TARGET_VS_TOP_RISK, vs_oracle >= TARGET_SHARE_OF_ORACLE
    print(f"\nRetain, learned effects: {vs_risk:.2f}x top risk (target >= "
          f"{TARGET_VS_TOP_RISK}x: {verdict(risk_ok)}), {vs_oracle:.0%} of the oracle "
          f"(target >= {TARGET_SHARE_OF_ORACLE:.0%}: {verdict(oracle_ok)})")  # fmt: skip
    if not summary.loc["top risk", "profit"] > 0:
        print("(top risk loses money, so '× top risk' is undefined: compare the profits)")
    if CEILING in summary.index:
        reach = summary.loc[CEILING, "of_oracle"]
        share = summary.loc["Retain, learned effects", "profit"] / summary.loc[CEILING, "profit"]
        print(f"the ceiling reaches {reach:.0%} of the oracle; Retain, learned effects "
              f"{share:.0%} of the ceiling")  # fmt: skip
    print(f"replays {replay_s:.0f}s; total {time.perf_counter() - started:.0f}s")
    record("Retain (learned effects) profit / top risk", float(vs_risk), "x",
           f">= {TARGET_VS_TOP_RISK}", bool(risk_ok))  # fmt: skip
    record("Retain (learned effects) profit / oracle", float(vs_oracle), "share",
           f">= {TARGET_SHARE_OF_ORACLE}", bool(oracle_ok))  # fmt: skip


if __name__ == "__main__":
    main()
