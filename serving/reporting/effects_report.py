"""The report's "Learned effects" section: prior against learned effect, and what it changes.

Why in the report: operators wrote the priors; before they trust numbers that overrule them they
need to see, per action and segment, what was believed, what the campaigns measured (with
uncertainty and sample sizes) and what the policy now uses; and what the switch is worth. The
money is shown three ways on the same users: the prior plan as it was planned (its gain by the
priors), the prior plan re-valued with the learned effects (what it is really expected to
earn), and the plan the learned effects choose. The honest "change in expected gain" is the
last minus the second: both are judged by the same, learned, effects.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from serving.campaigns import EffectsFile, learned_catalogue
from serving.decisions import NO_ACTION, STAGES, TIERS, ActionCatalogue, decide
from serving.reporting.labels import Wording, action_names, stage_label, tier_label
from serving.reporting.tables import html_table

GAIN_HEADERS = {
    "users_prior_plan": "Users (prior plan)",
    "gain_prior_as_planned": "Gain of the prior plan, as planned",
    "gain_prior_revalued": "Gain of the prior plan, re-valued",
    "users_learned_plan": "Users (learned plan)",
    "gain_learned_plan": "Gain of the learned plan",
    "change": "Change",
}


def comparison_table(effects_file: EffectsFile) -> pd.DataFrame:
    """One row per measured action × segment: sizes, prior, measured and learned effect."""
    table = effects_file.table()
    measured = table.get("relative_effect", pd.Series(np.nan, index=table.index))
    se = table.get("relative_effect_se", pd.Series(np.nan, index=table.index))
    z = 1.959964
    return pd.DataFrame(
        {
            "action": table["action_id"],
            "segment": table["segment"],
            "treated": table["n_treated"],
            "control": table["n_control"],
            "prior": table["prior_effect"],
            "measured": measured,
            "measured 95% interval": [
                "—" if m != m else f"[{m - z * s:.2f}, {m + z * s:.2f}]"
                for m, s in zip(measured, se, strict=True)
            ],
            "learned (used)": table["learned_effect"].clip(-1, 1),
            "verdict": table["verdict"],
        }
    )


def _gain(users: pd.DataFrame, actions: pd.Series, catalogue: ActionCatalogue) -> np.ndarray:
    """Expected gain of given actions per user under a catalogue's effects (0 for no_action)."""
    stage = pd.Index(STAGES).get_indexer(users["lifecycle_stage"])
    tier = pd.Index(TIERS).get_indexer(users["value_tier"])
    gain = np.zeros(len(users))
    for action_id in actions.unique():
        if action_id == NO_ACTION:
            continue
        action = catalogue.get(action_id)
        rows = np.flatnonzero((actions == action_id).to_numpy())
        effect = action.effect_table()[stage[rows], tier[rows]]
        prob = users["churn_probability"].to_numpy(dtype=float)[rows]
        stake = users["value_at_stake"].to_numpy(dtype=float)[rows]
        gain[rows] = prob * effect * stake - action.cost
    return gain


def gain_plans(
    scores: pd.DataFrame,
    catalogue: ActionCatalogue,
    effects_file: EffectsFile,
    budget: float | None = None,
) -> pd.DataFrame:
    """Per user: the action of each plan and its gain as planned, re-valued and learned."""
    learned, _ = learned_catalogue(catalogue, effects_file)
    users = scores.reset_index(drop=True)
    prior_plan = decide(users, catalogue, budget=budget)["action"]
    learned_plan = decide(users, learned, budget=budget)["action"]
    return pd.DataFrame(
        {
            "prior_action": prior_plan,
            "learned_action": learned_plan,
            "prior_gain_as_planned": _gain(users, prior_plan, catalogue),
            "prior_gain_revalued": _gain(users, prior_plan, learned),
            "learned_gain": _gain(users, learned_plan, learned),
        }
    )


