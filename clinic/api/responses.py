"""API error responses made outside DRF's views (middleware, URL fallbacks), in the same shape as every API error."""

from __future__ import annotations

from django.http import JsonResponse


def api_error(status: int, code: str, detail: str, **headers: str) -> JsonResponse:
    """`{"type": "client_error", "errors": [{"code", "detail", "attr": null}]}` with `status` and `headers`."""
    kind = "server_error" if status >= 500 else "client_error"
    response = JsonResponse({"type": kind, "errors": [{"code": code, "detail": detail, "attr": None}]}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response
