"""manage.py seed_bench builds the benchmarks' clinic chain in proportion to its patients, with the rows the
app maintains consistent (followup_check finds no drift), and leaves the schema as the migrations made it."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from aftercare.models import MessageStatus, ScheduledMessage
from frontdesk.chain_data import LOADED_MODELS, ChainScale, unfilled_columns
from frontdesk.worklist import worklist_rows
from patients.models import Consent, Patient
from tests.factories import PatientFactory
from treatments.models import Course, FollowupState, Location, Practitioner, Room, Session, SessionStatus

# The seed commits (COPY, then indexes built on connections of their own): a transactional test.
pytestmark = pytest.mark.django_db(transaction=True)

PATIENTS = 400


def schema_of_loaded_tables() -> set[tuple[str, str]]:
    """Every index and constraint definition on the tables seed_bench loads."""
    tables = [model._meta.db_table for model in LOADED_MODELS]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index
            WHERE indrelid = ANY(%s::regclass[])
            UNION
            SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = ANY(%s::regclass[])
            """,
            [tables, tables],
        )
        return set(cursor.fetchall())


def seed(patients: int = PATIENTS, **options: object) -> str:
    out = StringIO()
    call_command("seed_bench", patients=patients, stdout=out, **options)
    return out.getvalue()


def test_a_chain_scales_with_its_patients() -> None:
    assert (ChainScale(20_000).locations, ChainScale(20_000).practitioners) == (5, 40)
    assert (ChainScale(100_000).locations, ChainScale(100_000).practitioners) == (25, 200)
    assert (ChainScale(10).locations, ChainScale(10).practitioners) == (1, 1)


def test_every_column_of_the_loaded_tables_is_filled() -> None:
    assert unfilled_columns() == {}


def test_the_chain_is_in_proportion_and_agrees_with_followup_check() -> None:
    schema = schema_of_loaded_tables()

    output = seed()

    # Every phase is timed, and the indexes and constraints dropped for the load are all back.
    for phase in ("locations, rooms, practitioners", "indexes and constraints built", "analyze"):
        assert f"{phase}: " in output
    assert schema_of_loaded_tables() == schema
    scale = ChainScale(PATIENTS)
    assert Location.objects.count() == scale.locations
    assert Practitioner.objects.count() == scale.practitioners
    assert Room.objects.count() == scale.practitioners
    assert Patient.objects.count() == PATIENTS
    assert Consent.objects.count() >= PATIENTS
    # Per patient: 3 courses, about 10 sessions and 30 messages (issue 10's chain: 20,000 / 60,000 / 200,000 / 600,000).
    assert Course.objects.count() == 3 * PATIENTS
    assert FollowupState.objects.count() == 3 * PATIENTS
    assert 8.5 * PATIENTS <= Session.objects.count() <= 11.5 * PATIENTS
    assert 25 * PATIENTS <= ScheduledMessage.objects.count() <= 35 * PATIENTS
    # Mostly the past, some of the future.
    now = timezone.now()
    assert Session.objects.filter(status=SessionStatus.COMPLETED, completed_at__lte=now).count() > 0.7 * (
        Session.objects.count()
    )
    assert Session.objects.filter(status=SessionStatus.BOOKED, starts_at__gt=now).exists()
    assert Session.objects.filter(status=SessionStatus.BOOKED, starts_at__lte=now).count() == 0
    assert Session.objects.filter(status=SessionStatus.CANCELLED).exists()
    assert Session.objects.filter(status=SessionStatus.NO_SHOW).exists()
    assert ScheduledMessage.objects.filter(status=MessageStatus.SENT).count() > 0.8 * ScheduledMessage.objects.count()
    assert ScheduledMessage.objects.filter(status=MessageStatus.PENDING, due_at__gt=now).exists()
    # The front desk has work: courses waiting for their next session, first sessions, maintenance.
    assert len(worklist_rows()[:50]) == 50

    check = StringIO()
    call_command("followup_check", stdout=check)
    assert check.getvalue().startswith(f"No drift: {3 * PATIENTS} course(s) agree with their sessions.")


def test_it_refuses_a_database_with_patients_unless_forced() -> None:
    PatientFactory()

    with pytest.raises(CommandError, match="already has patients"):
        seed(50)
    assert Patient.objects.count() == 1
    assert not Location.objects.exists()

    # With --force it adds a chain beside them (rows copied without FREEZE: the tables are not empty).
    output = seed(50, force=True)

    assert "(FREEZE)" not in output
    assert Patient.objects.count() == 51
    call_command("followup_check", stdout=StringIO())
