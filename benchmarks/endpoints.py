"""The API's figures against a seeded chain (`manage.py seed_bench`), each beside its limit in the same run.

The limit of a read is a minimal hand-written SQL query returning the same
rows (the same columns, the same order, the same page), fetched on the same
connection and turned into JSON with `json.dumps`: what any implementation
must at least pay. The figure is the endpoint through Django's test client:
the whole request (middleware, authentication as the front desk, filters,
serializers, JSON), without the network. App and limit are timed turn and
turn about, so a busy moment of the machine falls on both, and garbage is
collected before each timing (untimed): a sample pays for its own garbage,
not for a full collection of what earlier samples left (which took up to
400 ms in this process and made the p95 of app and limit alike a measure
of the collector; a server's tail pays it too, now and then).

- the worklist, page 1 (50 rows), p95;
- a practitioner's sessions over a month, 100 rows, p95;
- patient search by a common surname, 100 rows, p95 (the limit matches on
  the expression the trigram index is built on, patients migration 0007);
- availability of one practitioner over 31 days, p50 (the limit makes the
  same slots in one query, with the exclusion constraints' GiST indexes);
- courses and messages, 100 rows, p95;
- booking through POST /api/v1/sessions/ (every rule and the exclusion
  constraints), p50 and its number of queries; the limit locks the course,
  reads its sessions and inserts the row in one transaction;
- a gunicorn worker's memory (RSS) after serving those reads many times,
  beside the same worker's after one of each (`gunicorn_memory`).

`run()` works in the database Django is connected to now; bookings add
sessions to it.
"""

from __future__ import annotations

import gc
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.figures import Figure, Target

API = "/api/v1"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Scale:
    samples: int  # timed requests per read (and as many limit queries)
    bookings: int
    gunicorn_rounds: int  # times every read is sent to the gunicorn worker


FULL = Scale(samples=100, bookings=100, gunicorn_rounds=100)
SMOKE = Scale(samples=5, bookings=3, gunicorn_rounds=3)


@dataclass(frozen=True)
class Read:
    """One GET endpoint and the minimal SQL that returns the same rows."""

    name: str
    url: str
    sql: str
    params: Sequence[Any] | dict[str, Any]
    statistic: str  # "p50" or "p95"
    target: Target
    note: str = ""


def percentile(values: Sequence[float], share: float) -> float:
    """The value below which `share` of `values` fall (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


STATISTICS = {"p50": 0.50, "p95": 0.95}


def run(*, smoke: bool = False) -> list[Figure]:
    """Every figure of this module, in the database Django is connected to (seeded, and written to)."""
    from django.test import Client

    scale = SMOKE if smoke else FULL
    client = Client()
    client.force_login(front_desk_user())
    reads = chain_reads()
    figures = [measure_read(client, read, samples=scale.samples) for read in reads]
    figures += measure_bookings(client, count=scale.bookings)
    figures.append(gunicorn_memory(reads, rounds=scale.gunicorn_rounds))
    return figures


def front_desk_user() -> Any:
    """A member of the front desk: the worklist's reader, who books for any practitioner."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from clinic.roles import FRONT_DESK

    user, _ = get_user_model().objects.get_or_create(username="bench-front-desk", defaults={"is_staff": True})
    user.groups.add(Group.objects.get(name=FRONT_DESK))
    return user


# --- the reads and their limits ---------------------------------------------------------------------


