"""docs/bad-input.md says what the service answers to a bad field; hold it to the service.

The page once promised 422 while the service answered 400 (BentoML 1.4's status for a request
that fails pydantic validation). The status is read from the page, so changing either the page
or the service alone fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
PAGE = Path(__file__).resolve().parents[2] / "docs" / "bad-input.md"


def _promised() -> dict[str, int]:
    """The statuses the page's "API requests" section promises, by kind of bad request."""
    section = PAGE.read_text().split("## API requests", 1)[1]
    text = " ".join(section.split())
    found = {
        "too large": re.search(r"over the limit get (\d{3})", text),
        "not JSON": re.search(r"non-JSON (\d{3})", text),
        "bad field": re.search(r"out-of-range fields (\d{3}) with the field named", text),
    }
    assert all(found.values()), f"the page no longer says it in these words: {text[:400]}"
    return {kind: int(match.group(1)) for kind, match in found.items()}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"user_ids": [1, 2]}', "user_ids"),  # malformed: numbers for ids
        (b'{"user_ids": []}', "user_ids"),  # out of range: an empty list
        (b'{"user_ids": ["u1"], "limit": 3}', "limit"),  # a field that does not exist
    ],
)
def test_a_bad_field_gets_the_status_the_page_promises(service, body, field):
    promised = _promised()["bad field"]
    json = {"Content-Type": "application/json"}
    for endpoint in ("/score", "/recommend"):
        response = service.post(endpoint, content=body, headers=json)
        assert response.status_code == promised, response.text
        assert field in response.text  # "with the field named"


def test_oversized_and_non_json_bodies_get_the_statuses_the_page_promises(service):
    promised = _promised()
    non_json = service.post(
        "/score", content=b"user_ids=u1", headers={"Content-Type": "text/plain"}
    )
    assert non_json.status_code == promised["not JSON"], non_json.text
    huge = b'{"user_ids": ["' + b"x" * (9 * 1024 * 1024) + b'"]}'
    json = {"Content-Type": "application/json"}
    too_large = service.post("/score", content=huge, headers=json)
    assert too_large.status_code == promised["too large"], too_large.text
