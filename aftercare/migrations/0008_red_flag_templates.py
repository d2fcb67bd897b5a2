"""Ship the red-flag reply to the patient, the alert's link to the report, and link old alerts to their reports.

The alert's words change only where a clinic has not edited them.
"""

from django.db import migrations

from aftercare.default_plan import PROMPTS

# The alert as 0002 shipped it, before it linked to the report.
OLD_ALERT = {
    "email": (
        "A side-effect report for {{ first_name }} {{ last_name }} (session on {{ session_date }}) needs your "
        "review today: {{ red_flag_reasons }}.\n\nReported symptoms: {{ symptoms }} ({{ severity }}), since "
        "{{ onset_on }}.\nNotes: {{ notes|default:'none' }}\n\nResolve it in the admin once the patient has "
        "been seen or called."
    ),
    "sms": "Red flag for {{ first_name }} {{ last_name }}: {{ red_flag_reasons }}. See the admin.",
}


def load(apps, schema_editor):
    PromptTemplate = apps.get_model("aftercare", "PromptTemplate")
    ScheduledMessage = apps.get_model("aftercare", "ScheduledMessage")
    SideEffectReport = apps.get_model("aftercare", "SideEffectReport")

    reply = PROMPTS["red_flag_reply"]
    PromptTemplate.objects.get_or_create(
        kind="red_flag_reply",
        channel="email",
        language="en",
        defaults={"subject": reply["subject"], "body": reply["email"]},
    )
    PromptTemplate.objects.get_or_create(kind="red_flag_reply", channel="sms", language="en", defaults={"body": reply["sms"]})

    alert = PROMPTS["red_flag_alert"]
    for channel in ("email", "sms"):
        PromptTemplate.objects.filter(
            kind="red_flag_alert", channel=channel, language="en", body=OLD_ALERT[channel]
        ).update(body=alert[channel])

    # Alerts written before the link existed carry the report in their dedupe key, "red_flag:<report id>".
    for message in ScheduledMessage.objects.filter(kind="red_flag_alert", report__isnull=True):
        report_id = message.dedupe_key.split(":")[1] if message.dedupe_key.startswith("red_flag:") else ""
        if report_id and SideEffectReport.objects.filter(pk=report_id).exists():
            message.report_id = report_id
            message.save(update_fields=["report"])


class Migration(migrations.Migration):
    dependencies = [
        ("aftercare", "0007_red_flag_reply_and_report_link"),
    ]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
