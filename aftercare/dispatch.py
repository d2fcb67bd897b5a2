"""The dispatcher: claims due outbox rows and hands them to their channel.

Claiming, finishing and recovery are `clinic.outbox`'s: a short claim with
SELECT … FOR UPDATE SKIP LOCKED, sending outside any transaction, and an
outcome written only while the claim still holds. A dispatcher that dies
mid-batch leaves rows in `sending`; after the lease they are put back, so a
crash costs at most one duplicate per row that was in flight. A database
restart in the middle of a batch costs none: the outcomes wait for it to
come back (RECORD_PATIENCE_SECONDS). Each claim spends one attempt; a
deferral for quiet hours gives it back.

Every way a send can go wrong ends within AFTERCARE_MAX_ATTEMPTS: a
transient error and an unexpected exception are retried with back-off until
then, a permanent error fails at once. Logs name rows by id and errors by
class and place, never by message: an error's text often quotes the
address, the subject or the body, which is patient data.
"""

from __future__ import annotations

import logging
import time as monotonic_time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple
from uuid import UUID
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext

from aftercare import timing
from aftercare.booking_notices import NOTICE_KINDS, notice_calendar_attachment
from aftercare.channels import OutgoingMessage, PermanentError, TransientError
from aftercare.channels.email import EmailTransport
from aftercare.channels.sms import SmsTransport, sms_transport
from aftercare.contact import clinic_contact
from aftercare.email_layout import patient_email
from aftercare.models import Channel, MessageKind, MessageStatus, ScheduledMessage, SuppressionReason
from aftercare.rendering import locale_of
from aftercare.sms_text import gsm7_fold
from clinic.logs import exception_origin
from clinic.outbox import Claim, Outbox
from patients.models import ConsentKind
from patients.selectors import patient_has_consent, patient_ids_with_consent
from treatments.models import Location

logger = logging.getLogger(__name__)


@dataclass
class DispatchResult:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    suppressed: int = 0
    deferred: int = 0
    lost_claims: int = 0
    recovered: int = 0
    errors: list[str] = field(default_factory=list)


def retry_delay(attempts: int) -> timedelta:
    """Exponential back-off: base × 2^(attempts-1), capped."""
    seconds = settings.AFTERCARE_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.AFTERCARE_RETRY_MAX_SECONDS))


MESSAGE_OUTBOX = Outbox(
    model=ScheduledMessage,
    due_field="due_at",
    lease=lambda: timedelta(seconds=settings.AFTERCARE_SENDING_LEASE_SECONDS),
    pending=MessageStatus.PENDING,
    sending=MessageStatus.SENDING,
    updated_field="updated_at",
)


def recover_stale_claims(*, now: datetime | None = None) -> int:
    """Put rows stuck in `sending` past the lease back to `pending`; return how many."""
    return MESSAGE_OUTBOX.recover_stale_claims(now=now or timezone.now())


def claim_due(*, now: datetime, limit: int) -> list[Claim]:
    """Claim up to `limit` due pending rows for this dispatcher, spending one attempt on each.

    Return the claims as (id, claimed_at) pairs, earliest due first.
    """
    return MESSAGE_OUTBOX.claim(now=now, limit=limit, attempts=F("attempts") + 1)


# To clinicians, at the address on the row: the patient's consent and quiet hours do not apply.
STAFF_KINDS = frozenset({MessageKind.RED_FLAG_ALERT})
# Answers to a text the patient just sent us (aftercare.inbox): expected now, whatever the hour.
INBOUND_REPLY_KINDS = frozenset({MessageKind.CONFIRM_REPLY, MessageKind.OPT_IN_REPLY, MessageKind.HELP_REPLY})
# To the patient, under their consent, but at any hour: advice after reporting a red flag cannot wait for
# morning, and nor can the answer to their own text.
ANY_HOUR_KINDS = frozenset({MessageKind.RED_FLAG_ALERT, MessageKind.RED_FLAG_REPLY, *INBOUND_REPLY_KINDS})
# To the patient without their service-message consent: carriers require a HELP text to be answered whether
# or not the patient takes our texts. (After a STOP the answer is written suppressed instead, aftercare.inbox:
# the provider blocks the number, and sending would fail with Twilio's error 21610.)
CONSENT_FREE_KINDS = frozenset({MessageKind.HELP_REPLY})


