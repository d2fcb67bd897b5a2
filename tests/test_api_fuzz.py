"""Schemathesis fuzzes every operation of the API from its own OpenAPI schema (issue 11).

Valid and invalid requests are generated from the schema and sent, in
process, to the real Django application over the real database, with an API
key of every scope. Each response must be no 5xx, a status code and a body
the schema documents for that operation, a JSON content type, and invalid
input (negative examples) must be refused with a 4xx. The operations no key may
make (clinical decisions) are fuzzed again as a signed-in superuser. The number of examples
is bounded so the run takes a few minutes; FUZZ_EXAMPLES raises it for a
longer hunt (`make test PYTEST_ARGS="tests/test_api_fuzz.py" FUZZ_EXAMPLES=500`).

Each defect a run found has its own regression test next to the code's other
tests (test_api_edges.py, test_query_params.py, test_api_schema.py).
"""

from __future__ import annotations

import json
import os

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.serializers.json import DjangoJSONEncoder
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from clinic.wsgi import application
from integrations.services import api_key_create
from tests.factories import CourseFactory, PractitionerFactory, ProductLotFactory, RoomFactory, UserFactory

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture
def in_process(db):
    """Requests served in the test's own transaction, as Django's test client does: the handler must not close
    the connection when a request finishes."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def clinic_rows(db):
    """A few real rows, so some generated ids and lists reach past the 404."""
    course = CourseFactory()
    room = RoomFactory(location=course.location)
    practitioner = PractitionerFactory(locations=[course.location])
    ProductLotFactory()
    return course, room, practitioner


@pytest.fixture
def authorization(db) -> dict[str, str]:
    _, raw_key = api_key_create(name="Fuzzer", scopes=["read", "book", "manage"], actor=None)
    return {"Authorization": f"Bearer {raw_key}"}


GENERATED = json.loads(
    json.dumps(SchemaGenerator().get_schema(request=None, public=True), cls=DjangoJSONEncoder)
)  # the schema the docs page serves, generated from the code (no request, no database)


def load_schema() -> schemathesis.schemas.BaseSchema:
    loaded = schemathesis.openapi.from_dict(GENERATED)
    loaded.app = application  # served in process
    # Credentials are the test's own (a key, a session): not generated, nor left out as "negative" data.
    loaded.config.generation.update(
        modes=["positive", "negative"], max_examples=EXAMPLES, with_security_parameters=False
    )
    return loaded


def staff_only() -> list[str]:
    """Operations no API key may make (a practitioner's clinical decisions): fuzzed as a signed-in superuser."""
    return [
        operation["operationId"]
        for methods in GENERATED["paths"].values()
        for operation in methods.values()
        if not any("apiKey" in requirement for requirement in operation.get("security", []))
    ]


schema = load_schema()
staff_schema = load_schema().include(operation_id=staff_only())


@schema.parametrize()
@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=True,
)
def test_the_api_answers_as_its_schema_says(case, in_process, authorization, clinic_rows) -> None:
    case.call_and_validate(headers=authorization, checks=CHECKS)


@pytest.fixture
def staff_session(db) -> tuple[dict[str, str], dict[str, str]]:
    """A superuser's session cookie, with the CSRF cookie and header a browser would send."""
    client = Client()
    client.force_login(UserFactory(is_superuser=True))
    token = _get_new_csrf_string()
    cookies = {django_settings.SESSION_COOKIE_NAME: client.cookies[django_settings.SESSION_COOKIE_NAME].value}
    cookies[django_settings.CSRF_COOKIE_NAME] = token
    return {"X-CSRFToken": token}, cookies


@staff_schema.parametrize()
@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=True,
)
def test_the_staff_only_operations_answer_as_the_schema_says(case, in_process, staff_session, clinic_rows) -> None:
    headers, cookies = staff_session
    case.call_and_validate(headers=headers, cookies=cookies, checks=CHECKS)
