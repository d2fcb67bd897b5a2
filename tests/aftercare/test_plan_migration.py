"""The data migration that brings the shipped plan up to date without clobbering a clinic's edits.

The test database itself went through it: 0002 loaded the plan as first
shipped (frozen in migrations/_plan_v1.py) and 0006 upgraded it. Here the
upgrade runs again on a plan put back as first shipped, with some texts
edited the way a clinic edits them in the admin.
"""

from __future__ import annotations

import importlib
from datetime import time

import pytest
from django.apps import apps

from aftercare.default_plan import PROMPTS, SMS_REPLIES, STEPS
from aftercare.migrations import _plan_v1 as first_shipped
from aftercare.models import AftercarePlan, AftercareStep, MessageTemplate, PromptTemplate

pytestmark = pytest.mark.django_db

UPGRADE = importlib.import_module("aftercare.migrations.0006_default_plan_v2")


def plan_as_stored() -> dict[str, tuple]:
    plan = AftercarePlan.objects.get(protocol__name="Facial mesotherapy")
    stored = {}
    for step in plan.steps.prefetch_related("templates"):
        texts = {t.channel: (t.subject, t.body) for t in step.templates.all() if t.language == "en"}
        stored[step.code] = (
            step.order,
            step.name,
            step.offset_unit,
            step.offset_value,
            step.condition,
            step.prompts_booking,
            step.announces_clearance,
            step.expires_after_hours,
            texts,
        )
    return stored


def plan_as_shipped() -> dict[str, tuple]:
    return {
        data["code"]: (
            data["order"],
            data["name"],
            data["offset_unit"],
            data["offset_value"],
            data["condition"],
            data.get("prompts_booking", False),
            data.get("announces_clearance", False),
            data.get("expires_after_hours"),
            {"email": (data["email_subject"], data["email"]), "sms": ("", data["sms"])},
        )
        for data in STEPS
    }


def prompts_as_stored() -> dict[tuple[str, str], tuple[str, str]]:
    return {(t.kind, t.channel): (t.subject, t.body) for t in PromptTemplate.objects.filter(language="en")}


def prompts_as_shipped() -> dict[tuple[str, str], tuple[str, str]]:
    shipped = {}
    for kind, texts in PROMPTS.items():
        shipped[(kind, "email")] = (texts["subject"], texts["email"])
        shipped[(kind, "sms")] = ("", texts["sms"])
    for kind, body in SMS_REPLIES.items():  # answers to a patient's text: SMS only
        shipped[(kind, "sms")] = ("", body)
    return shipped


def test_a_fresh_database_holds_the_current_default_plan_and_prompts() -> None:
    assert plan_as_stored() == plan_as_shipped()
    assert prompts_as_stored() == prompts_as_shipped()


def test_the_upgrade_replaces_texts_still_as_first_shipped_and_keeps_the_clinics_edits(capsys) -> None:
    # The Spanish texts came later (0013).
    MessageTemplate.objects.filter(language="es").delete()
    PromptTemplate.objects.filter(language="es").delete()
    UPGRADE.downgrade(apps, None)
    # Back as 0002 shipped it: no weeks 3–6 step, no second maintenance prompt, the old words.
    immediate = MessageTemplate.objects.get(step__code="immediate-first-48-hours", channel="email", language="en")
    assert immediate.subject == first_shipped.STEPS[0]["email_subject"]
    assert immediate.subject == "Caring for your skin after today's mesotherapy"
    assert not AftercareStep.objects.filter(code="day-21-collagen").exists()
    assert AftercareStep.objects.get(code="week-6-full-results").order == 6
    assert not PromptTemplate.objects.filter(kind="maintenance_closing").exists()
    # The clinic wrote its own day-3 text message and its own reminder subject in the admin.
    MessageTemplate.objects.filter(step__code="day-3-early-recovery", channel="sms").update(body="Our own day-3 words.")
    PromptTemplate.objects.filter(kind="appointment_reminder", channel="email").update(subject="See you soon")

    UPGRADE.upgrade(apps, None)

    stored, shipped = plan_as_stored(), plan_as_shipped()
    day_3 = stored.pop("day-3-early-recovery")
    expected_day_3 = shipped.pop("day-3-early-recovery")
    assert stored == shipped
    assert day_3[:-1] == expected_day_3[:-1]
    assert day_3[-1] == {"email": expected_day_3[-1]["email"], "sms": ("", "Our own day-3 words.")}
    prompts, shipped_prompts = prompts_as_stored(), prompts_as_shipped()
    assert prompts.pop(("appointment_reminder", "email")) == (
        "See you soon",
        shipped_prompts.pop(("appointment_reminder", "email"))[1],
    )
    assert prompts == shipped_prompts
    # Whoever runs the migration learns which texts to compare by hand.
    out = capsys.readouterr().out
    assert "step day-3-early-recovery [sms/en] body" in out
    assert "prompt appointment_reminder [email/en] subject" in out


