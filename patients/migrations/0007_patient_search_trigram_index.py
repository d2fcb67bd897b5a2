"""A trigram index for patient search (names, email and phone), on the expression the search matches
(patients.models.patient_search_text, written out here as it stood)."""

import django.contrib.postgres.indexes
import django.db.models.functions
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0006_names_on_one_line"),
    ]

    operations = [
        TrigramExtension(),
        migrations.AddIndex(
            model_name="patient",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.indexes.OpClass(
                    django.db.models.functions.Upper(
                        django.db.models.functions.Concat(
                            "first_name",
                            models.Value(" "),
                            "last_name",
                            models.Value(" "),
                            "email",
                            models.Value(" "),
                            "phone",
                            output_field=models.TextField(),
                        )
                    ),
                    name="gin_trgm_ops",
                ),
                name="patient_search_trgm_idx",
            ),
        ),
    ]
