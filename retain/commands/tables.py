"""What the serving commands print: the run at a glance, the holdout arms, the churn list."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from retain.console import console


def stage_totals(scores: Any) -> Any:
    """Users, value at risk, actions, cost and gain per lifecycle stage (one row per stage)."""
    from serving import value_at_risk

    frame = scores.assign(value_at_risk=value_at_risk(scores))
    frame = frame.assign(acted=frame["action"] != "no_action")
    grouped = frame.groupby("lifecycle_stage", sort=True).agg(
        users=("user_id", "size"),
        value_at_risk=("value_at_risk", "sum"),
        actions=("acted", "sum"),
        cost=("action_cost", "sum"),
        gain=("expected_gain", "sum"),
    )
    return grouped.reset_index()


def summary_table(totals: Any) -> Table:
    """The run at a glance, from `stage_totals` (or the same columns aggregated on Spark)."""
    table = Table(title="scoring summary by lifecycle stage")
    for column in ("stage", "users", "value at risk", "actions", "cost", "expected gain"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for row in totals.itertuples():
        table.add_row(
            str(row.lifecycle_stage),
            f"{int(row.users):,}",
            f"{row.value_at_risk:,.2f}",
            f"{int(row.actions):,}",
            f"{row.cost:,.2f}",
            f"{row.gain:,.2f}",
        )
    return table


def print_arms(scores: Any) -> None:
    """Targets per action and arm, so the operator sees the control group before sending."""
    from serving import ASSIGNMENT, arm_counts

    if ASSIGNMENT not in scores.columns:
        return
    counts = arm_counts(scores)
    arms = ", ".join(
        f"{action} {row.get('treated', 0):,} treated / {row.get('control', 0):,} control"
        for action, row in counts.iterrows()
    )
    console.print(f"holdout: {arms or 'no targets'}")


def print_list(listed: Any, title: str = "churn list") -> None:
    """A list on the terminal: the main reason only, so a row fits on one line."""
    table = Table(title=f"{title} ({len(listed)} users)")
    for column in ("rank", "user_id", "risk", "at stake", "stage", "tier", "action", "gain"):
        table.add_column(column, no_wrap=True)
    table.add_column("main reason")
    for row in listed.itertuples():
        table.add_row(
            str(row.rank),
            row.user_id,
            f"{row.churn_probability:.2f}",
            f"{row.value_at_stake:,.2f}",
            row.lifecycle_stage,
            row.value_tier,
            row.action,
            f"{row.expected_gain:,.2f}",
            row.reasons.split("; ")[0],
        )
    console.print(table)
