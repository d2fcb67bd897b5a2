"""The patient card: everything about one patient on one page, with the actions in place."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from aftercare.inbox import inbound_sms_receive
from aftercare.models import SideEffectReport
from clinic.roles import CLINICAL_ADMIN, FRONT_DESK
from patients.models import Consent, ConsentKind, Patient
from tests.factories import CourseFactory, ScheduledMessageFactory, UserFactory
from tests.treatments.conftest import at, book, in_role
from treatments import services
from treatments.models import SessionStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(client):  # type: ignore[no-untyped-def]
    client.force_login(in_role(UserFactory(username="desk"), FRONT_DESK))
    return client


def card_url(patient) -> str:  # type: ignore[no-untyped-def]
    return reverse("frontdesk:patient-card", args=[patient.pk])


def test_the_card_shows_alerts_first_then_courses_sessions_messages_reports_and_consents(
    desk, clock, course, practitioner, room
) -> None:
    patient = course.patient
    session = book(course, practitioner, room, at(3, 10))
    Patient.objects.filter(pk=patient.pk).update(medical_flags=["pregnancy"])
    SideEffectReport.objects.create(
        patient=patient, symptoms=["swelling"], severity="severe", onset_on=date(2026, 3, 1), is_red_flag=True
    )
    ScheduledMessageFactory(patient=patient, course=course, session=session)

    page = desk.get(card_url(patient))

    assert page.status_code == 200
    html = page.content.decode()
    card = page.context["card"]
    assert [level for level, _ in card.alerts][:2] == ["red", "warn"]
    assert "Medical review needed before the next treatment." in html  # the desk is not told which flag
    assert "pregnancy" not in html
    assert card.upcoming == [session]
    assert card.courses[0].course == course
    assert "0 of 4 done" in html
    assert 'href="tel:' in html
    assert html.count('class="button cancel"') == 1
    assert len(card.messages) == 3  # the booking's confirmation and reminder, and the one added here
    assert len(card.reports) == 1
    assert "Book next" in html or card.courses[0].window_start is None


def test_a_clinical_admin_sees_which_flags_need_review(client, clock, course, practitioner, room) -> None:
    Patient.objects.filter(pk=course.patient.pk).update(medical_flags=["pregnancy"])
    client.force_login(in_role(UserFactory(username="clin"), CLINICAL_ADMIN))

    assert "(pregnancy)" in client.get(card_url(course.patient)).content.decode()


def test_cancelling_asks_for_a_reason_and_names_the_patient_and_time_then_returns_to_the_card(
    desk, clock, course, practitioner, room
) -> None:
    session = book(course, practitioner, room, at(3, 10))
    url = reverse("frontdesk:session-cancel", args=[session.pk]) + f"?next={card_url(course.patient)}"

    confirm = desk.get(url)
    assert confirm.status_code == 200
    assert str(course.patient) in confirm.context["title"]
    assert session.local_start_text() in confirm.context["title"]

    refused = desk.post(url, {"reason": ""})
    assert refused.status_code == 400
    session.refresh_from_db()
    assert session.status == SessionStatus.BOOKED

    done = desk.post(url, {"reason": "patient_request", "note": "Away", "next": card_url(course.patient)})
    assert done.status_code == 302
    assert done["Location"] == card_url(course.patient)
    session.refresh_from_db()
    assert (session.status, session.cancel_reason, session.cancel_note) == ("cancelled", "patient_request", "Away")


def test_no_show_and_check_in_from_the_card(desk, clock, course, practitioner, room) -> None:
    session = book(course, practitioner, room, at(2, 9))
    action = reverse("frontdesk:session-action", args=[session.pk, "check-in"])

    clock.move_to(at(2, 8, 50))
    assert desk.post(action, {"next": card_url(course.patient)})["Location"] == card_url(course.patient)
    session.refresh_from_db()
    assert session.arrived_at == at(2, 8, 50)

    other = book(CourseFactory(location=course.location, protocol=course.protocol), practitioner, room, at(2, 11))
    too_early = desk.post(reverse("frontdesk:session-action", args=[other.pk, "no-show"]), follow=True)
    assert "not marked as a no-show" in too_early.content.decode()
    clock.move_to(at(2, 11, 30))
    desk.post(reverse("frontdesk:session-action", args=[other.pk, "no-show"]))
    other.refresh_from_db()
    assert other.status == SessionStatus.NO_SHOW
    assert desk.post(reverse("frontdesk:session-action", args=[other.pk, "delete"])).status_code == 404


def test_a_next_outside_the_site_is_ignored(desk, clock, course, practitioner, room) -> None:
    session = book(course, practitioner, room, at(2, 9))
    clock.move_to(at(2, 8, 50))

    response = desk.post(
        reverse("frontdesk:session-action", args=[session.pk, "check-in"]), {"next": "https://evil.example/"}
    )

    assert response["Location"] == card_url(course.patient)


def test_the_card_needs_the_patient_view_permission_and_hides_actions_from_those_who_may_not(
    client, clock, course, practitioner, room
) -> None:
    book(course, practitioner, room, at(3, 10))
    client.force_login(UserFactory(username="nobody"))
    assert client.get(card_url(course.patient)).status_code == 403

    client.force_login(UserFactory(username="looker", permissions=["patients.view_patient"]))
    html = client.get(card_url(course.patient)).content.decode()
    assert 'class="button cancel"' not in html
    assert "Book next" not in html
    assert "Add consent" not in html


def test_the_card_costs_the_same_queries_for_one_session_or_many(
    desk, clock, course, practitioner, room, django_assert_num_queries
) -> None:
    book(course, practitioner, room, at(3, 10))
    Consent.objects.filter(patient=course.patient, kind=ConsentKind.SERVICE_MESSAGES).delete()
    # (Ten, and one for the patient's texts waiting in the inbox.)
    with django_assert_num_queries(11) as few:
        desk.get(card_url(course.patient))
    for day in (17, 31):
        book(course, practitioner, room, at(day, 10))
    CourseFactory(patient=course.patient, location=course.location, status="completed")
    for words in ("R", "Can I come earlier?", "Is parking free?"):
        inbound_sms_receive(from_number=str(course.patient.phone), body=words)
    with django_assert_num_queries(len(few.captured_queries)):
        desk.get(card_url(course.patient))


def test_the_cards_forms_return_to_the_card_and_a_report_chooses_among_this_patients_sessions_only(
    client, admin_user, clock, course, practitioner, room
) -> None:
    mine = book(course, practitioner, room, at(3, 10))
    theirs = book(CourseFactory(location=course.location, protocol=course.protocol), practitioner, room, at(4, 10))
    clock.move_to(at(3, 10, 45))
    services.session_complete(session=mine, actor=practitioner.user)
    client.force_login(admin_user)
    card = card_url(course.patient)
    links = client.get(card).content.decode()
    assert f"next={card}" in links

    add_report = reverse("admin:aftercare_sideeffectreport_add") + f"?patient={course.patient.pk}&next={card}"
    form = client.get(add_report).context["adminform"].form
    assert list(form.fields["session"].queryset) == [mine]
    assert theirs not in form.fields["session"].queryset

    saved = client.post(
        add_report,
        {
            "patient": str(course.patient.pk),
            "session": str(mine.pk),
            "symptoms": ["redness"],
            "severity": "mild",
            "onset_on": "2026-03-03",
            "notes": "",
        },
    )
    assert saved.status_code == 302, saved.context["adminform"].form.errors if saved.context else saved
    assert saved["Location"] == card
    refused = client.post(
        add_report,
        {
            "patient": str(course.patient.pk),
            "session": str(theirs.pk),
            "symptoms": ["redness"],
            "severity": "mild",
            "onset_on": "2026-03-03",
        },
    )
    assert refused.status_code == 200
    assert "session" in refused.context["adminform"].form.errors


def test_the_card_lists_the_patients_texts_waiting_in_the_inbox(desk, clock, course, practitioner, room) -> None:
    session = book(course, practitioner, room, at(3, 10))
    patient = course.patient
    waiting = inbound_sms_receive(from_number=str(patient.phone), body="R - can we do Friday instead?")
    inbound_sms_receive(from_number=str(patient.phone), body="STOP")  # acted on by the system, not waiting

    page = desk.get(card_url(patient))

    assert page.context["card"].inbox == [waiting]
    html = page.content.decode()
    assert "1 text from the patient waiting for an answer." in html
    assert "R - can we do Friday instead?" in html
    assert f"about {session.local_start_text()}" in html
    assert reverse("admin:aftercare_inboundmessage_change", args=[waiting.pk]) in html


def test_a_session_the_patient_confirmed_says_so_on_the_card(desk, clock, course, practitioner, room) -> None:
    session = book(course, practitioner, room, at(3, 10))
    assert "<strong>confirmed</strong>" not in desk.get(card_url(course.patient)).content.decode()

    services.session_confirm(session=session, actor=None)

    assert "<strong>confirmed</strong>" in desk.get(card_url(course.patient)).content.decode()
