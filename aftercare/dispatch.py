"""The dispatcher: claims due outbox rows and hands them to their channel.

Claiming, finishing and recovery are `clinic.outbox`'s: a short claim with
SELECT … FOR UPDATE SKIP LOCKED, sending outside any transaction, and an
outcome written only while the claim still holds. A dispatcher that dies
mid-batch leaves rows in `sending`; after the lease they are put back, so a
crash costs at most one duplicate per row that was in flight. Each claim
spends one attempt; a deferral for quiet hours gives it back.
"""

from __future__ import annotations

import logging
import time as monotonic_time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from aftercare import timing
from aftercare.channels import OutgoingMessage, PermanentError, TransientError
from aftercare.channels.email import EmailTransport
from aftercare.channels.sms import sms_transport
from aftercare.models import Channel, MessageKind, MessageStatus, ScheduledMessage, SuppressionReason
from clinic.outbox import Claim, Outbox
from patients.models import ConsentKind
from patients.selectors import patient_has_consent

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


def _address(message: ScheduledMessage) -> str:
    if message.kind == MessageKind.RED_FLAG_ALERT:
        return message.to_address
    patient = message.patient
    return (patient.email if message.channel == Channel.EMAIL else str(patient.phone or "")).strip()


def deliver(message_id: UUID, claimed_at: datetime, result: DispatchResult) -> None:
    """Send one claimed row, or suppress or defer it, and record the outcome if the claim still holds."""
    claim = Claim(message_id, claimed_at)
    message = ScheduledMessage.objects.select_related("patient").get(pk=message_id)
    now = timezone.now()
    patient = message.patient
    to_staff = message.kind == MessageKind.RED_FLAG_ALERT

    if not to_staff:
        if getattr(patient, "erased_at", None):
            _suppress(claim, SuppressionReason.PATIENT_ERASED, result)
            return
        if not patient_has_consent(patient=patient, kind=ConsentKind.SERVICE_MESSAGES, at=now):
            _suppress(claim, SuppressionReason.NO_CONSENT, result)
            return
        zone = ZoneInfo(str(patient.time_zone))
        quiet = timing.QuietHours.parse(settings.AFTERCARE_QUIET_HOURS)
        later = timing.defer_for_quiet_hours(now, quiet=quiet, zone=zone)
        if later != now:
            # Not a delivery attempt: give the attempt back and wait for morning.
            if MESSAGE_OUTBOX.finish(
                claim,
                status=MessageStatus.PENDING,
                due_at=later,
                claimed_at=None,
                attempts=F("attempts") - 1,
            ):
                result.deferred += 1
            return
    address = _address(message)
    if not address:
        _suppress(claim, SuppressionReason.NO_CONTACT, result)
        return

    outgoing = OutgoingMessage(
        idempotency_key=str(message.pk),
        to=address,
        subject=message.subject,
        body=message.body,
        reply_to=message.reply_to,
    )
    try:
        transport = EmailTransport() if message.channel == Channel.EMAIL else sms_transport()
        provider_id = transport.send(outgoing)
    except TransientError as exc:
        if message.attempts >= settings.AFTERCARE_MAX_ATTEMPTS:
            if MESSAGE_OUTBOX.finish(claim, status=MessageStatus.FAILED, last_error=str(exc)[:2000]):
                result.failed += 1
        elif MESSAGE_OUTBOX.finish(
            claim,
            status=MessageStatus.PENDING,
            due_at=now + retry_delay(message.attempts),
            claimed_at=None,
            last_error=str(exc)[:2000],
        ):
            result.retried += 1
        return
    except PermanentError as exc:
        if MESSAGE_OUTBOX.finish(claim, status=MessageStatus.FAILED, last_error=str(exc)[:2000]):
            result.failed += 1
        return
    if MESSAGE_OUTBOX.finish(
        claim,
        status=MessageStatus.SENT,
        sent_at=timezone.now(),
        provider_message_id=provider_id[:200],
        to_address=address,
        last_error="",
    ):
        result.sent += 1
    else:
        result.lost_claims += 1
        logger.warning("outbox row %s was reclaimed while being sent; it may go twice", message_id)


def _suppress(claim: Claim, reason: str, result: DispatchResult) -> None:
    if MESSAGE_OUTBOX.finish(claim, status=MessageStatus.SUPPRESSED, suppressed_reason=reason):
        result.suppressed += 1


def dispatch_due(*, batch_size: int | None = None, time_budget_seconds: float = 50.0) -> DispatchResult:
    """Send due messages in batches until none are due or the time budget is spent.

    The budget keeps one beat tick's run shorter than the beat interval, so
    runs do not pile up; several dispatchers at once are safe regardless.
    """
    batch_size = batch_size or settings.AFTERCARE_BATCH_SIZE
    result = DispatchResult(recovered=recover_stale_claims())
    started = monotonic_time.monotonic()
    while monotonic_time.monotonic() - started < time_budget_seconds:
        claims = claim_due(now=timezone.now(), limit=batch_size)
        if not claims:
            break
        result.claimed += len(claims)
        for claim in claims:
            try:
                deliver(claim.pk, claim.claimed_at, result)
            except Exception as exc:  # one bad row must not stop the batch
                logger.exception("delivering outbox row %s failed", claim.pk)
                result.errors.append(f"{claim.pk}: {exc}")
                MESSAGE_OUTBOX.finish(
                    claim,
                    status=MessageStatus.PENDING,
                    due_at=timezone.now() + retry_delay(1),
                    claimed_at=None,
                    last_error=f"{exc.__class__.__name__}: {exc}"[:2000],
                )
    return result