def gain_change(
    scores: pd.DataFrame,
    catalogue: ActionCatalogue,
    effects_file: EffectsFile,
    budget: float | None = None,
) -> pd.DataFrame:
    """Per action (and in total): users and expected gain of the prior plan and the learned plan.

    Both plans are decided afresh from the scores (same budget, no cooldowns), so the comparison
    does not depend on which catalogue produced the score file.
    """
    frame = gain_plans(scores, catalogue, effects_file, budget)
    by_prior = frame.groupby("prior_action").agg(
        users_prior_plan=("prior_action", "size"),
        gain_prior_as_planned=("prior_gain_as_planned", "sum"),
        gain_prior_revalued=("prior_gain_revalued", "sum"),
    )
    by_learned = frame.groupby("learned_action").agg(
        users_learned_plan=("learned_action", "size"), gain_learned_plan=("learned_gain", "sum")
    )
    table = by_prior.join(by_learned, how="outer").fillna(0.0)
    table = table.drop(index=NO_ACTION, errors="ignore")
    table.loc["total"] = table.sum()
    table["change"] = table["gain_learned_plan"] - table["gain_prior_revalued"]
    table.index.name = "action"
    return table.astype({"users_prior_plan": int, "users_learned_plan": int})


def _segment_words(segment: str) -> str:
    """`at_risk/high` → "At risk / High"."""
    stage, _, tier = segment.partition("/")
    return f"{stage_label(stage)} / {tier_label(tier)}" if tier else segment


def effects_section(
    scores: pd.DataFrame,
    catalogue: ActionCatalogue,
    effects_file: EffectsFile,
    budget: float | None = None,
    wording: Wording | None = None,
) -> str:
    """The HTML of the section (tables only: the numbers are the point)."""
    wording = wording or Wording(action_names=action_names(catalogue))
    comparison = comparison_table(effects_file)
    gains = gain_change(scores, catalogue, effects_file, budget)
    segment = scores["lifecycle_stage"].astype(str) + "/" + scores["value_tier"].astype(str)
    plans = gain_plans(scores, catalogue, effects_file, budget)
    warnings = []
    for row in comparison[comparison["verdict"] == "backfires"].itertuples():
        here = (segment == row.segment).to_numpy()
        before = int((plans["prior_action"].to_numpy()[here] == row.action).sum())
        after = int((plans["learned_action"].to_numpy()[here] == row.action).sum())
        warnings.append(
            f"<p class='warn'>{html.escape(row.action)} backfires on {html.escape(row.segment)}"
            f": the prior plan sends it to {before:,} users there, the learned plan to {after:,}."
            "</p>"
        )
    total = gains.loc["total"] if "total" in gains.index else None
    headline = (
        f"<p>Expected gain of the prior plan, as planned: "
        f"{wording.money(total['gain_prior_as_planned'])}; re-valued with the learned effects: "
        f"{wording.money(total['gain_prior_revalued'])}; the plan chosen with the learned "
        f"effects: {wording.money(total['gain_learned_plan'])} "
        f"(<b>change {total['change']:+,.2f}{' ' + wording.currency if wording.currency else ''}"
        "</b>).</p>"
        if total is not None
        else ""
    )
    return "\n".join(
        [
            "<h2>Learned effects (campaigns with control groups)</h2>",
            f"<p class='muted'>effects file {html.escape(effects_file.version)}"
            f" · MLflow run {html.escape(effects_file.mlflow_run_id or 'none')} · effect ="
            " share of churn removed; learned = measured, shrunk toward the prior when thin</p>",
            *warnings,
            html_table(
                comparison.assign(segment=comparison["segment"].map(_segment_words)),
                wording,
                formats={c: "{:.2f}" for c in ("prior", "measured", "learned (used)")},
                headers={"measured 95% interval": "Measured (95% interval)"},
            ),
            "<h3>Change in expected gain</h3>",
            headline,
            html_table(
                gains.rename(index=lambda a: "Total" if a == "total" else wording.action(a)),
                wording,
                formats={c: "{:,.2f}" for c in GAIN_HEADERS if not c.startswith("users")},
                headers={
                    k: wording.unit(v) if "users" not in k else v for k, v in GAIN_HEADERS.items()
                },
            ),
        ]
    )
