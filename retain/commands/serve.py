"""`retain serve`: start the BentoML service with the settings given on the command line.

Why a wrapper rather than `bentoml serve`: it checks the inputs before the server starts (a bad
playbook, effects file, contact history, segmentation or date fails here, in one line), pins a
relative SQLite store to this directory, and turns the few settings operators change (workers,
access log) into BentoML's configuration. It listens on loopback unless `--host` says
otherwise, and warns before it listens beyond this machine without an API key. The decision
flags are those of `retain score`, passed on as RETAIN_* variables (serving/api/settings.py), so
the service decides as the CLI does; those that cannot apply to a score file are refused by
name. The server runs as a process group
of its own that SIGTERM or Ctrl-C on `retain` stops whole (process_tree.py). Given neither
--events nor --scores, it serves the score file the README's `retain score` (or `retain demo`)
left in this folder.
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from retain.commands.decision_flags import DecisionFlags, with_service_decision_flags
from retain.commands.options import (
    AsOfOption,
    EventsOption,
    ReasonsOption,
    TrackingOption,
    given_flags,
)
from retain.commands.process_tree import run_process_tree
from retain.commands.window_options import parse_as_of
from retain.console import console, fail, guarded, refuse, warn

SERVICE_NAME = "retain"  # the name in serving/api/service.py's @bentoml.service
# Loopback unless asked: the service hands out every user's scores, so reaching it from other
# machines is a choice the operator makes (with an API key), not a default.
DEFAULT_HOST = "127.0.0.1"
# Where `retain serve` looks for a score file when given neither --events nor --scores: the
# README's `retain score … --out scores.parquet`, then `retain demo`'s output.
DEFAULT_SCORE_FILES = (Path("scores.parquet"), Path("retain-output") / "scores.parquet")


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


def default_scores(folder: Path) -> Path | None:
    """The first of DEFAULT_SCORE_FILES under `folder` that exists (None: none does)."""
    return next((folder / name for name in DEFAULT_SCORE_FILES if (folder / name).is_file()), None)


def _source(
    env: dict[str, str], events: Path | None, scores: Path | None
) -> tuple[Path | None, bool]:
    """Set RETAIN_EVENTS / RETAIN_SCORES in `env`: the flags, else the environment, else a
    score file found here (so `retain serve --port 3000` serves what `retain score` wrote).
    Returns the score file served (None: events are) and whether it was found by default."""
    if events is not None and scores is not None:
        fail("give --events or --scores, not both")
    by_default = events is None and scores is None
    if by_default:
        if env.get("RETAIN_EVENTS") or env.get("RETAIN_SCORES"):
            return (Path(env["RETAIN_SCORES"]) if env.get("RETAIN_SCORES") else None), False
        scores = default_scores(Path.cwd())
        if scores is None:
            looked = " or ".join(str(name) for name in DEFAULT_SCORE_FILES)
            fail(
                f"give --events (scored at start-up) or --scores (a `retain score` output); "
                f"no {looked} here to serve by default"
            )
    # The flag wins over a variable left in the environment.
    env["RETAIN_EVENTS"] = str(events.resolve()) if events else ""
    env["RETAIN_SCORES"] = str(scores.resolve()) if scores else ""
    return scores, by_default


@with_service_decision_flags
def serve(
    port: Annotated[int, typer.Option("--port", help="HTTP port.", min=1, max=65535)] = 3000,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Interface to listen on (default: this machine only; 0.0.0.0 for every "
            "interface, with RETAIN_API_KEY set).",
        ),
    ] = DEFAULT_HOST,
    events: EventsOption = None,
    scores: Annotated[
        Path | None,
        typer.Option(
            "--scores",
            help="Serve a `retain score` output instead (default, without --events: "
            "scores.parquet or retain-output/scores.parquet here).",
        ),
    ] = None,
    as_of: AsOfOption = None,
    reasons: ReasonsOption = None,
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
    decisions: DecisionFlags | None = None,
) -> None:
    """Start the BentoML service (scores, actions, explanations, churn lists) on PORT.

    The API key, when wanted, comes from the environment variable RETAIN_API_KEY. SIGTERM or
    Ctrl-C stops the service and every worker it started.
    """
    from serving import ServiceSettings, load_catalogue, read_decision_files
    from training import resolve_tracking_uri, sqlite_path

    decisions = decisions or DecisionFlags()
    env = dict(os.environ)
    served_file, by_default = _source(env, events, scores)
    if served_file is not None:
        refused = {"--as-of": as_of, "--reasons": reasons, **given_flags(decisions)}
        refuse(refused, f"to a score file ({served_file} was already scored and decided)")
    if by_default:
        console.print(f"serving {served_file} (found here; --events or --scores serve another)")
    if as_of:
        parse_as_of(as_of)  # fail here, not inside the server
        env["RETAIN_AS_OF"] = as_of
    if decisions.catalogue is not None:
        guarded(lambda: load_catalogue(decisions.catalogue))  # same: a bad playbook fails here
    flags_as_settings = (
        ("CATALOGUE", decisions.catalogue),
        ("EFFECTS", decisions.effects),
        ("CONTACTS", decisions.contacts),
        ("SEGMENTS", decisions.segments),
        ("BUDGET", decisions.budget),
        ("AT_RISK_THRESHOLD", decisions.at_risk_threshold),
        ("REASONS", reasons),
    )
    for name, value in flags_as_settings:
        if value is not None:  # paths absolute: the server runs in the repository root
            env[f"RETAIN_{name}"] = str(value.resolve() if isinstance(value, Path) else value)
    # Same as the catalogue: a bad decision file or setting fails here, in one line.
    settings = guarded(lambda: ServiceSettings.from_env(env))
    guarded(lambda: read_decision_files(settings))
    if not settings.api_key and not is_loopback(host):
        warn(
            f"--host {host} listens beyond this machine and no API key is set: anyone who can "
            f"reach port {port} can read every user's scores and the lists; set RETAIN_API_KEY "
            f"(clients send it as X-API-Key), or listen on {DEFAULT_HOST}"
        )
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
    raise typer.Exit(run_process_tree(command, env))


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
