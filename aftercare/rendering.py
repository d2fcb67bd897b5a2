"""The words of a message: what templates know, and how they are rendered.

Messages are rendered when written to the outbox (and re-rendered while
pending if their words depend on bookings), so the outbox holds exactly the
text that will be sent, and the address replies go to (`reply_to`).

Templates may leave a clause out (`{% if clinic_phone %}`…); rendering then
tidies what is left, so a missing value never leaves an empty paragraph.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.template import Context, Template
from django.utils import dateformat, timezone, translation

from aftercare.models import ChannelRule
from aftercare.page_links import page_url
from patients.models import Patient
from treatments.followup import (
    FollowUp,
    course_followup,
    course_session_number,
    next_booked_session,
    sessions_of_course,
)
from treatments.models import Course, Session, SessionStatus


def patient_zone(patient: Patient) -> ZoneInfo:
    return ZoneInfo(str(patient.time_zone))


def locale_of(language: str) -> str:
    """The locale a patient's language is written in: "en" is the clinic's British English (dates as 2 March)."""
    return settings.LANGUAGE_CODE if language == "en" else language


# How a message writes a day, in full and short (for texts), and a time ("at"), per language (Django's
# date format characters: l weekday, D its abbreviation, j day, F month, M its abbreviation, n its number:
# Spanish texts write 17/3, as people there do). Languages not here write English's.
DAY_FORMATS = {
    "en": ("l j F Y", "D j M", "{day} at {time}"),
    "es": (r"l j \d\e F \d\e Y", "j/n", "{day} a las {time}"),
}


def _formats(language: str) -> tuple[str, str, str]:
    return DAY_FORMATS.get(language, DAY_FORMATS["en"])


def format_day(day: date | None, language: str = "en", *, short: bool = False) -> str:
    """`day` as a message writes it: "Tuesday 3 March 2026" (short: "Tue 3 Mar"), in `language`."""
    if day is None:
        return ""
    full, brief, _ = _formats(language)
    with translation.override(locale_of(language)):
        return dateformat.format(day, brief if short else full)


def format_moment(moment: datetime | None, zone: ZoneInfo, language: str = "en", *, short: bool = False) -> str:
    """`moment` on the clock in `zone`: "Tuesday 3 March 2026 at 10:00" (short: "Tue 3 Mar at 10:00")."""
    if moment is None:
        return ""
    local = moment.astimezone(zone)
    return _formats(language)[2].format(day=format_day(local.date(), language, short=short), time=f"{local:%H:%M}")


def one_line_address(address: str) -> str:
    """A postal address as one line ("12 Harley Street, London W1G 9PF"), however it was typed in."""
    lines = (" ".join(line.split()).strip(" ,") for line in address.splitlines())
    return ", ".join(line for line in lines if line)


def channel_for(rule: str, patient: Patient) -> str:
    return patient.preferred_channel if rule == ChannelRule.PREFERRED else rule


@functools.lru_cache(maxsize=512)
def _compiled(source: str) -> Template:
    """A template's source, parsed once: templates change rarely, and a changed one is another source."""
    # Autoescape off: these are plain-text emails and SMS, not HTML.
    return Template("{% autoescape off %}" + source + "{% endautoescape %}")


