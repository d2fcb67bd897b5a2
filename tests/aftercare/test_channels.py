"""The channel transports, each against a stand-in for its provider.

Email goes through Django's backends (locmem, or a backend whose "server"
fails on purpose); SMS through the file transport and Twilio's official
client, with Twilio's HTTPS API answered by `responses` at the HTTP
boundary, so the client's own request building and error parsing run.
"""

from __future__ import annotations

import json
import smtplib
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests
import responses
from django.core import mail

from aftercare.channels import OutgoingMessage, PermanentError, TransientError
from aftercare.channels.email import EmailTransport
from aftercare.channels.sms import ConsoleSmsTransport, FileSmsTransport, TwilioSmsTransport, sms_transport
from tests.aftercare.dispatch_helpers import SMTP_RECIPIENT_REFUSED, SMTP_TRANSIENT_FAILURES, FailingSmtpBackend

ACCOUNT_SID = "AC00000000000000000000000000000001"
AUTH_TOKEN = "test-auth-token"
FROM_NUMBER = "+15005550006"
MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"

DAY_THREE = OutgoingMessage(
    idempotency_key="5b0f3c1e-2a53-4a47-9d0e-0c6a1f7f2b11",
    to="amelia.hart@example.com",
    subject="Day 3 after your mesotherapy session",
    body="Hello Amelia, keep retinol and acids paused until day 5.",
)
SMS = OutgoingMessage(
    idempotency_key="9d1c6a7e-7a0b-4a38-8f3e-2f4b6b1c9a22",
    to="+447700900123",
    subject="",
    body="Hello Amelia, how is your skin today? Reply or call +442079460000.",
)


# --- email ------------------------------------------------------------------------------


@pytest.fixture
def locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "aftercare@clinic.example"


@pytest.fixture
def failing_smtp(settings, monkeypatch):
    """EMAIL_BACKEND is a mail server that fails as the test sets `FailingSmtpBackend.error`."""
    settings.EMAIL_BACKEND = "tests.aftercare.dispatch_helpers.FailingSmtpBackend"
    # Undone after the test, so the failure a test sets does not leak into the next one.
    monkeypatch.setattr(FailingSmtpBackend, "error", None)
    monkeypatch.setattr(FailingSmtpBackend, "attempted", [])
    return FailingSmtpBackend


def test_an_email_goes_out_through_the_configured_django_backend(locmem_email) -> None:
    message_id = EmailTransport().send(DAY_THREE)

    [email] = mail.outbox
    assert email.to == ["amelia.hart@example.com"]
    assert email.from_email == "aftercare@clinic.example"
    assert email.subject == "Day 3 after your mesotherapy session"
    assert email.body == "Hello Amelia, keep retinol and acids paused until day 5."
    # The returned id is the one in the mail, and it names the outbox row.
    assert email.extra_headers["Message-ID"] == message_id
    assert email.message()["Message-ID"] == message_id
    assert DAY_THREE.idempotency_key in message_id
    assert message_id.startswith("<") and message_id.endswith(">")
    assert email.extra_headers["X-Clinic-Message-Id"] == DAY_THREE.idempotency_key
    assert email.message()["X-Clinic-Message-Id"] == DAY_THREE.idempotency_key


def test_an_email_sends_replies_where_it_is_told_and_nowhere_without_an_address(locmem_email) -> None:
    replies_to_the_desk = OutgoingMessage(
        idempotency_key="0c2d6f1a-51a4-4d0c-9a55-3a1b7c0e8f33",
        to="amelia.hart@example.com",
        subject="How is your skin doing?",
        body="Please reply to this email or call us.",
        reply_to="marylebone@clinic.example",
    )

    EmailTransport().send(replies_to_the_desk)
    EmailTransport().send(DAY_THREE)

    with_address, without = mail.outbox
    assert with_address.message()["Reply-To"] == "marylebone@clinic.example"
    assert without.message()["Reply-To"] is None


