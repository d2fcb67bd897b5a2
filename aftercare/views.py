"""The patient's own page for a session, opened from a link in a message (no login).

The link's token (aftercare.page_links) is the only key: a malformed,
altered, forged or expired one, or one whose patient has been erased, gets
the same 404 and not a word more. A cancelled or missed session's page shows
the clinic's contact only. The page is server-rendered with its few KB of
CSS inline: no script, no font, no image, no third party, nothing that
tracks; the response asks not to be cached or indexed, and its address is never sent to another site.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from aftercare import timing
from aftercare.check_in_form import SYMPTOM_CHOICES, CheckInForm
from aftercare.contact import clinic_contact
from aftercare.inbox import inbound_message_file
from aftercare.models import InboundIntent, InboundMessage, SideEffectReport
from aftercare.page import is_gone, red_flag_advice, session_for_token, session_page
from aftercare.page_links import patient_of_unsubscribe_token
from aftercare.rendering import locale_of, patient_zone
from aftercare.side_effects import side_effect_report_create
from clinic.actors import PatientActor
from clinic.errors import DomainError
from patients.models import Patient
from patients.services import service_messages_stop
from treatments.models import Course, Session

PAGE_HEADERS = {
    "Cache-Control": "no-store, private",
    # Never the link (the key) to another site; "no-referrer" would also make the browser send
    # "Origin: null" with the check-in form, which CSRF protection rightly refuses.
    "Referrer-Policy": "same-origin",
    "X-Robots-Tag": "noindex, nofollow",
}
# A link is one patient's; more reports (or requests) than this from it in an hour are not a patient checking in.
REPORTS_PER_HOUR = 10
ASK_REFUSED = {
    "too-many": _("We have had many requests from this page: please call us."),
    "failed": _("We could not pass that on: please call us."),
}


def _respond(response: HttpResponse) -> HttpResponse:
    for header, value in PAGE_HEADERS.items():
        response[header] = value
    return response


def _outcome(session_id: UUID, report_id: str | None) -> SideEffectReport | None:
    """The report just sent from this page (its id is in the address it redirected to), if it is this session's."""
    if not report_id:
        return None
    try:
        return SideEffectReport.objects.filter(pk=UUID(report_id), session_id=session_id).first()
    except ValueError:
        return None


@require_http_methods(["GET", "POST"])
def aftercare_page(request: HttpRequest, token: str) -> HttpResponse:
    session = session_for_token(token)
    if session is None:
        return _respond(render(request, "aftercare/page/not_found.html", status=404))
    patient = session.course.patient
    with translation.override(locale_of(patient.language)):
        if is_gone(session):
            context = {"contact": clinic_contact(session.location), "missed": session.status == "no_show"}
            return _respond(render(request, "aftercare/page/gone.html", context, status=410))
        now = timezone.now()
        zone = patient_zone(patient)
        today = now.astimezone(zone).date()
        session_day = (session.completed_at or session.starts_at).astimezone(zone).date()
        page = session_page(session, now=now)
        form = None
        if page.takes_check_in:
            form = CheckInForm(
                request.POST if request.method == "POST" else None,
                request.FILES if request.method == "POST" else None,
                session_day=session_day,
                today=today,
            )
            if request.method == "POST" and form.is_valid():
                recent = SideEffectReport.objects.filter(
                    Q(session=session) & Q(created_at__gte=now - timedelta(hours=1))
                ).count()
                if recent >= REPORTS_PER_HOUR:
                    form.add_error(
                        None, translation.gettext("We have had many reports from this page: please call us.")
                    )
                else:
                    try:
                        report = side_effect_report_create(
                            patient=patient,
                            session=session,
                            symptoms=form.cleaned_data["symptoms"],
                            severity=form.cleaned_data["severity"],
                            onset_on=form.cleaned_data["onset_on"],
                            notes=form.cleaned_data["notes"],
                            photo=form.cleaned_data["photo"],
                            actor=PatientActor(patient_id=patient.pk, door="aftercare page"),
                        )
                    except ValidationError as exc:
                        form.add_error(None, exc)
                    except DomainError as exc:
                        form.add_error(None, str(exc))
                    else:
                        return _respond(HttpResponseRedirect(f"{request.path}?report={report.pk}#outcome"))
        elif request.method == "POST":
            return _respond(HttpResponse(status=405))
        asked = request.GET.get("asked", "")
        context = {
            "token": token,
            "page": page,
            "contact": page.contact,
            "form": form,
            "asked": ASKS.get(asked) or (ASK_REFUSED.get(asked) if asked else None),
            "asked_ok": asked in ASKS,
        }
        context |= _outcome_context(session, _outcome(session.pk, request.GET.get("report")))
        return _respond(render(request, "aftercare/page/session.html", context))


