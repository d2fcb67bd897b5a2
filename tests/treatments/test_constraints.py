"""No double booking, as PostgreSQL itself enforces it.

Session rows are written straight to the real database, past every Python
check, so only the two exclusion constraints stand between a practitioner
(or a room) and two live sessions at once. Hypothesis throws random interval
sets at them and a brute-force overlap check says which rows should survive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import CourseFactory, LocationFactory, PractitionerFactory, RoomFactory
from treatments.models import Course, Practitioner, Room, Session, SessionStatus

pytestmark = pytest.mark.django_db

PRACTITIONER_CONSTRAINT = "session_no_practitioner_double_booking"
ROOM_CONSTRAINT = "session_no_room_double_booking"
LIVE = {SessionStatus.BOOKED, SessionStatus.COMPLETED}
BASE = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
MAX_ROWS = 12


@dataclass(frozen=True, order=True)
class Slot:
    """A session to insert: minutes after BASE, length in minutes, and status."""

    offset: int
    duration: int
    status: str

    @property
    def starts_at(self) -> datetime:
        return BASE + timedelta(minutes=self.offset)

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration)

    @property
    def is_live(self) -> bool:
        return self.status in LIVE


def expected_acceptance(slots: Sequence[Slot]) -> list[bool]:
    """Brute force: a row goes in iff it is not live, or it overlaps no live row already in.

    Intervals are half-open [start, end): two sessions that merely touch do not overlap.
    """
    accepted_live: list[Slot] = []
    verdicts = []
    for slot in slots:
        clashes = any(
            slot.offset < other.offset + other.duration and other.offset < slot.offset + slot.duration
            for other in accepted_live
        )
        accepted = not slot.is_live or not clashes
        if accepted and slot.is_live:
            accepted_live.append(slot)
        verdicts.append(accepted)
    return verdicts


@dataclass
class Scene:
    course: Course
    practitioners: list[Practitioner]
    rooms: list[Room]


@pytest.fixture
def scene() -> Scene:
    """One course at one location, with a pool of practitioners and rooms there."""
    location = LocationFactory(name="Constraint Clinic")
    users = [get_user_model().objects.create(username=f"constraint-practitioner-{i}") for i in range(MAX_ROWS)]
    return Scene(
        course=CourseFactory(location=location),
        practitioners=[PractitionerFactory(user=user, locations=[location]) for user in users],
        rooms=[RoomFactory(location=location, name=f"Constraint room {i}") for i in range(MAX_ROWS)],
    )


def insert(scene: Scene, slot: Slot, *, practitioner: Practitioner, room: Room) -> str | None:
    """Insert `slot` as a Session row in a savepoint; return None if it went in, else the constraint that refused it."""
    try:
        with transaction.atomic():
            Session.objects.create(
                course=scene.course,
                practitioner=practitioner,
                room=room,
                location=room.location,
                starts_at=slot.starts_at,
                ends_at=slot.ends_at,
                status=slot.status,
                completed_at=slot.ends_at if slot.status == SessionStatus.COMPLETED else None,
                cancel_reason="patient_request" if slot.status == SessionStatus.CANCELLED else "",
            )
    except IntegrityError as exc:
        return exc.__cause__.diag.constraint_name
    return None


def stored_slots(scene: Scene) -> list[Slot]:
    return sorted(
        Slot(
            offset=int((s.starts_at - BASE).total_seconds() // 60),
            duration=int((s.ends_at - s.starts_at).total_seconds() // 60),
            status=s.status,
        )
        for s in Session.objects.filter(course=scene.course)
    )


# Quarter-hour grid values make touching and exactly-overlapping intervals common;
# arbitrary minutes cover the rest.
# Live statuses are drawn more often than dead ones so that clashes are frequent.
offsets = st.one_of(st.integers(0, 12).map(lambda n: n * 15), st.integers(0, 180))
durations = st.one_of(st.sampled_from([15, 30, 45, 60, 90]), st.integers(1, 120))
statuses = st.sampled_from(
    [
        SessionStatus.BOOKED,
        SessionStatus.COMPLETED,
        SessionStatus.BOOKED,
        SessionStatus.CANCELLED,
        SessionStatus.NO_SHOW,
    ]
).map(str)
slot_lists = st.lists(st.builds(Slot, offsets, durations, statuses), min_size=2, max_size=MAX_ROWS)

PROPERTY_SETTINGS = settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def check_against_brute_force(scene: Scene, slots: list[Slot], *, shared: str) -> None:
    """Insert `slots` sharing one practitioner (each in its own room) or one room
    (each with its own practitioner), and compare with the brute-force model."""
    expected_constraint = PRACTITIONER_CONSTRAINT if shared == "practitioner" else ROOM_CONSTRAINT
    # Hypothesis runs every example inside the one test transaction, so each
    # example works in a savepoint that is rolled back, leaving no rows behind.
    with transaction.atomic():
        assert not Session.objects.filter(course=scene.course).exists(), "a previous example leaked rows"
        refusals = []
        for i, slot in enumerate(slots):
            if shared == "practitioner":
                refusals.append(insert(scene, slot, practitioner=scene.practitioners[0], room=scene.rooms[i]))
            else:
                refusals.append(insert(scene, slot, practitioner=scene.practitioners[i], room=scene.rooms[0]))

        expected = expected_acceptance(slots)
        assert [refusal is None for refusal in refusals] == expected
        assert {refusal for refusal in refusals if refusal is not None} <= {expected_constraint}
        assert stored_slots(scene) == sorted(slot for slot, ok in zip(slots, expected, strict=True) if ok)
        transaction.set_rollback(True)


def test_a_practitioner_s_sessions_are_refused_exactly_when_they_overlap_a_live_one(scene: Scene) -> None:
    @PROPERTY_SETTINGS
    @given(slots=slot_lists)
    def one_practitioner_many_rooms(slots: list[Slot]) -> None:
        check_against_brute_force(scene, slots, shared="practitioner")

    one_practitioner_many_rooms()


def test_a_room_s_sessions_are_refused_exactly_when_they_overlap_a_live_one(scene: Scene) -> None:
    @PROPERTY_SETTINGS
    @given(slots=slot_lists)
    def one_room_many_practitioners(slots: list[Slot]) -> None:
        check_against_brute_force(scene, slots, shared="room")

    one_room_many_practitioners()


# --- the edges, spelled out ------------------------------------------------------------------


@pytest.mark.parametrize("shared", ["practitioner", "room"])
def test_back_to_back_sessions_that_only_touch_are_both_accepted(scene: Scene, shared: str) -> None:
    dr, room = scene.practitioners[0], scene.rooms[0]
    other_dr, other_room = (dr, scene.rooms[1]) if shared == "practitioner" else (scene.practitioners[1], room)

    assert insert(scene, Slot(0, 45, SessionStatus.BOOKED), practitioner=dr, room=room) is None
    assert insert(scene, Slot(45, 45, SessionStatus.BOOKED), practitioner=other_dr, room=other_room) is None
    # …and one ending exactly where the first began.
    assert insert(scene, Slot(-30, 30, SessionStatus.COMPLETED), practitioner=other_dr, room=other_room) is None

    assert Session.objects.filter(course=scene.course).count() == 3


@pytest.mark.parametrize(
    ("shared", "constraint"), [("practitioner", PRACTITIONER_CONSTRAINT), ("room", ROOM_CONSTRAINT)]
)
def test_a_one_minute_overlap_is_refused_by_the_matching_constraint(scene: Scene, shared: str, constraint: str) -> None:
    dr, room = scene.practitioners[0], scene.rooms[0]
    other_dr, other_room = (dr, scene.rooms[1]) if shared == "practitioner" else (scene.practitioners[1], room)
    insert(scene, Slot(0, 45, SessionStatus.BOOKED), practitioner=dr, room=room)

    assert insert(scene, Slot(44, 45, SessionStatus.BOOKED), practitioner=other_dr, room=other_room) == constraint
    assert Session.objects.filter(course=scene.course).count() == 1


def test_a_session_inside_another_is_refused(scene: Scene) -> None:
    dr = scene.practitioners[0]
    insert(scene, Slot(0, 120, SessionStatus.BOOKED), practitioner=dr, room=scene.rooms[0])

    refused = insert(scene, Slot(30, 15, SessionStatus.BOOKED), practitioner=dr, room=scene.rooms[1])

    assert refused == PRACTITIONER_CONSTRAINT


def test_a_completed_session_still_holds_its_slot(scene: Scene) -> None:
    dr = scene.practitioners[0]
    insert(scene, Slot(0, 45, SessionStatus.COMPLETED), practitioner=dr, room=scene.rooms[0])

    refused = insert(scene, Slot(15, 45, SessionStatus.BOOKED), practitioner=dr, room=scene.rooms[1])

    assert refused == PRACTITIONER_CONSTRAINT


@pytest.mark.parametrize("dead", [SessionStatus.CANCELLED, SessionStatus.NO_SHOW])
def test_cancelled_and_no_show_sessions_never_block_and_are_never_blocked(scene: Scene, dead: str) -> None:
    dr, room = scene.practitioners[0], scene.rooms[0]

    # A dead row first, then a live one in the same slot, same practitioner and room.
    assert insert(scene, Slot(0, 45, dead), practitioner=dr, room=room) is None
    assert insert(scene, Slot(0, 45, SessionStatus.BOOKED), practitioner=dr, room=room) is None
    # More dead rows on top of the live one, and on top of each other.
    assert insert(scene, Slot(10, 20, dead), practitioner=dr, room=room) is None
    assert insert(scene, Slot(0, 45, dead), practitioner=dr, room=room) is None

    assert Session.objects.filter(course=scene.course, status=dead).count() == 3
    assert Session.objects.filter(course=scene.course, status=SessionStatus.BOOKED).count() == 1


def test_different_practitioners_in_different_rooms_may_overlap(scene: Scene) -> None:
    assert (
        insert(scene, Slot(0, 45, SessionStatus.BOOKED), practitioner=scene.practitioners[0], room=scene.rooms[0])
        is None
    )
    assert (
        insert(scene, Slot(0, 45, SessionStatus.BOOKED), practitioner=scene.practitioners[1], room=scene.rooms[1])
        is None
    )


def test_reviving_a_cancelled_session_into_a_taken_slot_is_refused(scene: Scene) -> None:
    dr, room = scene.practitioners[0], scene.rooms[0]
    insert(scene, Slot(0, 45, SessionStatus.CANCELLED), practitioner=dr, room=room)
    insert(scene, Slot(0, 45, SessionStatus.BOOKED), practitioner=dr, room=room)
    cancelled = Session.objects.get(course=scene.course, status=SessionStatus.CANCELLED)

    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        Session.objects.filter(pk=cancelled.pk).update(status=SessionStatus.BOOKED)

    assert excinfo.value.__cause__.diag.constraint_name in {PRACTITIONER_CONSTRAINT, ROOM_CONSTRAINT}
    cancelled.refresh_from_db()
    assert cancelled.status == SessionStatus.CANCELLED


def test_moving_a_booked_session_onto_another_is_refused(scene: Scene) -> None:
    dr = scene.practitioners[0]
    insert(scene, Slot(0, 45, SessionStatus.BOOKED), practitioner=dr, room=scene.rooms[0])
    insert(scene, Slot(60, 45, SessionStatus.BOOKED), practitioner=dr, room=scene.rooms[1])
    later = Session.objects.get(course=scene.course, starts_at=BASE + timedelta(minutes=60))

    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        Session.objects.filter(pk=later.pk).update(
            starts_at=BASE + timedelta(minutes=30), ends_at=BASE + timedelta(minutes=75)
        )

    assert excinfo.value.__cause__.diag.constraint_name == PRACTITIONER_CONSTRAINT


# --- the constraints are really in the database ---------------------------------------------


def constraint_definition(name: str) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT contype, pg_get_constraintdef(oid)
            FROM pg_constraint
            WHERE conname = %s AND conrelid = %s::regclass
            """,
            [name, Session._meta.db_table],
        )
        rows = cursor.fetchall()
    assert len(rows) == 1, f"{name} is missing from {Session._meta.db_table}"
    return rows[0]


@pytest.mark.parametrize(
    ("name", "column"), [(PRACTITIONER_CONSTRAINT, "practitioner_id"), (ROOM_CONSTRAINT, "room_id")]
)
def test_the_double_booking_exclusion_constraints_exist_in_postgresql(name: str, column: str) -> None:
    contype, definition = constraint_definition(name)

    assert contype == "x"  # an exclusion constraint
    assert definition.startswith("EXCLUDE USING gist")
    assert "tstzrange(starts_at, ends_at, '[)'::text) WITH &&" in definition
    assert f"{column} WITH =" in definition
    # Only live sessions hold a slot.
    assert "'booked'" in definition
    assert "'completed'" in definition
    assert "cancelled" not in definition
    assert "no_show" not in definition


def test_the_btree_gist_extension_is_installed() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_extension WHERE extname = 'btree_gist'")
        (installed,) = cursor.fetchone()

    assert installed == 1
