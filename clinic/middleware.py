from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

# The staff's pages: the admin, and the front desk's pages in its look.
STAFF_PAGES = ("/admin/", "/frontdesk/")


class AdminLocalTimeMiddleware:
    """Show and read times on staff pages in the clinic's zone instead of UTC.

    Staff type "10:00" meaning 10:00 at the clinic; the API keeps speaking
    UTC offsets, which machines prefer.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.zone = ZoneInfo(settings.CLINIC_DEFAULT_TIME_ZONE)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(STAFF_PAGES):
            with timezone.override(self.zone):
                return self.get_response(request)
        return self.get_response(request)
