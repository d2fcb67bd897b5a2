"""Formerly synced the role groups; they are now synced after every `migrate`
(clinic.roles.sync_roles_after_migrate), so this migration does nothing. It stays
so that databases that applied it keep a consistent history."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("clinic", "0002_roles"), ("patients", "0003_erasure")]

    operations: list[migrations.operations.base.Operation] = []
