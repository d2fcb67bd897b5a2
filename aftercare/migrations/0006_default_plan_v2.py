"""Bring the default mesotherapy plan and prompts up to the current texts (aftercare/default_plan.py).

What changed: every pause for actives in the first message, hands-off and
gentle care, a weeks 3–6 message, "first results" only after a first
session, no "today's" on a message that may arrive another day, no gap where
a phone number or a reply address is missing, and a second maintenance prompt.

Clinics edit these rows in the admin, and their edits win. Policy:
- a subject, body or step name still exactly as first shipped (frozen in
  _plan_v1) is replaced with the current one; one a clinic has changed is
  kept, and named on the console so it can be compared by hand;
- the step settings new in this version (announces_clearance,
  expires_after_hours) are set on the shipped steps, found by code: no
  clinic can have set them yet;
- missing steps and templates (the weeks 3–6 step, the maintenance-closing
  prompt) are created; a step takes its shipped place in the order when that
  place is free, else the next free one;
- messages already in the outbox keep the text they were written with.

The reverse puts the first texts back where the current ones are untouched,
and removes the weeks 3–6 step if no message was ever written for it.
"""

import sys

from django.db import migrations

from aftercare.default_plan import PROMPTS, STEPS
from aftercare.migrations import _plan_v1 as v1

MESOTHERAPY = "Facial mesotherapy"
NEW_STEP_FIELDS = ("announces_clearance", "expires_after_hours")


def _plan(apps):
    Protocol = apps.get_model("treatments", "Protocol")
    AftercarePlan = apps.get_model("aftercare", "AftercarePlan")
    protocol = Protocol.objects.filter(name=MESOTHERAPY).first()
    return AftercarePlan.objects.filter(protocol=protocol).first() if protocol else None


def _texts(step_data):
    return {"email": (step_data["email_subject"], step_data["email"]), "sms": ("", step_data["sms"])}


def _prompt_texts(texts):
    return {"email": (texts["subject"], texts["email"]), "sms": ("", texts["sms"])}


def _replace_untouched(row, old, new, label, kept):
    """Set each of the row's (subject, body) that still reads as `old` to `new`; note the edited ones."""
    changed = []
    for name, was, becomes in zip(("subject", "body"), old, new, strict=True):
        current = getattr(row, name)
        if current == becomes:
            continue
        if current == was:
            setattr(row, name, becomes)
            changed.append(name)
        else:
            kept.append(f"{label} {name}")
    if changed:
        row.save(update_fields=changed)


def _move_to_shipped_places(plan, steps_by_code, old_steps, new_steps):
    """Give untouched shipped steps their new place in the order, latest first, where it is free."""
    for data in sorted(new_steps, key=lambda d: -d["order"]):
        step = steps_by_code.get(data["code"])
        old = old_steps.get(data["code"])
        if step is None or old is None or step.order != old["order"] or step.order == data["order"]:
            continue
        if not plan.steps.filter(order=data["order"]).exists():
            step.order = data["order"]
            step.save(update_fields=["order"])


def _free_order(plan, wanted):
    if not plan.steps.filter(order=wanted).exists():
        return wanted
    return max(plan.steps.values_list("order", flat=True)) + 1


