"""Per-key request budget for booking software, counted atomically in Redis.

A sliding window per key: one Lua script drops the requests older than the
window, counts the rest and admits this one only under the budget, all in a
single Redis call, so concurrent requests cannot slip past the count (DRF's
cache-based throttle reads and writes in two steps and let 247–271 of 300
simultaneous requests through a budget of 200).

Every key-authenticated response says what is left (RateLimit-Limit,
RateLimit-Remaining, RateLimit-Reset in seconds; `RateLimitHeadersMiddleware`);
over budget: 429 with Retry-After. Staff sessions are not limited here. If
Redis cannot be reached the request is let through and the failure logged:
the budget protects the clinic from a runaway client, and refusing every
booking while Redis restarts would hurt more.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from integrations.models import ApiKey

logger = logging.getLogger(__name__)

_ADMIT = """
local key, now, window, limit, member = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local used = redis.call('ZCARD', key)
local admitted = 0
if used < limit then
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, window)
  used = used + 1
  admitted = 1
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
local since = now
if oldest[2] then since = tonumber(oldest[2]) end
return {admitted, used, since}
"""


@dataclass(frozen=True)
class Budget:
    limit: int
    remaining: int
    reset_seconds: int  # until the oldest counted request leaves the window


_client: redis.Redis | None = None


def _redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
    return _client


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Per-key request budget (API_KEY_RATE, e.g. 200/min), a sliding window admitted atomically in Redis."""

    scope = "api_key"

    def get_rate(self) -> str | None:
        # Read at request time (not import time), so a settings change applies.
        # djangorestframework-stubs types these rates as numbers; they are strings like "200/min".
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)  # type: ignore[return-value]

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not isinstance(request.auth, ApiKey):
            return None
        database = settings.DATABASES["default"]["NAME"]
        return f"clinic:{database}:throttle:{self.scope}:{request.auth.pk}"

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        parsed_limit, parsed_duration = self.parse_rate(self.rate)
        limit, duration = int(parsed_limit or 0), int(parsed_duration or 1)
        now_ms = int(time.time() * 1000)
        try:
            admitted, used, since = _redis().eval(
                _ADMIT, 1, key, now_ms, duration * 1000, limit, f"{now_ms}-{uuid.uuid4().hex}"
            )
        except redis.RedisError:
            logger.warning("Rate limit not counted: Redis unreachable", exc_info=True)
            return True
        reset = max(int((int(since) + duration * 1000 - now_ms + 999) // 1000), 0)
        self.budget = Budget(limit=limit, remaining=max(limit - int(used), 0), reset_seconds=reset)
        request._request.rate_budget = self.budget  # type: ignore[attr-defined]
        return bool(admitted)

    def wait(self) -> float | None:
        budget: Budget | None = getattr(self, "budget", None)
        return float(max(budget.reset_seconds, 1)) if budget is not None else None


class RateLimitHeadersMiddleware:
    """Tell a key's caller its budget on every response (the IETF RateLimit header fields)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        budget: Budget | None = getattr(request, "rate_budget", None)
        if budget is not None:
            response["RateLimit-Limit"] = str(budget.limit)
            response["RateLimit-Remaining"] = str(budget.remaining)
            response["RateLimit-Reset"] = str(budget.reset_seconds)
        return response
