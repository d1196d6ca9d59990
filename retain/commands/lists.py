"""`retain churn-list | action-plan`: the operators' two lists, from a score file or from events.

- `churn-list`: whom we are about to lose and what it is worth (value at risk first).
- `action-plan`: whom we contact, with what, at what cost and expected gain.

Both take the same filters and decision flags. From `--scores FILE`, decision flags
(`--budget`, `--catalogue`, `--contacts`, `--effects`) re-decide from the file's churn
probability, value at stake, stage and tier (serving/scoring/redecide.py); flags that would need the
events or the models there (`--as-of`, `--reasons`, `--segments`, window flags) are refused,
never ignored.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from retain.commands.decision_flags import DecisionFlags, with_decision_flags
from retain.commands.options import (
    AsOfOption,
    EventsOption,
    ListOrder,
    ReasonsOption,
    TrackingOption,
    given_flags,
)
from retain.commands.score import (
    BatchUsersOption,
    MemoryOption,
    Streaming,
    score_events_for_command,
)
from retain.commands.tables import print_arms, print_list
from retain.commands.window_options import WindowFlags, with_window_flags
from retain.console import console, fail, guarded, refuse

DEFAULT_TOP = 100
OutFormat = Literal["csv", "parquet"]
View = Literal["churn", "plan"]


def _query(
    stage: str | None,
    tier: str | None,
    action: str | None,
    min_risk: float,
    top: int | None,
    sort_by: str,
) -> Any:
    from pydantic import ValidationError

    from serving import ChurnListQuery, split_list

    try:
        return ChurnListQuery(
            stages=split_list(stage),
            tiers=split_list(tier),
            actions=split_list(action),
            min_risk=min_risk,
            top=top,
            sort_by=sort_by,  # type: ignore[arg-type]
        )
    except ValidationError as error:
        names = {"stages": "--stage", "tiers": "--tier", "actions": "--action"}
        fail(
            "; ".join(
                f"{names.get(str(e['loc'][0]), '--' + str(e['loc'][0]).replace('_', '-'))}: "
                + e["msg"].removeprefix("Value error, ")
                for e in error.errors()
            )
        )


def _rows(top: int | None, every: bool) -> int | None:
    """How many rows to list: all with --all, else --top (default DEFAULT_TOP)."""
    if every:
        refuse({"--top": top}, "with --all (which lists every matching user)")
        return None
    return DEFAULT_TOP if top is None else top


def _check_out_format(out: Path | None, out_format: OutFormat | None) -> None:
    """--out names a .csv or .parquet file (the --format, when given); --format without --out
    is refused (the list is printed then)."""
    if out is None:
        refuse({"--format": out_format}, "without --out (the list is printed to the terminal)")
        return
    suffix = out.suffix.lower().lstrip(".")
    if out_format is None and suffix not in ("csv", "parquet"):
        fail(f"--out {out}: name a .csv or .parquet file")
    if out_format is not None and suffix != out_format:
        fail(f"--out {out} does not end in .{out_format} (the --format)")


def _from_score_file(scores: Path, decisions: DecisionFlags) -> Any:
    """The score file's table, decided again when a decision flag asks for it."""
    from serving import ASSIGNMENT, read_scores, redecide, with_holdout

    table = guarded(lambda: read_scores(scores))
    holdout = decisions.holdout()
    if holdout is not None and ASSIGNMENT in table.columns:
        fail(f"{scores} already has a holdout assignment; it is not drawn twice")
    if decisions.redeciding():
        playbook = decisions.playbook()
        contacts = decisions.contact_history(playbook)
        table, summary = guarded(
            lambda: redecide(
                table, playbook, budget=decisions.budget, contacts=contacts, holdout=holdout
            )
        )
        console.print(f"decided again from {scores}: {summary.line()}")
    elif holdout is not None:
        # The file's own decisions: the arms are drawn over them as they stand, over the whole
        # score table before filters, so the arms do not depend on --top.
        table = guarded(lambda: with_holdout(table, holdout))
    return table


def _from_events(
    events: Path,
    as_of: str | None,
    tracking_uri: str | None,
    flags: WindowFlags,
    decisions: DecisionFlags,
    reasons: str | None,
    streaming: Streaming,
    listed: Callable[[Any], Any],
) -> Any:
    """The scores to list from, scored now. A streamed run keeps only each batch's rows that
    `listed` picks (its own list): the whole run's list is the list of their union, as every
    filter is per user and the order is total."""
    import pandas as pd

    kept: list[Any] = []

    def keep(batch: Any) -> None:
        kept.append(batch[batch["user_id"].isin(listed(batch)["user_id"])])

    streaming = replace(streaming, each_batch=keep)
    scored, _ = score_events_for_command(
        events, as_of, tracking_uri, flags, decisions, reasons, streaming=streaming
    )
    return pd.concat(kept, ignore_index=True) if kept else scored.scores


