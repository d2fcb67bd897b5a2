"""Role groups are synced after every migrate, from clinic.roles, without a migration per change."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from clinic.roles import FRONT_DESK, ROLE_PERMISSIONS

pytestmark = pytest.mark.django_db


def granted(group: Group) -> set[str]:
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def test_a_role_drifted_in_the_database_is_put_back_by_the_next_migrate() -> None:
    desk = Group.objects.get(name=FRONT_DESK)
    desk.permissions.remove(Permission.objects.get(content_type__app_label="treatments", codename="add_session"))
    desk.permissions.add(Permission.objects.get(content_type__app_label="treatments", codename="complete_session"))
    assert granted(desk) != set(ROLE_PERMISSIONS[FRONT_DESK])

    call_command("migrate", verbosity=0)

    assert granted(desk) == set(ROLE_PERMISSIONS[FRONT_DESK])
