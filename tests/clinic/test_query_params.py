"""Unknown query parameters and orderings are refused like unknown body fields (issue 11).

A misspelt filter silently ignored returns the whole unfiltered list, and the
client acts on it. Every documented operation is walked from the schema, so a
new endpoint is covered without being listed here; and every view the API's
URLs reach mixes in the check, so an undocumented one cannot slip past.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from clinic.api.query import StrictQueryParams
from integrations.services import api_key_create
from tests.api_assertions import assert_validation_error, error_attrs
from tests.factories import PatientFactory, ProductLotFactory, UserFactory

pytestmark = pytest.mark.django_db


def documented_gets() -> dict[str, set[str]]:
    """Each documented GET path with the query parameters its schema lists."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        path: {p["name"] for p in operations["get"].get("parameters", []) if p["in"] == "query"}
        for path, operations in schema["paths"].items()
        if "get" in operations and path.startswith("/api/v1/")
    }


@pytest.fixture
def admin() -> APIClient:
    client = APIClient()
    client.force_login(UserFactory(is_superuser=True))
    return client


def filled(path: str) -> str:
    """`path` with its ids filled from real rows (a 404 would hide the 400 we look for)."""
    if "{" not in path:
        return path
    if path.startswith("/api/v1/lots/"):
        return path.replace("{id}", str(ProductLotFactory().pk))
    if path.startswith("/api/v1/patients/"):
        patient = PatientFactory()
        return path.replace("{id}", str(patient.pk)).replace("{patient_pk}", str(patient.pk))
    return ""


def test_every_documented_get_refuses_a_parameter_it_does_not_document(admin) -> None:
    checked = []
    for path, documented in documented_gets().items():
        url = filled(path)
        if not url:
            continue  # other detail paths: the same mixin, covered by the class check below
        response = admin.get(url, {"stauts": "booked"})
        assert_validation_error(response, "stauts")
        assert "Unknown query parameter" in response.json()["errors"][0]["detail"]
        assert "stauts" not in documented
        checked.append(path)
    assert "/api/v1/sessions/" in checked and "/api/v1/worklist/" in checked and "/api/v1/availability/" in checked
    assert "/api/v1/lots/{id}/recipients/" in checked and "/api/v1/patients/{id}/" in checked
    assert len(checked) >= 18, checked


def test_a_documented_parameter_is_accepted_where_the_unknown_one_is_not(admin) -> None:
    for url, query in [
        ("/api/v1/sessions/", {"status": "booked", "ordering": "-starts_at", "page_size": 10, "count": "true"}),
        ("/api/v1/worklist/", {"kind": "next_session", "page": 1, "page_size": 5}),
        ("/api/v1/patients/", {"search": "ann", "ordering": "last_name"}),
        (f"/api/v1/lots/{ProductLotFactory().pk}/recipients/", {"page": 1, "page_size": 5}),
    ]:
        assert admin.get(url, query).status_code == 200, (url, admin.get(url, query).content)
        assert_validation_error(admin.get(url, {**query, "pagesize": 5}), "pagesize")


def test_a_detail_read_takes_no_list_parameters(admin) -> None:
    patient = PatientFactory()
    response = admin.get(f"/api/v1/patients/{patient.pk}/", {"page": 2, "search": "x"})
    assert response.status_code == 400
    assert sorted(error_attrs(response)) == ["page", "search"], "each unknown parameter named"


def test_an_ordering_the_endpoint_does_not_offer_is_refused_naming_the_choices(admin) -> None:
    paths = [path for path, documented in documented_gets().items() if "ordering" in documented and "{" not in path]
    assert len(paths) >= 8, paths
    for path in paths:
        response = admin.get(path, {"ordering": "medical_notes"})
        assert_validation_error(response, "ordering")
        assert "'medical_notes'" in response.json()["errors"][0]["detail"]
    response = admin.get("/api/v1/sessions/", {"ordering": "-starts_at,nope"})
    assert "Order by one of: starts_at, updated_at" in response.json()["errors"][0]["detail"]
    assert admin.get("/api/v1/sessions/", {"ordering": "-starts_at,updated_at"}).status_code == 200


def test_unknown_parameters_are_checked_after_authentication() -> None:
    """A caller without credentials learns nothing about the parameters: 401 first."""
    assert APIClient().get("/api/v1/sessions/", {"stauts": "x"}).status_code == 401


def test_an_api_key_is_refused_an_unknown_parameter_too() -> None:
    client = APIClient()
    _, raw_key = api_key_create(name="Sync", scopes=["read"], actor=None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    assert_validation_error(client.get("/api/v1/patients/", {"phone_number": "+447400123456"}), "phone_number")


def api_views(resolver: URLResolver | None = None) -> list[type]:
    """The view class behind every URL under /api/v1/."""
    found = []
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            found += api_views(pattern)
        elif isinstance(pattern, URLPattern):
            view_class = getattr(pattern.callback, "cls", None)
            if view_class is not None and view_class.__module__.split(".")[1:2] == ["api"]:
                found.append(view_class)
    return found


def test_every_api_view_checks_its_query_parameters() -> None:
    views = set(api_views())
    assert len(views) >= 15, views
    unchecked = sorted(view.__qualname__ for view in views if not issubclass(view, StrictQueryParams))
    assert unchecked == []


def test_an_unknown_body_field_is_reported_with_the_bodys_other_errors(admin) -> None:
    response = admin.post(
        "/api/v1/patients/",
        {"first_name": "", "last_name": "Kirk", "phone_number": "+447400123456", "email": "not-an-email"},
        format="json",
    )
    assert_validation_error(response, "phone_number")
    assert {"phone_number", "first_name", "email"} <= set(error_attrs(response))
