"""The `retain` entry point: registers each stage's command on one Typer app.

Each stage owns its command in its own package (`features/cli.py`, `training/cli.py`, …); this
module only assembles them, so `retain --help` lists the whole pipeline in one place.
"""

from __future__ import annotations

import typer

from features.cli import features
from retain.demo import demo

app = typer.Typer(
    name="retain",
    help="Retain: who is about to leave, what each user is worth, and what to do about it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.command("demo")(demo)
app.command("features")(features)


def _register_optional() -> None:
    """Stages still landing register themselves only when their module is present."""
    try:
        from features.simulation_cli import simulate
    except ImportError:
        return
    app.command("simulate")(simulate)


_register_optional()


def main() -> None:
    """Console-script entry point."""
    app()
