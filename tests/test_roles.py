"""Each role sees and changes only what it needs: every endpoint, every page that shows a clinical field,
every role.

Roles are the Django groups synced from clinic.roles (clinic admin, clinical
admin, front desk, practitioner) and API keys by scope (read, book, manage).
Clinical fields (medical flags and notes, session notes and treated areas,
the reasons for overrides and clearances, side-effect notes, and the
red-flag alert that quotes a report) are for the practitioners who treat the
patient and for clinical admins: nobody else reads them, through the API,
the admin, its history pages or an export.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from rest_framework.test import APIClient

from aftercare.inbox import inbound_sms_receive
from aftercare.models import MessageKind, ScheduledMessage
from aftercare.side_effects import side_effect_report_create
from clinic.roles import CLINIC_ADMIN, CLINICAL_ADMIN, FRONT_DESK, PRACTITIONER
from integrations.services import api_key_create
from patients import services as patient_services
from tests.factories import (
    CourseFactory,
    LocationFactory,
    PatientFactory,
    PractitionerFactory,
    ProductLotFactory,
    RoomFactory,
    UserFactory,
)
from tests.treatments.conftest import LONDON
from tests.treatments.conftest import clock as clock  # the fixture, shared
from treatments import services

pytestmark = pytest.mark.django_db

STAFF = ["clinic_admin", "clinical_admin", "front_desk", "practitioner", "other_practitioner"]
KEYS = ["key_read", "key_book", "key_manage"]
ROLES = [*STAFF, *KEYS, "anonymous"]
# Who reads the clinical record of the scene's patient: the one who treats them, and clinical admins.
CLINICAL_READERS = {"clinical_admin", "practitioner"}

NOTES = "Warfarin 5 mg daily"
SESSION_NOTES = "Mild erythema, 2 ml cheeks."
OVERRIDE_REASON = "INR checked this morning"
REPORT_NOTES = "Rash on the left cheek, spreading"


@pytest.fixture
def scene(clock):  # type: ignore[no-untyped-def]
    """A patient on anticoagulants, treated by practitioner A: one session completed (with notes, after A's
    override), one booked after A's clearance, a red-flag report with A's notes, and its alert."""
    location = LocationFactory()
    room = RoomFactory(location=location)
    users = {name: UserFactory(username=f"role-{name}") for name in STAFF}
    for name, group in (
        ("clinic_admin", CLINIC_ADMIN),
        ("clinical_admin", CLINICAL_ADMIN),
        ("front_desk", FRONT_DESK),
        ("practitioner", PRACTITIONER),
        ("other_practitioner", PRACTITIONER),
    ):
        users[name].groups.add(Group.objects.get(name=group))
    users = {name: type(user).objects.get(pk=user.pk) for name, user in users.items()}
    mine = PractitionerFactory(user=users["practitioner"], locations=[location])
    PractitionerFactory(user=users["other_practitioner"], locations=[location])
    patient = PatientFactory(medical_flags=["anticoagulants"], medical_notes=f"{NOTES}.")
    course = CourseFactory(patient=patient, location=location)
    done = services.session_book(
        course=course,
        practitioner=mine,
        room=room,
        starts_at=datetime(2026, 3, 3, 10, tzinfo=LONDON),
        actor=mine.user,
        overrides=[services.Override(rule="medical_review", reason=OVERRIDE_REASON)],
    )
    clock.move_to(done.ends_at)
    done = services.session_complete(session=done, actor=mine.user, notes=SESSION_NOTES, treated_areas=["cheeks"])
    services.medical_clearance_record(
        patient=patient, course=course, reason="Reviewed for the course.", actor=mine.user
    )
    booked = services.session_book(
        course=course, practitioner=mine, room=room, starts_at=datetime(2026, 3, 18, 10, tzinfo=LONDON), actor=None
    )
    patient_services.patient_update(patient=patient, actor=mine.user, data={"medical_notes": f"{NOTES}; INR 2.5."})
    report = side_effect_report_create(
        patient=patient,
        session=done,
        symptoms=["rash"],
        severity="moderate",
        onset_on=date(2026, 3, 3),
        notes=REPORT_NOTES,
        actor=mine.user,
    )
    keys = {
        "key_read": api_key_create(name="Reader", scopes=["read"], actor=None)[1],
        "key_book": api_key_create(name="Booker", scopes=["book"], actor=None)[1],
        "key_manage": api_key_create(name="Manager", scopes=["manage"], actor=None)[1],
    }
    # The patient texts to ask to move the booked session: it waits in the front desk's inbox.
    text = inbound_sms_receive(from_number=str(patient.phone), body="R", provider_message_id="SM-role-scene")
    return {
        "users": users,
        "keys": keys,
        "text": text,
        "location": location,
        "room": room,
        "practitioner": mine,
        "patient": patient,
        "course": course,
        "done": done,
        "booked": booked,
        "report": report,
        "alert": ScheduledMessage.objects.get(kind=MessageKind.RED_FLAG_ALERT, dedupe_key__endswith=":practitioner"),
        "lot": ProductLotFactory(),
    }


def client_as(role: str, scene: dict[str, Any]) -> APIClient:
    client = APIClient()
    if role in scene["users"]:
        client.force_login(scene["users"][role])
    elif role in scene["keys"]:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {scene['keys'][role]}")
    return client


# --- reads ---------------------------------------------------------------------------------

READS = {
    "patients": lambda s: "/api/v1/patients/",
    "patient": lambda s: f"/api/v1/patients/{s['patient'].pk}/",
    "consents": lambda s: f"/api/v1/patients/{s['patient'].pk}/consents/",
    "export": lambda s: f"/api/v1/patients/{s['patient'].pk}/export/",
    "locations": lambda s: "/api/v1/locations/",
    "rooms": lambda s: "/api/v1/rooms/",
    "practitioners": lambda s: "/api/v1/practitioners/",
    "protocols": lambda s: "/api/v1/protocols/",
    "courses": lambda s: "/api/v1/courses/",
    "sessions": lambda s: "/api/v1/sessions/",
    "session": lambda s: f"/api/v1/sessions/{s['done'].pk}/",
    "medical_clearances": lambda s: "/api/v1/medical-clearances/",
    "worklist": lambda s: "/api/v1/worklist/",
    "products": lambda s: "/api/v1/products/",
    "lots": lambda s: "/api/v1/lots/",
    "lot_recipients": lambda s: f"/api/v1/lots/{s['lot'].pk}/recipients/",
    "messages": lambda s: "/api/v1/messages/",
    "side_effect_reports": lambda s: "/api/v1/side-effect-reports/",
    "inbox": lambda s: "/api/v1/inbox/?handled=false",
    "inbox_message": lambda s: f"/api/v1/inbox/{s['text'].pk}/",
}
NO = 403
# Who may not read what; every other role reads it (clinical fields are the next tests' subject).
READ_DENIED = {
    "anonymous": set(READS),
    "key_read": {"export", "medical_clearances"},
    "key_book": {"export", "medical_clearances"},
    "key_manage": {"medical_clearances"},
    "front_desk": {"export"},
    "practitioner": {"export"},
    "other_practitioner": {"export"},
    "clinical_admin": {"export"},
    "clinic_admin": set(),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", sorted(READS))
def test_reads_by_role(scene, role: str, endpoint: str) -> None:
    response = client_as(role, scene).get(READS[endpoint](scene))
    # No credentials: 401, asking for them; credentials without the right: 403.
    expected = (401 if role == "anonymous" else NO) if endpoint in READ_DENIED[role] else 200
    assert response.status_code == expected, response.content


# --- writes --------------------------------------------------------------------------------


def book_body(scene: dict[str, Any], **extra: Any) -> dict[str, Any]:
    other_course = CourseFactory(location=scene["location"])
    return {
        "course": str(other_course.pk),
        "practitioner": str(scene["practitioner"].pk),
        "room": str(scene["room"].pk),
        "starts_at": datetime(2026, 3, 5, 12, tzinfo=LONDON).isoformat(),
        **extra,
    }


WRITES = {
    "create_patient": (
        lambda s: "/api/v1/patients/",
        lambda s: {"first_name": "N", "last_name": "P", "email": "n@example.com", "date_of_birth": "1990-01-01"},
        201,
    ),
    "book_session": (lambda s: "/api/v1/sessions/", book_body, 201),
    "override_a_rule": (
        lambda s: "/api/v1/sessions/",
        lambda s: book_body(s, overrides=[{"rule": "spacing", "reason": "Agreed with the patient."}]),
        201,
    ),
    "cancel_session": (lambda s: f"/api/v1/sessions/{s['booked'].pk}/cancel/", lambda s: {"reason": "other"}, 200),
    "complete_session": (lambda s: f"/api/v1/sessions/{s['booked'].pk}/complete/", lambda s: {"notes": "x"}, 400),
    "report_side_effect": (
        lambda s: "/api/v1/side-effect-reports/",
        lambda s: {
            "patient": str(s["patient"].pk),
            "symptoms": ["redness"],
            "severity": "mild",
            "onset_on": "2026-03-03",
        },
        201,
    ),
    "report_with_notes": (
        lambda s: "/api/v1/side-effect-reports/",
        lambda s: {
            "patient": str(s["patient"].pk),
            "symptoms": ["redness"],
            "severity": "mild",
            "onset_on": "2026-03-03",
            "notes": "Settling.",
        },
        201,
    ),
    "resolve_report": (
        lambda s: f"/api/v1/side-effect-reports/{s['report'].pk}/resolve/",
        lambda s: {"resolution_note": "Called; settling."},
        200,
    ),
    "add_medical_flag": (
        lambda s: f"/api/v1/patients/{s['patient'].pk}/medical-flags/",
        lambda s: {"flag": "pregnancy"},
        200,
    ),
    "remove_medical_flag": (
        lambda s: f"/api/v1/patients/{s['patient'].pk}/medical-flags/remove/",
        lambda s: {"flag": "anticoagulants", "reason": "Stopped warfarin in February (GP letter)."},
        200,
    ),
    "record_clearance": (
        lambda s: "/api/v1/medical-clearances/",
        lambda s: {"patient": str(s["patient"].pk), "valid_until": "2026-12-31", "reason": "Reviewed."},
        201,
    ),
    "decide_ahead_on_course": (
        lambda s: f"/api/v1/courses/{s['course'].pk}/overrides/",
        lambda s: {"rule": "spacing", "reason": "Wedding; agreed 10 days."},
        201,
    ),
    "handle_inbox_message": (
        lambda s: f"/api/v1/inbox/{s['text'].pk}/handle/",
        lambda s: {"note": "Called: moved to Friday."},
        200,
    ),
    "add_lot": (
        lambda s: "/api/v1/lots/",
        lambda s: {"product": str(s["lot"].product_id), "lot_number": "NEW-1", "expires_on": "2027-01-01"},
        201,
    ),
}
# (Completing a session that has not started is a 400 for those allowed: the
# permission checks come first, so anything but 403 proves they got past them.)
FRONT_DESK_WRITES = {
    "create_patient",
    "book_session",
    "cancel_session",
    "report_side_effect",
    "add_medical_flag",
    "handle_inbox_message",
}
# Every role marks a text in the inbox handled: the desk answers most, those who treat read the clinical ones.
INBOX_WRITES = {"handle_inbox_message"}
WRITE_ALLOWED = {
    "clinic_admin": {*FRONT_DESK_WRITES, "add_lot"},
    "clinical_admin": {
        "report_side_effect",
        "report_with_notes",
        "add_medical_flag",
        "remove_medical_flag",
        *INBOX_WRITES,
    },
    "front_desk": FRONT_DESK_WRITES,
    # The scene's practitioner books their own sessions (with their own overrides) and treats the patient.
    "practitioner": {
        "book_session",
        "override_a_rule",
        "cancel_session",
        "complete_session",
        "report_side_effect",
        "report_with_notes",
        "resolve_report",
        "add_medical_flag",
        "remove_medical_flag",
        "record_clearance",
        "decide_ahead_on_course",
        "add_lot",
        *INBOX_WRITES,
    },
    # A colleague: not the sessions' practitioner, not treating the patient.
    "other_practitioner": {"report_side_effect", "add_medical_flag", "add_lot", *INBOX_WRITES},
    "key_read": set(),
    "key_book": FRONT_DESK_WRITES,
    "key_manage": FRONT_DESK_WRITES | {"add_lot"},
    "anonymous": set(),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("operation", sorted(WRITES))
def test_writes_by_role(scene, role: str, operation: str) -> None:
    url, body, success = WRITES[operation]
    response = client_as(role, scene).post(url(scene), body(scene), format="json")
    if role == "anonymous":
        assert response.status_code == 401, response.content
    else:
        assert response.status_code == (success if operation in WRITE_ALLOWED[role] else NO), response.content


@pytest.mark.parametrize("role", [*STAFF, *KEYS])
def test_only_the_treating_practitioner_and_clinical_admins_write_medical_notes(scene, role: str) -> None:
    response = client_as(role, scene).patch(
        f"/api/v1/patients/{scene['patient'].pk}/", {"medical_notes": "Rewritten."}, format="json"
    )
    assert response.status_code == (200 if role in CLINICAL_READERS else 403), response.content


# --- every place a clinical field is shown -------------------------------------------------


def api_surfaces(client: APIClient, scene: dict[str, Any]) -> dict[str, Any]:
    """Each clinical field as the API shows it to `client` (None when the endpoint refuses)."""

    def get(url: str) -> Any:
        response = client.get(url)
        return response.json() if response.status_code == 200 else None

    patient = get(f"/api/v1/patients/{scene['patient'].pk}/")
    session = get(f"/api/v1/sessions/{scene['done'].pk}/")
    listed = get(f"/api/v1/sessions/?course={scene['course'].pk}")
    report = get(f"/api/v1/side-effect-reports/{scene['report'].pk}/")
    alert = get(f"/api/v1/messages/{scene['alert'].pk}/")
    clearances = get(f"/api/v1/medical-clearances/?patient={scene['patient'].pk}")
    export = get(f"/api/v1/patients/{scene['patient'].pk}/export/")
    return {
        "patient.medical_flags": patient and patient["medical_flags"],
        "patient.medical_notes": patient and patient["medical_notes"],
        "session.notes": session and session["notes"],
        "session.treated_areas": session and session["treated_areas"],
        "session.override_reason": session and session["overrides"][0]["reason"],
        "sessions.notes": listed and next(s["notes"] for s in listed["results"] if s["id"] == str(scene["done"].pk)),
        "report.notes": report and report["notes"],
        "alert.body": alert and alert["body"],
        "clearance.reason": clearances and clearances["results"][0]["reason"],
        "export": export and (NOTES in str(export) or SESSION_NOTES in str(export)),
    }


@pytest.mark.parametrize("role", [*STAFF, *KEYS])
def test_the_api_shows_clinical_fields_only_to_those_who_may_read_them(scene, role: str) -> None:
    seen = api_surfaces(client_as(role, scene), scene)

    if role in CLINICAL_READERS:
        assert seen["patient.medical_flags"] == ["anticoagulants"]
        assert NOTES in seen["patient.medical_notes"]
        assert seen["session.notes"] == seen["sessions.notes"] == SESSION_NOTES
        assert seen["session.treated_areas"] == ["cheeks"]
        assert seen["session.override_reason"] == OVERRIDE_REASON
        assert seen["report.notes"] == REPORT_NOTES
        assert REPORT_NOTES in seen["alert.body"]
        assert seen["clearance.reason"] == "Reviewed for the course."
    else:
        shown = {surface: value for surface, value in seen.items() if value}
        assert shown == {}, f"{role} reads clinical fields: {shown}"
    # The rest stays visible to those who may read the resource at all.
    if role != "anonymous":
        assert client_as(role, scene).get(f"/api/v1/patients/{scene['patient'].pk}/").json()["needs_medical_review"]


ADMIN_PAGES = {
    "patient": lambda s: f"/admin/patients/patient/{s['patient'].pk}/change/",
    "patient_history": lambda s: f"/admin/patients/patient/{s['patient'].pk}/history/",
    "patient_past_version": lambda s: (
        f"/admin/patients/patient/{s['patient'].pk}/history/{s['patient'].history.earliest().history_id}/"
    ),
    "patient_list": lambda s: "/admin/patients/patient/",
    "session": lambda s: f"/admin/treatments/session/{s['done'].pk}/change/",
    "session_history": lambda s: f"/admin/treatments/session/{s['done'].pk}/history/",
    "report": lambda s: f"/admin/aftercare/sideeffectreport/{s['report'].pk}/change/",
    "report_list": lambda s: "/admin/aftercare/sideeffectreport/",
    "alert": lambda s: f"/admin/aftercare/scheduledmessage/{s['alert'].pk}/change/",
    "clearance": lambda s: f"/admin/treatments/medicalclearance/{s['patient'].medical_clearances.get().pk}/change/",
    "clearance_list": lambda s: "/admin/treatments/medicalclearance/",
    "inbox_message": lambda s: f"/admin/aftercare/inboundmessage/{s['text'].pk}/change/",
    "inbox_list": lambda s: "/admin/aftercare/inboundmessage/?status=open",
}
# Where the scene's clinical record is on the page, for those who may read it.
SHOWS_CLINICAL = {"patient", "patient_history", "patient_past_version", "session", "session_history", "report", "alert"}
CLINICAL_TEXT = (NOTES, SESSION_NOTES, OVERRIDE_REASON, REPORT_NOTES, "Reviewed for the course")


@pytest.mark.parametrize("role", STAFF)
@pytest.mark.parametrize("page", sorted(ADMIN_PAGES))
def test_admin_pages_show_clinical_fields_only_to_those_who_may_read_them(scene, role: str, page: str) -> None:
    client = Client()
    client.force_login(scene["users"][role])

    response = client.get(ADMIN_PAGES[page](scene))

    if response.status_code == 403:
        assert role not in CLINICAL_READERS or page not in SHOWS_CLINICAL, "a clinical reader is shut out"
        return  # the page is closed to the role: nothing shown
    assert response.status_code == 200, page
    text = response.content.decode()
    shown = [fragment for fragment in CLINICAL_TEXT if fragment in text]
    if role in CLINICAL_READERS:
        assert shown or page not in SHOWS_CLINICAL, f"{role} should read the clinical record on the {page} page"
    else:
        assert shown == [], f"{role} sees {shown} on the {page} page"
        form = response.context.get("adminform")
        if form is not None:
            assert "medical_flags" not in form.form.fields, "the flags on file are not shown, even as checkboxes"


def test_a_past_version_is_never_restored(scene) -> None:
    """The history's Revert re-booked a cancelled session with no rule check."""
    client = Client()
    client.force_login(scene["users"]["clinic_admin"])
    session = scene["booked"]
    services.session_cancel(session=session, reason="other", actor=None)
    booked_version = session.history.earliest()

    response = client.post(
        f"/admin/treatments/session/{session.pk}/history/{booked_version.history_id}/", {"status": "booked"}
    )

    assert response.status_code == 403
    session.refresh_from_db()
    assert session.status == "cancelled"


