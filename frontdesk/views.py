"""The front desk's pages, in the admin's look (they extend its base template and need a staff login)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from aftercare.selectors import open_inbox_count
from clinic.admin_forms import came_from
from clinic.errors import DomainError
from frontdesk import calendar
from frontdesk.patient_card import patient_card
from frontdesk.worklist import KIND_LABELS, KINDS, worklist_rows
from patients.models import Patient
from patients.selectors import clinical_access, patient_list
from patients.selectors import patient_search as patient_search_in
from treatments import selectors, services
from treatments.followup import FIRST_SESSION, course_followup
from treatments.models import CancelReason, Course, CourseStatus, Location, Practitioner, Protocol, Room, Session

PAGE_SIZE = 100
BOOKABLE_COURSE_STATUSES = (CourseStatus.PLANNED, CourseStatus.ACTIVE, CourseStatus.MAINTENANCE)


def worklist_page(request: HttpRequest) -> HttpResponse:
    """The follow-up worklist, a page of the most urgent at a time; each Book link finds a slot only when clicked."""
    if not request.user.has_perm("treatments.view_course"):
        raise PermissionDenied
    kind = request.GET.get("kind") if request.GET.get("kind") in KINDS else None
    # A link for someone who may not follow it would lead to a refusal.
    may_book = request.user.has_perm("treatments.add_session")
    may_log = request.user.has_perm("frontdesk.add_contactattempt")
    log_call = reverse("admin:frontdesk_contactattempt_add")
    # The inbox of patients' texts: its open count on top, and a marker on the rows of patients with texts in it.
    sees_inbox = request.user.has_perm("aftercare.view_inboundmessage")
    inbox_url = reverse("admin:aftercare_inboundmessage_changelist")
    page = Paginator(worklist_rows(kind=kind), PAGE_SIZE).get_page(request.GET.get("page"))
    here = request.get_full_path()
    entries = [
        {
            "row": row,
            "book_url": reverse("frontdesk:worklist-book", args=[row.course_id]) + f"?{urlencode({'next': here})}"
            if may_book and row.course_id and row.window_start
            else None,
            "log_call_url": f"{log_call}?{urlencode({'course': str(row.course_id)})}"
            if may_log and row.course_id
            else None,
            "inbox_url": f"{inbox_url}?{urlencode({'status': 'open', 'patient__id__exact': str(row.patient_id)})}"
            if sees_inbox and row.open_inbox_messages
            else None,
        }
        for row in page.object_list
    ]
    context = {
        **admin.site.each_context(request),
        "title": "Follow-up worklist",
        "entries": entries,
        "inbox_open": open_inbox_count() if sees_inbox else None,
        "inbox_url": f"{inbox_url}?status=open" if sees_inbox else None,
        "page": page,
        "kinds": KIND_LABELS,
        "kind": kind,
    }
    return TemplateResponse(request, "frontdesk/worklist.html", context)


def _next_booking(course: Course) -> selectors.BookingSuggestion | None:
    """Where the course's next session might go (the last practitioner's first free slot in the window), or
    None when no window is open. Worked out on click, not for every row: availability costs a few queries."""
    followup = course_followup(course)
    window = followup.window
    if window is None and followup.kind == FIRST_SESSION and followup.window_start is not None:
        # A first session has no spacing window: look over the next few weeks.
        window = (followup.window_start, course.location.today() + timedelta(days=selectors.MAX_AVAILABILITY_DAYS - 1))
    if window is None:
        return None
    last_practitioner = (
        Practitioner.objects.filter(pk=followup.last_practitioner_id).first() if followup.last_practitioner_id else None
    )
    return selectors.suggest_booking(course=course, window=window, last_practitioner=last_practitioner)


def book_from_worklist(request: HttpRequest, course_id: str) -> HttpResponse:
    """Open the booking form pre-filled with the last practitioner's first free slot in the window.

    Worked out here, on click, not for every row of the worklist: availability
    costs a few queries per course.
    """
    if not request.user.has_perm("treatments.add_session"):
        raise PermissionDenied
    course = get_object_or_404(Course.objects.select_related("protocol", "location"), pk=course_id)
    suggestion = _next_booking(course)
    if suggestion is None:
        raise Http404("This course has no open window.")
    # The admin's form reads and shows times in the clinic's zone.
    local_start = suggestion.starts_at.astimezone(timezone.get_current_timezone())
    query = {"course": str(course.pk), "starts_at": f"{local_start:%Y-%m-%d %H:%M}"}
    back = came_from(request)
    if back:
        query["next"] = back
    if suggestion.practitioner_id:
        query["practitioner"] = str(suggestion.practitioner_id)
    if suggestion.room_id:
        query["room"] = str(suggestion.room_id)
    return HttpResponseRedirect(f"{reverse('admin:treatments_session_add')}?{urlencode(query)}")


# --- the calendar -----------------------------------------------------------------------------------------


def _calendar_location(request: HttpRequest) -> Location:
    """The location asked for (?location=), else the first one; 404 when there is none."""
    locations = Location.objects.order_by("name")
    wanted = request.GET.get("location")
    if wanted:
        try:
            return get_object_or_404(locations, pk=wanted)
        except ValidationError:
            raise Http404("No such location.") from None
    location = locations.first()
    if location is None:
        raise Http404("No location yet: add one in the admin.")
    return location


def calendar_page(request: HttpRequest) -> HttpResponse:
    """A location's day or week, one column per practitioner (or room); booked sessions move by dragging."""
    if not request.user.has_perm("treatments.view_session"):
        raise PermissionDenied
    location = _calendar_location(request)
    by = calendar.columns_asked(request.GET.get("by"))
    try:
        day = date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        day = location.today()
    suggestion = _calendar_suggestion(request, location)
    if suggestion is not None:
        day = date.fromisoformat(suggestion["start"][:10])
    opens, closes = calendar.day_bounds(location)
    config = {
        "eventsUrl": reverse("frontdesk:calendar-events"),
        "moveUrl": reverse("frontdesk:calendar-move", args=[UUID(int=0)]),
        "checkInUrl": reverse("frontdesk:session-action", args=[UUID(int=0), "check-in"]),
        "completeUrl": reverse("admin:treatments_session_complete", args=[UUID(int=0)]),
        "sessionUrl": reverse("admin:treatments_session_change", args=[UUID(int=0)]),
        "cancelUrl": reverse("frontdesk:session-cancel", args=[UUID(int=0)]),
        "noShowUrl": reverse("frontdesk:session-action", args=[UUID(int=0), "no-show"]),
        "startTreatmentUrl": reverse("frontdesk:session-action", args=[UUID(int=0), "start-treatment"]),
        "location": str(location.pk),
        "by": by,
        "date": day.isoformat(),
        "view": "resourceTimeGridWeek" if request.GET.get("view") == "week" else "resourceTimeGridDay",
        "resources": calendar.calendar_columns(location, by=by),
        "practitioners": calendar.calendar_columns(location, by=calendar.BY_PRACTITIONER),
        "rooms": calendar.calendar_columns(location, by=calendar.BY_ROOM),
        "mayBook": request.user.has_perm("treatments.add_session"),
        "searchUrl": reverse("frontdesk:patient-search"),
        "coursesUrl": reverse("frontdesk:patient-courses", args=[UUID(int=0)]),
        "checkUrl": reverse("frontdesk:calendar-check"),
        "bookUrl": reverse("frontdesk:calendar-book"),
        "startCourseUrl": reverse("frontdesk:calendar-start-course"),
        "mayStartCourse": request.user.has_perm("treatments.add_course"),
        "protocols": [
            {"id": str(protocol.pk), "title": protocol.name}
            for protocol in Protocol.objects.filter(is_active=True).order_by("name")
        ],
        "businessHours": calendar.business_hours(location),
        "slotMinTime": opens,
        "slotMaxTime": closes,
        "mayMove": request.user.has_perm("treatments.change_session"),
        "suggestion": suggestion,
        # The clinic's language for day names and a 24-hour clock, as the rest of the admin ("en-gb").
        "locale": translation.get_language() or settings.LANGUAGE_CODE,
    }
    context = {
        **admin.site.each_context(request),
        "title": f"Calendar: {location.name}",
        "location": location,
        "locations": Location.objects.order_by("name"),
        "by": by,
        "calendar_config": config,
    }
    return TemplateResponse(request, "frontdesk/calendar.html", context)