def render(source: str, context: dict[str, Any]) -> str:
    """Render a template's source; raise TemplateSyntaxError for a broken one.

    A clause the template left out leaves no trace: runs of spaces become one,
    lines lose trailing spaces, and blank lines between paragraphs never stack
    up into an empty paragraph.
    """
    text = _compiled(source).render(Context(context))
    lines = [re.sub(r"(?<=\S) {2,}", " ", line).rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# ScheduledMessage.subject's column: a longer subject would fail the insert, and the change that wrote it.
SUBJECT_MAX_LENGTH = 200


def render_subject(source: str, context: dict[str, Any]) -> str:
    """Render an email subject as one line that fits the outbox: raise TemplateSyntaxError for a broken one.

    Every run of whitespace, line breaks included, becomes one space and
    other control characters go. Names are refused with line breaks at input
    (patients.validators); this is the second line of defence, because mail
    libraries refuse a header with a line break and the message would never go.
    """
    text = " ".join(render(source, context).split())
    text = "".join(character for character in text if unicodedata.category(character) != "Cc")
    if len(text) > SUBJECT_MAX_LENGTH:
        text = text[: SUBJECT_MAX_LENGTH - 1].rstrip() + "…"
    return text


def template_for(templates: Iterable[Any], channel: str, language: str) -> Any | None:
    """The template for `channel` in the patient's language, else in English, else None."""
    by_key = {(t.channel, t.language): t for t in templates}
    return by_key.get((channel, language)) or by_key.get((channel, "en"))


def message_context(
    *,
    patient: Patient,
    course: Course | None,
    session: Session | None,
    followup: FollowUp | None = None,
    course_sessions: Sequence[Session] | None = None,
) -> dict[str, Any]:
    """What a template knows about the patient, the course and the session (dates in the patient's zone).

    `clinic_phone` is the course's location's number, else the clinic's
    (CLINIC_PHONE); `location_address` its address on one line, else empty.
    `reply_to` is the location's email address, else empty:
    a text may invite replies only when it is set, and the email then carries
    it as Reply-To. `session_number` is the session's place in its course
    (empty for a maintenance session); `first_session` is true after a
    course's first session only.

    `page_url` is the link to the patient's page for the session (for a
    prompt about a course, its latest completed session's), empty when
    there is none.

    `followup` (the course's stored follow-up state) and `course_sessions`
    (every session of the course as they are now), when the caller holds
    them (a session change carries both), save reading them.
    """
    zone = patient_zone(patient)
    language = patient.language
    if course is not None and course_sessions is None:
        course_sessions = sessions_of_course(course)
    session_number = None
    if session is not None:
        same_course = course is not None and session.course_id == course.pk
        session_number = course_session_number(session, course_sessions if same_course else None)
    context: dict[str, Any] = {
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "clinic_name": settings.CLINIC_NAME,
        "clinic_phone": settings.CLINIC_PHONE,
        "reply_to": "",
        "location_address": "",
        "session_date": format_moment(session.starts_at, zone, language) if session else "",
        "session_date_short": format_moment(session.starts_at, zone, language, short=True) if session else "",
        "session_number": session_number or "",
        "first_session": session_number == 1,
        "sessions_remaining": 0,
        "next_window_start": "",
        "next_window_end": "",
        "next_session": "",
        "next_session_short": "",
        "next_window_start_short": "",
        "next_window_end_short": "",
        "page_url": page_url(session.pk) if session is not None else "",
    }
    if course is not None:
        context["clinic_name"] = course.location.name
        context["clinic_phone"] = str(course.location.phone or "") or settings.CLINIC_PHONE
        context["reply_to"] = course.location.email
        context["location_address"] = one_line_address(course.location.address)
        followup = followup if followup is not None else course_followup(course)
        context["sessions_remaining"] = followup.sessions_remaining
        if followup.window is not None:
            context["next_window_start"] = format_day(followup.window_start, language)
            context["next_window_end"] = format_day(followup.window_end, language)
            context["next_window_start_short"] = format_day(followup.window_start, language, short=True)
            context["next_window_end_short"] = format_day(followup.window_end, language, short=True)
        booked = next_booked_session(course_sessions or (), now=timezone.now())
        context["next_session"] = format_moment(booked.starts_at, zone, language) if booked else ""
        context["next_session_short"] = format_moment(booked.starts_at, zone, language, short=True) if booked else ""
        if session is None:
            # A prompt about the course: the page of its latest session that took place.
            latest = _latest_completed(course_sessions or ())
            context["page_url"] = page_url(latest.pk) if latest is not None else ""
    return context


def _latest_completed(sessions: Sequence[Session]) -> Session | None:
    done = [(s.completed_at, s) for s in sessions if s.status == SessionStatus.COMPLETED and s.completed_at is not None]
    return max(done, key=lambda pair: pair[0])[1] if done else None
