"""Every /api/ response is JSON, and bad input is a 4xx naming the problem (issue 11's first findings).

- an instant with a UTC offset no zone has (+16:00 made PostgreSQL fail), or
  with no offset at all, is refused on every list endpoint's date-time filter
  and in every body;
- a body over the upload limit is a JSON 413, with or without Idempotency-Key;
- unknown /api/ URLs are JSON 404s for every method, never the CSRF page;
- no credentials, or an unknown key, is a 401 with WWW-Authenticate.
"""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from integrations.services import api_key_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def list_paths_with(parameter: str) -> list[str]:
    """Every documented GET operation that takes `parameter` (so a new list endpoint is covered unlisted)."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        path
        for path, operations in schema["paths"].items()
        if any(p["name"] == parameter for p in operations.get("get", {}).get("parameters", []))
    )


@pytest.fixture
def reader() -> APIClient:
    client = APIClient()
    _, raw_key = api_key_create(name="Sync", scopes=["read"], actor=None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def assert_names(response, attr: str, words: str) -> None:
    assert response.status_code == 400, response.content
    [error] = [e for e in response.json()["errors"] if e["attr"] == attr]
    assert words in error["detail"]


def test_every_updated_since_refuses_offsets_no_zone_has_and_times_without_one(reader) -> None:
    paths = list_paths_with("updated_since")
    assert len(paths) >= 6, paths
    for path in paths:
        assert_names(reader.get(path, {"updated_since": "2026-01-01T00:00:00+16:00"}), "updated_since", "UTC offset")
        assert_names(reader.get(path, {"updated_since": "2026-01-01T00:00:00"}), "updated_since", "UTC offset")
        assert reader.get(path, {"updated_since": "2026-01-01T00:00:00+14:00"}).status_code == 200, path


def test_other_date_time_filters_refuse_a_time_without_its_offset(reader) -> None:
    for path, parameter in [("/api/v1/sessions/", "starts_after"), ("/api/v1/messages/", "due_before")]:
        assert_names(reader.get(path, {parameter: "2026-03-03T10:00"}), parameter, "UTC offset")
        assert reader.get(path, {parameter: "2026-03-03T10:00:00Z"}).status_code == 200


def test_a_booking_time_without_its_offset_is_refused_naming_the_field() -> None:
    client = APIClient()
    _, raw_key = api_key_create(name="Booking app", scopes=["book"], actor=None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")

    response = client.post("/api/v1/sessions/", {"starts_at": "2026-03-03T10:00:00"}, format="json")

    assert_names(response, "starts_at", "UTC offset")


@pytest.mark.parametrize("idempotency_key", [None, "retry-1"])
def test_a_body_over_the_limit_is_a_json_413(idempotency_key) -> None:
    client = APIClient()
    _, raw_key = api_key_create(name="Booking app", scopes=["book"], actor=None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    headers = {"HTTP_IDEMPOTENCY_KEY": idempotency_key} if idempotency_key else {}
    body = json.dumps({"first_name": "A" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)})

    response = client.post("/api/v1/patients/", body, content_type="application/json", **headers)

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json()["errors"][0]["code"] == "request_too_large"


@pytest.mark.parametrize("method", ["get", "post", "patch", "put", "delete"])
def test_unknown_api_urls_answer_json_404_for_every_method_even_in_a_browser_session(method) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(is_staff=True))

    body = {} if method in ("get", "delete") else {"data": "{}", "content_type": "application/json"}
    response = getattr(client, method)("/api/v1/no-such-thing/", **body)

    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"


def test_a_browser_session_posting_without_its_csrf_token_gets_json() -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(is_staff=True, permissions=["patients.add_patient"]))

    response = client.post("/api/v1/patients/", data="{}", content_type="application/json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["errors"][0]["detail"]


@pytest.mark.parametrize("authorization", [None, "Bearer ck_unknown_key", "Basic dXNlcjpwYXNz"])
def test_no_credentials_or_an_unknown_key_is_401_with_www_authenticate(authorization) -> None:
    client = APIClient()
    if authorization:
        client.credentials(HTTP_AUTHORIZATION=authorization)

    response = client.get("/api/v1/patients/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["type"] == "client_error"
