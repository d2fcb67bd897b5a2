"""A clinic chain's worth of made-up data, in proportion to its patients (`manage.py seed_bench`).

Per 20,000 patients: 5 locations, 40 practitioners (a room each, opening
hours Monday to Saturday), about 60,000 mesotherapy courses, 200,000 sessions
(mostly completed over the last years, some booked in the coming weeks, some
cancelled or missed) and 600,000 outbox rows (mostly sent; reminders and
aftercare still pending for what is booked or just done).

The data hold together the way the services would have left them:

- a course's sessions are 14–28 days apart, with its practitioner, at its
  location, inside opening hours; no practitioner or room holds two live
  sessions at once (each practitioner's day is a grid of back-to-back
  45-minute slots, and the rooms are dealt out so two practitioners never
  share one in a slot);
- a course's status follows its sessions (planned, active, maintenance with
  its window set from the last completion as `_advance_course` sets it,
  completed, cancelled), and a patient has at most one course in progress;
- each course's FollowupState row is worked out by treatments.followup's own
  definition (`followup_state_row`, the pure `followup_from_sessions`) from the sessions written here, so
  `manage.py followup_check` finds no drift;
- every message belongs to a patient, and those about a session to it.

The generator is deterministic for a given seed, `now` and split into
shares (by location, so that seed_bench's workers make them side by side).
It yields the rows in chunks of patients (tuples in the column order of
`COLUMNS`), so a chain of any size streams through in bounded memory.
"""

from __future__ import annotations

import random
import uuid
from bisect import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import accumulate
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Model

from aftercare.models import AftercareStep, MessageKind, MessageStatus, ScheduledMessage
from aftercare.page_links import page_url
from clinic.roles import PRACTITIONER
from patients.models import Consent, ConsentKind, ContactChannel, MedicalFlag, Patient
from treatments import rules
from treatments.followup import followup_state_row
from treatments.models import (
    CancelReason,
    Course,
    CourseStatus,
    FollowupState,
    Location,
    OpeningHours,
    Practitioner,
    Protocol,
    Room,
    Session,
    SessionKind,
    SessionStatus,
    TreatedArea,
    Weekday,
)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


PATIENTS_PER_UNIT = 20_000
LOCATIONS_PER_UNIT = 5
PRACTITIONERS_PER_UNIT = 40

UTC = ZoneInfo("UTC")
ZONES = ("Europe/London", "Europe/London", "Europe/Paris", "Europe/Dublin", "Europe/London")
CITIES = ("Marylebone", "Manchester", "Paris Marais", "Dublin", "Edinburgh", "Bristol", "Leeds", "Lyon", "Cork")
SESSION_MINUTES = 45
# Inside the opening hours (09:00–18:00 on weekdays, 10:00–14:00 on Saturdays, local): back-to-back 45-minute
# slots, as minutes after midnight; a slot's index is its bit in a practitioner's day.
SLOT_STARTS = {weekday: tuple(range(9 * 60, 18 * 60 - SESSION_MINUTES + 1, SESSION_MINUTES)) for weekday in range(5)}
SLOT_STARTS |= {5: tuple(range(10 * 60, 14 * 60 - SESSION_MINUTES + 1, SESSION_MINUTES)), 6: ()}
SHIFTS = (0, *(days for n in range(1, 22) for days in (n, -n)))
SEND_TIME = time(10, 0)

