"""What the serving commands print: the run at a glance, the holdout arms, the churn list."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

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


# From this width on, a list row fits on one line with its main reason in a column of its own.
WIDE_LIST_COLUMNS = 120


def list_table(listed: Any, title: str, width: int) -> Table:
    """A list as a terminal table that fits `width` without cutting ids, actions or reasons.

    Wide terminals get one line per user. Narrower ones (80 columns) keep the numbers in
    columns and put the action, its expected gain and the main reason together in the last
    column, on two lines, which wraps rather than truncates.
    """
    wide = width >= WIDE_LIST_COLUMNS
    table = Table(
        title=f"{title} ({len(listed)} users)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        show_edge=False,
        collapse_padding=True,
    )
    for column in ("rank", "user_id", "risk", "at stake", "stage", "tier"):
        numeric = column in ("rank", "risk", "at stake")
        table.add_column(column, no_wrap=True, justify="right" if numeric else "left")
    if wide:
        table.add_column("action", no_wrap=True)
        table.add_column("gain", no_wrap=True, justify="right")
    table.add_column("main reason" if wide else "action (expected gain) / main reason", ratio=1)
    for row in listed.itertuples():
        reason = row.reasons.split("; ")[0]
        cells = [
            str(row.rank),
            str(row.user_id),
            f"{row.churn_probability:.2f}",
            f"{row.value_at_stake:,.2f}",
            str(row.lifecycle_stage),
            str(row.value_tier),
        ]
        if wide:
            cells += [str(row.action), f"{row.expected_gain:,.2f}", reason]
            table.add_row(*(Text(cell) for cell in cells))  # Text: ids are never read as markup
        else:
            plan = Text(f"{row.action} ({row.expected_gain:+,.2f})\n")
            plan.append(reason, style="dim")
            table.add_row(*(Text(cell) for cell in cells), plan)
    return table


def print_list(listed: Any, title: str = "churn list") -> None:
    """A list on the terminal, laid out for the terminal's width."""
    console.print(list_table(listed, title, console.width))
