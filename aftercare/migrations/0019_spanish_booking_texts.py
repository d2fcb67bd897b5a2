"""Spanish for the booking notices, the reminder, the answers to a patient's text and the follow-up prompts'
emails (aftercare.default_plan_es).

Added beside the English templates; a clinic that already wrote a Spanish
one keeps it. The reverse removes those still as shipped.
"""

from django.db import migrations

from aftercare import default_plan_es as es


def _rows():
    for kind, texts in es.BOOKING_PROMPTS.items():
        yield kind, "email", texts["subject"], texts["email"]
        yield kind, "sms", "", texts["sms"]
    for kind, body in es.SMS_REPLIES.items():
        yield kind, "sms", "", body
    for kind, texts in es.PROMPT_EMAILS.items():
        yield kind, "email", texts["subject"], texts["email"]


def forward(apps, schema_editor):
    PromptTemplate = apps.get_model("aftercare", "PromptTemplate")
    for kind, channel, subject, body in _rows():
        PromptTemplate.objects.get_or_create(
            kind=kind, channel=channel, language="es", defaults={"subject": subject, "body": body}
        )


def backward(apps, schema_editor):
    PromptTemplate = apps.get_model("aftercare", "PromptTemplate")
    for kind, channel, _subject, body in _rows():
        PromptTemplate.objects.filter(kind=kind, channel=channel, language="es", body=body).delete()


class Migration(migrations.Migration):
    dependencies = [("aftercare", "0018_booking_notice_texts")]

    operations = [migrations.RunPython(forward, backward)]
