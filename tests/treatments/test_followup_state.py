"""The stored follow-up state (FollowupState) is kept on write and agrees with the sessions.

After every kind of change (a course started, a session booked, moved,
cancelled, missed or completed, a course finishing its sessions, a course
cancelled, a protocol's spacing or a location's time zone edited), the row
the worklist reads equals what treatments.followup works out from the
sessions; `manage.py followup_check` reports a row that drifted and repairs
it with --fix.
"""

from __future__ import annotations

from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.urls import reverse

from frontdesk.worklist import worklist
from tests.admin_forms import inline_post_data
from tests.factories import ConsentFactory, CourseFactory, PatientFactory
from tests.treatments.conftest import at, book
from treatments import services
from treatments.followup import (
    FIRST_SESSION,
    MAINTENANCE,
    NEXT_SESSION,
    STORED_FIELDS,
    computed_followup,
    course_followup,
    followup_drift,
)
from treatments.models import CancelReason, CourseStatus, FollowupState, Session

pytestmark = pytest.mark.django_db


def stored(course) -> dict[str, object]:
    state = FollowupState.objects.get(course=course)
    return {name: getattr(state, name) for name in STORED_FIELDS}


def assert_in_step(course) -> dict[str, object]:
    """The stored row equals the state worked out from the sessions, and no course anywhere drifted."""
    expected = computed_followup(course)
    row = stored(course)
    assert row == {
        **{name: getattr(expected, name) for name in STORED_FIELDS},
        "kind": expected.kind or "",
        "last_booking_status": expected.last_booking_status or "",
    }
    assert list(followup_drift()) == []
    return row


def complete(session: Session, clock) -> Session:
    clock.move_to(session.ends_at)
    return services.session_complete(session=session, actor=session.practitioner.user)


def test_every_kind_of_session_change_keeps_the_stored_state(clock, location, practitioner, room, protocol) -> None:
    patient = PatientFactory()
    ConsentFactory(
        patient=patient,
        kind="treatment",
        scope=protocol.treatment_consent_form,
        version=protocol.treatment_consent_version,
        given_at=at(1),
    )
    course = services.course_create(patient=patient, protocol=protocol, location=location, actor=None)
    row = assert_in_step(course)
    assert (row["kind"], row["window_start"], row["is_booked"]) == (FIRST_SESSION, date(2026, 3, 2), False)

    first = book(course, practitioner, room, at(3))
    row = assert_in_step(course)
    assert (row["kind"], row["is_booked"], row["last_booking_at"]) == ("", True, at(3))

    first = services.session_reschedule(session=first, starts_at=at(4), actor=None)
    assert assert_in_step(course)["last_booking_at"] == at(4)

    services.session_cancel(session=first, reason=CancelReason.PATIENT_REQUEST, actor=None)
    row = assert_in_step(course)
    assert (row["kind"], row["is_booked"], row["last_booking_status"]) == (FIRST_SESSION, False, "cancelled")

    missed = book(course, practitioner, room, at(5))
    clock.move_to(missed.ends_at)
    services.session_mark_no_show(session=missed, actor=None)
    assert assert_in_step(course)["last_booking_status"] == "no_show"

    done = complete(book(course, practitioner, room, at(6)), clock)
    row = assert_in_step(course)
    assert (row["kind"], row["sessions_done"], row["last_session_id"]) == (NEXT_SESSION, 1, done.pk)
    assert (row["window_start"], row["window_end"]) == (date(2026, 3, 20), date(2026, 4, 3))

    starts = at(21)
    for _ in range(course.planned_sessions - 1):
        clock.move_to(starts - timedelta(days=1))
        starts = complete(book(course, practitioner, room, starts), clock).starts_at + timedelta(days=15)
    course.refresh_from_db()
    assert course.status == CourseStatus.MAINTENANCE
    row = assert_in_step(course)
    assert (row["kind"], row["sessions_done"]) == (MAINTENANCE, course.planned_sessions)
    assert (row["window_start"], row["window_end"]) == (
        course.next_maintenance_earliest,
        course.next_maintenance_latest,
    )

    services.course_cancel(course=course, reason="Moved abroad", actor=None)
    row = assert_in_step(course)
    assert (row["kind"], row["window_start"], row["window_end"]) == ("", None, None)


