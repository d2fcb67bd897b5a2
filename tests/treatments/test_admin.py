"""The Django admin books, moves, completes and cancels through the same
services as the API, so every rule holds there too, shown as a form error."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.urls import reverse

from clinic.roles import FRONT_DESK
from tests.admin_forms import inline_post_data
from tests.factories import CourseFactory, PatientFactory, ProductLotFactory, RoomFactory, SessionFactory, UserFactory
from tests.treatments.conftest import LONDON, in_role
from treatments import services
from treatments.models import (
    Course,
    CourseStatus,
    Product,
    ProductLot,
    RuleOverride,
    Session,
    SessionProductUse,
    SessionStatus,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic_admin(client, admin_user):
    client.force_login(admin_user)
    return client


def local(day: int, hour: int = 10, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=LONDON)


def book_form(course: Course, practitioner, room, starts_at: datetime, **extra) -> dict:
    """The admin's booking form, with the time typed in clinic-local time."""
    starts_local = starts_at.astimezone(LONDON)
    return {
        "course": str(course.pk),
        "practitioner": str(practitioner.pk),
        "room": str(room.pk),
        "starts_at_0": starts_local.strftime("%Y-%m-%d"),
        "starts_at_1": starts_local.strftime("%H:%M:%S"),
        "_save": "Save",
        **extra,
    }


def errors_of(response) -> str:
    form = response.context["adminform"].form
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


def errors_of_page(response) -> str:
    """The form's errors and its inline formsets' errors, for a failed save."""
    if response.status_code != 200:
        return ""
    inlines = " ".join(str(formset.formset.errors) for formset in response.context["inline_admin_formsets"])
    return errors_of(response) + " " + inlines


# --- courses ----------------------------------------------------------------------


def test_a_course_added_in_the_admin_gets_the_protocols_default_sessions(clinic_admin, location, protocol) -> None:
    patient = PatientFactory()

    response = clinic_admin.post(
        reverse("admin:treatments_course_add"),
        {
            "patient": str(patient.pk),
            "protocol": str(protocol.pk),
            "location": str(location.pk),
            "notes": "",
            "_save": "1",
        },
    )

    assert response.status_code == 302, errors_of(response)
    course = Course.objects.get(patient=patient)
    assert course.planned_sessions == 4
    assert course.status == CourseStatus.PLANNED


def test_a_course_of_seven_sessions_is_refused_with_the_rule_in_words(clinic_admin, location, protocol) -> None:
    patient = PatientFactory()

    response = clinic_admin.post(
        reverse("admin:treatments_course_add"),
        {
            "patient": str(patient.pk),
            "protocol": str(protocol.pk),
            "location": str(location.pk),
            "planned_sessions": "7",
            "notes": "",
        },
    )

    assert response.status_code == 200
    assert "runs 3 to 6 sessions; 7 were planned" in errors_of(response)
    assert not Course.objects.filter(patient=patient).exists()


def test_the_course_page_lists_its_sessions_inline(clinic_admin, clock, course) -> None:
    session = SessionFactory(course=course, starts_at=local(3))

    response = clinic_admin.get(reverse("admin:treatments_course_change", args=[course.pk]))

    assert response.status_code == 200
    assert reverse("admin:treatments_session_change", args=[session.pk]) in response.content.decode()


def test_cancelling_a_course_from_the_list_cancels_its_booked_sessions(clinic_admin, clock, course) -> None:
    session = SessionFactory(course=course, starts_at=local(3))

    response = clinic_admin.post(
        reverse("admin:treatments_course_changelist"),
        {"action": "cancel_courses", "_selected_action": [str(course.pk)]},
        follow=True,
    )

    assert "Cancelled 1 course(s)." in response.content.decode()
    session.refresh_from_db()
    assert session.status == SessionStatus.CANCELLED
    assert session.cancel_reason == "course_cancelled"


# --- booking and moving sessions --------------------------------------------------


def test_a_session_booked_in_the_admin_is_read_as_clinic_local_time(
    clinic_admin, clock, course, practitioner, room
) -> None:
    response = clinic_admin.post(
        reverse("admin:treatments_session_add"), book_form(course, practitioner, room, local(3))
    )

    assert response.status_code == 302, errors_of(response)
    session = Session.objects.get(course=course)
    assert session.starts_at == local(3)
    assert session.ends_at == local(3, 10, 45)


