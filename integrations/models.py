"""API keys for booking software, and idempotency records for their POSTs."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from clinic.local_time import local_datetime_text


class Scope(models.TextChoices):
    READ = "read", "Read"
    BOOK = "book", "Book (patients, courses, sessions)"
    MANAGE = "manage", "Manage (everything an integration may do)"


class ApiKey(models.Model):
    """A key for one integration. Only a SHA-256 hash of the key is stored.

    The key is shown once, when created. It is long and random, so a fast
    hash is safe here (unlike passwords, it cannot be guessed from a list).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, help_text="Who uses it, e.g. 'Booking widget'.")
    prefix = models.CharField(max_length=12, unique=True, help_text="The key's visible start, to tell keys apart.")
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = ArrayField(models.CharField(max_length=10, choices=Scope.choices))
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class IdempotencyRecord(models.Model):
    """The first response to a POST with an Idempotency-Key, replayed on retries for 24 h."""

    principal = models.CharField(max_length=100, help_text="Whose key: 'apikey:<id>' or 'user:<id>'.")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    in_progress = models.BooleanField(default=True)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.BinaryField(null=True)
    content_type = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["principal", "key"], name="idempotency_unique_key")]

    def __str__(self) -> str:
        return f"{self.principal} {self.key}"


class WebhookEvent(models.TextChoices):
    SESSION_BOOKED = "session.booked"
    SESSION_RESCHEDULED = "session.rescheduled"
    SESSION_CANCELLED = "session.cancelled"
    SESSION_COMPLETED = "session.completed"
    SESSION_NO_SHOW = "session.no_show"
    FOLLOWUP_DUE = "followup.due"
    SIDE_EFFECT_RED_FLAG = "side_effect.red_flag"


class WebhookSubscription(models.Model):
    """An endpoint of an integration that wants to hear about events."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    events = ArrayField(models.CharField(max_length=40, choices=WebhookEvent.choices))
    secret = models.CharField(max_length=100, help_text="Shared secret for the X-Signature HMAC.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} → {self.url}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event for one subscription: an outbox row, retried with back-off for about a day."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(default=uuid.uuid4, help_text="Identifies the event; the same in every retry.")
    event_type = models.CharField(max_length=40, choices=WebhookEvent.choices)
    object_id = models.CharField(max_length=64)
    dedupe_key = models.CharField(
        max_length=200, blank=True, help_text="Names the fact, for events a periodic task may notice twice."
    )
    occurred_at = models.DateTimeField()
    status = models.CharField(max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=models.Q(status="pending"), name="webhook_due_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "event_id"], name="webhook_one_delivery_per_event"),
            models.UniqueConstraint(
                fields=["subscription", "dedupe_key"],
                condition=~models.Q(dedupe_key=""),
                name="webhook_one_delivery_per_fact",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.object_id} → {self.subscription.name} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP attempt of a delivery, kept for the admin."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["attempted_at"]

    def __str__(self) -> str:
        return f"{local_datetime_text(self.attempted_at)} {self.status_code or self.error[:40]}"
