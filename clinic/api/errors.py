"""The one place where errors become HTTP responses.

Every API error has the drf-standardized-errors shape:

    {"type": "validation_error",
     "errors": [{"code": "invalid", "detail": "…", "attr": "phone"}]}

`attr` names the offending field (dotted for nested ones) and is null for
errors about the request as a whole.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_standardized_errors.handler import ExceptionHandler
from rest_framework import exceptions
from rest_framework.serializers import as_serializer_error


class ClinicExceptionHandler(ExceptionHandler):
    def convert_known_exceptions(self, exc: Exception) -> Exception:
        # Services validate with Django's ValidationError (the admin shows it
        # on the form); the API reports the same error per field as a 400.
        if isinstance(exc, DjangoValidationError):
            return exceptions.ValidationError(as_serializer_error(exc))
        return super().convert_known_exceptions(exc)
