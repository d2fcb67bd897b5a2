"""SMS transports. Settings pick one by dotted path in SMS_BACKEND."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from aftercare.channels import OutgoingMessage, PermanentError, TransientError


class SmsTransport:
    def send(self, message: OutgoingMessage) -> str:
        """Send `message`; return the provider's id, or raise Transient/PermanentError."""
        raise NotImplementedError


class ConsoleSmsTransport(SmsTransport):
    """Development: print the SMS to stdout."""

    def send(self, message: OutgoingMessage) -> str:
        sys.stdout.write(f"[sms to {message.to}] {message.body}\n")
        sys.stdout.flush()
        return f"console-{message.idempotency_key}"


class FileSmsTransport(SmsTransport):
    """Development and tests: append each SMS as a JSON line to SMS_FILE_PATH/sms.jsonl."""

    def send(self, message: OutgoingMessage) -> str:
        folder = Path(settings.SMS_FILE_PATH)
        folder.mkdir(parents=True, exist_ok=True)
        record = {
            "id": message.idempotency_key,
            "to": message.to,
            "body": message.body,
            "at": timezone.now().isoformat(),
        }
        with (folder / "sms.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        return f"file-{message.idempotency_key}"


class TwilioSmsTransport(SmsTransport):
    """Production: Twilio's Messages API through its official client.

    Needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER.
    """

    def __init__(self) -> None:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        missing = [
            name
            for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER")
            if not getattr(settings, name)
        ]
        if missing:
            raise PermanentError(f"SMS provider not configured: set {', '.join(missing)}")
        self.client = Client(
            settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=TwilioHttpClient(timeout=10)
        )

    def send(self, message: OutgoingMessage) -> str:
        from twilio.base.exceptions import TwilioException, TwilioRestException

        try:
            sent = self.client.messages.create(to=message.to, from_=settings.TWILIO_FROM_NUMBER, body=message.body)
        except TwilioRestException as exc:
            # 429 and 5xx will likely pass later; other 4xx (bad number,
            # unsubscribed recipient) never will.
            if exc.status == 429 or exc.status >= 500:
                raise TransientError(f"Twilio {exc.status}: {exc.msg}") from exc
            raise PermanentError(f"Twilio {exc.status} ({exc.code}): {exc.msg}") from exc
        except (TwilioException, OSError) as exc:
            raise TransientError(f"{exc.__class__.__name__}: {exc}") from exc
        return str(sent.sid)


def sms_transport() -> SmsTransport:
    return import_string(settings.SMS_BACKEND)()
