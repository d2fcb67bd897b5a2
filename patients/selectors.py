"""Reads of patients and consents."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from patients.models import Consent, Patient


def patient_list() -> QuerySet[Patient]:
    return Patient.objects.all()


def consent_list(*, patient: Patient) -> QuerySet[Consent]:
    return Consent.objects.filter(patient=patient).select_related("recorded_by")


def patient_has_consent(*, patient: Patient, kind: str, at: datetime | None = None) -> bool:
    """Return True if `patient` had a consent of `kind` in force at `at` (default: now)."""
    at = at or timezone.now()
    return Consent.objects.filter(patient=patient, kind=kind, given_at__lte=at).exclude(revoked_at__lte=at).exists()
