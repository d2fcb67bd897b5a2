"""One transport class per channel. Each `send()` returns the provider's
message id, or raises TransientError (try again later) or PermanentError
(this message will never go: bad number, rejected address)."""

from __future__ import annotations

from dataclasses import dataclass


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
    Reply-To, and the text asked for no reply).
    """

    idempotency_key: str
    to: str
    subject: str
    body: str
    reply_to: str = ""