FIRST_NAMES = _words(
    "Olivia Amelia Isla Ava Mia Ivy Lily Isabella Rosie Sophia Grace Willow Freya Florence Emily Ella Poppy Evie "
    "Elsie Charlotte Evelyn Sienna Sofia Daisy Alice Chloe Hannah Priya Zara Aisha Maya Leila Nora Clara Léa Chloé "
    "Manon Camille Inès Sarah Emma Louise Aoife Saoirse Niamh Ciara James Oliver Noah Leo Arthur Harry Jack Samuel"
)
LAST_NAMES = _words(
    "Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson Evans Walker White Roberts "
    "Green Hall Wood Jackson Clarke Patel Khan Lewis James Phillips Mason Mitchell Rose Davis Rodriguez Cox "
    "Alexander Morden Hart Shah Okafor Keller Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau "
    "Simon Laurent Lefebvre Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard Andre Murphy Kelly "
    "Byrne Ryan OBrien Walsh OSullivan McCarthy Doyle Gallagher Campbell Stewart Anderson Scott Murray MacDonald "
    "Reid Ross Paterson Young Henderson Fraser Ahmed Ali Hussain Begum Chowdhury Singh Kaur Gill Sandhu Nowak "
    "Kowalski Wisniewska Novak Rossi Russo Ferrari Esposito Bianchi Romano Silva Santos Ferreira Pereira Costa"
)
# Surnames are not spread evenly: the commonest (what the search benchmark looks for) is about 2% of patients.
LAST_NAME_WEIGHTS = [1 / (rank + 30) for rank in range(len(LAST_NAMES))]
COMMON_LAST_NAME = LAST_NAMES[0]

CONSENT_VERSION = "bench-1"
BIRTHDAY_FROM = date(1950, 1, 1)
REMINDER_BODY = ", a reminder of your appointment tomorrow. Reply C to confirm, R to rebook."
COURSES_PER_PATIENT = (3, 2, 4, 3, 1, 5, 3, 3, 2, 4)  # three on average

COLUMNS: dict[type[Model], tuple[str, ...]] = {
    Patient: _words(
        "id first_name last_name email phone date_of_birth preferred_channel language time_zone skin_type "
        "medical_flags medical_notes erased_at created_at updated_at"
    ),
    Consent: _words("id patient_id kind scope version given_at revoked_at recorded_by_id created_at updated_at"),
    Course: _words(
        "id patient_id protocol_id planned_sessions status location_id next_maintenance_earliest "
        "next_maintenance_latest cancelled_at cancel_reason notes created_at updated_at"
    ),
    Session: _words(
        "id course_id kind practitioner_id room_id location_id starts_at ends_at status booked_late completed_at "
        "notes treated_areas cancelled_at cancel_reason cancel_note no_show_at arrived_at treatment_started_at "
        "confirmed_at sequence created_at updated_at"
    ),
    FollowupState: _words(
        "course_id location_id kind sessions_done maintenance_done last_session_id last_practitioner_id "
        "last_completed_at window_start window_end is_booked rank last_booking_status last_booking_cancel_reason "
        "last_booking_at refreshed_at"
    ),
    ScheduledMessage: _words(
        "id kind dedupe_key patient_id course_id session_id step_id report_id channel to_address reply_to subject "
        "body page_url due_at status suppressed_reason attempts last_error provider_message_id claimed_at sent_at "
        "cancelled_at cancelled_by_id created_at updated_at announces_start"
    ),
}
LOADED_MODELS: tuple[type[Model], ...] = tuple(COLUMNS)


def unfilled_columns() -> dict[str, set[str]]:
    """Columns a loaded table has that COLUMNS does not fill (or the other way round): empty when in step."""
    gaps = {}
    for model, columns in COLUMNS.items():
        actual = {f.column for f in model._meta.concrete_fields if f.column}
        if actual != set(columns):
            gaps[model._meta.db_table] = actual ^ set(columns)
    return gaps


@dataclass(frozen=True)
class ChainScale:
    """How big a chain of `patients` patients is; at least one location and practitioner."""

    patients: int

    @property
    def locations(self) -> int:
        return max(1, round(LOCATIONS_PER_UNIT * self.patients / PATIENTS_PER_UNIT))

    @property
    def practitioners(self) -> int:
        return max(self.locations, round(PRACTITIONERS_PER_UNIT * self.patients / PATIENTS_PER_UNIT))


# --- places and people (a few hundred rows: the ORM) ------------------------------------


@dataclass
class Chair:
    """A practitioner at their location, with the rooms they are dealt and the slots they hold."""

    practitioner_id: uuid.UUID
    location: Location
    zone: ZoneInfo
    seat: int  # this practitioner's place among the location's practitioners
    room_ids: Sequence[uuid.UUID]
    held: dict[int, int] = field(default_factory=dict)  # day ordinal -> bitmask of the slots held


