"""Outbound webhooks: signed, retried with back-off for about a day, every attempt logged.

`webhook_emit()` is called by services inside their transaction and writes one
delivery row per interested subscription, so an event exists exactly when
the change it reports does. The body carries the event id, type, time and
the object's id; the receiver fetches details through the API.

Signature: `X-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`
with the timestamp in `X-Webhook-Timestamp` (Unix seconds). A receiver
recomputes it and refuses timestamps older than a few minutes (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import datetime, timedelta

import requests
from django.db import transaction
from django.utils import timezone

from clinic.queue import wake_after_commit
from integrations.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookSubscription

logger = logging.getLogger(__name__)

# Waits after each failed attempt: about 22 hours in all, then the delivery fails.
RETRY_DELAYS = [
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=3),
    timedelta(hours=6),
    timedelta(hours=12),
]
TIMEOUT_SECONDS = 10
LEASE = timedelta(minutes=5)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: int, body: bytes, signature: str, *, now: float, tolerance: int = 300) -> bool:
    """What a receiver does: check the signature and refuse stale timestamps."""
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def webhook_emit(
    *, event_type: str, object_id: object, occurred_at: datetime | None = None, dedupe_key: str = ""
) -> int:
    """Write a delivery for each active subscription to `event_type`; return how many were due.

    With a `dedupe_key`, a subscription gets the event once however often it is emitted.
    """
    from integrations.tasks import deliver_webhooks

    occurred_at = occurred_at or timezone.now()
    subscriptions = WebhookSubscription.objects.filter(is_active=True, events__contains=[event_type])
    deliveries = [
        WebhookDelivery(
            subscription=subscription,
            event_type=event_type,
            object_id=str(object_id),
            occurred_at=occurred_at,
            next_attempt_at=occurred_at,
            dedupe_key=dedupe_key,
        )
        for subscription in subscriptions
    ]
    if deliveries:
        WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=bool(dedupe_key))
        wake_after_commit(deliver_webhooks)
    return len(deliveries)


def payload(delivery: WebhookDelivery) -> bytes:
    return json.dumps(
        {
            "id": str(delivery.event_id),
            "type": delivery.event_type,
            "occurred_at": delivery.occurred_at.isoformat(),
            "object_id": delivery.object_id,
        },
        separators=(",", ":"),
    ).encode()


def _claim(now: datetime, limit: int) -> list[WebhookDelivery]:
    with transaction.atomic():
        ids = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at")
            .values_list("id", flat=True)[:limit]
        )
        WebhookDelivery.objects.filter(id__in=ids).update(status=DeliveryStatus.SENDING, claimed_at=now)
    return list(WebhookDelivery.objects.filter(id__in=ids).select_related("subscription"))


def attempt(delivery: WebhookDelivery) -> None:
    """POST one delivery; log the attempt; schedule a retry or finish it."""
    body = payload(delivery)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "clinic-webhooks/1",
        "X-Webhook-Id": str(delivery.event_id),
        "X-Webhook-Event": delivery.event_type,
        "X-Webhook-Timestamp": str(timestamp),
        "X-Signature": sign(delivery.subscription.secret, timestamp, body),
    }
    started = time.monotonic()
    status_code, error = None, ""
    try:
        response = requests.post(delivery.subscription.url, data=body, headers=headers, timeout=TIMEOUT_SECONDS)
        status_code = response.status_code
    except requests.RequestException as exc:
        error = f"{exc.__class__.__name__}: {exc}"[:2000]
    now = timezone.now()
    WebhookAttempt.objects.create(
        delivery=delivery,
        attempted_at=now,
        status_code=status_code,
        error=error,
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    attempts = delivery.attempts + 1
    changes: dict[str, object] = {"attempts": attempts, "claimed_at": None}
    if status_code is not None and 200 <= status_code < 300:
        changes |= {"status": DeliveryStatus.DELIVERED, "delivered_at": now}
    elif attempts > len(RETRY_DELAYS):
        changes |= {"status": DeliveryStatus.FAILED}
    else:
        changes |= {"status": DeliveryStatus.PENDING, "next_attempt_at": now + RETRY_DELAYS[attempts - 1]}
    WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING).update(**changes)


def deliver_due(*, limit: int = 50, time_budget_seconds: float = 50.0) -> int:
    """Attempt every due delivery (within a time budget); return how many were attempted."""
    now = timezone.now()
    WebhookDelivery.objects.filter(status=DeliveryStatus.SENDING, claimed_at__lt=now - LEASE).update(
        status=DeliveryStatus.PENDING, claimed_at=None
    )
    started = time.monotonic()
    attempted = 0
    while time.monotonic() - started < time_budget_seconds:
        batch = _claim(timezone.now(), limit)
        if not batch:
            break
        for delivery in batch:
            attempt(delivery)
            attempted += 1
    return attempted