def _calendar_suggestion(request: HttpRequest, location: Location) -> dict[str, Any] | None:
    """With ?course= (the card's and the worklist's "Book next"): the booking dialog opened at the course's
    first free slot in its window, patient and course chosen; None without it, or with no slot to offer."""
    wanted = request.GET.get("course")
    if not wanted or not request.user.has_perm("treatments.add_session"):
        return None
    try:
        course = Course.objects.select_related("protocol", "location", "patient").get(pk=wanted, location=location)
    except (Course.DoesNotExist, ValidationError):
        return None
    suggestion = _next_booking(course)
    if suggestion is None:
        return None
    return {
        "start": suggestion.starts_at.astimezone(location.time_zone).strftime("%Y-%m-%dT%H:%M:%S"),
        "practitioner": str(suggestion.practitioner_id or ""),
        "room": str(suggestion.room_id or ""),
        "course": str(course.pk),
        "courseLabel": f"{course.protocol.name} at {location.name}",
        "patient": f"{course.patient.first_name} {course.patient.last_name}",
    }


def calendar_events(request: HttpRequest) -> JsonResponse:
    """The sessions of ?location= from ?start= to ?end= (local dates, end excluded), as calendar events."""
    if not request.user.has_perm("treatments.view_session"):
        return JsonResponse({"detail": "You may not see sessions."}, status=403)
    try:
        location = Location.objects.get(pk=request.GET.get("location", ""))
    except (Location.DoesNotExist, ValidationError):
        return JsonResponse({"attr": "location", "detail": "No such location."}, status=400)
    try:
        days = calendar.parse_range(location, request.GET.get("start"), request.GET.get("end"))
    except ValueError as problem:
        attr, _, detail = str(problem).partition(": ")
        return JsonResponse({"attr": attr, "detail": detail}, status=400)
    by = calendar.columns_asked(request.GET.get("by"))
    return JsonResponse(calendar.calendar_events(days, by=by, viewer=_calendar_viewer(request)), safe=False)


