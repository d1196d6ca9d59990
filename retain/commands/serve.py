"""`retain serve`: start the BentoML service with the settings given on the command line.

Why a wrapper rather than `bentoml serve`: it checks the inputs before the server starts (a bad
playbook, effects file, contact history, segmentation or date fails here, in one line), pins a
relative SQLite store to this directory, and turns the few settings operators change (workers,
access log) into BentoML's configuration. The decision flags are those of `retain score`,
passed on as RETAIN_* variables (serving/api/settings.py), so the service decides as the CLI does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from retain.commands.scoring_options import (
    AsOfOption,
    AtRiskOption,
    BudgetOption,
    CatalogueOption,
    ContactsOption,
    EffectsOption,
    EventsOption,
    ReasonsOption,
    SegmentsOption,
    TrackingOption,
    guarded,
)
from retain.commands.window_options import parse_as_of
from retain.console import console, fail

SERVICE_NAME = "retain"  # the name in serving/api/service.py's @bentoml.service


def serve(
    port: Annotated[int, typer.Option("--port", help="HTTP port.", min=1, max=65535)] = 3000,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "0.0.0.0",
    events: EventsOption = None,
    scores: Annotated[
        Path | None, typer.Option("--scores", help="Serve a `retain score` output instead.")
    ] = None,
    as_of: AsOfOption = None,
    catalogue: CatalogueOption = None,
    budget: BudgetOption = None,
    effects: EffectsOption = None,
    contacts: ContactsOption = None,
    segments: SegmentsOption = None,
    at_risk_threshold: AtRiskOption = None,
    reasons: ReasonsOption = "treeshap",
    tracking_uri: TrackingOption = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", help="Worker processes (default: 1).", min=1, max=64),
    ] = None,
    access_log: Annotated[
        bool | None,
        typer.Option(
            "--access-log/--no-access-log",
            help="Log one line per request (default: on). Errors are logged either way.",
        ),
    ] = None,
) -> None:
    """Start the BentoML service (scores, actions, explanations, churn lists) on PORT.

    The API key, when wanted, comes from the environment variable RETAIN_API_KEY.
    """
    from serving import ServiceSettings, decision_inputs, load_catalogue
    from training import resolve_tracking_uri, sqlite_path

    if events is not None and scores is not None:
        fail("give --events or --scores, not both")
    env = dict(os.environ)
    if events is None and scores is None:
        if not (env.get("RETAIN_EVENTS") or env.get("RETAIN_SCORES")):
            fail("give --events (scored at start-up) or --scores (a `retain score` output)")
    else:  # the flag wins over a variable left in the environment
        env["RETAIN_EVENTS"] = str(events.resolve()) if events else ""
        env["RETAIN_SCORES"] = str(scores.resolve()) if scores else ""
    if as_of:
        parse_as_of(as_of)  # fail here, not inside the server
        env["RETAIN_AS_OF"] = as_of
    if catalogue is not None:
        guarded(lambda: load_catalogue(catalogue))  # same: a bad playbook fails here
        env["RETAIN_CATALOGUE"] = str(catalogue.resolve())
    if budget is not None:
        env["RETAIN_BUDGET"] = str(budget)
    for name, path in (("EFFECTS", effects), ("CONTACTS", contacts), ("SEGMENTS", segments)):
        if path is not None:
            env[f"RETAIN_{name}"] = str(path.resolve())
    if at_risk_threshold is not None:
        env["RETAIN_AT_RISK_THRESHOLD"] = str(at_risk_threshold)
    # Same as the catalogue: a bad decision file or setting fails here, in one line.
    settings = guarded(lambda: ServiceSettings.from_env(env))
    guarded(lambda: decision_inputs(settings))
    if reasons != "treeshap":
        env["RETAIN_REASONS"] = reasons
    # The server runs from the repository root: pin a relative SQLite store to this directory.
    uri = resolve_tracking_uri(tracking_uri)
    db_file = sqlite_path(uri)
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{db_file}" if db_file is not None else uri
    env["BENTOML_CONFIG_OVERRIDES"] = bentoml_overrides(
        env.get("BENTOML_CONFIG_OVERRIDES"), workers=workers, access_log=access_log
    )
    root = Path(__file__).resolve().parents[2]
    command = [
        *(sys.executable, "-m", "bentoml", "serve", "serving.api.service:RetainService"),
        *("--port", str(port), "--host", host, "--working-dir", str(root)),
    ]
    console.print(f"starting the Retain service on http://{host}:{port} (Ctrl+C stops it)")
    try:
        raise typer.Exit(subprocess.call(command, env=env))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def bentoml_overrides(
    existing: str | None, *, workers: int | None = None, access_log: bool | None = None
) -> str:
    """BENTOML_CONFIG_OVERRIDES with the flags merged in (a flag wins over the variable).

    Why merge: an operator may already set other BentoML options in that variable; the flags
    change only the keys they name and keep the rest.
    """
    try:
        config: dict[str, Any] = json.loads(existing) if existing else {}
    except json.JSONDecodeError as error:
        fail(f"BENTOML_CONFIG_OVERRIDES is not valid JSON: {error}")
    if not isinstance(config, dict):
        fail("BENTOML_CONFIG_OVERRIDES must be a JSON object")
    service = config.setdefault("services", {}).setdefault(SERVICE_NAME, {})
    if workers is not None:
        service["workers"] = workers
    if access_log is not None:
        service.setdefault("logging", {}).setdefault("access", {})["enabled"] = access_log
    return json.dumps(config)
