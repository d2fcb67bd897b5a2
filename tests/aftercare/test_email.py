"""Emails to patients: HTML with a text part, the location's sender, a footer, one-click unsubscribe.

The outbox row holds the words; the dispatcher sends them in the clinic's
layout. The HTML must parse cleanly (html5lib, strict); the one-click
unsubscribe of RFC 8058 must revoke the patient's consent to messages, so
nothing more goes.
"""

from __future__ import annotations

import re

import html5lib
import pytest
from django.core import mail
from django.test import Client

from aftercare.dispatch import dispatch_due
from aftercare.models import MessageStatus, ScheduledMessage, SuppressionReason
from frontdesk.data_rights import patient_erase
from patients.models import Consent, ConsentKind
from tests.aftercare.conftest import LONDON, book, complete, deliver_until, local
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outside_world")]


@pytest.fixture
def sent_email(clock, course, practitioner, room):
    location = course.location
    location.address = "12 Harley Street\nLondon W1G 9PF"
    location.email = "marylebone@clinic.example"
    location.sender_name = "Marylebone Skin Clinic"
    location.sender_email = "care@marylebone.example"
    location.save()
    session = complete(book(course, practitioner, room, local(LONDON, 3, 3, 10)), clock)
    deliver_until(clock, local(LONDON, 3, 3, 12))
    # The reminder the day before went too; this is the advice after the session.
    [email] = [m for m in mail.outbox if m.subject.startswith("Caring for your skin")]
    return session, email


def unsubscribe_path(email) -> str:
    url = re.fullmatch(r"<(.+)>", email.extra_headers["List-Unsubscribe"]).group(1)
    return re.sub(r"^https?://[^/]+", "", url)


def test_an_email_has_an_html_part_that_parses_cleanly_and_a_text_part(sent_email) -> None:
    session, email = sent_email
    [(html, mimetype)] = email.alternatives

    assert mimetype == "text/html"
    document = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(html)
    assert document.find("head/title").text == email.subject
    words = " ".join("".join(document.find("body").itertext()).split())
    assert "Dear Amelia," in words and "No makeup for at least 24 hours." in words
    # The text part says the same, for clients that show no HTML.
    assert email.body.startswith("Dear Amelia,") and "No makeup for at least 24 hours." in email.body
    page = ScheduledMessage.objects.get(session=session, channel="email", step__order=1).page_url
    assert f'href="{page}"' in html and page in email.body


def test_an_email_comes_from_the_location_with_its_contact_in_the_footer(sent_email) -> None:
    _, email = sent_email
    [(html, _)] = email.alternatives

    assert email.from_email == "Marylebone Skin Clinic <care@marylebone.example>"
    assert email.reply_to == ["marylebone@clinic.example"]
    for detail in ("12 Harley Street", "London W1G 9PF", "020 7946 0000", "marylebone@clinic.example"):
        assert detail in html and detail in email.body


def test_an_email_carries_one_click_unsubscribe_headers(sent_email) -> None:
    _, email = sent_email

    assert re.fullmatch(r"<http://127\.0\.0\.1:8000/u/[\w-]{43}/>", email.extra_headers["List-Unsubscribe"])
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    [(html, _)] = email.alternatives
    assert unsubscribe_path(email) in html and unsubscribe_path(email) in email.body