def _outcome_context(session: Session, outcome: SideEffectReport | None) -> dict[str, Any]:
    """What the page says about the report just sent: a red flag's advice, or when each symptom should settle."""
    if outcome is None:
        return {}
    labels = {str(value): label for value, label in SYMPTOM_CHOICES}
    return {
        "report": outcome,
        "report_symptoms": [labels.get(symptom, symptom) for symptom in outcome.symptoms],
        "red_flag_advice": red_flag_advice(session, severe=outcome.severity == "severe")
        if outcome.is_red_flag
        else None,
        "settles_by": []
        if outcome.is_red_flag
        else [
            (labels.get(symptom, symptom), day)
            for symptom, day in timing.settles_by(symptoms=outcome.symptoms, onset_on=outcome.onset_on)
        ],
    }


@csrf_exempt  # RFC 8058: mail clients post the one-click request with no cookie; the token is the key
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """One-click unsubscribe (List-Unsubscribe-Post) and the footer link: a POST revokes messaging consent.

    A GET only asks (a link scanner or a prefetching mail client must not
    unsubscribe anyone); a POST, from the page's button or from the mail
    client's one-click, stops the messages. Asking again changes nothing.
    """
    patient_id = patient_of_unsubscribe_token(token)
    patient = Patient.objects.filter(pk=patient_id, erased_at__isnull=True).first() if patient_id else None
    if patient is None:
        return _respond(render(request, "aftercare/page/not_found.html", status=404))
    latest = Course.objects.filter(patient=patient).select_related("location").order_by("-created_at").first()
    contact = clinic_contact(latest.location if latest else None)
    with translation.override(locale_of(patient.language)):
        if request.method == "POST":
            service_messages_stop(patient=patient, actor=PatientActor(patient_id=patient.pk, door="email unsubscribe"))
        context = {"contact": contact, "stopped": request.method == "POST"}
        return _respond(render(request, "aftercare/page/unsubscribe.html", context))


# What the page's buttons may ask, and what the page then says.
ASKS: dict[str, Any] = {
    InboundIntent.CONFIRM: _("Thank you: your appointment is confirmed."),
    InboundIntent.REBOOK_REQUEST: _("Thank you: the clinic will contact you to find a new time."),
    InboundIntent.BOOKING_REQUEST: _("Thank you: the clinic will contact you to book your next session."),
}
ASK_NOTE_MAX_LENGTH = 500


@require_POST
def aftercare_page_ask(request: HttpRequest, token: str) -> HttpResponse:
    """The page's buttons: confirm the appointment, ask to change it, ask to be booked: into the front desk's inbox.

    The same service files them as files a text saying the same (aftercare.inbox), as the patient.
    """
    session = session_for_token(token)
    if session is None:
        return _respond(render(request, "aftercare/page/not_found.html", status=404))
    patient = session.course.patient
    page = reverse("aftercare-page", args=[token])
    intent = request.POST.get("intent", "")
    note = request.POST.get("note", "").strip()
    if intent not in ASKS or is_gone(session) or len(note) > ASK_NOTE_MAX_LENGTH:
        # Only a hand-made request gets here: the page offers none of these.
        problem = "intent" if intent not in ASKS else "session" if is_gone(session) else "note"
        return _respond(
            HttpResponse(f"Not a request this page makes ({problem}).", status=400, content_type="text/plain")
        )
    an_hour_ago = timezone.now() - timedelta(hours=1)
    if InboundMessage.objects.filter(patient=patient, channel="web", received_at__gte=an_hour_ago).count() >= (
        REPORTS_PER_HOUR
    ):
        return _respond(HttpResponseRedirect(f"{page}?asked=too-many#next"))
    # Confirming is about this appointment; asking to change or to book, about the patient's next one.
    about = session if intent == InboundIntent.CONFIRM else None
    try:
        inbound_message_file(
            patient=patient,
            intent=intent,
            body=note,
            session=about,
            actor=PatientActor(patient_id=patient.pk, door="aftercare page"),
        )
    except (ValidationError, DomainError):
        return _respond(HttpResponseRedirect(f"{page}?asked=failed#next"))
    return _respond(HttpResponseRedirect(f"{page}?asked={intent}#next"))
