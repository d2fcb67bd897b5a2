"""The front desk's pages, in the admin's look (they extend its base template and need a staff login)."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from frontdesk.worklist import KIND_LABELS, KINDS, worklist_rows
from treatments import selectors
from treatments.followup import FIRST_SESSION, course_followup
from treatments.models import Course, Practitioner

PAGE_SIZE = 100


def worklist_page(request: HttpRequest) -> HttpResponse:
    """The follow-up worklist, a page of the most urgent at a time; each Book link finds a slot only when clicked."""
    if not request.user.has_perm("treatments.view_course"):
        raise PermissionDenied
    kind = request.GET.get("kind") if request.GET.get("kind") in KINDS else None
    # A link for someone who may not follow it would lead to a refusal.
    may_book = request.user.has_perm("treatments.add_session")
    may_log = request.user.has_perm("frontdesk.add_contactattempt")
    log_call = reverse("admin:frontdesk_contactattempt_add")
    page = Paginator(worklist_rows(kind=kind), PAGE_SIZE).get_page(request.GET.get("page"))
    entries = [
        {
            "row": row,
            "book_url": reverse("frontdesk:worklist-book", args=[row.course_id])
            if may_book and row.course_id and row.window_start
            else None,
            "log_call_url": f"{log_call}?{urlencode({'course': str(row.course_id)})}"
            if may_log and row.course_id
            else None,
        }
        for row in page.object_list
    ]
    context = {
        **admin.site.each_context(request),
        "title": "Follow-up worklist",
        "entries": entries,
        "page": page,
        "kinds": KIND_LABELS,
        "kind": kind,
    }
    return TemplateResponse(request, "frontdesk/worklist.html", context)


def book_from_worklist(request: HttpRequest, course_id: str) -> HttpResponse:
    """Open the booking form pre-filled with the last practitioner's first free slot in the window.

    Worked out here, on click, not for every row of the worklist: availability
    costs a few queries per course.
    """
    if not request.user.has_perm("treatments.add_session"):
        raise PermissionDenied
    course = get_object_or_404(Course.objects.select_related("protocol", "location"), pk=course_id)
    followup = course_followup(course)
    window = followup.window
    if window is None and followup.kind == FIRST_SESSION and followup.window_start is not None:
        # A first session has no spacing window: look over the next few weeks.
        window = (followup.window_start, course.location.today() + timedelta(days=selectors.MAX_AVAILABILITY_DAYS - 1))
    if window is None:
        raise Http404("This course has no open window.")
    last_practitioner = (
        Practitioner.objects.filter(pk=followup.last_practitioner_id).first() if followup.last_practitioner_id else None
    )
    suggestion = selectors.suggest_booking(course=course, window=window, last_practitioner=last_practitioner)
    # The admin's form reads and shows times in the clinic's zone.
    local_start = suggestion.starts_at.astimezone(timezone.get_current_timezone())
    query = {"course": str(course.pk), "starts_at": f"{local_start:%Y-%m-%d %H:%M}"}
    if suggestion.practitioner_id:
        query["practitioner"] = str(suggestion.practitioner_id)
    if suggestion.room_id:
        query["room"] = str(suggestion.room_id)
    return HttpResponseRedirect(f"{reverse('admin:treatments_session_add')}?{urlencode(query)}")
