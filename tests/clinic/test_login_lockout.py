"""Admin logins: wrong passwords lock that username out (from that address) for a cool-off time (django-axes)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"


def sign_in(client, password: str):
    return client.post(LOGIN, {"username": "reception", "password": password})


def test_wrong_passwords_lock_the_username_out_even_for_the_right_one(client) -> None:
    UserFactory(username="reception", password="right-password-1", is_staff=True)

    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, "guess").status_code == 200  # the login form again, with its error
    assert sign_in(client, "guess").status_code == 429  # the last allowed mistake locks

    locked = sign_in(client, "right-password-1")

    assert locked.status_code == 429
    assert "Too many wrong passwords" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302  # still signed out


def test_the_lock_lifts_after_the_cool_off_and_a_success_clears_the_count(client) -> None:
    UserFactory(username="reception", password="right-password-1", is_staff=True)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "guess")

    with time_machine.travel(timezone.now() + settings.AXES_COOLOFF_TIME + timedelta(seconds=1)):
        assert sign_in(client, "right-password-1").status_code == 302
        client.logout()
        # The success cleared the count: a few more mistakes do not lock at once.
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            sign_in(client, "guess")
        assert sign_in(client, "right-password-1").status_code == 302