# --- every endpoint and every admin page, crawled --------------------------------------------
# The tables above name the places a clinical field is meant to be. These crawl every GET the
# API documents and every page the admin registers, so a new endpoint or page that leaks the
# clinical record fails here before anyone has thought to list it.

# The scene object a path parameter stands for, by the path's first segment.
PATH_OBJECTS = {
    "patients": lambda s: s["patient"],
    "sessions": lambda s: s["done"],
    "side-effect-reports": lambda s: s["report"],
    "messages": lambda s: s["alert"],
    "courses": lambda s: s["course"],
    "medical-clearances": lambda s: s["patient"].medical_clearances.get(),
    "lots": lambda s: s["lot"],
    "products": lambda s: s["lot"].product,
    "locations": lambda s: s["location"],
    "rooms": lambda s: s["room"],
    "practitioners": lambda s: s["practitioner"],
    "protocols": lambda s: s["course"].protocol,
    "contact-attempts": lambda s: s["course"].contact_attempts.get(),
    "inbox": lambda s: s["text"],
}
# Paths that need query parameters to answer, with the scene's values.
PATH_QUERIES = {
    "/api/v1/availability/": lambda s: {
        "practitioner": str(s["practitioner"].pk),
        "location": str(s["location"].pk),
        "protocol": str(s["course"].protocol_id),
        "date_from": "2026-03-05",
        "date_to": "2026-03-06",
    },
}


