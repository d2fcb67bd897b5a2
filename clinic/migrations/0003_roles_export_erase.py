"""Re-sync the role groups: the clinic admin gains the export and erase permissions."""

from django.db import migrations

from clinic.roles import create_permissions_then_sync_roles


class Migration(migrations.Migration):
    dependencies = [("clinic", "0002_roles"), ("patients", "0003_erasure")]

    operations = [migrations.RunPython(create_permissions_then_sync_roles, migrations.RunPython.noop)]