def chain_reads() -> list[Read]:
    """The reads, with parameters picked from the seeded chain so each returns a full page."""
    from django.utils import timezone

    from frontdesk.chain_data import COMMON_LAST_NAME
    from treatments.followup import location_todays
    from treatments.models import Practitioner, Protocol

    protocol = Protocol.objects.get(name="Facial mesotherapy")
    practitioner_id, month_start, month_end = busiest_practitioner_month()
    practitioner = Practitioner.objects.prefetch_related("locations").get(pk=practitioner_id)
    location = practitioner.locations.all()[0]
    zone = location.time_zone
    first_day = location.today() + timedelta(days=1)
    last_day = first_day + timedelta(days=30)
    todays = location_todays(timezone.now())
    opened = " OR ".join("(f.location_id = %s AND f.window_start <= %s)" for _ in todays) or "FALSE"
    opened_params = [value for pair in todays.items() for value in pair]
    return [
        Read(
            name="GET /worklist/ page 1 (50 rows)",
            url=f"{API}/worklist/",
            sql=WORKLIST_SQL.replace("{opened}", opened),
            params=[*opened_params, 51],
            statistic="p95",
            target=Target(most=100),
        ),
        Read(
            name="GET /sessions/ a practitioner's month (100 rows)",
            url=(
                f"{API}/sessions/?practitioner={practitioner_id}&starts_after={_query_time(month_start)}"
                f"&starts_before={_query_time(month_end)}&page_size=100"
            ),
            sql=SESSIONS_SQL,
            params=[practitioner_id, month_start, month_end, 101],
            statistic="p95",
            target=Target(ratio=3),
        ),
        Read(
            name=f'patient search "{COMMON_LAST_NAME}" (100 rows)',
            url=f"{API}/patients/?search={COMMON_LAST_NAME}&page_size=100",
            sql=PATIENT_SEARCH_SQL.replace("{search_text}", search_text_expression()),
            params=[f"%{COMMON_LAST_NAME.upper()}%", 101],
            statistic="p95",
            target=Target(most=50),
        ),
        Read(
            name="GET /availability/ one practitioner, 31 days",
            url=(
                f"{API}/availability/?practitioner={practitioner_id}&location={location.pk}&protocol={protocol.pk}"
                f"&date_from={first_day.isoformat()}&date_to={last_day.isoformat()}"
            ),
            sql=AVAILABILITY_SQL,
            params={
                "first_day": first_day,
                "last_day": last_day,
                "zone": str(zone),
                "minutes": protocol.session_duration_minutes,
                "step": 15,
                "location": location.pk,
                "practitioner": practitioner_id,
            },
            statistic="p50",
            target=Target(ratio=2),
            note=f"{first_day:%d %b} to {last_day:%d %b}, 15-minute steps",
        ),
        Read(
            name="GET /courses/ newest (100 rows)",
            url=f"{API}/courses/?page_size=100",
            sql=COURSES_SQL,
            params=[101],
            statistic="p95",
            target=Target(ratio=3),
            note="target: the sessions list's",
        ),
        Read(
            name="GET /messages/ outbox order (100 rows)",
            url=f"{API}/messages/?page_size=100",
            sql=MESSAGES_SQL,
            params=[101],
            statistic="p95",
            target=Target(ratio=3),
            note="target: the sessions list's",
        ),
    ]


def _query_time(moment: datetime) -> str:
    return moment.isoformat().replace("+", "%2B")


def busiest_practitioner_month() -> tuple[Any, datetime, datetime]:
    """The practitioner and calendar month (UTC) with the most sessions in the last year: a full page of 100."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT practitioner_id, date_trunc('month', starts_at AT TIME ZONE 'UTC') AS month
            FROM treatments_session
            WHERE starts_at > now() - interval '1 year' AND starts_at < now()
            GROUP BY 1, 2 ORDER BY count(*) DESC, 1 LIMIT 1
            """
        )
        row = cursor.fetchone()
    if row is None:
        raise RuntimeError("No sessions in the last year: seed the database first (manage.py seed_bench).")
    month_start = row[1].replace(tzinfo=UTC)
    month_end = (month_start + timedelta(days=32)).replace(day=1)
    return row[0], month_start, month_end


# The patient's treatment consent to the protocol's current form, in force now (one row per patient at most).
CONSENT_IN_FORCE = """
SELECT true AS found FROM patients_consent k
WHERE k.patient_id = c.patient_id AND k.kind = 'treatment' AND k.scope = pr.treatment_consent_form
  AND k.version = pr.treatment_consent_version AND k.given_at <= now()
  AND (k.revoked_at IS NULL OR k.revoked_at > now())
LIMIT 1
"""

