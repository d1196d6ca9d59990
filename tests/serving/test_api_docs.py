"""What the API says about itself (issue 19, item 4): OpenAPI metadata that describes Retain,
and `/model_info` without the server's paths, credentials or process ids.

The document test reads the shared service's /docs.json; the registry descriptions are checked
in process against answers written by hand.
"""

from __future__ import annotations

import json
from importlib.metadata import version

import pytest

from serving.api.model_info import describe_registry
from serving.api.openapi_info import contact


@pytest.mark.slow
def test_the_document_describes_retain_not_bentoml(service):
    document = service.get("/docs.json").json()
    info = document["info"]
    assert info["title"] == "Retain"
    assert info["version"] == version("retain") != "None"
    assert "churn risk" in info["description"] and "next best action" in info["description"]
    assert info["contact"] == {"name": "Retain operators", "url": "/ui/"}
    text = json.dumps(document).lower()
    for boilerplate in ("slack", "twitter", "bentoml team", "contact@bentoml.com", "iodescriptor"):
        assert boilerplate not in text, boilerplate
    assert "for inference" not in json.dumps(document["tags"])
    reads = ("/churn_list", "/churn_list_csv", "/action_plan", "/action_plan_csv")
    for path in (*reads, "/model_info", "/segment_summary"):
        assert set(document["paths"][path]) == {"get", "post"}, path
    for path in ("/score", "/recommend", "/explain", "/refresh"):
        assert set(document["paths"][path]) == {"post"}, path
    names = [p["name"] for p in document["paths"]["/churn_list"]["get"]["parameters"]]
    assert names[:3] == ["stage", "tier", "action"] and "stages" not in names
    body = document["paths"]["/churn_list"]["post"]["requestBody"]["content"]
    properties = body["application/json"]["schema"]["properties"]
    assert properties["stages"]["deprecated"] is True and "deprecated" not in properties["stage"]


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("sqlite:////srv/retain/mlflow.db", "sqlite (local file)"),
        ("sqlite:///mlflow.db", "sqlite (local file)"),
        ("/srv/retain/mlruns", "file store (local folder)"),
        ("file:///srv/retain/mlruns", "file store (local folder)"),
        ("C:\\retain\\mlruns", "file store (local folder)"),
        ("http://mlflow.internal:5000/", "http://mlflow.internal:5000"),
        ("https://user:s3cret@mlflow.example.com/api?token=x", "https://mlflow.example.com"),
        ("postgresql+psycopg://retain:pw@db:5432/mlflow", "postgresql+psycopg://db:5432"),
        ("databricks", "databricks"),  # MLflow's bare name of a workspace, not a path
        ("mlruns", "file store (local folder)"),  # a bare relative folder
        ("databricks://profile", "databricks://profile"),
    ],
)
def test_the_registry_is_named_without_paths_or_credentials(uri, shown):
    assert describe_registry(uri) == shown


def test_the_contact_is_the_operators_when_set():
    assert contact({}) == {"name": "Retain operators", "url": "/ui/"}
    assert contact({"RETAIN_API_CONTACT": "crm-team@example.com"})["email"] == (
        "crm-team@example.com"
    )
    wiki = "https://wiki.example.com/retain"
    assert contact({"RETAIN_API_CONTACT": wiki}) == {"name": "Retain operators", "url": wiki}
