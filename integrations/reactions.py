"""Webhooks for what happened in the clinic (subscribed to treatments and aftercare events).

Each event becomes one delivery row per interested subscription, written in
the transaction of the change (integrations.webhooks).
"""

from __future__ import annotations

from aftercare.events import FollowupDue, RedFlagRaised
from integrations.models import WebhookEvent
from integrations.webhooks import webhook_emit
from treatments.events import CourseCancelled, SessionChange, SessionChanged

SESSION_EVENTS = {
    SessionChange.BOOKED: WebhookEvent.SESSION_BOOKED,
    SessionChange.RESCHEDULED: WebhookEvent.SESSION_RESCHEDULED,
    SessionChange.CANCELLED: WebhookEvent.SESSION_CANCELLED,
    SessionChange.NO_SHOW: WebhookEvent.SESSION_NO_SHOW,
    SessionChange.COMPLETED: WebhookEvent.SESSION_COMPLETED,
}


def on_session_changed(event: SessionChanged) -> None:
    webhook_emit(event_type=SESSION_EVENTS[event.change], object_id=event.session.pk, occurred_at=event.occurred_at)


def on_course_cancelled(event: CourseCancelled) -> None:
    for session in event.cancelled_sessions:
        webhook_emit(event_type=WebhookEvent.SESSION_CANCELLED, object_id=session.pk, occurred_at=event.occurred_at)


def on_followup_due(event: FollowupDue) -> None:
    # Beat meets the same due follow-up every run; booking software hears of it once.
    webhook_emit(event_type=WebhookEvent.FOLLOWUP_DUE, object_id=event.course_id, dedupe_key=event.fact)


def on_red_flag(event: RedFlagRaised) -> None:
    webhook_emit(event_type=WebhookEvent.SIDE_EFFECT_RED_FLAG, object_id=event.report.pk)
