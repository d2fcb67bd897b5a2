"""Load the default facial-mesotherapy aftercare plan and the prompt templates, as first shipped.

The texts are frozen in _plan_v1 (0006 brings them up to date), so this migration
does on a fresh database exactly what it did when it was written.
"""

from django.db import migrations

from aftercare.migrations._plan_v1 import PROMPTS, STEPS


def load(apps, schema_editor):
    Protocol = apps.get_model("treatments", "Protocol")
    AftercarePlan = apps.get_model("aftercare", "AftercarePlan")
    AftercareStep = apps.get_model("aftercare", "AftercareStep")
    MessageTemplate = apps.get_model("aftercare", "MessageTemplate")
    PromptTemplate = apps.get_model("aftercare", "PromptTemplate")

    protocol = Protocol.objects.filter(name="Facial mesotherapy").first()
    if protocol is not None:
        plan, _ = AftercarePlan.objects.get_or_create(
            protocol=protocol, defaults={"name": "Facial mesotherapy aftercare"}
        )
        for data in STEPS:
            step, _ = AftercareStep.objects.get_or_create(
                plan=plan,
                code=data["code"],
                defaults={
                    "order": data["order"],
                    "name": data["name"],
                    "kind": data["kind"],
                    "offset_unit": data["offset_unit"],
                    "offset_value": data["offset_value"],
                    "local_send_time": data["local_send_time"],
                    "condition": data["condition"],
                    "prompts_booking": data.get("prompts_booking", False),
                },
            )
            MessageTemplate.objects.get_or_create(
                step=step,
                channel="email",
                language="en",
                defaults={"subject": data["email_subject"], "body": data["email"]},
            )
            MessageTemplate.objects.get_or_create(step=step, channel="sms", language="en", defaults={"body": data["sms"]})
    for kind, texts in PROMPTS.items():
        PromptTemplate.objects.get_or_create(
            kind=kind, channel="email", language="en", defaults={"subject": texts["subject"], "body": texts["email"]}
        )
        PromptTemplate.objects.get_or_create(kind=kind, channel="sms", language="en", defaults={"body": texts["sms"]})


class Migration(migrations.Migration):
    dependencies = [
        ("aftercare", "0001_initial"),
        ("treatments", "0003_default_mesotherapy_protocol"),
    ]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