def test_a_spacing_violation_is_a_form_error_with_the_earliest_start(
    clinic_admin, clock, course, practitioner, room
) -> None:
    first = services.session_book(course=course, practitioner=practitioner, room=room, starts_at=local(3), actor=None)

    response = clinic_admin.post(
        reverse("admin:treatments_session_add"), book_form(course, practitioner, room, local(10))
    )

    assert response.status_code == 200
    message = errors_of(response)
    assert "at least 14 days apart" in message
    assert "Earliest allowed start: Tue 17 Mar 2026 10:00" in message
    assert list(Session.objects.filter(course=course)) == [first]


def test_a_practitioner_booking_their_own_session_overrides_a_rule_as_themself(
    practitioner_client, clock, course, practitioner, room
) -> None:
    services.session_book(course=course, practitioner=practitioner, room=room, starts_at=local(3), actor=None)
    add_url = reverse("admin:treatments_session_add")
    page = practitioner_client.get(add_url)
    form = page.context["adminform"].form
    assert "override_by" not in form.fields, "nobody else to name: the override is theirs"
    assert list(form.fields["practitioner"].queryset) == [practitioner], "they book for themself only"

    response = practitioner_client.post(
        add_url,
        book_form(
            course,
            practitioner,
            room,
            local(10),
            override_rules=["spacing"],
            override_reason="Patient emigrates next month; agreed shorter gap.",
        ),
    )

    assert response.status_code == 302, errors_of(response)
    override = RuleOverride.objects.get()
    assert override.rule == "spacing"
    assert override.practitioner == practitioner
    assert override.reason.startswith("Patient emigrates")


def test_the_front_desk_sees_no_override_fields_and_cannot_send_them(client, clock, course, practitioner, room) -> None:
    """Overriding is a practitioner's decision: the front desk's booking form has no such fields, and a
    hand-made POST with them books nothing."""
    services.session_book(course=course, practitioner=practitioner, room=room, starts_at=local(3), actor=None)
    client.force_login(in_role(UserFactory(username="reception"), FRONT_DESK))
    add_url = reverse("admin:treatments_session_add")
    assert "override_rules" not in client.get(add_url).context["adminform"].form.fields

    response = client.post(
        add_url, book_form(course, practitioner, room, local(10), override_rules=["spacing"], override_reason="x")
    )

    assert response.status_code == 200
    assert "at least 14 days apart" in errors_of(response)
    assert Session.objects.filter(course=course).count() == 1


def test_a_double_booking_is_a_form_error_not_a_crash(clinic_admin, clock, location, practitioner, room) -> None:
    taken = services.session_book(
        course=CourseFactory(location=location), practitioner=practitioner, room=room, starts_at=local(3), actor=None
    )
    other_course = CourseFactory(location=location)

    response = clinic_admin.post(
        reverse("admin:treatments_session_add"),
        book_form(other_course, practitioner, RoomFactory(location=location), local(3, 10, 15)),
    )

    assert response.status_code == 200
    assert "already has a session" in errors_of(response)
    assert list(Session.objects.all()) == [taken]


def test_moving_a_booked_session_in_its_change_form_reschedules_it(
    clinic_admin, clock, course, practitioner, room
) -> None:
    session = services.session_book(course=course, practitioner=practitioner, room=room, starts_at=local(3), actor=None)
    change_url = reverse("admin:treatments_session_change", args=[session.pk])
    form = book_form(course, practitioner, room, local(4, 14)) | inline_post_data(clinic_admin.get(change_url))
    del form["course"]

    response = clinic_admin.post(change_url, form)

    assert response.status_code == 302, errors_of(response)
    session.refresh_from_db()
    assert session.starts_at == local(4, 14)
    assert session.sequence == 1