def test_a_step_the_clinic_put_in_the_new_steps_place_keeps_it(capsys) -> None:
    UPGRADE.downgrade(apps, None)
    plan = AftercarePlan.objects.get(protocol__name="Facial mesotherapy")
    AftercareStep.objects.create(
        plan=plan,
        order=7,
        code="clinic-own",
        name="Our own",
        offset_unit="days",
        offset_value=60,
        local_send_time=time(10),
    )

    UPGRADE.upgrade(apps, None)

    orders = dict(AftercareStep.objects.filter(plan=plan).values_list("code", "order"))
    assert (orders["clinic-own"], orders["week-6-full-results"], orders["day-21-collagen"]) == (7, 6, 8)


SHORT_TEXTS = importlib.import_module("aftercare.migrations.0013_short_texts_and_spanish")


def test_the_short_texts_replace_the_shipped_long_ones_keep_a_clinics_own_and_add_spanish(capsys) -> None:
    from aftercare import default_plan_es as es
    from aftercare.migrations import _sms_v2 as long_texts

    # The database as before 0013: the long texts, one of them the clinic's own, and no Spanish.
    for code, body in long_texts.STEP_SMS.items():
        MessageTemplate.objects.filter(step__code=code, channel="sms", language="en").update(body=body)
    for kind, body in long_texts.PROMPT_SMS.items():
        PromptTemplate.objects.filter(kind=kind, channel="sms", language="en").update(body=body)
    MessageTemplate.objects.filter(step__code="day-7-sun-and-actives", channel="sms").update(body="Our week-1 words.")
    MessageTemplate.objects.filter(language="es").delete()
    PromptTemplate.objects.filter(language="es").delete()

    SHORT_TEXTS.forward(apps, None)

    stored = {
        t.step.code: t.body for t in MessageTemplate.objects.filter(channel="sms", language="en").select_related("step")
    }
    assert stored == {data["code"]: data["sms"] for data in STEPS} | {"day-7-sun-and-actives": "Our week-1 words."}
    for kind in long_texts.PROMPT_SMS:
        assert PromptTemplate.objects.get(kind=kind, channel="sms", language="en").body == PROMPTS[kind]["sms"]
    spanish = {
        (t.step.code, t.channel): t.body for t in MessageTemplate.objects.filter(language="es").select_related("step")
    }
    assert spanish == {(code, "sms"): texts["sms"] for code, texts in es.STEPS.items()} | {
        (code, "email"): texts["email"] for code, texts in es.STEPS.items()
    }
    assert set(PromptTemplate.objects.filter(language="es").values_list("kind", "channel")) == {
        *((kind, "sms") for kind in es.PROMPT_SMS),
        ("red_flag_reply", "sms"),
        ("red_flag_reply", "email"),
    }
    assert "step day-7-sun-and-actives SMS" in capsys.readouterr().out

    SHORT_TEXTS.backward(apps, None)

    assert (
        MessageTemplate.objects.get(step__code="day-3-early-recovery", channel="sms", language="en").body
        == (long_texts.STEP_SMS["day-3-early-recovery"])
    )
    assert MessageTemplate.objects.get(step__code="day-7-sun-and-actives", channel="sms").body == "Our week-1 words."
    assert not MessageTemplate.objects.filter(language="es").exists()
    assert not PromptTemplate.objects.filter(language="es").exists()


def test_the_spanish_booking_texts_are_added_and_a_clinics_own_kept() -> None:
    from aftercare import default_plan_es as es

    spanish_texts = importlib.import_module("aftercare.migrations.0019_spanish_booking_texts")
    kinds = [*es.BOOKING_PROMPTS, *es.SMS_REPLIES, *es.PROMPT_EMAILS]
    # As before 0019: the follow-up prompts had their Spanish texts (0013), not their emails.
    PromptTemplate.objects.filter(kind__in=kinds, language="es").exclude(
        kind__in=es.PROMPT_EMAILS, channel="sms"
    ).delete()
    PromptTemplate.objects.create(kind="help_reply", channel="sms", language="es", body="Nuestra ayuda.")

    spanish_texts.forward(apps, None)

    stored = {(t.kind, t.channel): t.body for t in PromptTemplate.objects.filter(kind__in=kinds, language="es")}
    assert len(stored) == 2 * len(es.BOOKING_PROMPTS) + len(es.SMS_REPLIES) + 2 * len(es.PROMPT_EMAILS)
    assert stored[("help_reply", "sms")] == "Nuestra ayuda."
    assert stored[("booking_change", "sms")] == es.BOOKING_PROMPTS["booking_change"]["sms"]

    spanish_texts.backward(apps, None)

    assert sorted(
        PromptTemplate.objects.filter(kind__in=kinds, language="es").values_list("kind", "channel", "body")
    ) == sorted(
        [("help_reply", "sms", "Nuestra ayuda."), *((kind, "sms", es.PROMPT_SMS[kind]) for kind in es.PROMPT_EMAILS)]
    )
