"""Parse a stored JSON document (a reference profile, a scoring manifest) into a mapping.

Why one function: every document Retain writes beside its runs is one JSON object, and a
reader must turn broken or non-object JSON into its own domain error (ProfileError,
ManifestError) with the same two messages, rather than leak a JSONDecodeError or a KeyError.
"""

from __future__ import annotations

import json
from typing import Any


def json_object(text: str, error: type[Exception], what: str) -> dict[str, Any]:
    """`text` as a JSON object; `error` naming `what` when it is not valid JSON or not an object."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as problem:
        raise error(f"{what} is not valid JSON: {problem}") from None
    if not isinstance(data, dict):
        raise error(f"{what} must be a JSON object")
    return data
