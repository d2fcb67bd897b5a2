"""Celery tasks: thin wrappers that call services. The outbox rows, not the
broker, hold what must be sent and when."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from aftercare import dispatch_chains, prompts
from aftercare.dispatch import DispatchResult
from clinic.chains import Slot


def _queue_of(task: Task[Any, Any]) -> str | None:
    """The queue this run came from, so a chain's next links stay on it (None: called directly)."""
    delivery_info = task.request.delivery_info or {}
    routing_key = delivery_info.get("routing_key")
    return str(routing_key) if routing_key else None


def _summary(result: DispatchResult) -> dict[str, int]:
    return {"claimed": result.claimed, "sent": result.sent, "failed": result.failed}


@shared_task(bind=True, ignore_result=True, soft_time_limit=110, time_limit=120)
def dispatch_due_messages(self: Task[Any, Any]) -> dict[str, int]:
    """Beat, every minute, and services writing a due row: send what is due, on chains for a backlog."""
    return _summary(dispatch_chains.dispatch_tick(queue=_queue_of(self)))


@shared_task(bind=True, ignore_result=True, soft_time_limit=110, time_limit=120)
def dispatch_due_messages_chain(self: Task[Any, Any], slot_number: int, token: str) -> dict[str, int]:
    """The next link of a dispatch chain, enqueued by the link before it while rows are due."""
    slot = Slot(slot_number, token)
    return _summary(dispatch_chains.dispatch_chain_link(slot=slot, queue=_queue_of(self)))


@shared_task(ignore_result=True)
def schedule_followup_prompts() -> int:
    """Beat, every 15 minutes: write the follow-up prompts that have fallen due."""
    return prompts.schedule_followup_prompts()
