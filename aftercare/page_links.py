"""Links to a patient's own page for one session, and to unsubscribe: short, unguessable, expiring, signed.

Every message about a session links to its page, and the link is all a
patient needs: no login. A token is 32 bytes, written as 43 URL-safe base64
characters: the session's id (16 bytes), the day the link expires (4 bytes:
days since 1970-01-01) and the first 12 bytes of an HMAC-SHA256 of both,
keyed by SECRET_KEY. A forged or altered token fails the HMAC (96 bits: no
one guesses that online); an expired one fails its date. Keys in
SECRET_KEY_FALLBACKS are still accepted, so rotating the key does not break
links already sent.

Not django.core.signing: its tokens carry the payload as JSON and a
timestamp and a full signature, near 100 characters, and a link must leave
room for words in a two-segment text. The token names no patient: the
session id is a random UUID, and the page behind it shows nothing personal
once the patient is erased or the session cancelled (aftercare.pages).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from datetime import date, timedelta
from uuid import UUID

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac

SALT = "aftercare.page_links"
UNSUBSCRIBE_SALT = "aftercare.unsubscribe"
# Unsubscribe links must work for as long as an email may be read: years, not months.
UNSUBSCRIBE_DAYS = 3650
MAC_BYTES = 12
TOKEN_BYTES = 16 + 4 + MAC_BYTES
EPOCH = date(1970, 1, 1)


def _mac(salt: str, payload: bytes, secret: str) -> bytes:
    return salted_hmac(salt, payload, secret=secret, algorithm="sha256").digest()[:MAC_BYTES]


def _token(salt: str, object_id: UUID, expires_on: date) -> str:
    payload = object_id.bytes + (expires_on - EPOCH).days.to_bytes(4, "big")
    return base64.urlsafe_b64encode(payload + _mac(salt, payload, settings.SECRET_KEY)).decode().rstrip("=")


def page_token(session_id: UUID, *, expires_on: date | None = None) -> str:
    """The token of the page of session `session_id`, valid through `expires_on`.

    By default it lasts AFTERCARE_PAGE_LINK_DAYS from today (UTC).
    """
    if expires_on is None:
        expires_on = timezone.now().date() + timedelta(days=settings.AFTERCARE_PAGE_LINK_DAYS)
    return _token(SALT, session_id, expires_on)


def session_of_token(token: str, *, today: date | None = None) -> UUID | None:
    """The session a token opens, or None if it is malformed, altered, forged or expired."""
    return _object_of(SALT, token, today=today)


def unsubscribe_token(patient_id: UUID) -> str:
    """The token of a patient's one-click unsubscribe link (same format, its own key, years long)."""
    return _token(UNSUBSCRIBE_SALT, patient_id, timezone.now().date() + timedelta(days=UNSUBSCRIBE_DAYS))


def patient_of_unsubscribe_token(token: str) -> UUID | None:
    """The patient an unsubscribe token names, or None if it is malformed, altered, forged or expired."""
    return _object_of(UNSUBSCRIBE_SALT, token)


def unsubscribe_url(patient_id: UUID) -> str:
    return settings.SITE_URL + reverse("aftercare-unsubscribe", args=[unsubscribe_token(patient_id)])


def _object_of(salt: str, token: str, *, today: date | None = None) -> UUID | None:
    if len(token) != 43:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=")
    except (binascii.Error, ValueError):
        return None
    # Base64 has several spellings of the same bytes (the last character's unused bits): only the one we
    # write is a token, so a link altered in those bits is refused like any other alteration.
    if len(raw) != TOKEN_BYTES or base64.urlsafe_b64encode(raw).decode().rstrip("=") != token:
        return None
    payload, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    if not any(hmac.compare_digest(mac, _mac(salt, payload, secret)) for secret in secrets):
        return None
    expires_on = EPOCH + timedelta(days=int.from_bytes(payload[16:20], "big"))
    if expires_on < (today or timezone.now().date()):
        return None
    return UUID(bytes=payload[:16])


def page_url(session_id: UUID, *, expires_on: date | None = None) -> str:
    """The absolute address of the session's page, for a message read outside the site."""
    return settings.SITE_URL + reverse("aftercare-page", args=[page_token(session_id, expires_on=expires_on)])
