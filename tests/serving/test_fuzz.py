"""Schemathesis against the running service's own OpenAPI document (/docs.json).

The document is built in process from `RetainService` and completed by
`serving.api.openapi_doc` (collection needs it before any server runs);
`test_the_served_document_is_the_one_fuzzed` shows the server serves exactly it.
(schemathesis' lazy `from_fixture` loader does not work with pytest 9: it sets `_nodeid`.)

Why: the typed boundary (serving/api/models.py) promises 4xx with a message for anything
malformed and documented shapes for everything else. Schemathesis generates valid and invalid
requests for every operation and checks each answer: no 5xx, a documented status code, a body
that matches the documented schema, the documented content type. The number of cases per
operation is fixed (hypothesis `max_examples`, no database, derandomised), so the run is
bounded; the last test checks that at least 1,000 cases were sent in all.
"""

from __future__ import annotations

import json
from collections import Counter

import hypothesis
import pytest
import schemathesis

pytestmark = pytest.mark.slow

MIN_CASES = 1_000
MIN_OPERATIONS = 22  # the service's documented operations (scores, actions, lists, GET reads, …)
EXAMPLES_PER_OPERATION = 130
# A read's GET runs the same validation and code as its POST (serving/api/read_routes.py turns
# one into the other), so it needs fewer cases: enough to cover reading the query string.
EXAMPLES_PER_GET_READ = 50
READ_PATHS = ("/churn_list", "/churn_list_csv", "/action_plan", "/action_plan_csv")
# What-if takes two numbers (a budget and a row count) and re-decides every served user per
# valid case (~0.15 s each): 50 cases reach its bounds and types as the 130 did, in 8 s, not 21.
FEW_FIELD_PATHS = ("/what_if",)
SENT: Counter[str] = Counter()


def _document() -> dict:
    from serving.api.openapi_doc import complete_document
    from serving.api.service import RetainService
    from serving.decisions.actions import load_catalogue

    generated = json.loads(json.dumps(RetainService.openapi_spec.asdict()))
    return complete_document(generated, load_catalogue(None).ids)  # the shared service's


schema = schemathesis.openapi.from_dict(_document())


def test_the_served_document_is_the_one_fuzzed(service):
    served = service.get("/docs.json")
    assert served.status_code == 200
    assert served.json() == _document()


# One pytest item per operation, each running its own Hypothesis search. Why not
# `schema.parametrize()`: it runs every operation as subtests of a single item, and under
# pytest-xdist (the suite runs on two workers) only the first operation ran.
OPERATIONS = {result.ok().label: result.ok() for result in schema.get_all_operations()}


def _examples(label: str) -> int:
    method, path = label.split(" ", 1)
    if (method == "GET" and path in READ_PATHS) or path in FEW_FIELD_PATHS:
        return EXAMPLES_PER_GET_READ
    return EXAMPLES_PER_OPERATION


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_every_answer_is_documented_and_no_5xx(label, running_shared_service, api_key):
    @hypothesis.given(case=OPERATIONS[label].as_strategy())
    @hypothesis.settings(
        max_examples=_examples(label),
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    def answer(case):
        response = case.call_and_validate(
            base_url=running_shared_service.base, headers={"X-API-Key": api_key}, timeout=30
        )
        SENT[label] += 1
        assert response.status_code < 500, response.text

    answer()


def test_the_schema_has_every_operation_to_fuzz():
    """A document with no (or few) operations would make the fuzzing vacuous."""
    operations = {result.ok().label for result in schema.get_all_operations()}
    assert len(operations) >= MIN_OPERATIONS, sorted(operations)


def test_fuzzing_sent_enough_cases(request: pytest.FixtureRequest):
    fuzzed = [item for item in request.session.items if "test_every_answer" in item.name]
    if not fuzzed:
        pytest.skip("the fuzzing test was deselected in this session")
    assert sum(SENT.values()) >= MIN_CASES, dict(SENT)
    assert len(SENT) >= MIN_OPERATIONS, dict(SENT)
    print(f"schemathesis sent {sum(SENT.values())} cases: {dict(SENT)}")
