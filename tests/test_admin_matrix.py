"""Every admin page, as every role, against the one table of what each role may do (clinic.roles).

Generated, not listed: each model registered in the admin, its list and its add page, for each role (and
for staff without a role, and for anonymous visitors). A role sees a list when the table grants it the
model's view or change permission, and the add page when it grants add, unless the page is closed to
everyone (a superuser is refused too: outbox rows and history are written by the system). The API's
endpoints are walked the same way in tests/test_roles.py.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from clinic.roles import ROLE_PERMISSIONS
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

OUR_APPS = {"patients", "treatments", "aftercare", "integrations", "frontdesk"}
REGISTERED = sorted(
    (model._meta.app_label, model._meta.model_name)
    for model in admin.site._registry
    if model._meta.app_label in OUR_APPS
)
ROLES = [*ROLE_PERMISSIONS, "staff without a role", "anonymous"]


def signed_in(role: str) -> Client:
    client = Client()
    if role == "anonymous":
        return client
    user = UserFactory(is_staff=True)
    if role in ROLE_PERMISSIONS:
        user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return client


def granted(role: str, app: str, model: str, *actions: str) -> bool:
    return any(f"{app}.{action}_{model}" in ROLE_PERMISSIONS.get(role, []) for action in actions)


@pytest.fixture
def superuser() -> Client:
    client = Client()
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    return client


def test_the_matrix_covers_every_registered_model() -> None:
    assert len(REGISTERED) >= 20, REGISTERED
    assert ("patients", "patient") in REGISTERED and ("treatments", "session") in REGISTERED


@pytest.mark.parametrize("role", ROLES)
def test_every_admin_list_and_add_page_answers_each_role_as_the_roles_table_says(role: str, superuser) -> None:
    client = signed_in(role)
    wrong = []
    for app, model in REGISTERED:
        for page, actions in (("changelist", ("view", "change")), ("add", ("add",))):
            url = reverse(f"admin:{app}_{model}_{page}")
            open_to_someone = superuser.get(url).status_code == 200
            status = client.get(url).status_code
            if role == "anonymous":
                expected = 302  # to the login page
            else:
                expected = 200 if open_to_someone and granted(role, app, model, *actions) else 403
            if status != expected:
                wrong.append((url, status, expected))
    assert wrong == []