def test_the_state_rolls_back_with_the_change_that_wrote_it(clock, course, practitioner, room) -> None:
    before = stored(course)
    with pytest.raises(RuntimeError), transaction.atomic():
        book(course, practitioner, room, at(3))
        assert stored(course)["is_booked"] is True
        raise RuntimeError("a later step of the same request fails")
    assert stored(course) == before


def change_form(client, url: str, **changes: object) -> dict[str, str]:
    """The admin change page's current values (main form and inlines), with `changes`, as a browser posts them."""
    page = client.get(url)
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    for inline in page.context["inline_admin_formsets"]:
        for row in inline.formset.initial_forms:
            data |= {row.add_prefix(name): row[name].value() for name in row.fields if name not in ("id", "DELETE")}
    data = {name: "" if value is None else str(value) for name, value in data.items() if value is not False}
    return {**data, **inline_post_data(page), **{name: str(value) for name, value in changes.items()}}


def test_editing_a_protocols_spacing_in_the_admin_moves_the_open_windows(
    admin_client, clock, course, practitioner, room
) -> None:
    complete(book(course, practitioner, room, at(3)), clock)
    assert (stored(course)["window_start"], stored(course)["window_end"]) == (date(2026, 3, 17), date(2026, 3, 31))
    url = reverse("admin:treatments_protocol_change", args=[course.protocol.pk])

    response = admin_client.post(url, change_form(admin_client, url, min_spacing_days=21, max_spacing_days=35))

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert (stored(course)["window_start"], stored(course)["window_end"]) == (date(2026, 3, 24), date(2026, 4, 7))
    assert_in_step(course)


def test_editing_a_locations_time_zone_in_the_admin_moves_the_open_windows(admin_client, clock, course) -> None:
    assert stored(course)["window_start"] == date(2026, 3, 2)
    url = reverse("admin:treatments_location_change", args=[course.location.pk])

    # Started at 08:00 UTC on 2 March: 23:00 on 1 March in Anchorage (UTC-9).
    response = admin_client.post(url, change_form(admin_client, url, time_zone="America/Anchorage"))

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert stored(course)["window_start"] == date(2026, 3, 1)
    assert_in_step(course)


def test_followup_check_reports_drift_and_fix_repairs_it(clock, course, practitioner, room) -> None:
    complete(book(course, practitioner, room, at(3)), clock)
    untouched = CourseFactory()
    out = StringIO()
    call_command("followup_check", stdout=out)
    assert "No drift: 2 course(s)" in out.getvalue()

    FollowupState.objects.filter(course=course).update(window_start=date(2030, 1, 1), sessions_done=3)
    FollowupState.objects.filter(course=untouched).delete()
    out = StringIO()
    with pytest.raises(CommandError, match=r"2 of 2 course\(s\) drifted"):
        call_command("followup_check", stdout=out)
    report = out.getvalue()
    assert f"course {course.pk}: " in report
    assert "window_start: stored datetime.date(2030, 1, 1), sessions say datetime.date(2026, 3, 17)" in report
    assert "sessions_done: stored 3, sessions say 1" in report
    assert f"course {untouched.pk}: row: stored 'missing'" in report

    out = StringIO()
    call_command("followup_check", "--fix", stdout=out)
    assert "Fixed 2 drifted course(s)." in out.getvalue()
    assert list(followup_drift()) == []
    assert course_followup(course).window_start == date(2026, 3, 17)


def test_the_worklist_reads_the_stored_state(clock, course, practitioner, room) -> None:
    complete(book(course, practitioner, room, at(3)), clock)
    clock.move_to(at(18))
    assert [row.course_id for row in worklist()] == [course.pk]

    # A stored window still closed keeps the course off the list: the list reads the row, not the sessions.
    FollowupState.objects.filter(course=course).update(window_start=date(2026, 3, 25))
    assert worklist() == []
    call_command("followup_check", "--fix", stdout=StringIO())
    assert [row.course_id for row in worklist()] == [course.pk]
