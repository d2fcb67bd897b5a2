"""API keys: created (shown once), revoked, and checked."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clinic.actors import Actor, staff_user
from clinic.errors import InvalidState
from integrations.models import ApiKey, Scope

KEY_PREFIX = "clk_"
# Writing last_used_at on every request would make each read a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def api_key_create(*, name: str, scopes: list[str], actor: Actor) -> tuple[ApiKey, str]:
    """Create a key; return it with the raw key, which is never stored and never shown again."""
    if not name.strip():
        raise ValidationError({"name": "Name the integration that will use this key."})
    unknown = sorted(set(scopes) - set(Scope.values))
    if not scopes or unknown:
        raise ValidationError({"scopes": f"Choose scopes from {', '.join(Scope.values)}."})
    prefix = secrets.token_hex(4)
    raw_key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        name=name.strip(),
        prefix=prefix,
        key_hash=hash_key(raw_key),
        scopes=sorted(set(scopes)),
        created_by=staff_user(actor),
    )
    return api_key, raw_key


def api_key_revoke(*, api_key: ApiKey, actor: Actor) -> ApiKey:
    """Revoke a key at once, recording who did; raise InvalidState if it already was."""
    updated = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=staff_user(actor)
    )
    if not updated:
        raise InvalidState("This key is already revoked.")
    api_key.refresh_from_db()
    return api_key


def api_key_authenticate(raw_key: str) -> ApiKey | None:
    """Return the active key matching `raw_key` (recording its use), or None."""
    api_key = ApiKey.objects.filter(key_hash=hash_key(raw_key), revoked_at__isnull=True).first()
    if api_key is None:
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key
