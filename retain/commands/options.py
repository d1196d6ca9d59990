"""Every command-line option that more than one command takes, declared once.

Why one module: a flag reads, validates and documents itself the same way on every command
(`--events`, `--tracking-uri`, `--model`, the decision flags, the window flags). Options with a
fixed set of values are Literal types, so `--help` lists the choices and the parser refuses a
typo naming the flag. `flag_group` delivers a group of flags (the window flags, the decision
flags) to a command as one dataclass instead of a parameter per flag in every signature.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import typer

# The choices (tests/cli/test_help.py checks they are the libraries' own lists).
ModelKind = Literal["churn", "recall", "value"]
Engine = Literal["duckdb", "spark"]
Attribution = Literal["treeshap", "path"]
ListOrder = Literal["value_at_risk", "risk", "gain"]
InputFormat = Literal["auto", "events", "cdnow", "online_retail"]

EVENTS_HELP = "Event file or folder (.parquet, .csv, .jsonl)"
EventsOption = Annotated[Path | None, typer.Option("--events", help=f"{EVENTS_HELP}.")]
RequiredEventsOption = Annotated[
    Path,
    typer.Option("--events", help=f"{EVENTS_HELP}, or a CDNOW / Online Retail file."),
]
InputFormatOption = Annotated[
    InputFormat, typer.Option("--format", help="How to read --events (auto: by its columns).")
]
EngineOption = Annotated[
    Engine,
    typer.Option("--engine", help="Where the work runs: duckdb (embedded) or spark (local)."),
]
TrainingEventsOption = Annotated[
    Path | None,
    typer.Option("--events", help=f"{EVENTS_HELP} (default: data.events in the config)."),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", help="Experiment YAML (experiments/*.yaml); default: built-in defaults."
    ),
]
ModelOption = Annotated[
    ModelKind | None, typer.Option("--model", help="One model (default: the config's models).")
]
KindOption = Annotated[ModelKind, typer.Option("--model", help="The registered model.")]
TrackingOption = Annotated[
    str | None,
    typer.Option(
        "--tracking-uri",
        help="MLflow store (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db here).",
    ),
]
AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of", help="Cutoff (YYYY-MM-DD, UTC) (default: midnight after the last event)."
    ),
]
ReasonsOption = Annotated[
    Attribution | None,
    typer.Option(
        "--reasons",
        help="Reason-code attribution: treeshap (exact, slower; the default) or path (fast, for "
        "big batches).",
    ),
]

# The decision flags (DecisionFlags in decision_flags.py).
DECISION_OPTIONS: dict[str, Any] = {
    "catalogue": Annotated[
        Path | None,
        typer.Option("--catalogue", help="Action catalogue YAML (default: the packaged playbook)."),
    ],
    "effects": Annotated[
        Path | None,
        typer.Option(
            "--effects",
            help="Effects file from `retain effects`: learned effects replace the catalogue's "
            "priors.",
        ),
    ],
    "budget": Annotated[
        float | None, typer.Option("--budget", help="Total spend allowed on actions.", min=0)
    ],
    "contacts": Annotated[
        Path | None,
        typer.Option(
            "--contacts",
            help="Contact history (campaign-log contract: user_id, action_id, assigned_at, "
            "group): enforces cooldowns and the catalogue's frequency cap.",
        ),
    ],
    "segments": Annotated[
        Path | None,
        typer.Option(
            "--segments",
            help="Segmentation YAML: stage thresholds and value-tier rules (default: built in).",
        ),
    ],
    "at_risk_threshold": Annotated[
        float | None,
        typer.Option(
            "--at-risk-threshold",
            help="Churn probability from which an active user is at_risk (default: 0.5).",
            min=0,
            max=1,
        ),
    ],
    "holdout_share": Annotated[
        float | None,
        typer.Option(
            "--holdout-share",
            help="Share of each action's targets held out as a control group (adds `assignment`).",
            min=0,
            max=0.99,
        ),
    ],
    "holdout_seed": Annotated[
        int | None,
        typer.Option(
            "--holdout-seed",
            help="Seed of the holdout draw, with the cutoff (default: 0; needs --holdout-share).",
            min=0,
        ),
    ],
}
HOLDOUT_FLAGS = ("holdout_share", "holdout_seed")

# The window flags (WindowFlags in window_options.py; DESIGN.md §5).
WINDOW_OPTIONS: dict[str, Any] = {
    "churn_horizon_days": Annotated[
        int | None,
        typer.Option(
            "--churn-horizon-days",
            help="Days after the cutoff in which no activity means churn (default: 30).",
            min=1,
        ),
    ],
    "value_horizon_days": Annotated[
        int | None,
        typer.Option(
            "--value-horizon-days",
            help="Days after the cutoff summed into future value (default: 90).",
            min=1,
        ),
    ],
    "active_window_days": Annotated[
        int | None,
        typer.Option(
            "--active-window-days",
            help="Days before the cutoff with activity that make a user active (default: 90).",
            min=1,
        ),
    ],
    "activity_events": Annotated[
        str | None,
        typer.Option(
            "--activity-events",
            help="Comma-separated event types that count as activity (default: all).",
        ),
    ],
}

Command = TypeVar("Command", bound=Callable[..., Any])


def flag_name(field: str) -> str:
    """The flag a parameter is given by: `at_risk_threshold` → `--at-risk-threshold`."""
    return "--" + field.replace("_", "-")


def given_flags(group: Any) -> dict[str, object]:
    """A flag group's fields by flag name (`--budget`), for `retain.console.refuse`."""
    return {flag_name(f.name): getattr(group, f.name) for f in dataclasses.fields(group)}


def flag_group(
    parameter: str, group: type, options: Mapping[str, Any]
) -> Callable[[Command], Command]:
    """A decorator giving a Typer command the `options` flags, delivered as `parameter: group`.

    Why: several commands take the same group of flags; declaring them once (instead of one
    parameter per flag repeated in every signature) keeps their names, help and defaults
    identical. Each flag's default is the group dataclass's field default.
    """
    defaults = {f.name: f.default for f in dataclasses.fields(group)}

    def decorate(command: Command) -> Command:
        signature = inspect.signature(command, eval_str=True)
        kept = [
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
            if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
            else p
            for p in signature.parameters.values()
            if p.name != parameter
        ]
        added = [
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=defaults[name], annotation=option
            )
            for name, option in options.items()
        ]

        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            flags = group(**{name: kwargs.pop(name) for name in options if name in kwargs})
            return command(*args, **{parameter: flags}, **kwargs)

        parameters = [*kept, *added]
        wrapper.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
        return wrapper  # type: ignore[return-value]

    return decorate
