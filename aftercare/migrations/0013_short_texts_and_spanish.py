"""Texts of one or two segments that link to the patient's page, and the plan in Spanish (issue 13).

- Each SMS of the default plan and of the follow-up prompts is replaced by
  its short form (aftercare.default_plan), which says what matters now and
  links to the patient's page for the session, where the whole plan is. A
  text a clinic has edited is kept (and named on the console): only one
  still exactly as shipped before (frozen in _sms_v2) is replaced.
- Spanish templates (aftercare.default_plan_es) are added beside the English
  ones: every step's SMS and email, the prompts' SMS, the red-flag reply.
  A clinic that already wrote a Spanish template keeps it.
- Messages already in the outbox keep the words they were written with.

The reverse puts back the shipped texts where the short ones are untouched,
and removes the Spanish templates still as shipped.
"""

import sys

from django.db import migrations

from aftercare import default_plan_es as es
from aftercare.default_plan import PROMPTS, STEPS
from aftercare.migrations import _sms_v2 as v2

MESOTHERAPY = "Facial mesotherapy"
SHORTENED_PROMPTS = ("followup_open", "followup_closing", "maintenance_due", "maintenance_closing", "red_flag_reply")


def _plan(apps):
    Protocol = apps.get_model("treatments", "Protocol")
    AftercarePlan = apps.get_model("aftercare", "AftercarePlan")
    protocol = Protocol.objects.filter(name=MESOTHERAPY).first()
    return AftercarePlan.objects.filter(protocol=protocol).first() if protocol else None


def _swap(row, old, new, label, kept):
    if row is None or row.body == new:
        return
    if row.body == old:
        row.body = new
        row.save(update_fields=["body"])
    else:
        kept.append(label)


def forward(apps, schema_editor):
    MessageTemplate = apps.get_model("aftercare", "MessageTemplate")
    PromptTemplate = apps.get_model("aftercare", "PromptTemplate")
    kept = []
    plan = _plan(apps)
    if plan is not None:
        steps = {step.code: step for step in plan.steps.all()}
        for data in STEPS:
            step = steps.get(data["code"])
            if step is None:
                continue
            row = MessageTemplate.objects.filter(step=step, channel="sms", language="en").first()
            _swap(row, v2.STEP_SMS[data["code"]], data["sms"], f"step {data['code']} SMS", kept)
            spanish = es.STEPS[data["code"]]
            MessageTemplate.objects.get_or_create(
                step=step, channel="sms", language="es", defaults={"body": spanish["sms"]}
            )
            MessageTemplate.objects.get_or_create(
                step=step,
                channel="email",
                language="es",
                defaults={"subject": spanish["email_subject"], "body": spanish["email"]},
            )
    for kind in SHORTENED_PROMPTS:
        row = PromptTemplate.objects.filter(kind=kind, channel="sms", language="en").first()
        _swap(row, v2.PROMPT_SMS[kind], PROMPTS[kind]["sms"], f"prompt {kind} SMS", kept)
        spanish = es.PROMPT_SMS[kind] if kind in es.PROMPT_SMS else es.RED_FLAG_REPLY["sms"]
        PromptTemplate.objects.get_or_create(kind=kind, channel="sms", language="es", defaults={"body": spanish})
    PromptTemplate.objects.get_or_create(
        kind="red_flag_reply",
        channel="email",
        language="es",
        defaults={"subject": es.RED_FLAG_REPLY["subject"], "body": es.RED_FLAG_REPLY["email"]},
    )
    if kept:
        sys.stdout.write(
            "\n  Kept texts the clinic edited (compare with aftercare/default_plan.py by hand): "
            + ", ".join(kept)
            + "\n"
        )


def backward(apps, schema_editor):
    MessageTemplate = apps.get_model("aftercare", "MessageTemplate")
    PromptTemplate = apps.get_model("aftercare", "PromptTemplate")
    plan = _plan(apps)
    if plan is not None:
        steps = {step.code: step for step in plan.steps.all()}
        for data in STEPS:
            step = steps.get(data["code"])
            if step is None:
                continue
            row = MessageTemplate.objects.filter(step=step, channel="sms", language="en").first()
            _swap(row, data["sms"], v2.STEP_SMS[data["code"]], "", [])
            spanish = es.STEPS[data["code"]]
            MessageTemplate.objects.filter(step=step, channel="sms", language="es", body=spanish["sms"]).delete()
            MessageTemplate.objects.filter(step=step, channel="email", language="es", body=spanish["email"]).delete()
    for kind in SHORTENED_PROMPTS:
        row = PromptTemplate.objects.filter(kind=kind, channel="sms", language="en").first()
        _swap(row, PROMPTS[kind]["sms"], v2.PROMPT_SMS[kind], "", [])
        spanish = es.PROMPT_SMS[kind] if kind in es.PROMPT_SMS else es.RED_FLAG_REPLY["sms"]
        PromptTemplate.objects.filter(kind=kind, channel="sms", language="es", body=spanish).delete()
    PromptTemplate.objects.filter(
        kind="red_flag_reply", language="es", body__in=[es.RED_FLAG_REPLY["sms"], es.RED_FLAG_REPLY["email"]]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("aftercare", "0012_template_variables"),
        ("treatments", "0018_session_treatment_started_at"),
    ]

    operations = [migrations.RunPython(forward, backward)]
