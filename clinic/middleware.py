from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from clinic.api.responses import api_error

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


class ApiBodyLimitMiddleware:
    """An API request body over DATA_UPLOAD_MAX_MEMORY_SIZE gets 413 in JSON, before anything reads it.

    Django would raise RequestDataTooBig wherever the body is first read (an
    HTML 400, or a 500 inside a view); refusing on the declared length is the
    same check, made once, up front.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return api_error(400, "invalid_content_length", "Content-Length is not a number.")
            if limit is not None and length > limit:
                return self._too_large(limit)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if request.path.startswith("/api/") and isinstance(exception, RequestDataTooBig):
            return self._too_large(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        return None

    @staticmethod
    def _too_large(limit: int | None) -> HttpResponse:
        return api_error(413, "request_too_large", f"The request body is over the limit of {limit:,} bytes.")


class NoStoreMiddleware:
    """Responses of the API and the front desk's pages carry patient data: no cache may keep them.

    (The admin's own views already send never-cache headers.)
    """

    PREFIXES = ("/api/v1/", "/frontdesk/")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(self.PREFIXES):
            response["Cache-Control"] = "no-store"
        return response
