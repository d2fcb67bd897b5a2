"""Everything the front desk needs about one patient, on one page, in a fixed number of queries.

The card (frontdesk.views.patient_card_page) shows the alerts first (open red
flag, medical review needed, treatment consent missing, no-shows, messaging
consent missing, texts waiting for an answer), then the courses with their
progress and next window, the upcoming and past sessions, the messages sent
and scheduled, the side-effect reports and the consents, and the patient's
texts waiting in the inbox. Clinical detail (which medical flags) is shown
only to those whose clinical access covers the patient (clinic.access).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from aftercare.models import InboundMessage, ScheduledMessage, SideEffectReport
from aftercare.selectors import patient_open_inbox
from patients.models import Consent, ConsentKind, Patient
from patients.selectors import patient_ids_with_consent
from treatments.followup import followup_of, with_followup
from treatments.models import Course, MedicalClearance, Session, SessionStatus
from treatments.selectors import courses_needing_treatment_consent

RECENT_MESSAGES = 30


@dataclass
class CourseLine:
    course: Course
    done: int
    planned: int
    window_start: Any
    window_end: Any
    consent_needed: bool


@dataclass
class Card:
    patient: Patient
    alerts: list[tuple[str, str]] = field(default_factory=list)  # (level, text)
    courses: list[CourseLine] = field(default_factory=list)
    upcoming: list[Session] = field(default_factory=list)
    past: list[Session] = field(default_factory=list)
    messages: list[ScheduledMessage] = field(default_factory=list)
    reports: list[SideEffectReport] = field(default_factory=list)
    consents: list[Consent] = field(default_factory=list)
    inbox: list[InboundMessage] = field(default_factory=list)  # their texts waiting for a person


def patient_card(patient: Patient, *, sees_clinical: bool, sees_inbox: bool = False) -> Card:
    """The card of `patient`; `sees_clinical`: the viewer's clinical access covers this patient; `sees_inbox`:
    the viewer may read the inbox of patients' texts."""
    now = timezone.now()
    card = Card(patient=patient)
    courses = list(
        with_followup(Course.objects.filter(patient=patient).select_related("protocol", "location")).order_by(
            "-created_at"
        )
    )
    open_courses = [c for c in courses if c.status not in ("completed", "cancelled")]
    missing_consent = courses_needing_treatment_consent([c.pk for c in open_courses]) if open_courses else set()
    for course in courses:
        followup = followup_of(course)
        card.courses.append(
            CourseLine(
                course=course,
                done=followup.sessions_done,
                planned=course.planned_sessions,
                window_start=followup.window_start,
                window_end=followup.window_end,
                consent_needed=course.pk in missing_consent,
            )
        )
    sessions = list(
        Session.objects.filter(course__patient=patient)
        .select_related("course__protocol", "practitioner", "room", "location")
        .order_by("-starts_at")
    )
    card.upcoming = sorted(
        (s for s in sessions if s.status == SessionStatus.BOOKED and s.ends_at >= now), key=lambda s: s.starts_at
    )
    card.past = [s for s in sessions if s not in card.upcoming]
    card.messages = list(ScheduledMessage.objects.filter(patient=patient).order_by("-due_at")[:RECENT_MESSAGES])
    card.reports = list(
        SideEffectReport.objects.filter(patient=patient).select_related("session").order_by("-created_at")
    )
    card.consents = list(Consent.objects.filter(patient=patient).order_by("-given_at"))
    if sees_inbox:
        card.inbox = patient_open_inbox(patient_id=patient.pk)

    # Alerts, most serious first.
    if any(report.is_red_flag and report.resolved_at is None for report in card.reports):
        card.alerts.append(("red", "Red flag open: a practitioner must review the side-effect report."))
    if card.inbox:
        count = len(card.inbox)
        card.alerts.append(("warn", f"{count} text{'s' if count > 1 else ''} from the patient waiting for an answer."))
    if patient.medical_flags:
        cleared = {
            flag
            for clearance in MedicalClearance.objects.filter(patient=patient, revoked_at__isnull=True)
            if clearance.valid_until is None or clearance.valid_until >= timezone.localdate()
            for flag in clearance.flags_reviewed
        }
        uncleared = [flag for flag in patient.medical_flags if flag not in cleared]
        if uncleared:
            detail = f" ({', '.join(uncleared)})" if sees_clinical else ""
            card.alerts.append(("warn", f"Medical review needed before the next treatment{detail}."))
    for line in card.courses:
        if line.consent_needed:
            card.alerts.append(("warn", f"Treatment consent needed for {line.course.protocol.name}."))
    no_shows = sum(1 for s in sessions if s.status == SessionStatus.NO_SHOW)
    if no_shows:
        card.alerts.append(("info", f"{no_shows} no-show{'s' if no_shows > 1 else ''}."))
    if patient.pk not in patient_ids_with_consent(patient_ids=[patient.pk], kind=ConsentKind.SERVICE_MESSAGES):
        card.alerts.append(("info", "No messaging consent: aftercare and reminders are not sent."))
    return card
