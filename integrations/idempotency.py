"""`Idempotency-Key` on API POSTs: a retried request never acts twice.

The first request with a key stores a record (committed at once, so
concurrent retries see it: one INSERT … ON CONFLICT DO NOTHING, outside any
transaction), runs, and stores its response. A retry with the
same key and body gets that response again; with a different body, 422;
while the first is still running, 409 with Retry-After. A first request
that never recorded its outcome (its worker was killed, or the database
went away mid-request) stops holding the key after ABANDONED_AFTER, so a
retry then runs. Keys are per caller (API key or staff user) and expire
after 24 hours.

Only a caller that authenticates (an active API key, a logged-in user) gets
a record, so a revoked key is refused rather than replayed, and anonymous
requests write nothing. Only final outcomes are stored: a 5xx, or a refusal
about the attempt rather than the request (401, 403, 408, 429), is not,
so the client may retry after Retry-After or a server fault. Erasing a
patient forgets the stored responses that name them (`forget_responses_naming`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from clinic.api.responses import api_error as _error
from integrations.models import IdempotencyRecord
from integrations.services import api_key_authenticate

HEADER = "Idempotency-Key"
TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255
# A request still "in progress" after this long is not running any more: gunicorn kills a worker whose
# request passes its timeout (30 s). Its process died, or the database went away before the outcome
# could be stored; nobody will finish the record, so a retry may take the key over.
ABANDONED_AFTER = timedelta(seconds=60)


# Outcomes about the attempt, not the request: a retry may well get another answer.
NOT_STORED = frozenset({401, 403, 408, 429})


def _principal(request: HttpRequest) -> str | None:
    """Who is asking, once authenticated: an active API key or a logged-in user; None for anyone else."""
    authorization = request.headers.get("Authorization", "")
    if authorization.startswith("Bearer "):
        api_key = api_key_authenticate(authorization[7:].strip())
        return f"apikey:{api_key.pk}" if api_key is not None else None
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
        if response.status_code >= 500 or response.status_code in NOT_STORED or getattr(response, "streaming", False):
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
            record = _insert_unless_taken(principal=principal, key=key, fingerprint=fingerprint, now=now)
            if record is not None:
                return record, True
            existing = IdempotencyRecord.objects.filter(principal=principal, key=key).first()
            if existing is None:
                continue  # deleted between our insert and read (a 5xx); try again
            if existing.expires_at <= now:
                IdempotencyRecord.objects.filter(pk=existing.pk, expires_at__lte=now).delete()
                continue
            if existing.in_progress and existing.created_at <= now - ABANDONED_AFTER:
                # Conditional, so of two retries taking it over at once only one runs. If the abandoned
                # request did act (a booking committed), acting again meets it: the slot is taken (409).
                IdempotencyRecord.objects.filter(
                    pk=existing.pk, in_progress=True, created_at__lte=now - ABANDONED_AFTER
                ).delete()
                continue
            return existing, False
        raise RuntimeError("could not claim the idempotency key")


def _insert_unless_taken(*, principal: str, key: str, fingerprint: str, now: datetime) -> IdempotencyRecord | None:
    """Store an in-progress record for (`principal`, `key`) unless one exists; return it, or None if taken.

    One statement, INSERT … ON CONFLICT DO NOTHING: outside a transaction it
    commits at once (a concurrent retry sees the key claimed), and a taken
    key raises nothing, so no transaction or savepoint is wrapped around it.
    """
    record = IdempotencyRecord(
        principal=principal, key=key, fingerprint=fingerprint, in_progress=True, created_at=now, expires_at=now + TTL
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {IdempotencyRecord._meta.db_table} "  # noqa: S608 - the table name is ours
            '("principal", "key", "fingerprint", "in_progress", "content_type", "created_at", "expires_at") '
            "VALUES (%s, %s, %s, %s, %s, %s, %s) "
            'ON CONFLICT ("principal", "key") DO NOTHING RETURNING "id"',
            [principal, key, fingerprint, True, record.content_type, now, record.expires_at],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    record.pk = row[0]
    return record


def forget_responses_naming(identifiers: list[str]) -> int:
    """Delete stored responses whose body names any of `identifiers` (an erased patient's ids)."""
    if not identifiers:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {IdempotencyRecord._meta.db_table} "  # noqa: S608 - the table name is ours
            "WHERE EXISTS (SELECT 1 FROM unnest(%s::text[]) AS ident "
            "WHERE position(convert_to(ident, 'UTF8') IN response_body) > 0)",
            [identifiers],
        )
        return cursor.rowcount


def prune_expired_idempotency_records() -> int:
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