def _address(message: ScheduledMessage) -> str:
    if message.kind in STAFF_KINDS:
        return message.to_address.strip()
    patient = message.patient
    if message.channel == Channel.EMAIL:
        return patient.email.strip()
    # Formatting a phone number validates it, which is costly: once per row, not once per test of it.
    return str(patient.phone).strip() if patient.phone is not None else ""


def undeliverable_reason(
    message: ScheduledMessage, *, now: datetime, consented: bool | None = None, address: str | None = None
) -> str:
    """Return the SuppressionReason that stops `message` from going at `now`, or "" if nothing does.

    `consented` says whether the patient's service-message consent was in
    force at `now`, and `address` where the message would go, when the
    caller knows them already (None: found here). Quiet hours only delay a
    message, so they are not a reason here.
    """
    if message.kind not in STAFF_KINDS:
        if message.patient.erased_at is not None:
            return SuppressionReason.PATIENT_ERASED
        if message.kind not in CONSENT_FREE_KINDS:
            if consented is None:
                consented = patient_has_consent(patient=message.patient, kind=ConsentKind.SERVICE_MESSAGES, at=now)
            if not consented:
                return SuppressionReason.NO_CONSENT
    if not (_address(message) if address is None else address):
        return SuppressionReason.NO_CONTACT
    return ""


# What delivering a row reads: the message and the patient's contact details, never their clinical record.
DELIVERY_FIELDS: tuple[str, ...] = (
    "kind",
    "channel",
    "to_address",
    "reply_to",
    "subject",
    "body",
    "attempts",
    "patient__email",
    "patient__phone",
    "patient__time_zone",
    "patient__erased_at",
    "patient__language",
    "page_url",
    "course_id",
    "session_id",
    # A booking notice's calendar invitation: the time it announces, and when its words were written.
    "announces_start",
    "updated_at",
)
# The location whose name, address and sender an email carries: the course's, else the session's.
LOCATION_FIELDS = ("name", "address", "phone", "email", "sender_name", "sender_email")
DELIVERY_FIELDS += tuple(f"{via}__location__{name}" for via in ("course", "session") for name in LOCATION_FIELDS)


def _location(message: ScheduledMessage) -> Location | None:
    if message.course is not None:
        return message.course.location
    return message.session.location if message.session is not None else None


def opt_out_hint(language: str) -> str:
    """What the first text a patient is sent adds, as carriers expect: how to stop texts."""
    with translation.override(locale_of(language)):
        return gsm7_fold(gettext("Reply STOP to opt out."))


def patients_texted_before(patient_ids: set[Any]) -> set[Any]:
    """Those of `patient_ids` who have been sent a text already."""
    if not patient_ids:
        return set()
    return set(
        ScheduledMessage.objects.filter(patient_id__in=patient_ids, channel=Channel.SMS, status=MessageStatus.SENT)
        .exclude(kind__in=STAFF_KINDS)
        .values_list("patient_id", flat=True)
        .distinct()
    )


class Outcome(NamedTuple):
    """What became of one claimed row, to be written if the claim still holds."""

    claim: Claim
    tally: str  # the DispatchResult counter it adds to once written
    changes: dict[str, Any]


class _Transports:
    """One transport per channel for a batch: a provider's client is built once, not once per row.

    A transport that cannot be built (a provider not configured) fails each
    row that needs it, as its send would.
    """

    def __init__(self) -> None:
        self._built: dict[str, EmailTransport | SmsTransport] = {}

    def send(self, channel: str, outgoing: OutgoingMessage) -> str:
        if channel not in self._built:
            self._built[channel] = EmailTransport() if channel == Channel.EMAIL else sms_transport()
        return self._built[channel].send(outgoing)


def deliver(message_id: UUID, claimed_at: datetime, result: DispatchResult) -> None:
    """Send one claimed row, or suppress or defer it, and record the outcome if the claim still holds."""
    deliver_batch([Claim(message_id, claimed_at)], result)