def upgrade(apps, schema_editor):
    AftercareStep = apps.get_model("aftercare", "AftercareStep")
    MessageTemplate = apps.get_model("aftercare", "MessageTemplate")
    PromptTemplate = apps.get_model("aftercare", "PromptTemplate")
    kept = []

    plan = _plan(apps)
    if plan is not None:
        old_steps = {data["code"]: data for data in v1.STEPS}
        steps_by_code = {step.code: step for step in AftercareStep.objects.filter(plan=plan)}
        _move_to_shipped_places(plan, steps_by_code, old_steps, STEPS)
        for data in STEPS:
            step = steps_by_code.get(data["code"])
            if step is None:
                step = AftercareStep.objects.create(
                    plan=plan,
                    code=data["code"],
                    order=_free_order(plan, data["order"]),
                    name=data["name"],
                    kind=data["kind"],
                    offset_unit=data["offset_unit"],
                    offset_value=data["offset_value"],
                    local_send_time=data["local_send_time"],
                    condition=data["condition"],
                    prompts_booking=data.get("prompts_booking", False),
                )
            old = old_steps.get(data["code"])
            for field in NEW_STEP_FIELDS:
                setattr(step, field, data.get(field, AftercareStep._meta.get_field(field).get_default()))
            if old is not None and step.name == old["name"]:
                step.name = data["name"]
            step.save()
            old_texts = _texts(old) if old is not None else {}
            for channel, new in _texts(data).items():
                template, created = MessageTemplate.objects.get_or_create(
                    step=step, channel=channel, language="en", defaults={"subject": new[0], "body": new[1]}
                )
                if not created and channel in old_texts:
                    _replace_untouched(template, old_texts[channel], new, f"step {step.code} [{channel}/en]", kept)
                elif not created and (template.subject, template.body) != new:
                    kept.append(f"step {step.code} [{channel}/en]")

    for kind, texts in PROMPTS.items():
        old_texts = _prompt_texts(v1.PROMPTS[kind]) if kind in v1.PROMPTS else {}
        for channel, new in _prompt_texts(texts).items():
            template, created = PromptTemplate.objects.get_or_create(
                kind=kind, channel=channel, language="en", defaults={"subject": new[0], "body": new[1]}
            )
            if not created and channel in old_texts:
                _replace_untouched(template, old_texts[channel], new, f"prompt {kind} [{channel}/en]", kept)

    if kept:
        sys.stdout.write(
            "\n  Aftercare texts edited by the clinic were kept; compare them with aftercare/default_plan.py:\n"
            + "".join(f"    {label}\n" for label in kept)
        )


def downgrade(apps, schema_editor):
    AftercareStep = apps.get_model("aftercare", "AftercareStep")
    MessageTemplate = apps.get_model("aftercare", "MessageTemplate")
    PromptTemplate = apps.get_model("aftercare", "PromptTemplate")
    ScheduledMessage = apps.get_model("aftercare", "ScheduledMessage")
    ignored = []

    plan = _plan(apps)
    if plan is not None:
        old_steps = {data["code"]: data for data in v1.STEPS}
        for data in STEPS:
            step = AftercareStep.objects.filter(plan=plan, code=data["code"]).first()
            if step is None:
                continue
            old = old_steps.get(data["code"])
            if old is None:
                if not ScheduledMessage.objects.filter(step=step).exists():
                    step.delete()
                continue
            if step.name == data["name"]:
                step.name = old["name"]
                step.save(update_fields=["name"])
            old_texts = _texts(old)
            for template in MessageTemplate.objects.filter(step=step, language="en"):
                if template.channel in old_texts:
                    _replace_untouched(template, _texts(data)[template.channel], old_texts[template.channel], "", ignored)
        old_steps_now = {step.code: step for step in AftercareStep.objects.filter(plan=plan)}
        _move_to_shipped_places(plan, old_steps_now, {d["code"]: d for d in STEPS}, v1.STEPS)

    for kind, texts in PROMPTS.items():
        if kind not in v1.PROMPTS:
            for channel, new in _prompt_texts(texts).items():
                PromptTemplate.objects.filter(
                    kind=kind, channel=channel, language="en", subject=new[0], body=new[1]
                ).delete()
            continue
        old_texts = _prompt_texts(v1.PROMPTS[kind])
        for template in PromptTemplate.objects.filter(kind=kind, language="en"):
            if template.channel in old_texts:
                _replace_untouched(template, _prompt_texts(texts)[template.channel], old_texts[template.channel], "", ignored)


class Migration(migrations.Migration):
    dependencies = [
        ("aftercare", "0005_message_reply_to_step_timing"),
        ("treatments", "0003_default_mesotherapy_protocol"),
    ]

    operations = [migrations.RunPython(upgrade, downgrade)]