def documented_reads(scene: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    """Every GET path in the generated API schema, filled in with the scene's objects."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    reads = []
    for path, operations in schema["paths"].items():
        if "get" not in operations:
            continue
        segment = path.split("/")[3]
        url = path
        if "{" in path:
            assert segment in PATH_OBJECTS, f"{path}: say which scene object the crawl opens"
            obj = PATH_OBJECTS[segment](scene)
            url = path.replace("{id}", str(obj.pk)).replace("{patient_pk}", str(obj.pk))
            assert "{" not in url, f"{path}: unknown path parameter"
        reads.append((url, PATH_QUERIES.get(path, lambda s: {})(scene)))
    return reads


@pytest.fixture
def crawl_scene(scene):  # type: ignore[no-untyped-def]
    from frontdesk.services import contact_attempt_record

    contact_attempt_record(course=scene["course"], outcome="no_answer", note="", actor=scene["users"]["front_desk"])
    return scene


@pytest.mark.parametrize("role", [*STAFF, *KEYS])
def test_no_documented_endpoint_shows_the_clinical_record_to_those_who_may_not_read_it(crawl_scene, role) -> None:
    client = client_as(role, crawl_scene)
    statuses = {}
    leaks = {}
    for url, query in documented_reads(crawl_scene):
        response = client.get(url, query)
        statuses[url] = response.status_code
        assert response.status_code in (200, 403), (url, response.status_code, response.content[:300])
        shown = [fragment for fragment in CLINICAL_TEXT if fragment in response.content.decode()]
        if shown:
            leaks[url] = shown

    assert len(statuses) >= len(READS), "the crawl reaches at least the endpoints the table names"
    if role in CLINICAL_READERS:
        assert leaks, f"{role} reads the clinical record somewhere"
    else:
        assert leaks == {}, f"{role} reads clinical text: {leaks}"


def admin_pages(scene: dict[str, Any]) -> list[str]:
    """Every registered model's list, and the change and history page of each of its objects in the scene."""
    from django.contrib import admin

    pages = ["/admin/", "/frontdesk/worklist/"]
    for model in admin.site._registry:
        base = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        pages.append(base)
        for pk in model._default_manager.values_list("pk", flat=True)[:20]:
            pages += [f"{base}{pk}/change/", f"{base}{pk}/history/"]
        history = getattr(model, "history", None)
        if history is not None:
            for row in history.all()[:20]:
                pages.append(f"{base}{row.id}/history/{row.history_id}/")
    return pages


@pytest.mark.parametrize("role", STAFF)
def test_no_admin_page_shows_the_clinical_record_to_those_who_may_not_read_it(crawl_scene, role: str) -> None:
    client = Client()
    client.force_login(crawl_scene["users"][role])
    leaks = {}
    opened = 0
    for page in admin_pages(crawl_scene):
        response = client.get(page)
        assert response.status_code in (200, 302, 403, 404), (page, response.status_code)
        if response.status_code != 200:
            continue
        opened += 1
        shown = [fragment for fragment in CLINICAL_TEXT if fragment in response.content.decode()]
        if shown:
            leaks[page] = shown

    assert opened > 10, "the crawl opened the pages the role may use"
    if role in CLINICAL_READERS:
        assert leaks, f"{role} reads the clinical record somewhere in the admin"
    else:
        assert leaks == {}, f"{role} reads clinical text: {leaks}"
