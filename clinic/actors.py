"""Who did it: services take an `actor` (a staff user, an API-key principal, or None)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser


def staff_user(actor: Any) -> AbstractBaseUser | None:
    """The actor as a user row to store in a foreign key, or None (system or integration)."""
    if isinstance(actor, AbstractBaseUser) and actor.is_authenticated:
        return actor
    return None