def test_a_move_is_not_made_while_another_part_of_the_same_page_is_invalid(
    clinic_admin, clock, course, practitioner, room
) -> None:
    """The service runs only once the page's inline formsets are valid: the page is shown again, unchanged."""
    session = services.session_book(course=course, practitioner=practitioner, room=room, starts_at=local(3), actor=None)
    change_url = reverse("admin:treatments_session_change", args=[session.pk])
    form = book_form(course, practitioner, room, local(4, 14)) | inline_post_data(clinic_admin.get(change_url))
    del form["course"]
    broken = next(name for name in form if name.endswith("-TOTAL_FORMS"))
    del form[broken]  # what a truncated POST or a stale page sends

    response = clinic_admin.post(change_url, form)

    assert response.status_code == 200
    session.refresh_from_db()
    assert (session.starts_at, session.sequence) == (local(3), 0)
    assert Session.history.filter(id=session.pk).count() == 1, "booked, and nothing since"


def test_a_session_outside_opening_hours_is_refused(clinic_admin, clock, course, practitioner, room) -> None:
    response = clinic_admin.post(
        reverse("admin:treatments_session_add"), book_form(course, practitioner, room, local(3, 19, 30))
    )

    assert response.status_code == 200
    assert "outside opening hours" in errors_of(response)
    assert not Session.objects.exists()


# --- completing, cancelling, no-shows --------------------------------------------


def test_completing_a_session_in_the_admin_records_lots_and_notes(
    practitioner_client, clock, course, practitioner, room
) -> None:
    clinic_admin = practitioner_client  # the session's own practitioner completes it
    session = services.session_book(course=course, practitioner=practitioner, room=room, starts_at=local(3), actor=None)
    lot = ProductLotFactory(expires_on=date(2027, 1, 31))
    clock.move_to(local(3, 10, 50))
    url = reverse("admin:treatments_session_complete", args=[session.pk])

    assert clinic_admin.get(url).status_code == 200
    response = clinic_admin.post(
        url,
        {
            "notes": "Cheeks and forehead, 2 ml.",
            "treated_areas": ["cheeks", "forehead"],
            "lots-TOTAL_FORMS": "3",
            "lots-INITIAL_FORMS": "0",
            "lots-0-lot": str(lot.pk),
            "lots-0-quantity": "2",
        },
    )

    assert response.status_code == 302
    session.refresh_from_db()
    assert session.status == SessionStatus.COMPLETED
    assert session.treated_areas == ["cheeks", "forehead"]
    assert SessionProductUse.objects.get(session=session).quantity == 2
    lot_page = clinic_admin.get(reverse("admin:treatments_productlot_change", args=[lot.pk]))
    assert str(course.patient) in lot_page.content.decode()


def test_an_expired_lot_is_refused_on_the_completion_page(
    practitioner_client, clock, course, practitioner, room
) -> None:
    clinic_admin = practitioner_client
    session = services.session_book(course=course, practitioner=practitioner, room=room, starts_at=local(3), actor=None)
    expired = ProductLotFactory(expires_on=date(2026, 3, 1), lot_number="OLD-1")
    clock.move_to(local(3, 10, 50))

    response = clinic_admin.post(
        reverse("admin:treatments_session_complete", args=[session.pk]),
        {
            "notes": "",
            "lots-TOTAL_FORMS": "1",
            "lots-INITIAL_FORMS": "0",
            "lots-0-lot": str(expired.pk),
            "lots-0-quantity": "1",
        },
    )

    assert response.status_code == 200
    assert "Lot OLD-1 expired on Sun 1 Mar 2026" in response.content.decode()
    session.refresh_from_db()
    assert session.status == SessionStatus.BOOKED
    assert not SessionProductUse.objects.exists()


def test_the_cancel_action_cancels_booked_sessions_with_a_reason(clinic_admin, clock, course) -> None:
    session = SessionFactory(course=course, starts_at=local(3))

    clinic_admin.post(
        reverse("admin:treatments_session_changelist"),
        {"action": "cancel_sessions", "_selected_action": [str(session.pk)]},
    )

    session.refresh_from_db()
    assert session.status == SessionStatus.CANCELLED
    assert session.cancel_reason == "patient_request"


