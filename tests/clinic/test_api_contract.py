"""What the fuzzer (tests/test_api_fuzz.py) found, one regression test each, and the contract a booking client
reads from the schema (issue 11): Idempotency-Key, the 409/422/413/503 answers, the rule-refusal and clash
shapes, which key scope each operation needs, nullable dates and wall-clock times.
"""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from integrations.services import api_key_create
from tests.api_assertions import assert_validation_error, error_attrs
from tests.clinic.test_query_params import documented_gets
from tests.factories import CourseFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.fixture
def admin() -> APIClient:
    client = APIClient()
    client.force_login(UserFactory(is_superuser=True))
    return client


def operations(schema: dict):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method.upper(), operation


# --- found by fuzzing -------------------------------------------------------------------------------------------


def test_json_bodies_take_json_types_not_look_alikes(admin) -> None:
    """`"is_active": 0` made a product inactive, `"planned_sessions": "4"` passed as a number."""
    response = admin.post(
        "/api/v1/products/", {"name": "Cocktail", "kind": "solution", "unit": "ml", "is_active": 0}, format="json"
    )
    assert_validation_error(response, "is_active")
    assert [e["detail"] for e in response.json()["errors"] if e["attr"] == "is_active"] == ["Must be true or false."]
    response = admin.post("/api/v1/products/", {"name": 5, "kind": "solution", "unit": "ml"}, format="json")
    assert_validation_error(response, "name")
    course = CourseFactory()
    response = admin.post(
        "/api/v1/courses/",
        {"patient": str(course.patient_id), "protocol": str(course.protocol_id), "planned_sessions": "4"},
        format="json",
    )
    assert "planned_sessions" in error_attrs(response)


def test_a_blank_query_value_is_refused_not_read_as_no_filter(admin) -> None:
    for path, documented in documented_gets().items():
        if "updated_since" in documented:
            assert_validation_error(admin.get(path, {"updated_since": ""}), "updated_since")
    assert_validation_error(admin.get("/api/v1/worklist/", {"practitioner": ""}), "practitioner")
    # A search box sent empty is no search; an empty sort control is the default order.
    assert admin.get("/api/v1/patients/", {"search": "", "ordering": ""}).status_code == 200


def test_paging_parameters_that_are_not_whole_numbers_are_refused(admin) -> None:
    for query in ({"page_size": "null"}, {"page_size": "0"}, {"page": "abc"}, {"page": "-1"}, {"count": "maybe"}):
        response = admin.get("/api/v1/sessions/", query)
        assert_validation_error(response, next(iter(query)))
    assert admin.get("/api/v1/sessions/", {"page_size": 1000}).status_code == 200, "over the maximum reads as 200"


def test_a_page_far_past_the_end_is_a_404_not_a_database_error(admin) -> None:
    for path in ("/api/v1/sessions/", "/api/v1/worklist/", "/api/v1/patients/"):
        response = admin.get(path, {"page": 10**30, "page_size": 123})
        assert response.status_code == 404, (path, response.content)


def test_every_yes_no_filter_takes_true_or_false_only(admin) -> None:
    checked = []
    for path, documented in documented_gets().items():
        for name in documented & {"is_active", "resolved", "needs_medical_review"}:
            assert_validation_error(admin.get(path, {name: "null"}), name)
            assert admin.get(path, {name: "true"}).status_code == 200
            checked.append((path, name))
    assert len(checked) >= 7, checked


def test_dates_that_can_be_null_say_so_and_wall_clock_times_have_no_offset_format(schema) -> None:
    course = schema["components"]["schemas"]["CourseOutput"]["properties"]
    assert course["next_window_start"]["nullable"] is True
    assert course["next_window_end"]["nullable"] is True
    hours = schema["components"]["schemas"]["OpeningHours"]["properties"]
    assert "format" not in hours["opens_at"] and hours["opens_at"]["pattern"].startswith("^")


def test_a_blank_email_is_valid_by_the_schema_the_api_reads_and_writes(schema) -> None:
    """A patient without an email address reads as "", which `format: email` alone refused."""
    for component in ("PatientOutput", "PatientInputRequest"):
        email = schema["components"]["schemas"][component]["properties"]["email"]
        assert {"type": "string", "maxLength": 0} in email["anyOf"], (component, email)
        assert {"type": "string", "format": "email"} in email["anyOf"]


def test_the_worklist_is_documented_as_the_page_it_is(schema) -> None:
    response = schema["paths"]["/api/v1/worklist/"]["get"]["responses"]["200"]["content"]["application/json"]
    page = schema["components"]["schemas"][response["schema"]["$ref"].rsplit("/", 1)[1]]
    assert {"count", "next", "previous", "results"} <= set(page["properties"])


# --- the contract -----------------------------------------------------------------------------------------------


def test_every_post_documents_its_idempotency_key_and_the_answers_it_can_get(schema) -> None:
    posts = [(path, operation) for path, method, operation in operations(schema) if method == "POST"]
    assert len(posts) >= 15
    for path, operation in posts:
        headers = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
        assert "Idempotency-Key" in headers, path
        assert {"400", "409", "413", "422", "503"} <= set(operation["responses"]), path


def test_a_400_may_name_any_field_or_parameter_and_a_rule_refusal_its_earliest_start(schema) -> None:
    components = schema["components"]["schemas"]
    error = components["Error"]["properties"]
    assert error["attr"] == {**error["attr"], "type": "string", "nullable": True}
    assert "enum" not in error["attr"], "an unknown parameter is named too"
    refusal = components["ValidationErrorResponse"]["properties"]
    assert {"rule", "earliest_start"} <= set(refusal)
    assert {"clashing_session", "resource"} <= set(components["ConflictResponse"]["properties"])


def test_each_operation_says_which_key_scope_it_needs_and_clinical_ones_take_no_key(schema) -> None:
    by_operation = {(path, method): operation for path, method, operation in operations(schema)}

    def security(path: str, method: str) -> list[str]:
        return [name for requirement in by_operation[(path, method)].get("security", []) for name in requirement]

    book = by_operation[("/api/v1/sessions/", "POST")]
    assert "apiKey" in security("/api/v1/sessions/", "POST")
    assert "**API key scope**: `book` or `manage`." in book["description"]
    assert "`read` or `book` or `manage`" in by_operation[("/api/v1/sessions/", "GET")]["description"]
    for path in ("/api/v1/sessions/{id}/complete/", "/api/v1/side-effect-reports/{id}/resolve/"):
        assert "apiKey" not in security(path, "POST"), path
        assert "**Staff only**" in by_operation[(path, "POST")]["description"]


def test_what_the_schema_says_about_scopes_is_what_a_key_gets(schema) -> None:
    """The documented scope is the enforced one: a `read` key is refused a booking, a `book` key is not."""
    _, read_key = api_key_create(name="Reader", scopes=["read"], actor=None)
    _, book_key = api_key_create(name="Booker", scopes=["book"], actor=None)
    course = CourseFactory()
    for raw_key, allowed in ((read_key, False), (book_key, True)):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        response = client.post("/api/v1/sessions/", {"course": str(course.pk)}, format="json")
        assert (response.status_code != 403) is allowed, response.content
