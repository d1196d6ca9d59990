"""The `retain` entry point: registers every command on one Typer app.

Each command lives in its own module under `retain/commands/` (the libraries below never import
the CLI); this module only assembles them, so `retain --help` lists the whole pipeline in one
place.
"""

from __future__ import annotations

import typer

from retain.commands import train as training_commands
from retain.commands.backtest import backtest
from retain.commands.demo import demo
from retain.commands.effects import effects
from retain.commands.evaluate import evaluate
from retain.commands.features import features
from retain.commands.lists import action_plan_command, churn_list_command
from retain.commands.monitor import monitor
from retain.commands.promote import promote, rollback
from retain.commands.report import report
from retain.commands.retrain import retrain
from retain.commands.score import score
from retain.commands.serve import serve
from retain.commands.simulate import simulate
from retain.commands.tune import tune
from retain.commands.validate import validate

app = typer.Typer(
    name="retain",
    help="Retain: who is about to leave, what each user is worth, and what to do about it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: Typer's rich help labels every flag `<bool>`, as if it took a value.
    rich_markup_mode=None,
)

app.command("demo")(demo)
app.command("features")(features)
app.command("validate")(validate)
app.command("simulate")(simulate)
app.command("train")(training_commands.train)
app.command("tune")(tune)
app.command("backtest")(backtest)
app.command("evaluate")(evaluate)
app.command("promote")(promote)
app.command("rollback")(rollback)
app.command("score")(score)
app.command("churn-list")(churn_list_command)
app.command("action-plan")(action_plan_command)
app.command("serve")(serve)
app.command("report")(report)
app.command("effects")(effects)
app.command("monitor")(monitor)
app.command("retrain")(retrain)


def main() -> None:
    """Console-script entry point."""
    app()
