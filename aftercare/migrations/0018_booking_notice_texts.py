"""Ship the booking notices' words, and a reminder that asks for a reply (C to confirm, R to rebook).

- the booking confirmation, change and cancellation templates (email and
  SMS, English; aftercare/default_plan.py) are created where missing;
- the appointment reminder's subject, email body or SMS body that still
  reads exactly as shipped (by 0002, frozen in _plan_v1; by 0006, frozen
  below as REMINDER_V2; or, on a database created after 0013 changed the
  texts' "contact us", as REMINDER_SMS_V3) becomes the current one; one a
  clinic has edited is kept, and named on the console to compare by hand;
- messages already in the outbox keep the text they were written with.

The reverse puts the reminder as 0006 shipped it back where the current
text is untouched, and removes the notices' templates still as shipped.
"""

import sys

from django.db import migrations

from aftercare.default_plan import PROMPTS
from aftercare.migrations import _plan_v1 as v1

NOTICE_KINDS = ("booking_confirmation", "booking_change", "booking_cancellation")
REMINDER = "appointment_reminder"

# The reminder as 0006 shipped it (aftercare/default_plan.py until this migration). Never edit: it is how
# this migration recognises a row no clinic has changed.
REMINDER_V2 = {
    "subject": "Reminder: your appointment on {{ session_date }}",
    "email": (
        "Dear {{ first_name }},\n\nThis is a reminder of your appointment on {{ session_date }}. Please come "
        "without makeup if you can. To move it, {% if clinic_phone %}call {{ clinic_phone }}{% else %}contact "
        "{{ clinic_name }}{% endif %}{% if reply_to %} or reply to this email{% endif %}.\n\n{{ clinic_name }}"
        "{% if clinic_phone %} · {{ clinic_phone }}{% endif %}"
    ),
    "sms": (
        "{{ clinic_name }}: reminder of your appointment on {{ session_date }}. To move it {% if clinic_phone %}"
        "call {{ clinic_phone }}{% else %}contact {{ clinic_name }}{% endif %}."
    ),
}

# The reminder's SMS as 0006 wrote it on a database created after 0013 ("contact us" without a number).
REMINDER_SMS_V3 = (
    "{{ clinic_name }}: reminder of your appointment on {{ session_date }}. To move it {% if clinic_phone %}call "
    "{{ clinic_phone }}{% else %}contact us{% endif %}."
)


def _fields(texts, channel):
    """The (subject, body) of `texts` (a PROMPTS entry) for `channel`."""
    return (texts["subject"], texts["email"]) if channel == "email" else ("", texts["sms"])


def _replace_shipped(template, shipped_versions, new, kept):
    """Set the template's subject and body that read as any version in `shipped_versions` to `new`'s; note the
    edited ones in `kept`."""
    changed = []
    for index, name in enumerate(("subject", "body")):
        current = getattr(template, name)
        if current == new[index]:
            continue
        if any(current == shipped[index] for shipped in shipped_versions):
            setattr(template, name, new[index])
            changed.append(name)
        else:
            kept.append(f"prompt {template.kind} [{template.channel}/{template.language}] {name}")
    if changed:
        template.save(update_fields=changed)


def upgrade(apps, schema_editor):
    PromptTemplate = apps.get_model("aftercare", "PromptTemplate")
    for kind in NOTICE_KINDS:
        for channel in ("email", "sms"):
            subject, body = _fields(PROMPTS[kind], channel)
            PromptTemplate.objects.get_or_create(
                kind=kind, channel=channel, language="en", defaults={"subject": subject, "body": body}
            )
    kept = []
    for template in PromptTemplate.objects.filter(kind=REMINDER, language="en"):
        shipped = [_fields(v1.PROMPTS[REMINDER], template.channel), _fields(REMINDER_V2, template.channel)]
        if template.channel == "sms":
            shipped.append(("", REMINDER_SMS_V3))
        _replace_shipped(template, shipped, _fields(PROMPTS[REMINDER], template.channel), kept)
    if kept:
        sys.stdout.write(
            "\n  Reminder texts edited by the clinic were kept; compare them with aftercare/default_plan.py "
            "(a reminder now asks for a reply: C to confirm, R to rebook):\n" + "".join(f"    {label}\n" for label in kept)
        )


def downgrade(apps, schema_editor):
    PromptTemplate = apps.get_model("aftercare", "PromptTemplate")
    for kind in NOTICE_KINDS:
        for channel in ("email", "sms"):
            subject, body = _fields(PROMPTS[kind], channel)
            PromptTemplate.objects.filter(kind=kind, channel=channel, language="en", subject=subject, body=body).delete()
    ignored = []
    for template in PromptTemplate.objects.filter(kind=REMINDER, language="en"):
        current = _fields(PROMPTS[REMINDER], template.channel)
        _replace_shipped(template, [current], _fields(REMINDER_V2, template.channel), ignored)


class Migration(migrations.Migration):
    dependencies = [
        ("aftercare", "0017_booking_notices"),
    ]

    operations = [migrations.RunPython(upgrade, downgrade)]
