"""Reads about red flags for the admin pages: what is open, and what has not reached anyone."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from aftercare.models import MessageKind, MessageStatus, ScheduledMessage, SideEffectReport
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
