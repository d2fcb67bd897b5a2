from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ClinicConfig(AppConfig):
    name = "clinic"
    verbose_name = "Clinic operations"

    def ready(self) -> None:
        from clinic.roles import sync_roles_after_migrate

        # Set-up data, not domain flow: Django's own hook for what must exist after migrating.
        post_migrate.connect(sync_roles_after_migrate, sender=self, dispatch_uid="clinic.sync_roles")
