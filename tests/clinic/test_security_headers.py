"""Security headers: a Content-Security-Policy everywhere, and no cache keeps patient data."""

from __future__ import annotations

import re

import pytest
from rest_framework.test import APIClient

from integrations.services import api_key_create
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def test_every_kind_of_page_carries_a_policy_without_inline_or_third_party_script(client, admin_user) -> None:
    client.force_login(admin_user)
    for url in ["/admin/", "/admin/login/", "/frontdesk/worklist/", "/api/docs/", "/api/redoc/", "/api/v1/patients/"]:
        directives = policy(client.get(url))
        assert directives["script-src"] == ["'self'"], url
        assert directives["frame-ancestors"] == ["'none'"], url
        assert directives["object-src"] == ["'none'"], url


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_the_api_docs_run_under_the_policy_no_inline_script(client, url: str) -> None:
    html = client.get(url).content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts, html
    assert all("src=" in attributes and not body.strip() for attributes, body in scripts), scripts


def test_api_responses_and_front_desk_pages_are_never_cached(client, admin_user) -> None:
    PatientFactory()
    api = APIClient()
    _, raw_key = api_key_create(name="Sync", scopes=["read"], actor=None)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    assert api.get("/api/v1/patients/")["Cache-Control"] == "no-store"
    assert APIClient().get("/api/v1/patients/")["Cache-Control"] == "no-store"  # even a refusal

    client.force_login(admin_user)
    assert client.get("/frontdesk/worklist/")["Cache-Control"] == "no-store"
    assert "no-store" in client.get("/admin/patients/patient/")["Cache-Control"]