# What the worklist's rows show, in its urgency order (`followup_urgency_idx`): the stored follow-up state
# with its course, patient and protocol, when a message last reached the patient, and whether the treatment
# consent is missing. (No red flags or contact attempts are seeded; those are read in queries of their own.)
WORKLIST_SQL = """
SELECT f.course_id, f.kind, f.sessions_done, c.planned_sessions, f.window_start, f.window_end,
       f.last_practitioner_id, f.location_id, f.last_booking_status, f.last_booking_cancel_reason,
       f.last_booking_at, p.id, p.first_name, p.last_name, p.phone, pr.name,
       (SELECT max(m.sent_at) FROM aftercare_scheduledmessage m
         WHERE m.patient_id = p.id AND m.status = 'sent' AND m.kind <> 'red_flag_alert') AS last_contact_at,
       consent.found IS NULL AS consent_needed
FROM treatments_followupstate f
JOIN treatments_course c ON c.id = f.course_id
JOIN patients_patient p ON p.id = c.patient_id
JOIN treatments_protocol pr ON pr.id = c.protocol_id
LEFT JOIN LATERAL ({consent}) AS consent ON true
WHERE NOT f.is_booked AND f.kind <> '' AND ({opened})
ORDER BY f.rank, f.window_end NULLS LAST, f.window_start, f.course_id
LIMIT %s
""".replace("{consent}", CONSENT_IN_FORCE)

SESSIONS_SQL = """
SELECT s.id, s.course_id, c.patient_id, c.protocol_id, s.kind, s.practitioner_id, s.room_id, s.location_id,
       s.starts_at, s.ends_at, s.status, s.booked_late, s.completed_at, s.cancelled_at, s.cancel_reason,
       s.cancel_note, s.no_show_at, s.sequence, s.created_at, s.updated_at,
       consent.found IS NOT NULL AS consent_in_force,
       ARRAY(SELECT u.lot_id || ' ' || u.quantity FROM treatments_sessionproductuse u WHERE u.session_id = s.id),
       ARRAY(SELECT o.rule FROM treatments_ruleoverride o WHERE o.session_id = s.id)
FROM treatments_session s
JOIN treatments_course c ON c.id = s.course_id
JOIN treatments_protocol pr ON pr.id = c.protocol_id
LEFT JOIN LATERAL ({consent}) AS consent ON true
WHERE s.practitioner_id = %s AND s.starts_at >= %s AND s.starts_at < %s
ORDER BY s.starts_at, s.id
LIMIT %s
""".replace("{consent}", CONSENT_IN_FORCE)

# {search_text} is the expression patient_search_trgm_idx is built on (patients migration 0007), read from the
# index itself. The matches are found along that index first (MATERIALIZED), then sorted: walking the name
# index in order and testing every patient instead, as the planner may choose, reads most of the table for a
# name that sorts late.
PATIENT_SEARCH_SQL = """
WITH matches AS MATERIALIZED (
    SELECT id, first_name, last_name, email, phone, date_of_birth, preferred_channel, language, time_zone,
           skin_type, medical_flags <> '{}' AS needs_medical_review, erased_at, created_at, updated_at
    FROM patients_patient
    WHERE {search_text} LIKE %s
)
SELECT * FROM matches ORDER BY last_name, first_name, id LIMIT %s
"""


