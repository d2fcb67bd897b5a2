"""The clinic's roles, as Django groups and their permissions.

- Clinic admin: everything, every patient's clinical notes included.
- Front desk: patients' contact data, consents, booking and the worklist;
  no clinical notes, no completing sessions.
- Practitioner: their patients' clinical data, completing sessions,
  side-effect reports.
- Integrations are not a group: an API key's scopes grant its permissions
  (integrations.authentication).

The groups are synced after every `migrate` (clinic.apps connects
`sync_roles_after_migrate`); this module names permissions as strings and
imports no app code.
"""

from __future__ import annotations

from typing import Any

CLINIC_ADMIN = "Clinic admin"
FRONT_DESK = "Front desk"
PRACTITIONER = "Practitioner"

APPS = ("patients", "treatments", "aftercare", "integrations", "clinic", "auth")


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

ROLE_PERMISSIONS: dict[str, list[str]] = {
    FRONT_DESK: [
        *REFERENCE,
        *_crud("patients", "patient", "view add change"),
        *_crud("patients", "consent", "view add change"),
        *_crud("treatments", "course", "view add change"),
        *_crud("treatments", "session", "view add change"),
        *_crud("aftercare", "scheduledmessage"),
        *_crud("aftercare", "sideeffectreport", "view add"),
    ],
    PRACTITIONER: [
        *REFERENCE,
        *_crud("patients", "patient"),
        *_crud("patients", "consent"),
        *_crud("treatments", "course"),
        *_crud("treatments", "session", "view change"),
        *_crud("treatments", "sessionproductuse"),
        *_crud("treatments", "productlot", "add"),
        "treatments.complete_session",
        "treatments.view_clinical_notes",
        *_crud("aftercare", "scheduledmessage"),
        *_crud("aftercare", "sideeffectreport", "view add change"),
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
    admin_group.permissions.set(Permission.objects.filter(content_type__app_label__in=APPS))
    for name, permissions in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set([find(dotted) for dotted in permissions])
