"""Every time a person reads is on the local clock, in one format.

Stored times are UTC; London is an hour ahead of UTC from the end of March
to the end of October. A session at 10:00 in June reads 10:00 everywhere a
person sees it (object names in the admin, the recall list, the "slot
already taken" refusal, the worklist), never 09:00 UTC. Staff pages use one
day-first format: "Tue 2 Jun 2026 10:00".
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import formats, translation

from aftercare.models import MessageKind, MessageStatus, ScheduledMessage
from aftercare.rendering import message_context
from clinic.errors import SlotTaken
from clinic.models import Heartbeat
from clinic.roles import PRACTITIONER
from integrations.models import WebhookAttempt
from tests.factories import (
    CourseFactory,
    LocationFactory,
    PatientFactory,
    ProductLotFactory,
    RoomFactory,
    ScheduledMessageFactory,
    SessionFactory,
)
from tests.treatments.conftest import LONDON, in_role
from treatments import services
from treatments.models import SessionProductUse, SessionStatus

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")
# Tuesday 2 June 2026, 10:00 in London (BST) is 09:00 UTC.
JUNE_10AM_LONDON = datetime(2026, 6, 2, 10, 0, tzinfo=LONDON)


@pytest.fixture
def clinic_admin(client, admin_user):
    client.force_login(admin_user)
    return client


# --- one format on staff pages --------------------------------------------------------


def test_staff_pages_show_times_day_first_on_the_24_hour_clock() -> None:
    with translation.override("en-gb"):
        assert formats.date_format(JUNE_10AM_LONDON, "DATETIME_FORMAT") == "Tue 2 Jun 2026 10:00"
        assert formats.date_format(JUNE_10AM_LONDON.date(), "DATE_FORMAT") == "Tue 2 Jun 2026"
        assert formats.date_format(JUNE_10AM_LONDON.date(), "SHORT_DATE_FORMAT") == "02/06/2026"
        assert formats.time_format(JUNE_10AM_LONDON.time(), "TIME_FORMAT") == "10:00"
    assert translation.get_language() == "en-gb", "staff pages speak British English"


def test_the_admin_lists_session_times_in_the_clinic_format_and_zone(clinic_admin) -> None:
    SessionFactory(starts_at=JUNE_10AM_LONDON, ends_at=JUNE_10AM_LONDON + timedelta(minutes=45))

    page = clinic_admin.get(reverse("admin:treatments_session_changelist")).content.decode()

    assert "Tue 2 Jun 2026 10:00" in page


def test_the_admin_date_picker_writes_and_reads_day_first_dates_and_starts_weeks_on_monday(clinic_admin) -> None:
    catalog = clinic_admin.get(reverse("admin:jsi18n")).content.decode()

    # DateTimeShortcuts.js writes and parses the first input format; calendar.js starts weeks on FIRST_DAY_OF_WEEK.
    assert re.search(r'"DATE_INPUT_FORMATS": \[\s*"%d/%m/%Y"', catalog), catalog
    assert re.search(r'"FIRST_DAY_OF_WEEK": 1\b', catalog)


# --- object names ---------------------------------------------------------------------


def test_a_sessions_name_gives_its_start_at_its_location(course) -> None:
    session = SessionFactory(
        course=course, starts_at=JUNE_10AM_LONDON, ends_at=JUNE_10AM_LONDON + timedelta(minutes=45)
    )

    assert str(session) == f"{course.patient} — Tue 2 Jun 2026 10:00 (Booked)"

    # A location in another zone reads its own clock.
    new_york = LocationFactory(time_zone="America/New_York")
    elsewhere = SessionFactory(
        course=CourseFactory(location=new_york),
        starts_at=datetime(2026, 6, 2, 10, 0, tzinfo=NEW_YORK),
        ends_at=datetime(2026, 6, 2, 10, 45, tzinfo=NEW_YORK),
    )
    assert "Tue 2 Jun 2026 10:00" in str(elsewhere)


def test_a_messages_name_gives_its_due_time_on_the_patients_clock() -> None:
    due = datetime(2026, 6, 2, 9, 0, tzinfo=UTC)
    in_london = ScheduledMessage(
        kind=MessageKind.AFTERCARE, status=MessageStatus.PENDING, due_at=due, patient=PatientFactory()
    )
    in_new_york = ScheduledMessage(
        kind=MessageKind.AFTERCARE,
        status=MessageStatus.PENDING,
        due_at=due,
        patient=PatientFactory(time_zone="America/New_York"),
    )

    assert " at Tue 2 Jun 2026 10:00 (pending)" in str(in_london)
    assert " at Tue 2 Jun 2026 05:00 (pending)" in str(in_new_york)


def test_heartbeats_and_webhook_attempts_are_named_on_the_clinics_clock() -> None:
    seen = datetime(2026, 6, 2, 9, 0, 5, tzinfo=UTC)

    assert str(Heartbeat(name="worker", last_seen_at=seen)) == "worker @ Tue 2 Jun 2026 10:00"
    assert str(WebhookAttempt(attempted_at=seen, status_code=200)) == "Tue 2 Jun 2026 10:00 200"


def test_a_lots_name_gives_its_expiry_in_the_clinic_format() -> None:
    lot = ProductLotFactory(lot_number="HA-2291", expires_on=date(2026, 3, 31))

    assert str(lot).endswith("lot HA-2291 (exp. Tue 31 Mar 2026)")


# --- pages and refusals -------------------------------------------------------------------


def test_the_recall_list_gives_each_session_at_its_local_time(clinic_admin, course) -> None:
    lot = ProductLotFactory(lot_number="HA-2291")
    session = SessionFactory(
        course=course,
        starts_at=JUNE_10AM_LONDON,
        ends_at=JUNE_10AM_LONDON + timedelta(minutes=45),
        status=SessionStatus.COMPLETED,
        completed_at=JUNE_10AM_LONDON + timedelta(minutes=45),
    )
    SessionProductUse.objects.create(session=session, lot=lot, quantity=Decimal("1.00"))

    page = clinic_admin.get(reverse("admin:treatments_productlot_change", args=[lot.pk])).content.decode()

    assert "Received by (recall list)" in page
    assert f"{course.patient} — Tue 2 Jun 2026 10:00 (Completed)" in page
    assert "2026-06-02 09:00" not in page


def test_the_complete_page_names_the_session_at_its_local_time(client, course) -> None:
    session = SessionFactory(
        course=course, starts_at=JUNE_10AM_LONDON, ends_at=JUNE_10AM_LONDON + timedelta(minutes=45)
    )
    client.force_login(in_role(session.practitioner.user, PRACTITIONER))  # the one who completes it

    page = client.get(reverse("admin:treatments_session_complete", args=[session.pk]))

    assert page.context["title"] == f"Complete session: {course.patient}, Tue 2 Jun 2026 10:00"


def test_a_taken_slot_is_refused_in_the_locations_local_time(clock, course, practitioner, room) -> None:
    taken = services.session_book(
        course=course, practitioner=practitioner, room=room, starts_at=JUNE_10AM_LONDON, actor=None
    )

    with pytest.raises(SlotTaken) as refusal:
        services.session_book(
            course=CourseFactory(location=course.location),
            practitioner=practitioner,
            room=RoomFactory(location=course.location),
            starts_at=JUNE_10AM_LONDON + timedelta(minutes=15),
            actor=None,
        )

    assert refusal.value.message == "Dr Evans already has a session from Tue 2 Jun 2026 10:00 to 10:45."
    assert refusal.value.clashing_session_id == str(taken.pk)


def test_the_worklist_page_shows_windows_and_last_contact_in_the_clinic_format(
    clinic_admin, clock, course, practitioner, room
) -> None:
    clock.move_to(datetime(2026, 5, 19, 9, 0, tzinfo=LONDON))
    session = services.session_book(
        course=course,
        practitioner=practitioner,
        room=room,
        starts_at=datetime(2026, 5, 19, 10, 0, tzinfo=LONDON),
        actor=None,
    )
    clock.move_to(session.ends_at)
    services.session_complete(session=session, actor=practitioner.user)
    ScheduledMessageFactory(
        patient=course.patient, status=MessageStatus.SENT, sent_at=JUNE_10AM_LONDON + timedelta(minutes=5)
    )
    clock.move_to(datetime(2026, 6, 3, 9, 0, tzinfo=LONDON))

    page = clinic_admin.get(reverse("frontdesk:worklist")).content.decode()

    # The window: 14 to 28 days after Tue 19 May.
    assert "Tue 2 Jun 2026 – Tue 16 Jun 2026" in page
    assert "window open until Tue 16 Jun 2026" in page
    assert "Tue 2 Jun 2026 10:05" in page  # the last message reached the patient at 10:05 London time


# --- messages (already in the patient's zone; kept so) ---------------------------------------


def test_message_texts_give_the_session_on_the_patients_clock(course) -> None:
    session = SessionFactory(
        course=course, starts_at=JUNE_10AM_LONDON, ends_at=JUNE_10AM_LONDON + timedelta(minutes=45)
    )

    context = message_context(patient=course.patient, course=course, session=session)

    assert context["session_date"] == "Tuesday 2 June 2026 at 10:00"