def search_text_expression() -> str:
    """The expression the trigram index on patients is built on, as PostgreSQL prints it."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_indexdef('patient_search_trgm_idx'::regclass, 1, false)")
        row = cursor.fetchone()
    if row is None:
        raise RuntimeError("No patient_search_trgm_idx: migrate the database first.")
    return str(row[0])


# Slots of the protocol's length every 15 minutes inside each day's opening hours (local time), from now on,
# where the practitioner has no live session and at least one active room of the location is free: the live
# sessions of the range read once (along an exclusion constraint's GiST index), as multiranges.
AVAILABILITY_SQL = """
WITH window_span AS MATERIALIZED (
    SELECT tstzrange((%(first_day)s::date)::timestamp AT TIME ZONE %(zone)s,
                     (%(last_day)s::date + 1)::timestamp AT TIME ZONE %(zone)s, '[)') AS span
), practitioner_busy AS MATERIALIZED (
    SELECT coalesce(range_agg(tstzrange(x.starts_at, x.ends_at, '[)')), '{}') AS spans
    FROM treatments_session x, window_span w
    WHERE x.practitioner_id = %(practitioner)s AND x.status IN ('booked', 'completed')
      AND tstzrange(x.starts_at, x.ends_at, '[)') && w.span
), room_busy AS MATERIALIZED (
    SELECT r.id, r.name, (
        SELECT coalesce(range_agg(tstzrange(x.starts_at, x.ends_at, '[)')), '{}')
        FROM treatments_session x, window_span w
        WHERE x.room_id = r.id AND x.status IN ('booked', 'completed')
          AND tstzrange(x.starts_at, x.ends_at, '[)') && w.span
    ) AS spans
    FROM treatments_room r
    WHERE r.location_id = %(location)s AND r.is_active
), slots AS MATERIALIZED (
    SELECT tstzrange(start, start + make_interval(mins => %(minutes)s), '[)') AS span
    FROM generate_series(%(first_day)s::date, %(last_day)s::date, interval '1 day') AS day
    JOIN treatments_openinghours h ON h.location_id = %(location)s AND h.weekday = extract(isodow FROM day) - 1
    CROSS JOIN LATERAL generate_series(
        (day::date + h.opens_at) AT TIME ZONE %(zone)s,
        (day::date + h.closes_at) AT TIME ZONE %(zone)s - make_interval(mins => %(minutes)s),
        make_interval(mins => %(step)s)
    ) AS start
    WHERE start >= now()
)
SELECT lower(s.span), upper(s.span), array_agg(r.id ORDER BY r.name)
FROM slots s
CROSS JOIN practitioner_busy p
JOIN room_busy r ON NOT r.spans && s.span
WHERE NOT p.spans && s.span
GROUP BY s.span
ORDER BY s.span
"""

COURSES_SQL = """
SELECT c.id, c.patient_id, c.protocol_id, c.location_id, c.planned_sessions, f.sessions_done, f.maintenance_done,
       f.window_start, f.window_end, c.status, c.next_maintenance_earliest, c.next_maintenance_latest,
       c.cancelled_at, c.cancel_reason, c.notes,
       ARRAY(SELECT s.id FROM treatments_session s WHERE s.course_id = c.id ORDER BY s.starts_at, s.id),
       c.created_at, c.updated_at
FROM treatments_course c
LEFT JOIN treatments_followupstate f ON f.course_id = c.id
ORDER BY c.created_at DESC, c.id
LIMIT %s
"""

MESSAGES_SQL = """
SELECT m.id, m.kind, m.patient_id, m.course_id, m.session_id, st.code, m.channel, m.to_address, m.subject, m.body,
       m.due_at, m.status, m.suppressed_reason, m.attempts, m.last_error, m.provider_message_id, m.sent_at,
       m.cancelled_at, m.created_at, m.updated_at
