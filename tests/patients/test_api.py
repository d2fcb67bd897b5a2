"""The patients REST API: /api/v1/patients/ and a patient's consents.

Staff log in through the session. Every refusal is JSON in the
drf-standardized-errors shape, names the offending field, and leaves the
database exactly as it was.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from patients.models import Consent, ConsentKind, ContactChannel, MedicalFlag, Patient
from tests import api_assertions
from tests.api_assertions import error_attrs, parse_api_datetime, results
from tests.factories import ConsentFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

PATIENTS_URL = "/api/v1/patients/"

PATIENT_FIELDS = {
    "id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "date_of_birth",
    "preferred_channel",
    "language",
    "time_zone",
    "skin_type",
    "needs_medical_review",
    "medical_flags",
    "medical_notes",
    "created_at",
    "erased_at",
    "updated_at",
}


def patient_url(patient_id: object) -> str:
    return f"{PATIENTS_URL}{patient_id}/"


def consents_url(patient_id: object) -> str:
    return f"{PATIENTS_URL}{patient_id}/consents/"


def revoke_url(patient_id: object, consent_id: object) -> str:
    return f"{PATIENTS_URL}{patient_id}/consents/{consent_id}/revoke/"


def new_patient_body(**overrides: object) -> dict[str, Any]:
    body: dict[str, Any] = {
        "first_name": "Amelia",
        "last_name": "Hart",
        "email": "amelia.hart@example.com",
        "phone": "+447911123456",
        "date_of_birth": "1988-04-12",
        "preferred_channel": "email",
    }
    body.update(overrides)
    return body


def patient_row(patient: Patient) -> dict[str, Any]:
    """Every column of the patient as stored, to prove a refused change left it alone."""
    return Patient.objects.values().get(pk=patient.pk)


def assert_validation_error(response: Any, attr: str) -> None:
    """The shared check, and every error carries exactly a code, a detail and an attr."""
    api_assertions.assert_validation_error(response, attr)
    for error in response.json()["errors"]:
        assert set(error) == {"code", "detail", "attr"}


def assert_client_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {
        "type": "client_error",
        "errors": [{"code": code, "detail": response.json()["errors"][0]["detail"], "attr": None}],
    }


def listed_last_names(response: Any) -> list[str]:
    return [patient["last_name"] for patient in results(response)]


# --- Who may use the API ------------------------------------------------------


def test_an_anonymous_visitor_can_neither_list_nor_create_patients(anonymous_client) -> None:
    PatientFactory()

    assert_client_error(anonymous_client.get(PATIENTS_URL), 401, "not_authenticated")
    assert_client_error(anonymous_client.post(PATIENTS_URL, new_patient_body()), 401, "not_authenticated")
    assert Patient.objects.count() == 1


def test_staff_without_the_view_permission_cannot_read_patients() -> None:
    patient = PatientFactory()
    receptionist = UserFactory(username="noaccess", is_staff=True)
    client = APIClient()
    client.force_login(receptionist)

    assert_client_error(client.get(PATIENTS_URL), 403, "permission_denied")
    assert_client_error(client.get(patient_url(patient.pk)), 403, "permission_denied")
    assert_client_error(client.get(consents_url(patient.pk)), 403, "permission_denied")


# --- Listing: pagination, filters, search, ordering ----------------------------


def test_the_list_is_paged_with_page_and_page_size(api_client) -> None:
    for last_name in ["Adams", "Baker", "Clark", "Davis", "Evans"]:
        PatientFactory(last_name=last_name)

    first = api_client.get(PATIENTS_URL, {"page_size": 2})
    second = api_client.get(PATIENTS_URL, {"page_size": 2, "page": 2})
    third = api_client.get(PATIENTS_URL, {"page_size": 2, "page": 3})

    # No COUNT over the table unless asked: the total is known on the last page.
    assert first.json()["count"] is None
    assert api_client.get(PATIENTS_URL, {"page_size": 2, "count": "true"}).json()["count"] == 5
    assert third.json()["count"] == 5
    assert listed_last_names(first) == ["Adams", "Baker"]
    assert first.json()["next"] is not None
    assert first.json()["previous"] is None
    assert listed_last_names(second) == ["Clark", "Davis"]
    assert second.json()["previous"] is not None and "page=" not in second.json()["previous"]
    assert listed_last_names(third) == ["Evans"]
    assert third.json()["next"] is None
    assert "page=2" in third.json()["previous"]
    assert listed_last_names(api_client.get(PATIENTS_URL, {"page_size": 2, "page": "last"})) == ["Evans"]


def test_a_page_holds_at_most_200_patients_whatever_page_size_asks(api_client) -> None:
    Patient.objects.bulk_create(PatientFactory.build_batch(201))

    response = api_client.get(PATIENTS_URL, {"page_size": 1000, "count": "true"})

    assert response.json()["count"] == 201
    assert len(response.json()["results"]) == 200
    assert response.json()["next"] is not None


def test_a_page_past_the_end_is_a_json_404(api_client) -> None:
    PatientFactory()

    assert_client_error(api_client.get(PATIENTS_URL, {"page": 99}), 404, "not_found")


def test_patients_are_listed_by_last_name_then_first_name(api_client) -> None:
    PatientFactory(first_name="Zoe", last_name="Baker")
    PatientFactory(first_name="Anna", last_name="Baker")
    PatientFactory(first_name="Mia", last_name="Adams")

    response = api_client.get(PATIENTS_URL)

    assert [(p["last_name"], p["first_name"]) for p in response.json()["results"]] == [
        ("Adams", "Mia"),
        ("Baker", "Anna"),
        ("Baker", "Zoe"),
    ]


def test_ordering_by_date_of_birth_youngest_first(api_client) -> None:
    PatientFactory(last_name="Older", date_of_birth=date(1960, 1, 1))
    PatientFactory(last_name="Younger", date_of_birth=date(2000, 1, 1))
    PatientFactory(last_name="Middle", date_of_birth=date(1980, 1, 1))

    response = api_client.get(PATIENTS_URL, {"ordering": "-date_of_birth"})

    assert listed_last_names(response) == ["Younger", "Middle", "Older"]


def test_filtering_by_preferred_channel(api_client) -> None:
    PatientFactory(last_name="Texter", preferred_channel=ContactChannel.SMS)
    PatientFactory(last_name="Mailer", preferred_channel=ContactChannel.EMAIL)

    assert listed_last_names(api_client.get(PATIENTS_URL, {"preferred_channel": "sms"})) == ["Texter"]
    assert_validation_error(api_client.get(PATIENTS_URL, {"preferred_channel": "fax"}), "preferred_channel")


def test_filtering_by_skin_type(api_client) -> None:
    PatientFactory(last_name="Fair", skin_type=1)
    PatientFactory(last_name="Dark", skin_type=6)
    PatientFactory(last_name="Unknown", skin_type=None)

    assert listed_last_names(api_client.get(PATIENTS_URL, {"skin_type": 6})) == ["Dark"]
    assert_validation_error(api_client.get(PATIENTS_URL, {"skin_type": 7}), "skin_type")


def test_filtering_by_one_medical_flag(api_client) -> None:
    PatientFactory(last_name="Expecting", medical_flags=[MedicalFlag.PREGNANCY])
    PatientFactory(last_name="Both", medical_flags=[MedicalFlag.ANTICOAGULANTS, MedicalFlag.PREGNANCY])
    PatientFactory(last_name="Thinned", medical_flags=[MedicalFlag.ANTICOAGULANTS])
    PatientFactory(last_name="Clear")

    response = api_client.get(PATIENTS_URL, {"medical_flag": "pregnancy"})

    assert listed_last_names(response) == ["Both", "Expecting"]


def test_filtering_by_needs_medical_review(api_client) -> None:
    PatientFactory(last_name="Flagged", medical_flags=[MedicalFlag.AUTOIMMUNE_DISEASE])
    PatientFactory(last_name="Clear")

    assert listed_last_names(api_client.get(PATIENTS_URL, {"needs_medical_review": "true"})) == ["Flagged"]
    assert listed_last_names(api_client.get(PATIENTS_URL, {"needs_medical_review": "false"})) == ["Clear"]


def test_filtering_by_email_ignores_case(api_client) -> None:
    PatientFactory(last_name="Hart", email="amelia.hart@example.com")
    PatientFactory(last_name="Other", email="someone@example.com")

    response = api_client.get(PATIENTS_URL, {"email": "Amelia.Hart@Example.COM"})

    assert listed_last_names(response) == ["Hart"]


def test_filtering_by_phone_with_an_encoded_or_a_bare_plus(api_client) -> None:
    PatientFactory(last_name="Hart", phone="+447911123456")
    PatientFactory(last_name="Other", phone="+447911654321")

    assert listed_last_names(api_client.get(f"{PATIENTS_URL}?phone=%2B447911123456")) == ["Hart"]
    # An unencoded "+" arrives as a space; the filter still finds the number.
    assert listed_last_names(api_client.get(f"{PATIENTS_URL}?phone=+447911123456")) == ["Hart"]


def test_filtering_by_birth_date_range(api_client) -> None:
    PatientFactory(last_name="Sixties", date_of_birth=date(1965, 6, 1))
    PatientFactory(last_name="Eighties", date_of_birth=date(1985, 6, 1))
    PatientFactory(last_name="Noughties", date_of_birth=date(2003, 6, 1))

    response = api_client.get(PATIENTS_URL, {"born_after": "1980-01-01", "born_before": "1999-12-31"})

    assert listed_last_names(response) == ["Eighties"]
    assert_validation_error(api_client.get(PATIENTS_URL, {"born_after": "not-a-date"}), "born_after")


def test_updated_since_returns_only_patients_changed_at_or_after_the_instant(api_client) -> None:
    stale = PatientFactory(last_name="Stale")
    fresh = PatientFactory(last_name="Fresh")
    since = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    Patient.objects.filter(pk=stale.pk).update(updated_at=since - timedelta(seconds=1))
    Patient.objects.filter(pk=fresh.pk).update(updated_at=since)

    response = api_client.get(PATIENTS_URL, {"updated_since": "2026-03-01T10:00:00+01:00"})

    assert listed_last_names(response) == ["Fresh"]


def test_a_malformed_updated_since_is_a_400_naming_the_parameter(api_client) -> None:
    response = api_client.get(PATIENTS_URL, {"updated_since": "yesterday"})

    assert_validation_error(response, "updated_since")


def test_search_matches_names_email_and_phone(api_client) -> None:
    PatientFactory(first_name="Amelia", last_name="Hart", email="ah@example.com", phone="+447911123456")
    PatientFactory(first_name="Bella", last_name="Stone", email="bella@clinic.example", phone="+447911654321")

    assert listed_last_names(api_client.get(PATIENTS_URL, {"search": "hart"})) == ["Hart"]
    assert listed_last_names(api_client.get(PATIENTS_URL, {"search": "amel"})) == ["Hart"]
    assert listed_last_names(api_client.get(PATIENTS_URL, {"search": "clinic.example"})) == ["Stone"]
    assert listed_last_names(api_client.get(PATIENTS_URL, {"search": "654321"})) == ["Stone"]
    assert listed_last_names(api_client.get(PATIENTS_URL, {"search": "nobody"})) == []


def test_search_combines_with_filters_ordering_and_paging(api_client) -> None:
    for first, born in [("Ann", date(1990, 1, 1)), ("Cleo", date(1970, 1, 1)), ("Bea", date(1980, 1, 1))]:
        PatientFactory(first_name=first, last_name="Smith", date_of_birth=born, preferred_channel=ContactChannel.SMS)
    PatientFactory(
        first_name="Dora", last_name="Smithers", date_of_birth=date(1960, 1, 1), preferred_channel=ContactChannel.EMAIL
    )
    PatientFactory(first_name="Eve", last_name="Jones")

    by_birth = api_client.get(PATIENTS_URL, {"search": "smith", "ordering": "-date_of_birth"})
    assert [row["first_name"] for row in results(by_birth)] == ["Ann", "Bea", "Cleo", "Dora"]
    emails = api_client.get(PATIENTS_URL, {"search": "smith", "preferred_channel": ContactChannel.EMAIL})
    assert [row["first_name"] for row in results(emails)] == ["Dora"]
    second_page = api_client.get(PATIENTS_URL, {"search": "smith", "page_size": 2, "page": 2, "count": "true"})
    assert [row["first_name"] for row in results(second_page)] == ["Cleo", "Dora"]  # by name: Ann, Bea, Cleo, Dora
    assert second_page.json()["count"] == 4


def test_search_finds_its_matches_along_the_trigram_index_not_by_walking_every_name() -> None:
    """PostgreSQL, left to itself, walks the name index in order and filters every row until the page is full
    (80,000 of 100,000 patients for "Smith"); the search reads the trigram index first, then sorts the matches."""
    from django.db import connection, transaction

    from patients.selectors import patient_list

    PatientFactory.create_batch(5, last_name="Smith")
    PatientFactory.create_batch(5, last_name="Jones")
    searched = patient_search_queryset("Smith")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # as on a large table: an index or nothing
        plan = searched.order_by("last_name", "first_name", "id")[:101].explain()
    # The matches come first, whole (a materialised CTE the planner cannot fold into a walk of the names)…
    assert "CTE patient_matches" in plan, plan
    # … along the trigram index.
    assert "Bitmap Index Scan on patient_search_trgm_idx" in plan, plan
    assert list(patient_list().filter(last_name="Smith").order_by("id")) == sorted(searched, key=lambda p: p.pk)


def test_listing_costs_the_same_queries_for_3_or_30_patients(
    api_client, django_assert_max_num_queries, django_assert_num_queries
) -> None:
    PatientFactory.create_batch(3)
    with django_assert_max_num_queries(8) as three_patients:
        assert len(api_client.get(PATIENTS_URL).json()["results"]) == 3

    PatientFactory.create_batch(27)
    with django_assert_num_queries(len(three_patients.captured_queries)):
        assert len(api_client.get(PATIENTS_URL).json()["results"]) == 30


# --- Creating and reading -----------------------------------------------------


def test_creating_a_patient_returns_201_and_the_stored_record(api_client) -> None:
    response = api_client.post(
        PATIENTS_URL,
        new_patient_body(phone="+44 7911 123456", skin_type=3, medical_flags=["pregnancy", "component_allergy"]),
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == PATIENT_FIELDS
    patient = Patient.objects.get()
    assert body["id"] == str(patient.pk)
    assert body["first_name"] == "Amelia"
    assert body["phone"] == "+447911123456"  # stored and served in E.164
    assert body["date_of_birth"] == "1988-04-12"
    assert body["time_zone"] == "Europe/London"  # the clinic's default
    assert body["language"] == "en"
    assert body["skin_type"] == 3
    # The front desk records the flags the patient mentions, and then knows only that a review is needed.
    assert (body["needs_medical_review"], body["medical_flags"], body["medical_notes"]) == (True, None, None)
    assert patient.medical_flags == ["pregnancy", "component_allergy"]
    assert parse_api_datetime(body["created_at"]) == patient.created_at
    assert parse_api_datetime(body["updated_at"]) == patient.updated_at


def test_a_patient_is_read_back_by_id(api_client) -> None:
    patient = PatientFactory(first_name="Grace", phone="+447911000111", time_zone="Europe/Paris")

    response = api_client.get(patient_url(patient.pk))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == PATIENT_FIELDS
    assert body["id"] == str(patient.pk)
    assert body["first_name"] == "Grace"
    assert body["phone"] == "+447911000111"
    assert body["time_zone"] == "Europe/Paris"
    assert parse_api_datetime(body["updated_at"]) == patient.updated_at


def test_an_unknown_patient_id_is_a_json_404(api_client) -> None:
    PatientFactory()

    assert_client_error(api_client.get(patient_url(uuid.uuid4())), 404, "not_found")
    assert_client_error(api_client.patch(patient_url(uuid.uuid4()), {"first_name": "X"}), 404, "not_found")


def test_an_id_that_is_not_a_uuid_is_a_json_404(api_client) -> None:
    assert_client_error(api_client.get(patient_url("12345")), 404, "not_found")
    assert_client_error(api_client.get(consents_url("12345")), 404, "not_found")


def test_an_unknown_api_url_is_a_json_404(api_client) -> None:
    assert_client_error(api_client.get("/api/v1/no-such-thing/"), 404, "not_found")


# --- Changing -----------------------------------------------------------------


def test_put_replaces_the_patients_details(api_client) -> None:
    patient = PatientFactory(first_name="Grace", last_name="Old", skin_type=2)

    response = api_client.put(
        patient_url(patient.pk),
        new_patient_body(first_name="Grace", last_name="New", phone="+447911222333", skin_type=4),
    )

    assert response.status_code == 200, response.content
    assert response.json()["last_name"] == "New"
    assert response.json()["phone"] == "+447911222333"
    patient.refresh_from_db()
    assert (patient.last_name, str(patient.phone), patient.skin_type) == ("New", "+447911222333", 4)


def test_put_without_the_required_fields_is_refused_and_changes_nothing(api_client) -> None:
    patient = PatientFactory()
    before = patient_row(patient)

    response = api_client.put(patient_url(patient.pk), {"last_name": "Only"})

    assert_validation_error(response, "first_name")
    assert {"first_name", "date_of_birth"} <= set(error_attrs(response))
    assert patient_row(patient) == before


def test_patch_changes_only_the_fields_sent(api_client) -> None:
    patient = PatientFactory(first_name="Grace", last_name="Hopper", medical_flags=[])

    response = api_client.patch(patient_url(patient.pk), {"medical_flags": ["anticoagulants"]})

    assert response.status_code == 200, response.content
    patient.refresh_from_db()
    assert patient.medical_flags == ["anticoagulants"]
    assert (patient.first_name, patient.last_name) == ("Grace", "Hopper")
    assert (response.json()["needs_medical_review"], response.json()["medical_flags"]) == (True, None)


def test_switching_to_sms_without_a_phone_is_refused_by_the_service(api_client) -> None:
    # The serializer accepts the value; the service checks it against the
    # whole record and finds no number to text.
    patient = PatientFactory(phone="", preferred_channel=ContactChannel.EMAIL)
    before = patient_row(patient)

    response = api_client.patch(patient_url(patient.pk), {"preferred_channel": "sms"})

    assert_validation_error(response, "phone")
    assert patient_row(patient) == before


def test_patients_cannot_be_deleted(api_client) -> None:
    patient = PatientFactory()

    response = api_client.delete(patient_url(patient.pk))

    assert_client_error(response, 405, "method_not_allowed")
    assert Patient.objects.filter(pk=patient.pk).exists()


# --- Bad input: a 4xx naming the field, never a 500, nothing half-written ------

TOMORROW = "tomorrow"  # resolved at run time: the date must be in the future when the test runs

BAD_PATIENT_FIELDS = [
    pytest.param({"date_of_birth": 123}, "date_of_birth", id="birth-date-as-a-number"),
    pytest.param({"date_of_birth": TOMORROW}, "date_of_birth", id="birth-date-in-the-future"),
    pytest.param({"date_of_birth": "1850-01-01"}, "date_of_birth", id="birth-date-implausibly-old"),
    pytest.param({"medical_flags": "x"}, "medical_flags", id="medical-flags-as-a-string"),
    pytest.param({"medical_flags": ["x"]}, "medical_flags.0", id="unknown-medical-flag"),
    pytest.param({"medical_flags": ["pregnancy", "pregnancy"]}, "medical_flags", id="medical-flag-twice"),
    pytest.param({"skin_type": "seven"}, "skin_type", id="skin-type-as-a-word"),
    pytest.param({"skin_type": 7}, "skin_type", id="skin-type-out-of-range"),
    pytest.param({"preferred_channel": "fax"}, "preferred_channel", id="unknown-channel"),
    pytest.param({"phone_number": "+447911123456"}, "phone_number", id="unknown-field"),
    pytest.param({"id": str(uuid.uuid4())}, "id", id="read-only-id"),
    pytest.param({"created_at": "2026-01-01T00:00:00Z"}, "created_at", id="read-only-created-at"),
    pytest.param({"first_name": "A" * 10_000}, "first_name", id="first-name-10000-characters"),
    pytest.param({"first_name": {"given": "Amelia"}}, "first_name", id="first-name-as-an-object"),
    pytest.param({"first_name": None}, "first_name", id="first-name-null"),
    pytest.param({"first_name": "Amelia\nJane"}, "first_name", id="first-name-with-a-line-break"),
    pytest.param({"last_name": "Hart\r\nBcc: x@example.com"}, "last_name", id="last-name-with-a-header-injection"),
    pytest.param({"last_name": "Hart\tSmith"}, "last_name", id="last-name-with-a-tab"),
    pytest.param({"first_name": "Amelia\u2028Jane"}, "first_name", id="first-name-with-a-line-separator"),
    pytest.param({"phone": "12345"}, "phone", id="phone-too-short-even-as-a-national-number"),
    pytest.param({"phone": "+4412"}, "phone", id="phone-too-short"),
    pytest.param({"email": "not-an-email"}, "email", id="email-malformed"),
    pytest.param({"preferred_channel": "sms", "phone": ""}, "phone", id="sms-without-phone"),
    pytest.param({"time_zone": "Mars/Olympus"}, "time_zone", id="unknown-time-zone"),
    pytest.param({"time_zone": "Europe/"}, "time_zone", id="time-zone-that-is-a-directory"),
    pytest.param({"time_zone": "zone.tab"}, "time_zone", id="time-zone-that-is-not-a-zone-file"),
]


def resolve(fields: dict[str, Any]) -> dict[str, Any]:
    if fields.get("date_of_birth") == TOMORROW:
        return {**fields, "date_of_birth": (timezone.localdate() + timedelta(days=1)).isoformat()}
    return fields


@pytest.mark.parametrize(("fields", "attr"), BAD_PATIENT_FIELDS)
def test_a_bad_field_on_create_is_a_400_naming_it_and_creates_nothing(api_client, fields, attr) -> None:
    PatientFactory()

    response = api_client.post(PATIENTS_URL, new_patient_body(**resolve(fields)))

    assert_validation_error(response, attr)
    assert Patient.objects.count() == 1


@pytest.mark.parametrize(("fields", "attr"), BAD_PATIENT_FIELDS)
def test_a_bad_field_on_update_is_a_400_naming_it_and_changes_nothing(api_client, fields, attr) -> None:
    patient = PatientFactory(first_name="Grace", medical_flags=[MedicalFlag.ANTICOAGULANTS])
    before = patient_row(patient)

    response = api_client.patch(patient_url(patient.pk), {"last_name": "Changed", **resolve(fields)})

    assert_validation_error(response, attr)
    assert patient_row(patient) == before


def test_malformed_json_is_a_400_parse_error_and_creates_nothing(api_client) -> None:
    response = api_client.post(PATIENTS_URL, '{"first_name": "Amelia",', content_type="application/json")

    assert_client_error(response, 400, "parse_error")
    assert not Patient.objects.exists()


def test_json_nested_too_deeply_to_parse_is_a_400_not_a_crash(api_client) -> None:
    response = api_client.post(PATIENTS_URL, "[" * 100_000, content_type="application/json")

    assert_client_error(response, 400, "parse_error")
    assert not Patient.objects.exists()


def test_a_json_list_instead_of_an_object_is_refused(api_client) -> None:
    patient = PatientFactory()
    before = patient_row(patient)

    create = api_client.post(PATIENTS_URL, json.dumps([new_patient_body()]), content_type="application/json")
    update = api_client.patch(
        patient_url(patient.pk), json.dumps([{"first_name": "X"}]), content_type="application/json"
    )

    assert_validation_error(create, "non_field_errors")
    assert_validation_error(update, "non_field_errors")
    assert Patient.objects.count() == 1
    assert patient_row(patient) == before


def test_a_form_body_instead_of_json_is_refused_as_unsupported(api_client) -> None:
    response = api_client.post(PATIENTS_URL, new_patient_body(), format="multipart")

    assert_client_error(response, 415, "unsupported_media_type")
    assert not Patient.objects.exists()


# --- Consents -----------------------------------------------------------------


def test_recording_a_consent_returns_201_and_it_is_listed(api_client, staff_user) -> None:
    patient = PatientFactory()

    response = api_client.post(
        consents_url(patient.pk), {"kind": "treatment", "scope": "facial-mesotherapy", "version": "2026-02"}
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {
        "id",
        "kind",
        "scope",
        "version",
        "given_at",
        "revoked_at",
        "is_active",
        "recorded_by",
        "updated_at",
    }
    assert (body["kind"], body["version"], body["is_active"], body["revoked_at"]) == (
        "treatment",
        "2026-02",
        True,
        None,
    )
    assert body["recorded_by"] == staff_user.username
    consent = Consent.objects.get()
    assert parse_api_datetime(body["given_at"]) == consent.given_at

    listed = api_client.get(consents_url(patient.pk))
    assert listed.status_code == 200
    assert [c["id"] for c in listed.json()] == [str(consent.pk)]


def test_a_second_consent_of_the_same_kind_revokes_the_first(api_client) -> None:
    patient = PatientFactory()
    old = ConsentFactory(patient=patient, kind=ConsentKind.MARKETING, given_at=timezone.now() - timedelta(days=30))
    other_kind = ConsentFactory(patient=patient, kind=ConsentKind.TREATMENT)
    given_at = (timezone.now() - timedelta(hours=1)).replace(microsecond=0)

    response = api_client.post(
        consents_url(patient.pk), {"kind": "marketing", "version": "2026-03", "given_at": given_at.isoformat()}
    )

    assert response.status_code == 201, response.content
    old.refresh_from_db()
    other_kind.refresh_from_db()
    assert old.revoked_at == given_at
    assert other_kind.revoked_at is None
    listed = {c["id"]: c for c in api_client.get(consents_url(patient.pk)).json()}
    assert listed[str(old.pk)]["is_active"] is False
    assert parse_api_datetime(listed[str(old.pk)]["revoked_at"]) == given_at
    assert listed[response.json()["id"]]["is_active"] is True
    assert Consent.objects.filter(patient=patient, kind=ConsentKind.MARKETING, revoked_at__isnull=True).count() == 1


def test_a_consent_older_than_the_one_in_force_is_refused(api_client) -> None:
    patient = PatientFactory()
    current = ConsentFactory(patient=patient, kind=ConsentKind.TREATMENT, given_at=timezone.now() - timedelta(days=1))
    older = (timezone.now() - timedelta(days=10)).isoformat()

    response = api_client.post(
        consents_url(patient.pk),
        {"kind": "treatment", "scope": "facial-mesotherapy", "version": "old", "given_at": older},
    )

    assert_validation_error(response, "given_at")
    current.refresh_from_db()
    assert current.revoked_at is None
    assert Consent.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "attr"),
    [
        pytest.param({"kind": "telepathy", "version": "1"}, "kind", id="unknown-kind"),
        pytest.param({"kind": "treatment"}, "version", id="missing-version"),
        pytest.param({"kind": "treatment", "version": "1", "given_at": "soon"}, "given_at", id="given-at-not-a-time"),
        pytest.param(
            {"kind": "treatment", "scope": "facial-mesotherapy", "version": "1", "given_at": "2999-01-01T00:00:00Z"},
            "given_at",
            id="future",
        ),
        pytest.param({"kind": "treatment", "version": "1", "revoked_at": None}, "revoked_at", id="unknown-field"),
    ],
)
def test_a_bad_consent_is_a_400_naming_the_field_and_records_nothing(api_client, body, attr) -> None:
    patient = PatientFactory()
    before = patient_row(patient)

    response = api_client.post(consents_url(patient.pk), body)

    assert_validation_error(response, attr)
    assert not Consent.objects.exists()
    assert patient_row(patient) == before


def test_consents_of_an_unknown_patient_are_a_json_404(api_client) -> None:
    assert_client_error(api_client.get(consents_url(uuid.uuid4())), 404, "not_found")
    assert_client_error(
        api_client.post(consents_url(uuid.uuid4()), {"kind": "treatment", "version": "1"}), 404, "not_found"
    )
    assert not Consent.objects.exists()


def test_revoking_a_consent_ends_it_and_a_second_revoke_is_refused(api_client) -> None:
    consent = ConsentFactory(kind=ConsentKind.SERVICE_MESSAGES)

    first = api_client.post(revoke_url(consent.patient_id, consent.pk), {})

    assert first.status_code == 200, first.content
    assert first.json()["is_active"] is False
    consent.refresh_from_db()
    first_revoked_at = consent.revoked_at
    assert first_revoked_at is not None
    assert parse_api_datetime(first.json()["revoked_at"]) == first_revoked_at

    second = api_client.post(revoke_url(consent.patient_id, consent.pk), {})

    assert_validation_error(second, "revoked_at")
    assert second.json()["errors"][0]["code"] == "already_revoked"
    consent.refresh_from_db()
    assert consent.revoked_at == first_revoked_at


def test_a_consent_cannot_be_revoked_before_it_was_given(api_client) -> None:
    consent = ConsentFactory(given_at=timezone.now() - timedelta(days=1))
    too_early = (consent.given_at - timedelta(days=1)).isoformat()

    response = api_client.post(revoke_url(consent.patient_id, consent.pk), {"revoked_at": too_early})

    assert_validation_error(response, "revoked_at")
    consent.refresh_from_db()
    assert consent.revoked_at is None


def test_a_consent_cannot_be_revoked_through_another_patient(api_client) -> None:
    consent = ConsentFactory()
    stranger = PatientFactory()

    response = api_client.post(revoke_url(stranger.pk, consent.pk), {})

    assert_client_error(response, 404, "not_found")
    consent.refresh_from_db()
    assert consent.revoked_at is None


def test_a_consent_cannot_be_revoked_in_the_future(api_client) -> None:
    consent = ConsentFactory()
    tomorrow = (timezone.now() + timedelta(days=1)).isoformat()

    response = api_client.post(revoke_url(consent.patient_id, consent.pk), {"revoked_at": tomorrow})

    assert_validation_error(response, "revoked_at")
    consent.refresh_from_db()
    assert consent.revoked_at is None


def test_revoking_needs_the_change_permission_not_just_add() -> None:
    consent = ConsentFactory()
    recorder = UserFactory(
        username="recorder", permissions=["patients.view_patient", "patients.view_consent", "patients.add_consent"]
    )
    client = APIClient()
    client.force_login(recorder)

    response = client.post(revoke_url(consent.patient_id, consent.pk), {})

    assert response.status_code == 403
    assert response.json()["type"] == "client_error"
    consent.refresh_from_db()
    assert consent.revoked_at is None
    # The same user may still record a consent.
    assert client.post(consents_url(consent.patient_id), {"kind": "marketing", "version": "v1"}).status_code == 201


def patient_search_queryset(term: str) -> Any:
    from patients.selectors import patient_list, patient_search

    return patient_search(patient_list(), words=term.split(), term=term)
