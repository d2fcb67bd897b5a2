"""Reads of patients and consents."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast
from django.db.models.lookups import Contains, IContains
from django.utils import timezone
from django_cte import CTE, with_cte

from clinic.access import access_all_clinical_records, access_clinical_record
from clinic.phones import phone_search_fragment
from patients.models import Consent, Patient, patient_search_text


def patient_list() -> QuerySet[Patient]:
    return Patient.objects.all()


def patient_phone_match(term: str) -> Q | None:
    """A filter for patients whose phone is `term`, or contains it, however it was typed.

    "07400 123456", "+44 7400 123456" and "7400123456" all find +447400123456;
    "07400 12" finds it too. None when `term` is not (part of) a phone number,
    so the caller searches names and emails only. Both the admin's search box
    and the API's `search=` use this.
    """
    fragment = phone_search_fragment(term)
    if fragment is None:
        return None
    # Compared as text: the phone field would re-read a fragment such as
    # "740012" as a (local) number of its own before comparing.
    return Q(Contains(Cast("phone", output_field=CharField()), fragment))


# A number as an SMS provider gives the sender: "+", then 7 to 15 digits.
E164_NUMBER = re.compile(r"\+[1-9]\d{6,14}")


def patients_at_number(number: str, *, limit: int = 2) -> list[Patient]:
    """Up to `limit` patients whose phone on record is exactly `number`, erased patients never.

    `number` must be E.164 as a provider reports a sender ("+447400123456");
    anything else (a short code, an alphanumeric sender, a number written
    another way) matches nobody: a text is never attributed by a guess. Two
    results mean the number is on several records, which the caller must not
    resolve by choosing one.
    """
    if not E164_NUMBER.fullmatch(number):
        return []
    # Along patient_phone_idx. The field stores valid numbers in E.164, so equality is exact.
    return list(Patient.objects.filter(phone=number, erased_at__isnull=True).order_by("pk")[:limit])


def patient_search(patients: QuerySet[Patient], *, words: list[str], term: str) -> QuerySet[Patient]:
    """`patients` whose names, email or phone hold every one of `words`, or whose phone holds `term` however
    it was typed (see patient_phone_match).

    Each condition reads the expression the trigram index is built on
    (patients.models.patient_search_text), and the matches are found first,
    in a materialised CTE, then sorted and paged: left to itself, PostgreSQL
    walks the name index in order and filters (it guesses a common name is
    spread evenly), which for "Smith" reads 80,000 of 100,000 patients.
    """
    if not words:
        return patients
    text = patient_search_text()
    found = Q()
    for word in words:
        found &= Q(IContains(text, word))
    fragment = phone_search_fragment(term)
    if fragment is not None:
        # The index narrows to rows holding the fragment anywhere; the phone itself must hold it.
        found |= Q(IContains(text, fragment)) & Q(Contains(Cast("phone", output_field=CharField()), fragment))
    matches = CTE(patients.filter(found).order_by(), name="patient_matches", materialized=True)
    return with_cte(matches, select=matches.queryset())


def consent_list(*, patient: Patient) -> QuerySet[Consent]:
    return Consent.objects.filter(patient=patient).select_related("recorded_by")


def _consents_in_force(*, kind: str, at: datetime, scope: str, version: str | None) -> QuerySet[Consent]:
    """Consents of `kind` (and `scope`, and `version` if given) in force at `at`: given by then, not yet revoked."""
    consents = Consent.objects.filter(kind=kind, scope=scope, given_at__lte=at)
    if version is not None:
        consents = consents.filter(version=version)
    return consents.exclude(revoked_at__lte=at)


def patient_has_consent(
    *, patient: Patient, kind: str, at: datetime | None = None, scope: str = "", version: str | None = None
) -> bool:
    """Return True if `patient` had a consent of `kind` (and `scope`, and `version` if given) in force at `at`.

    `at` defaults to now.
    """
    at = at or timezone.now()
    return _consents_in_force(kind=kind, at=at, scope=scope, version=version).filter(patient=patient).exists()


def patient_ids_with_consent(
    *, patient_ids: Iterable[Any], kind: str, at: datetime | None = None, scope: str = ""
) -> set[Any]:
    """Of `patient_ids`, those whose patient had a consent of `kind` (and `scope`) in force at `at`, in one query.

    `patient_has_consent` for many patients at once (the dispatcher's batch). `at` defaults to now.
    """
    at = at or timezone.now()
    consents = _consents_in_force(kind=kind, at=at, scope=scope, version=None)
    return set(
        consents.filter(patient_id__in=list(patient_ids)).order_by().values_list("patient_id", flat=True).distinct()
    )


# Who treats whom is recorded above this app, in treatments' sessions. Patients
# cannot import treatments (it is the base layer), so treatments provides the
# lookup when it starts (treatments.apps); until then nobody treats anybody.
def _nobody_treats_anybody(user: Any) -> set[Any]:
    return set()


_treated_patient_ids: Callable[[Any], set[Any]] = _nobody_treats_anybody


def provide_treated_patient_ids(lookup: Callable[[Any], set[Any]]) -> None:
    """Install `lookup(user) -> ids of the patients that user treats`."""
    global _treated_patient_ids
    _treated_patient_ids = lookup


def patient_ids_treated_by(user: Any) -> set[Any]:
    """Ids of the patients `user` treats (a session with them in any state, or a clearance); empty for others."""
    if user is None or not getattr(user, "is_authenticated", False) or getattr(user, "pk", None) is None:
        return set()
    return _treated_patient_ids(user)


@dataclass(frozen=True)
class ClinicalAccess:
    """Whose clinical records a user may read and write, worked out once (for a page or a response)."""

    every_patient: bool
    treated: frozenset[Any]

    def covers(self, patient_id: Any) -> bool:
        return self.every_patient or patient_id in self.treated


def clinical_access(user: Any) -> ClinicalAccess:
    """The clinical records `user` may read and write (clinic.access says who may)."""
    if access_all_clinical_records(user):
        return ClinicalAccess(every_patient=True, treated=frozenset())
    if not access_clinical_record(user, treats_patient=True):
        return ClinicalAccess(every_patient=False, treated=frozenset())  # treating them would not be enough
    return ClinicalAccess(every_patient=False, treated=frozenset(patient_ids_treated_by(user)))
