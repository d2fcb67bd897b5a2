"""A real Celery worker process consumes from the real Redis and writes to PostgreSQL."""

from __future__ import annotations

import time

import pytest

from clinic.models import Heartbeat
from clinic.tasks import record_heartbeat


@pytest.mark.e2e
def test_worker_runs_a_task_from_redis_and_writes_to_postgres(celery_worker_process: str) -> None:
    assert not Heartbeat.objects.filter(name="e2e").exists()

    record_heartbeat.apply_async(args=["e2e"], queue=celery_worker_process)

    deadline = time.monotonic() + 60
    while not Heartbeat.objects.filter(name="e2e").exists():
        assert time.monotonic() < deadline, "the worker did not run the task within 60 s"
        time.sleep(0.2)
    heartbeat = Heartbeat.objects.get(name="e2e")
    assert heartbeat.hostname.startswith(celery_worker_process)


def test_the_tasks_services_wake_by_name_are_registered() -> None:
    """Services name tasks instead of importing them; a misspelt name would wake nothing."""
    from aftercare.outbox import DISPATCH_TASK
    from clinic.celery import app
    from integrations.webhooks import DELIVER_TASK

    app.loader.import_default_modules()

    assert {DISPATCH_TASK, DELIVER_TASK} <= set(app.tasks)
