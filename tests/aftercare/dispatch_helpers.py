"""Stand-ins for the outside world, and the processes the dispatcher tests start.

The SMS and email providers are the only things stubbed: the transports
below take the place of a provider, selected through settings exactly as
a real one is (SMS_BACKEND, EMAIL_BACKEND). Everything else (PostgreSQL,
Redis, Celery workers) is real.

The recording transport appends "<message id>\\n" to a file for each send,
with one O_APPEND write, so several processes can share the file and a test
can count by message id how often each message reached the "provider".

Run as `python -m tests.aftercare.dispatch_helpers READY GO` this module is
one dispatcher process: it signals READY, waits for GO, runs the dispatcher
and prints its result as JSON.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import ClassVar

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage

from aftercare.channels import OutgoingMessage, PermanentError, TransientError
from aftercare.channels.sms import SmsTransport

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
RECORDING_TRANSPORT = "tests.aftercare.dispatch_helpers.RecordingSmsTransport"


# --- the SMS provider ------------------------------------------------------------


def recording_file() -> Path:
    """Where sends are recorded: settings.SMS_RECORDING_FILE, else env SMS_RECORDING_FILE."""
    return Path(getattr(settings, "SMS_RECORDING_FILE", "") or os.environ["SMS_RECORDING_FILE"])


def record_send(message_id: str) -> None:
    # One write on an O_APPEND descriptor: lines from concurrent processes never interleave.
    descriptor = os.open(recording_file(), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, f"{message_id}\n".encode())
    finally:
        os.close(descriptor)


def recorded_ids(path: Path) -> list[str]:
    """Every message id the provider received, once per send, in order."""
    if not path.exists():
        return []
    return [line for line in path.read_text().splitlines() if line]


def duplicates(ids: Sequence[str]) -> dict[str, int]:
    """The ids received more than once, with how many times."""
    return {message_id: count for message_id, count in collections.Counter(ids).items() if count > 1}


class RecordingSmsTransport(SmsTransport):
    """A provider that accepts every message and notes its id.

    Env SMS_RECORDING_DELAY (seconds) makes each send take that long, like
    a provider's round trip, so a batch lasts long enough to be interrupted.
    """

    def send(self, message: OutgoingMessage) -> str:
        delay = float(os.environ.get("SMS_RECORDING_DELAY") or 0)
        if delay:
            time.sleep(delay)
        record_send(message.idempotency_key)
        return f"recorded-{message.idempotency_key}"


class TransientFailureSmsTransport(SmsTransport):
    """A provider that is having a bad day: it notes the attempt and answers 503."""

    def send(self, message: OutgoingMessage) -> str:
        record_send(message.idempotency_key)
        raise TransientError("provider answered 503 Service Unavailable")


class PermanentFailureSmsTransport(SmsTransport):
    """A provider that refuses the number for good."""

    def send(self, message: OutgoingMessage) -> str:
        record_send(message.idempotency_key)
        raise PermanentError("provider refused: 21211 invalid 'To' phone number")


class BrokenSmsTransport(SmsTransport):
    """A transport with a bug: it raises something that is not a DeliveryError."""

    def send(self, message: OutgoingMessage) -> str:
        raise RuntimeError("unexpected reply from provider")


# --- the mail server -------------------------------------------------------------


class FailingSmtpBackend(BaseEmailBackend):
    """An email backend whose mail server fails the way `error` says.

    Raising from `send_messages` is what Django's SMTP backend does when
    smtplib raises (with fail_silently off), so the transport sees the same
    exceptions it would see from a real server.
    """

    error: ClassVar[BaseException | None] = None
    attempted: ClassVar[list[EmailMessage]] = []

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        type(self).attempted.extend(email_messages)
        if self.error is not None:
            raise self.error
        return len(email_messages)


SMTP_TRANSIENT_FAILURES: dict[str, BaseException] = {
    "server disconnected": smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
    "cannot connect": smtplib.SMTPConnectError(421, b"Service not available, closing transmission channel"),
    "data refused for now": smtplib.SMTPDataError(451, b"Requested action aborted: local error in processing"),
    "authentication failed": smtplib.SMTPAuthenticationError(454, b"Temporary authentication failure"),
    "connection refused": ConnectionRefusedError(111, "Connection refused"),
    "timeout": TimeoutError("timed out"),
}
SMTP_RECIPIENT_REFUSED = smtplib.SMTPRecipientsRefused(
    {"nobody@patients.example": (550, b"5.1.1 The email account that you tried to reach does not exist")}
)


# --- processes -------------------------------------------------------------------


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    interval: float = 0.05,
    explain: Callable[[], str] | None = None,
) -> None:
    """Poll `condition` until it holds; fail the test after `timeout` seconds, adding `explain()` if given."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            details = f"\n{explain()}" if explain else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {what}{details}")
        time.sleep(interval)


