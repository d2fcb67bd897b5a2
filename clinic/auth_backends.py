"""Staff sign-in: Django's ModelBackend, reading a signed-in user and their permissions in one query.

Every staff request (the admin, the front-desk pages, the API through the
session) loads the user, then Django reads their permissions in two more
queries (their own, their groups') the first time anything asks: ~4.5 ms a
request on this machine, most of it building those queries. Here the user
row comes with both sets of permission names, aggregated by the database in
one plain statement (~1.2 ms), and they are left where ModelBackend keeps
them (`_user_perm_cache`, `_group_perm_cache`), so `has_perm` reads nothing
more. Superusers are left alone: `has_perm` says yes to them without reading.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import connection


@cache
def _user_with_permissions_sql() -> str:
    """The user row, with the names ("app_label.codename") of their own and their groups' permissions."""
    quote = connection.ops.quote_name
    user_model = get_user_model()
    user_permissions = user_model._meta.get_field("user_permissions").remote_field.through._meta  # type: ignore[union-attr]
    user_groups = user_model._meta.get_field("groups").remote_field.through._meta  # type: ignore[union-attr]
    group_permissions = Group._meta.get_field("permissions").remote_field.through._meta  # type: ignore[union-attr]
    permission, content_type = quote(Permission._meta.db_table), quote(ContentType._meta.db_table)
    # Only table and column names from the models' metadata, quoted, go into the text; the id is a parameter.
    named = (
        f"SELECT ct.app_label || '.' || p.codename FROM {{through}} t "  # noqa: S608
        f"JOIN {permission} p ON p.id = t.permission_id JOIN {content_type} ct ON ct.id = p.content_type_id"
    )
    own = named.format(through=quote(user_permissions.db_table)) + " WHERE t.user_id = u.id"
    of_groups = (
        named.format(through=quote(group_permissions.db_table))
        + f" JOIN {quote(user_groups.db_table)} ug ON ug.group_id = t.group_id WHERE ug.user_id = u.id"
    )
    return (
        f"SELECT u.*, ARRAY({own}) AS own_permission_names, ARRAY({of_groups}) AS group_permission_names "  # noqa: S608
        f"FROM {quote(user_model._meta.db_table)} u WHERE u.{quote(str(user_model._meta.pk.column))} = %s"
    )


class ModelBackend(DjangoModelBackend):
    def get_user(self, user_id: Any) -> Any:
        try:
            pk = get_user_model()._meta.pk.to_python(user_id)
        except ValidationError:  # a session holding something that is no user id: no user
            return None
        found: list[Any] = list(get_user_model()._default_manager.raw(_user_with_permissions_sql(), [pk]))
        if not found or not self.user_can_authenticate(found[0]):
            return None
        user = found[0]
        if not user.is_superuser:
            user._user_perm_cache = set(user.own_permission_names)
            user._group_perm_cache = set(user.group_permission_names)
        return user
