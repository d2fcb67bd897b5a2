"""Booking software authenticates with API keys: hashed, scoped, revocable, rate-limited."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from io import StringIO

import pytest
import requests
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from integrations.models import ApiKey
from integrations.services import api_key_create, api_key_revoke, hash_key
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def key_client(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def new_patient() -> dict[str, str]:
    return {"first_name": "Ada", "last_name": "King", "email": "ada@example.com", "date_of_birth": "1990-01-01"}


def test_a_key_is_stored_only_as_a_hash_and_shown_once() -> None:
    api_key, raw_key = api_key_create(name="Booking widget", scopes=["read"], actor=None)

    stored = ApiKey.objects.get(pk=api_key.pk)
    assert raw_key.startswith(f"clk_{stored.prefix}_")
    assert stored.key_hash == hash_key(raw_key)
    assert raw_key not in {str(value) for value in ApiKey.objects.values_list("name", "prefix", "key_hash").get()}


def test_a_read_key_reads_and_records_its_last_use() -> None:
    PatientFactory()
    api_key, raw_key = api_key_create(name="Reports", scopes=["read"], actor=None)

    response = key_client(raw_key).get("/api/v1/patients/")

    assert response.status_code == 200
    assert response.json()["count"] == 1
    api_key.refresh_from_db()
    assert api_key.last_used_at is not None


def test_a_key_without_the_needed_scope_gets_403() -> None:
    _, raw_key = api_key_create(name="Reports", scopes=["read"], actor=None)

    response = key_client(raw_key).post("/api/v1/patients/", new_patient(), format="json")

    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "permission_denied"


def test_a_book_key_may_create_patients() -> None:
    _, raw_key = api_key_create(name="Widget", scopes=["book"], actor=None)

    response = key_client(raw_key).post("/api/v1/patients/", new_patient(), format="json")

    assert response.status_code == 201, response.content


def test_no_scope_lets_a_key_complete_a_session() -> None:
    from integrations.authentication import IntegrationUser

    api_key, _ = api_key_create(name="Everything", scopes=["read", "book", "manage"], actor=None)
    user = IntegrationUser(api_key)
    assert user.has_perm("treatments.change_session")
    assert not user.has_perm("treatments.complete_session")
    assert not user.has_perm("aftercare.change_sideeffectreport")


def test_a_revoked_or_unknown_key_is_refused() -> None:
    api_key, raw_key = api_key_create(name="Old", scopes=["read"], actor=None)
    api_key_revoke(api_key=api_key, actor=None)

    revoked = key_client(raw_key).get("/api/v1/patients/")
    unknown = key_client("clk_deadbeef_not-a-real-key").get("/api/v1/patients/")
    malformed = key_client("hunter2").get("/api/v1/patients/")

    for response in (revoked, unknown, malformed):
        assert response.status_code in (401, 403)
        assert response.json()["errors"][0]["code"] == "authentication_failed"


def test_a_key_in_the_url_is_not_accepted() -> None:
    _, raw_key = api_key_create(name="Widget", scopes=["read"], actor=None)
    response = APIClient().get("/api/v1/patients/", {"api_key": raw_key, "key": raw_key})
    assert response.status_code == 401


def test_each_key_gets_its_own_request_budget_then_429_with_retry_after(settings) -> None:
    # Budgets are keyed by the key's id, so fresh keys start at zero.
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": "3/min"}}
    _, first = api_key_create(name="Busy", scopes=["read"], actor=None)
    _, second = api_key_create(name="Quiet", scopes=["read"], actor=None)

    statuses = [key_client(first).get("/api/v1/patients/").status_code for _ in range(4)]
    limited = key_client(first).get("/api/v1/patients/")
    other = key_client(second).get("/api/v1/patients/")

    assert statuses == [200, 200, 200, 429]
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0
    assert limited.json()["errors"][0]["code"] == "throttled"
    assert other.status_code == 200


def test_create_api_key_command_prints_the_key_once() -> None:
    out = StringIO()
    call_command("create_api_key", name="Front desk app", scopes="read,book", stdout=out)

    raw_key = out.getvalue().strip().splitlines()[-1]
    api_key = ApiKey.objects.get()
    assert api_key.scopes == ["book", "read"]
    assert api_key.key_hash == hash_key(raw_key)
    with pytest.raises(CommandError, match="Choose scopes"):
        call_command("create_api_key", name="Bad", scopes="write", stdout=StringIO())


def test_a_key_is_created_in_the_admin_and_shown_once(client, admin_user) -> None:
    client.force_login(admin_user)

    response = client.post(
        "/admin/integrations/apikey/add/", {"name": "Widget", "scopes": ["read", "book"]}, follow=True
    )

    api_key = ApiKey.objects.get()
    shown = [str(m) for m in response.context["messages"]]
    assert any(f"clk_{api_key.prefix}_" in m for m in shown)
    raw_key = next(m for m in shown if "clk_" in m).rsplit(" ", 1)[-1]
    assert hash_key(raw_key) == api_key.key_hash
    page = client.get(f"/admin/integrations/apikey/{api_key.pk}/change/")
    assert raw_key not in page.content.decode()


def test_revoking_keys_in_the_admin_records_who_revoked_them(client, admin_user) -> None:
    api_key, _ = api_key_create(name="Old widget", scopes=["read"], actor=admin_user)
    client.force_login(admin_user)

    response = client.post(
        "/admin/integrations/apikey/", {"action": "revoke_selected", "_selected_action": [str(api_key.pk)]}, follow=True
    )

    assert "Revoked 1 key(s)." in [str(m) for m in response.context["messages"]]
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert (api_key.created_by, api_key.revoked_by) == (admin_user, admin_user)


def test_every_key_response_says_the_budget_left(settings) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": "5/min"}}
    _, raw_key = api_key_create(name="Sync", scopes=["read"], actor=None)

    responses = [key_client(raw_key).get("/api/v1/patients/") for _ in range(6)]

    assert [r["RateLimit-Remaining"] for r in responses] == ["4", "3", "2", "1", "0", "0"]
    assert {r["RateLimit-Limit"] for r in responses} == {"5"}
    assert all(0 < int(r["RateLimit-Reset"]) <= 60 for r in responses)
    assert responses[-1].status_code == 429


def test_a_budget_holds_under_real_concurrent_requests(live_server, settings) -> None:
    """80 requests at once against a budget of 50: exactly 50 get through (the count is one atomic step)."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": "50/min"}}
    _, raw_key = api_key_create(name="Burst", scopes=["read"], actor=None)
    contenders = 80
    barrier = threading.Barrier(contenders, timeout=30)

    def attempt(_: int) -> int:
        barrier.wait()
        return requests.get(
            f"{live_server.url}/api/v1/locations/", headers={"Authorization": f"Bearer {raw_key}"}, timeout=60
        ).status_code

    with ThreadPoolExecutor(max_workers=contenders) as pool:
        statuses = list(pool.map(attempt, range(contenders)))

    assert statuses.count(200) == 50
    assert statuses.count(429) == 30
