"""Enqueueing Celery tasks from services."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def wake_after_commit(task: Any) -> None:
    """Ask a worker to run `task` now, once the transaction commits.

    Only a nudge: the rows it works on are already written and beat runs the
    same task every minute, so if the broker is down the work is late, not
    lost, and the request that wrote the rows must not fail for it.
    """

    def send() -> None:
        try:
            task.delay()
        except OperationalError:
            logger.warning("broker unavailable; %s will run at the next beat", task.name)

    transaction.on_commit(send)