def test_a_retried_email_carries_the_same_message_id_so_servers_can_drop_the_duplicate(locmem_email) -> None:
    first = EmailTransport().send(DAY_THREE)
    second = EmailTransport().send(DAY_THREE)
    other = EmailTransport().send(SMS)

    assert first == second
    assert [email.extra_headers["Message-ID"] for email in mail.outbox] == [first, first, other]
    assert other != first


@pytest.mark.parametrize("failure", SMTP_TRANSIENT_FAILURES.values(), ids=SMTP_TRANSIENT_FAILURES.keys())
def test_a_mail_server_that_fails_for_now_is_a_transient_error(failing_smtp, failure: BaseException) -> None:
    failing_smtp.error = failure

    with pytest.raises(TransientError) as caught:
        EmailTransport().send(DAY_THREE)

    assert caught.value.__cause__ is failure
    assert type(failure).__name__ in str(caught.value)
    assert len(failing_smtp.attempted) == 1


def test_a_refused_recipient_is_a_permanent_error(failing_smtp) -> None:
    failing_smtp.error = SMTP_RECIPIENT_REFUSED

    with pytest.raises(PermanentError, match="recipient refused") as caught:
        EmailTransport().send(DAY_THREE)

    assert caught.value.__cause__ is SMTP_RECIPIENT_REFUSED


def test_a_mail_server_that_accepts_returns_the_message_id(failing_smtp) -> None:
    failing_smtp.error = None

    message_id = EmailTransport().send(DAY_THREE)

    [email] = failing_smtp.attempted
    assert email.extra_headers["Message-ID"] == message_id


# --- SMS: console and file --------------------------------------------------------------


def test_the_console_transport_prints_the_sms(settings, capsys) -> None:
    settings.SMS_BACKEND = "aftercare.channels.sms.ConsoleSmsTransport"

    transport = sms_transport()
    provider_id = transport.send(SMS)

    assert isinstance(transport, ConsoleSmsTransport)
    assert provider_id == f"console-{SMS.idempotency_key}"
    assert capsys.readouterr().out == f"[sms to +447700900123] {SMS.body}\n"


def test_the_file_transport_appends_one_json_line_per_sms(settings, tmp_path: Path) -> None:
    settings.SMS_BACKEND = "aftercare.channels.sms.FileSmsTransport"
    settings.SMS_FILE_PATH = str(tmp_path / "outbox" / "sms")  # made on first use
    second = OutgoingMessage(idempotency_key="second-id", to="+12025550143", subject="", body="Second text")

    transport = sms_transport()
    first_id = transport.send(SMS)
    second_id = sms_transport().send(second)

    assert isinstance(transport, FileSmsTransport)
    assert (first_id, second_id) == (f"file-{SMS.idempotency_key}", "file-second-id")
    lines = (tmp_path / "outbox" / "sms" / "sms.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert [(r["id"], r["to"], r["body"]) for r in records] == [
        (SMS.idempotency_key, "+447700900123", SMS.body),
        ("second-id", "+12025550143", "Second text"),
    ]
    assert all(record["at"].endswith("+00:00") for record in records)


# --- SMS: Twilio, stubbed at its HTTPS API ------------------------------------------------


@pytest.fixture
def twilio(settings):
    """Twilio configured as the SMS backend, its API answered by `responses` (nothing leaves the machine)."""
    settings.SMS_BACKEND = "aftercare.channels.sms.TwilioSmsTransport"
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_FROM_NUMBER = FROM_NUMBER
    with responses.RequestsMock(assert_all_requests_are_fired=True) as api:
        yield api