def deliver_batch(claims: Sequence[Claim], result: DispatchResult) -> None:
    """Send, suppress or defer each claimed row, then record the outcomes whose claims still hold.

    The rows, their patients and the patients' consents are read in two
    queries for the whole batch, and the outcomes written in a few more
    (`Outbox.finish_many`), whatever the batch size. Sending happens in
    between, outside any transaction. One bad row never stops the batch:
    an unexpected exception spends that row's attempt, like a transient error.
    """
    now = timezone.now()
    try:
        messages = (
            ScheduledMessage.objects.select_related("patient", "course__location", "session__location")
            .only(*DELIVERY_FIELDS)
            .in_bulk([claim.pk for claim in claims])
        )
        consenting = patient_ids_with_consent(
            patient_ids={message.patient_id for message in messages.values() if message.kind not in STAFF_KINDS},
            kind=ConsentKind.SERVICE_MESSAGES,
            at=now,
        )
        texted = patients_texted_before(
            {m.patient_id for m in messages.values() if m.channel == Channel.SMS and m.kind not in STAFF_KINDS}
        )
        quiet = timing.QuietHours.parse(settings.AFTERCARE_QUIET_HOURS)
    except Exception as exc:  # nothing was sent yet: each row takes the error as one attempt
        for claim in claims:
            _after_unexpected_error(claim, exc, result)
        return
    transports = _Transports()
    outcomes = []
    for claim in claims:
        message = messages.get(claim.pk)
        if message is None:
            continue
        try:
            outcome = _outcome(
                claim, message, now=now, quiet=quiet, consenting=consenting, texted=texted, transports=transports
            )
        except Exception as exc:  # one bad row must not stop the batch
            outcome = _unexpected_outcome(claim, exc, attempts=message.attempts, result=result)
        outcomes.append(outcome)
    _record(outcomes, result)


def _outcome(
    claim: Claim,
    message: ScheduledMessage,
    *,
    now: datetime,
    quiet: timing.QuietHours,
    consenting: set[Any],
    texted: set[Any],
    transports: _Transports,
) -> Outcome:
    """Decide what happens to one row, sending it if it may go now.

    The first text a patient is ever sent says how to opt out (`texted`:
    the patients sent one before, this batch's included); the row records
    the words as sent.
    """
    address = _address(message)
    reason = undeliverable_reason(message, now=now, consented=message.patient_id in consenting, address=address)
    if reason:
        return Outcome(claim, "suppressed", {"status": MessageStatus.SUPPRESSED, "suppressed_reason": reason})
    if message.kind not in ANY_HOUR_KINDS:
        later = timing.defer_for_quiet_hours(now, quiet=quiet, zone=ZoneInfo(str(message.patient.time_zone)))
        if later != now:
            # Not a delivery attempt: give the attempt back and wait for morning.
            # The row's attempts cannot have moved since it was read: it is ours until finished.
            return Outcome(
                claim,
                "deferred",
                {
                    "status": MessageStatus.PENDING,
                    "due_at": later,
                    "claimed_at": None,
                    "attempts": message.attempts - 1,
                },
            )
    body = message.body
    if message.channel == Channel.SMS and message.kind not in STAFF_KINDS and message.patient_id not in texted:
        body = f"{body} {opt_out_hint(message.patient.language)}"
    outgoing = _outgoing(message, address=address, body=body)
    try:
        provider_id = transports.send(message.channel, outgoing)
    except TransientError as exc:
        return _retry_or_fail(claim, attempts=message.attempts, error=str(exc))
    except PermanentError as exc:
        return _fail(claim, error=str(exc))
    if message.channel == Channel.SMS:
        texted.add(message.patient_id)
    return Outcome(
        claim,
        "sent",
        {
            "status": MessageStatus.SENT,
            "sent_at": timezone.now(),
            "provider_message_id": provider_id[:200],
            "to_address": address,
            "body": body,
            "last_error": "",
        },
    )


# Messages about an appointment to come: their page shows the appointment.
APPOINTMENT_KINDS = frozenset({*NOTICE_KINDS, MessageKind.APPOINTMENT_REMINDER})


def _outgoing(message: ScheduledMessage, *, address: str, body: str) -> OutgoingMessage:
    """What the transport is handed: an email to a patient in the clinic's layout (HTML and text, its
    location's From, one-click unsubscribe); an alert to staff, or a text, as written."""
    fields: dict[str, Any] = {
        "idempotency_key": str(message.pk),
        "to": address,
        "subject": message.subject,
        "body": body,
        "reply_to": message.reply_to,
    }
    if message.channel != Channel.EMAIL:
        return OutgoingMessage(**fields)
    contact = clinic_contact(_location(message))
    fields["from_email"] = contact.from_email
    if message.kind not in STAFF_KINDS:
        email = patient_email(
            subject=message.subject,
            body=body,
            page_url=message.page_url,
            patient_id=message.patient_id,
            language=message.patient.language,
            sender=contact,
            about_appointment=message.kind in APPOINTMENT_KINDS,
        )
        fields |= {"body": email.text, "html": email.html, "headers": email.headers}
        invitation = notice_calendar_attachment(message) if message.kind in NOTICE_KINDS else None
        if invitation is not None:
            fields["attachments"] = (invitation,)
    return OutgoingMessage(**fields)


