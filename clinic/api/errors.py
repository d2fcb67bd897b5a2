"""The one place where errors become HTTP responses.

Every API error has the drf-standardized-errors shape:

    {"type": "validation_error",
     "errors": [{"code": "invalid", "detail": "…", "attr": "phone"}]}

`attr` names the offending field (dotted for nested ones) and is null for
errors about the request as a whole. Domain errors (clinic.errors) add keys
beside `errors`: a rule violation gives `rule` and `earliest_start`, a taken
slot (409) gives `clashing_session` and `resource`. A database or Redis
outage is not handled here: `clinic.outages` answers it with a 503.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_standardized_errors.handler import ExceptionHandler
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error

from clinic.backing_services import unavailable_service
from clinic.errors import DomainError


class ClinicExceptionHandler(ExceptionHandler):
    def run(self) -> Response | None:
        # Domain errors carry more than a field message (the rule, the
        # earliest allowed start, the clashing session): keep all of it.
        if isinstance(self.exc, DomainError):
            self.set_rollback()
            return Response(self.exc.as_response_body(), status=self.exc.status_code)
        return super().run()

    def should_not_handle(self, exc: Exception) -> bool:
        # PostgreSQL or Redis not answering is a 503 with Retry-After, not a
        # 500: it leaves the view for clinic.outages to answer.
        return unavailable_service(exc) is not None or super().should_not_handle(exc)

    def convert_known_exceptions(self, exc: Exception) -> Exception:
        # Services validate with Django's ValidationError (the admin shows it
        # on the form); the API reports the same error per field as a 400.
        if isinstance(exc, DjangoValidationError):
            return exceptions.ValidationError(as_serializer_error(exc))
        return super().convert_known_exceptions(exc)
