"""Who may read and write clinical data. Access checks are named `access_*` and are pure.

Clinical fields (medical flags and notes, session notes and treated areas,
side-effect report notes and resolution notes, the reasons practitioners
give for overriding a rule or clearing a patient) belong to the
practitioners who treat the patient and to clinical admins. The front desk,
clinic admins without the clinical role, and booking software never read
them; they may know that a medical review is needed, not what for.
"""

from __future__ import annotations

from typing import Any

# Every patient's clinical record: the clinical admin role.
ALL_CLINICAL_RECORDS = "treatments.view_all_clinical_notes"
# The clinical records of the patients one treats: the practitioner role.
OWN_PATIENTS_CLINICAL_RECORDS = "treatments.view_clinical_notes"


def access_all_clinical_records(user: Any) -> bool:
    """Return True if `user` may read and write every patient's clinical record."""
    return bool(user and user.is_authenticated and user.has_perm(ALL_CLINICAL_RECORDS))


def access_clinical_record(user: Any, *, treats_patient: bool) -> bool:
    """Return True if `user` may read and write the clinical record of a patient.

    `treats_patient`: the user is a practitioner with a session with the
    patient (in any state) or who recorded a medical clearance for them.
    """
    if access_all_clinical_records(user):
        return True
    return bool(user and user.is_authenticated and user.has_perm(OWN_PATIENTS_CLINICAL_RECORDS) and treats_patient)
