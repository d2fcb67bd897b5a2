"""The clinic's roles, as Django groups and their permissions.

- Clinic admin: runs the clinic: staff, places, protocols, products, patients'
  contact data, bookings, messages, integrations, data rights. Not the
  clinical record, and no clinical decisions.
- Clinical admin: every patient's clinical record (read and write), medical
  clearances and decisions ahead on courses; not bookings or administration.
- Front desk: patients' contact data, consents, adding a medical flag the
  patient mentions, booking for any practitioner, the worklist, the inbox of
  patients' texts; no clinical record.
- Practitioner: the clinical record of the patients they treat, booking and
  moving their own sessions (overriding a rule as themself), completing
  them, medical clearances, side-effect reports.
- Integrations are not a group: an API key's scopes grant its permissions
  (integrations.authentication), and never a clinical one.

Who may read and write each clinical field is decided in clinic.access; the
permissions below are what it reads. The groups are synced after every
`migrate` (clinic.apps connects `sync_roles_after_migrate`); this module
names permissions as strings and imports no app code.
"""

from __future__ import annotations

from typing import Any

CLINIC_ADMIN = "Clinic admin"
CLINICAL_ADMIN = "Clinical admin"
FRONT_DESK = "Front desk"
PRACTITIONER = "Practitioner"

APPS = ("patients", "treatments", "aftercare", "integrations", "frontdesk", "clinic", "auth")

# The clinical record and clinical decisions: never the clinic admin's (nor an API key's).
CLINICAL = [
    "treatments.view_all_clinical_notes",
    "treatments.view_clinical_notes",
    "treatments.complete_session",
    "treatments.add_medicalclearance",
    "treatments.change_medicalclearance",
    "treatments.add_courseoverride",
    "treatments.change_courseoverride",
]


def _crud(app: str, model: str, actions: str = "view") -> list[str]:
    return [f"{app}.{action}_{model}" for action in actions.split()]


REFERENCE = [
    *_crud("treatments", "location"),
    *_crud("treatments", "room"),
    *_crud("treatments", "practitioner"),
    *_crud("treatments", "protocol"),
    *_crud("treatments", "treatmentcategory"),
    *_crud("treatments", "product"),
    *_crud("treatments", "productlot"),
]

# The inbox of patients' texts: read and marked handled by every role. The front desk answers most of it; a
# text may be clinical ("my cheek is still swollen"), so those who treat read it too. Nobody adds or deletes a
# row: texts come in through the SMS webhook, and the inbox is a record.
INBOX = _crud("aftercare", "inboundmessage", "view change")

ROLE_PERMISSIONS: dict[str, list[str]] = {
    FRONT_DESK: [
        *REFERENCE,
        *_crud("patients", "patient", "view add change"),
        *_crud("patients", "consent", "view add change"),
        *_crud("treatments", "course", "view add change"),
        *_crud("treatments", "session", "view add change"),
        "treatments.book_for_any_practitioner",
        *_crud("treatments", "medicalclearance"),
        *_crud("aftercare", "scheduledmessage"),
        *_crud("aftercare", "sideeffectreport", "view add"),
        *INBOX,
        *_crud("frontdesk", "contactattempt", "view add"),
    ],
    PRACTITIONER: [
        *REFERENCE,
        *_crud("patients", "patient", "view change"),
        *_crud("patients", "consent", "view add"),
        *_crud("treatments", "course"),
        # Their own sessions only: treatments.services refuses anyone else's.
        *_crud("treatments", "session", "view add change"),
        *_crud("treatments", "sessionproductuse"),
        *_crud("treatments", "productlot", "add"),
        *_crud("treatments", "medicalclearance", "view add change"),
        *_crud("treatments", "courseoverride", "view add"),
        "treatments.complete_session",
        "treatments.view_clinical_notes",
        *_crud("aftercare", "scheduledmessage"),
        *_crud("aftercare", "sideeffectreport", "view add change"),
        *INBOX,
        *_crud("frontdesk", "contactattempt"),
    ],
    CLINICAL_ADMIN: [
        *REFERENCE,
        *_crud("patients", "patient", "view change"),
        *_crud("patients", "consent"),
        *_crud("treatments", "course"),
        *_crud("treatments", "session"),
        *_crud("treatments", "sessionproductuse"),
        *_crud("treatments", "medicalclearance", "view add change"),
        *_crud("treatments", "courseoverride", "view add"),
        "treatments.view_all_clinical_notes",
        "treatments.view_clinical_notes",
        *_crud("aftercare", "scheduledmessage"),
        *_crud("aftercare", "sideeffectreport", "view add change"),
        *INBOX,
    ],
}


def sync_roles_after_migrate(using: str = "default", **kwargs: Any) -> None:
    """post_migrate receiver: make or update the role groups from ROLE_PERMISSIONS.

    Runs after every `migrate`, so a change to a role here reaches every
    database without a migration. Django creates each app's permissions in
    that app's own post_migrate turn, which for apps after `clinic` has not
    come yet: create them all first (idempotent).
    """
    from django.apps import apps
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)
    sync_roles(apps)


def sync_roles(apps: Any) -> None:
    """Create or update the role groups. `apps` is an app registry (django.apps.apps)."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    def find(dotted: str) -> Any:
        app_label, codename = dotted.split(".")
        return Permission.objects.get(content_type__app_label=app_label, codename=codename)

    admin_group, _ = Group.objects.get_or_create(name=CLINIC_ADMIN)
    clinical = [find(dotted).pk for dotted in CLINICAL]
    admin_group.permissions.set(Permission.objects.filter(content_type__app_label__in=APPS).exclude(pk__in=clinical))
    for name, permissions in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set([find(dotted) for dotted in permissions])
