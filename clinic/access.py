"""Who may read clinical data. Access checks are named `access_*` and are pure."""

from __future__ import annotations

from typing import Any


def access_all_clinical_notes(user: Any) -> bool:
    """Clinic admins (and anyone granted it) read every patient's clinical notes."""
    return bool(user and user.is_authenticated and user.has_perm("treatments.view_all_clinical_notes"))


def access_session_notes(user: Any, *, practitioner_user_id: Any) -> bool:
    """Return True if `user` may read the notes of a session given by `practitioner_user_id`.

    A practitioner reads the notes of sessions they gave; nobody else does,
    unless granted every patient's notes. Front desk and integrations never
    hold the permission, so they never do.
    """
    if access_all_clinical_notes(user):
        return True
    return bool(
        user
        and user.is_authenticated
        and user.has_perm("treatments.view_clinical_notes")
        and user.pk is not None
        and user.pk == practitioner_user_id
    )


def access_patient_notes(user: Any, *, treating_user_ids: set[Any]) -> bool:
    """A patient's medical notes: for those who treat (or treated) them, and clinic admins."""
    if access_all_clinical_notes(user):
        return True
    return bool(
        user
        and user.is_authenticated
        and user.has_perm("treatments.view_clinical_notes")
        and user.pk in treating_user_ids
    )
