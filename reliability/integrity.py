"""After a run: does the database hold what the API confirmed, and nothing it must not?

- no lost booking: every session the API confirmed (201, or 200 for a
  change) exists, with the start and status it last confirmed (or one an
  unanswered change may have made);
- no duplicate: each confirmed id was confirmed by one booking, no course
  holds two live sessions at the same start, and no session exists that no
  answer accounts for (beyond one per booking that went unanswered);
- no overlap: no practitioner and no room holds two live sessions at any
  instant (the exclusion constraints should make this impossible; it is
  checked in SQL all the same);
- no idempotency key left `in progress` for longer than a request can run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from reliability.traffic import ClientLedger, SessionState

LIVE = ["booked", "completed"]


@dataclass
class Integrity:
    confirmed_sessions: int = 0
    unanswered_bookings: int = 0
    unaccounted_sessions: int = 0
    lost: int = 0  # confirmed, not in the database, or not as last confirmed
    duplicates: int = 0
    overlaps: int = 0
    stuck_keys: int = 0
    findings: list[str] = field(default_factory=list)


def check_bookings(ledgers: list[ClientLedger], *, seeded_session_ids: list[str]) -> Integrity:
    from integrations.models import IdempotencyRecord
    from treatments.models import Session

    result = Integrity()
    records = {}
    for ledger in ledgers:
        for session_id, record in ledger.sessions.items():
            if session_id in records:
                result.duplicates += 1
                result.findings.append(f"session {session_id} was confirmed to two clients")
            records[session_id] = record
        result.unanswered_bookings += len(ledger.unanswered_booking_keys)
    result.confirmed_sessions = len(records)

    stored = {
        str(pk): SessionState(starts_at, status)
        for pk, starts_at, status in Session.objects.values_list("pk", "starts_at", "status")
    }
    for session_id, record in records.items():
        state = stored.get(session_id)
        if state is None:
            result.lost += 1
            result.findings.append(f"lost booking: session {session_id} was confirmed and is not in the database")
        elif state not in [record.confirmed, *record.possible]:
            result.lost += 1
            result.findings.append(
                f"session {session_id} was last confirmed as {record.confirmed.status} at "
                f"{record.confirmed.starts_at.isoformat()}; the database has {state.status} at "
                f"{state.starts_at.isoformat()}"
            )

    unaccounted = set(stored) - set(records) - set(seeded_session_ids)
    result.unaccounted_sessions = len(unaccounted)
    if len(unaccounted) > result.unanswered_bookings:
        result.duplicates += len(unaccounted) - result.unanswered_bookings
        result.findings.append(
            f"duplicate bookings: {len(unaccounted)} sessions no answer confirmed, "
            f"but only {result.unanswered_bookings} bookings went unanswered"
        )

    table = Session._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT course_id, starts_at, count(*) FROM {table} "  # noqa: S608 - our own table name
            "WHERE status = ANY(%s) GROUP BY course_id, starts_at HAVING count(*) > 1",
            [LIVE],
        )
        for course_id, starts_at, count in cursor.fetchall():
            result.duplicates += count - 1
            result.findings.append(f"duplicate: course {course_id} has {count} live sessions at {starts_at}")
        for resource in ("practitioner_id", "room_id"):
            cursor.execute(
                f"SELECT a.id, b.id FROM {table} a JOIN {table} b "  # noqa: S608 - our own names
                f"ON a.{resource} = b.{resource} AND a.id < b.id "
                "AND a.status = ANY(%s) AND b.status = ANY(%s) "
                "AND tstzrange(a.starts_at, a.ends_at, '[)') && tstzrange(b.starts_at, b.ends_at, '[)')",
                [LIVE, LIVE],
            )
            for first, second in cursor.fetchall():
                result.overlaps += 1
                result.findings.append(f"overlap: live sessions {first} and {second} share a {resource[:-3]}")

    # A request is over long before this (gunicorn's timeout is 30 s): a key still in progress is stuck.
    stuck = IdempotencyRecord.objects.filter(
        in_progress=True, created_at__lt=timezone.now() - timedelta(seconds=60)
    ).count()
    result.stuck_keys = stuck
    if stuck:
        result.findings.append(f"{stuck} idempotency keys are stuck in progress")
    stuck_for_clients = sum(ledger.stuck_keys for ledger in ledgers)
    if stuck_for_clients:
        result.findings.append(f"{stuck_for_clients} bookings were still 'in progress' when their client gave up")
    return result