FROM aftercare_scheduledmessage m
LEFT JOIN aftercare_aftercarestep st ON st.id = m.step_id
ORDER BY m.due_at, m.id
LIMIT %s
"""


def limit_rows(read: Read) -> list[tuple[Any, ...]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(read.sql, read.params)
        return cursor.fetchall()


def app_rows(response: Any) -> int:
    data = json.loads(response.content)
    return len(data["results"]) if isinstance(data, dict) else len(data)


def measure_read(client: Any, read: Read, *, samples: int) -> Figure:
    """The endpoint and its limit, timed turn and turn about after a few rounds to warm up."""
    app: list[float] = []
    limit: list[float] = []
    rows = limit_count = 0
    for round_number in range(samples + 3):
        gc.collect()
        began = time.perf_counter()
        response = client.get(read.url, secure=True)
        body = response.content
        app_ms = (time.perf_counter() - began) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"{read.url} answered {response.status_code}: {body[:500]!r}")
        gc.collect()
        began = time.perf_counter()
        fetched = limit_rows(read)
        json.dumps(fetched, default=str)
        limit_ms = (time.perf_counter() - began) * 1000
        if round_number >= 3:
            app.append(app_ms)
            limit.append(limit_ms)
        rows, limit_count = app_rows(response), len(fetched)
    share = STATISTICS[read.statistic]
    queries, sql_ms, total_ms = where_the_time_goes(client, read.url)
    note = f"{rows} rows ({limit_count} by the limit); {read.statistic} of {samples}"
    if read.statistic != "p50":
        note += f" (p50 {percentile(app, 0.5):.1f} ms, limit {percentile(limit, 0.5):.1f} ms)"
    note += f"; one request: {queries} queries, {sql_ms:.0f} of {total_ms:.0f} ms in SQL"
    note += f"; {read.note}" if read.note else ""
    return Figure(
        name=f"{read.name} {read.statistic}",
        value=percentile(app, share),
        limit=percentile(limit, share),
        unit="ms",
        note=note,
        target=read.target,
    )


def where_the_time_goes(client: Any, url: str) -> tuple[int, float, float]:
    """One more request: (its queries, ms spent in them, ms in all), to tell SQL from Python in a figure."""
    from django.db import connection

    spent: list[float] = []

    def timed(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent.append((time.perf_counter() - began) * 1000)

    began = time.perf_counter()
    with connection.execute_wrapper(timed):
        client.get(url, secure=True)
    return len(spent), sum(spent), (time.perf_counter() - began) * 1000


# --- booking -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Booking:
    course_id: Any
    practitioner_id: Any
    room_id: Any
    starts_at: datetime


def booking_plan(count: int) -> tuple[list[Booking], list[Booking]]:
    """Free slots for `count` bookings through the API and as many for the limit, for courses waiting for
    their next session (open window, nothing booked, no medical flag to review), with their last practitioner."""
    from treatments.models import FollowupState, Practitioner, Protocol
    from treatments.selectors import availability

    protocol = Protocol.objects.get(name="Facial mesotherapy")
    states = (
        FollowupState.objects.filter(
            kind="next_session", is_booked=False, course__patient__medical_flags=[], last_practitioner__isnull=False
        )
        .select_related("course__location", "last_practitioner")
        .order_by("window_start", "course_id")[: 2 * count]
    )
    app: list[Booking] = []
    limit: list[Booking] = []
    taken: set[tuple[Any, datetime]] = set()
    practitioners = {p.pk: p for p in Practitioner.objects.prefetch_related("locations")}
    for state in states:
        course = state.course
        practitioner = practitioners[state.last_practitioner_id]  # type: ignore[index]  # not null, filtered
        first_day = max(state.window_start or date.min, course.location.today()) + timedelta(days=1)
        slots = availability(
            practitioner=practitioner,
            location=course.location,
            protocol=protocol,
            date_from=first_day,
            date_to=first_day + timedelta(days=20),
            step_minutes=45,
        )
        # A practitioner or room is held by one of these bookings at a time (the slots fall on one grid).
        booking = None
        for slot in slots:
            if (practitioner.pk, slot.starts_at) in taken:
                continue
            room = next((room for room in slot.room_ids if (room, slot.starts_at) not in taken), None)
            if room is not None:
                booking = Booking(course.pk, practitioner.pk, room, slot.starts_at)
                taken.update({(practitioner.pk, slot.starts_at), (room, slot.starts_at)})
                break
        if booking is None:
            continue
        (app if len(app) <= len(limit) else limit).append(booking)
        if len(limit) == count:
            break
    if len(limit) < count:
        raise RuntimeError(f"Only {len(app)} + {len(limit)} bookable courses found; seed a larger chain.")
    return app, limit


BOOKING_LIMIT_SQL = (
    # The rule inputs: the course (locked, as every session change locks it) with its protocol and patient ...
    """SELECT c.id, c.status, c.planned_sessions, p.min_spacing_days, p.max_spacing_days, p.session_duration_minutes,
              pa.medical_flags
       FROM treatments_course c JOIN treatments_protocol p ON p.id = c.protocol_id
       JOIN patients_patient pa ON pa.id = c.patient_id WHERE c.id = %s FOR UPDATE OF c""",
    # ... and the course's live sessions (spacing); the practitioner's and room's clashes are the exclusion
    # constraints' to find, at the insert.
    """SELECT starts_at, completed_at FROM treatments_session
       WHERE course_id = %s AND status IN ('booked', 'completed')""",
    """INSERT INTO treatments_session (id, course_id, kind, practitioner_id, room_id, location_id, starts_at, ends_at,
              status, booked_late, notes, treated_areas, cancel_reason, cancel_note, sequence, created_at, updated_at)
       SELECT gen_random_uuid(), %s, 'course', %s, r.id, r.location_id, %s, %s, 'booked', false, '', '{}', '', '', 0,
              now(), now()
       FROM treatments_room r WHERE r.id = %s
       RETURNING id, course_id, practitioner_id, room_id, location_id, starts_at, ends_at, status, created_at""",
)


def measure_bookings(client: Any, *, count: int) -> list[Figure]:
    """Booking through the API (p50, and its queries) beside the least SQL that books the same (p50)."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    app_plan, limit_plan = booking_plan(count)
    app: list[float] = []
    queries: list[int] = []
    sql: list[float] = []
    limit: list[float] = []
    inserted = []
    for mine, least in zip(app_plan, limit_plan, strict=True):
        payload = {
            "course": str(mine.course_id),
            "practitioner": str(mine.practitioner_id),
            "room": str(mine.room_id),
            "starts_at": mine.starts_at.isoformat(),
        }
        gc.collect()
        with CaptureQueriesContext(connection) as captured:
            began = time.perf_counter()
            response = client.post(f"{API}/sessions/", payload, content_type="application/json", secure=True)
            app.append((time.perf_counter() - began) * 1000)
        if response.status_code != 201:
            raise RuntimeError(f"Booking {payload} answered {response.status_code}: {response.content[:500]!r}")
        queries.append(sum(1 for query in captured.captured_queries if not _transaction_control(query["sql"])))
        sql.append(sum(float(query["time"]) for query in captured.captured_queries) * 1000)
        gc.collect()
        began = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(BOOKING_LIMIT_SQL[0], [least.course_id])
            cursor.fetchall()
            cursor.execute(BOOKING_LIMIT_SQL[1], [least.course_id])
            cursor.fetchall()
            ends_at = least.starts_at + timedelta(minutes=45)
            cursor.execute(
                BOOKING_LIMIT_SQL[2], [least.course_id, least.practitioner_id, least.starts_at, ends_at, least.room_id]
            )
            row = cursor.fetchone()
        json.dumps(row, default=str)
        limit.append((time.perf_counter() - began) * 1000)
        assert row is not None  # noqa: S101 - the room exists
        inserted.append(row[0])
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM treatments_session WHERE id = ANY(%s)", [inserted])
    note = (
        f"{count} bookings of waiting courses, each in a free slot of their last practitioner; "
        f"median {statistics.median(sql):.0f} ms in SQL"
    )
    return [
        Figure(
            name="POST /sessions/ booking p50",
            value=statistics.median(app),
            limit=statistics.median(limit),
            unit="ms",
            note=note,
            target=Target(most=25),
        ),
        Figure(
            name="POST /sessions/ booking, queries",
            value=statistics.median(queries),
            limit=len(BOOKING_LIMIT_SQL),
            unit="queries",
            note=(
                f"median of {count}, as the front desk signed in (session and user with permissions: 2) with no "
                "Idempotency-Key (one adds 2); BEGIN and COMMIT not counted, as for the limit; "
                "the limit's statements, with no authentication"
            ),
            target=Target(most=15),
        ),
    ]