def _calendar_viewer(request: HttpRequest) -> calendar.Viewer:
    user: Any = request.user
    practitioner = Practitioner.objects.filter(user_id=user.pk, is_active=True).values_list("pk", flat=True).first()
    return calendar.Viewer(
        may_change=user.has_perm("treatments.change_session"),
        practitioner_id=practitioner,
        may_complete=practitioner is not None
        and user.has_perms(["treatments.change_session", "treatments.complete_session"]),
    )


@require_POST
def calendar_move(request: HttpRequest, session_id: UUID) -> JsonResponse:
    """Move a booked session to another start (local wall clock) and column, through the booking rules.

    Body: {"start": "YYYY-MM-DDTHH:MM[:SS]", "by": "practitioner"|"room", "resource": "<id>"}. A refusal is a
    400 whose `detail` says why in the clinic's words (and `earliest_start` when a rule gives one); the
    calendar puts the block back and shows it.
    """
    if not request.user.has_perm("treatments.change_session"):
        return JsonResponse({"detail": "You may not move sessions."}, status=403)
    session = Session.objects.select_related("location").filter(pk=session_id).first()
    if session is None:
        return JsonResponse({"detail": "There is no such session."}, status=404)
    zone = session.location.time_zone
    try:
        body = _json_body(request)
        starts_at = _local_start(body, zone)
        change: dict[str, Any] = {}
        if body.get("resource"):
            column = "room" if body.get("by") == calendar.BY_ROOM else "practitioner"
            change = _rows_named({column: body["resource"]}, ((column, Room if column == "room" else Practitioner),))
    except _BadBody as bad:
        return bad.response()
    try:
        moved = services.session_reschedule(session=session, starts_at=starts_at, actor=request.user, **change)
    except (DomainError, ValidationError) as refusal:
        refused, status = _refusal_body(refusal, zone)
        return JsonResponse(refused, status=status)
    return JsonResponse({"id": str(moved.pk), "start": moved.starts_at.astimezone(zone).isoformat()})


# --- today's appointments ---------------------------------------------------------------------------------

TODAY_SPANS = {"today": (0, 1, "Today"), "tomorrow": (1, 2, "Tomorrow"), "week": (0, 7, "Next 7 days")}


