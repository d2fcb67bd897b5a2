"""Formerly synced the role groups; they are now synced after every `migrate`
(clinic.roles.sync_roles_after_migrate), so this migration does nothing. It stays
so that databases that applied it keep a consistent history."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("patients", "0001_initial"),
        ("treatments", "0006_clinical_notes_permissions"),
        ("aftercare", "0002_default_mesotherapy_plan"),
        ("integrations", "0002_webhooks"),
    ]

    operations: list[migrations.operations.base.Operation] = []
