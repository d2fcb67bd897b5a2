"""Domain errors raised by services.

Services raise these; `clinic.api.errors` turns them into HTTP responses and
the admin shows them as form errors. Each carries what a client needs to
act: the rule that spoke, the field at fault, the earliest allowed start, or
the session that already holds a slot.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


class DomainError(Exception):
    """A request the clinic's rules refuse. Maps to a 4xx, never a 500."""

    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def as_response_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "validation_error" if self.status_code == 400 else "client_error",
            "errors": [{"code": self.code, "detail": self.message, "attr": self.field}],
        }
        for key, value in self.details.items():
            body[key] = value.isoformat() if isinstance(value, datetime) else value
        return body


class RuleViolation(DomainError):
    """A scheduling or safety rule refused the change (see treatments.rules)."""

    code = "rule_violation"

    def __init__(
        self, message: str, *, rule: str, field: str | None = "starts_at", earliest_start: datetime | None = None
    ) -> None:
        super().__init__(message, field=field, rule=rule, earliest_start=earliest_start)
        self.rule = rule
        self.earliest_start = earliest_start
        self.code = rule


class SlotTaken(DomainError):
    """The practitioner or the room already holds a live session at that time."""

    status_code = 409
    code = "slot_taken"

    def __init__(self, message: str, *, clashing_session_id: str, resource: str) -> None:
        super().__init__(message, field="starts_at", clashing_session=clashing_session_id, resource=resource)
        self.clashing_session_id = clashing_session_id


class InvalidState(DomainError):
    """The object is not in a state that allows this (completing a cancelled session…)."""

    status_code = 409
    code = "invalid_state"


class NotPermitted(DomainError):
    """The acting person (or key) may not do this, whatever they hold (a practitioner's clinical decision…)."""

    status_code = 403
    code = "permission_denied"
