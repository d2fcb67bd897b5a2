"""Enqueueing Celery tasks from services, by name.

Services name the task ("aftercare.tasks.dispatch_due_messages") instead of
importing its module: tasks sit above services (a task calls a service), so
importing one from a service would make the two depend on each other.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from kombu.exceptions import OperationalError

from clinic.celery import app

logger = logging.getLogger(__name__)


def wake_after_commit(task_name: str) -> None:
    """Ask a worker to run the task `task_name` now, once the transaction commits.

    Only a nudge: the rows it works on are already written and beat runs the
    same task every minute, so if the broker is down the work is late, not
    lost, and the request that wrote the rows must not fail for it.
    """

    def send() -> None:
        try:
            app.send_task(task_name)
        except OperationalError:
            logger.warning("broker unavailable; %s will run at the next beat", task_name)

    transaction.on_commit(send)


def enqueue_now(task_name: str, *, kwargs: dict[str, Any], queue: str | None = None) -> None:
    """Send the task `task_name` with `kwargs` to `queue` (the default queue when None) at once.

    For a task that continues its own work (a chain, `clinic.chains`), not
    for a service inside a transaction: that wakes a task after commit. The
    broker being down raises kombu's OperationalError for the caller to judge.
    """
    app.send_task(task_name, kwargs=kwargs, queue=queue)
