"""Two-way SMS: what a patient texts to the clinic's number is stored, acted on, or put before a person.

Texts arrive as Twilio posts them (form-encoded, signed with the account's
auth token through Twilio's own library), at /sms/twilio/inbound/. The only
stand-in is the SMS provider on the way out (the recording transport of
tests.aftercare.dispatch_helpers); PostgreSQL, the outbox and the dispatcher
are real.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from twilio.request_validator import RequestValidator

from aftercare import inbox
from aftercare.dispatch import dispatch_due
from aftercare.inbound_keywords import read_text
from aftercare.inbox import inbound_message_file, inbound_message_handle
from aftercare.models import (
    Channel,
    InboundIntent,
    InboundMessage,
    MessageKind,
    MessageStatus,
    ScheduledMessage,
    SenderMatch,
    SuppressionReason,
)
from clinic.actors import PatientActor
from clinic.errors import InvalidState, NotPermitted
from frontdesk.data_rights import patient_erase, patient_export
from patients.models import Consent, ConsentKind, ContactChannel, Patient
from patients.selectors import patient_has_consent
from tests.aftercare.conftest import CLINIC_PHONE, LONDON, book, consenting_patient, local
from tests.aftercare.dispatch_helpers import recorded_ids
from tests.factories import (
    ConsentFactory,
    CourseFactory,
    PatientFactory,
    RoomFactory,
    UserFactory,
    mesotherapy_protocol,
)
from treatments import services
from treatments.models import Course, Location, Practitioner, Room, Session, SessionStatus

pytestmark = pytest.mark.django_db

TOKEN = "twilio-test-auth-token"
SITE = "https://clinic.example"
PATH = "/sms/twilio/inbound/"
CLINIC_NUMBER = "+442079460111"
AMELIA = "+447700900123"


@pytest.fixture
def twilio(settings) -> None:
    """Inbound texts verified with TOKEN; the site is public at SITE (what Twilio calls and signs)."""
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.SITE_URL = SITE


@pytest.fixture
def amelia(db) -> Patient:
    """A patient who consented to service messages, with a mobile number on file."""
    return consenting_patient(first_name="Amelia", last_name="Hart", phone=AMELIA, email="amelia@example.com")


@pytest.fixture
def amelias_course(amelia: Patient, location: Location) -> Course:
    return CourseFactory(patient=amelia, location=location, protocol=mesotherapy_protocol(), planned_sessions=4)


def fields_for(body: str, *, sender: str = AMELIA, sid: str | None = None) -> dict[str, str]:
    """What Twilio posts for one inbound SMS."""
    sid = sid or f"SM{uuid.uuid4().hex}"
    return {
        "ToCountry": "GB",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "From": sender,
        "To": CLINIC_NUMBER,
        "Body": body,
        "MessageSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "NumSegments": "1",
        "ApiVersion": "2010-04-01",
    }


def signature_of(fields: dict[str, str], *, token: str = TOKEN, url: str = SITE + PATH) -> str:
    return RequestValidator(token).compute_signature(url, fields)


def post(client: Client, fields: dict[str, str], *, signature: str | None = None) -> Any:
    """POST `fields` form-encoded, as Twilio does, signed for the public URL unless `signature` is given."""
    headers = {} if signature == "" else {"HTTP_X_TWILIO_SIGNATURE": signature or signature_of(fields)}
    return client.post(PATH, urlencode(fields), content_type="application/x-www-form-urlencoded", **headers)


def text_in(client: Client, body: str, *, sender: str = AMELIA, sid: str | None = None) -> InboundMessage:
    """Amelia (or `sender`) texts `body`; return the stored message."""
    fields = fields_for(body, sender=sender, sid=sid)
    response = post(client, fields)
    assert response.status_code == 200, response.content
    return InboundMessage.objects.get(provider_message_id=fields["MessageSid"])


def replies_to(message: InboundMessage) -> list[ScheduledMessage]:
    return list(ScheduledMessage.objects.filter(dedupe_key=f"inbound_reply:{message.pk}"))


def open_inbox() -> list[InboundMessage]:
    return list(InboundMessage.objects.filter(handled_at__isnull=True))


def next_week(day: int, hour: int = 10) -> Any:
    return local(LONDON, 3, day, hour)


# --- the door: Twilio's signature ---------------------------------------------------------------


def test_a_signed_text_is_stored_and_answered_with_empty_twiml(client, twilio, amelia) -> None:
    fields = fields_for("Hello, is parking free on Saturdays?")

    response = post(client, fields)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert response.content.decode().endswith("<Response/>")
    message = InboundMessage.objects.get()
    assert (message.channel, message.from_number, message.to_number, message.body) == (
        "sms",
        AMELIA,
        CLINIC_NUMBER,
        "Hello, is parking free on Saturdays?",
    )
    assert (message.provider_message_id, message.patient, message.match) == (
        fields["MessageSid"],
        amelia,
        SenderMatch.MATCHED,
    )
    assert reverse("twilio-inbound-sms") == PATH


def _no_signature(fields: dict[str, str]) -> str:
    return ""


def _wrong_token(fields: dict[str, str]) -> str:
    return signature_of(fields, token="someone-elses-token")


def _signed_for_the_internal_host(fields: dict[str, str]) -> str:
    # What a proxy passes on: the Host Django sees, not the public address Twilio called.
    return signature_of(fields, url="http://testserver" + PATH)


def _body_changed_after_signing(fields: dict[str, str]) -> str:
    signature = signature_of(fields)
    fields["Body"] = "START"
    return signature


@pytest.mark.parametrize(
    ("forge", "code"),
    [
        (_no_signature, "signature_missing"),
        (_wrong_token, "signature_invalid"),
        (_signed_for_the_internal_host, "signature_invalid"),
        (_body_changed_after_signing, "signature_invalid"),
    ],
)
def test_a_text_without_a_good_signature_is_refused_and_changes_nothing(
    client, twilio, amelia, amelias_course, practitioner, room, clock, forge, code
) -> None:
    session = book(amelias_course, practitioner, room, next_week(4))
    messages_before = ScheduledMessage.objects.count()
    consents_before = list(Consent.objects.values_list("pk", "revoked_at"))
    fields = fields_for("STOP")
    signature = forge(fields)

    response = post(client, fields, signature=signature)

    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == code
    assert InboundMessage.objects.count() == 0
    assert InboundMessage.history.count() == 0
    assert ScheduledMessage.objects.count() == messages_before
    assert list(Consent.objects.values_list("pk", "revoked_at")) == consents_before
    assert patient_has_consent(patient=amelia, kind=ConsentKind.SERVICE_MESSAGES)
    session.refresh_from_db()
    assert (session.status, session.confirmed_at) == (SessionStatus.BOOKED, None)


def test_without_an_auth_token_configured_no_text_is_accepted(client, twilio, settings, amelia) -> None:
    fields = fields_for("STOP")
    signature = signature_of(fields, token="")
    settings.TWILIO_AUTH_TOKEN = ""

    response = post(client, fields, signature=signature)

    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "signature_unverifiable"
    assert "TWILIO_AUTH_TOKEN" in response.json()["errors"][0]["detail"]
    assert InboundMessage.objects.count() == 0
    assert patient_has_consent(patient=amelia, kind=ConsentKind.SERVICE_MESSAGES)


def test_a_signed_post_without_a_sender_is_a_400_not_an_error(client, twilio) -> None:
    fields = fields_for("C")
    del fields["From"]

    response = post(client, fields)

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "from_missing"
    assert InboundMessage.objects.count() == 0


def test_the_webhook_takes_posts_only_and_needs_no_csrf_token(twilio, amelia) -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.get(PATH).status_code == 405

    assert post(client, fields_for("Thanks!")).status_code == 200


def test_odd_but_signed_fields_are_stored_as_far_as_they_can_be_never_an_error(client, twilio, amelia) -> None:
    fields = fields_for("C\x00 ok", sid="SM" + "9" * 80)
    fields["From"] = AMELIA + "\x00"

    response = post(client, fields)

    assert response.status_code == 200
    message = InboundMessage.objects.get()
    assert (message.body, message.from_number, message.patient) == ("C ok", AMELIA, amelia)
    assert post(client, fields).status_code == 200  # Twilio's retry: the id as stored is found again
    assert InboundMessage.objects.count() == 1


def test_a_body_longer_than_any_sms_is_stored_cut_and_marked(client, twilio, amelia) -> None:
    message = text_in(client, "word " * 1000)

    assert len(message.body) == inbox.BODY_MAX_CHARS
    assert message.body.endswith(" […]")


# --- reading the words ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "intent", "has_more"),
    [
        ("C", "confirm", False),
        (" c ", "confirm", False),
        ("C.", "confirm", False),
        ("'Confirm!'", "confirm", False),
        ("CONFIRMED", "confirm", False),
        ("Confirmed, see you then", "confirm", True),
        ("R", "rebook_request", False),
        ("reschedule please", "rebook_request", True),
        ("Change?", "rebook_request", False),
        ("REBOOK", "rebook_request", False),
        ("STOP", "opt_out", False),
        ("stop.", "opt_out", False),
        ("  Stop!! ", "opt_out", False),
        ("Stopall", "opt_out", False),
        ("UNSUBSCRIBE", "opt_out", False),
        ("cancel", "opt_out", False),
        ("End", "opt_out", False),
        ("quit", "opt_out", False),
        ("START", "opt_in", False),
        ("yes", "opt_in", False),
        ("Unstop", "opt_in", False),
        ("HELP", "help", False),
        ("info?", "help", False),
        # Carrier keywords count only alone, as Twilio and the carriers read them.
        ("Cancel my appointment on Tuesday", "other", False),
        ("Stop sending me these", "other", False),
        ("Help, my cheek is swollen", "other", False),
        ("Can I come earlier?", "other", False),
        ("", "other", False),
        ("👍", "other", False),
    ],
)
def test_what_a_text_asks_for_is_read_from_its_words(text: str, intent: str, has_more: bool) -> None:
    read = read_text(text)
    assert (read.intent, read.has_more) == (intent, has_more)


# --- confirm ---------------------------------------------------------------------------------------


def test_c_confirms_the_next_booked_session_and_the_patient_is_told_at_once_even_at_night(
    client, twilio, provider: Path, amelia, amelias_course, practitioner, room, clock
) -> None:
    later = book(amelias_course, practitioner, room, next_week(18))
    sooner = book(amelias_course, practitioner, room, next_week(4))
    clock.move_to(local(LONDON, 3, 2, 23, 15))  # inside quiet hours (20:00-09:00)

    message = text_in(client, "C")

    sooner.refresh_from_db()
    later.refresh_from_db()
    assert sooner.confirmed_at == timezone.now()
    assert later.confirmed_at is None
    assert (message.intent, message.session, message.is_open) == (InboundIntent.CONFIRM, sooner, False)
    assert message.handled_by_label == "system"
    assert sooner.history.latest().history_actor == "patient:SMS reply"
    [reply] = replies_to(message)
    assert (reply.kind, reply.channel, reply.status, reply.session) == (
        MessageKind.CONFIRM_REPLY,
        Channel.SMS,
        MessageStatus.PENDING,
        sooner,
    )
    assert reply.due_at == timezone.now()
    assert "Marylebone: thank you, your appointment on Wednesday 4 March 2026 at 10:00 is confirmed." in reply.body
    assert CLINIC_PHONE in reply.body

    dispatch_due()

    assert recorded_ids(provider) == [str(reply.pk)]
    reply.refresh_from_db()
    assert (reply.status, reply.to_address) == (MessageStatus.SENT, AMELIA)


def test_confirming_twice_keeps_the_first_confirmation(
    client, twilio, amelia, amelias_course, practitioner, room, clock
) -> None:
    session = book(amelias_course, practitioner, room, next_week(4))
    text_in(client, "C")
    first = Session.objects.get(pk=session.pk).confirmed_at
    clock.shift(timedelta(hours=2))

    text_in(client, "Confirmed")

    assert Session.objects.get(pk=session.pk).confirmed_at == first


def test_c_with_nothing_booked_ahead_waits_in_the_inbox_unanswered(
    client, twilio, amelia, amelias_course, practitioner, room, clock
) -> None:
    past = book(amelias_course, practitioner, room, next_week(3))
    clock.move_to(next_week(5))

    message = text_in(client, "C")

    assert (message.intent, message.session, message.is_open) == (InboundIntent.CONFIRM, None, True)
    assert open_inbox() == [message]
    assert replies_to(message) == []
    assert Session.objects.get(pk=past.pk).confirmed_at is None


def test_c_with_more_words_confirms_and_still_puts_the_words_before_a_person(
    client, twilio, amelia, amelias_course, practitioner, room, clock
) -> None:
    session = book(amelias_course, practitioner, room, next_week(4))

    message = text_in(client, "C but I may be 10 min late")

    assert Session.objects.get(pk=session.pk).confirmed_at is not None
    assert (message.session, message.is_open) == (session, True)
    assert len(replies_to(message)) == 1


# --- rebook, anything else ------------------------------------------------------------------------


def test_r_asks_to_rebook_it_goes_to_the_inbox_with_the_session_and_nothing_is_cancelled(
    client, twilio, amelia, amelias_course, practitioner, room, clock
) -> None:
    session = book(amelias_course, practitioner, room, next_week(4))
    pending_before = ScheduledMessage.objects.filter(status=MessageStatus.PENDING).count()

    message = text_in(client, "R")

    assert (message.intent, message.patient, message.session, message.is_open) == (
        InboundIntent.REBOOK_REQUEST,
        amelia,
        session,
        True,
    )
    assert open_inbox() == [message]
    session.refresh_from_db()
    assert (session.status, session.starts_at, session.confirmed_at) == (SessionStatus.BOOKED, next_week(4), None)
    assert replies_to(message) == []
    assert ScheduledMessage.objects.filter(status=MessageStatus.PENDING).count() == pending_before


def test_cancel_means_stop_texts_never_cancel_the_appointment(
    client, twilio, amelia, amelias_course, practitioner, room, clock
) -> None:
    session = book(amelias_course, practitioner, room, next_week(4))

    message = text_in(client, "CANCEL")

    assert message.intent == InboundIntent.OPT_OUT
    assert Session.objects.get(pk=session.pk).status == SessionStatus.BOOKED
    assert not patient_has_consent(patient=amelia, kind=ConsentKind.SERVICE_MESSAGES)


def test_any_other_text_waits_in_the_inbox_linked_to_the_next_session(
    client, twilio, amelia, amelias_course, practitioner, room, clock
) -> None:
    booked = book(amelias_course, practitioner, room, next_week(4))

    message = text_in(client, "Can I bring my sister along?")

    assert (message.intent, message.patient, message.session, message.match, message.is_open) == (
        InboundIntent.OTHER,
        amelia,
        booked,
        SenderMatch.MATCHED,
        True,
    )
    assert message.history.get().history_actor == "patient:SMS reply"


def test_any_other_text_with_nothing_booked_is_linked_to_the_latest_session(
    client, twilio, amelia, amelias_course, practitioner, room, clock
) -> None:
    session = book(amelias_course, practitioner, room, next_week(3))
    clock.move_to(session.ends_at)
    services.session_complete(session=session, actor=practitioner.user)
    clock.shift(timedelta(days=1))

    message = text_in(client, "Help, my cheek is still swollen")

    assert (message.intent, message.session, message.is_open) == (InboundIntent.OTHER, session, True)
    assert replies_to(message) == []


# --- STOP, START, HELP ----------------------------------------------------------------------------


def test_stop_revokes_consent_and_then_no_text_reaches_the_provider(
    client, twilio, provider: Path, location, practitioner, room, clock
) -> None:
    patient = consenting_patient(first_name="Grace", phone=AMELIA, preferred_channel=ContactChannel.SMS)
    course = CourseFactory(patient=patient, location=location, protocol=mesotherapy_protocol())
    session = book(course, practitioner, room, next_week(4))
    reminder = ScheduledMessage.objects.get(session=session, kind=MessageKind.APPOINTMENT_REMINDER)
    assert reminder.channel == Channel.SMS

    message = text_in(client, "STOP")

    assert (message.intent, message.is_open, message.handled_by_label) == (InboundIntent.OPT_OUT, False, "system")
    assert not patient_has_consent(patient=patient, kind=ConsentKind.SERVICE_MESSAGES)
    revoked = Consent.objects.get(patient=patient, kind=ConsentKind.SERVICE_MESSAGES)
    assert revoked.history.latest().history_actor == "patient:SMS reply"
    assert replies_to(message) == []  # the carrier confirms the opt-out itself

    clock.move_to(reminder.due_at)
    dispatch_due()
    text_in(client, "C")  # a confirmation is not answered either
    dispatch_due()

    assert recorded_ids(provider) == []
    reminder.refresh_from_db()
    assert (reminder.status, reminder.suppressed_reason) == (MessageStatus.SUPPRESSED, SuppressionReason.NO_CONSENT)


def test_start_gives_consent_again_and_the_patient_is_told(
    client, twilio, provider: Path, amelia, amelias_course, practitioner, room, clock
) -> None:
    text_in(client, "STOP")
    clock.shift(timedelta(minutes=5))

    message = text_in(client, "Start")

    assert (message.intent, message.is_open) == (InboundIntent.OPT_IN, False)
    consent = Consent.objects.get(patient=amelia, kind=ConsentKind.SERVICE_MESSAGES, revoked_at__isnull=True)
    assert (consent.kind, consent.version) == (ConsentKind.SERVICE_MESSAGES, "sms-start")
    assert consent.history.get().history_actor == "patient:SMS reply"
    [reply] = replies_to(message)
    assert reply.kind == MessageKind.OPT_IN_REPLY
    assert "Reply STOP" in reply.body
    dispatch_due()
    assert recorded_ids(provider) == [str(reply.pk)]


def test_start_while_consent_is_in_force_changes_no_consent(client, twilio, amelia) -> None:
    before = list(Consent.objects.values_list("pk", "revoked_at"))

    message = text_in(client, "YES")

    assert list(Consent.objects.values_list("pk", "revoked_at")) == before
    assert message.handled_note == "Texts resumed: service-message consent was already in force."
    assert len(replies_to(message)) == 1


def test_help_is_answered_with_the_clinic_and_how_to_opt_out_even_without_consent(
    client, twilio, provider: Path, location, clock
) -> None:
    patient = PatientFactory(phone=AMELIA)  # never consented to our texts
    CourseFactory(patient=patient, location=location, protocol=mesotherapy_protocol())

    message = text_in(client, "HELP")

    assert (message.intent, message.is_open) == (InboundIntent.HELP, False)
    [reply] = replies_to(message)
    assert reply.kind == MessageKind.HELP_REPLY
    assert reply.body.startswith("Marylebone: ")
    assert f"Call {CLINIC_PHONE}" in reply.body and "STOP to stop" in reply.body
    clock.move_to(local(LONDON, 3, 2, 22))  # any hour
    dispatch_due()
    assert recorded_ids(provider) == [str(reply.pk)]


def test_help_after_stop_is_not_sent_to_a_number_the_provider_blocks(
    client, twilio, provider: Path, amelia, clock
) -> None:
    text_in(client, "STOP")

    message = text_in(client, "HELP")

    [reply] = replies_to(message)
    assert (reply.status, reply.suppressed_reason) == (MessageStatus.SUPPRESSED, SuppressionReason.NO_CONSENT)
    dispatch_due()
    assert recorded_ids(provider) == []


# --- who sent it ------------------------------------------------------------------------------------


def test_a_text_from_an_unknown_number_is_recorded_unmatched(client, twilio, amelia) -> None:
    message = text_in(client, "C", sender="+447700900999")

    assert (message.patient, message.session, message.match, message.is_open) == (
        None,
        None,
        SenderMatch.UNKNOWN_NUMBER,
        True,
    )
    assert message.from_number == "+447700900999"
    assert replies_to(message) == []


def test_the_same_number_written_another_way_is_not_a_match(client, twilio, amelia) -> None:
    message = text_in(client, "C", sender="07700 900123")

    assert (message.patient, message.match) == (None, SenderMatch.UNKNOWN_NUMBER)


def test_an_erased_patient_is_never_matched(client, twilio, amelia) -> None:
    patient_erase(patient=amelia, actor=None)
    Patient.objects.filter(pk=amelia.pk).update(phone=AMELIA)  # even if the number were still there

    message = text_in(client, "STOP")

    assert (message.patient, message.match) == (None, SenderMatch.UNKNOWN_NUMBER)


def test_a_number_on_two_records_is_not_guessed(
    client, twilio, amelia, amelias_course, practitioner, room, location, clock
) -> None:
    partner = consenting_patient(first_name="Tom", last_name="Hart", phone=AMELIA)
    session = book(amelias_course, practitioner, room, next_week(4))

    message = text_in(client, "C")

    assert (message.patient, message.session, message.match, message.is_open) == (
        None,
        None,
        SenderMatch.SHARED_NUMBER,
        True,
    )
    assert Session.objects.get(pk=session.pk).confirmed_at is None
    assert replies_to(message) == []
    assert patient_has_consent(patient=partner, kind=ConsentKind.SERVICE_MESSAGES)


def test_stop_from_a_number_on_two_records_stops_texts_to_both(client, twilio, amelia) -> None:
    partner = consenting_patient(first_name="Tom", last_name="Hart", phone=AMELIA)

    message = text_in(client, "STOP")

    assert (message.patient, message.match, message.is_open) == (None, SenderMatch.SHARED_NUMBER, False)
    assert not patient_has_consent(patient=amelia, kind=ConsentKind.SERVICE_MESSAGES)
    assert not patient_has_consent(patient=partner, kind=ConsentKind.SERVICE_MESSAGES)


# --- Twilio's retries -----------------------------------------------------------------------------


def test_a_second_delivery_of_the_same_text_changes_nothing(
    client, twilio, amelia, amelias_course, practitioner, room, clock
) -> None:
    book(amelias_course, practitioner, room, next_week(4))
    fields = fields_for("C")
    assert post(client, fields).status_code == 200
    stored = InboundMessage.objects.get()
    outbox_before = list(ScheduledMessage.objects.order_by("pk").values_list("pk", "status", "updated_at"))
    history_before = InboundMessage.history.count()
    clock.shift(timedelta(seconds=15))

    again = post(client, fields)

    assert again.status_code == 200
    assert list(InboundMessage.objects.values_list("pk", "updated_at")) == [(stored.pk, stored.updated_at)]
    assert InboundMessage.history.count() == history_before
    assert list(ScheduledMessage.objects.order_by("pk").values_list("pk", "status", "updated_at")) == outbox_before


@pytest.mark.django_db(transaction=True)
def test_two_deliveries_of_one_text_at_the_same_moment_store_and_act_once(live_server, settings, monkeypatch) -> None:
    """Two real requests, each past the "already stored?" read before either writes: the unique index makes the
    second wait for the first and then change nothing (a STOP acted on twice would fail: already revoked)."""
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.SITE_URL = live_server.url
    patient = PatientFactory(phone=AMELIA)
    ConsentFactory(patient=patient, kind=ConsentKind.SERVICE_MESSAGES)
    fields = fields_for("STOP")
    signature = signature_of(fields, url=live_server.url + PATH)
    both_read = threading.Barrier(2, timeout=20)
    real_lookup = inbox.patients_at_number

    def lookup_then_meet(number: str, **kwargs: Any) -> list[Patient]:
        found = real_lookup(number, **kwargs)
        if not kwargs:  # the sender's lookup, after the check for a stored copy
            both_read.wait()
        return found

    monkeypatch.setattr(inbox, "patients_at_number", lookup_then_meet)

    def deliver(_: int) -> int:
        response = requests.post(
            live_server.url + PATH,
            data=fields,
            headers={"X-Twilio-Signature": signature},
            timeout=60,
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = list(pool.map(deliver, range(2)))

    assert statuses == [200, 200]
    assert InboundMessage.objects.count() == 1
    consent = Consent.objects.get(patient=patient)
    assert consent.revoked_at is not None
    assert [h.history_type for h in consent.history.order_by("history_date")] == ["+", "~"]


# --- the front desk handles what is left -----------------------------------------------------------


def test_staff_mark_a_message_handled_with_a_note_once(client, twilio, amelia) -> None:
    message = text_in(client, "Can I bring my sister along?")
    desk = UserFactory(username="reception")

    handled = inbound_message_handle(message=message, note="Called back: yes.", actor=desk)

    assert (handled.is_open, handled.handled_by, handled.handled_by_label, handled.handled_note) == (
        False,
        desk,
        "reception",
        "Called back: yes.",
    )
    assert handled.history.latest().history_actor == "reception"
    with pytest.raises(InvalidState, match="already handled by reception"):
        inbound_message_handle(message=message, note="Again", actor=UserFactory(username="other"))
    with pytest.raises(NotPermitted):
        inbound_message_handle(message=message, actor=PatientActor(patient_id=amelia.pk, door="SMS reply"))


def test_the_aftercare_page_files_a_booking_request_into_the_same_inbox(amelia) -> None:
    message = inbound_message_file(
        patient=amelia,
        intent=InboundIntent.BOOKING_REQUEST,
        body="Please book my next session, mornings suit me.",
        actor=PatientActor(patient_id=amelia.pk, door="aftercare page"),
    )

    assert (message.channel, message.intent, message.patient, message.match, message.is_open) == (
        "web",
        InboundIntent.BOOKING_REQUEST,
        amelia,
        SenderMatch.MATCHED,
        True,
    )
    assert message.history.get().history_actor == "patient:aftercare page"
    with pytest.raises(ValidationError):
        inbound_message_file(patient=amelia, intent=InboundIntent.OPT_OUT, actor=None)


# --- erasure --------------------------------------------------------------------------------------


def test_erasing_a_patient_blanks_their_texts_and_number_in_the_inbox_and_its_history(client, twilio, amelia) -> None:
    # Before her number was on her record, a text from it was recorded as from an unknown number.
    Patient.objects.filter(pk=amelia.pk).update(phone="+447700900555")
    unmatched = text_in(client, "Hi, this is Amelia's new number")
    Patient.objects.filter(pk=amelia.pk).update(phone=AMELIA)
    mine = text_in(client, "My cheek is still red, is that normal?")
    inbound_message_handle(message=mine, note="Told Amelia Hart it settles.", actor=UserFactory())
    someone_else = text_in(client, "Hello", sender="+447700900777")
    assert (unmatched.match, mine.match) == (SenderMatch.UNKNOWN_NUMBER, SenderMatch.MATCHED)

    patient_erase(patient=amelia, actor=None)

    for message in (mine, unmatched):
        message.refresh_from_db()
        assert (message.body, message.from_number, message.handled_note) == ("", "", "")
    assert (mine.patient_id, mine.intent, mine.is_open) == (amelia.pk, InboundIntent.OTHER, False)  # the skeleton
    history = InboundMessage.history.filter(id__in=[mine.pk, unmatched.pk])
    assert history.count() >= 3
    assert list(history.exclude(body="", from_number="", handled_note="")) == []
    someone_else.refresh_from_db()
    assert (someone_else.body, someone_else.from_number) == ("Hello", "+447700900777")


def test_a_patients_export_holds_their_texts(client, twilio, amelia) -> None:
    message = text_in(client, "Can I bring my sister along?")

    export = patient_export(patient=amelia, actor=None)

    assert [(m["id"], m["body"], m["intent"]) for m in export["inbound_messages"]] == [
        (str(message.pk), "Can I bring my sister along?", "other")
    ]


# --- the session's own service ---------------------------------------------------------------------


def test_a_cancelled_or_started_session_cannot_be_confirmed_and_a_patient_confirms_only_their_own(
    amelia, amelias_course, practitioner: Practitioner, room: Room, clock
) -> None:
    themself = PatientActor(patient_id=amelia.pk, door="SMS reply")
    cancelled = book(amelias_course, practitioner, room, next_week(4))
    services.session_cancel(session=cancelled, reason="patient_request", actor=None)
    with pytest.raises(InvalidState):
        services.session_confirm(session=cancelled, actor=themself)

    today = book(amelias_course, practitioner, room, next_week(2, 11))
    clock.move_to(today.starts_at + timedelta(minutes=5))
    with pytest.raises(ValidationError):
        services.session_confirm(session=today, actor=themself)

    someone_elses = book(CourseFactory(location=amelias_course.location), practitioner, room, next_week(5))
    with pytest.raises(NotPermitted):
        services.session_confirm(session=someone_elses, actor=themself)
    assert not Session.objects.filter(confirmed_at__isnull=False).exists()


def test_moving_a_confirmed_session_to_another_time_needs_a_new_confirmation(
    client, twilio, amelia, amelias_course, practitioner: Practitioner, room: Room, clock
) -> None:
    session = book(amelias_course, practitioner, room, next_week(4))
    text_in(client, "C")
    other_room = RoomFactory(location=room.location, name="Room 2")

    services.session_reschedule(session=session, starts_at=next_week(4), room=other_room, actor=None)
    assert Session.objects.get(pk=session.pk).confirmed_at is not None  # same time, another room
    services.session_reschedule(session=session, starts_at=next_week(5), actor=None)

    assert Session.objects.get(pk=session.pk).confirmed_at is None
