from django.http import HttpRequest, JsonResponse


def api_not_found(request: HttpRequest, rest: str) -> JsonResponse:
    """JSON 404 for unknown API URLs, in the same shape as every API error."""
    return JsonResponse(
        {
            "type": "client_error",
            "errors": [{"code": "not_found", "detail": f"No API endpoint at {request.path}.", "attr": None}],
        },
        status=404,
    )
