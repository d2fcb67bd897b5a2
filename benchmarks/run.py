"""Benchmarks: figures, not pass/fail. `make bench` runs them on the embedded servers.

Each run builds a throwaway database (like the test suite), fills it, times
the operation and prints figures:

- dispatcher throughput: due outbox rows sent per second (file SMS transport);
- booking latency: session_book through every rule and the exclusion
  constraints (p50 / p95 / max);
- worklist: building the front desk's worklist over many courses.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import django

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

LONDON = ZoneInfo("Europe/London")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def bench_dispatch(count: int) -> None:
    from aftercare.dispatch import dispatch_due
    from aftercare.models import MessageStatus, ScheduledMessage
    from patients import services as patient_services
    from patients.models import ConsentKind
    from tests.factories import PatientFactory

    settings.SMS_BACKEND = "aftercare.channels.sms.FileSmsTransport"
    settings.SMS_FILE_PATH = tempfile.mkdtemp(prefix="bench-sms-")
    settings.AFTERCARE_QUIET_HOURS = "00:00-00:00"
    patients = []
    for n in range(50):
        patient = PatientFactory(preferred_channel="sms", phone=f"+4479111{n:05d}")
        patient_services.consent_give(patient=patient, kind=ConsentKind.SERVICE_MESSAGES, version="v1", actor=None)
        patients.append(patient)
    now = timezone.now()
    ScheduledMessage.objects.bulk_create(
        ScheduledMessage(
            kind="aftercare",
            dedupe_key=f"bench-{n}",
            patient=patients[n % len(patients)],
            channel="sms",
            body="Keep the treated skin cool and clean today.",
            due_at=now,
        )
        for n in range(count)
    )
    started = time.perf_counter()
    result = dispatch_due(batch_size=200, time_budget_seconds=600)
    elapsed = time.perf_counter() - started
    sent = ScheduledMessage.objects.filter(status=MessageStatus.SENT).count()
    print(
        f"dispatch: {sent}/{count} sent in {elapsed:.2f} s = {sent / elapsed:,.0f} messages/s "
        f"(claimed {result.claimed})"
    )


def bench_booking(count: int) -> None:
    from tests.factories import CourseFactory, LocationFactory, PractitionerFactory, RoomFactory
    from treatments import services

    location = LocationFactory()
    rooms = [RoomFactory(location=location) for _ in range(4)]
    practitioners = [PractitionerFactory(locations=[location]) for _ in range(4)]
    start = datetime.combine(timezone.localdate() + timedelta(days=1), datetime.min.time(), tzinfo=LONDON)
    timings = []
    for n in range(count):
        course = CourseFactory(location=location)
        day, slot = divmod(n, 48)
        starts_at = start + timedelta(days=day) + timedelta(hours=8) + timedelta(minutes=60 * (slot // 4))
        began = time.perf_counter()
        services.session_book(
            course=course,
            practitioner=practitioners[slot % 4],
            room=rooms[slot % 4],
            starts_at=starts_at,
            actor=None,
        )
        timings.append((time.perf_counter() - began) * 1000)
    print(
        f"booking: {count} bookings, p50 {percentile(timings, 0.5):.1f} ms, "
        f"p95 {percentile(timings, 0.95):.1f} ms, max {max(timings):.1f} ms"
    )


def bench_worklist(count: int) -> None:
    from frontdesk.worklist import worklist
    from tests.factories import CourseFactory, LocationFactory, PractitionerFactory, RoomFactory, SessionFactory

    location = LocationFactory()
    room = RoomFactory(location=location)
    practitioner = PractitionerFactory(locations=[location])
    done_at = timezone.now() - timedelta(days=20)
    for n in range(count):
        course = CourseFactory(location=location, status="active")
        SessionFactory(
            course=course,
            practitioner=practitioner,
            room=room,
            starts_at=done_at - timedelta(minutes=n),
            ends_at=done_at - timedelta(minutes=n) + timedelta(seconds=30),
            status="completed",
            completed_at=done_at,
        )
    timings = []
    for _ in range(5):
        began = time.perf_counter()
        rows = worklist()
        timings.append(time.perf_counter() - began)
    print(f"worklist: {len(rows)} rows from {count} courses, median {statistics.median(timings) * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--bookings", type=int, default=300)
    parser.add_argument("--courses", type=int, default=1000)
    args = parser.parse_args()
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    old_name = connection.settings_dict["NAME"]
    test_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    print(f"database: {test_name} (PostgreSQL {connection.get_database_version()[0]}), {os.cpu_count()} cores")
    try:
        bench_dispatch(args.messages)
        bench_booking(args.bookings)
        bench_worklist(args.courses)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