def process_environ(*, recording: Path, **overrides: str) -> dict[str, str]:
    """The environment for a dispatcher or worker process working on the test database.

    Quiet hours are switched off (equal start and end): these processes run
    at whatever time the suite runs, and quiet hours have their own tests.
    """
    from tests.conftest import database_url_for_current_test_db

    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "clinic.settings",
        "DATABASE_URL": database_url_for_current_test_db(),
        "CONN_MAX_AGE": "0",
        "SMS_BACKEND": RECORDING_TRANSPORT,
        "SMS_RECORDING_FILE": str(recording),
        "AFTERCARE_QUIET_HOURS": "00:00-00:00",
        "PYTHONUNBUFFERED": "1",
        **overrides,
    }


def start_process(command: Sequence[str], *, environ: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start `command` in a session of its own, so it and any children can be signalled as a group."""
    with log.open("ab") as log_file:
        return subprocess.Popen(
            list(command),
            cwd=PROJECT_ROOT,
            env=environ,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def start_worker(*, queue: str, environ: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A real `celery worker` consuming only `queue`, with one process (the solo pool)."""
    return start_process(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "clinic",
            "worker",
            "--queues",
            queue,
            "--pool",
            "solo",
            "--loglevel",
            "INFO",
            "--without-mingle",
            "--without-gossip",
            "--hostname",
            f"{queue}@%h",
        ],
        environ=environ,
        log=log,
    )


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL `process` and everything in its session (it was started by start_process)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process we started: politely, then by force."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        kill_group(process)


@contextmanager
def stopped_on_exit(*processes: subprocess.Popen[bytes]) -> Iterator[None]:
    try:
        yield
    finally:
        for process in processes:
            stop(process)


def log_tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


def log_shows(log: Path, text: str) -> bool:
    return log.exists() and text in log.read_text(errors="replace")


# --- outbox rows and the broker ------------------------------------------------------


def make_due_sms(count: int, *, patients: int, key_prefix: str = "load") -> list[str]:
    """Write `count` SMS rows due a minute ago, spread over `patients` consenting patients; return their ids.

    bulk_create, because thousands of rows through the scheduling services
    would take longer than the dispatching under test.
    """
    from datetime import timedelta

    from django.utils import timezone

    from aftercare.models import Channel, MessageKind, ScheduledMessage
    from patients.models import ConsentKind, ContactChannel
    from patients.services import consent_give
    from tests.factories import PatientFactory

    people = [PatientFactory(preferred_channel=ContactChannel.SMS) for _ in range(patients)]
    for person in people:
        consent_give(patient=person, kind=ConsentKind.SERVICE_MESSAGES, version="2026-01", actor=None)
    due_at = timezone.now() - timedelta(minutes=1)
    rows = ScheduledMessage.objects.bulk_create(
        [
            ScheduledMessage(
                kind=MessageKind.AFTERCARE,
                dedupe_key=f"{key_prefix}-{n}",
                patient=people[n % patients],
                channel=Channel.SMS,
                body=f"Aftercare {n}: keep the treated skin clean and cool.",
                due_at=due_at,
            )
            for n in range(count)
        ],
        batch_size=1000,
    )
    return [str(row.pk) for row in rows]


def enqueue_dispatch(*, broker_url: str, queue: str) -> None:
    """Publish the dispatcher task to `queue` on the broker at `broker_url`, once, without retrying.

    A broker that is down raises kombu's OperationalError within about two
    seconds instead of the publisher retrying.
    """
    from aftercare.tasks import dispatch_due_messages
    from clinic.celery import app

    with app.connection_for_write(broker_url, connect_timeout=2) as connection:
        dispatch_due_messages.apply_async(queue=queue, connection=connection, retry=False)


# --- one dispatcher process --------------------------------------------------------


def main(argv: Sequence[str]) -> int:
    import django

    django.setup()
    from aftercare.dispatch import dispatch_due

    ready, go = Path(argv[0]), Path(argv[1])
    ready.touch()
    # Start together with the other dispatcher, so the two really overlap.
    wait_until(go.exists, timeout=60, what="the go signal", interval=0.005)
    result = dispatch_due(time_budget_seconds=120)
    sys.stdout.write("RESULT " + json.dumps(asdict(result)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
