"""How the API-key scheme appears in the OpenAPI schema (loaded from IntegrationsConfig.ready)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from integrations.authentication import SCOPE_PERMISSIONS

if TYPE_CHECKING:
    from drf_spectacular.openapi import AutoSchema


def key_scopes(auto_schema: AutoSchema) -> list[str]:
    """The scopes whose keys may make this operation (each scope includes the ones before it); none: staff only."""
    needed: set[str] = set()
    for permission in auto_schema.view.get_permissions():
        operation_permissions = getattr(permission, "operation_permissions", None)
        if operation_permissions is not None:
            needed |= set(operation_permissions(auto_schema.view, auto_schema.method))
    return [scope.value for scope, granted in SCOPE_PERMISSIONS.items() if needed <= granted]


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "integrations.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_requirement(self, auto_schema: AutoSchema) -> Any:
        # An operation no key may make (a clinical decision) does not offer key authentication at all.
        return {self.name: []} if key_scopes(auto_schema) else None

    def describe_operation(self, auto_schema: AutoSchema) -> str:
        scopes = key_scopes(auto_schema)
        if not scopes:
            return "**Staff only**: no API key may make this request (it is a practitioner's or an admin's)."
        return f"**API key scope**: {' or '.join(f'`{scope}`' for scope in scopes)}."

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An integration's API key: `Authorization: Bearer clk_…`. Scopes: read, book, manage.",
        }
