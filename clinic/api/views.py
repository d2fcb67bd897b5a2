"""Answers for API requests that never reach a DRF view: still JSON, in the shape of every API error."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views import csrf
from django.views.decorators.csrf import csrf_exempt

from clinic.api.responses import api_error

API_PREFIX = "/api/"


@csrf_exempt  # a POST to an unknown URL is a 404, not a CSRF page
def api_not_found(request: HttpRequest, rest: str) -> HttpResponse:
    """JSON 404 for unknown API URLs, whatever the method."""
    return api_error(404, "not_found", f"No API endpoint at {request.path}.")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: JSON under /api/ (a browser session without its CSRF token), Django's page elsewhere."""
    if request.path.startswith(API_PREFIX):
        return api_error(403, "csrf_failed", f"CSRF check failed: {reason} Send the X-CSRFToken header.")
    return csrf.csrf_failure(request, reason)
