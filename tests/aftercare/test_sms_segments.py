"""Every text fits in two GSM-7 segments, with the longest values a real clinic gives it.

Each SMS template shipped (every step of the plan and every prompt, in
every language) is rendered as the outbox renders it, in every state a
course passes through, for a clinic with a long name and a long web address
and a patient with long names, with the opt-out hint the first text carries.
"""

from __future__ import annotations

import pytest

from aftercare.booking_notices import NOTICE_KINDS, notice_context
from aftercare.dispatch import INBOUND_REPLY_KINDS, opt_out_hint
from aftercare.models import MessageKind, MessageTemplate, PromptTemplate
from aftercare.outbox import rendered_fields
from aftercare.rendering import message_context
from aftercare.sms_text import MAX_SEGMENTS, is_gsm7, sms_segments
from patients.models import Patient
from tests.aftercare.test_texts import LOCATION_SETUPS, NOTICES, course_states
from treatments.models import Location

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outside_world")]

LONG_SITE = "https://aftercare.skinclinic-london.co.uk"
LONG_CLINIC = "Marylebone Skin & Aesthetics Clinic"
# Staff are told of red flags by email; their SMS template is not sent to patients.
NOT_TO_PATIENTS = (MessageKind.RED_FLAG_ALERT,)


def test_every_sms_template_renders_to_at_most_two_gsm7_segments(clock, settings, course, practitioner, room) -> None:
    settings.SITE_URL = LONG_SITE
    Location.objects.filter(pk=course.location_id).update(name=LONG_CLINIC)
    Patient.objects.filter(pk=course.patient_id).update(
        first_name="Maximiliana-Josefina", last_name="Fitzgerald-Montgomery"
    )
    plan_templates = list(MessageTemplate.objects.filter(channel="sms").select_related("step"))
    prompts = list(PromptTemplate.objects.filter(channel="sms").exclude(kind__in=NOT_TO_PATIENTS))
    assert {t.language for t in plan_templates} == {t.language for t in prompts} == {"en", "es"}
    worst: dict[str, tuple[int, int, str]] = {}
    for _state, session, _prompt_kinds in course_states(clock, course, practitioner, room):
        for values in LOCATION_SETUPS.values():
            Location.objects.filter(pk=course.location_id).update(phone=values["phone"], email=values["email"])
            settings.CLINIC_PHONE = values["clinic_phone"]
            course.refresh_from_db()
            patient = course.patient
            for language in ("en", "es"):
                patient.language = language
                about_session = message_context(patient=patient, course=course, session=session)
                about_course = message_context(patient=patient, course=course, session=None)
                texts = [(f"step {t.step.code}", t, about_session) for t in plan_templates if t.language == language]
                texts += [
                    (
                        f"prompt {t.kind}",
                        t,
                        about_session if t.kind == MessageKind.APPOINTMENT_REMINDER else about_course,
                    )
                    for t in prompts
                    if t.language == language and t.kind not in NOTICE_KINDS
                ]
                # A booking notice is about its session, and a change names two times.
                texts += [
                    (
                        f"prompt {t.kind}",
                        t,
                        notice_context(
                            notice=NOTICES[t.kind](session), patient=patient, course=course, session=session
                        ),
                    )
                    for t in prompts
                    if t.language == language and t.kind in NOTICE_KINDS
                ]
                for name, template, context in texts:
                    context = context | {"severe": True, "emergency_number": "999"}
                    body = rendered_fields(template, context, channel="sms")["body"]
                    sent = f"{body} {opt_out_hint(language)}"
                    assert is_gsm7(sent), (name, language, sent)
                    key = f"{name} [{language}]"
                    if sms_segments(sent) >= worst.get(key, (0, 0, ""))[0]:
                        worst[key] = (sms_segments(sent), len(sent), sent)

    assert len(worst) == len(plan_templates) + len(prompts)
    too_long = {
        name: (segments, length, text) for name, (segments, length, text) in worst.items() if segments > MAX_SEGMENTS
    }
    assert too_long == {}
    # Every text to a patient carries the link to their page, but the answers to their own texts and the
    # reply to a red flag (it must fit its advice); the page is one tap away in every other text.
    answers = tuple(f"prompt {kind} " for kind in ("red_flag_reply", *INBOUND_REPLY_KINDS))
    without_link = [
        name for name, (_, _, text) in worst.items() if LONG_SITE not in text and not name.startswith(answers)
    ]
    assert without_link == []