def test_the_one_click_post_revokes_consent_and_nothing_more_goes(clock, sent_email) -> None:
    session, email = sent_email
    mail_client = Client(enforce_csrf_checks=True)  # a mail client has no cookie and no CSRF token

    response = mail_client.post(
        unsubscribe_path(email), "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 200
    consent = Consent.objects.get(patient=session.course.patient, kind=ConsentKind.SERVICE_MESSAGES)
    assert consent.revoked_at is not None
    assert consent.history.latest().history_actor == "patient:email unsubscribe"
    mail.outbox.clear()
    deliver_until(clock, local(LONDON, 3, 6, 12))
    assert mail.outbox == []
    later = ScheduledMessage.objects.filter(session=session, due_at__gt=local(LONDON, 3, 3, 12))
    assert set(later.filter(due_at__lte=local(LONDON, 3, 6, 12)).values_list("suppressed_reason", flat=True)) == {
        SuppressionReason.NO_CONSENT
    }
    # Asking again changes nothing and says the same.
    assert mail_client.post(unsubscribe_path(email)).status_code == 200


def test_opening_the_link_asks_and_changes_nothing(client: Client, sent_email) -> None:
    session, email = sent_email

    response = client.get(unsubscribe_path(email))

    assert response.status_code == 200 and "Stop these messages?" in response.content.decode()
    assert Consent.objects.get(patient=session.course.patient, kind=ConsentKind.SERVICE_MESSAGES).revoked_at is None


def test_a_tampered_or_erased_patients_unsubscribe_link_gets_a_404(client: Client, sent_email) -> None:
    session, email = sent_email
    path = unsubscribe_path(email)
    tampered = path[:-3] + ("A" if path[-3] != "A" else "B") + path[-2:]

    assert client.post(tampered).status_code == 404
    patient_erase(patient=session.course.patient, actor=UserFactory(username="boss", is_superuser=True, is_staff=True))
    assert client.post(path).status_code == 404


def test_an_alert_to_clinicians_stays_plain_text_with_no_unsubscribe(clock, client: Client, sent_email) -> None:
    session, _ = sent_email
    page = ScheduledMessage.objects.filter(session=session).exclude(page_url="").first().page_url
    clock.move_to(local(LONDON, 3, 4, 11))
    client.post(
        page.removeprefix("http://127.0.0.1:8000"), {"symptoms": ["rash"], "severity": "mild", "onset_on": "2026-03-04"}
    )
    mail.outbox.clear()

    dispatch_due()

    [alert] = [m for m in mail.outbox if m.to == ["dr.evans@clinic.example"]]
    assert alert.alternatives == [] and "List-Unsubscribe" not in alert.extra_headers
    assert alert.from_email == "Marylebone Skin Clinic <care@marylebone.example>"
    reply = ScheduledMessage.objects.get(kind="red_flag_reply")
    assert reply.status == MessageStatus.SENT


def test_a_spanish_patient_gets_the_layout_in_spanish(clock, settings, course, practitioner, room) -> None:
    patient = course.patient
    patient.language = "es"
    patient.save()

    complete(book(course, practitioner, room, local(LONDON, 3, 3, 10)), clock)
    deliver_until(clock, local(LONDON, 3, 3, 12))

    [email] = [m for m in mail.outbox if "mesoterapia" in m.subject]
    [(html, _)] = email.alternatives
    assert '<html lang="es">' in html
    assert email.subject == "Cómo cuidar tu piel después de la sesión de mesoterapia"
    assert "Hola, Amelia:" in email.body and "Abre tu página de cuidados" in html


def test_a_booking_confirmation_by_email_carries_a_calendar_invitation(clock, course, practitioner, room) -> None:
    from icalendar import Calendar

    booked = book(course, practitioner, room, local(LONDON, 3, 10, 14, 30))  # at 08:00: quiet hours until 09:00
    deliver_until(clock, local(LONDON, 3, 2, 9, 30))

    [email] = [m for m in mail.outbox if m.attachments]
    [(filename, content, mimetype)] = email.attachments
    assert filename == "invite.ics" and mimetype.startswith("text/calendar")
    event = Calendar.from_ical(content).walk("VEVENT")[0]
    assert event["DTSTART"].dt == local(LONDON, 3, 10, 14, 30)
    assert str(event["UID"]) == f"session-{booked.pk}@clinic"
    assert [mimetype for _, mimetype in email.alternatives] == ["text/html"]
    # As the mail leaves: one charset, the method calendar clients act on.
    part = next(p for p in email.message().walk() if p.get_content_type() == "text/calendar")
    params = part.get_params()
    assert sorted(params) == [("charset", "utf-8"), ("method", "REQUEST"), ("text/calendar", "")]
    # The button leads to the appointment, not to aftercare that has not begun.
    [(html, _)] = email.alternatives
    assert "See your appointment" in html and "Open your aftercare page" not in html


def test_a_spanish_patient_is_told_of_a_booking_in_spanish(clock, course, practitioner, room) -> None:
    patient = course.patient
    patient.language = "es"
    patient.save()

    book(course, practitioner, room, local(LONDON, 3, 10, 14, 30))
    deliver_until(clock, local(LONDON, 3, 2, 9, 30))

    [email] = [m for m in mail.outbox if m.attachments]
    assert email.subject == "Tu cita del martes 10 de marzo de 2026 a las 14:30 está reservada"
    assert email.body.startswith("Hola, Amelia:\n\nTu cita en Marylebone está reservada")
    [(html, _)] = email.alternatives
    assert "Ver tu cita" in html