def today_page(request: HttpRequest) -> HttpResponse:
    """A location's appointments of today (tomorrow, or the next 7 days), by time, with check-in from the row."""
    if not request.user.has_perm("treatments.view_session"):
        raise PermissionDenied
    location = _calendar_location(request)
    asked = request.GET.get("span", "today")
    span = asked if asked in TODAY_SPANS else "today"
    first_offset, after_offset, label = TODAY_SPANS[span]
    today = location.today()
    days = calendar.Range(
        location=location, first=today + timedelta(days=first_offset), after=today + timedelta(days=after_offset)
    )
    viewer = _calendar_viewer(request)
    rows = []
    for session in calendar.calendar_sessions(days):
        event = calendar.session_event(session, location=location, by=calendar.BY_PRACTITIONER, viewer=viewer)
        rows.append({"session": session, "event": event, "phone": session.course.patient.phone})
    context = {
        **admin.site.each_context(request),
        "title": f"{label}: {location.name}",
        "location": location,
        "locations": Location.objects.order_by("name"),
        "span": span,
        "spans": [(key, value[2]) for key, value in TODAY_SPANS.items()],
        "rows": rows,
        "multi_day": after_offset - first_offset > 1,
    }
    return TemplateResponse(request, "frontdesk/today.html", context)


# --- the search box -------------------------------------------------------------------------------------

SEARCH_RESULTS = 10
# Dates of birth as people type them: ISO, and day first (the clinic's way) with / . or -.
BIRTH_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y")


def typed_birth_date(text: str) -> date | None:
    for format_ in BIRTH_DATE_FORMATS:
        try:
            return datetime.strptime(text.strip(), format_).date()  # noqa: DTZ007 - a date, no time or zone
        except ValueError:
            continue
    return None


def patient_search(request: HttpRequest) -> JsonResponse:
    """Patients for the header's search box (?q=, two characters at least): by name, phone in any format,
    email or date of birth; the first few by name."""
    if not request.user.has_perm("patients.view_patient"):
        return JsonResponse({"detail": "You may not see patients."}, status=403)
    text = request.GET.get("q", "").strip()
    if len(text) < 2:
        return JsonResponse({"attr": "q", "detail": "Type two characters at least."}, status=400)
    born = typed_birth_date(text)
    patients = patient_list().filter(erased_at__isnull=True)
    if born is not None:
        found = patients.filter(date_of_birth=born)
    else:
        found = patient_search_in(patients, words=text.split(), term=text)
    results = [
        {
            "id": str(patient.pk),
            "name": f"{patient.first_name} {patient.last_name}",
            "date_of_birth": patient.date_of_birth.strftime("%d/%m/%Y"),
            "phone": patient.phone.as_national if patient.phone else "",
            "email": patient.email,
            "url": reverse("frontdesk:patient-card", args=[patient.pk]),
        }
        for patient in found.order_by("last_name", "first_name", "id")[:SEARCH_RESULTS]
    ]
    return JsonResponse({"results": results})


# --- booking from the calendar --------------------------------------------------------------------------


def _bookable_minute(moment: datetime, zone: Any) -> str:
    """`moment` as a local wall clock, rounded up to the whole minute: a rule's earliest start is measured
    from an instant with seconds, and a booking offered at the minute before it would be refused again."""
    rounded = moment.replace(second=0, microsecond=0)
    if rounded < moment:
        rounded += timedelta(minutes=1)
    return rounded.astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S")


class _DryRun(Exception):
    """Raised inside a booking to roll it back: the verdict without the booking."""


def _refusal_body(refusal: Exception, zone: Any) -> tuple[dict[str, Any], int]:
    """What a refused booking says, in the clinic's words, with the earliest allowed start when a rule gives one."""
    if isinstance(refusal, DomainError):
        body: dict[str, Any] = {"ok": False, "detail": refusal.message, "attr": refusal.field, "rule": refusal.code}
        earliest = getattr(refusal, "earliest_start", None)
        if earliest is not None:
            body["earliest_start"] = _bookable_minute(earliest, zone)
        return body, refusal.status_code  # 409 for a taken slot or a wrong state, 403 when not permitted
    assert isinstance(refusal, ValidationError)  # noqa: S101 - the only other kind caught
    said = [message for field_messages in refusal.message_dict.values() for message in field_messages]
    return {"ok": False, "detail": " ".join(said)}, 400


