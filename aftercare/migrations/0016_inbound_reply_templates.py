"""Ship the answers to a patient's text (aftercare.inbox): appointment confirmed, texts resumed (START), HELP.

SMS only (aftercare.default_plan.SMS_REPLIES). A template a clinic already
wrote for one of them is kept.
"""

from django.db import migrations

from aftercare.default_plan import SMS_REPLIES


def load(apps, schema_editor):
    PromptTemplate = apps.get_model("aftercare", "PromptTemplate")
    for kind, body in SMS_REPLIES.items():
        PromptTemplate.objects.get_or_create(kind=kind, channel="sms", language="en", defaults={"body": body})


def unload(apps, schema_editor):
    PromptTemplate = apps.get_model("aftercare", "PromptTemplate")
    PromptTemplate.objects.filter(kind__in=list(SMS_REPLIES), channel="sms", language="en").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("aftercare", "0015_inbound_messages"),
    ]

    operations = [migrations.RunPython(load, unload)]
