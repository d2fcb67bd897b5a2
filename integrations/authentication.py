"""`Authorization: Bearer <key>` for booking software.

An API key acts as an `IntegrationUser` whose Django permissions come from
its scopes, so every view's existing permission checks apply unchanged.
"""

from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from integrations.models import ApiKey, Scope
from integrations.services import KEY_PREFIX, api_key_authenticate

READ = frozenset(
    {
        "patients.view_patient",
        "patients.view_consent",
        "treatments.view_location",
        "treatments.view_room",
        "treatments.view_practitioner",
        "treatments.view_protocol",
        "treatments.view_course",
        "treatments.view_session",
        "treatments.view_product",
        "treatments.view_productlot",
        "aftercare.view_scheduledmessage",
        "aftercare.view_sideeffectreport",
        "aftercare.view_inboundmessage",
        "frontdesk.view_contactattempt",
    }
)
BOOK = READ | {
    "patients.add_patient",
    "patients.change_patient",
    "patients.add_consent",
    "treatments.add_course",
    "treatments.add_session",
    "treatments.change_session",
    "treatments.book_for_any_practitioner",
    "aftercare.add_sideeffectreport",
    # Handling an inbox message is the desk's work, like logging a call: booking software that shows the
    # inbox marks what its user dealt with.
    "aftercare.change_inboundmessage",
    "frontdesk.add_contactattempt",
}
MANAGE = BOOK | {
    "patients.change_consent",
    "patients.export_patient",
    "patients.erase_patient",
    "treatments.change_course",
    "treatments.add_product",
    "treatments.add_productlot",
}
# Never granted to a key: completing sessions, resolving side effects,
# overriding rules, clearing a patient and reading the clinical record are a
# practitioner's (clinic.roles.CLINICAL).
SCOPE_PERMISSIONS = {Scope.READ: READ, Scope.BOOK: BOOK, Scope.MANAGE: MANAGE}


class IntegrationUser:
    """The request.user of an API-key request: authenticated, not staff, scoped."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key
        self.permissions = frozenset().union(*(SCOPE_PERMISSIONS[Scope(s)] for s in api_key.scopes))

    def __str__(self) -> str:
        return f"integration:{self.api_key.name}"

    def get_username(self) -> str:
        return str(self)

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return perm in self.permissions

    def has_perms(self, perms: Any, obj: Any = None) -> bool:
        return all(self.has_perm(perm) for perm in perms)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[IntegrationUser, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, raw_key = header.partition(" ")
        if scheme != self.keyword:
            return None
        raw_key = raw_key.strip()
        if not raw_key.startswith(KEY_PREFIX):
            raise exceptions.AuthenticationFailed("Malformed API key.")
        api_key = api_key_authenticate(raw_key)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
        return IntegrationUser(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
