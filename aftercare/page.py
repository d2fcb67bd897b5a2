"""What a patient's own page for a session shows (aftercare.views serves it).

After a completed session: the whole aftercare plan as a timeline of the five
recovery phases (aftercare.recovery), the phase the patient is in now
highlighted, each phase carrying the advice of the plan's steps that fall in
it (the words of the step's email, in the patient's language, so a clinic's
edit in the admin reaches the page too), then the next session (booked, or
the window to book it in), and how to reach the clinic. Before the session
(a booking confirmation or reminder links here too): the appointment.

Only a session whose patient is not erased is shown; a cancelled or missed
session shows the clinic's contact and nothing about the patient.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db.models import Prefetch
from django.utils.safestring import SafeString

from aftercare.contact import ClinicContact, clinic_contact
from aftercare.default_plan import SIGNATURE
from aftercare.models import AftercareStep, MessageKind, MessageTemplate, PromptTemplate, StepCondition
from aftercare.page_links import session_of_token
from aftercare.recovery import PHASES, Phase, phase_index
from aftercare.rendering import message_context, patient_zone, render, template_for
from aftercare.text_html import text_to_html
from treatments.followup import course_followup, sessions_of_course
from treatments.models import Session, SessionKind, SessionStatus

# The opening line of a message ("Dear {{ first_name }},", "Hola, {{ first_name }}:"): a page has no
# addressee line.
_GREETING = re.compile(r"\A\s*[^\n]*\{\{\s*first_name\s*\}\}[^\n]*[,:][ \t]*\n")


def page_source(source: str) -> str:
    """A message template's source as page content: without its greeting line and the shipped signature."""
    source = _GREETING.sub("", source, count=1)
    if source.endswith(SIGNATURE):
        source = source[: -len(SIGNATURE)]
    return source


@dataclass
class PhaseOnPage:
    phase: Phase
    starts_on: date
    ends_on: date | None
    state: str  # "past", "current" or "future"
    advice: list[SafeString] = field(default_factory=list)


@dataclass
class SessionPage:
    session: Session
    context: dict[str, Any]
    contact: ClinicContact
    phases: list[PhaseOnPage]
    current: PhaseOnPage | None
    # Whether the patient may report side effects here: after a session that took place.
    takes_check_in: bool

    @property
    def maintenance_months(self) -> tuple[int, int]:
        """The protocol's maintenance interval in whole months (a month being 30 days)."""
        protocol = self.session.course.protocol
        return round((protocol.maintenance_min_days or 0) / 30), round((protocol.maintenance_max_days or 0) / 30)


def session_for_token(token: str) -> Session | None:
    """The session a page link opens (aftercare.page_links), or None: a bad or expired link, an erased patient."""
    session_id = session_of_token(token)
    return session_for_page(session_id) if session_id is not None else None


def session_for_page(session_id: UUID) -> Session | None:
    """The session behind a page link, with what the page reads; None if there is none or its patient is erased."""
    return (
        Session.objects.select_related(
            "course__patient", "course__location", "course__protocol__aftercare_plan", "location", "practitioner"
        )
        .filter(pk=session_id, course__patient__erased_at__isnull=True)
        .first()
    )


def is_gone(session: Session) -> bool:
    """A cancelled or missed session: its page says so and shows nothing about the patient."""
    return session.status in (SessionStatus.CANCELLED, SessionStatus.NO_SHOW)


def _step_day(step: AftercareStep) -> int:
    return step.offset_value // 24 if step.offset_unit == "hours" else step.offset_value


def _step_applies(step: AftercareStep, *, sessions_remain: bool) -> bool:
    if step.condition == StepCondition.SESSIONS_REMAIN:
        return sessions_remain
    if step.condition == StepCondition.FINAL_SESSION:
        return not sessions_remain
    return True


def session_page(session: Session, *, now: datetime) -> SessionPage:
    """Everything the page of `session` shows, in its patient's language, as of `now`."""
    course = session.course
    patient = course.patient
    course_sessions = sessions_of_course(course)
    followup = course_followup(course)
    context = message_context(
        patient=patient, course=course, session=session, followup=followup, course_sessions=course_sessions
    ) | {"on_page": True}
    phases: list[PhaseOnPage] = []
    current = None
    if session.status == SessionStatus.COMPLETED and session.completed_at is not None:
        zone = patient_zone(patient)
        session_day = session.completed_at.astimezone(zone).date()
        today = now.astimezone(zone).date()
        now_index = phase_index(max((today - session_day).days, 0))
        for index, phase in enumerate(PHASES):
            starts_on, ends_on = phase.dates(session_day)
            state = "past" if index < now_index else "current" if index == now_index else "future"
            phases.append(PhaseOnPage(phase, starts_on, ends_on, state))
        current = phases[now_index]
        plan = getattr(course.protocol, "aftercare_plan", None)
        if plan is not None and plan.is_active:
            sessions_remain = session.kind == SessionKind.COURSE and followup.sessions_remaining > 0
            steps = plan.steps.prefetch_related(
                Prefetch("templates", queryset=MessageTemplate.objects.filter(channel="email"))
            )
            # Messages repeat what matters (the red flags, in the first and the day-1 message): a page, read
            # in one go, says each paragraph once.
            said: set[str] = set()
            for step in steps:
                if not _step_applies(step, sessions_remain=sessions_remain):
                    continue
                template = template_for(step.templates.all(), "email", patient.language)
                if template is None:
                    continue
                paragraphs = re.split(r"\n\s*\n", render(page_source(template.body), context))
                new = [paragraph for paragraph in paragraphs if paragraph.strip() not in said]
                said.update(paragraph.strip() for paragraph in new)
                if new:
                    phases[phase_index(_step_day(step))].advice.append(text_to_html("\n\n".join(new)))
    return SessionPage(
        session=session,
        context=context,
        contact=clinic_contact(session.location),
        phases=phases,
        current=current,
        takes_check_in=session.status == SessionStatus.COMPLETED,
    )


def red_flag_advice(session: Session, *, severe: bool) -> SafeString | None:
    """What the patient who just reported a red flag reads on the page: the words of the reply they are sent."""
    patient = session.course.patient
    template = template_for(
        PromptTemplate.objects.filter(kind=MessageKind.RED_FLAG_REPLY, channel="email"), "email", patient.language
    )
    if template is None:
        return None
    context = message_context(patient=patient, course=session.course, session=session) | {
        "on_page": True,
        "severe": severe,
        "emergency_number": settings.CLINIC_EMERGENCY_NUMBER,
    }
    return text_to_html(render(page_source(template.body), context))
