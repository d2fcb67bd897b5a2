"""Writing the outbox: new messages, and the changes staff make to pending or failed ones.

Nothing here sends anything: rows are written with their due time, and the
dispatcher (aftercare.dispatch) sends them when due. Each row has a
`dedupe_key`, so writing the same fact twice (a retried task, two beat runs,
two workers) leaves one row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from aftercare import timing
from aftercare.models import (
    AftercareStep,
    Channel,
    MessageKind,
    MessageStatus,
    PromptTemplate,
    ScheduledMessage,
    SideEffectReport,
    SuppressionReason,
)
from aftercare.rendering import message_context, patient_zone, render, render_subject, template_for
from aftercare.sms_text import gsm7_fold
from clinic.actors import Actor, staff_user
from clinic.queue import wake_after_commit
from patients.models import Patient
from treatments.models import Course, Session

DISPATCH_TASK = "aftercare.tasks.dispatch_due_messages"


def quiet_hours() -> timing.QuietHours:
    return timing.QuietHours.parse(settings.AFTERCARE_QUIET_HOURS)


def new_message(
    *,
    dedupe_key: str,
    kind: str,
    patient: Patient,
    channel: str,
    template: Any | None,
    context: Callable[[], dict[str, Any]],
    due_at: datetime,
    course: Course | None = None,
    session: Session | None = None,
    step: AftercareStep | None = None,
    report: SideEffectReport | None = None,
    to_address: str = "",
    defer_quiet: bool = True,
    suppressed_reason: str = "",
) -> tuple[ScheduledMessage, bool]:
    """Create the outbox row for `dedupe_key` unless it exists; return (row, created).

    `context` is called only for a new row: the periodic prompt run meets the
    same facts again and again, and rendering them again would be wasted work.
    The row's words and timing are `message_fields`'.
    """
    existing = ScheduledMessage.objects.filter(dedupe_key=dedupe_key).first()
    if existing is not None:
        return existing, False
    defaults = message_fields(
        kind=kind,
        patient=patient,
        channel=channel,
        template=template,
        context=context,
        due_at=due_at,
        course=course,
        session=session,
        step=step,
        report=report,
        to_address=to_address,
        defer_quiet=defer_quiet,
        suppressed_reason=suppressed_reason,
    )
    # get_or_create still: two workers may pass the check above together.
    return ScheduledMessage.objects.get_or_create(dedupe_key=dedupe_key, defaults=defaults)


def message_fields(
    *,
    kind: str,
    patient: Patient,
    channel: str,
    template: Any | None,
    context: Callable[[], dict[str, Any]],
    due_at: datetime,
    course: Course | None = None,
    session: Session | None = None,
    step: AftercareStep | None = None,
    report: SideEffectReport | None = None,
    to_address: str = "",
    defer_quiet: bool = True,
    suppressed_reason: str = "",
) -> dict[str, Any]:
    """The fields of a new outbox row: timed, rendered, or suppressed with the reason.

    A missing template writes the row as suppressed, so the gap shows in the
    outbox instead of the message vanishing; so does a `suppressed_reason`
    (its text is kept, for staff to see what the patient did not get).
    An email to the patient (no `to_address`) takes its Reply-To from the
    context it was rendered with, so the text invites replies exactly when
    they can reach the clinic.
    """
    if defer_quiet:
        due_at = timing.defer_for_quiet_hours(due_at, quiet=quiet_hours(), zone=patient_zone(patient))
    fields: dict[str, Any] = {
        "kind": kind,
        "patient": patient,
        "course": course,
        "session": session,
        "step": step,
        "report": report,
        "channel": channel,
        "to_address": to_address,
        "due_at": due_at,
    }
    if template is None:
        fields |= {"status": MessageStatus.SUPPRESSED, "suppressed_reason": SuppressionReason.NO_TEMPLATE, "body": ""}
    else:
        values = context()
        fields |= rendered_fields(template, values, channel=channel, to_address=to_address)
        if suppressed_reason:
            fields |= {"status": MessageStatus.SUPPRESSED, "suppressed_reason": suppressed_reason}
    return fields


def write_new_message(
    *, dedupe_key: str, batch: list[ScheduledMessage] | None = None, **fields: Any
) -> ScheduledMessage:
    """Write the outbox row for `dedupe_key` (its `message_fields`) in one INSERT; return it.

    For a caller that has read the rows it could collide with and found none.
    Should another transaction write the same fact meanwhile, its row stands
    and this one is not written (ON CONFLICT DO NOTHING): the same outcome as
    `new_message`, without a savepoint around the insert. With a `batch`, the
    row joins it instead, for `write_new_messages` to write with the others.
    """
    message = ScheduledMessage(dedupe_key=dedupe_key, **fields)
    if batch is not None:
        batch.append(message)
    else:
        write_new_messages([message])
    return message


def write_new_messages(messages: list[ScheduledMessage]) -> None:
    """Write new outbox rows in one INSERT (none: no statement), each as `write_new_message` would."""
    if messages:
        ScheduledMessage.objects.bulk_create(messages, ignore_conflicts=True)


def rendered_fields(template: Any, values: dict[str, Any], *, channel: str, to_address: str = "") -> dict[str, str]:
    """The subject, body, Reply-To and page link of a message rendered from `template` with `values` (an SMS in GSM-7).

    Messages to staff (a `to_address`) link to no patient page.
    """
    to_patient_by_email = channel == Channel.EMAIL and not to_address
    body = render(template.body, values)
    return {
        "subject": render_subject(template.subject, values),
        # A single character outside GSM-7 would make a text UCS-2, and two segments five.
        "body": gsm7_fold(body) if channel == Channel.SMS else body,
        "reply_to": values.get("reply_to", "") if to_patient_by_email else "",
        "page_url": values.get("page_url", "") if not to_address else "",
    }


def cancel_pending(messages: QuerySet[ScheduledMessage], *, by: Actor = None) -> int:
    """Cancel the pending rows among `messages` (they will never be true now); return how many."""
    now = timezone.now()
    # updated_at by hand: update() skips auto_now, and `updated_since` sync must see the cancellation.
    return messages.filter(status=MessageStatus.PENDING).update(
        status=MessageStatus.CANCELLED, cancelled_at=now, cancelled_by=staff_user(by), updated_at=now
    )


# About a red flag: they stand whatever happens to bookings.
RED_FLAG_KINDS = (MessageKind.RED_FLAG_ALERT, MessageKind.RED_FLAG_REPLY)


def cancel_pending_not_alerts(messages: QuerySet[ScheduledMessage]) -> int:
    """Like cancel_pending, but red-flag alerts to clinicians and replies to the patient are kept."""
    return cancel_pending(messages.exclude(kind__in=RED_FLAG_KINDS))


@transaction.atomic
def messages_cancel(*, messages: Iterable[ScheduledMessage], actor: Actor) -> int:
    """Staff cancel messages before they go; only pending ones can be. Return how many were cancelled.

    The row records who cancelled it: a patient who got no aftercare text is asked about.
    """
    return cancel_pending(ScheduledMessage.objects.filter(pk__in=[m.pk for m in messages]), by=actor)


@transaction.atomic
def messages_retry(*, messages: Iterable[ScheduledMessage]) -> int:
    """Staff send failed messages again now, with a fresh attempt budget. Return how many were queued."""
    now = timezone.now()
    queued = ScheduledMessage.objects.filter(pk__in=[m.pk for m in messages], status=MessageStatus.FAILED).update(
        status=MessageStatus.PENDING, due_at=now, attempts=0, last_error="", updated_at=now
    )
    if queued:
        wake_after_commit(DISPATCH_TASK)
    return queued


@transaction.atomic
def patient_messages_erase(*, patient: Patient) -> int:
    """Erasure: nothing pending goes out, and no text or address naming the patient stays.

    The skeleton (kind, dates, status) stays. Return how many pending rows were suppressed.
    """
    now = timezone.now()
    messages = ScheduledMessage.objects.filter(patient=patient)
    suppressed = messages.filter(status=MessageStatus.PENDING).update(
        status=MessageStatus.SUPPRESSED, suppressed_reason=SuppressionReason.PATIENT_ERASED, updated_at=now
    )
    # last_error too: a provider's refusal may quote the address or the text.
    messages.update(to_address="", subject="", body="", page_url="", last_error="", updated_at=now)
    return suppressed


def prompt_template(kind: str, patient: Patient) -> PromptTemplate | None:
    """The PromptTemplate for a message of `kind` to `patient` (their channel and language, else English)."""
    return template_for(PromptTemplate.objects.filter(kind=kind), patient.preferred_channel, patient.language)


def new_prompt_message(
    *, kind: str, dedupe_key: str, patient: Patient, course: Course, due_at: datetime, session: Session | None = None
) -> tuple[ScheduledMessage, bool]:
    """Write a message outside the aftercare plan (a prompt or reminder) from its PromptTemplate."""
    return new_message(
        dedupe_key=dedupe_key,
        kind=kind,
        patient=patient,
        channel=patient.preferred_channel,
        template=prompt_template(kind, patient),
        context=lambda: message_context(patient=patient, course=course, session=session),
        due_at=due_at,
        course=course,
        session=session,
    )
