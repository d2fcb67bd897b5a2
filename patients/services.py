"""Every write to patients and consents goes through here.

The admin, the REST API and Celery tasks all call these functions, so a rule
added here holds through every door.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clinic.access import access_all_clinical_records
from clinic.actors import Actor, staff_user
from clinic.audit import records_actor
from clinic.errors import InvalidState, NotPermitted
from patients.models import Consent, ConsentKind, ContactChannel, MedicalFlag, Patient
from patients.selectors import clinical_access

ERASED_NAME = ("Erased", "Patient")

# Fields a caller may set; identity and timestamps are the system's.
PATIENT_EDITABLE_FIELDS = frozenset(
    {
        "first_name",
        "last_name",
        "email",
        "phone",
        "date_of_birth",
        "preferred_channel",
        "language",
        "time_zone",
        "skin_type",
        "medical_flags",
        "medical_notes",
    }
)


def _check_fields(data: dict[str, Any]) -> None:
    unknown = set(data) - PATIENT_EDITABLE_FIELDS
    if unknown:
        raise ValidationError({name: "This field cannot be set." for name in sorted(unknown)})


def _may_write_clinical_record(actor: Actor, patient: Patient | None) -> bool:
    """The system (actor None) may; a person only with access to this patient's clinical record."""
    if actor is None:
        return True
    if patient is None or patient.pk is None:
        return access_all_clinical_records(actor)
    return clinical_access(actor).covers(patient.pk)


def _check_clinical_writes(*, actor: Actor, patient: Patient | None, data: dict[str, Any]) -> None:
    """Medical notes are written only by clinicians with access; flags are only ever added here.

    Anyone who may change a patient may add a medical flag the patient
    mentions (it only makes a review necessary); removing one is a
    practitioner's decision, with a reason (patient_medical_flag_remove).
    """
    current_notes = patient.medical_notes if patient is not None else ""
    if data.get("medical_notes", current_notes) != current_notes and not _may_write_clinical_record(actor, patient):
        raise NotPermitted(
            "Medical notes are written by the practitioners who treat the patient and by clinical admins.",
            field="medical_notes",
        )
    if patient is not None and "medical_flags" in data:
        removed = set(patient.medical_flags) - set(data["medical_flags"] or [])
        if removed:
            raise NotPermitted(
                "A medical flag is removed by a practitioner who treats the patient, with a reason "
                "(the remove-flag action), never by replacing the list.",
                field="medical_flags",
            )


@records_actor
@transaction.atomic
def patient_create(*, actor: Actor, data: dict[str, Any]) -> Patient:
    """Validate and save a new patient; raise ValidationError naming bad fields."""
    _check_fields(data)
    _check_clinical_writes(actor=actor, patient=None, data=data)
    patient = Patient(**data)
    patient.full_clean()
    patient.save()
    return patient


@records_actor
@transaction.atomic
def patient_update(*, patient: Patient, actor: Actor, data: dict[str, Any]) -> Patient:
    """Apply `data` to `patient`, validate the result as a whole, and save.

    Validation runs on the merged record, so a change of preferred channel is
    checked against the contact details already on file.
    """
    _check_fields(data)
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    _check_clinical_writes(actor=actor, patient=patient, data=data)
    for name, value in data.items():
        setattr(patient, name, value)
    patient.full_clean()
    patient.save()
    return patient


@records_actor
@transaction.atomic
def patient_medical_flag_add(*, patient: Patient, flag: str, actor: Actor) -> Patient:
    """Record a medical flag (a condition the patient mentions); the next booking then needs a review.

    Adding one that is already on file changes nothing.
    """
    if flag not in MedicalFlag.values:
        raise ValidationError({"flag": f"Unknown medical flag {flag!r}."})
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if flag not in patient.medical_flags:
        patient.medical_flags = [*patient.medical_flags, flag]
        patient._change_reason = f"Medical flag added: {flag}"  # type: ignore[attr-defined]
        patient.save(update_fields=["medical_flags", "updated_at"])
    return patient


@records_actor
@transaction.atomic
def patient_medical_flag_remove(*, patient: Patient, flag: str, reason: str, actor: Actor) -> Patient:
    """A practitioner who treats the patient (or a clinical admin) removes a flag, saying why.

    The reason goes into the audit trail with the change.
    """
    if actor is None or not clinical_access(actor).covers(patient.pk):
        raise NotPermitted(
            "A medical flag is removed only by a practitioner who treats the patient, or a clinical admin.",
            field="flag",
        )
    if not reason.strip():
        raise ValidationError({"reason": "Say why the flag no longer applies."})
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if flag not in patient.medical_flags:
        raise ValidationError({"flag": "This flag is not on the patient's record."})
    patient.medical_flags = [f for f in patient.medical_flags if f != flag]
    patient._change_reason = f"Medical flag removed: {flag}. {reason.strip()}"  # type: ignore[attr-defined]
    patient.save(update_fields=["medical_flags", "updated_at"])
    return patient


