"""Booking notices: what the patient is told when a session is booked, moved or cancelled.

Every door (the admin, the front desk, booking software through the API, a
course's cancellation) changes sessions through treatments.services, whose
event aftercare.reactions hands on here, inside the change's transaction.

**Coalescing.** A notice waits AFTERCARE_BOOKING_NOTICE_DELAY_SECONDS (five
minutes) before it goes, and a session has at most one notice pending: a
change meanwhile re-renders and re-times that row (due again a delay from
now) instead of writing another. A receptionist who books, fixes the time
and fixes it again sends one text, with the final time.

**What a notice says** depends on what the patient was last told about the
session: the notice of it last sent (or being sent), whose
`ScheduledMessage.announces_start` is the time it gave.

| the patient was told | the session now             | the notice                            |
| -------------------- | --------------------------- | ------------------------------------- |
| nothing              | booked                      | a confirmation of its time            |
| nothing              | cancelled                   | none (a pending confirmation is cancelled) |
| a time               | booked at that time         | none (moved back before the notice went) |
| a time               | booked at another time      | a change: the new time, and the old one |
| a time               | cancelled                   | a cancellation of the time they know  |
| it is cancelled      | anything                    | none                                  |

Nothing is said about a session that starts before the notice would go
(quiet hours included), nor of a no-show or a completion.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from icalendar import Calendar, Event, vCalAddress, vText

from aftercare import timing
from aftercare.models import Channel, MessageKind, MessageStatus, PromptTemplate, ScheduledMessage
from aftercare.outbox import message_fields, quiet_hours, write_new_message
from aftercare.rendering import format_moment, message_context, one_line_address, patient_zone, template_for
from patients.models import Patient
from treatments.calendar import CALENDAR_PRODID, session_uid
from treatments.followup import FollowUp
from treatments.models import Course, Session, SessionStatus

NOTICE_KINDS = (
    MessageKind.BOOKING_CONFIRMATION,
    MessageKind.BOOKING_CHANGE,
    MessageKind.BOOKING_CANCELLATION,
)
# A notice the patient has (or is being sent right now): what it said is what they know.
TOLD_STATUSES = (MessageStatus.SENT, MessageStatus.SENDING)


@dataclass(frozen=True)
class Told:
    """What the patient was last told about a session: a time, or that it is cancelled."""

    start: datetime
    cancelled: bool


@dataclass(frozen=True)
class Notice:
    """A notice to give: its kind, the time it tells of, and (for a change) the time it replaces."""

    kind: str
    announces: datetime
    replaces: datetime | None = None


def notice_for(*, status: str, starts_at: datetime, told: Told | None, goes_at: datetime) -> Notice | None:
    """The notice owed for a session now `status` at `starts_at`, sent at `goes_at`; None when nothing is.

    A pure rule (the table in this module's docstring): `told` is what the
    patient was last told, None when nothing yet.
    """
    if told is not None and told.cancelled:
        return None
    if status == SessionStatus.BOOKED:
        if starts_at <= goes_at:
            return None
        if told is None:
            return Notice(MessageKind.BOOKING_CONFIRMATION, starts_at)
        if told.start == starts_at:
            return None
        return Notice(MessageKind.BOOKING_CHANGE, starts_at, replaces=told.start)
    if status == SessionStatus.CANCELLED and told is not None and told.start > goes_at:
        return Notice(MessageKind.BOOKING_CANCELLATION, told.start)
    return None


def told_of(notices: Iterable[ScheduledMessage]) -> Told | None:
    """What the last notice among `notices` (one session's) that reached the patient told them; None if none did."""
    told = [m for m in notices if m.status in TOLD_STATUSES and m.announces_start is not None]
    if not told:
        return None
    return _told_by(max(told, key=lambda m: m.created_at))


def _told_by(notice: ScheduledMessage) -> Told | None:
    """What `notice` tells the patient once it reaches them."""
    if notice.announces_start is None:
        return None
    return Told(start=notice.announces_start, cancelled=notice.kind == MessageKind.BOOKING_CANCELLATION)


def notice_goes_at(patient: Patient, *, now: datetime) -> datetime:
    """When a notice written at `now` goes: after the coalescing delay, and past the patient's quiet hours."""
    due = now + timedelta(seconds=settings.AFTERCARE_BOOKING_NOTICE_DELAY_SECONDS)
    return timing.defer_for_quiet_hours(due, quiet=quiet_hours(), zone=patient_zone(patient))


@dataclass
class NoticePlan:
    """What a change means for a session's notices.

    `notice`: the notice to give (None: none); `waiting`: the session's
    pending notice, which is rewritten as `notice` (or cancelled when there is
    none); `superseded`: other pending notices of the session (there should be
    none), cancelled; `told`: what the patient knows; `goes_at`: when a notice
    written now goes.
    """

    notice: Notice | None
    waiting: ScheduledMessage | None
    superseded: list[ScheduledMessage]
    told: Told | None
    goes_at: datetime

    @property
    def to_cancel(self) -> list[ScheduledMessage]:
        """The pending notices the change leaves with nothing to say."""
        if self.waiting is None or self.notice is not None:
            return self.superseded
        return [self.waiting, *self.superseded]


def plan_notice(*, session: Session, messages: Sequence[ScheduledMessage], now: datetime) -> NoticePlan:
    """Work out the notice owed for `session` as it is now, from `messages` (its messages, read by the caller)."""
    notices = [m for m in messages if m.session_id == session.pk and m.kind in NOTICE_KINDS]
    pending = sorted((m for m in notices if m.status == MessageStatus.PENDING), key=lambda m: m.created_at)
    told = told_of(notices)
    goes_at = notice_goes_at(session.course.patient, now=now)
    return NoticePlan(
        notice=notice_for(status=session.status, starts_at=session.starts_at, told=told, goes_at=goes_at),
        waiting=pending[-1] if pending else None,
        superseded=pending[:-1],
        told=told,
        goes_at=goes_at,
    )


def notice_context(
    *,
    notice: Notice,
    patient: Patient,
    course: Course,
    session: Session,
    followup: FollowUp | None = None,
    course_sessions: Sequence[Session] | None = None,
) -> dict[str, Any]:
    """What a notice's template knows: message_context, with `session_date` (and `session_date_short`, for a
    text) the time the notice tells of and `previous_session_date` (`previous_session_date_short`) the time a
    change replaces, in the patient's zone and language."""
    zone, language = patient_zone(patient), patient.language
    context = message_context(
        patient=patient, course=course, session=session, followup=followup, course_sessions=course_sessions
    )
    for name, moment in (("session_date", notice.announces), ("previous_session_date", notice.replaces)):
        context[name] = format_moment(moment, zone, language)
        context[f"{name}_short"] = format_moment(moment, zone, language, short=True)
    return context


def notice_fields(
    *,
    notice: Notice,
    session: Session,
    goes_at: datetime,
    templates: Iterable[PromptTemplate],
    followup: FollowUp | None = None,
    course_sessions: Sequence[Session] | None = None,
) -> dict[str, Any]:
    """The outbox fields of `notice` about `session` (its course, patient and location in hand), due at `goes_at`.

    `templates`: PromptTemplates read by the caller, among them the notice's kind's.
    """
    course = session.course
    patient = course.patient
    return {
        **message_fields(
            kind=notice.kind,
            patient=patient,
            channel=patient.preferred_channel,
            template=template_for(
                [t for t in templates if t.kind == notice.kind], patient.preferred_channel, patient.language
            ),
            context=lambda: notice_context(
                notice=notice,
                patient=patient,
                course=course,
                session=session,
                followup=followup,
                course_sessions=course_sessions,
            ),
            due_at=goes_at,
            course=course,
            session=session,
            defer_quiet=False,  # goes_at is past quiet hours already
        ),
        "announces_start": notice.announces,
    }


def notice_key(session: Session) -> str:
    # The sequence rises on every change, so each notice row of a session has a key of its own.
    return f"notice:{session.pk}:{session.sequence}"


def give_notice(
    *,
    plan: NoticePlan,
    session: Session,
    templates: Iterable[PromptTemplate],
    followup: FollowUp | None = None,
    course_sessions: Sequence[Session] | None = None,
    batch: list[ScheduledMessage] | None = None,
) -> ScheduledMessage | None:
    """Write the notice `plan` owes: rewrite the session's pending notice (one UPDATE), else add one (one INSERT,
    or a row in `batch` for the caller to write with others: `aftercare.outbox.write_new_message`).

    Return the row written, or None when the plan owes no notice. The pending
    row is rewritten only while it is still pending: when a dispatcher claimed
    it meanwhile, it is on its way and the patient will know what it says, so
    the notice owed is worked out again from there and written as a new row
    (a few more statements, in that race only).
    """
    notice = plan.notice
    if notice is None:
        return None
    expected_kind = notice.kind
    fields = notice_fields(
        notice=notice,
        session=session,
        goes_at=plan.goes_at,
        templates=templates,
        followup=followup,
        course_sessions=course_sessions,
    )
    waiting = plan.waiting
    if waiting is not None:
        # updated_at by hand: update() skips auto_now, and `updated_since` sync must see the new words.
        fields["updated_at"] = timezone.now()
        rewritten = ScheduledMessage.objects.filter(pk=waiting.pk, status=MessageStatus.PENDING).update(**fields)
        if rewritten:
            for name, value in fields.items():
                setattr(waiting, name, value)
            return waiting
        # Claimed by a dispatcher (or cancelled by staff) since it was read: what does the patient know now?
        status = ScheduledMessage.objects.filter(pk=waiting.pk).values_list("status", flat=True).first()
        told = _told_by(waiting) if status in TOLD_STATUSES else plan.told
        notice = notice_for(status=session.status, starts_at=session.starts_at, told=told, goes_at=plan.goes_at)
        if notice is None:
            return None
        if notice.kind != expected_kind:  # the caller read the template of the notice it expected
            templates = list(PromptTemplate.objects.filter(kind=notice.kind))
        fields = notice_fields(
            notice=notice,
            session=session,
            goes_at=plan.goes_at,
            templates=templates,
            followup=followup,
            course_sessions=course_sessions,
        )
    return write_new_message(dedupe_key=notice_key(session), batch=batch, **fields)


def course_cancellation_notices(*, course: Course, sessions: Sequence[Session]) -> list[ScheduledMessage]:
    """Tell the patient of each session of a cancelled course that they knew of: one cancellation notice each.

    The caller has cancelled the course's pending messages (pending notices
    among them: what they said was never heard). Notices about sessions the
    patient was never told of, or that start before a notice would go, are
    not written. One read of what the patient was told, one of the template,
    one INSERT.
    """
    if not sessions:
        return []
    by_session: dict[Any, list[ScheduledMessage]] = {}
    for message in ScheduledMessage.objects.filter(
        session__in=[s.pk for s in sessions], kind__in=NOTICE_KINDS, status__in=TOLD_STATUSES
    ):
        by_session.setdefault(message.session_id, []).append(message)
    goes_at = notice_goes_at(course.patient, now=timezone.now())
    owed = []
    for session in sessions:
        session.course = course
        notice = notice_for(
            status=session.status,
            starts_at=session.starts_at,
            told=told_of(by_session.get(session.pk, ())),
            goes_at=goes_at,
        )
        if notice is not None:
            owed.append((session, notice, goes_at))
    if not owed:
        return []
    templates = list(PromptTemplate.objects.filter(kind=MessageKind.BOOKING_CANCELLATION))
    rows = [
        ScheduledMessage(
            dedupe_key=notice_key(session),
            **notice_fields(notice=notice, session=session, goes_at=goes_at, templates=templates),
        )
        for session, notice, goes_at in owed
    ]
    ScheduledMessage.objects.bulk_create(rows, ignore_conflicts=True)
    return rows


# --- the calendar invitation ------------------------------------------------------------

CALENDAR_METHODS: dict[str, tuple[str, str]] = {
    MessageKind.BOOKING_CONFIRMATION: ("REQUEST", "CONFIRMED"),
    MessageKind.BOOKING_CHANGE: ("REQUEST", "CONFIRMED"),
    MessageKind.BOOKING_CANCELLATION: ("CANCEL", "CANCELLED"),
}


def notice_calendar_file(message: ScheduledMessage) -> bytes | None:
    """The calendar invitation (.ics) to attach to a booking notice sent by email; None for any other message.

    A confirmation or a change is a METHOD:REQUEST, a cancellation a
    METHOD:CANCEL (RFC 5546), so the patient's calendar adds, moves or removes
    the appointment. The event's UID is the session's, the same in every
    notice of it (and in the practitioners' feed, treatments.calendar), and
    its SEQUENCE the session's, raised on every change, so a later notice
    replaces what an earlier one put in the calendar. Its time is the one the
    message announces (`announces_start`), so the file says what the text says.
    """
    methods = CALENDAR_METHODS.get(message.kind)
    if (
        methods is None
        or message.channel != Channel.EMAIL
        or message.announces_start is None
        or message.session_id is None
    ):
        return None
    session = (
        Session.objects.select_related("location", "course__protocol", "course__patient")
        .filter(pk=message.session_id)
        .first()
    )
    if session is None:
        return None
    method, status = methods
    location = session.location
    patient = session.course.patient
    starts_at = message.announces_start
    calendar = Calendar()
    calendar.add("prodid", CALENDAR_PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    event = Event()
    event.add("uid", session_uid(session))
    event.add("sequence", session.sequence)
    event.add("dtstamp", message.updated_at or timezone.now())  # when the notice's words were written
    event.add("dtstart", starts_at)
    event.add("dtend", starts_at + (session.ends_at - session.starts_at))
    event.add("summary", f"{session.course.protocol.name} at {location.name}")
    event.add("location", ", ".join(part for part in (location.name, one_line_address(location.address)) if part))
    event.add("status", status)
    phone = str(location.phone or "") or settings.CLINIC_PHONE
    if phone:
        doing = "book another time" if method == "CANCEL" else "change it"
        event.add("description", f"To {doing}, call {location.name} on {phone}.")
    organizer = vCalAddress(f"mailto:{message.reply_to or location.email or settings.DEFAULT_FROM_EMAIL}")
    organizer.params["cn"] = vText(location.name)
    event.add("organizer", organizer)
    address = message.to_address or patient.email
    if address:
        attendee = vCalAddress(f"mailto:{address}")
        attendee.params["cn"] = vText(f"{patient.first_name} {patient.last_name}".strip())
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        attendee.params["partstat"] = vText("ACCEPTED")
        attendee.params["rsvp"] = vText("FALSE")
        event.add("attendee", attendee)
    calendar.add_component(event)
    return calendar.to_ical()


def notice_calendar_attachment(message: ScheduledMessage) -> tuple[str, bytes, str] | None:
    """`notice_calendar_file(message)` as an email attachment (filename, content, MIME type with its METHOD,
    as calendar clients expect), ready for `OutgoingMessage.attachments`; None when the message carries none."""
    content = notice_calendar_file(message)
    if content is None:
        return None
    method = CALENDAR_METHODS[message.kind][0]
    # Django's attach() adds the charset itself (given here too, it appeared twice).
    return ("invite.ics", content, f"text/calendar; method={method}")
