"""Terminal output shared by every command: one console, readable errors, progress on long work.

Why: users of the CLI should see a one-line reason for a failure, never a traceback; a flag
that cannot apply is refused by name, never ignored; and long work shows a progress bar whose
count is real (steps done of steps known) or absent, never `0/None`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

T = TypeVar("T")
console = Console(stderr=False, highlight=False)
err_console = Console(stderr=True, highlight=False)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print `error: message` in red on stderr and exit with `code` (2: bad input)."""
    err_console.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(code)


def warn(message: str) -> None:
    """One yellow `warning:` line on stderr: the command goes on, the operator is told."""
    err_console.print(f"[bold yellow]warning:[/] {message}", soft_wrap=True)


def refuse(flags: Mapping[str, object], why: str) -> None:
    """Fail naming every given flag that cannot apply here: a flag is never silently ignored.

    `flags` maps a flag's name (`--as-of`) to its value; None and False count as not given.
    """
    given = [name for name, value in flags.items() if value is not None and value is not False]
    if given:
        fail(f"{', '.join(given)} cannot apply {why}")


def guarded(step: Callable[[], T], *also: type[Exception]) -> T:
    """Run `step`; expected failures become a one-line error instead of a traceback.

    Every error the libraries raise for bad input (event contract, catalogue, config, effects
    file, campaign log) is a ValueError; a missing champion or version is a LookupError; a
    missing or unwritable file an OSError. `also` adds a command's own expected failures.
    """
    try:
        return step()
    except (ValueError, LookupError, OSError, *also) as error:
        fail(str(error))


class _StepCount(TextColumn):
    """`done/total` when the total is known; nothing (rather than `0/None`) when it is not."""

    def __init__(self) -> None:
        super().__init__("")

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text("")
        return Text(f"{int(task.completed)}/{int(task.total)}")


@contextmanager
def progress() -> Iterator[Progress]:
    """A Rich progress display for multi-step or chunked work (transient off: keep the log).

    A task added with `total=None` (work whose length is not known in advance, such as
    training) shows a pulsing bar and the elapsed time without a count.
    """
    columns: tuple[ProgressColumn, ...] = (
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        _StepCount(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console) as bar:
        yield bar
