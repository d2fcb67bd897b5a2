from celery import shared_task

from integrations import webhooks
from integrations.idempotency import prune_expired_idempotency_records


@shared_task(ignore_result=True, soft_time_limit=110, time_limit=120)
def deliver_webhooks() -> int:
    """Beat every minute, and right after an event is written."""
    return webhooks.deliver_due()


@shared_task(ignore_result=True)
def prune_idempotency_records() -> int:
    return prune_expired_idempotency_records()
