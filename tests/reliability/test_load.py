"""`make load` and `make faults` judge by reliability.integrity; a short load run keeps the script honest."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.models import IdempotencyRecord
from reliability.integrity import check_bookings
from reliability.traffic import ClientLedger, SessionRecord, SessionState
from tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


def ledger_of(*sessions: tuple[str, SessionState], unanswered: int = 0) -> ClientLedger:
    ledger = ClientLedger(sessions={pk: SessionRecord(confirmed=state) for pk, state in sessions})
    ledger.unanswered_booking_keys = {f"key-{n}" for n in range(unanswered)}
    return ledger


def test_a_session_as_the_api_last_confirmed_it_passes() -> None:
    session = SessionFactory()

    checked = check_bookings(
        [ledger_of((str(session.pk), SessionState(session.starts_at, "booked")))], seeded_session_ids=[]
    )

    assert checked.findings == []
    assert checked.confirmed_sessions == 1


def test_a_confirmed_booking_missing_or_moved_is_lost() -> None:
    session = SessionFactory()
    confirmed_elsewhere = SessionState(session.starts_at + timedelta(hours=1), "booked")

    never_stored = str(uuid.uuid4())

    checked = check_bookings(
        [ledger_of((str(session.pk), confirmed_elsewhere), (never_stored, confirmed_elsewhere))], seeded_session_ids=[]
    )

    assert checked.lost == 2
    assert len(checked.findings) == 2


def test_an_unanswered_change_may_explain_the_state_found() -> None:
    session = SessionFactory()
    ledger = ledger_of((str(session.pk), SessionState(session.starts_at - timedelta(days=1), "booked")))
    ledger.sessions[str(session.pk)].possible.append(SessionState(session.starts_at, "booked"))

    assert check_bookings([ledger], seeded_session_ids=[]).findings == []


def test_a_session_no_answer_accounts_for_is_a_duplicate_unless_a_booking_went_unanswered() -> None:
    SessionFactory()

    assert check_bookings([ledger_of()], seeded_session_ids=[]).duplicates == 1
    assert check_bookings([ledger_of(unanswered=1)], seeded_session_ids=[]).findings == []


def test_an_idempotency_key_left_in_progress_is_a_finding() -> None:
    IdempotencyRecord.objects.create(principal="apikey:1", key="k", fingerprint="f", expires_at=timezone.now())
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(minutes=5))

    checked = check_bookings([ledger_of()], seeded_session_ids=[])

    assert checked.stuck_keys == 1


@pytest.mark.timeout(180)
@pytest.mark.django_db(transaction=True)
def test_a_short_load_run_drives_gunicorn_and_finds_every_booking_where_the_api_said() -> None:
    from reliability.load import run

    outcome = run(seconds=5, clients=2, patients=20)

    assert outcome.findings == []
    samples = outcome.warm_up.samples + outcome.result.samples
    assert {sample.status for sample in samples} <= {200, 201, 400, 409}
    assert sum(ledger.booked for ledger in outcome.warm_up.ledgers + outcome.result.ledgers) > 0
    assert len({sample.operation for sample in samples}) >= 6