@dataclass(frozen=True)
class Chain:
    locations: list[Location]
    chairs_by_location: dict[Any, list[Chair]]
    protocol: Protocol
    steps: list[AftercareStep]  # the plan steps each completed session is given messages for
    first_results: list[AftercareStep]  # and after the first session of a course


def create_chain(*, scale: ChainScale, tag: str) -> Chain:
    """Locations (opening hours, rooms), practitioners (staff users) and the protocol the courses follow."""
    protocol = Protocol.objects.select_related("aftercare_plan").get(name="Facial mesotherapy")
    plan_steps = list(AftercareStep.objects.filter(plan__protocol=protocol).order_by("order"))
    # The first message and the day-1 check-in of each completed session, and the day-14 text (first results)
    # after a course's first session: three messages a session with the reminder, where the whole plan has seven.
    steps = [step for step in plan_steps if step.offset_value in (0, 1)]
    first_results = [step for step in plan_steps if step.offset_value == 14]
    locations = [
        Location.objects.create(
            name=f"{CITIES[n % len(CITIES)]} clinic {n + 1} ({tag})",
            address=f"{n + 1} High Street",
            phone=f"+4420794{n:05d}",
            email=f"clinic{n + 1}.{tag}@example.com",
            time_zone=ZoneInfo(ZONES[n % len(ZONES)]),
        )
        for n in range(scale.locations)
    ]
    OpeningHours.objects.bulk_create(
        OpeningHours(location=location, weekday=weekday, opens_at=time(9), closes_at=time(18))
        for location in locations
        for weekday in range(Weekday.MONDAY, Weekday.SATURDAY)
    )
    OpeningHours.objects.bulk_create(
        OpeningHours(location=location, weekday=Weekday.SATURDAY, opens_at=time(10), closes_at=time(14))
        for location in locations
    )
    User = get_user_model()
    users = [
        User(username=f"bench-{tag}-{n + 1:04d}", email=f"practitioner{n + 1}.{tag}@example.com", is_staff=True)
        for n in range(scale.practitioners)
    ]
    for user in users:
        user.set_unusable_password()  # they never log in; the benchmarks act as the front desk
    users = User.objects.bulk_create(users)
    Group.objects.get(name=PRACTITIONER).user_set.add(*users)
    practitioners = Practitioner.objects.bulk_create(
        Practitioner(user=user, display_name=f"Practitioner {n + 1:04d} ({tag})") for n, user in enumerate(users)
    )
    seats: dict[Any, list[Practitioner]] = {location.pk: [] for location in locations}
    for n, practitioner in enumerate(practitioners):
        seats[locations[n % len(locations)].pk].append(practitioner)
    Practitioner.locations.through.objects.bulk_create(
        Practitioner.locations.through(practitioner_id=practitioner.pk, location_id=location_id)
        for location_id, staff in seats.items()
        for practitioner in staff
    )
    chairs_by_location = {}
    for location in locations:
        staff = seats[location.pk]
        # A room per practitioner: in any slot the practitioners are dealt distinct rooms.
        rooms = Room.objects.bulk_create(
            Room(location=location, name=f"Treatment room {n + 1}") for n in range(len(staff))
        )
        chairs_by_location[location.pk] = [
            Chair(
                practitioner_id=practitioner.pk,
                location=location,
                zone=location.time_zone,
                seat=seat,
                room_ids=[room.pk for room in rooms],
            )
            for seat, practitioner in enumerate(staff)
        ]
    return Chain(
        locations=locations,
        chairs_by_location=chairs_by_location,
        protocol=protocol,
        steps=steps,
        first_results=first_results,
    )


# --- patients, courses, sessions, messages (the bulk: tuples for COPY) ---------------------


@dataclass
class Chunk:
    """The rows of some patients, by table."""

    rows: dict[type[Model], list[tuple[Any, ...]]] = field(default_factory=lambda: {model: [] for model in COLUMNS})


