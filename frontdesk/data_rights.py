"""A patient's data rights: export everything held, and erasure.

Erasure anonymises personal data (identity, contact details, free-text
notes about the person, message texts and addresses, the texts they sent in
and the number they came from, and the same fields in the audit history)
while keeping the clinical and audit skeleton that medical-records law
requires: courses, sessions and their clinical notes, product lots used
(for recalls), side-effect reports, consents, and who changed what when.
Each app erases its own data through its own service; this module only puts
the steps in order, in one transaction.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models.fields.files import FieldFile
from django.forms.models import model_to_dict
from django.utils import timezone

from aftercare.inbox import inbound_messages_erase
from aftercare.models import InboundMessage, MessageKind, ScheduledMessage, SideEffectReport
from aftercare.outbox import patient_messages_erase
from aftercare.side_effects import patient_photos_erase
from clinic.actors import Actor
from integrations.idempotency import forget_responses_naming
from patients.models import Patient
from patients.selectors import clinical_access
from patients.services import patient_anonymise
from treatments.models import CancelReason, Course, MedicalClearance, Session
from treatments.services import patient_bookings_cancel


def _plain(instance: Any, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    data = model_to_dict(instance, exclude=list(exclude))
    data["id"] = str(instance.pk)
    for key, value in list(data.items()):
        if hasattr(value, "pk"):
            data[key] = str(value.pk)
        elif isinstance(value, FieldFile):
            # A file the patient sent (a photo): named here; the file itself is handed over apart.
            data[key] = value.name or ""
    return data


def patient_export(*, patient: Patient, actor: Actor) -> dict[str, Any]:
    """Everything held on `patient`, as JSON-ready data.

    Clinical fields are filled in only for an actor with access to the
    patient's clinical record (a clinical admin, a treating practitioner);
    for anyone else, and for API keys, they are null. (A data-subject request
    that must include the medical record is exported by a clinical admin.)
    """
    clinical = actor is None or clinical_access(actor).covers(patient.pk)

    def hidden(data: dict[str, Any], *fields: str) -> dict[str, Any]:
        if not clinical:
            data.update(dict.fromkeys(fields))
        return data

    courses = []
    for course in Course.objects.filter(patient=patient).prefetch_related(
        "sessions__product_uses__lot__product", "sessions__overrides", "advance_overrides"
    ):
        course_data = _plain(course)
        course_data["protocol_name"] = course.protocol.name
        course_data["advance_overrides"] = [hidden(_plain(o), "reason") for o in course.advance_overrides.all()]
        course_data["sessions"] = []
        for session in course.sessions.all():
            session_data = hidden(_plain(session), "notes", "treated_areas")
            session_data["product_uses"] = [
                {"product": use.lot.product.name, "lot_number": use.lot.lot_number, "quantity": str(use.quantity)}
                for use in session.product_uses.all()
            ]
            session_data["rule_overrides"] = [
                hidden(_plain(o, exclude=("session",)), "reason", "rule_message") for o in session.overrides.all()
            ]
            course_data["sessions"].append(session_data)
        courses.append(course_data)
    person = {**_plain(patient), "time_zone": str(patient.time_zone), "phone": str(patient.phone or "")}
    data = {
        "exported_at": timezone.now(),
        "patient": hidden(person, "medical_flags", "medical_notes"),
        "consents": [_plain(c) for c in patient.consents.all()],
        "medical_clearances": [
            hidden(_plain(c), "flags_reviewed", "reason") for c in MedicalClearance.objects.filter(patient=patient)
        ],
        "courses": courses,
        "messages": [
            hidden(_plain(m), "subject", "body") if m.kind == MessageKind.RED_FLAG_ALERT else _plain(m)
            for m in ScheduledMessage.objects.filter(patient=patient)
        ],
        "inbound_messages": [_plain(m) for m in InboundMessage.objects.filter(patient=patient)],
        "side_effect_reports": [
            hidden(_plain(r), "notes", "resolution_note") for r in SideEffectReport.objects.filter(patient=patient)
        ],
        "history": [
            {"at": h.history_date, "type": h.history_type, "by": h.history_actor}
            for h in patient.history.order_by("history_date")
        ],
    }
    # Round-trip through the JSON encoder so dates, decimals and UUIDs are plain strings.
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


@transaction.atomic
def patient_erase(*, patient: Patient, actor: Actor) -> Patient:
    """Anonymise `patient`; cancel what is booked and pending for them; keep the clinical skeleton.

    Raise InvalidState if the patient is already erased (nothing else is touched then).
    """
    # The number goes with the rest; texts from it that were never matched to the patient go too.
    phone = str(patient.phone or "")
    # First: it locks the patient and refuses a second erasure before anything else happens.
    patient = patient_anonymise(patient=patient, actor=actor)
    patient_bookings_cancel(patient=patient, reason=CancelReason.OTHER, note="Patient data erased.", actor=actor)
    patient_messages_erase(patient=patient)
    patient_photos_erase(patient=patient)
    inbound_messages_erase(patient=patient, phone=phone)
    # Responses kept for Idempotency-Key retries may quote the patient.
    forget_responses_naming([str(pk) for pk in _ids_naming(patient)])
    return patient


def _ids_naming(patient: Patient) -> list[Any]:
    """The patient's id and the ids of their courses, sessions and side-effect reports."""
    return [
        patient.pk,
        *Course.objects.filter(patient=patient).values_list("pk", flat=True),
        *Session.objects.filter(course__patient=patient).values_list("pk", flat=True),
        *SideEffectReport.objects.filter(patient=patient).values_list("pk", flat=True),
    ]
