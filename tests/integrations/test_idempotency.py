"""POST with an Idempotency-Key: a retried request never acts twice."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta

import pytest
import requests
from django.utils import timezone
from rest_framework.test import APIClient

from integrations.models import IdempotencyRecord
from integrations.services import api_key_create
from patients.models import Patient
from tests.factories import CourseFactory, LocationFactory, PractitionerFactory, RoomFactory
from tests.treatments.conftest import LONDON
from treatments.models import Session

pytestmark = pytest.mark.django_db


@pytest.fixture
def book_key() -> str:
    return api_key_create(name="Widget", scopes=["book"], actor=None)[1]


def client_for(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def patient_body(**overrides: str) -> dict[str, str]:
    return {
        "first_name": "Ada",
        "last_name": "King",
        "email": "ada@example.com",
        "date_of_birth": "1990-01-01",
    } | overrides


def test_the_same_key_and_body_replays_the_first_response(book_key: str) -> None:
    client = client_for(book_key)

    first = client.post("/api/v1/patients/", patient_body(), format="json", HTTP_IDEMPOTENCY_KEY="create-ada")
    second = client.post("/api/v1/patients/", patient_body(), format="json", HTTP_IDEMPOTENCY_KEY="create-ada")

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Patient.objects.count() == 1


def test_the_same_key_with_another_body_is_422(book_key: str) -> None:
    client = client_for(book_key)
    client.post("/api/v1/patients/", patient_body(), format="json", HTTP_IDEMPOTENCY_KEY="k1")

    response = client.post(
        "/api/v1/patients/", patient_body(first_name="Grace"), format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "idempotency_key_reused"
    assert Patient.objects.count() == 1


def test_keys_belong_to_their_caller(book_key: str) -> None:
    other_key = api_key_create(name="Other", scopes=["book"], actor=None)[1]
    client_for(book_key).post("/api/v1/patients/", patient_body(), format="json", HTTP_IDEMPOTENCY_KEY="same")

    response = client_for(other_key).post(
        "/api/v1/patients/", patient_body(email="x@example.com"), format="json", HTTP_IDEMPOTENCY_KEY="same"
    )

    assert response.status_code == 201
    assert Patient.objects.count() == 2


def test_a_key_expires_after_24_hours(book_key: str) -> None:
    client = client_for(book_key)
    client.post("/api/v1/patients/", patient_body(), format="json", HTTP_IDEMPOTENCY_KEY="old")
    IdempotencyRecord.objects.update(expires_at=datetime(2000, 1, 1, tzinfo=LONDON))

    response = client.post("/api/v1/patients/", patient_body(), format="json", HTTP_IDEMPOTENCY_KEY="old")

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert Patient.objects.count() == 2
    record = IdempotencyRecord.objects.get()
    assert abs(record.expires_at - record.created_at - timedelta(hours=24)) < timedelta(seconds=1)


def test_a_request_that_never_recorded_its_outcome_stops_holding_its_key_after_a_minute(book_key: str) -> None:
    """What a request leaves when its worker is killed, or the database goes away before its outcome is stored."""
    client = client_for(book_key)
    client.post("/api/v1/patients/", patient_body(), format="json", HTTP_IDEMPOTENCY_KEY="first")
    IdempotencyRecord.objects.update(in_progress=True, status_code=None, response_body=None)
    Patient.objects.all().delete()  # the abandoned request's write was lost with it

    while_recent = client.post("/api/v1/patients/", patient_body(), format="json", HTTP_IDEMPOTENCY_KEY="first")
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(seconds=61))
    once_abandoned = client.post("/api/v1/patients/", patient_body(), format="json", HTTP_IDEMPOTENCY_KEY="first")
    replayed = client.post("/api/v1/patients/", patient_body(), format="json", HTTP_IDEMPOTENCY_KEY="first")

    assert while_recent.status_code == 409
    assert while_recent.json()["errors"][0]["code"] == "request_in_progress"
    assert once_abandoned.status_code == 201
    assert replayed.status_code == 201
    assert replayed["Idempotent-Replayed"] == "true"
    assert Patient.objects.count() == 1


def test_a_refused_request_is_replayed_too(book_key: str) -> None:
    client = client_for(book_key)
    bad = patient_body(date_of_birth="2999-01-01")

    first = client.post("/api/v1/patients/", bad, format="json", HTTP_IDEMPOTENCY_KEY="bad")
    second = client.post("/api/v1/patients/", bad, format="json", HTTP_IDEMPOTENCY_KEY="bad")

    assert first.status_code == second.status_code == 400
    assert second.json() == first.json()


def test_an_overlong_key_is_a_400(book_key: str) -> None:
    response = client_for(book_key).post(
        "/api/v1/patients/", patient_body(), format="json", HTTP_IDEMPOTENCY_KEY="x" * 256
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "invalid_idempotency_key"
    assert not Patient.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_identical_bookings_create_one_session(live_server, book_key: str) -> None:
    location = LocationFactory()
    room = RoomFactory(location=location)
    practitioner = PractitionerFactory(locations=[location])
    course = CourseFactory(location=location)
    starts_at = (datetime.now(tz=LONDON) + timedelta(days=2)).replace(hour=11, minute=0, second=0, microsecond=0)
    body = json.dumps(
        {
            "course": str(course.pk),
            "practitioner": str(practitioner.pk),
            "room": str(room.pk),
            "starts_at": starts_at.isoformat(),
        }
    )
    headers = {"Authorization": f"Bearer {book_key}", "Content-Type": "application/json", "Idempotency-Key": "book-1"}
    barrier = threading.Barrier(20)
    statuses: list[int] = []
    bodies: list[dict] = []
    lock = threading.Lock()

    def post() -> None:
        barrier.wait(timeout=10)
        response = requests.post(f"{live_server.url}/api/v1/sessions/", data=body, headers=headers, timeout=30)
        with lock:
            statuses.append(response.status_code)
            bodies.append(response.json())

    threads = [threading.Thread(target=post) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(statuses) == 20
    assert Session.objects.count() == 1
    assert set(statuses) <= {201, 409}, statuses
    created = [b for s, b in zip(statuses, bodies, strict=True) if s == 201]
    assert created and all(b["id"] == created[0]["id"] for b in created)
    in_progress = [b for s, b in zip(statuses, bodies, strict=True) if s == 409]
    assert all(b["errors"][0]["code"] == "request_in_progress" for b in in_progress)
    retry = requests.post(f"{live_server.url}/api/v1/sessions/", data=body, headers=headers, timeout=30)
    assert retry.status_code == 201
    assert retry.json()["id"] == created[0]["id"]


def test_refusals_about_the_attempt_are_not_stored(settings) -> None:
    """A 403 (the key's scope) or a 429 (its rate) says nothing final about the request: a retry runs again."""
    read_key = api_key_create(name="Reader", scopes=["read"], actor=None)[1]
    refused = client_for(read_key).post("/api/v1/patients/", patient_body(), format="json", HTTP_IDEMPOTENCY_KEY="a")
    assert refused.status_code == 403

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": "1/min"}}
    busy = client_for(api_key_create(name="Busy", scopes=["book"], actor=None)[1])
    busy.get("/api/v1/patients/")
    throttled = busy.post("/api/v1/patients/", patient_body(), format="json", HTTP_IDEMPOTENCY_KEY="b")
    assert throttled.status_code == 429

    assert IdempotencyRecord.objects.count() == 0


def test_unknown_or_revoked_keys_write_nothing_and_get_no_replay(book_key: str) -> None:
    from integrations.models import ApiKey
    from integrations.services import api_key_revoke

    unknown = client_for("ck_unknown_0000").post(
        "/api/v1/patients/", patient_body(), format="json", HTTP_IDEMPOTENCY_KEY="x"
    )
    assert unknown.status_code == 401
    assert IdempotencyRecord.objects.count() == 0

    client = client_for(book_key)
    assert client.post("/api/v1/patients/", patient_body(), format="json", HTTP_IDEMPOTENCY_KEY="y").status_code == 201
    api_key_revoke(api_key=ApiKey.objects.get(), actor=None)

    retried = client.post("/api/v1/patients/", patient_body(), format="json", HTTP_IDEMPOTENCY_KEY="y")

    assert retried.status_code == 401
    assert "Idempotent-Replayed" not in retried


def test_erasing_a_patient_forgets_the_stored_responses_that_name_them(book_key: str) -> None:
    from frontdesk.data_rights import patient_erase

    client = client_for(book_key)
    ada = client.post("/api/v1/patients/", patient_body(), format="json", HTTP_IDEMPOTENCY_KEY="ada").json()
    client.post("/api/v1/patients/", patient_body(first_name="Grace", email="grace@example.com"), format="json",
                HTTP_IDEMPOTENCY_KEY="grace")  # fmt: skip
    assert IdempotencyRecord.objects.count() == 2

    patient_erase(patient=Patient.objects.get(pk=ada["id"]), actor=None)

    [kept] = IdempotencyRecord.objects.all()
    assert kept.key == "grace"