def _transaction_control(sql: str) -> bool:
    """BEGIN, COMMIT, SAVEPOINT and the like: round trips, not queries (the limit's are not counted either)."""
    return sql.lstrip().split(" ", 1)[0].upper() in {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}


# --- a gunicorn worker's memory ------------------------------------------------------------------------


def gunicorn_memory(reads: Sequence[Read], *, rounds: int) -> Figure:
    """A gunicorn worker's resident memory after `rounds` of every read, beside its memory after one of each.

    The worker runs with production settings (DEBUG off) against this
    database, and the reads come over loopback with an API key, as booking
    software's would.
    """
    from integrations.services import api_key_create

    _, raw_key = api_key_create(name="bench gunicorn", scopes=["read"], actor=None)
    with gunicorn_worker() as (port, worker_pid):
        get = _getter(port, raw_key)
        for read in reads:
            get(read.url)
        before = rss_mb(worker_pid)
        for _ in range(rounds):
            for read in reads:
                get(read.url)
        after = rss_mb(worker_pid)
    return Figure(
        name="gunicorn worker memory (RSS)",
        value=after,
        limit=before,
        unit="MB",
        note=f"after {rounds} rounds of the {len(reads)} reads; limit: the same worker after one round",
        target=Target(ratio=1.25),
    )


