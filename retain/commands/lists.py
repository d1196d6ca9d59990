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
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from retain.commands.decision_flags import DecisionFlags
from retain.commands.score import _score
from retain.commands.scoring_options import (
    AsOfOption,
    AtRiskOption,
    BudgetOption,
    CatalogueOption,
    ContactsOption,
    EffectsOption,
    EventsOption,
    HoldoutSeedOption,
    HoldoutShareOption,
    ReasonsOption,
    SegmentsOption,
    TrackingOption,
    guarded,
    refuse,
)
from retain.commands.tables import print_arms, print_list
from retain.commands.window_options import WindowFlags, with_window_flags
from retain.console import console, fail

View = Literal["churn", "plan"]


def _query(
    stage: str | None,
    tier: str | None,
    action: str | None,
    min_risk: float,
    top: int,
    every: bool,
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
            top=None if every else top,
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


def _from_score_file(scores: Path, decisions: DecisionFlags, refused: dict[str, object]) -> Any:
    """The score file's table, decided again when a decision flag asks for it."""
    from serving import ASSIGNMENT, read_scores, redecide, with_holdout

    refuse(refused, "with --scores (they need the events and the models: use --events)")
    table = guarded(lambda: read_scores(scores))
    holdout = decisions.holdout()
    if decisions.redeciding():
        playbook = decisions.playbook()
        contacts = decisions.contact_history(playbook)
        if holdout is not None and ASSIGNMENT in table.columns:
            fail(f"{scores} already has a holdout assignment; it is not drawn twice")
        table, summary = guarded(
            lambda: redecide(
                table, playbook, budget=decisions.budget, contacts=contacts, holdout=holdout
            )
        )
        console.print(f"decided again from {scores}: {summary.line()}")
    elif holdout is not None:
        # The file's own decisions: the arms are drawn over them as they stand.
        if ASSIGNMENT in table.columns:
            fail(f"{scores} already has a holdout assignment; it is not drawn twice")
        # Drawn over the whole score table, before filters: the arms do not depend on --top.
        table = guarded(lambda: with_holdout(table, holdout))
    return table


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
    top: Annotated[int, typer.Option("--top", help="Rows in the list (any size).", min=1)] = 100,
    every: Annotated[
        bool, typer.Option("--all", help="List every matching user (instead of --top).")
    ] = False,
    sort_by: Annotated[
        str,
        typer.Option(
            "--sort-by",
            help="Churn list order: value_at_risk (churn probability × value at stake), risk "
            "or gain; highest first. The action plan is always by expected gain.",
        ),
    ] = "value_at_risk",
    out_format: Annotated[
        Literal["csv", "parquet"], typer.Option("--format", help="csv or parquet.")
    ] = "csv",
    out: Annotated[
        Path | None, typer.Option("--out", help="Output file (default: print the list).")
    ] = None,
    catalogue: CatalogueOption = None,
    budget: BudgetOption = None,
    contacts: ContactsOption = None,
    segments: SegmentsOption = None,
    at_risk_threshold: AtRiskOption = None,
    reasons: ReasonsOption = None,
    tracking_uri: TrackingOption = None,
    effects: EffectsOption = None,
    holdout_share: HoldoutShareOption = None,
    holdout_seed: HoldoutSeedOption = 0,
    windows: WindowFlags | None = None,
) -> None:
    from features import write_frame
    from serving import action_plan, churn_list

    if (scores is None) == (events is None):
        fail("give either --scores (a `retain score` output) or --events to score now")
    if out is not None and out.suffix.lower() != f".{out_format}":
        fail(f"--out {out} does not end in .{out_format} (the --format)")
    if view == "plan" and sort_by != "value_at_risk":
        fail("--sort-by orders the churn list; the action plan is always by expected gain")
    query = _query(stage, tier, action, min_risk, top, every, sort_by)
    decisions = DecisionFlags.pick(locals())
    flags = windows or WindowFlags()
    if scores is not None:
        refused = {
            "--as-of": as_of,
            "--reasons": reasons,
            "--segments": segments,
            "--at-risk-threshold": at_risk_threshold,
            "--tracking-uri": tracking_uri,
            **{f"--{k.replace('_', '-')}": v for k, v in vars(flags).items()},
        }
        table = _from_score_file(scores, decisions, refused)
    else:
        table = _score(events, as_of, tracking_uri, flags, decisions, reasons).scores  # type: ignore[arg-type]
    print_arms(table)
    known = decisions.playbook().ids
    make = churn_list if view == "churn" else action_plan
    listed = guarded(lambda: make(table, query, known))
    if out is None:
        print_list(listed, "churn list" if view == "churn" else "action plan")
        return
    guarded(lambda: write_frame(listed, out))
    console.print(f"wrote {len(listed):,} users (of {len(table):,} scored) to {out}")


def _command(view: View, doc: str) -> Callable[..., None]:
    """A Typer command for one view: `_operator_list`'s options without `view`."""

    def command(**kwargs: Any) -> None:
        _operator_list(view, **kwargs)

    signature = inspect.signature(_operator_list, eval_str=True)
    parameters = [p for p in signature.parameters.values() if p.name != "view"]
    command.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    command.__doc__ = doc
    command.__name__ = command.__qualname__ = view.replace("plan", "action_plan")
    return with_window_flags(command)


churn_list_command = _command(
    "churn",
    "The churn list: whom we are about to lose and what it is worth (value at risk first).",
)
action_plan_command = _command(
    "plan",
    "The action plan: whom we contact, with what, at what cost and expected gain.",
)
