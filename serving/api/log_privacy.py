"""Keeps user data out of the service log: bad requests are logged without their values.

Why: BentoML logs a request that fails validation as "Exception on /score" with the pydantic
traceback, whose text quotes the offending input (`input_value=['some-user-id']`). A bad
request is the client's error, not the server's: one line naming the fields and error types is
enough, and user ids must never reach the log. The filter sits on the root handlers, which
every record passes on its way out, whichever logger emitted it.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError


class DropRequestValues(logging.Filter):
    """Rewrites records carrying a pydantic ValidationError to fields and types, no values."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, ValidationError):
            problems = ", ".join(
                f"{'.'.join(str(part) for part in e['loc']) or '(body)'}: {e['type']}"
                for e in error.errors(include_url=False, include_input=False)
            )
            record.msg = f"{record.getMessage()}: invalid request ({problems})"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def install() -> None:
    """Add the filter to every root handler (once); call where the worker configures logging."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, DropRequestValues) for f in handler.filters):
            handler.addFilter(DropRequestValues())
