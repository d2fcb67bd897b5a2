"""Tasks only the benchmark's Celery workers load (`celery worker --include benchmarks.worker_tasks`).

The no-op task is the limit the dispatcher is measured against: what the
same worker processes do per second when a task does nothing at all, so
what is left is Celery's and Redis's own cost per task.
"""

from __future__ import annotations

from celery import shared_task

NOOP_TASK = "benchmarks.noop"


@shared_task(name=NOOP_TASK, ignore_result=True)
def noop() -> None:
    """Nothing: the cost of a task is all in fetching, running and acknowledging it."""