def test_a_future_session_cannot_be_marked_no_show_and_the_admin_says_why(clinic_admin, clock, course) -> None:
    future = SessionFactory(course=course, starts_at=local(3))
    past = SessionFactory(course=CourseFactory(location=course.location), starts_at=local(2, 7) - timedelta(days=1))

    response = clinic_admin.post(
        reverse("admin:treatments_session_changelist"),
        {"action": "mark_no_show", "_selected_action": [str(future.pk), str(past.pk)]},
        follow=True,
    )

    page = response.content.decode()
    assert "cannot be a no-show" in page
    assert "Marked 1 session(s)." in page
    future.refresh_from_db()
    past.refresh_from_db()
    assert (future.status, past.status) == (SessionStatus.BOOKED, SessionStatus.NO_SHOW)


@pytest.mark.parametrize(
    "query", ["status__exact=booked", "practitioner", "starts_at__year=2026", "kind__exact=course"]
)
def test_the_session_list_filters_by_status_practitioner_and_date(clinic_admin, clock, course, query: str) -> None:
    session = SessionFactory(course=course, starts_at=local(3))
    SessionFactory(
        course=CourseFactory(),
        starts_at=local(3, month=4) + timedelta(days=365),
        status="cancelled",
        cancel_reason="other",
        kind="maintenance",
    )
    if query == "practitioner":
        query = f"practitioner__id__exact={session.practitioner_id}"

    response = clinic_admin.get(reverse("admin:treatments_session_changelist") + "?" + query)

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [session]


def test_a_completed_session_page_is_read_only(clinic_admin, clock, course) -> None:
    session = SessionFactory(
        course=course, starts_at=local(1), status=SessionStatus.COMPLETED, completed_at=local(1, 11), notes="Done"
    )

    response = clinic_admin.get(reverse("admin:treatments_session_change", args=[session.pk]))

    assert response.status_code == 200
    assert "Complete session" not in response.content.decode()
    assert response.context["adminform"].form.fields == {}


# --- products and lots -------------------------------------------------------------


def test_a_product_and_its_lots_added_in_the_admin_are_written_by_the_services_as_the_user(
    clinic_admin, admin_user
) -> None:
    add_url = reverse("admin:treatments_product_add")
    form = inline_post_data(clinic_admin.get(add_url)) | {
        "name": "Hyaluronic booster",
        "kind": "solution",
        "manufacturer": "Dermaline",
        "unit": "ml",
        "is_active": "on",
        "lots-TOTAL_FORMS": "1",
        "lots-0-lot_number": "HB-001",
        "lots-0-expires_on": "2027-06-30",
        "lots-0-received_on": "2026-03-01",
    }

    response = clinic_admin.post(add_url, form)

    assert response.status_code == 302, errors_of_page(response)
    product = Product.objects.get(name="Hyaluronic booster")
    [lot] = product.lots.all()
    assert (lot.lot_number, lot.expires_on) == ("HB-001", date(2027, 6, 30))
    assert (product.history.get().history_user, lot.history.get().history_user) == (admin_user, admin_user)


def test_a_lot_with_a_bad_line_on_the_product_page_adds_neither_product_nor_lot(clinic_admin) -> None:
    add_url = reverse("admin:treatments_product_add")
    form = inline_post_data(clinic_admin.get(add_url)) | {
        "name": "Hyaluronic booster",
        "kind": "solution",
        "manufacturer": "Dermaline",
        "unit": "ml",
        "lots-TOTAL_FORMS": "1",
        "lots-0-lot_number": "HB-001",  # no expiry date
    }

    response = clinic_admin.post(add_url, form)

    assert response.status_code == 200
    assert not Product.objects.exists()
    assert not ProductLot.objects.exists()


def test_correcting_a_lots_expiry_in_the_admin_is_audited(clinic_admin, admin_user) -> None:
    lot = ProductLotFactory(expires_on=date(2027, 1, 31))
    change_url = reverse("admin:treatments_productlot_change", args=[lot.pk])
    form = inline_post_data(clinic_admin.get(change_url)) | {
        "lot_number": lot.lot_number,
        "expires_on": "2026-12-31",
        "received_on": "",
    }

    response = clinic_admin.post(change_url, form)

    assert response.status_code == 302, errors_of_page(response)
    latest = lot.history.latest()
    assert (latest.expires_on, latest.history_user) == (date(2026, 12, 31), admin_user)
    assert latest.prev_record.expires_on == date(2027, 1, 31)
