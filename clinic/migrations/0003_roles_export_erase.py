"""Re-sync the role groups: the clinic admin gains the export and erase permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from clinic.roles import sync_roles


def resync_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [("clinic", "0002_roles"), ("patients", "0003_erasure")]

    operations = [migrations.RunPython(resync_roles, migrations.RunPython.noop)]
