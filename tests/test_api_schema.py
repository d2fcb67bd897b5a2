"""The API docs are generated from the code; the schema must be valid OpenAPI 3."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT


def test_schema_generates_without_warnings_and_validates() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.django_db
def test_schema_and_docs_are_public_and_describe_the_patient_api(client) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    spec = schema.json()
    assert spec["openapi"].startswith("3.")
    assert {"/api/v1/patients/", "/api/v1/patients/{id}/", "/api/v1/patients/{patient_pk}/consents/"} <= set(
        spec["paths"]
    )
    assert "delete" not in spec["paths"]["/api/v1/patients/{id}/"]
    list_parameters = {p["name"] for p in spec["paths"]["/api/v1/patients/"]["get"]["parameters"]}
    assert {"updated_since", "search", "ordering", "page", "page_size", "count"} <= list_parameters

    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content


@pytest.mark.django_db
def test_fields_a_response_gives_as_null_are_nullable_in_the_schema(client) -> None:
    """A booking client generating its types from the schema must not crash on a reminder's `step: null`."""
    components = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["components"]
    message = components["schemas"]["ScheduledMessageOutput"]["properties"]
    assert message["step"].get("nullable") is True