# Plain strings (not the choices' enum members): they are written for every row.
COURSE, MAINTENANCE_VISIT = SessionKind.COURSE.value, SessionKind.MAINTENANCE.value
BOOKED, COMPLETED = SessionStatus.BOOKED.value, SessionStatus.COMPLETED.value
CANCELLED, NO_SHOW = SessionStatus.CANCELLED.value, SessionStatus.NO_SHOW.value
SENT, PENDING, WITHDRAWN = MessageStatus.SENT.value, MessageStatus.PENDING.value, MessageStatus.CANCELLED.value
EMAIL, SMS = ContactChannel.EMAIL.value, ContactChannel.SMS.value
REMINDER = MessageKind.APPOINTMENT_REMINDER.value
PATIENT_REASONS = (CancelReason.PATIENT_REQUEST.value, CancelReason.PATIENT_UNWELL.value)
TREATED = [TreatedArea.FOREHEAD.value, TreatedArea.CHEEKS.value]
NOTHING_TREATED: list[str] = []
LAST_NAME_CUMULATIVE = list(accumulate(LAST_NAME_WEIGHTS))
SESSION_LENGTH = timedelta(minutes=SESSION_MINUTES)
DAY = timedelta(days=1)
ARRIVED_BEFORE = timedelta(minutes=5)  # when a treated patient checked in


@dataclass
class Visit:
    """A session written for a course: what the course's follow-up state needs of it."""

    id: uuid.UUID
    kind: str
    status: str
    starts_at: datetime
    completed_at: datetime | None
    cancel_reason: str
    practitioner_id: uuid.UUID


@dataclass
class CourseDraft:
    id: uuid.UUID
    chair: Chair
    planned: int
    created_at: datetime
    visits: list[Visit] = field(default_factory=list)


@dataclass(frozen=True)
class _Patient:
    id: uuid.UUID
    first_name: str
    channel: str
    address: str


@dataclass(frozen=True)
class _Step:
    """What the messages of one plan step share."""

    id: int
    kind: str
    subject: str
    body_end: str
    hours: int | None  # an hour offset, or None for a day offset at `send_time`
    days: int
    send_time: time


