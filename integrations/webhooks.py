"""Outbound webhooks: signed, retried with back-off for about a day, every attempt logged.

`webhook_emit()` is called by integrations.reactions, inside the transaction
of the change, and writes one delivery row per interested subscription, so
an event exists exactly when the change it reports does. The body carries the event id, type, time and
the object's id; the receiver fetches details through the API.

Deliveries are an outbox (`clinic.outbox`): claimed with SELECT … FOR UPDATE
SKIP LOCKED, POSTed outside any transaction, and finished only while the
claim still holds, so a worker that stalled past the lease cannot overwrite
the outcome of the one that took the delivery over.

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
from collections.abc import Iterable
from datetime import datetime, timedelta

import requests
from django.core.exceptions import ValidationError
from django.utils import timezone

from clinic.outbox import Claim, Outbox
from clinic.queue import wake_after_commit
from integrations.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookSubscription
from integrations.targets import check_webhook_url

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
DELIVER_TASK = "integrations.tasks.deliver_webhooks"
LEASE = timedelta(minutes=5)
DELIVERY_OUTBOX = Outbox(
    model=WebhookDelivery,
    due_field="next_attempt_at",
    lease=lambda: LEASE,
    pending=DeliveryStatus.PENDING,
    sending=DeliveryStatus.SENDING,
)


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
        wake_after_commit(DELIVER_TASK)
    return len(deliveries)


def webhook_deliveries_retry(*, deliveries: Iterable[WebhookDelivery]) -> int:
    """Staff send deliveries again now (any not yet delivered, failed ones with a fresh budget).

    A delivery in the middle of being sent is left to its worker. Return how many were queued.
    """
    now = timezone.now()
    queued = WebhookDelivery.objects.filter(
        pk__in=[delivery.pk for delivery in deliveries],
        status__in=[DeliveryStatus.PENDING, DeliveryStatus.FAILED],
    ).update(status=DeliveryStatus.PENDING, next_attempt_at=now, attempts=0, claimed_at=None)
    if queued:
        wake_after_commit(DELIVER_TASK)
    return queued


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


def recover_stale_claims(*, now: datetime | None = None) -> int:
    """Put deliveries stuck in `sending` past the lease back to `pending`; return how many."""
    return DELIVERY_OUTBOX.recover_stale_claims(now=now or timezone.now())


def claim_due(*, now: datetime, limit: int) -> list[Claim]:
    """Claim up to `limit` due pending deliveries for this worker.

    Return the claims as (id, claimed_at) pairs, earliest due first.
    """
    return DELIVERY_OUTBOX.claim(now=now, limit=limit)


def attempt(delivery: WebhookDelivery, *, claimed_at: datetime) -> bool:
    """POST one claimed delivery; log the attempt; schedule a retry or finish it.

    Return True if the outcome was written. False means the claim was lost
    (this worker stalled past the lease and the delivery was taken over):
    the new owner's state stands, and the receiver may get the event twice,
    which it can tell by the event id. The attempt is logged either way,
    because the POST happened.
    """
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
        check_webhook_url(delivery.subscription.url)  # again now: DNS may have changed since it was saved
        response = requests.post(
            delivery.subscription.url, data=body, headers=headers, timeout=TIMEOUT_SECONDS, allow_redirects=False
        )
        status_code = response.status_code
        if 300 <= status_code < 400:
            error = f"Redirect to {response.headers.get('Location', '?')} not followed: give the final address."
    except ValidationError as refused:
        error = "; ".join(refused.messages)[:2000]
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
    # Counted from the row as claimed: while the claim holds, nobody else changes it.
    attempts = delivery.attempts + 1
    changes: dict[str, object] = {"attempts": attempts, "claimed_at": None}
    if status_code is not None and 200 <= status_code < 300:
        changes |= {"status": DeliveryStatus.DELIVERED, "delivered_at": now}
    elif attempts > len(RETRY_DELAYS):
        changes |= {"status": DeliveryStatus.FAILED}
    else:
        changes |= {"status": DeliveryStatus.PENDING, "next_attempt_at": now + RETRY_DELAYS[attempts - 1]}
    if DELIVERY_OUTBOX.finish(Claim(delivery.pk, claimed_at), **changes):
        return True
    logger.warning("webhook delivery %s was reclaimed while being attempted; it may arrive twice", delivery.pk)
    return False


def deliver_due(*, limit: int = 50, time_budget_seconds: float = 50.0) -> int:
    """Attempt every due delivery (within a time budget); return how many were attempted."""
    recover_stale_claims()
    started = time.monotonic()
    attempted = 0
    while time.monotonic() - started < time_budget_seconds:
        claims = claim_due(now=timezone.now(), limit=limit)
        if not claims:
            break
        deliveries = WebhookDelivery.objects.select_related("subscription").in_bulk([claim.pk for claim in claims])
        for claim in claims:
            delivery = deliveries.get(claim.pk)
            if delivery is None:  # deleted with its subscription since the claim: nothing to send
                continue
            attempt(delivery, claimed_at=claim.claimed_at)
            attempted += 1
    return attempted
