"""`Idempotency-Key` on API POSTs: a retried request never acts twice.

The first request with a key stores a record (committed at once, so
concurrent retries see it), runs, and stores its response. A retry with the
same key and body gets that response again; with a different body, 422;
while the first is still running, 409 with Retry-After. Keys are per caller
(API key or staff user) and expire after 24 hours. A 5xx is not stored, so
the client may retry after a server fault.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from clinic.api.responses import api_error as _error
from integrations.models import IdempotencyRecord

HEADER = "Idempotency-Key"
TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255


def _principal(request: HttpRequest) -> str | None:
    authorization = request.headers.get("Authorization", "")
    if authorization.startswith("Bearer "):
        return "apikey:" + hashlib.sha256(authorization[7:].strip().encode()).hexdigest()[:32]
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return None


class IdempotencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get(HEADER)
        if request.method != "POST" or key is None or not request.path.startswith("/api/"):
            return self.get_response(request)
        if not key or len(key) > MAX_KEY_LENGTH:
            return _error(400, "invalid_idempotency_key", f"{HEADER} must be 1 to {MAX_KEY_LENGTH} characters.")
        principal = _principal(request)
        if principal is None:
            return self.get_response(request)  # authentication will refuse it
        fingerprint = hashlib.sha256(
            b"\n".join([request.method.encode(), request.path.encode(), request.body])
        ).hexdigest()

        record, created = self._claim(principal, key, fingerprint)
        if not created:
            if record.fingerprint != fingerprint:
                return _error(
                    422, "idempotency_key_reused", f"This {HEADER} was used with a different request body or path."
                )
            if record.in_progress:
                return _error(
                    409,
                    "request_in_progress",
                    f"A request with this {HEADER} is still being processed.",
                    **{"Retry-After": "1"},
                )
            response = HttpResponse(
                bytes(record.response_body or b""), status=record.status_code, content_type=record.content_type
            )
            response["Idempotent-Replayed"] = "true"
            return response

        try:
            response = self.get_response(request)
        except BaseException:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            raise
        if response.status_code >= 500 or getattr(response, "streaming", False):
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            return response
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            in_progress=False,
            status_code=response.status_code,
            response_body=response.content,
            content_type=response.get("Content-Type", "application/json"),
        )
        return response

    def _claim(self, principal: str, key: str, fingerprint: str) -> tuple[IdempotencyRecord, bool]:
        now = timezone.now()
        for _ in range(3):
            try:
                with transaction.atomic():
                    return (
                        IdempotencyRecord.objects.create(
                            principal=principal, key=key, fingerprint=fingerprint, expires_at=now + TTL
                        ),
                        True,
                    )
            except IntegrityError:
                existing = IdempotencyRecord.objects.filter(principal=principal, key=key).first()
                if existing is None:
                    continue  # deleted between our insert and read (a 5xx); try again
                if existing.expires_at <= now:
                    IdempotencyRecord.objects.filter(pk=existing.pk, expires_at__lte=now).delete()
                    continue
                return existing, False
        raise RuntimeError("could not claim the idempotency key")


def prune_expired_idempotency_records() -> int:
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