class ChainGenerator:
    """Makes up the patients of a chain, with their consents, courses, sessions, follow-up states and messages.

    Written for speed more than for looks: a chain of 100,000 patients is five
    million rows, so rows are plain tuples and the hot paths avoid keyword
    calls and enum members.
    """

    def __init__(self, *, chain: Chain, scale: ChainScale, seed: int, now: datetime, share: tuple[int, int] = (0, 1)):
        self.chain = chain
        self.scale = scale
        self.now = now
        # Shares split the chain by location (each location's diaries are in one share only).
        self.share, self.shares = share
        self.random = random.Random(seed * 1_000 + self.share)  # noqa: S311 - made-up data, not secrets
        self.protocol = chain.protocol
        self.steps = [self._step(step) for step in chain.steps]
        self.first_steps = self.steps + [self._step(step) for step in chain.first_results]

    @staticmethod
    def _step(step: AftercareStep) -> _Step:
        return _Step(
            id=step.pk,
            kind=step.kind,
            subject=step.name,
            body_end=(
                f", {step.name.lower()}: keep the treated skin clean, cool and protected, no makeup for 24 hours, "
                "SPF 30+ every day. Any worry, call us."
            ),
            hours=step.offset_value if step.offset_unit == "hours" else None,
            days=step.offset_value,
            send_time=step.local_send_time or SEND_TIME,
        )

    def _uuid(self) -> uuid.UUID:
        """128 random bits from the seeded generator, so a seed always makes the same chain (uuid4 would
        also set its version bits, which nothing here reads)."""
        return uuid.UUID(int=self.random.getrandbits(128))

    def _days(self, low: float, high: float) -> timedelta:
        return timedelta(days=low + (high - low) * self.random.random())

    def chunks(self, *, patients_per_chunk: int = 2000) -> Iterator[dict[type[Model], list[tuple[Any, ...]]]]:
        """This share's rows ({model: rows}), `patients_per_chunk` patients at a time.

        Patient number n is at location n mod the number of locations; a share
        takes the patients of every `shares`th location.
        """
        locations = len(self.chain.locations)
        chunk = Chunk()
        count = 0
        for number in range(self.scale.patients):
            if (number % locations) % self.shares != self.share:
                continue
            self._patient(number, chunk)
            count += 1
            if count == patients_per_chunk:
                yield chunk.rows
                chunk, count = Chunk(), 0
        if count:
            yield chunk.rows

    def _patient(self, number: int, chunk: Chunk) -> None:
        pick = self.random.random
        location = self.chain.locations[number % len(self.chain.locations)]
        chairs = self.chain.chairs_by_location[location.pk]
        patient_id = self._uuid()
        first_name = FIRST_NAMES[int(pick() * len(FIRST_NAMES))]
        last_name = LAST_NAMES[bisect(LAST_NAME_CUMULATIVE, pick() * LAST_NAME_CUMULATIVE[-1])]
        channel = SMS if pick() < 0.4 else EMAIL
        email = f"{first_name.lower()}.{last_name.lower()}{number}@example.com"
        phone = f"+447{700000000 + number:09d}"
        patient = _Patient(patient_id, first_name, channel, email if channel == EMAIL else phone)

        courses = self._courses(COURSES_PER_PATIENT[number % len(COURSES_PER_PATIENT)], chairs, patient, chunk)
        created_at = min(self.now, courses[0].created_at) - self._days(0, 30)
        flags = [MedicalFlag.ANTICOAGULANTS.value] if pick() < 0.03 else []
        chunk.rows[Patient].append(
            (
                patient_id,
                first_name,
                last_name,
                email,
                phone,
                BIRTHDAY_FROM + timedelta(days=int(pick() * 365 * 55)),
                channel,
                "en",
                location.time_zone.key,
                1 + int(pick() * 6),
                flags,
                "Reviewed before each session." if flags else "",
                None,
                created_at,
                created_at,
            )
        )
        consents = [(ConsentKind.SERVICE_MESSAGES.value, "", CONSENT_VERSION)]
        if pick() < 0.92:
            form, version = self.protocol.treatment_consent_form, self.protocol.treatment_consent_version
            consents.append((ConsentKind.TREATMENT.value, form, version))
        if pick() < 0.3:
            consents.append((ConsentKind.MARKETING.value, "", CONSENT_VERSION))
        for kind, scope, version in consents:
            chunk.rows[Consent].append(
                (self._uuid(), patient_id, kind, scope, version, created_at, None, None, created_at, created_at)
            )

    def _courses(self, count: int, chairs: list[Chair], patient: _Patient, chunk: Chunk) -> list[CourseDraft]:
        """The patient's courses, oldest first: the last one in any state, the earlier ones over."""
        pick = self.random.random
        chair = chairs[int(pick() * len(chairs))]
        # The latest course is placed relative to now; each earlier one ends a while before the next began.
        draw = pick()
        state = (
            CourseStatus.PLANNED
            if draw < 0.05
            else CourseStatus.ACTIVE
            if draw < 0.25
            else CourseStatus.MAINTENANCE
            if draw < 0.55
            else CourseStatus.COMPLETED
            if draw < 0.9
            else CourseStatus.CANCELLED
        )
        drafts = [self._latest_course(state.value, chair, patient, chunk)]
        begins = drafts[0].created_at
        for _ in range(count - 1):
            if pick() < 0.3:
                chair = chairs[int(pick() * len(chairs))]
            closed = CourseStatus.COMPLETED.value if pick() < 0.6 else CourseStatus.CANCELLED.value
            earlier = self._closed_course(closed, chair, patient, chunk, ends=begins - self._days(20, 240))
            drafts.append(earlier)
            begins = earlier.created_at
        drafts.reverse()
        return drafts

    def _planned_sessions(self) -> int:
        draw = self.random.random()
        return 3 if draw < 0.4 else 4 if draw < 0.9 else 5 if draw < 0.97 else 6

    def _latest_course(self, state: str, chair: Chair, patient: _Patient, chunk: Chunk) -> CourseDraft:
        pick, now = self.random.random, self.now
        planned = self._planned_sessions()
        if state in (CourseStatus.COMPLETED, CourseStatus.CANCELLED):
            return self._closed_course(state, chair, patient, chunk, ends=now - self._days(5, 700))
        if state == CourseStatus.PLANNED:
            draft = CourseDraft(self._uuid(), chair, planned, now - self._days(1, 60))
            draw = pick()
            if draw < 0.35:
                self._visit(draft, patient, chunk, BOOKED, now + self._days(1, 30))
            elif draw < 0.45:
                self._visit(draft, patient, chunk, CANCELLED, draft.created_at + self._days(0.5, 1))
            return self._finish(draft, state, patient, chunk)
        if state == CourseStatus.ACTIVE:
            done = 1 + int(pick() * (planned - 1))
            last_done = now - self._days(1, 45)
            draft = self._completed_run(planned, done, chair, patient, chunk, last_done=last_done)
            draw = pick()
            if draw < 0.4:
                due = max(last_done + self._days(15, 26), now + self._days(0.2, 10))
                self._visit(draft, patient, chunk, BOOKED, due)
            elif draw < 0.45 and last_done < now - timedelta(days=16):
                self._visit(draft, patient, chunk, NO_SHOW, last_done + self._days(14, 15.5))
            return self._finish(draft, state, patient, chunk)
        # In maintenance: the planned sessions done, perhaps a maintenance session since, perhaps one booked.
        last_done = now - self._days(20, 400)
        maintenance = 1 if last_done < now - timedelta(days=200) and pick() < 0.6 else 0
        course_last = last_done - timedelta(days=120) * maintenance
        draft = self._completed_run(planned, planned, chair, patient, chunk, last_done=course_last)
        for _ in range(maintenance):
            self._visit(draft, patient, chunk, COMPLETED, last_done, kind=MAINTENANCE_VISIT)
        if pick() < 0.25:
            self._visit(draft, patient, chunk, BOOKED, now + self._days(1, 40), kind=MAINTENANCE_VISIT)
        return self._finish(draft, state, patient, chunk)

    def _closed_course(
        self, state: str, chair: Chair, patient: _Patient, chunk: Chunk, *, ends: datetime
    ) -> CourseDraft:
        """A course that is over by `ends`: completed (maintenance perhaps given too), or cancelled part-way."""
        planned = self._planned_sessions()
        if state == CourseStatus.COMPLETED:
            draft = self._completed_run(planned, planned, chair, patient, chunk, last_done=ends)
            return self._finish(draft, state, patient, chunk)
        done = int(self.random.random() * planned)
        if done:
            draft = self._completed_run(planned, done, chair, patient, chunk, last_done=ends - self._days(10, 20))
        else:
            draft = CourseDraft(self._uuid(), chair, planned, ends - self._days(5, 20))
        self._visit(draft, patient, chunk, CANCELLED, ends, reason=CancelReason.COURSE_CANCELLED.value)
        return self._finish(draft, state, patient, chunk, cancelled_at=ends)

    def _completed_run(
        self, planned: int, done: int, chair: Chair, patient: _Patient, chunk: Chunk, *, last_done: datetime
    ) -> CourseDraft:
        """A course whose first `done` sessions were completed 15–26 days apart, the last one at `last_done`.

        Now and then a session was missed or cancelled and given again a few days later.
        """
        pick = self.random.random
        gaps = [self._days(15, 26) for _ in range(done - 1)]
        first = last_done - sum(gaps, timedelta())
        draft = CourseDraft(self._uuid(), chair, planned, first - self._days(8, 25))
        when = first
        for n in range(done):
            if pick() < 0.08:
                self._visit(draft, patient, chunk, NO_SHOW if pick() < 0.4 else CANCELLED, when - self._days(4, 7))
            self._visit(draft, patient, chunk, COMPLETED, when, first=n == 0)
            if n < len(gaps):
                when += gaps[n]
        return draft

    def _visit(
        self,
        draft: CourseDraft,
        patient: _Patient,
        chunk: Chunk,
        status: str,
        around: datetime,
        *,
        kind: str = COURSE,
        reason: str = "",
        first: bool = False,
    ) -> None:
        """A session of the course near `around`, in a free slot of its practitioner, with its messages."""
        chair = draft.chair
        starts_at, room_id = self._slot(chair, around, live=status in (BOOKED, COMPLETED), future=status == BOOKED)
        ends_at = starts_at + SESSION_LENGTH
        booked_at = max(draft.created_at, starts_at - self._days(2, 20))
        completed_at = cancelled_at = no_show_at = None
        if status == COMPLETED:
            completed_at = ends_at
        elif status == CANCELLED:
            reason = reason or PATIENT_REASONS[int(self.random.random() * 2)]
            cancelled_at = max(min(self.now, starts_at - self._days(0.1, 2)), booked_at)
        elif status == NO_SHOW:
            no_show_at = ends_at
        session_id = self._uuid()
        chunk.rows[Session].append(
            (
                session_id,
                draft.id,
                kind,
                chair.practitioner_id,
                room_id,
                chair.location.pk,
                starts_at,
                ends_at,
                status,
                False,
                completed_at,
                "Tolerated well." if completed_at else "",
                TREATED if completed_at else NOTHING_TREATED,
                cancelled_at,
                reason if cancelled_at else "",
                "",
                no_show_at,
                starts_at - ARRIVED_BEFORE if completed_at else None,  # a treated patient checked in first
                starts_at if completed_at else None,  # and went in on time
                max(starts_at - DAY, booked_at) if completed_at else None,  # confirmed on the reminder
                0 if status == BOOKED else 1,
                booked_at,
                completed_at or cancelled_at or no_show_at or booked_at,
            )
        )
        draft.visits.append(Visit(session_id, kind, status, starts_at, completed_at, reason, chair.practitioner_id))
        messages = chunk.rows[ScheduledMessage]
        key = str(session_id)
        # The reminder a day before (cancelled with the session if that came first), then the plan's messages.
        due = max(starts_at - DAY, booked_at)
        if cancelled_at is not None and cancelled_at <= due:
            messages.append(
                self._message(
                    REMINDER,
                    f"reminder:{key}:0",
                    draft,
                    session_id,
                    None,
                    due,
                    patient,
                    "Your appointment tomorrow",
                    REMINDER_BODY,
                    WITHDRAWN,
                    booked_at,
                    cancelled_at,
                )
            )
        else:
            messages.append(
                self._message(
                    REMINDER,
                    f"reminder:{key}:0",
                    draft,
                    session_id,
                    None,
                    due,
                    patient,
                    "Your appointment tomorrow",
                    REMINDER_BODY,
                    None,
                    booked_at,
                    None,
                )
            )
        if completed_at is None:
            return
        zone = chair.zone
        for step in self.first_steps if first else self.steps:
            if step.hours is not None:
                due = completed_at + timedelta(hours=step.hours)
            else:
                local = completed_at.astimezone(zone).date() + timedelta(days=step.days)
                due = datetime.combine(local, step.send_time, tzinfo=zone)
            messages.append(
                self._message(
                    step.kind,
                    f"step:{key}:{step.id}",
                    draft,
                    session_id,
                    step,
                    due,
                    patient,
                    step.subject,
                    step.body_end,
                    None,
                    completed_at,
                    None,
                )
            )

    def _message(
        self,
        kind: str,
        dedupe_key: str,
        draft: CourseDraft,
        session_id: uuid.UUID,
        step: _Step | None,
        due: datetime,
        patient: _Patient,
        subject: str,
        body_end: str,
        status: str | None,
        created_at: datetime,
        cancelled_at: datetime | None,
    ) -> tuple[Any, ...]:
        """An outbox row; `status` None: sent if due by now, else pending."""
        if status is None:
            status = SENT if due <= self.now else PENDING
        sent = status == SENT
        sent_at = due + timedelta(seconds=2 + int(self.random.random() * 90)) if sent else None
        return (
            self._uuid(),
            kind,
            dedupe_key,
            patient.id,
            draft.id,
            session_id,
            step.id if step else None,
            None,
            patient.channel,
            patient.address if sent else "",
            "",
            subject if patient.channel == EMAIL else "",
            f"Hello {patient.first_name}{body_end}",
            page_url(session_id),
            due,
            status,
            "",
            1 if sent else 0,
            "",
            f"bench-{self.random.getrandbits(48):012x}" if sent else "",
            sent_at,
            sent_at,
            cancelled_at,
            None,
            created_at,
            sent_at or cancelled_at or created_at,
            None,  # announces_start: the benchmarks read no booking notices
        )

    def _slot(self, chair: Chair, around: datetime, *, live: bool, future: bool) -> tuple[datetime, uuid.UUID]:
        """A start in an opening slot near `around` (on the right side of now), held if the session is live."""
        day = around.astimezone(chair.zone).date()
        now = self.now
        for shift in SHIFTS:
            candidate = day + timedelta(days=shift)
            starts = SLOT_STARTS[candidate.weekday()]
            if not starts:
                continue
            ordinal = candidate.toordinal()
            held = chair.held.get(ordinal, 0)
            offset = int(self.random.random() * len(starts))
            for step in range(len(starts)):
                slot = (offset + step) % len(starts)
                if live and held & (1 << slot):
                    continue
                minutes = starts[slot]
                local = datetime.combine(candidate, time(minutes // 60, minutes % 60), tzinfo=chair.zone)
                starts_at = local.astimezone(UTC)
                if (starts_at <= now) if future else (starts_at + SESSION_LENGTH >= now):
                    continue
                if live:
                    chair.held[ordinal] = held | (1 << slot)
                return starts_at, chair.room_ids[(chair.seat + ordinal + slot) % len(chair.room_ids)]
        raise RuntimeError(f"No free slot near {around} for practitioner {chair.practitioner_id}")

    def _finish(
        self, draft: CourseDraft, status: str, patient: _Patient, chunk: Chunk, *, cancelled_at: datetime | None = None
    ) -> CourseDraft:
        """Write the course row and its follow-up state, from the sessions written for it."""
        location = draft.chair.location
        completed = [visit for visit in draft.visits if visit.completed_at is not None]
        last_completed = max(completed, key=lambda visit: (visit.completed_at, visit.id), default=None)
        maintenance_window: tuple[date, date] | tuple[None, None] = (None, None)
        if status == CourseStatus.MAINTENANCE and last_completed is not None and last_completed.completed_at:
            # As treatments.services._advance_course opens it after a completion.
            maintenance_window = rules.followup_window(
                last_anchor=last_completed.completed_at,
                min_days=self.protocol.maintenance_min_days,
                max_days=self.protocol.maintenance_max_days,
                zone=location.time_zone,
            )
        changed = max([draft.created_at, *(visit.starts_at for visit in draft.visits)])
        cancel_reason = "The patient stopped the course." if cancelled_at else ""
        chunk.rows[Course].append(
            (
                draft.id,
                patient.id,
                self.protocol.pk,
                draft.planned,
                status,
                location.pk,
                maintenance_window[0],
                maintenance_window[1],
                cancelled_at,
                cancel_reason,
                "",
                draft.created_at,
                min(changed, self.now),
            )
        )
        course = Course(
            id=draft.id,
            patient_id=patient.id,
            protocol=self.protocol,
            planned_sessions=draft.planned,
            status=status,
            location=location,
            next_maintenance_earliest=maintenance_window[0],
            next_maintenance_latest=maintenance_window[1],
            created_at=draft.created_at,
        )
        # The sessions just written, as the definition reads them.
        sessions = [
            Session(
                id=visit.id,
                course_id=draft.id,
                kind=visit.kind,
                status=visit.status,
                practitioner_id=visit.practitioner_id,
                starts_at=visit.starts_at,
                completed_at=visit.completed_at,
                cancel_reason=visit.cancel_reason,
            )
            for visit in draft.visits
        ]
        state = followup_state_row(course, sessions, refreshed_at=self.now)
        chunk.rows[FollowupState].append(tuple(getattr(state, column) for column in COLUMNS[FollowupState]))
        return draft
