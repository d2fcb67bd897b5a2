"""The front desk's worklist: who must be booked next, by when, most urgent first."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from aftercare.inbox import inbound_sms_receive
from aftercare.models import MessageKind, MessageStatus, ScheduledMessage
from aftercare.side_effects import side_effect_report_create
from clinic.roles import FRONT_DESK
from frontdesk import services as frontdesk_services
from frontdesk.worklist import worklist
from integrations.services import api_key_create
from tests.factories import CourseFactory, PatientFactory, ScheduledMessageFactory, UserFactory
from tests.treatments.conftest import LONDON
from treatments import services

pytestmark = pytest.mark.django_db


def local(day: int, hour: int = 10, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=LONDON)


def on(day: date) -> datetime:
    """Noon on `day` in London, where the test clinic is."""
    return datetime.combine(day, time(12), tzinfo=LONDON)


def completed_session(course, practitioner, room, clock, starts_at):
    clock.move_to(starts_at - timedelta(hours=1))
    session = services.session_book(
        course=course, practitioner=practitioner, room=room, starts_at=starts_at, actor=None
    )
    clock.move_to(session.ends_at)
    return services.session_complete(session=session, actor=session.practitioner.user)


def test_a_course_appears_when_its_window_opens_and_leaves_when_booked(clock, course, practitioner, room) -> None:
    done = completed_session(course, practitioner, room, clock, local(3))

    assert worklist(now=on(date(2026, 3, 16))) == [], "the window opens 14 days after the session"
    [row] = worklist(now=on(date(2026, 3, 17)))
    assert (row.kind, row.course_id, row.sessions_done, row.sessions_planned) == ("next_session", course.pk, 1, 4)
    assert (row.window_start, row.window_end, row.days_overdue) == (date(2026, 3, 17), date(2026, 3, 31), 0)
    assert row.practitioner_id == practitioner.pk

    clock.move_to(local(17, 9))
    services.session_book(
        course=course,
        practitioner=practitioner,
        room=room,
        starts_at=done.completed_at + timedelta(days=15),
        actor=None,
    )
    assert worklist(now=on(date(2026, 3, 17))) == []


def test_rows_are_sorted_red_flag_then_most_overdue_then_soonest_closing(
    clock, location, practitioner, room, protocol
) -> None:
    early = CourseFactory(location=location, patient=PatientFactory(last_name="Early"))
    late = CourseFactory(location=location, patient=PatientFactory(last_name="Late"))
    flagged = CourseFactory(location=location, patient=PatientFactory(last_name="Flagged"))
    completed_session(early, practitioner, room, clock, local(3, 10))
    completed_session(late, practitioner, room, clock, local(10, 10))
    session = completed_session(flagged, practitioner, room, clock, local(12, 10))
    side_effect_report_create(
        patient=flagged.patient,
        session=session,
        symptoms=["pus"],
        severity="moderate",
        onset_on=date(2026, 3, 12),
        actor=None,
    )

    rows = worklist(now=on(date(2026, 4, 10)))

    assert [(row.kind, row.patient_name.split()[-1]) for row in rows] == [
        ("red_flag", "Flagged"),
        ("next_session", "Early"),  # window closed 31 March: 10 days overdue
        ("next_session", "Late"),  # window closed 7 April: 3 days overdue
        ("next_session", "Flagged"),  # window closes 9 April: 1 day overdue
    ]
    assert [row.days_overdue for row in rows[1:]] == [10, 3, 1]


def test_maintenance_due_is_listed_with_its_window(clock, location, practitioner, room, protocol) -> None:
    course = CourseFactory(location=location, planned_sessions=3)
    start = local(3)
    for _ in range(3):
        last = completed_session(course, practitioner, room, clock, start)
        start = last.completed_at + timedelta(days=14)
    course.refresh_from_db()

    assert worklist(now=on(course.next_maintenance_earliest - timedelta(days=1))) == []
    [row] = worklist(now=on(course.next_maintenance_earliest))
    assert row.kind == "maintenance"
    assert (row.window_start, row.window_end) == (course.next_maintenance_earliest, course.next_maintenance_latest)


def test_the_worklist_api_filters_by_kind_location_and_practitioner(clock, course, practitioner, room) -> None:
    completed_session(course, practitioner, room, clock, local(3))
    clock.move_to(local(20))
    client = APIClient()
    client.force_login(UserFactory(username="desk", permissions=["treatments.view_course"]))

    body = client.get("/api/v1/worklist/").json()
    assert body["count"] == 1
    row = body["results"][0]
    assert row["course"] == str(course.pk)
    assert (row["window_start"], row["window_end"], row["days_overdue"]) == ("2026-03-17", "2026-03-31", 0)
    assert client.get("/api/v1/worklist/", {"kind": "red_flag"}).json()["count"] == 0
    assert client.get("/api/v1/worklist/", {"location": str(course.location_id)}).json()["count"] == 1
    other = "00000000-0000-0000-0000-000000000000"
    assert client.get("/api/v1/worklist/", {"practitioner": other}).json()["count"] == 0
    bad = client.get("/api/v1/worklist/", {"kind": "everything"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["attr"] == "kind"


def test_reading_the_worklist_needs_the_course_view_permission(clock) -> None:
    client = APIClient()
    client.force_login(UserFactory(username="nobody"))
    assert client.get("/api/v1/worklist/").status_code == 403


def test_the_worklist_page_links_a_booking_form_prefilled_in_the_window(
    client, admin_user, clock, course, practitioner, room
) -> None:
    completed_session(course, practitioner, room, clock, local(3))
    clock.move_to(local(20, 9))
    client.force_login(admin_user)

    index = client.get(reverse("admin:index"))
    assert reverse("frontdesk:worklist") in index.content.decode()
    page = client.get(reverse("frontdesk:worklist"))
    assert page.status_code == 200
    [entry] = page.context["entries"]
    assert entry["row"].course_id == course.pk

    form = client.get(entry["book_url"], follow=True).context["adminform"].form
    assert str(form.initial["course"]) == str(course.pk)
    # The practitioner's first free slot: the clock reads 09:00 and the clinic opened at 08:00.
    assert form.initial["starts_at"] == local(20, 9)
    assert str(form.initial["practitioner"]) == str(practitioner.pk)
    assert str(form.initial["room"]) == str(room.pk)

    # Saved, the booking returns to the worklist it began on.
    opened = client.get(entry["book_url"])
    add_url = opened["Location"]
    assert "next=%2Ffrontdesk%2Fworklist%2F" in add_url
    saved = client.post(
        add_url,
        {
            "course": str(course.pk),
            "practitioner": str(practitioner.pk),
            "room": str(room.pk),
            "starts_at_0": "2026-03-20",
            "starts_at_1": "09:00",
        },
    )
    assert saved.status_code == 302, saved.context["adminform"].form.errors if saved.context else saved
    assert saved["Location"] == reverse("frontdesk:worklist")


def test_the_worklist_page_costs_the_same_queries_for_one_row_or_five(
    client, admin_user, clock, location, practitioner, room, django_assert_max_num_queries
) -> None:
    starts = [local(3, 9), local(3, 10), local(3, 11), local(3, 12), local(3, 13)]
    completed_session(CourseFactory(location=location), practitioner, room, clock, starts[0])
    clock.move_to(local(20, 9))
    client.force_login(admin_user)
    with CaptureQueriesContext(connection) as one_row:
        assert len(client.get(reverse("frontdesk:worklist")).context["entries"]) == 1
    for start in starts[1:]:
        course = CourseFactory(location=location)
        completed_session(course, practitioner, room, clock, start)
        inbound_sms_receive(from_number=str(course.patient.phone), body="Can I book on a Saturday?")
    clock.move_to(local(20, 9))
    client.force_login(admin_user)

    with django_assert_max_num_queries(len(one_row.captured_queries)):
        entries = client.get(reverse("frontdesk:worklist")).context["entries"]
    assert len(entries) == 5
    assert sum(1 for entry in entries if entry["inbox_url"]) == 4


def test_a_book_link_for_a_course_waiting_for_nothing_is_404(client, admin_user, clock, course) -> None:
    services.course_cancel(course=course, reason="Moved away", actor=None)
    client.force_login(admin_user)
    response = client.get(reverse("frontdesk:worklist-book", args=[course.pk]))
    assert response.status_code == 404


def test_a_book_link_needs_the_permission_to_book(client, clock, course) -> None:
    client.force_login(UserFactory(username="viewer", permissions=["treatments.view_course"]))
    response = client.get(reverse("frontdesk:worklist-book", args=[course.pk]))
    assert response.status_code == 403


def test_last_contact_is_the_last_message_that_reached_the_patient_not_an_alert_to_staff(
    clock, course, practitioner, room
) -> None:
    session = completed_session(course, practitioner, room, clock, local(3))
    texted = ScheduledMessageFactory(
        patient=course.patient, status=MessageStatus.SENT, sent_at=local(4, 11), due_at=local(4, 11)
    )
    clock.move_to(local(5, 9))
    side_effect_report_create(
        patient=course.patient,
        session=session,
        symptoms=["pus"],
        severity="moderate",
        onset_on=date(2026, 3, 5),
        actor=None,
    )
    ScheduledMessage.objects.filter(kind=MessageKind.RED_FLAG_ALERT).update(status=MessageStatus.SENT, sent_at=local(5))

    rows = worklist(now=on(date(2026, 3, 18)))

    assert {row.kind: row.last_contact_at for row in rows} == {
        "red_flag": texted.sent_at,
        "next_session": texted.sent_at,
    }


def test_the_worklist_page_offers_book_links_only_to_those_who_may_book(
    client, clock, course, practitioner, room
) -> None:
    completed_session(course, practitioner, room, clock, local(3))
    clock.move_to(local(20, 9))
    client.force_login(UserFactory(username="dr.look", permissions=["treatments.view_course"]))

    page = client.get(reverse("frontdesk:worklist"))

    [entry] = page.context["entries"]
    assert entry["book_url"] is None
    assert "book-link" not in page.content.decode()


# --- nobody falls off the list ----------------------------------------------------------


def test_a_course_started_and_never_booked_is_listed_as_waiting_for_its_first_session(
    client, admin_user, clock, course
) -> None:
    [row] = worklist(now=on(date(2026, 3, 9)))

    assert (row.kind, row.course_id, row.window_start, row.window_end) == (
        "first_session",
        course.pk,
        date(2026, 3, 2),
        None,
    )
    assert row.reason == "not booked since it was started on Mon 2 Mar 2026"
    client.force_login(admin_user)
    booking_form = client.get(reverse("frontdesk:worklist-book", args=[course.pk]), follow=True)
    assert str(booking_form.context["adminform"].form.initial["course"]) == str(course.pk)


def test_a_course_whose_first_booking_was_cancelled_is_back_saying_why(clock, course, practitioner, room) -> None:
    booked = services.session_book(course=course, practitioner=practitioner, room=room, starts_at=local(3), actor=None)
    assert worklist(now=on(date(2026, 3, 2))) == [], "booked: nothing to do"
    services.session_cancel(session=booked, reason="patient_unwell", actor=None)

    [row] = worklist(now=on(date(2026, 3, 2)))

    assert row.kind == "first_session"
    assert "last booking (Tue 3 Mar 2026 10:00) was cancelled: patient unwell" in row.reason


def test_a_missed_next_session_puts_the_course_back_saying_the_patient_did_not_come(
    clock, course, practitioner, room
) -> None:
    done = completed_session(course, practitioner, room, clock, local(3))
    clock.move_to(local(17, 9))
    missed = services.session_book(
        course=course,
        practitioner=practitioner,
        room=room,
        starts_at=done.completed_at + timedelta(days=15),
        actor=None,
    )
    clock.move_to(missed.starts_at + timedelta(minutes=30))
    services.session_mark_no_show(session=missed, actor=None)

    [row] = worklist(now=on(date(2026, 3, 18)))

    assert (row.kind, row.sessions_done) == ("next_session", 1)
    assert "the patient did not come to the last booking (Wed 18 Mar 2026 10:45)" in row.reason


def test_a_window_closing_in_two_days_comes_before_long_overdue_maintenance(
    clock, location, practitioner, room, protocol
) -> None:
    maintenance = CourseFactory(location=location, planned_sessions=3, patient=PatientFactory(last_name="Kept"))
    start = local(3)
    for _ in range(3):
        start = completed_session(maintenance, practitioner, room, clock, start).completed_at + timedelta(days=14)
    maintenance.refresh_from_db()
    closing = CourseFactory(location=location, patient=PatientFactory(last_name="Closing"))
    now = on(maintenance.next_maintenance_latest + timedelta(days=60))
    completed_session(closing, practitioner, room, clock, now - timedelta(days=26))

    rows = worklist(now=now)

    assert [(row.kind, row.patient_name.split()[-1]) for row in rows] == [
        ("next_session", "Closing"),
        ("maintenance", "Kept"),
    ]
    assert rows[1].reason.startswith("maintenance overdue by 60 days")


# --- contact attempts ------------------------------------------------------------------


def test_a_call_back_date_hides_the_row_until_that_day(clock, course, practitioner, room) -> None:
    completed_session(course, practitioner, room, clock, local(3))
    clock.move_to(local(18, 9))
    desk = UserFactory(username="desk.calls", permissions=["frontdesk.add_contactattempt"])

    frontdesk_services.contact_attempt_record(
        course=course, outcome="call_back", call_back_on=date(2026, 3, 21), note="Back from holiday", actor=desk
    )

    assert worklist(now=on(date(2026, 3, 20))) == []
    [row] = worklist(now=on(date(2026, 3, 21)))
    assert (row.last_attempt.outcome, row.last_attempt.made_by, row.last_attempt.note) == (
        "call_back",
        "desk.calls",
        "Back from holiday",
    )


def test_a_patient_who_declines_ends_the_course_with_the_reason(clock, course, practitioner, room) -> None:
    completed_session(course, practitioner, room, clock, local(3))
    clock.move_to(local(18, 9))

    frontdesk_services.contact_attempt_record(course=course, outcome="declined", note="Moving abroad", actor=None)

    course.refresh_from_db()
    assert (course.status, course.cancel_reason) == (
        "cancelled",
        "The patient declined further sessions when called. Moving abroad",
    )
    assert worklist(now=on(date(2026, 3, 18))) == []


def test_contact_attempts_through_the_api_with_a_booking_key(clock, course, practitioner, room) -> None:
    completed_session(course, practitioner, room, clock, local(3))
    clock.move_to(local(18, 9))
    _, raw_key = api_key_create(name="Call centre", scopes=["book"], actor=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")

    no_date = client.post(
        "/api/v1/contact-attempts/", {"course": str(course.pk), "outcome": "call_back"}, format="json"
    )
    logged = client.post("/api/v1/contact-attempts/", {"course": str(course.pk), "outcome": "no_answer"}, format="json")

    assert no_date.status_code == 400 and no_date.json()["errors"][0]["attr"] == "call_back_on"
    assert logged.status_code == 201, logged.content
    assert logged.json()["made_by"] == "integration:Call centre"
    [row] = client.get("/api/v1/worklist/").json()["results"]
    assert (row["last_attempt"]["outcome"], row["last_attempt"]["made_by"]) == ("no_answer", "integration:Call centre")


def test_the_worklist_page_logs_a_call_and_comes_back(client, clock, course, practitioner, room) -> None:
    completed_session(course, practitioner, room, clock, local(3))
    clock.move_to(local(18, 9))
    desk = UserFactory(
        username="desk.page",
        permissions=["treatments.view_course", "frontdesk.add_contactattempt", "frontdesk.view_contactattempt"],
    )
    client.force_login(desk)
    [entry] = client.get(reverse("frontdesk:worklist")).context["entries"]

    response = client.post(
        entry["log_call_url"], {"course": str(course.pk), "outcome": "left_message", "note": "Voicemail"}
    )

    assert response.status_code == 302 and response["Location"] == reverse("frontdesk:worklist")
    page = client.get(reverse("frontdesk:worklist")).content.decode()
    assert "Called: left a message" in page and "Voicemail" in page


# --- treatment consent ---------------------------------------------------------------------


def test_the_row_and_the_patients_page_say_treatment_consent_is_needed(client, admin_user, clock, location) -> None:
    course = CourseFactory(location=location, consented=False)

    [row] = worklist(now=on(date(2026, 3, 2)))

    assert row.treatment_consent_needed is True
    client.force_login(admin_user)
    page = client.get(reverse("admin:patients_patient_change", args=[course.patient_id])).content.decode()
    assert "Treatment consent needed" in page
    assert "facial-mesotherapy" in page


def waiting_courses(location, count: int) -> list:
    """`count` courses started on different days (each waiting for its first session), oldest first."""
    courses = []
    for n in range(count):
        with time_machine.travel(local(1, 9) - timedelta(days=count - n), tick=False):
            courses.append(CourseFactory(location=location))
    return courses


def test_the_worklist_api_costs_the_same_queries_for_a_page_of_5_or_50(clock, location) -> None:
    waiting_courses(location, 60)
    client = APIClient()
    client.force_login(UserFactory(username="desk", permissions=["treatments.view_course"]))

    with CaptureQueriesContext(connection) as small:
        assert len(client.get("/api/v1/worklist/", {"page_size": 5}).json()["results"]) == 5
    with CaptureQueriesContext(connection) as large:
        assert len(client.get("/api/v1/worklist/", {"page_size": 50}).json()["results"]) == 50

    assert len(large.captured_queries) == len(small.captured_queries)


def test_worklist_pages_follow_each_other_in_urgency_order(clock, location) -> None:
    courses = waiting_courses(location, 12)
    client = APIClient()
    client.force_login(UserFactory(username="desk", permissions=["treatments.view_course"]))

    first = client.get("/api/v1/worklist/", {"page_size": 5}).json()
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()

    # The total costs a COUNT: given on the last page, or when asked for.
    assert (first["count"], third["count"]) == (None, 12)
    assert client.get("/api/v1/worklist/", {"page_size": 5, "count": "true"}).json()["count"] == 12
    listed = [row["course"] for page in (first, second, third) for row in page["results"]]
    assert listed == [str(course.pk) for course in courses], "first sessions: the longest waiting first"
    assert third["next"] is None


def test_the_worklist_page_shows_100_rows_and_links_to_the_next(client, admin_user, clock, location) -> None:
    waiting_courses(location, 101)
    client.force_login(admin_user)

    page = client.get(reverse("frontdesk:worklist"))
    assert len(page.context["entries"]) == 100
    html = page.content.decode()
    assert "Page 1 of 2 (101 to call)" in html
    assert "less urgent" in html

    last = client.get(reverse("frontdesk:worklist"), {"page": 2})
    assert len(last.context["entries"]) == 1
    assert "more urgent" in last.content.decode()


def test_the_worklist_counts_the_open_inbox_and_marks_the_rows_of_patients_with_texts_waiting(
    client, clock, location, practitioner, room
) -> None:
    waiting = CourseFactory(location=location, patient=PatientFactory(last_name="Waiting"))
    answered = CourseFactory(location=location, patient=PatientFactory(last_name="Answered"))
    for course in (waiting, answered):
        completed_session(course, practitioner, room, clock, local(3, 10 if course is waiting else 11))
    inbound_sms_receive(from_number=str(waiting.patient.phone), body="R")
    inbound_sms_receive(from_number=str(waiting.patient.phone), body="Or any Friday")
    inbound_sms_receive(from_number=str(answered.patient.phone), body="STOP")  # handled by the system
    inbound_sms_receive(from_number="+447700900999", body="Who is this?")  # nobody's number: waiting too
    clock.move_to(local(20, 9))
    desk = UserFactory(username="desk")
    desk.groups.add(Group.objects.get(name=FRONT_DESK))
    client.force_login(desk)

    page = client.get(reverse("frontdesk:worklist"))

    html = page.content.decode()
    inbox = reverse("admin:aftercare_inboundmessage_changelist")
    assert f'<a href="{inbox}?status=open"><strong>3 texts from patients</strong> waiting in the inbox</a>' in html
    marked = {entry["row"].patient_name: entry["inbox_url"] for entry in page.context["entries"]}
    assert marked[answered.patient.full_name] is None
    assert marked[waiting.patient.full_name] == f"{inbox}?status=open&patient__id__exact={waiting.patient.pk}"
    assert html.count('class="inbox-marker"') == 1
    assert "✉ 2 texts" in html
    # The marker leads to the patient's open texts in the admin's inbox.
    listed = client.get(marked[waiting.patient.full_name])
    assert listed.status_code == 200
    assert listed.context["cl"].result_count == 2


def test_the_worklist_api_row_says_how_many_texts_wait(clock, location, practitioner, room) -> None:
    course = CourseFactory(location=location)
    completed_session(course, practitioner, room, clock, local(3))
    inbound_sms_receive(from_number=str(course.patient.phone), body="R")
    clock.move_to(local(20, 9))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(name='Desk app', scopes=['read'], actor=None)[1]}")

    [row] = client.get("/api/v1/worklist/").json()["results"]

    assert row["open_inbox_messages"] == 1


def test_staff_who_may_not_read_the_inbox_see_no_count_or_marker(client, clock, location, practitioner, room) -> None:
    course = CourseFactory(location=location)
    completed_session(course, practitioner, room, clock, local(3))
    inbound_sms_receive(from_number=str(course.patient.phone), body="R")
    clock.move_to(local(20, 9))
    client.force_login(UserFactory(username="viewer", permissions=["treatments.view_course"]))

    html = client.get(reverse("frontdesk:worklist")).content.decode()

    assert "inbox-count" not in html and "inbox-marker" not in html
