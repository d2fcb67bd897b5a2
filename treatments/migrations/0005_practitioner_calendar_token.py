import secrets

from django.db import migrations, models

import treatments.models


def fill_tokens(apps, schema_editor):
    Practitioner = apps.get_model("treatments", "Practitioner")
    for practitioner in Practitioner.objects.filter(calendar_token__isnull=True):
        practitioner.calendar_token = secrets.token_urlsafe(32)
        practitioner.save(update_fields=["calendar_token"])


class Migration(migrations.Migration):
    dependencies = [("treatments", "0004_session_complete_permission")]

    operations = [
        migrations.AddField(
            model_name="practitioner",
            name="calendar_token",
            field=models.CharField(max_length=64, null=True, editable=False),
        ),
        migrations.RunPython(fill_tokens, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="practitioner",
            name="calendar_token",
            field=models.CharField(
                default=treatments.models.new_calendar_token,
                editable=False,
                help_text="Secret part of the practitioner's calendar feed URL; rotate it to revoke old links.",
                max_length=64,
                unique=True,
            ),
        ),
    ]
