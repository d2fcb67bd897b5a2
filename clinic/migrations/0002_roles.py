"""Create the role groups (clinic admin, front desk, practitioner) with their permissions."""

from django.db import migrations

from clinic.roles import create_permissions_then_sync_roles


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

    operations = [migrations.RunPython(create_permissions_then_sync_roles, migrations.RunPython.noop)]
