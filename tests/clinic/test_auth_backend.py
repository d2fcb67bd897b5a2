"""clinic.auth_backends.ModelBackend: a signed-in user comes with their permissions, in one query."""

from __future__ import annotations

import pytest
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
from django.contrib.auth.models import Group, Permission

from clinic.auth_backends import ModelBackend
from clinic.roles import FRONT_DESK, PRACTITIONER
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_user_is_read_with_their_own_and_their_groups_permissions_in_one_query(django_assert_num_queries) -> None:
    user = UserFactory(permissions=["frontdesk.view_contactattempt"])
    user.groups.add(Group.objects.get(name=FRONT_DESK), Group.objects.get(name=PRACTITIONER))

    with django_assert_num_queries(1):
        signed_in = ModelBackend().get_user(user.pk)
        assert signed_in is not None
        assert signed_in.has_perm("frontdesk.view_contactattempt")  # their own
        assert signed_in.has_perm("treatments.add_session")  # the front desk's
        assert not signed_in.has_perm("auth.change_user")
        every_permission = signed_in.get_all_permissions()

    django_reads = DjangoModelBackend().get_user(user.pk)
    assert every_permission == django_reads.get_all_permissions()
    assert signed_in.get_user_permissions() == django_reads.get_user_permissions() == {"frontdesk.view_contactattempt"}
    assert signed_in.get_group_permissions() == django_reads.get_group_permissions()


def test_a_permission_given_after_sign_in_counts_from_the_next_request() -> None:
    user = UserFactory()
    assert not ModelBackend().get_user(user.pk).has_perm("patients.view_patient")

    user.user_permissions.add(Permission.objects.get(codename="view_patient", content_type__app_label="patients"))

    assert ModelBackend().get_user(user.pk).has_perm("patients.view_patient")


def test_superusers_have_every_permission_and_inactive_or_missing_users_none() -> None:
    superuser = UserFactory(is_superuser=True)
    inactive = UserFactory(is_active=False, permissions=["patients.view_patient"])

    signed_in = ModelBackend().get_user(superuser.pk)
    assert signed_in.has_perm("auth.delete_user")
    assert signed_in.get_all_permissions() == DjangoModelBackend().get_all_permissions(superuser)
    assert ModelBackend().get_user(inactive.pk) is None
    assert ModelBackend().get_user(10**9) is None
    assert ModelBackend().get_user("not a user id") is None


def test_staff_sign_in_uses_it(client) -> None:
    user = UserFactory(username="desk", password="correct-horse-battery")
    user.groups.add(Group.objects.get(name=FRONT_DESK))

    response = client.post("/admin/login/", {"username": "desk", "password": "correct-horse-battery"})

    assert response.status_code == 302, response.content
    assert client.session["_auth_user_backend"] == "clinic.auth_backends.ModelBackend"
