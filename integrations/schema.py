"""How the API-key scheme appears in the OpenAPI schema (loaded from IntegrationsConfig.ready)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "integrations.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An integration's API key: `Authorization: Bearer clk_…`. Scopes: read, book, manage.",
        }
