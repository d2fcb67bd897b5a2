"""Create the role groups (clinic admin, front desk, practitioner) with their permissions.

Permissions are normally created after all migrations run; they are created
here first so that a fresh database gets its groups in one `migrate`.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from clinic.roles import sync_roles


def create_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_roles(apps)


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

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
