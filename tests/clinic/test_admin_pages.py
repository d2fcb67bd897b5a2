"""Every model registered in the admin has a changelist and an add form that load."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

pytestmark = pytest.mark.django_db

REGISTERED = sorted((model._meta.app_label, model._meta.model_name) for model in admin.site._registry)


@pytest.mark.parametrize(("app_label", "model_name"), REGISTERED)
def test_changelist_and_add_form_load(client, admin_user, app_label: str, model_name: str) -> None:
    client.force_login(admin_user)

    changelist = client.get(reverse(f"admin:{app_label}_{model_name}_changelist"))
    assert changelist.status_code == 200

    model_admin = admin.site._registry[next(m for m in admin.site._registry if m._meta.model_name == model_name)]
    add = client.get(reverse(f"admin:{app_label}_{model_name}_add"))
    expected = 200 if model_admin.has_add_permission(changelist.wsgi_request) else 403
    assert add.status_code == expected


def test_admin_requires_login(client) -> None:
    response = client.get(reverse("admin:patients_patient_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