def consent_check_new(
    *, patient: Patient, kind: str, given_at: datetime, now: datetime, scope: str = ""
) -> Consent | None:
    """Raise ValidationError if a consent of `kind` (and `scope`) given at `given_at` cannot be recorded.

    A treatment consent names its consent form in `scope`; other kinds have
    none. Return the consent of that kind and scope now in force (which the
    new one replaces), or None.
    """
    if kind not in ConsentKind.values:
        raise ValidationError({"kind": f"Unknown consent kind {kind!r}."})
    if kind == ConsentKind.TREATMENT and not scope:
        raise ValidationError({"scope": "Name the treatment's consent form, e.g. facial-mesotherapy."})
    if kind != ConsentKind.TREATMENT and scope:
        raise ValidationError({"scope": "Only a treatment consent has a scope."})
    if given_at > now:
        raise ValidationError({"given_at": "Consent cannot be given in the future."})
    current = Consent.objects.filter(patient=patient, kind=kind, scope=scope, revoked_at__isnull=True).first()
    if current is not None and given_at < current.given_at:
        raise ValidationError({"given_at": "A newer consent of this kind is already on file."})
    return current


@records_actor
@transaction.atomic
def consent_give(
    *,
    patient: Patient,
    kind: str,
    version: str,
    actor: Actor,
    given_at: datetime | None = None,
    scope: str = "",
) -> Consent:
    """Record that `patient` consents to `kind` (for `scope`: a treatment's consent form) in wording `version`.

    A consent of the same kind and scope already in force is revoked at the
    same instant, so exactly one is active afterwards. The patient row is locked
    first: two concurrent calls queue instead of both revoking and inserting.
    """
    Patient.objects.select_for_update().filter(pk=patient.pk).first()
    # Read the clock only once the lock is held: a request that waited for
    # the lock must not stamp its consent earlier than the one it replaces.
    now = timezone.now()
    given_at = given_at or now
    current = consent_check_new(patient=patient, kind=kind, scope=scope, given_at=given_at, now=now)
    if current is not None:
        current.revoked_at = given_at
        current.save(update_fields=["revoked_at", "updated_at"])
    consent = Consent(
        patient=patient,
        kind=kind,
        scope=scope,
        version=version,
        given_at=given_at,
        recorded_by=staff_user(actor),
    )
    consent.full_clean()
    consent.save()
    # Through save(), not update(): the audit trail records every write to a patient.
    patient.save(update_fields=["updated_at"])
    return consent


@records_actor
@transaction.atomic
def consent_revoke(*, consent: Consent, actor: Actor, revoked_at: datetime | None = None) -> Consent:
    """Revoke `consent`. Revoking twice is an error, so the first time is never overwritten."""
    consent = Consent.objects.select_for_update().get(pk=consent.pk)
    if consent.revoked_at is not None:
        # The code goes on the inner error: Django drops `code=` given beside a dict.
        raise ValidationError(
            {"revoked_at": ValidationError("This consent was already revoked.", code="already_revoked")}
        )
    now = timezone.now()
    revoked_at = revoked_at or now
    if revoked_at > now:
        # A revocation is something that happened; a future one would show the
        # consent as revoked while messages still went out under it.
        raise ValidationError({"revoked_at": "A consent cannot be revoked in the future."})
    if revoked_at < consent.given_at:
        raise ValidationError({"revoked_at": "A consent cannot be revoked before it was given."})
    consent.revoked_at = revoked_at
    consent.save(update_fields=["revoked_at", "updated_at"])
    consent.patient.save(update_fields=["updated_at"])
    return consent


@records_actor
@transaction.atomic
def service_messages_stop(*, patient: Patient, actor: Actor) -> Consent | None:
    """The patient asked for no more messages (an unsubscribe link, a STOP reply): revoke their consent to them.

    Return the consent revoked, or None when none was in force (asking twice changes nothing).
    """
    current = (
        Consent.objects.select_for_update()
        .filter(patient=patient, kind=ConsentKind.SERVICE_MESSAGES, revoked_at__isnull=True)
        .first()
    )
    if current is None:
        return None
    return consent_revoke(consent=current, actor=actor)


@records_actor
@transaction.atomic
def patient_anonymise(*, patient: Patient, actor: Actor) -> Patient:
    """Erase the person from `patient` (and from its audit history); keep the record's skeleton.

    Identity, contact details and medical notes go; the birth year stays
    (age matters clinically, the birthday identifies). Raise InvalidState if
    already erased. The other apps erase their own data about the patient
    (frontdesk.data_rights puts the steps together).
    """
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.erased_at is not None:
        raise InvalidState("This patient's personal data is already erased.", field="erased_at")
    anonymous = {
        "first_name": ERASED_NAME[0],
        "last_name": ERASED_NAME[1],
        "email": "",
        "phone": "",
        "medical_notes": "",
        "date_of_birth": date(patient.date_of_birth.year, 1, 1),
        "preferred_channel": ContactChannel.EMAIL,
    }
    for field, value in anonymous.items():
        setattr(patient, field, value)
    patient.erased_at = timezone.now()
    # Not full_clean(): an erased patient has, by design, no reachable channel.
    patient.save()
    # The audit trail keeps who did what when, not the personal data it held.
    patient.history.all().update(**anonymous)
    return patient