def _fail(claim: Claim, *, error: str) -> Outcome:
    return Outcome(claim, "failed", {"status": MessageStatus.FAILED, "last_error": error[:2000]})


def _retry_or_fail(claim: Claim, *, attempts: int, error: str) -> Outcome:
    """Put the row back with back-off, or fail it once it has had AFTERCARE_MAX_ATTEMPTS attempts."""
    if attempts >= settings.AFTERCARE_MAX_ATTEMPTS:
        return _fail(claim, error=error)
    return Outcome(
        claim,
        "retried",
        {
            "status": MessageStatus.PENDING,
            "due_at": timezone.now() + retry_delay(attempts),
            "claimed_at": None,
            "last_error": error[:2000],
        },
    )


# How long a batch's outcomes wait for the database to come back (a restart, a fail-over) before the
# batch is given up. Its messages have gone: recorded late, they do not go again; given up, they stay
# `sending` until the lease puts them back, and go twice. Well inside the lease and the task's time limit.
RECORD_PATIENCE_SECONDS = 30


def _record(outcomes: Sequence[Outcome], result: DispatchResult) -> None:
    """Write the outcomes whose claims still hold, and count them; wait out a short database outage to do it."""
    give_up_at = monotonic_time.monotonic() + RECORD_PATIENCE_SECONDS
    while True:
        try:
            written = MESSAGE_OUTBOX.finish_many((outcome.claim, outcome.changes) for outcome in outcomes)
            break
        except (OperationalError, InterfaceError) as exc:
            if monotonic_time.monotonic() >= give_up_at:
                raise
            logger.warning("recording %d outcomes waits for the database: %s", len(outcomes), exception_origin(exc))
            connection.close()  # the next try opens a new connection
            monotonic_time.sleep(1)
    for outcome in outcomes:
        if outcome.claim.pk in written:
            setattr(result, outcome.tally, getattr(result, outcome.tally) + 1)
            if outcome.tally == "failed":
                # The id only: the error is on the row, for staff who may read it.
                logger.warning("outbox row %s failed and will not be retried", outcome.claim.pk)
        elif outcome.tally == "sent":
            result.lost_claims += 1
            logger.warning("outbox row %s was reclaimed while being sent; it may go twice", outcome.claim.pk)


def _unexpected_outcome(claim: Claim, exc: Exception, *, attempts: int, result: DispatchResult) -> Outcome:
    """A bug or a surprise while delivering one row: an attempt spent, like a transient error."""
    origin = exception_origin(exc)
    logger.error(
        "delivering outbox row %s failed on attempt %d of %d: %s",
        claim.pk,
        attempts,
        settings.AFTERCARE_MAX_ATTEMPTS,
        origin,
    )
    result.errors.append(f"{claim.pk}: {origin}")
    # The row keeps the message for staff who may read it anyway; it is wiped on erasure.
    return _retry_or_fail(claim, attempts=attempts, error=f"{exc.__class__.__name__}: {exc}")


def _after_unexpected_error(claim: Claim, exc: Exception, result: DispatchResult) -> None:
    """As `_unexpected_outcome`, for a row whose batch could not even be read: its attempts are read again."""
    attempts = ScheduledMessage.objects.filter(pk=claim.pk).values_list("attempts", flat=True).first() or 1
    _record([_unexpected_outcome(claim, exc, attempts=attempts, result=result)], result)


def dispatch_due(*, batch_size: int | None = None, time_budget_seconds: float = 50.0) -> DispatchResult:
    """Send due messages in batches until none are due or the time budget is spent.

    At least one batch is sent whatever the budget, so every run makes
    progress. The budget keeps a run short (a chain link's, see
    aftercare.dispatch_chains); several dispatchers at once are safe regardless.
    """
    batch_size = batch_size or settings.AFTERCARE_BATCH_SIZE
    result = DispatchResult(recovered=recover_stale_claims())
    started = monotonic_time.monotonic()
    while True:
        claims = claim_due(now=timezone.now(), limit=batch_size)
        if not claims:
            break
        result.claimed += len(claims)
        deliver_batch(claims, result)
        if monotonic_time.monotonic() - started >= time_budget_seconds:
            break
    return result
