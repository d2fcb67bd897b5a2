"""The shipped mesotherapy protocol names its consent form (frozen values, no live code)."""

from django.db import migrations

FORM, VERSION = "facial-mesotherapy", "2026-1"


def name_the_form(apps, schema_editor):  # type: ignore[no-untyped-def]
    Protocol = apps.get_model("treatments", "Protocol")
    Protocol.objects.filter(name="Facial mesotherapy", treatment_consent_form="treatment").update(
        treatment_consent_form=FORM, treatment_consent_version=VERSION
    )


class Migration(migrations.Migration):
    dependencies = [("treatments", "0009_clinical_authority")]

    operations = [migrations.RunPython(name_the_form, migrations.RunPython.noop)]
