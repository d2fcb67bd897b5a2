"""A clinic admin edits the aftercare plan and previews its texts; staff
work the outbox and side-effect reports in the Django admin.

The admin writes through the aftercare services like every other door: a
red-flag report filed in the admin alerts the practitioner exactly as one
arriving by API does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from aftercare.models import (
    AftercarePlan,
    AftercareStep,
    MessageKind,
    MessageStatus,
    MessageTemplate,
    ScheduledMessage,
    SideEffectReport,
)
from aftercare.side_effects import side_effect_report_create
from clinic.roles import PRACTITIONER
from tests.admin_forms import inline_post_data
from tests.aftercare.conftest import LONDON, book, complete, consenting_patient
from tests.factories import CourseFactory, PractitionerFactory, ScheduledMessageFactory
from tests.treatments.conftest import in_role

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("outside_world")]

STEP_CODE = "day-3-early-recovery"


def london(month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=LONDON)


@pytest.fixture
def clinic_admin(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def treated(clock, course, practitioner, room):
    """Amelia's first session, Tuesday 3 March 10:00–10:45, completed."""
    return complete(book(course, practitioner, room, london(3, 3, 10)), clock)


def step(code: str = STEP_CODE) -> AftercareStep:
    return AftercareStep.objects.get(plan__protocol__name="Facial mesotherapy", code=code)


