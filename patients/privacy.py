"""A patient's data rights: export everything held, and erasure.

Erasure anonymises personal data (identity, contact details, free-text
notes about the person, message texts and addresses, and the same fields in
the audit history) while keeping the clinical and audit skeleton that
medical-records law requires: courses, sessions and their clinical notes,
product lots used (for recalls), side-effect reports, consents, and who
changed what when.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.forms.models import model_to_dict
from django.utils import timezone

from clinic.errors import InvalidState
from patients.models import ContactChannel, Patient

ERASED_NAME = ("Erased", "Patient")


def _plain(instance: Any, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    data = model_to_dict(instance, exclude=list(exclude))
    data["id"] = str(instance.pk)
    for key, value in list(data.items()):
        if hasattr(value, "pk"):
            data[key] = str(value.pk)
    return data


def patient_export(*, patient: Patient) -> dict[str, Any]:
    """Everything held on `patient`, as JSON-ready data."""
    from aftercare.models import ScheduledMessage, SideEffectReport
    from treatments.models import Course

    courses = []
    for course in Course.objects.filter(patient=patient).prefetch_related(
        "sessions__product_uses__lot__product", "sessions__overrides"
    ):
        course_data = _plain(course)
        course_data["protocol_name"] = course.protocol.name
        course_data["sessions"] = []
        for session in course.sessions.all():
            session_data = _plain(session)
            session_data["product_uses"] = [
                {"product": use.lot.product.name, "lot_number": use.lot.lot_number, "quantity": str(use.quantity)}
                for use in session.product_uses.all()
            ]
            session_data["rule_overrides"] = [_plain(o, exclude=("session",)) for o in session.overrides.all()]
            course_data["sessions"].append(session_data)
        courses.append(course_data)
    data = {
        "exported_at": timezone.now(),
        "patient": {**_plain(patient), "time_zone": str(patient.time_zone), "phone": str(patient.phone or "")},
        "consents": [_plain(c) for c in patient.consents.all()],
        "courses": courses,
        "messages": [_plain(m) for m in ScheduledMessage.objects.filter(patient=patient)],
        "side_effect_reports": [_plain(r) for r in SideEffectReport.objects.filter(patient=patient)],
        "history": [
            {"at": h.history_date, "type": h.history_type, "by": h.history_actor}
            for h in patient.history.order_by("history_date")
        ],
    }
    # Round-trip through the JSON encoder so dates, decimals and UUIDs are plain strings.
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


@transaction.atomic
def patient_erase(*, patient: Patient, actor: Any) -> Patient:
    """Anonymise `patient`; cancel what is pending for them; keep the clinical skeleton."""
    from aftercare.models import MessageStatus, ScheduledMessage, SuppressionReason
    from treatments.models import CancelReason, Session, SessionStatus
    from treatments.services import session_cancel

    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.erased_at is not None:
        raise InvalidState("This patient's personal data is already erased.", field="erased_at")
    now = timezone.now()
    for session in Session.objects.filter(course__patient=patient, status=SessionStatus.BOOKED):
        session_cancel(session=session, reason=CancelReason.OTHER, note="Patient data erased.", actor=actor)
    ScheduledMessage.objects.filter(patient=patient, status=MessageStatus.PENDING).update(
        status=MessageStatus.SUPPRESSED, suppressed_reason=SuppressionReason.PATIENT_ERASED, updated_at=now
    )
    # Sent texts named the patient; their skeleton (kind, dates, status) stays.
    ScheduledMessage.objects.filter(patient=patient).update(to_address="", subject="", body="", updated_at=now)

    anonymous = {
        "first_name": ERASED_NAME[0],
        "last_name": ERASED_NAME[1],
        "email": "",
        "phone": "",
        "medical_notes": "",
        # The year stays: age matters clinically, the birthday identifies.
        "date_of_birth": date(patient.date_of_birth.year, 1, 1),
        "preferred_channel": ContactChannel.EMAIL,
    }
    for field, value in anonymous.items():
        setattr(patient, field, value)
    patient.erased_at = now
    # Not full_clean(): an erased patient has, by design, no reachable channel.
    patient.save()
    # The audit trail keeps who did what when, not the personal data it held.
    patient.history.all().update(**{k: v for k, v in anonymous.items()})
    return patient
