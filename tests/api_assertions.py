"""Assertions on what every API of the clinic answers, shared by the API tests
of each app: refusals in the drf-standardized-errors shape
(`{"type": ..., "errors": [{"code", "detail", "attr"}]}`), times with an
explicit offset, and the rows of a list page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


def error_attrs(response: Any) -> list[str | None]:
    return [error["attr"] for error in response.json()["errors"]]


def assert_validation_error(response: Any, attr: str) -> None:
    """A 400 in the drf-standardized-errors shape whose errors name `attr`."""
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["type"] == "validation_error"
    assert body["errors"], body
    for error in body["errors"]:
        assert error["code"] and error["detail"]
    assert attr in error_attrs(response), body


def assert_client_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["type"] == "client_error", body
    assert body["errors"][0]["code"] == code, body
    assert body["errors"][0]["detail"], body


def parse_api_datetime(value: str) -> datetime:
    """ISO-8601 with an explicit offset ("Z" or "+HH:MM"); a naive time is a failure."""
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, f"{value!r} carries no offset"
    return parsed


def results(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def listed_ids(response: Any) -> list[str]:
    return [row["id"] for row in results(response)]