def flash_messages(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def form_errors(response: Any) -> str:
    form = response.context["adminform"].form
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


# --- the plan --------------------------------------------------------------------------


def test_the_default_plan_opens_in_the_admin_with_its_steps(clinic_admin) -> None:
    plan = AftercarePlan.objects.get(protocol__name="Facial mesotherapy")

    changelist = clinic_admin.get(reverse("admin:aftercare_aftercareplan_changelist"))
    change = clinic_admin.get(reverse("admin:aftercare_aftercareplan_change", args=[plan.pk]))

    assert changelist.status_code == 200
    assert "Facial mesotherapy aftercare" in changelist.content.decode()
    assert change.status_code == 200
    page = change.content.decode()
    for code in [
        "immediate-first-48-hours",
        "day-1-check-in",
        "day-3-early-recovery",
        "day-7-sun-and-actives",
        "day-14-first-results",
        "week-6-full-results",
    ]:
        assert code in page


def test_a_step_opens_with_its_templates_and_a_link_to_the_preview(clinic_admin) -> None:
    day_3 = step()

    response = clinic_admin.get(reverse("admin:aftercare_aftercarestep_change", args=[day_3.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert reverse("admin:aftercare_aftercarestep_preview", args=[day_3.pk]) in page
    assert "Days 3 to 7 are early recovery" in page
    assert clinic_admin.get(reverse("admin:aftercare_aftercarestep_changelist")).status_code == 200


def step_change_form(response: Any, **email_changes: str) -> dict[str, str]:
    """The step's change form as a browser posts it, with the email template's fields changed."""
    data = inline_post_data(response)
    form = response.context["adminform"].form
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = str(value)
    for inline in response.context["inline_admin_formsets"]:
        for inline_form in inline.formset.initial_forms:
            for name in ("channel", "language", "subject", "body"):
                data[f"{inline_form.prefix}-{name}"] = str(inline_form[name].value() or "")
            if inline_form.instance.channel == "email":
                for name, value in email_changes.items():
                    data[f"{inline_form.prefix}-{name}"] = value
    data["_save"] = "Save"
    return data


def test_a_broken_template_is_refused_on_the_step_form(clinic_admin) -> None:
    day_3 = step()
    url = reverse("admin:aftercare_aftercarestep_change", args=[day_3.pk])
    before = MessageTemplate.objects.get(step=day_3, channel="email", language="en").body

    response = clinic_admin.post(url, step_change_form(clinic_admin.get(url), body="Dear {{ first_name }, {% if %}"))

    assert response.status_code == 200
    assert "Template error" in response.content.decode()
    assert MessageTemplate.objects.get(step=day_3, channel="email", language="en").body == before


def test_an_edited_template_is_saved_and_previewed_for_the_chosen_session(clinic_admin, treated) -> None:
    day_3 = step()
    url = reverse("admin:aftercare_aftercarestep_change", args=[day_3.pk])

    response = clinic_admin.post(
        url,
        step_change_form(clinic_admin.get(url), body="Hello {{ first_name }}, three days since {{ session_date }}."),
    )

    assert response.status_code == 302, form_errors(response)
    preview = clinic_admin.get(
        reverse("admin:aftercare_aftercarestep_preview", args=[day_3.pk]), {"session": str(treated.pk)}
    )
    assert "Hello Amelia, three days since Tuesday 3 March 2026 at 10:00." in preview.content.decode()


def test_the_preview_renders_the_texts_for_the_session_chosen(
    clinic_admin, treated, location, practitioner, room
) -> None:
    # A later session of another patient: the preview must not fall back on it when one is chosen.
    later = book(
        CourseFactory(patient=consenting_patient(first_name="Beatrice"), location=location),
        practitioner,
        room,
        london(3, 20, 11),
    )
    preview_url = reverse("admin:aftercare_aftercarestep_preview", args=[step("day-14-first-results").pk])

    chosen = clinic_admin.get(preview_url, {"session": str(treated.pk)})
    latest = clinic_admin.get(preview_url)

    assert chosen.status_code == 200
    page = chosen.content.decode()
    assert "Dear Amelia," in page
    assert "Beatrice" in page  # only as an option in the session picker
    assert "Dear Beatrice," not in page
    assert "book the next one between Tuesday 17 March 2026 and Tuesday 31 March 2026" in page
    assert "+442079460000" in page
    assert chosen.context["session"] == treated
    assert latest.context["session"] == later
    assert "Dear Beatrice," in latest.content.decode()


def test_the_preview_needs_a_staff_login(client, treated) -> None:
    response = client.get(reverse("admin:aftercare_aftercarestep_preview", args=[step().pk]))

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


# --- the outbox ------------------------------------------------------------------------


def run_action(client: Any, url: str, action: str, *objects: Any) -> Any:
    return client.post(url, {"action": action, "_selected_action": [str(o.pk) for o in objects]}, follow=True)


def test_cancel_pending_cancels_only_the_pending_messages_selected(clinic_admin, clock) -> None:
    pending = ScheduledMessageFactory(due_at=london(3, 5))
    other_pending = ScheduledMessageFactory(due_at=london(3, 6))
    sent = ScheduledMessageFactory(status=MessageStatus.SENT, due_at=london(3, 1))
    clock.move_to(london(3, 2, 9, 30))

    response = run_action(
        clinic_admin, reverse("admin:aftercare_scheduledmessage_changelist"), "cancel_pending", pending, sent
    )

    assert response.status_code == 200
    assert "Cancelled 1 message(s)." in flash_messages(response)
    pending.refresh_from_db()
    assert (pending.status, pending.cancelled_at, pending.updated_at, pending.cancelled_by.username) == (
        MessageStatus.CANCELLED,
        london(3, 2, 9, 30),
        london(3, 2, 9, 30),
        "clinicadmin",
    )
    assert ScheduledMessage.objects.get(pk=sent.pk).status == MessageStatus.SENT
    assert ScheduledMessage.objects.get(pk=other_pending.pk).status == MessageStatus.PENDING


def test_retry_failed_queues_the_failed_messages_again_now(clinic_admin, clock) -> None:
    failed = ScheduledMessageFactory(
        status=MessageStatus.FAILED, attempts=6, last_error="SMTP 554 rejected", due_at=london(3, 1)
    )
    sent = ScheduledMessageFactory(status=MessageStatus.SENT, attempts=1, due_at=london(3, 1))
    clock.move_to(london(3, 2, 9, 30))

    response = run_action(
        clinic_admin, reverse("admin:aftercare_scheduledmessage_changelist"), "retry_failed", failed, sent
    )

    assert "Queued 1 message(s) again." in flash_messages(response)
    failed.refresh_from_db()
    assert (failed.status, failed.due_at, failed.attempts, failed.last_error) == (
        MessageStatus.PENDING,
        london(3, 2, 9, 30),
        0,
        "",
    )
    assert ScheduledMessage.objects.get(pk=sent.pk).status == MessageStatus.SENT


def test_a_message_is_read_in_the_admin_but_never_edited(clinic_admin, treated) -> None:
    message = ScheduledMessage.objects.get(session=treated, step__code=STEP_CODE)
    url = reverse("admin:aftercare_scheduledmessage_change", args=[message.pk])

    page = clinic_admin.get(url)
    clinic_admin.post(url, {"body": "Changed", "status": "sent", "_save": "Save"})

    assert page.status_code == 200
    assert "Days 3 to 7 are early recovery" in page.content.decode()
    message.refresh_from_db()
    assert (message.status, message.body.startswith("Dear Amelia,")) == (MessageStatus.PENDING, True)


# --- side-effect reports -----------------------------------------------------------------


def report_form(patient: Any, session: Any, symptoms: list[str], **extra: str) -> dict[str, Any]:
    return {
        "patient": str(patient.pk),
        "session": str(session.pk) if session else "",
        "symptoms": symptoms,
        "severity": "moderate",
        "onset_on": "2026-03-04",
        "notes": "",
        "_save": "Save",
        **extra,
    }


def test_a_red_flag_report_filed_in_the_admin_alerts_the_practitioner(clinic_admin, clock, treated, admin_user) -> None:
    clock.move_to(london(3, 4, 21))

    response = clinic_admin.post(
        reverse("admin:aftercare_sideeffectreport_add"),
        report_form(treated.course.patient, treated, ["swelling", "itching"], notes="Itchy since lunch."),
    )

    assert response.status_code == 302, form_errors(response)
    report = SideEffectReport.objects.get()
    assert (report.is_red_flag, report.red_flag_reasons, report.reported_by) == (True, "itching", admin_user)
    alert = ScheduledMessage.objects.get(kind=MessageKind.RED_FLAG_ALERT, to_address="dr.evans@clinic.example")
    assert (alert.to_address, alert.due_at, alert.status) == (
        "dr.evans@clinic.example",
        london(3, 4, 21),
        MessageStatus.PENDING,
    )
    assert "Itchy since lunch." in alert.body


def test_a_report_of_expected_effects_filed_in_the_admin_raises_no_alert(clinic_admin, clock, treated) -> None:
    clock.move_to(london(3, 4, 12))

    response = clinic_admin.post(
        reverse("admin:aftercare_sideeffectreport_add"), report_form(treated.course.patient, treated, ["redness"])
    )

    assert response.status_code == 302, form_errors(response)
    assert SideEffectReport.objects.get().is_red_flag is False
    assert not ScheduledMessage.objects.filter(kind=MessageKind.RED_FLAG_ALERT).exists()


def test_a_report_from_the_future_is_a_form_error_and_writes_nothing(clinic_admin, clock, treated) -> None:
    clock.move_to(london(3, 4, 12))

    response = clinic_admin.post(
        reverse("admin:aftercare_sideeffectreport_add"),
        report_form(treated.course.patient, treated, ["rash"], onset_on="2026-03-09"),
    )

    assert response.status_code == 200
    assert "cannot begin in the future" in form_errors(response)
    assert SideEffectReport.objects.count() == 0
    assert not ScheduledMessage.objects.filter(kind=MessageKind.RED_FLAG_ALERT).exists()


def test_the_treating_practitioner_resolves_a_report_with_their_own_note(
    practitioner_client, clock, treated, practitioner
) -> None:
    clock.move_to(london(3, 4, 12))
    report = side_effect_report_create(
        patient=treated.course.patient,
        symptoms=["fever"],
        severity="moderate",
        onset_on=london(3, 4).date(),
        actor=None,
    )
    clock.move_to(london(3, 4, 14))
    change_page = practitioner_client.get(reverse("admin:aftercare_sideeffectreport_change", args=[report.pk]))
    resolve_url = reverse("admin:aftercare_sideeffectreport_resolve", args=[report.pk])
    assert resolve_url in change_page.content.decode()

    unwritten = practitioner_client.post(resolve_url, {"resolution_note": ""})
    response = practitioner_client.post(resolve_url, {"resolution_note": "Phoned: fever settled, no pus. Reviewed."})

    assert unwritten.status_code == 200, "a note is required"
    assert response.status_code == 302
    report.refresh_from_db()
    assert (report.resolved_by, report.resolved_at, report.resolution_note) == (
        practitioner,
        london(3, 4, 14),
        "Phoned: fever settled, no pus. Reviewed.",
    )


def test_only_a_treating_practitioner_may_resolve_in_the_admin(clinic_admin, client, clock, treated, location) -> None:
    clock.move_to(london(3, 4, 12))
    report = side_effect_report_create(
        patient=treated.course.patient,
        symptoms=["fever"],
        severity="moderate",
        onset_on=london(3, 4).date(),
        actor=None,
    )
    resolve_url = reverse("admin:aftercare_sideeffectreport_resolve", args=[report.pk])
    change_url = reverse("admin:aftercare_sideeffectreport_change", args=[report.pk])
    colleague = in_role(PractitionerFactory(locations=[location]).user, PRACTITIONER)
    client.force_login(colleague)

    assert resolve_url not in clinic_admin.get(change_url).content.decode()
    assert clinic_admin.post(resolve_url, {"resolution_note": "Seen."}).status_code == 403
    assert client.post(resolve_url, {"resolution_note": "Seen."}).status_code == 403
    report.refresh_from_db()
    assert report.resolved_at is None


def test_the_report_list_shows_red_flags(clinic_admin, clock, treated) -> None:
    clock.move_to(london(3, 4, 12))
    side_effect_report_create(
        patient=treated.course.patient, symptoms=["pus"], severity="mild", onset_on=london(3, 4).date(), actor=None
    )

    response = clinic_admin.get(reverse("admin:aftercare_sideeffectreport_changelist"), {"is_red_flag__exact": "1"})

    assert response.status_code == 200
    assert "RED FLAG" in response.content.decode()
    assert "pus (sign of infection)" in response.content.decode()
