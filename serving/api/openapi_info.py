"""What the OpenAPI document says about Retain itself: title, version, description, contact.

Why not BentoML's: its `info` names the service `retain`, gives `version: "None"` outside a
built Bento, advertises BentoML's Slack, Twitter and GitHub in the description and gives
BentoML's team as the contact. A client (and an SDK generator) should read what this API does,
which version of Retain answers, and whom to ask. The version is the installed `retain`
package's; the contact is RETAIN_API_CONTACT (an e-mail address or a URL) when the operator
sets one, else the operator page that ships with the service.
"""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, version
from typing import Any

CONTACT_ENV = "RETAIN_API_CONTACT"
DEFAULT_CONTACT = {"name": "Retain operators", "url": "/ui/"}
DESCRIPTION = """\
Retain predicts, for every user of a product, **churn risk** and **future value**, places the \
user in a **lifecycle stage** and **value tier**, and recommends the **next best action** \
(a retention, recall or growth action, or deliberately none) with its cost, expected gain and \
the reasons behind the risk. The service answers from one snapshot: every user scored at one \
cutoff by the `@champion` models of the MLflow registry, the same numbers `retain score` writes.

- **Per user**: `POST /score`, `POST /recommend` (one item per id, in order; unknown ids get \
`status: unknown_user`), `POST /explain` (what raises and lowers one user's risk).
- **Operator lists**: `/churn_list` (whom we are about to lose, by value at risk) and \
`/action_plan` (whom we contact, by expected gain), as JSON or CSV (`_csv`). The filters are \
the CLI's (`retain churn-list --stage --tier --action --min-risk --top --sort-by`): `stage`, \
`tier`, `action` take one value, a comma-separated string or a list. Lists are paged: \
`offset` and `limit` (at most 10,000 rows an answer); the answer gives `total`, `next_offset` \
(null on the last page) and `snapshot_id`; send `snapshot_id` back with the later pages and a \
swapped snapshot is a 409 instead of a shifted page. The CSV answers carry the same in the \
`X-Total-Count`, `X-Next-Offset` and `X-Snapshot-Id` headers. `stages`, `tiers` and `actions` \
are deprecated aliases of `stage`, `tier` and `action` (request bodies only).
- **Reads are also GET**: `/churn_list`, `/churn_list_csv`, `/action_plan`, \
`/action_plan_csv` (the body's fields as query parameters), `/segment_summary` and \
`/model_info`. Endpoints that take user ids stay POST, so ids never appear in URLs and logs.
- **Errors** are JSON: `{"error": "invalid request: stage: unknown stage ['at-risk']; …"}` \
naming each bad field (400, with pydantic's list in `detail`), 401 for a missing or wrong \
`X-API-Key` when the service requires one, 409 for a request the served snapshot cannot \
answer, 413 and 415 for bodies too large or not JSON, 503 until a champion is registered.
- **Operations**: `/livez`, `/readyz`, `/metrics`; the operator page is at `/ui/`.
"""
TAGS = [
    {
        "name": "Service APIs",
        "description": "Scores, next best actions, explanations, the operator lists and the "
        "facts of the served models and snapshot.",
    },
    {"name": "Infrastructure", "description": "Probes and metrics for orchestrators."},
]


def package_version() -> str:
    """The installed `retain` package's version ("unknown" where it is not installed)."""
    try:
        return version("retain")
    except PackageNotFoundError:
        return "unknown"


def contact(environ: dict[str, str] | None = None) -> dict[str, str]:
    """RETAIN_API_CONTACT as an OpenAPI contact (e-mail or URL), else DEFAULT_CONTACT."""
    given = ((os.environ if environ is None else environ).get(CONTACT_ENV) or "").strip()
    if not given:
        return dict(DEFAULT_CONTACT)
    if "@" in given and "://" not in given:
        return {"name": DEFAULT_CONTACT["name"], "email": given}
    return {"name": DEFAULT_CONTACT["name"], "url": given}


def info(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The document's `info` object."""
    return {
        "title": "Retain",
        "version": package_version(),
        "description": DESCRIPTION,
        "contact": contact(environ),
    }
