"""The OpenAPI schema says what every operation can answer, in the shapes the API really sends.

drf-standardized-errors documents the error responses DRF itself raises. The
clinic's API answers more than that, and a booking client generating its
types from the schema must be able to read all of it:

- a 400 lists every problem with the request, each naming its field or
  query parameter (`attr`), which may be one the operation does not know
  (an unknown body field or query parameter is named so the client can fix
  it); a rule refusal adds `rule` and `earliest_start`;
- a 409 is a state conflict (the session is already completed, a course of
  the protocol is in progress) or a taken slot, with `clashing_session` and
  `resource`; a retry whose `Idempotency-Key` is still running is a 409 too;
- a POST takes an `Idempotency-Key` header: reused with another body, 422;
- a body over the size limit is a 413; a dependency down is a 503 with
  Retry-After;
- which credentials an operation accepts (an API key scope, or staff only)
  is in its security requirements and description (integrations.schema).
"""

from __future__ import annotations

from typing import Any, Literal

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer
from drf_standardized_errors.openapi import AutoSchema as StandardizedErrorsAutoSchema
from drf_standardized_errors.openapi_serializers import ClientErrorEnum, ServerErrorEnum, ValidationErrorEnum
from rest_framework import serializers

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
IDEMPOTENCY_HEADER = "Idempotency-Key"


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable: `required`, `invalid`, the rule's name…")
    detail = serializers.CharField(help_text="What is wrong, in words a person can act on.")
    attr = serializers.CharField(
        allow_null=True,
        help_text="The body field or query parameter at fault (dotted when nested); null for the request as a whole.",
    )


class ValidationErrorResponseSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=ValidationErrorEnum.choices)
    errors = ErrorSerializer(many=True)  # type: ignore[assignment]  # the body key, not Serializer.errors
    rule = serializers.CharField(required=False, help_text="A booking rule's refusal: which rule (e.g. `spacing`).")
    earliest_start = serializers.DateTimeField(
        required=False, allow_null=True, help_text="A booking rule's refusal: the earliest start it would allow."
    )


class ClientErrorResponseSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=ClientErrorEnum.choices)
    errors = ErrorSerializer(many=True)  # type: ignore[assignment]  # the body key, not Serializer.errors


class ConflictResponseSerializer(ClientErrorResponseSerializer):
    clashing_session = serializers.UUIDField(
        required=False, help_text="A taken slot: the live session holding the practitioner or the room."
    )
    resource = serializers.CharField(required=False, help_text="A taken slot: `practitioner` or `room`.")


class ServerErrorResponseSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=ServerErrorEnum.choices)
    errors = ErrorSerializer(many=True)  # type: ignore[assignment]  # the body key, not Serializer.errors


class LocalTimeFieldExtension(OpenApiSerializerFieldExtension):
    """A time of day in the API is a wall-clock time at a location (opening hours): "09:00:00", no offset.
    OpenAPI's `format: time` is RFC 3339's, which requires one; a pattern says what is really sent."""

    target_class = "rest_framework.fields.TimeField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        return {"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$", "example": "09:00:00"}


class BlankableEmailFieldExtension(OpenApiSerializerFieldExtension):
    """An email that may be blank (a patient without one) is an address or "": `format: email` alone would
    make every client that validates the schema refuse the blank one."""

    target_class = "rest_framework.fields.EmailField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        address = {"type": "string", "format": "email"}
        # A read-only field loses allow_blank (DRF drops it); what it shows may be a blank the model allows.
        if not (getattr(self.target, "allow_blank", False) or self.target.read_only):
            return address
        return {"anyOf": [address, {"type": "string", "maxLength": 0}], "description": "An address, or blank."}


BAD_REQUEST = PolymorphicProxySerializer(
    component_name="BadRequestResponse",
    serializers={"validation_error": ValidationErrorResponseSerializer, "client_error": ClientErrorResponseSerializer},
    resource_type_field_name="type",
)


class AutoSchema(StandardizedErrorsAutoSchema):
    def _get_http400_serializer(self) -> Any:
        return BAD_REQUEST

    def _should_add_error_response(self, responses: dict[str, Any], status_code: str) -> bool:
        if status_code == "400" and str(status_code) not in responses:
            return True  # unknown query parameters and a malformed Content-Length are 400s on every operation
        return super()._should_add_error_response(responses, status_code)

    def _get_response_bodies(self, direction: Literal["request", "response"] = "response") -> Any:
        responses = super()._get_response_bodies(direction=direction)
        if direction != "response":
            return responses
        extra: dict[str, tuple[Any, str]] = {
            "503": (ServerErrorResponseSerializer, "A dependency (database, Redis) is down: retry after Retry-After."),
        }
        if self.method in UNSAFE:
            extra["409"] = (
                ConflictResponseSerializer,
                "A conflict with the current state (a taken slot, a session already completed), or a request with "
                f"the same {IDEMPOTENCY_HEADER} still running.",
            )
            extra["413"] = (ClientErrorResponseSerializer, "The body is over the size limit.")
        if self.method == "POST":
            extra["422"] = (ClientErrorResponseSerializer, f"The {IDEMPOTENCY_HEADER} was used with another request.")
        for status_code, (serializer, description) in extra.items():
            if status_code not in responses:
                response = self._get_response_for_code(serializer, status_code)
                response["description"] = description
                responses[status_code] = response
        return responses

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        if self.method == "POST":
            parameters.append(
                OpenApiParameter(
                    IDEMPOTENCY_HEADER,
                    str,
                    OpenApiParameter.HEADER,
                    description="Any unique string (≤ 255 characters): a retry with the same key and body gets the "
                    "first response again for 24 hours instead of acting twice.",
                )
            )
        return parameters

    def get_operation(self, *args: Any, **kwargs: Any) -> Any:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        # Here rather than in get_description, which an @extend_schema(description=…) replaces.
        notes = []
        for authenticator in self.view.get_authenticators():
            scheme = OpenApiAuthenticationExtension.get_match(authenticator)
            describe = getattr(scheme, "describe_operation", None)
            if describe is not None and (note := describe(self)):
                notes.append(note)
        if notes:
            operation["description"] = "\n\n".join(part for part in (operation.get("description"), *notes) if part)
        return operation
