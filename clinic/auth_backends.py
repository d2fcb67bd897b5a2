"""Staff sign-in: Django's ModelBackend, reading a signed-in user and their permissions in one query.

Every staff request (the admin, the front-desk pages, the API through the
session) loads the user, then Django reads their permissions in two more
queries (their own, their groups') the first time anything asks. Here the
user row comes with both sets of permission names, aggregated by the
database, and they are left where ModelBackend keeps them
(`_user_perm_cache`, `_group_perm_cache`), so `has_perm` reads nothing more.
Superusers are left alone: `has_perm` says yes to them without reading.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
from django.contrib.auth.models import Permission
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef, Value
from django.db.models.functions import Concat


def _permission_names(**to_user: Any) -> ArraySubquery:
    named = Permission.objects.filter(**to_user).order_by()
    return ArraySubquery(named.values(dotted=Concat("content_type__app_label", Value("."), "codename")))


class ModelBackend(DjangoModelBackend):
    def get_user(self, user_id: Any) -> Any:
        user: Any = (
            get_user_model()
            ._default_manager.annotate(
                own_permission_names=_permission_names(user=OuterRef("pk")),
                group_permission_names=_permission_names(group__user=OuterRef("pk")),
            )
            .filter(pk=user_id)
            .first()
        )
        if user is None or not self.user_can_authenticate(user):
            return None
        if not user.is_superuser:
            user._user_perm_cache = set(user.own_permission_names)
            user._group_perm_cache = set(user.group_permission_names)
        return user