def twilio_message(sid: str = "SM0123456789abcdef0123456789abcdef") -> dict[str, object]:
    """The body of Twilio's 201 for a created message (the fields the client reads)."""
    return {
        "account_sid": ACCOUNT_SID,
        "api_version": "2010-04-01",
        "body": SMS.body,
        "date_created": "Mon, 02 Mar 2026 10:00:00 +0000",
        "direction": "outbound-api",
        "from": FROM_NUMBER,
        "num_segments": "1",
        "sid": sid,
        "status": "queued",
        "to": SMS.to,
        "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json",
    }


def twilio_error(status: int, code: int, message: str) -> dict[str, object]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def test_twilio_accepts_the_sms_and_the_transport_returns_its_sid(twilio) -> None:
    twilio.post(MESSAGES_URL, status=201, json=twilio_message("SMfeedfacefeedfacefeedfacefeedface"))

    transport = sms_transport()
    provider_id = transport.send(SMS)

    assert isinstance(transport, TwilioSmsTransport)
    assert provider_id == "SMfeedfacefeedfacefeedfacefeedface"
    [call] = twilio.calls
    form = parse_qs(call.request.body)
    assert form == {"To": ["+447700900123"], "From": [FROM_NUMBER], "Body": [SMS.body]}
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    # HTTP basic auth with the account credentials.
    assert call.request.headers["Authorization"] == requests.auth._basic_auth_str(ACCOUNT_SID, AUTH_TOKEN)


@pytest.mark.parametrize(
    ("status", "code", "text"),
    [
        (500, 20500, "Internal Server Error"),
        (503, 20503, "Service Unavailable"),
        (429, 20429, "Too Many Requests"),
    ],
)
def test_twilio_overloaded_or_failing_is_a_transient_error(twilio, status: int, code: int, text: str) -> None:
    twilio.post(MESSAGES_URL, status=status, json=twilio_error(status, code, text))

    with pytest.raises(TransientError, match=f"Twilio {status}"):
        sms_transport().send(SMS)


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (21211, "The 'To' number +447700900123 is not a valid phone number."),
        (21610, "Attempt to send to unsubscribed recipient"),
    ],
)
def test_twilio_refusing_the_message_is_a_permanent_error(twilio, code: int, text: str) -> None:
    twilio.post(MESSAGES_URL, status=400, json=twilio_error(400, code, text))

    with pytest.raises(PermanentError) as caught:
        sms_transport().send(SMS)

    assert f"Twilio 400 ({code})" in str(caught.value)
    assert text in str(caught.value)


@pytest.mark.parametrize(
    "network_failure",
    [
        requests.exceptions.ConnectionError("connection reset by peer"),
        requests.exceptions.ReadTimeout("read timed out"),
    ],
    ids=["connection error", "timeout"],
)
def test_twilio_unreachable_is_a_transient_error(twilio, network_failure: Exception) -> None:
    twilio.post(MESSAGES_URL, body=network_failure)

    with pytest.raises(TransientError) as caught:
        sms_transport().send(SMS)

    assert caught.value.__cause__ is network_failure


@pytest.mark.parametrize("missing", ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER"])
def test_twilio_without_its_settings_is_a_permanent_error_naming_them(settings, missing: str) -> None:
    settings.SMS_BACKEND = "aftercare.channels.sms.TwilioSmsTransport"
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_FROM_NUMBER = FROM_NUMBER
    setattr(settings, missing, "")

    with responses.RequestsMock(assert_all_requests_are_fired=False) as api, pytest.raises(PermanentError) as caught:
        sms_transport().send(SMS)

    assert missing in str(caught.value)
    assert len(api.calls) == 0


def test_a_temporarily_refused_recipient_is_tried_again_later(failing_smtp) -> None:
    """A 4xx reply (mailbox busy, greylisting) is not the end of that address."""
    greylisted = smtplib.SMTPRecipientsRefused({"amelia.hart@example.com": (450, b"4.2.1 Mailbox busy, try later")})
    failing_smtp.error = greylisted

    with pytest.raises(TransientError, match="temporarily refused") as caught:
        EmailTransport().send(DAY_THREE)

    assert caught.value.__cause__ is greylisted
