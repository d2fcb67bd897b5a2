from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from integrations.models import ApiKey


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Per-key request budget (API_KEY_RATE, e.g. 200/min), counted in Redis.

    Over budget: 429 with Retry-After. Staff sessions are not limited here.
    """

    scope = "api_key"

    def get_rate(self) -> str | None:
        # Read at request time (not import time), so a settings change applies.
        # djangorestframework-stubs types these rates as numbers; they are strings like "200/min".
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)  # type: ignore[return-value]

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not isinstance(request.auth, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
