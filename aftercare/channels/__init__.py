"""One transport class per channel. Each `send()` returns the provider's
message id, or raises TransientError (try again later) or PermanentError
(this message will never go: bad number, rejected address)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


class DeliveryError(Exception):
    """A message could not be handed to the provider."""


class TransientError(DeliveryError):
    """Worth retrying: timeouts, 5xx, rate limits, the provider being down."""


class PermanentError(DeliveryError):
    """Not worth retrying: the provider refused this message for good."""


@dataclass(frozen=True)
class OutgoingMessage:
    """What a transport needs; `idempotency_key` is the outbox row id.

    `reply_to`, for email, is where the patient's replies go (empty: no
    Reply-To, and the text asked for no reply). An email may also carry an
    HTML alternative of `body`, its own From (`from_email`, empty: the
    clinic's DEFAULT_FROM_EMAIL), extra headers (List-Unsubscribe…) and
    attachments as (filename, content, MIME type).
    """

    idempotency_key: str
    to: str
    subject: str
    body: str
    reply_to: str = ""
    html: str = ""
    from_email: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    attachments: tuple[tuple[str, bytes, str], ...] = ()
