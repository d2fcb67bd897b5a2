"""Side-effect reports: recorded, judged for red flags, alerted, resolved.

A red flag (timing.red_flag_reasons) writes, in the report's transaction:

- an alert email to each clinician who must hear of it: the treating
  practitioner, and the clinical contact of the location (the setting
  CLINIC_CLINICAL_ALERT_EMAIL where the location names none, or no location
  is known). One row per recipient, so one bad address cannot hide the
  alert from the other; a row with no address is suppressed, and shows on
  the admin index until the report is resolved;
- a reply to the patient on their preferred channel: that the clinic has
  been told, what to do now, how to reach the clinic urgently, and (when
  severe) to call emergency services. It needs service-message consent
  like any message to the patient, but not the end of quiet hours.

All are due now and the dispatcher is woken after commit, so they go within
seconds, not at the next beat. The patient stays on the worklist until a
practitioner resolves the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from aftercare import timing
from aftercare.dispatch import undeliverable_reason
from aftercare.events import announce_red_flag
from aftercare.models import (
    Channel,
    MessageKind,
    PromptTemplate,
    ReportSource,
    ScheduledMessage,
    Severity,
    SideEffectReport,
    SuppressionReason,
)
from aftercare.outbox import DISPATCH_TASK, new_message
from aftercare.rendering import format_day, message_context, patient_zone, template_for
from clinic.actors import Actor, is_integration, is_patient, staff_user
from clinic.audit import records_actor
from clinic.errors import InvalidState, NotPermitted
from clinic.queue import wake_after_commit
from patients.models import Patient
from patients.selectors import clinical_access
from treatments.models import Course, Location, Session, SessionStatus
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
    photo: File | None = None,
) -> SideEffectReport:
    """Record a side-effect report; a red flag alerts the clinicians and answers the patient at once.

    Without a session, the report is about the patient's latest completed
    one. Symptoms, severity and onset are what anyone taking the report
    writes down; free-text notes are clinical and are written only by those
    with access to the patient's clinical record, or by the patient
    themself (their own words, from their aftercare page, with a `photo`
    already stripped of its metadata by aftercare.photos).
    """
    today = timezone.localdate(timezone=patient_zone(patient))
    if is_patient(actor) and actor.patient_id != patient.pk:
        raise NotPermitted("A patient reports about themself only.", field="patient")
    if notes.strip() and actor is not None and not is_patient(actor) and not clinical_access(actor).covers(patient.pk):
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
    if session is not None and session.status != SessionStatus.COMPLETED:
        raise ValidationError({"session": "Side effects follow a session that took place: this one is not completed."})
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
        source=_source(actor),
        is_red_flag=bool(reasons),
        red_flag_reasons="; ".join(reasons),
        reported_by=staff_user(actor),
    )
    report.full_clean()
    if photo is not None:
        # Written to storage just before the row: a transaction rolled back after this leaves a file no
        # row names (never served, and named by no record); nothing leaves a row naming no file.
        report.photo.save(photo.name or "photo.jpg", photo, save=False)
    report.save()
    if reasons:
        _write_red_flag_messages(report)
        announce_red_flag(report=report)
    return report


def _source(actor: Actor) -> str:
    """Who took the report: the patient themself, booking software through its key, else the clinic's staff."""
    if is_patient(actor):
        return ReportSource.PATIENT
    return ReportSource.INTEGRATION if is_integration(actor) else ReportSource.STAFF


def red_flag_report_url(report: SideEffectReport) -> str:
    """The absolute address of the report's admin page, for messages read outside the site."""
    return settings.SITE_URL + reverse("admin:aftercare_sideeffectreport_change", args=[report.pk])


@dataclass(frozen=True)
class AlertRecipient:
    """One clinician an alert goes to: `key` names the role in the dedupe key, `label` in the text."""

    key: str
    label: str
    address: str


def alert_recipients(*, session: Session | None, location: Location | None) -> list[AlertRecipient]:
    """Who hears of a red flag: the treating practitioner (if a session is known) and a clinical contact.

    The clinical contact is the location's, else the clinic-wide setting.
    An address that appears twice is written once; an empty one is kept,
    so that the gap shows as a suppressed alert instead of vanishing.
    """
    recipients = []
    if session is not None:
        practitioner = session.practitioner
        recipients.append(
            AlertRecipient(
                "practitioner", f"the treating practitioner, {practitioner}", practitioner.user.email.strip()
            )
        )
    if location is not None and location.clinical_alert_email:
        recipients.append(
            AlertRecipient("clinical", f"the clinical contact for {location}", location.clinical_alert_email.strip())
        )
    else:
        recipients.append(
            AlertRecipient("clinical", "the clinic's clinical inbox", settings.CLINIC_CLINICAL_ALERT_EMAIL.strip())
        )
    unique: list[AlertRecipient] = []
    for recipient in recipients:
        if recipient.address and any(recipient.address.lower() == seen.address.lower() for seen in unique):
            continue
        unique.append(recipient)
    return unique


