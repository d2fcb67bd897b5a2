"""Ship the answers to a patient's text (aftercare.inbox): appointment confirmed, texts resumed (START), HELP.

SMS only: a text is answered by text, whatever channel the patient prefers.
They name no patient (a phone may be shared) and stay within two GSM-7
segments with a long location name. Frozen here as first shipped; a later
change to them compares against these words (see README, "Changing the
default plan").
"""

from django.db import migrations

REPLIES = {
    "confirm_reply": (
        "{{ clinic_name }}: thank you, your appointment on {{ session_date }} is confirmed. To change it, "
        "{% if clinic_phone %}call {{ clinic_phone }} or {% endif %}reply R."
    ),
    "opt_in_reply": (
        "{{ clinic_name }}: you will get texts about your appointments and aftercare again. "
        "Reply STOP to stop them, HELP for help."
    ),
    "help_reply": (
        "{{ clinic_name }}: texts about your appointments and aftercare. Reply C to confirm your next "
        "appointment, R to ask to rebook, STOP to stop these texts, START to get them again."
        "{% if clinic_phone %} Questions? Call {{ clinic_phone }}.{% endif %}"
    ),
}


def load(apps, schema_editor):
    PromptTemplate = apps.get_model("aftercare", "PromptTemplate")
    for kind, body in REPLIES.items():
        PromptTemplate.objects.get_or_create(kind=kind, channel="sms", language="en", defaults={"body": body})


def unload(apps, schema_editor):
    PromptTemplate = apps.get_model("aftercare", "PromptTemplate")
    PromptTemplate.objects.filter(kind__in=list(REPLIES), channel="sms", language="en").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("aftercare", "0011_inbound_messages"),
    ]

    operations = [migrations.RunPython(load, unload)]
