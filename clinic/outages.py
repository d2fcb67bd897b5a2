"""A backing service that does not answer is a 503 with Retry-After, never a 500.

When PostgreSQL or Redis is unreachable (`clinic.backing_services`), the
client is told to retry, in the API's JSON error shape under /api/ and as a
plain page for staff (no template: rendering one may need the database).

Such an error can surface in three places, and each hands it here:
- a DRF view: the API's exception handler leaves it alone
  (`clinic.api.errors`), so it leaves the view;
- any other view, or a DRF view as above: `OutageMiddleware.process_exception`;
- a middleware (the session saved on the way out, an Idempotency-Key
  claimed before the view): Django turns the exception into a response at
  that layer, through the 500 handler, so `server_error` (handler500)
  answers 503 for it. (With DEBUG on, Django shows its debug page there instead.)

Django reconnects by itself once the database is back: connections are
checked before reuse (CONN_HEALTH_CHECKS) and one that failed is closed at
the end of its request. Logs name the service, the error's class and where it
was raised, never its message (`clinic.logs.exception_origin`).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.views import defaults

from clinic.api.responses import api_error
from clinic.backing_services import DATABASE, unavailable_service
from clinic.logs import exception_origin

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
# Long enough for a restart or a fail-over to finish; a client retrying sooner only adds load.
RETRY_AFTER_SECONDS = 5

UNAVAILABLE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Temporarily unavailable</title></head>
<body><h1>Temporarily unavailable</h1>
<p>The clinic system cannot reach its {service} right now. Nothing is wrong with what you entered:
please try again in a few seconds.</p></body></html>
"""


def outage_response(request: HttpRequest, exc: BaseException, service: str) -> HttpResponse:
    """The 503 for `request` while `service` is down: the API's JSON error under /api/, a plain page elsewhere."""
    logger.warning(
        "%s unavailable: answered 503 to %s %s (%s)", service, request.method, request.path, exception_origin(exc)
    )
    retry_after = str(RETRY_AFTER_SECONDS)
    if request.path.startswith(API_PREFIX):
        return api_error(
            503,
            "service_unavailable",
            f"The service is temporarily unavailable ({service} is not answering). "
            f"Retry after {RETRY_AFTER_SECONDS} seconds; a POST sent with an Idempotency-Key is safe to retry.",
            **{"Retry-After": retry_after},
        )
    service_words = "database" if service == DATABASE else "message queue"
    response = HttpResponse(UNAVAILABLE_PAGE.format(service=service_words), status=503)
    response["Retry-After"] = retry_after
    return response


class OutageMiddleware:
    """A view that raised because PostgreSQL or Redis is unreachable answers 503 with Retry-After."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        service = unavailable_service(exception)
        return outage_response(request, exception, service) if service is not None else None


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: 503 when the exception being handled is an outage; otherwise a 500, in JSON under /api/.

    Django calls it while handling the exception, so `sys.exc_info()` names it.
    """
    exc = sys.exc_info()[1]
    service = unavailable_service(exc) if exc is not None else None
    if exc is not None and service is not None:
        return outage_response(request, exc, service)
    if request.path.startswith(API_PREFIX):
        return api_error(500, "error", "A server error occurred.")
    return defaults.server_error(request)