# Appended when an edited template lost the link: the link is how a clinician reaches the report.
REPORT_LINK = "\n\nOpen the report: {{ report_url }}"


@dataclass(frozen=True)
class _Words:
    subject: str
    body: str


def _write_red_flag_messages(report: SideEffectReport) -> None:
    session = report.session
    if session is not None:
        course: Course | None = session.course
        location: Location | None = session.location
    else:
        # No session to go by: the patient's latest course says which clinic knows them.
        course = (
            Course.objects.filter(patient=report.patient).select_related("location").order_by("-created_at").first()
        )
        location = course.location if course else None
    reply = _reply_to_patient(report, course=course, session=session)
    _alert_clinicians(report, course=course, session=session, location=location, reply=reply)
    wake_after_commit(DISPATCH_TASK)


def _reply_to_patient(report: SideEffectReport, *, course: Course | None, session: Session | None) -> ScheduledMessage:
    patient = report.patient
    channel = patient.preferred_channel
    context = message_context(patient=patient, course=course, session=session) | {
        "severe": report.severity == Severity.SEVERE,
        "emergency_number": settings.CLINIC_EMERGENCY_NUMBER,
    }
    reply, _ = new_message(
        dedupe_key=f"red_flag_reply:{report.pk}",
        kind=MessageKind.RED_FLAG_REPLY,
        patient=patient,
        channel=channel,
        template=template_for(
            PromptTemplate.objects.filter(kind=MessageKind.RED_FLAG_REPLY), channel, patient.language
        ),
        context=lambda: context,
        due_at=timezone.now(),
        course=course,
        session=session,
        report=report,
        # Someone who just reported a red flag needs the advice now, at any hour.
        defer_quiet=False,
    )
    return reply


def _reply_outlook(reply: ScheduledMessage) -> str:
    """What the clinicians are told about the patient's reply, as things stand when the alert is written."""
    channel = "SMS" if reply.channel == Channel.SMS else "email"
    reason = reply.suppressed_reason or undeliverable_reason(reply, now=timezone.now())
    if reason:
        why = SuppressionReason(reason).label.lower()
        return f"The patient was NOT sent our red-flag advice ({why}): call them."
    return f"The patient is being sent our red-flag advice by {channel}: what to do now and how to reach us urgently."


def _alert_clinicians(
    report: SideEffectReport,
    *,
    course: Course | None,
    session: Session | None,
    location: Location | None,
    reply: ScheduledMessage,
) -> None:
    patient = report.patient
    recipients = alert_recipients(session=session, location=location)
    context: dict[str, Any] = message_context(patient=patient, course=course, session=session)
    context |= {
        "red_flag_reasons": report.red_flag_reasons,
        "symptoms": ", ".join(report.symptoms),
        "severity": report.severity,
        "onset_on": format_day(report.onset_on),
        "notes": report.notes,
        "practitioner_name": str(session.practitioner) if session else "",
        "patient_phone": str(patient.phone or ""),
        "patient_reply": _reply_outlook(reply),
        "report_url": red_flag_report_url(report),
        "alert_recipients": "; ".join(
            f"{r.label} ({r.address})" if r.address else f"{r.label} (no email address on file: not sent)"
            for r in recipients
        ),
    }
    template = template_for(PromptTemplate.objects.filter(kind=MessageKind.RED_FLAG_ALERT), Channel.EMAIL, "en")
    if template is not None and "report_url" not in template.body:
        template = _Words(subject=template.subject, body=template.body + REPORT_LINK)
    for recipient in recipients:
        new_message(
            dedupe_key=f"red_flag:{report.pk}:{recipient.key}",
            kind=MessageKind.RED_FLAG_ALERT,
            patient=patient,
            channel=Channel.EMAIL,
            template=template,
            context=lambda: context,
            due_at=timezone.now(),
            course=course,
            session=session,
            report=report,
            to_address=recipient.address,
            defer_quiet=False,  # staff alerts ignore the patient's quiet hours
        )


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


@transaction.atomic
def patient_photos_erase(*, patient: Patient) -> int:
    """Erasure: the photos the patient sent go (a face identifies); the reports stay. Return how many.

    The rows forget their files in the transaction; the files are deleted
    once it commits, so a rolled-back erasure keeps both.
    """
    reports = list(SideEffectReport.objects.filter(patient=patient).exclude(photo=""))
    names = [report.photo.name for report in reports if report.photo.name]
    for report in reports:
        report.photo = ""
        report.save(update_fields=["photo", "updated_at"])
    storage = SideEffectReport._meta.get_field("photo").storage

    def delete_files() -> None:
        for name in names:
            storage.delete(name)

    transaction.on_commit(delete_files)
    return len(names)
