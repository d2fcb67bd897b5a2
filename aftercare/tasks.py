"""Celery tasks: thin wrappers that call services. The outbox rows, not the
broker, hold what must be sent and when."""

from __future__ import annotations

from celery import shared_task

from aftercare import dispatch, prompts


@shared_task(ignore_result=True, soft_time_limit=110, time_limit=120)
def dispatch_due_messages() -> dict[str, int]:
    """Beat, every minute: send what is due."""
    result = dispatch.dispatch_due()
    return {"claimed": result.claimed, "sent": result.sent, "failed": result.failed}


@shared_task(ignore_result=True)
def schedule_followup_prompts() -> int:
    """Beat, every 15 minutes: write the follow-up prompts that have fallen due."""
    return prompts.schedule_followup_prompts()
