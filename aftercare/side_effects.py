"""Side-effect reports: recorded, judged for red flags, alerted, resolved.

A red flag (timing.red_flag_reasons) alerts the session's practitioner at
once by email (an outbox row due now; the dispatcher is woken after commit,
so the practitioner hears within seconds, not at the next beat) and keeps
the patient on the worklist until a practitioner resolves the report.
"""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from aftercare import timing
from aftercare.events import announce_red_flag
from aftercare.models import Channel, MessageKind, PromptTemplate, ReportSource, SideEffectReport
from aftercare.outbox import DISPATCH_TASK, new_message
from aftercare.rendering import format_day, message_context, patient_zone, template_for
from clinic.actors import Actor, staff_user
from clinic.audit import records_actor
from clinic.errors import InvalidState, NotPermitted
from clinic.queue import wake_after_commit
from patients.models import Patient
from patients.selectors import clinical_access
from treatments.models import Session, SessionStatus
from treatments.services import acting_practitioner


@records_actor
@transaction.atomic
def side_effect_report_create(
    *,
    patient: Patient,
    symptoms: list[str],
    severity: str,
    onset_on: date,
    actor: Actor,
    session: Session | None = None,
    notes: str = "",
    source: str = ReportSource.STAFF,
) -> SideEffectReport:
    """Record a side-effect report; a red flag alerts the practitioner at once.

    Without a session, the report is about the patient's latest completed
    one. Symptoms, severity and onset are what anyone taking the report
    writes down; free-text notes are clinical and are written only by those
    with access to the patient's clinical record.
    """
    today = timezone.localdate(timezone=patient_zone(patient))
    if notes.strip() and actor is not None and not clinical_access(actor).covers(patient.pk):
        raise NotPermitted(
            "Notes on a report are clinical: the treating practitioner adds them. Record the symptoms, severity "
            "and onset.",
            field="notes",
        )
    if not symptoms:
        raise ValidationError({"symptoms": "Name at least one symptom."})
    if len(set(symptoms)) != len(symptoms):
        raise ValidationError({"symptoms": "Each symptom may appear once."})
    if onset_on > today:
        raise ValidationError({"onset_on": "Symptoms cannot begin in the future."})
    if session is not None and session.course.patient_id != patient.pk:
        raise ValidationError({"session": "This session belongs to another patient."})
    if session is None:
        session = (
            Session.objects.filter(course__patient=patient, status=SessionStatus.COMPLETED)
            .order_by("-completed_at")
            .first()
        )
    reasons = timing.red_flag_reasons(symptoms=symptoms, severity=severity, onset_on=onset_on, today=today)
    report = SideEffectReport(
        patient=patient,
        session=session,
        symptoms=symptoms,
        severity=severity,
        onset_on=onset_on,
        notes=notes,
        source=source,
        is_red_flag=bool(reasons),
        red_flag_reasons="; ".join(reasons),
        reported_by=staff_user(actor),
    )
    report.full_clean()
    report.save()
    if reasons:
        _alert_practitioner(report)
        announce_red_flag(report=report)
    return report


def _alert_practitioner(report: SideEffectReport) -> None:
    session = report.session
    practitioner = session.practitioner if session else None
    address = practitioner.user.email if practitioner else ""
    course = session.course if session else None
    context = message_context(patient=report.patient, course=course, session=session)
    context |= {
        "red_flag_reasons": report.red_flag_reasons,
        "symptoms": ", ".join(report.symptoms),
        "severity": report.severity,
        "onset_on": format_day(report.onset_on),
        "notes": report.notes,
    }
    new_message(
        dedupe_key=f"red_flag:{report.pk}",
        kind=MessageKind.RED_FLAG_ALERT,
        patient=report.patient,
        channel=Channel.EMAIL,
        template=template_for(PromptTemplate.objects.filter(kind=MessageKind.RED_FLAG_ALERT), Channel.EMAIL, "en"),
        context=lambda: context,
        due_at=timezone.now(),
        course=course,
        session=session,
        to_address=address,
        defer_quiet=False,  # staff alerts ignore the patient's quiet hours
    )
    wake_after_commit(DISPATCH_TASK)


@records_actor
@transaction.atomic
def side_effect_report_resolve(*, report: SideEffectReport, note: str, actor: Actor) -> SideEffectReport:
    """A practitioner closes a report, as themself, with a note of what was done.

    The resolver is the acting practitioner, who must treat the patient (or
    be a clinical admin). The patient leaves the red-flag list when no report
    stays open.
    """
    practitioner = acting_practitioner(actor)
    if practitioner is None or not clinical_access(actor).covers(report.patient_id):
        raise NotPermitted(
            "Only a practitioner can resolve reports: one who treats the patient, or a clinical admin, as themself.",
            field="practitioner",
        )
    report = SideEffectReport.objects.select_for_update().get(pk=report.pk)
    if report.resolved_at is not None:
        raise InvalidState("This report is already resolved.", field="resolved_at")
    if not note.strip():
        raise ValidationError({"resolution_note": "Say what was done."})
    report.resolved_at = timezone.now()
    report.resolved_by = practitioner
    report.resolution_note = note
    report.save()
    return report
