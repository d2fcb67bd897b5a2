from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import BadHeaderError, EmailMultiAlternatives, get_connection

from aftercare.channels import OutgoingMessage, PermanentError, TransientError


class EmailTransport:
    """Email through Django's configured EMAIL_BACKEND (SMTP, a provider's, console, file).

    The plain text is the body; an HTML version, when given, goes as its
    alternative (multipart/alternative), so every mail client shows one.
    """

    def send(self, message: OutgoingMessage) -> str:
        """Send `message`; return its Message-ID.

        The Message-ID is derived from the outbox row, so a provider or mail
        server that de-duplicates on it sees a retried send as the same mail.
        """
        # Not make_msgid(): it adds a timestamp and a random number, so every
        # retry of one row would carry a new Message-ID.
        message_id = f"<{message.idempotency_key}@clinic.local>"
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.body,
            from_email=message.from_email or settings.DEFAULT_FROM_EMAIL,
            to=[message.to],
            reply_to=[message.reply_to] if message.reply_to else None,
            headers={**message.headers, "Message-ID": message_id, "X-Clinic-Message-Id": message.idempotency_key},
            connection=get_connection(fail_silently=False),
        )
        if message.html:
            email.attach_alternative(message.html, "text/html")
        for filename, content, mimetype in message.attachments:
            email.attach(filename, content, mimetype)
        try:
            email.send()
        except BadHeaderError as exc:
            # A line break in a header (the subject, say): the message itself is
            # wrong and no retry will mend it. The exception quotes the header,
            # often a patient's name, so its text is not kept.
            raise PermanentError("BadHeaderError: an email header contains a line break") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            # 4xx replies (mailbox busy, greylisting) pass later; 5xx never will.
            codes = [code for code, _reason in exc.recipients.values()]
            if codes and all(400 <= code < 500 for code in codes):
                raise TransientError(f"recipient temporarily refused: {exc}") from exc
            raise PermanentError(f"recipient refused: {exc}") from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            raise TransientError(f"{exc.__class__.__name__}: {exc}") from exc
        return message_id
