"""The `retain` entry point: registers each stage's command on one Typer app.

Each stage owns its command in its own package (`features/cli.py`, `training/cli.py`, …); this
module only assembles them, so `retain --help` lists the whole pipeline in one place.
"""

from __future__ import annotations

import typer

from features.cli import features
from features.simulation_cli import simulate
from features.validate_cli import validate
from retain.demo import demo
from serving import cli as serving_cli
from serving.effects_cli import effects
from serving.list_cli import action_plan_command, churn_list_command
from serving.report import report
from serving.serve_cli import serve
from training import cli as training_cli
from training.evaluate_cli import evaluate

app = typer.Typer(
    name="retain",
    help="Retain: who is about to leave, what each user is worth, and what to do about it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.command("demo")(demo)
app.command("features")(features)
app.command("validate")(validate)
app.command("simulate")(simulate)
app.command("train")(training_cli.train)
app.command("tune")(training_cli.tune)
app.command("backtest")(training_cli.backtest)
app.command("evaluate")(evaluate)
app.command("promote")(training_cli.promote)
app.command("rollback")(training_cli.rollback)
app.command("score")(serving_cli.score)
app.command("churn-list")(churn_list_command)
app.command("action-plan")(action_plan_command)
app.command("serve")(serve)
app.command("report")(report)
app.command("effects")(effects)


def main() -> None:
    """Console-script entry point."""
    app()
