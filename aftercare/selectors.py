"""Reads for the admin and front-desk pages: red flags (what is open, what has not reached anyone) and the
inbox of patients' messages (aftercare.inbox writes it)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Count, Q, QuerySet

from aftercare.models import (
    InboundIntent,
    InboundMessage,
    MessageKind,
    MessageStatus,
    ScheduledMessage,
    SideEffectReport,
)
from patients.models import Patient


def open_red_flag_reports(*, patient: Patient) -> QuerySet[SideEffectReport]:
    """The patient's red-flag reports that no practitioner has resolved yet, newest first."""
    return SideEffectReport.objects.filter(patient=patient, is_red_flag=True, resolved_at__isnull=True).order_by(
        "-created_at"
    )


def undelivered_red_flag_messages() -> QuerySet[ScheduledMessage]:
    """Red-flag alerts and replies that have not reached their reader, about reports still open; oldest first.

    Undelivered: failed, suppressed (no address, no consent …), or waiting
    to be retried after an error. Resolving the report takes its rows off.
    """
    return (
        ScheduledMessage.objects.filter(
            kind__in=[MessageKind.RED_FLAG_ALERT, MessageKind.RED_FLAG_REPLY],
            report__isnull=False,
            report__resolved_at__isnull=True,
        )
        .filter(
            Q(status__in=[MessageStatus.FAILED, MessageStatus.SUPPRESSED])
            | Q(status=MessageStatus.PENDING, attempts__gt=0)
        )
        .select_related("report", "patient")
        .order_by("created_at", "id")
    )


# Each open row of a list, with what it shows of the patient and the session.
INBOX_RELATED = ("patient", "session__location")


def inbox_list() -> QuerySet[InboundMessage]:
    """Every inbound message, newest first."""
    return InboundMessage.objects.select_related(*INBOX_RELATED).order_by("-received_at", "id")


def open_inbox() -> QuerySet[InboundMessage]:
    """Messages waiting for a person (not yet handled), newest first, along `inbound_open_idx`."""
    return inbox_list().filter(handled_at__isnull=True)


def open_inbox_count() -> int:
    return InboundMessage.objects.filter(handled_at__isnull=True).count()


def open_inbox_counts(patient_ids: Iterable[Any]) -> dict[Any, int]:
    """How many open messages each of `patient_ids` has (patients with none are left out): one query."""
    ids = set(patient_ids)
    if not ids:
        return {}
    rows = (
        InboundMessage.objects.filter(handled_at__isnull=True, patient_id__in=ids)
        .order_by()
        .values("patient_id")
        .annotate(open=Count("id"))
        .values_list("patient_id", "open")
    )
    return dict(rows)


def patient_open_inbox(*, patient_id: Any) -> list[InboundMessage]:
    """The patient's messages waiting for a person, newest first."""
    return list(
        InboundMessage.objects.filter(patient_id=patient_id, handled_at__isnull=True)
        .select_related("session__location")
        .order_by("-received_at", "id")
    )


def number_opted_out(number: str) -> bool:
    """Whether the last carrier keyword (STOP or START) texted from `number` was STOP.

    The provider blocks a number that texted STOP until it texts START, so a
    message to it would be refused (Twilio's error 21610).
    """
    last = (
        InboundMessage.objects.filter(from_number=number, intent__in=(InboundIntent.OPT_OUT, InboundIntent.OPT_IN))
        .order_by("-received_at", "-created_at")
        .values_list("intent", flat=True)
        .first()
    )
    return last == InboundIntent.OPT_OUT