class _BadBody(Exception):
    """A JSON body the front desk's endpoints cannot use: a 400 naming the field."""

    def __init__(self, detail: str, attr: str | None = None) -> None:
        super().__init__(detail)
        self.detail, self.attr = detail, attr

    def response(self) -> JsonResponse:
        return JsonResponse({"ok": False, "attr": self.attr, "detail": self.detail}, status=400)


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise _BadBody("The body must be a JSON object.")
    return body


def _rows_named(body: dict[str, Any], models: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    """The rows whose ids `body` gives under each name, by name; _BadBody naming the first that is no row."""
    found: dict[str, Any] = {}
    for name, model in models:
        try:
            found[name] = model.objects.get(pk=str(body.get(name, "")))
        except (model.DoesNotExist, ValidationError, ValueError):
            raise _BadBody(f"No such {name}.", name) from None
    return found


def _local_start(body: dict[str, Any], zone: Any) -> datetime:
    """`start`: a wall-clock time at the location (the calendar's), made aware in its zone."""
    try:
        return datetime.fromisoformat(str(body.get("start", ""))).replace(tzinfo=zone)
    except ValueError:
        raise _BadBody("A local date and time.", "start") from None


def _booking_request(request: HttpRequest) -> dict[str, Any]:
    """The course, practitioner, room and local start of a booking body; _BadBody naming what is wrong."""
    body = _json_body(request)
    found = _rows_named(body, (("course", Course), ("practitioner", Practitioner), ("room", Room)))
    found["starts_at"] = _local_start(body, found["room"].location.time_zone)
    return found


def _book(request: HttpRequest, *, dry_run: bool) -> JsonResponse:
    if not request.user.has_perm("treatments.add_session"):
        return JsonResponse({"ok": False, "detail": "You may not book sessions."}, status=403)
    try:
        booking = _booking_request(request)
    except _BadBody as bad:
        return bad.response()
    zone = booking["room"].location.time_zone
    try:
        with transaction.atomic():
            session = services.session_book(actor=request.user, **booking)
            if dry_run:
                raise _DryRun
    except _DryRun:
        return JsonResponse({"ok": True, "detail": "The rules allow this booking."})
    except (DomainError, ValidationError) as refusal:
        body, status = _refusal_body(refusal, zone)
        return JsonResponse(body, status=status)
    return JsonResponse(
        {"ok": True, "id": str(session.pk), "start": session.starts_at.astimezone(zone).isoformat()}, status=201
    )


@require_POST
def calendar_check_booking(request: HttpRequest) -> JsonResponse:
    """The booking rules' verdict on a booking, without making it: the booking is made and rolled back, so
    the verdict is exactly what booking would say (spacing, conflicts, opening hours, medical review, a taken
    slot), with the earliest allowed start when a rule gives one."""
    return _book(request, dry_run=True)


@require_POST
def calendar_book(request: HttpRequest) -> JsonResponse:
    """Book: {"course", "practitioner", "room", "start": local wall clock} (services.session_book)."""
    return _book(request, dry_run=False)


def patient_courses(request: HttpRequest, patient_id: UUID) -> JsonResponse:
    """A patient's courses that take another session (planned, active, maintenance), for the booking dialog."""
    if not request.user.has_perm("treatments.view_course"):
        return JsonResponse({"detail": "You may not see courses."}, status=403)
    courses = (
        Course.objects.filter(patient_id=patient_id, status__in=BOOKABLE_COURSE_STATUSES)
        .select_related("protocol", "location")
        .order_by("-created_at")
    )
    return JsonResponse(
        {
            "results": [
                {
                    "id": str(course.pk),
                    "label": f"{course.protocol.name} at {course.location.name}"
                    f" ({course.get_status_display().lower()})",
                    "location": str(course.location_id),
                }
                for course in courses
            ]
        }
    )


# --- the patient card -------------------------------------------------------------------------------------


def patient_card_page(request: HttpRequest, patient_id: UUID) -> HttpResponse:
    """One patient: alerts, courses, sessions (with their actions), messages, reports and consents."""
    if not request.user.has_perm("patients.view_patient"):
        raise PermissionDenied
    patient = get_object_or_404(Patient, pk=patient_id, erased_at__isnull=True)
    sees_inbox = request.user.has_perm("aftercare.view_inboundmessage")
    card = patient_card(patient, sees_clinical=clinical_access(request.user).covers(patient.pk), sees_inbox=sees_inbox)
    here = request.get_full_path()
    may = request.user.has_perm
    context = {
        **admin.site.each_context(request),
        "title": f"{patient.first_name} {patient.last_name}",
        "card": card,
        "patient": patient,
        "here": here,
        "now": timezone.now(),
        "today": timezone.localdate(),
        "may_book": may("treatments.add_session"),
        "may_change_session": may("treatments.change_session"),
        "may_add_consent": may("patients.add_consent"),
        "may_log_call": may("frontdesk.add_contactattempt"),
        "may_report": may("aftercare.add_sideeffectreport"),
        "may_edit_patient": may("patients.change_patient"),
    }
    return TemplateResponse(request, "frontdesk/patient_card.html", context)


def session_cancel_page(request: HttpRequest, session_id: UUID) -> HttpResponse:
    """Cancel a booked session: a confirmation naming the patient and the time, with the reason code."""
    if not request.user.has_perm("treatments.change_session"):
        raise PermissionDenied
    session = get_object_or_404(Session.objects.select_related("course__patient", "location"), pk=session_id)
    back = came_from(request) or reverse("frontdesk:patient-card", args=[session.course.patient_id])
    error = ""
    if request.method == "POST":
        reason = request.POST.get("reason", "")
        if reason not in CancelReason.values:
            error = "Choose why the session is cancelled."
        else:
            try:
                services.session_cancel(
                    session=session, reason=reason, note=request.POST.get("note", "")[:2000], actor=request.user
                )
            except (DomainError, ValidationError) as refusal:
                error = refusal.message if isinstance(refusal, DomainError) else " ".join(refusal.messages)
            else:
                messages.success(request, f"Cancelled: {session.course.patient}, {session.local_start_text()}.")
                return HttpResponseRedirect(back)
    context = {
        **admin.site.each_context(request),
        "title": f"Cancel {session.course.patient}'s session on {session.local_start_text()}?",
        "session": session,
        "reasons": CancelReason.choices,
        "back": back,
        "error": error,
    }
    return TemplateResponse(request, "frontdesk/session_cancel.html", context, status=400 if error else 200)


@require_POST
def session_action(request: HttpRequest, session_id: UUID, action: str) -> HttpResponse:
    """Check-in or no-show from a page's row, then back where the user came from, saying what happened."""
    if not request.user.has_perm("treatments.change_session"):
        raise PermissionDenied
    session = get_object_or_404(Session.objects.select_related("course__patient"), pk=session_id)
    back = came_from(request) or reverse("frontdesk:patient-card", args=[session.course.patient_id])
    doing = {
        "check-in": (services.session_check_in, "checked in"),
        "no-show": (services.session_mark_no_show, "marked as a no-show"),
        "start-treatment": (services.session_start_treatment, "in treatment"),
    }
    if action not in doing:
        raise Http404("No such action.")
    service, done = doing[action]
    try:
        service(session=session, actor=request.user)
    except (DomainError, ValidationError) as refusal:
        said = refusal.message if isinstance(refusal, DomainError) else " ".join(refusal.messages)
        messages.error(request, f"{session.course.patient}: not {done}. {said}")
    else:
        messages.success(request, f"{session.course.patient} {done}.")
    return HttpResponseRedirect(back)


@require_POST
def calendar_start_course(request: HttpRequest) -> JsonResponse:
    """Start a course from the booking dialog: {"patient", "protocol", "location"} (services.course_create)."""
    if not request.user.has_perm("treatments.add_course"):
        return JsonResponse({"ok": False, "detail": "You may not start courses."}, status=403)
    try:
        found = _rows_named(_json_body(request), (("patient", Patient), ("protocol", Protocol), ("location", Location)))
    except _BadBody as bad:
        return bad.response()
    try:
        course = services.course_create(actor=request.user, **found)
    except (DomainError, ValidationError) as refusal:
        refused, status = _refusal_body(refusal, found["location"].time_zone)
        return JsonResponse(refused, status=status)
    return JsonResponse(
        {"ok": True, "id": str(course.pk), "label": f"{course.protocol.name} at {course.location.name} (planned)"},
        status=201,
    )