def _getter(port: int, key: str) -> Callable[[str], bytes]:
    def get(url: str) -> bytes:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            # Behind a TLS proxy, as in production (SECURE_PROXY_SSL_HEADER).
            conn.request("GET", url, headers={"Authorization": f"Bearer {key}", "X-Forwarded-Proto": "https"})
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        if response.status != 200:
            raise RuntimeError(f"gunicorn: {url} answered {response.status}: {body[:300]!r}")
        return body

    return get


def rss_mb(pid: int) -> float:
    """Resident memory of process `pid`, in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"No VmRSS for process {pid}")


@contextmanager
def gunicorn_worker() -> Iterator[tuple[int, int]]:
    """gunicorn with one sync worker on a free loopback port, against this database; yields (port, worker pid)."""
    from django.conf import settings

    from benchmarks.dispatch import database_url
    from devenv.servers import free_port

    port = free_port()
    environ = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SMS_BACKEND": "aftercare.channels.sms.FileSmsTransport",
        "SMS_FILE_PATH": os.devnull,
        "API_KEY_RATE": "1000000/min",
        "GUNICORN_MAX_REQUESTS": "0",  # the worker is measured, not replaced
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "clinic.wsgi:application",
        "--config",
        "gunicorn.conf.py",
        "--workers",
        "1",
        "--bind",
        f"127.0.0.1:{port}",
        "--access-logfile",
        os.devnull,
    ]
    log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
    master = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        command, cwd=PROJECT_ROOT, env=environ, stdout=log, stderr=log, start_new_session=True
    )
    try:
        worker_pid = _wait_for_worker(master, port, Path(log.name))
        yield port, worker_pid
    finally:
        log.close()
        master.send_signal(signal.SIGTERM)
        try:
            master.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(master.pid, signal.SIGKILL)
            master.wait(timeout=10)


def _wait_for_worker(master: subprocess.Popen[bytes], port: int, log: Path) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if master.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({master.returncode}):\n{log.read_text(errors='replace')[-3000:]}")
        children = Path(f"/proc/{master.pid}/task/{master.pid}/children")
        pids = children.read_text().split() if children.exists() else []
        if pids:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                conn.close()
                return int(pids[0])
            except OSError:
                pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer within 60 s")
