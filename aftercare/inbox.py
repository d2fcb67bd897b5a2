"""The front desk's inbox: every message a patient sends in, acted on where the system can, the rest for a person.

A text (`inbound_sms_receive`, from the SMS provider's webhook) or a request
from the patient's aftercare page (`inbound_message_file`) is stored first,
whatever it says, then acted on:

- confirm ("C"): the patient's next booked session is confirmed
  (`Session.confirmed_at`) and the patient is told. Left for a person when
  nothing is booked ahead, or when words follow the keyword;
- rebook ("R"): nothing is cancelled or moved; always left for a person
  (the desk calls), linked to the next booked session;
- opt out ("STOP", "CANCEL"…): service-message consent is revoked and nothing
  more is sent; the carrier confirms the opt-out itself;
- opt in ("START"): service-message consent is given again ("sms-start") and
  the patient is told;
- help ("HELP"): the patient is told the clinic's name, number and how to
  opt out;
- anything else, and a booking request from the aftercare page: always left
  for a person, linked to the next booked session, else the latest one.

What the system did by itself is recorded as handled (by "system", with a
note saying what); the rest stays open until someone marks it handled
(`inbound_message_handle`).

Who sent a text is read from its number, exactly: the one patient whose
phone on record is that E.164 number (patients.selectors.patients_at_number).
A number nobody has is recorded as unknown and a number on several records
as shared, never attributed by a guess; either stays open for a person,
except an opt-out. An opt-out from a shared number revokes the consent of
every patient at that number: the provider blocks the number whoever sent
it, so nothing could reach any of them there anyway.

Answers (confirmation, START, HELP) go through the outbox as SMS, due now,
at any hour (the patient just wrote to us), and the dispatcher is woken
after commit. The confirmation needs service-message consent like any
message to a patient; the START answer has it by then; the HELP answer is
sent without it, as carriers require, unless the number's last keyword was
STOP (the provider would refuse it: Twilio's error 21610), when it is
written suppressed. See aftercare.dispatch (ANY_HOUR_KINDS, CONSENT_FREE_KINDS).

The provider retries a webhook that timed out: a text is stored once per
provider message id (a unique index), and a second delivery, even one
running at the same moment, changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from aftercare.dispatch import INBOUND_REPLY_KINDS
from aftercare.inbound_keywords import ReadText, read_text
from aftercare.models import (
    Channel,
    InboundChannel,
    InboundIntent,
    InboundMessage,
    MessageKind,
    PromptTemplate,
    ScheduledMessage,
    SenderMatch,
    SuppressionReason,
)
from aftercare.outbox import DISPATCH_TASK, cancel_pending, new_message
from aftercare.rendering import message_context, template_for
from aftercare.selectors import number_opted_out
from clinic.actors import Actor, PatientActor, actor_label, is_patient, staff_user
from clinic.audit import acting_as, records_actor
from clinic.errors import DomainError, InvalidState, NotPermitted
from clinic.queue import wake_after_commit
from patients.models import ConsentKind, Patient
from patients.selectors import patient_has_consent, patients_at_number
from patients.services import consent_give, service_messages_stop
from treatments.models import Course, Session
from treatments.selectors import patient_latest_session, patient_next_booked_session
from treatments.services import session_confirm

SMS_DOOR = "SMS reply"
# Twilio delivers at most 1,600 characters a message; a longer body is kept cut to this, never refused.
BODY_MAX_CHARS = 1_600
TRUNCATED = " […]"
# The consent wording a START restores.
OPT_IN_CONSENT_VERSION = "sms-start"
# How many patients a STOP from a shared number can reach (a family's phone; more would be a data problem).
SHARED_NUMBER_LIMIT = 20

# What the aftercare page may file (carrier keywords belong to the phone).
FILED_INTENTS = (
    InboundIntent.CONFIRM,
    InboundIntent.REBOOK_REQUEST,
    InboundIntent.BOOKING_REQUEST,
    InboundIntent.OTHER,
)


def _storable(text: str) -> str:
    # PostgreSQL's text cannot hold NUL; no SMS carries one.
    return text.replace("\x00", "")


def bounded_body(text: str) -> str:
    """`text` as stored: cut to BODY_MAX_CHARS (marked as cut) when longer."""
    text = _storable(text)
    if len(text) <= BODY_MAX_CHARS:
        return text
    return text[: BODY_MAX_CHARS - len(TRUNCATED)] + TRUNCATED


@transaction.atomic
def inbound_sms_receive(
    *,
    from_number: str,
    body: str,
    provider_message_id: str = "",
    to_number: str = "",
    received_at: datetime | None = None,
) -> InboundMessage:
    """Store a text from `from_number` and act on what it says (see the module's table); return its row.

    The sender acts as themself (PatientActor through the "SMS reply" door)
    when the number is on exactly one patient's record, else the system acts.
    A text whose `provider_message_id` is already stored is not stored or
    acted on again: the stored row is returned.
    """
    provider_message_id = _storable(provider_message_id.strip())[:64]
    if provider_message_id:
        stored = InboundMessage.objects.filter(provider_message_id=provider_message_id).first()
        if stored is not None:
            return stored
    number = _storable(from_number.strip())[:32]
    read = read_text(body)
    found = patients_at_number(number)
    patient = found[0] if len(found) == 1 else None
    match = SenderMatch.MATCHED if patient else (SenderMatch.SHARED_NUMBER if found else SenderMatch.UNKNOWN_NUMBER)
    message = InboundMessage(
        channel=InboundChannel.SMS,
        from_number=number,
        to_number=_storable(to_number.strip())[:32],
        body=bounded_body(body),
        provider_message_id=provider_message_id,
        received_at=received_at or timezone.now(),
        patient=patient,
        intent=read.intent,
        match=match,
    )
    actor = PatientActor(patient_id=patient.pk, door=SMS_DOOR) if patient else None
    with acting_as(actor):
        if patient is not None:
            _decide_for_patient(message, read, patient)
            if not _stored_once(message):
                return InboundMessage.objects.get(provider_message_id=message.provider_message_id)
            _act_for_patient(message, read, patient, actor=actor)
        else:
            _decide_for_unmatched(message, read)
            if not _stored_once(message):
                return InboundMessage.objects.get(provider_message_id=message.provider_message_id)
            if read.intent == InboundIntent.OPT_OUT and match == SenderMatch.SHARED_NUMBER:
                for person in patients_at_number(number, limit=SHARED_NUMBER_LIMIT):
                    _revoke_service_messages(person, actor=None)
    return message


@records_actor
@transaction.atomic
def inbound_message_file(
    *,
    patient: Patient,
    intent: str,
    actor: Actor,
    body: str = "",
    session: Session | None = None,
    channel: str = InboundChannel.WEB,
) -> InboundMessage:
    """File a message from a patient known by the door it came through (their aftercare page's signed link).

    `intent` is what the page asked for: confirm, rebook_request,
    booking_request or other (carrier keywords belong to the phone). It is
    acted on as a text saying the same would be, without the answer by SMS:
    the page shows its own.
    """
    if intent not in FILED_INTENTS:
        raise ValidationError({"intent": f"A message filed from the {channel} cannot be {intent!r}."})
    if session is not None and session.course.patient_id != patient.pk:
        raise ValidationError({"session": "This session belongs to another patient."})
    if patient.erased_at is not None:
        raise InvalidState("This patient's personal data is erased.", field="patient")
    read = ReadText(intent, "", bool(body.strip()))
    message = InboundMessage(
        channel=channel,
        body=bounded_body(body),
        received_at=timezone.now(),
        patient=patient,
        session=session,
        intent=intent,
        match=SenderMatch.MATCHED,
    )
    _decide_for_patient(message, read, patient)
    message.save()
    _act_for_patient(message, read, patient, actor=actor)
    return message


@records_actor
@transaction.atomic
def inbound_message_handle(*, message: InboundMessage, actor: Actor, note: str = "") -> InboundMessage:
    """A person marks a message handled, with a note of what was done (optional). Return it.

    Raise InvalidState if it is handled already (by someone else, or by the
    system): the first handling, and its note, stay.
    """
    if actor is None or is_patient(actor):
        raise NotPermitted("Messages in the inbox are handled by the clinic's staff.", field="handled_by")
    note = note.strip()
    if len(note) > 2_000:
        raise ValidationError({"note": "Keep the note under 2,000 characters."})
    message = InboundMessage.objects.select_for_update().get(pk=message.pk)
    if message.handled_at is not None:
        raise InvalidState(f"This message was already handled by {message.handled_by_label}.", field="handled_at")
    message.handled_at = timezone.now()
    message.handled_by = staff_user(actor)
    message.handled_by_label = actor_label(actor)
    message.handled_note = note
    message.save()
    return message


@transaction.atomic
def inbound_messages_erase(*, patient: Patient, phone: str = "") -> int:
    """Erasure: no text of the patient's, nor the number it came from, stays (in the audit history neither).

    `phone` is the number the patient had before their record was
    anonymised: texts from it that were never matched to them (an unknown or
    shared number at the time) are blanked too. The skeleton (when, which
    channel, what it asked for, how it was handled) stays. Return how many
    messages were blanked.
    """
    messages = InboundMessage.objects.filter(patient=patient)
    if phone:
        messages = messages | InboundMessage.objects.filter(patient__isnull=True, from_number=phone)
    ids = list(messages.values_list("pk", flat=True))
    blank = {"body": "", "from_number": "", "handled_note": ""}
    InboundMessage.objects.filter(pk__in=ids).update(**blank, updated_at=timezone.now())
    InboundMessage.history.filter(id__in=ids).update(**blank)
    return len(ids)


# --- deciding and acting -------------------------------------------------------------------------


def _stored_once(message: InboundMessage) -> bool:
    """Insert `message`; False when another delivery of the same provider message got there first.

    The unique index makes a concurrent insert wait for the other transaction
    and then fail, so exactly one is stored and acted on. A savepoint keeps
    this transaction usable to read the winner.
    """
    try:
        with transaction.atomic():
            message.save(force_insert=True)
    except IntegrityError:
        if not message.provider_message_id:
            raise
        return False
    return True


def _system_handled(message: InboundMessage, note: str) -> None:
    message.handled_at = timezone.now()
    message.handled_by = None
    message.handled_by_label = actor_label(None)
    message.handled_note = note


def _decide_for_unmatched(message: InboundMessage, read: ReadText) -> None:
    """A text nobody (or several people) may have sent: open for a person, except an opt-out."""
    if read.intent != InboundIntent.OPT_OUT:
        return
    if message.match == SenderMatch.SHARED_NUMBER:
        _system_handled(message, "Texts stopped for every patient with this number (it is on several records).")
    else:
        _system_handled(message, "No patient has this number: no consent to revoke (the provider blocks it).")


def _decide_for_patient(message: InboundMessage, read: ReadText, patient: Patient) -> None:
    """Link the message to its session and say whether the system deals with it (before it is stored)."""
    intent = read.intent
    if intent in (InboundIntent.CONFIRM, InboundIntent.REBOOK_REQUEST, InboundIntent.BOOKING_REQUEST):
        message.session = message.session or patient_next_booked_session(patient_id=patient.pk)
    elif intent == InboundIntent.OTHER:
        message.session = (
            message.session
            or patient_next_booked_session(patient_id=patient.pk)
            or patient_latest_session(patient_id=patient.pk)
        )
    if intent == InboundIntent.CONFIRM and message.session is not None and not read.has_more:
        _system_handled(message, f"Confirmed the appointment on {message.session.local_start_text()}.")
    elif intent == InboundIntent.OPT_OUT:
        _system_handled(message, "Texts stopped: service-message consent revoked.")
    elif intent == InboundIntent.OPT_IN:
        _system_handled(message, "Texts resumed: service-message consent given again.")
    elif intent == InboundIntent.HELP:
        _system_handled(message, "Answered with the clinic's details and how to opt out.")


def _act_for_patient(message: InboundMessage, read: ReadText, patient: Patient, *, actor: Actor) -> None:
    """Do what the stored message asks, as far as the system does it (see the module's table)."""
    intent = message.intent
    if intent == InboundIntent.CONFIRM and message.session is not None:
        _confirm(message, message.session, actor=actor)
    elif intent == InboundIntent.OPT_OUT:
        if not _revoke_service_messages(patient, actor=actor):
            _note(message, "Texts stopped: no service-message consent was in force.")
        # An answer still waiting would reach a number the provider now blocks.
        cancel_pending(ScheduledMessage.objects.filter(patient=patient, kind__in=INBOUND_REPLY_KINDS))
    elif intent == InboundIntent.OPT_IN:
        if not patient_has_consent(patient=patient, kind=ConsentKind.SERVICE_MESSAGES):
            consent_give(
                patient=patient, kind=ConsentKind.SERVICE_MESSAGES, version=OPT_IN_CONSENT_VERSION, actor=actor
            )
        else:
            _note(message, "Texts resumed: service-message consent was already in force.")
        _reply(message, MessageKind.OPT_IN_REPLY, patient)
    elif intent == InboundIntent.HELP:
        _reply(message, MessageKind.HELP_REPLY, patient, opted_out=number_opted_out(message.from_number))


def _confirm(message: InboundMessage, session: Session, *, actor: Actor) -> None:
    try:
        with transaction.atomic():
            session_confirm(session=session, actor=actor)
    except (DomainError, ValidationError) as error:
        # Cancelled or started since it was read: a person sorts it out.
        text = error.message if isinstance(error, DomainError) else " ".join(error.messages)
        message.handled_at = None
        message.handled_by_label = ""
        message.handled_note = f"Not confirmed: {text}"
        message.save(update_fields=["handled_at", "handled_by_label", "handled_note", "updated_at"])
        return
    if message.channel == InboundChannel.SMS:
        _reply(message, MessageKind.CONFIRM_REPLY, message.patient, session=session)


def _note(message: InboundMessage, note: str) -> None:
    message.handled_note = note
    message.save(update_fields=["handled_note", "updated_at"])


def _revoke_service_messages(patient: Patient, *, actor: Actor) -> bool:
    """Revoke the patient's service-message consent (as the unsubscribe link does); False when none was in force."""
    return service_messages_stop(patient=patient, actor=actor) is not None


def _reply(
    message: InboundMessage,
    kind: str,
    patient: Patient | None,
    *,
    session: Session | None = None,
    opted_out: bool = False,
) -> ScheduledMessage | None:
    """Write the answer to `message` to the outbox as an SMS due now, at any hour, and wake the dispatcher.

    It speaks for the location of the session it is about, else of the
    patient's latest course (else the clinic's settings). One answer per
    message: the dedupe key is the message's id.
    """
    if patient is None or message.channel != InboundChannel.SMS:
        return None
    course: Course | None = session.course if session is not None else _latest_course(patient)
    answer, _ = new_message(
        dedupe_key=f"inbound_reply:{message.pk}",
        kind=kind,
        patient=patient,
        channel=Channel.SMS,
        template=template_for(PromptTemplate.objects.filter(kind=kind), Channel.SMS, patient.language),
        context=lambda: message_context(patient=patient, course=course, session=session),
        due_at=timezone.now(),
        course=course,
        session=session,
        defer_quiet=False,  # an answer to the patient's own text is expected now, at any hour
        suppressed_reason=SuppressionReason.NO_CONSENT if opted_out else "",
    )
    wake_after_commit(DISPATCH_TASK)
    return answer


def _latest_course(patient: Patient) -> Course | None:
    return Course.objects.filter(patient=patient).select_related("location").order_by("-created_at").first()
