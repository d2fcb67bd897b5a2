from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from clinic.services import heartbeat_record


@shared_task(bind=True, ignore_result=True)
def record_heartbeat(self: Task[Any, Any], name: str = "celery") -> None:
    """Record that a worker ran this; scheduled every 30 s by beat."""
    heartbeat_record(name=name, hostname=self.request.hostname or "")