def _operator_list(
    view: View,
    *,
    scores: Annotated[
        Path | None, typer.Option("--scores", help="A `retain score` output to list from.")
    ] = None,
    events: EventsOption = None,
    as_of: AsOfOption = None,
    stage: Annotated[
        str | None, typer.Option("--stage", help="Comma-separated lifecycle stages to keep.")
    ] = None,
    tier: Annotated[
        str | None, typer.Option("--tier", help="Comma-separated value tiers to keep.")
    ] = None,
    action: Annotated[
        str | None, typer.Option("--action", help="Comma-separated action ids to keep.")
    ] = None,
    min_risk: Annotated[
        float, typer.Option("--min-risk", help="Lowest churn probability kept.", min=0, max=1)
    ] = 0.0,
    top: Annotated[
        int | None,
        typer.Option("--top", help=f"Rows in the list (default: {DEFAULT_TOP}).", min=1),
    ] = None,
    every: Annotated[
        bool, typer.Option("--all", help="List every matching user (instead of --top).")
    ] = False,
    sort_by: Annotated[
        ListOrder,
        typer.Option(
            "--sort-by",
            help="Order, highest first: value_at_risk (churn probability × value at stake), "
            "risk or gain.",
        ),
    ] = "value_at_risk",
    out_format: Annotated[
        OutFormat | None,
        typer.Option("--format", help="File format of --out (default: by its suffix)."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output file (default: print the list).")
    ] = None,
    reasons: ReasonsOption = None,
    tracking_uri: TrackingOption = None,
    batch_users: BatchUsersOption = None,
    memory_gb: MemoryOption = None,
    decisions: DecisionFlags | None = None,
    windows: WindowFlags | None = None,
) -> None:
    from features import write_frame
    from serving import action_plan, churn_list

    decisions = decisions or DecisionFlags()
    flags = windows or WindowFlags()
    if (scores is None) == (events is None):
        fail("give either --scores (a `retain score` output) or --events to score now")
    if scores is not None:
        refused = {
            "--as-of": as_of,
            "--reasons": reasons,
            "--segments": decisions.segments,
            "--at-risk-threshold": decisions.at_risk_threshold,
            "--tracking-uri": tracking_uri,
            **Streaming(batch_users, memory_gb).flags(),
            **given_flags(flags),
        }
        refuse(refused, "with --scores (they need the events and the models: use --events)")
    _check_out_format(out, out_format)
    query = _query(stage, tier, action, min_risk, _rows(top, every), sort_by)
    known = decisions.playbook().ids
    make = churn_list if view == "churn" else action_plan
    if scores is not None:
        table = _from_score_file(scores, decisions)
    else:
        table = _from_events(
            events,  # type: ignore[arg-type]
            as_of,
            tracking_uri,
            flags,
            decisions,
            reasons,
            Streaming(batch_users, memory_gb),
            lambda batch: make(batch, query, known),
        )
    print_arms(table)
    listed = guarded(lambda: make(table, query, known))
    if out is None:
        print_list(listed, "churn list" if view == "churn" else "action plan")
        return
    guarded(lambda: write_frame(listed, out))
    console.print(f"wrote {len(listed):,} users (of {len(table):,} scored) to {out}")


def _command(view: View, doc: str) -> Callable[..., None]:
    """A Typer command for one view: `_operator_list`'s options without `view` (and, for the
    action plan, without `--sort-by`: the plan is always ranked by expected gain)."""

    def command(**kwargs: Any) -> None:
        _operator_list(view, **kwargs)

    signature = inspect.signature(_operator_list, eval_str=True)
    dropped = {"view"} if view == "churn" else {"view", "sort_by"}
    parameters = [p for p in signature.parameters.values() if p.name not in dropped]
    command.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    command.__doc__ = doc
    command.__name__ = command.__qualname__ = view.replace("plan", "action_plan")
    return with_window_flags(with_decision_flags(command))


churn_list_command = _command(
    "churn",
    "The churn list: whom we are about to lose and what it is worth (value at risk first).",
)
action_plan_command = _command(
    "plan",
    "The action plan: whom we contact, with what, at what cost and expected gain (highest "
    "expected gain first).",
)
